"""The answer policy on its own: no model, no index, no embedder (rag.grounding is pure)."""

from rag.citations import CitedSentence
from rag.grounding import before_generation, judge, needs_retry

from .test_citations import EXERCISE, PESKOV

PASSAGES = (PESKOV, EXERCISE)
Q = "What did Peskov say?"


def test_a_supported_cited_answer_is_kept_as_written():
    v = judge(Q, Q, PASSAGES, "Peskov said that Russia cannot leave Armenia [1].")
    assert (v.mode, v.abstained, v.revision) == ("generated", False, "none")
    assert v.text == "Peskov said that Russia cannot leave Armenia [1]."
    assert v.sentences == (CitedSentence("Peskov said that Russia cannot leave Armenia.", (1,)),)
    [c] = v.citations
    assert c.n == 1 and c.passage is PESKOV
    # The support span is inside the passage and holds the supporting sentence.
    text = PESKOV.chunk.text
    lo, hi = c.support_start - PESKOV.chunk.start, c.support_end - PESKOV.chunk.start
    assert "Russia cannot leave Armenia" in text[lo:hi]
    assert not v.warnings


def test_an_uncited_answer_gets_its_passage_and_says_so():
    v = judge(Q, Q, PASSAGES, "Peskov said that Russia cannot leave Armenia.")
    assert v.revision == "cited" and v.text.endswith("[1].")


def test_a_wrong_citation_is_repointed():
    v = judge("When does the exercise start?", "When does the exercise start?", PASSAGES,
              "The exercise starts on September 11 [1]. It lasts 10 days [2].")
    assert v.sentences[0].cites == (2,)
    assert any("re-pointed to [2]" in w for w in v.warnings)
    # Same words, now all citing [2]: a front end only has to say where the citation goes.
    assert v.revision == "cited" and [c.n for c in v.citations] == [2]
    mixed = judge("When does the exercise start?", "When does the exercise start?", PASSAGES,
                  "The exercise starts on September 11 [1]. Peskov said Russia cannot leave "
                  "Armenia [2].")
    assert [s.cites for s in mixed.sentences] == [(2,), (1,)] and mixed.revision == "rewritten"


def test_an_unsupported_sentence_is_removed_and_reported():
    v = judge(Q, Q, PASSAGES, "Peskov said Russia cannot leave Armenia [1]. "
                              "He also sang at the Paris opera on Tuesday [1].")
    assert "opera" not in v.text and v.mode == "generated"
    assert any("removed a sentence" in w for w in v.warnings)


def test_bare_text_needs_a_retry_and_the_retry_is_used():
    assert needs_retry("[1]") and not needs_retry("Peskov spoke [1].")
    v = judge(Q, Q, PASSAGES, "[1]", retry="Peskov said Russia cannot leave Armenia [1].")
    assert v.mode == "retried" and v.citations
    assert any("asked again" in w for w in v.warnings)


def test_bare_twice_quotes_the_cited_passage():
    v = judge(Q, Q, PASSAGES, "[1]", retry="[1].")
    assert v.mode == "extractive" and not v.abstained
    assert v.text.rsplit(" [", 1)[0] in PESKOV.chunk.text
    assert [c.n for c in v.citations] == [1]


def test_unsupported_answer_falls_back_to_a_quote_or_abstains():
    # Nothing supported and no source sentence about the question: withheld.
    v = judge("What did Peskov say about the opera?", "What did Peskov say about the opera?",
              PASSAGES, "Peskov praised the new opera house in Yerevan [1].")
    assert v.abstained and "withheld" in v.text and not v.citations


def test_the_model_saying_the_passages_do_not_answer_is_an_abstention():
    v = judge(Q, Q, PASSAGES, "The passages do not mention that.")
    assert v.abstained and v.mode == "abstained" and not v.citations


def test_how_many_without_a_number_abstains():
    q = "How many soldiers take part in the exercise?"
    v = judge(q, q, PASSAGES, "The joint military exercise will start in Armenia [2].")
    assert v.abstained and "number" in v.text


def test_before_generation_abstains_on_names_the_documents_never_mention():
    words = {"peskov", "russia", "armenia"}
    v = before_generation("What did Macron say?", PASSAGES, words, lambda name: True)
    assert v is not None and v.abstained and "Macron" in v.text
    assert before_generation(Q, PASSAGES, words | {"peskov"}, lambda name: True) is None
    silent = before_generation(Q, PASSAGES, words, lambda name: False)
    assert silent is not None and "nothing said by Peskov" in silent.text
