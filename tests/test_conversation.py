import pytest

from rag.conversation import from_messages, is_followup, resolve
from rag.errors import InvalidQuestionError
from rag.types import Turn


def hist(q: str) -> list[Turn]:
    return [Turn("user", q), Turn("assistant", "Some answer [1].")]


@pytest.mark.parametrize(("previous", "question", "standalone"), [
    ("What did Simonyan say about the Rome Statute?", "And what did Zakharova say about it?",
     "What did Zakharova say about the Rome Statute?"),
    ("What did Peskov say about the military exercise?", "What about Zakharova?",
     "What did Zakharova say about the military exercise?"),
    ("What did Peskov say?", "Why did he say it?", None),
    ("What did Peskov say about the exercise?", "When does it start?",
     "When does the exercise start?"),
    ("What did Pashinyan tell La Repubblica?", "What did he say about Russia?",
     "What did Pashinyan say about Russia?"),
])
def test_rewrites(previous, question, standalone):
    r = resolve(question, hist(previous))
    if standalone is None:  # no clean rewrite: both questions are searched
        assert r.earlier_question == previous and previous in r.retrieval_query
    else:
        assert r.standalone == standalone and r.retrieval_query == standalone
        assert r.earlier_question is None


def test_standalone_questions_are_left_alone():
    r = resolve("What did Kochinyan say about the CSTO?", hist("What did Peskov say?"))
    assert r.standalone == r.retrieval_query == "What did Kochinyan say about the CSTO?"
    assert not is_followup("What did Kochinyan say about the CSTO?")
    assert resolve("And what about it?", []).retrieval_query == "And what about it?"


def test_from_messages_splits_the_question_from_the_earlier_turns():
    question, history = from_messages([
        ("system", "Be brief."),
        ("user", "What did Simonyan say?"),
        ("assistant", "He spoke [1].\x00"),
        ("tool", "ignored"),
        ("user", "  And what about Zakharova?  "),
    ], max_messages=50, max_question_chars=2000)
    assert question == "And what about Zakharova?"  # stripped
    # Only user and assistant turns are kept; control characters become spaces.
    assert history == [Turn("user", "What did Simonyan say?"), Turn("assistant", "He spoke [1]. ")]


def test_from_messages_with_one_question():
    assert from_messages([("user", "What did Peskov say?")], 1, 2000) == (
        "What did Peskov say?", [])


@pytest.mark.parametrize(("messages", "message"), [
    ([("user", "q?")] * 3, "3 messages; the limit is 2 (RAG_MAX_MESSAGES)"),
    ([("user", "q?"), ("assistant", "hi")],
     "The last message must be the user's question, not a assistant message"),
    ([("user", "   ")], "The question is empty: type a question about your documents"),
    ([("user", "x" * 101)], "The question is 101 characters long; the limit is 100 "
                            "(RAG_MAX_QUESTION_CHARS): ask a shorter question"),
    ([("user", "\ud800 hi"), ("user", "q?")],
     "Message 1 holds text that is not valid UTF-8 (U+D800 at character 1): check the "
     "encoding of your terminal or client"),
    ([], "No messages: the last one must be the user's question"),
])
def test_from_messages_refusals(messages, message):
    with pytest.raises(InvalidQuestionError) as e:
        from_messages(messages, max_messages=2, max_question_chars=100)
    assert str(e.value) == message
