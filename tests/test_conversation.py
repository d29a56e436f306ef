import pytest

from rag.conversation import is_followup, resolve
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
