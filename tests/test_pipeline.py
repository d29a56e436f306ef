import json

import pytest

from rag.errors import InvalidQuestionError
from rag.pipeline import Pipeline
from rag.types import Turn

from .conftest import ScriptedGenerator


@pytest.fixture
def settings(store_settings):
    """Every pipeline test runs on each vector store (FAISS and Qdrant)."""
    return store_settings

CONTRACT_KEYS = {"question", "answer", "abstained", "citations", "passages", "model", "timings"}
PASSAGE_KEYS = {"n", "doc_id", "chunk_id", "title", "text", "start", "end", "score"}


def make(settings, embedder, answers):
    gen = ScriptedGenerator(answers)
    return Pipeline(settings, embedder=embedder, generator=gen), gen


def _number_of(p, question, quote):
    return next(i for i, x in enumerate(p.search(question), 1) if quote in x.chunk.text)


def test_cited_answer_and_json_contract(settings, embedder):
    p, gen = make(settings, embedder, [])
    n = _number_of(p, "What did Peskov say?", "Russia cannot leave Armenia")
    gen.answers.append(f"Peskov said that Russia cannot leave Armenia [{n}].")
    tokens = []
    a = p.ask("What did Peskov say?", on_token=tokens.append)
    assert "".join(tokens).strip() == f"Peskov said that Russia cannot leave Armenia [{n}]."
    assert not a.abstained and a.answer_mode == "generated"
    # The model's statement, cited; any other passage where Peskov speaks adds his other
    # statement ("What did X say?" wants them all), and says so.
    assert a.citations[0].n == n
    assert all(c.n != n for c in a.citations[1:])
    assert (len(a.citations) > 1) == any("left out" in w for w in a.warnings)
    cited = a.citations[0].passage.chunk
    assert "Russia cannot leave Armenia" in cited.text
    doc = p.index.documents[cited.doc_id]
    assert doc.text[cited.start : cited.end] == cited.text
    d = json.loads(json.dumps(a.to_dict()))
    assert set(d) >= CONTRACT_KEYS
    assert set(d["timings"]) == {"retrieve_ms", "generate_ms", "total_ms"}
    assert all(set(c) >= PASSAGE_KEYS for c in d["citations"] + d["passages"])
    assert d["citations"][0]["n"] == n
    assert d["passages"][n - 1]["chunk_id"] == d["citations"][0]["chunk_id"]
    assert len(d["passages"]) == settings.top_k
    # The prompt numbers the passages and carries the question.
    user = gen.calls[0][-1]["content"]
    assert "[1]\n" in user and "[4]\n" in user and user.endswith("Question: What did Peskov say?")


def test_citation_marker_pointing_nowhere_is_dropped_and_reported(settings, embedder):
    p, _ = make(settings, embedder, ["Peskov said Russia cannot leave Armenia [9]."])
    a = p.ask("What did Peskov say?")
    assert "[9]" not in a.text
    assert any("dropped citation [9]" in w for w in a.warnings)
    assert a.citations and "Russia cannot leave Armenia" in a.citations[0].passage.chunk.text


def test_bare_marker_is_retried(settings, embedder):
    p, gen = make(settings, embedder, ["[1]", "Peskov said Russia cannot leave Armenia [1]."])
    a = p.ask("What did Peskov say?")
    assert a.answer_mode == "retried" and len(gen.calls) == 2
    assert gen.calls[1][-1]["content"].startswith("That reply had no words")
    assert "cannot leave Armenia" in a.text and a.citations


def test_bare_marker_twice_falls_back_to_extractive(settings, embedder):
    p, _ = make(settings, embedder, ["[1]", "[1]."])
    a = p.ask("What did Peskov say?")
    assert a.answer_mode == "extractive" and not a.abstained
    c = a.citations[0]
    # The answer is a sentence of the cited passage (its spacing aside), cited.
    sentence = a.text.rsplit(" [", 1)[0]
    assert " ".join(sentence.split()) in " ".join(c.passage.chunk.text.split())
    assert any("answered with a sentence of passage" in w for w in a.warnings)


def test_unknown_person_abstains_without_calling_the_model(settings, embedder):
    p, gen = make(settings, embedder, [])
    a = p.ask("What did Emmanuel Macron say about Armenia?")
    assert a.abstained and a.citations == () and a.answer_mode == "abstained"
    assert a.text.startswith("The documents do not say.") and "Macron" in a.text
    assert gen.calls == []
    assert a.to_dict()["citations"] == []


def test_model_abstention_is_respected(settings, embedder):
    p, _ = make(settings, embedder, ["The documents do not say."])
    a = p.ask("What did Putin say about the summit?")
    assert a.abstained and not a.citations


def test_unsupported_answer_is_withheld(settings, embedder):
    p, _ = make(settings, embedder, ["Peskov praised the Yerevan opera and its singers."] * 2)
    a = p.ask("Which opera did Peskov praise?")
    assert a.abstained and not a.citations
    assert "not supported" in a.text
    assert any("removed a sentence" in w for w in a.warnings)
    # Asked what he said, the invented words go and what the passages report him saying
    # is quoted instead.
    a = p.ask("What did Peskov say?")
    assert a.answer_mode == "extractive" and "opera" not in a.text
    assert "Peskov said" in a.text and a.citations


def test_unsupported_sentence_is_removed_from_supported_answer(settings, embedder):
    p, _ = make(settings, embedder, [
        "Peskov said Russia cannot leave Armenia [1]. He also praised the opera singers [2]."])
    a = p.ask("What did Peskov say?")
    assert not a.abstained and "opera" not in a.text
    assert "cannot leave Armenia" in a.text


def test_followup_uses_history(settings, embedder):
    p, gen = make(settings, embedder, ["Zakharova said Moscow requested clarifications [1]."])
    history = [Turn("user", "What did Simonyan say about the Rome Statute?"),
               Turn("assistant", "He said it will be ratified [1].")]
    a = p.ask("And what did Zakharova say about it?", history)
    assert "Rome Statute" in a.standalone_question
    assert any("Rome Statute" in x.chunk.text and "Zakharova" in x.chunk.text
               for x in a.passages)
    # The model gets the rewritten, standalone question.
    assert gen.calls[0][-1]["content"].endswith(
        "Question: What did Zakharova say about the Rome Statute?")


@pytest.mark.parametrize(("question", "match"), [
    ("", "empty"), ("   \n ", "empty"), ("x" * 100_000, "100,000 characters"),
    ("\x00\x00\x00", "empty"),  # control characters count as spaces
    ("\x00\x1b\x7f \x85", "empty"),
    ("\ud800 Peskov", "not valid UTF-8 \\(U\\+D800 at character 1\\)"),  # a JSON escape
    ("what \udcff\udcfe is", "not valid UTF-8 \\(byte 0xff at character 6\\)"),  # argv bytes
])
def test_bad_questions(settings, embedder, question, match):
    p, gen = make(settings, embedder, [])
    with pytest.raises(InvalidQuestionError, match=match):
        p.ask(question)
    assert gen.calls == []


def test_no_extractive_answer_puts_words_in_someones_mouth(settings, embedder):
    # Putin is named in the article, but never speaks in it.
    p, _ = make(settings, embedder, ["Putin said he will not be arrested if he comes to Armenia."])
    a = p.ask("What did Putin say about the Rome Statute?")
    assert a.abstained and not a.citations


def test_an_answer_without_the_asked_type_abstains(settings, embedder):
    # Every word is in the passage, but a date is not a count: the answer to another
    # question. Before type checks this came back as "On September 11, ... will start [1]."
    q = "How many American soldiers will take part in the Eagle Partner exercise?"
    p, _ = make(settings, embedder, [
        "The joint Armenian-American military exercise will start in Armenia on September 11 "
        "[1]."])
    a = p.ask(q)
    assert a.abstained and not a.citations
    assert any("asks for a number" in w for w in a.warnings)
    # A count taken from the cited passage stands.
    q = "How many days will the Eagle Partner exercise last?"
    n = _number_of(p, q, "10 days")
    p, _ = make(settings, embedder, [f"The exercise will last for 10 days [{n}]."])
    a = p.ask(q)
    assert not a.abstained and "10 days" in a.text


def test_followup_near_the_length_limit_is_not_rejected(settings, embedder):
    # The retrieval query joins the follow-up and the earlier question; only what the
    # user typed is held to the limit.
    p, _ = make(settings.with_overrides(max_question_chars=60),
                embedder, ["Zakharova said Moscow requested clarifications [1]."])
    history = [Turn("user", "What did Simonyan say about the Rome Statute ratification?")]
    a = p.ask("And why did Zakharova comment on it then, exactly?", history)
    assert a.question.startswith("And why")


REFUSAL_Q = "Which newspaper interviewed Pashinyan on September 2?"


def test_a_refusal_beside_the_answer_is_quoted(settings, embedder):
    p, gen = make(settings, embedder, ["The documents do not say."])
    a = p.ask(REFUSAL_Q)
    assert a.answer_mode == "extractive" and "La Repubblica" in a.text
    assert "La Repubblica" in a.citations[0].passage.chunk.text
    assert any("quoted its sentence" in w for w in a.warnings) and len(gen.calls) == 1


def test_a_refusal_beside_the_answer_is_asked_again_or_kept(settings, embedder):
    s = settings.with_overrides(on_refusal="ask_again")
    p, gen = make(s, embedder, ["The documents do not say.", "La Repubblica did [{n}]."])
    n = next(i for i, x in enumerate(p.search(REFUSAL_Q), 1) if "La Repubblica" in x.chunk.text)
    gen.answers[1] = gen.answers[1].format(n=n)
    a = p.ask(REFUSAL_Q)
    assert a.answer_mode == "retried" and "La Repubblica" in a.text and len(gen.calls) == 2
    # The second prompt shows that passage alone, under its own number.
    user = gen.calls[1][-1]["content"]
    assert f"[{n}]\n" in user and user.count("\n[") == 1 and "La Repubblica" in user
    off = settings.with_overrides(on_refusal="off")
    p, gen = make(off, embedder, ["The documents do not say."])
    assert p.ask(REFUSAL_Q).abstained and len(gen.calls) == 1
