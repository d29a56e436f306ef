"""Context selection: the question's sentences, still exact spans of the document."""

from __future__ import annotations

import pytest

from rag import context
from rag.types import Chunk, Document, Passage

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


# Two paragraphs of the article: the speaker is named on the line before the quotation,
# and the quotation closes with a pronoun ("he told JAMnews").
ARTICLE = (
    "In Moscow, this information caused concern. Russian presidential spokesman Dmitry "
    "Peskov said:\n\n“This causes wariness, especially in the current situation. Therefore, "
    "we will deeply analyze this news and monitor the situation.”\n\nPolitical analyst Areg "
    "Kochinyan does not believe that Armenia is changing course:\n\n“The country’s authorities "
    "are simply openly expressing their disagreement. In particular, on the Karabakh issue. "
    "Today the lives of 120 thousand Armenians of Artsakh are actually in danger – because of "
    "the blockade and hunger,” he told JAMnews.\n\nThe analyst notes numerous publications.")


def article_chunk(start_at: str, end_after: str) -> tuple[Passage, dict]:
    lo = ARTICLE.index(start_at)
    hi = ARTICLE.index(end_after) + len(end_after)
    doc = Document("a", "Article", "a.txt", ARTICLE, "0" * 64)
    return Passage(Chunk("a", "a#1", lo, hi, ARTICLE[lo:hi]), "Article", 1.0), {"a": doc}


def test_the_speaker_survives_the_chunkers_cut():
    # The chunk starts at the quotation: "Peskov said:" is in the chunk before it.
    p, docs = article_chunk("“This causes", "monitor the situation.”")
    [kept] = context.select("What causes wariness?", [p], documents=docs)
    assert kept.chunk.text.startswith("Russian presidential spokesman Dmitry Peskov said:")
    assert ARTICLE[kept.chunk.start : kept.chunk.end] == kept.chunk.text
    # Without the documents, the rule stops at the chunk's edge.
    [alone] = context.select("What causes wariness?", [p])
    assert alone.chunk.text.startswith("“This causes")


def test_a_sentence_inside_a_quotation_keeps_the_quotation_and_its_attribution():
    # The question matches only the quotation's last sentence ("120 thousand Armenians"):
    # the kept text goes back to where the quotation opens, and to the line naming who
    # "he" is, and the pronoun attribution stays at the end.
    p, docs = article_chunk("In particular", "he told JAMnews.")
    [kept] = context.select("How many Armenians of Artsakh are in danger?", [p], documents=docs)
    assert kept.chunk.text.startswith("Political analyst Areg Kochinyan does not believe")
    assert kept.chunk.text.endswith("he told JAMnews.")
    assert ARTICLE[kept.chunk.start : kept.chunk.end] == kept.chunk.text


def test_the_reach_beyond_a_chunk_is_bounded():
    long_intro = "Somebody said:\n\n“" + "Words here. " * 100 + "The key fact is here.”"
    doc = Document("b", "B", "b.txt", long_intro, "0" * 64)
    lo = long_intro.index("The key fact")
    p = Passage(Chunk("b", "b#9", lo, len(long_intro), long_intro[lo:]), "B", 1.0)
    [kept] = context.select("What is the key fact?", [p], documents={"b": doc})
    assert kept.chunk.start >= lo - context.MAX_REACH


def test_a_word_most_chunks_hold_picks_no_sentence():
    # "Russia" is in most chunks of an article about Russia: the sentence kept for
    # "What did Peskov say about Russia?" is Peskov's, not every sentence naming Russia.
    text = ("Russia was criticised. Russia said nothing. Peskov said Russia cannot leave. "
            "Russia is big.")
    p = Passage(Chunk("d", "c1", 0, len(text), text), "T", 1.0)
    share = {"russia": 0.8, "peskov": 0.05}.get
    [kept] = context.select("What did Peskov say about Russia?", [p],
                            term_share=lambda t: share(t, 0.0))
    assert kept.chunk.text == "Peskov said Russia cannot leave."
    # Without the corpus' counts, any shared word counts.
    [kept] = context.select("What did Peskov say about Russia?", [p])
    assert kept.chunk.text == text


def test_overlapping_passages_of_a_document_merge():
    doc = Document("d", "T", "d.txt", DOC, "0" * 64)
    a = passage(0, DOC.index("The weather"), "c1")
    b = passage(DOC.index("He said"), DOC.index("Zakharova"), "c2")
    merged = context.select("What did Peskov say about the exercise and the weather?",
                            [a, b], documents={"d": doc})
    assert len(merged) == 1
    c = merged[0].chunk
    assert c.chunk_id == "c1" and DOC[c.start : c.end] == c.text
    assert c.text.startswith("Peskov spoke") and c.text.endswith("The weather was mild.")


def test_passages_that_touch_merge():
    # Only a space lies between them: one span of the document, at the first one's rank.
    doc = Document("d", "T", "d.txt", DOC, "0" * 64)
    a = passage(0, DOC.index("The weather") - 1, "c1")
    b = passage(DOC.index("The weather"), DOC.index("Zakharova") - 1, "c2")
    [merged] = context.select("Did Peskov say the exercise or the weather?", [b, a],
                              documents={"d": doc})
    assert merged.chunk.chunk_id == "c2"
    assert merged.chunk.text == DOC[: DOC.index("Zakharova") - 1]
    # Apart (a sentence between them), they stay two passages.
    c = passage(DOC.index("Zakharova"), len(DOC), "c3")
    assert len(context.select("Did Peskov or Zakharova call it rude?", [a, c],
                              documents={"d": doc})) == 2


def test_a_heading_or_defined_term_keeps_what_it_introduces():
    # A glossary as the HTML loader gives it: the term is a <dt>, a heading of the document.
    text = ("Duck-typing avoids tests using type(). Instead, it employs hasattr() tests or "
            "EAFP programming.\n\nEAFP\n\nEasier to ask for forgiveness than permission. This "
            "common style assumes valid keys.\n\nLBYL\n\nLook before you leap.")
    term = text.index("EAFP\n")
    doc = Document("g", "Glossary", "g.html", text, "0", headings=((term, 7, "EAFP"),))
    whole = Passage(Chunk("g", "g#0", 0, len(text), text), "Glossary", 1.0)
    [kept] = context.select("What does EAFP stand for?", [whole], documents={"g": doc})
    assert kept.chunk.text.endswith("EAFP\n\nEasier to ask for forgiveness than permission.")
    assert text[kept.chunk.start : kept.chunk.end] == kept.chunk.text
    # The same words on a line that is no heading keep nothing more.
    plain = Document("g", "Glossary", "g.html", text, "0")
    [kept] = context.select("What does EAFP stand for?", [whole], documents={"g": plain})
    assert kept.chunk.text.endswith("EAFP")
