"""Context selection: the question's sentences, still exact spans of the document."""

from __future__ import annotations

import pytest

from rag import context
from rag.types import Chunk, Passage

DOC = ("Peskov spoke on Monday. He said the exercise causes wariness. The weather was mild. "
       "Zakharova spoke later. She called it rude.")


def passage(start: int, end: int, cid: str = "c1", doc: str = "d") -> Passage:
    return Passage(Chunk(doc, cid, start, end, DOC[start:end]), "Title", 1.0)


def kept_of(text: str, question: str) -> str:
    """The text ``select`` keeps of a one-passage document ``text``."""
    [kept] = context.select(question, [Passage(Chunk("d", "c1", 0, len(text), text), "T", 1.0)])
    return kept.chunk.text


def test_keeps_the_run_of_sentences_that_share_words_with_the_question():
    whole = passage(0, len(DOC))
    [p] = context.select("What did Zakharova call it?", [whole])
    assert p.chunk.text == "Zakharova spoke later. She called it rude."
    assert DOC[p.chunk.start : p.chunk.end] == p.chunk.text  # still an exact span
    [p] = context.select("What did Peskov say about the exercise?", [whole])
    assert p.chunk.text == "Peskov spoke on Monday. He said the exercise causes wariness."


def test_a_passage_with_no_matching_sentence_is_kept_whole():
    whole = passage(0, len(DOC))
    assert context.select("Who won the match?", [whole]) == [whole]


def test_a_passage_an_earlier_one_already_holds_is_dropped():
    first = passage(0, len(DOC), "c1")
    overlapping = passage(DOC.index("Zakharova"), len(DOC), "c2")
    kept = context.select("What did Zakharova say?", [first, overlapping])
    assert [p.chunk.chunk_id for p in kept] == ["c1"]


def test_chunks_mode_is_the_identity_and_unknown_modes_fail():
    ps = [passage(0, 30), passage(30, 60, "c2")]
    assert context.select("anything Peskov", ps, "chunks") == ps
    with pytest.raises(ValueError, match="not one of"):
        context.select("q", ps, "paragraphs")


def test_a_quotation_is_kept_to_its_end():
    doc = ("Peskov responded: “Russia is an integral part of this region. It cannot go "
           "anywhere. Russia cannot leave Armenia.” The weather was mild.")
    assert kept_of(doc, "What did Peskov say?").endswith("Russia cannot leave Armenia.”")


def test_a_sentence_that_refers_back_keeps_the_one_before():
    doc = ("Baku must guarantee movement through the Lachin corridor. This is the only road "
           "connecting the NKR to Armenia. Talks resumed.")
    kept = kept_of(doc, "What is the only road connecting the NKR?")
    assert kept.startswith("Baku must guarantee movement through the Lachin")
    assert "Talks" not in kept


def test_a_sentence_ending_in_a_colon_keeps_what_it_introduces():
    doc = ("Analyst Kochinyan does not believe Armenia is changing course:\n“It is rhetoric. "
           "Nothing more.”\nThe weather was mild.")
    kept = kept_of(doc, "Does Kochinyan believe Armenia is changing course?")
    assert kept.endswith("Nothing more.”")
