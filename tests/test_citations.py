import pytest

from rag.citations import (
    ground,
    is_bare,
    marker_numbers,
    render,
    split_cited,
    strip_markers,
    support,
)
from rag.types import Chunk, Passage


def _p(text: str, start: int = 0) -> Passage:
    return Passage(Chunk("d", f"d#{start}", start, start + len(text), text), "Title", 0.5)


PESKOV = _p("Russian presidential spokesman Dmitry Peskov responded to this statement: "
            "“Russia is an absolutely integral part of this region, so it cannot go anywhere. "
            "Russia cannot leave Armenia.”", 100)
EXERCISE = _p("On September 11, the joint Armenian-American military exercise “Eagle partner "
              "2023” will start in Armenia. They will last for 10 days.", 500)


def test_marker_parsing():
    assert marker_numbers("A [1] b [2, 3] c [Source 4][5]") == [1, 2, 3, 4, 5]
    assert strip_markers("Peskov spoke [1]. Then [2]!") == "Peskov spoke. Then!"


@pytest.mark.parametrize(("text", "bare"), [("[1]", True), (" [1][2]. ", True), ("[1] Yes", True),
                                             ("Peskov spoke [1].", False)])
def test_bare_answers(text, bare):
    assert is_bare(text) is bare


def test_split_attaches_trailing_markers_to_their_sentence():
    s = split_cited("Russia cannot leave Armenia. [1] The exercise lasts 10 days.[2]")
    assert [(x.text, x.cites) for x in s] == [("Russia cannot leave Armenia.", (1,)),
                                              ("The exercise lasts 10 days.", (2,))]


def test_support_checker_on_handmade_pairs():
    text = PESKOV.chunk.text
    assert support("Peskov said Russia cannot leave Armenia.", text) == 1.0
    assert support("Russia is an integral part of the region.", text) >= 0.6
    assert support("Lavrov said Russia cannot leave Armenia.", text) == 0.0  # name absent
    assert support("Russia will leave in 2025.", text) == 0.0  # number absent
    assert support("The weather in Paris was sunny and warm.", text) < 0.6


def test_ground_keeps_correct_citation_and_finds_support_span():
    g = ground("Peskov said Russia cannot leave Armenia [1].", [PESKOV, EXERCISE])
    assert g.warnings == []
    assert [c.n for c in g.citations] == [1]
    c = g.citations[0]
    doc_text = " " * 100 + PESKOV.chunk.text
    assert "Russia cannot leave Armenia" in doc_text[c.support_start : c.support_end]
    assert g.text == "Peskov said Russia cannot leave Armenia [1]."


def test_ground_drops_out_of_range_and_repoints_wrong_citation():
    g = ground("The exercise will last for 10 days [1][7].", [PESKOV, EXERCISE])
    assert [c.n for c in g.citations] == [2]
    assert any("[7]" in w and "dropped" in w for w in g.warnings)
    assert any("re-pointed to [2]" in w for w in g.warnings)
    assert g.text == "The exercise will last for 10 days [2]."


def test_ground_adds_citation_to_uncited_supported_sentence():
    g = ground("Russia cannot leave Armenia, said Peskov.", [EXERCISE, PESKOV])
    assert [c.n for c in g.citations] == [2] and g.warnings == []
    assert g.text.endswith("[2].")


def test_unsupported_sentence_stays_uncited():
    g = ground("Macron visited Baku yesterday.", [PESKOV, EXERCISE])
    assert g.citations == [] and g.sentences[0].cites == ()


def test_render_keeps_closing_quote_after_marker():
    from rag.citations import CitedSentence

    assert render([CitedSentence("He said “no.”", (1,))]) == "He said “no [1].”"


def test_repeated_sentences_collapse():
    g = ground("Russia cannot leave Armenia [1]. Russia cannot leave Armenia [1]. "
               "Russia cannot leave Armenia.", [PESKOV])
    assert g.text == "Russia cannot leave Armenia [1]."


KHURSHUDYAN = _p("“The Armenian side has always openly explained this. And Putin, of course, "
                 "will not be arrested if he comes to Armenia.”")


def test_attribution_needs_the_speaker_speaking():
    from rag.citations import speakers

    assert speakers("Putin said that he will not be arrested.") == {"Putin"}
    assert speakers("According to Maria Zakharova, the rhetoric is rude.") == {"Zakharova"}
    assert speakers("Russia cannot leave Armenia.") == set()
    # Named in the passage, but not as the one speaking: unsupported.
    assert support("Putin said that he will not be arrested if he comes to Armenia.",
                   KHURSHUDYAN.chunk.text) == 0.0
    assert support("Putin will not be arrested if he comes to Armenia.",
                   KHURSHUDYAN.chunk.text) == 1.0
    assert support("Peskov responded that Russia cannot leave Armenia.", PESKOV.chunk.text) == 1.0


def test_inverted_attribution():
    from rag.citations import speakers

    assert speakers("Russia cannot leave Armenia, said Dmitry Peskov.") == {"Peskov"}
    assert speakers("Peskov said Russia cannot leave Armenia.") == {"Peskov"}


def test_marker_after_closing_quote_is_not_doubled():
    s = split_cited('He said it is "on the verge of rudeness [2]." [2]')
    assert [x.cites for x in s] == [(2,)]
