import pytest

from rag.citations import (
    SUPPORT_THRESHOLD,
    CitedSentence,
    assess,
    check,
    conflict,
    frame_and_claim,
    ground,
    is_bare,
    marker_numbers,
    numbers,
    question_system_words,
    render,
    role_speaker,
    split_cited,
    strip_markers,
    support,
    title_holders,
)
from rag.text import stem
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
    # A word that starts with a dot keeps its space: a file's name, not the sentence's end.
    assert strip_markers("Put it in the .env file [1], not in .bashrc [2].") == (
        "Put it in the .env file, not in .bashrc.")
    assert split_cited("It reads the .env file [1].")[0].text == "It reads the .env file."


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
    # Technical prose: a function or the documentation "says" things; nobody speaks.
    assert speakers("The function says it returns None.") == set()
    assert speakers("What does the documentation say about OrderedDict?") == set()
    # Two named together speak together, each of them ("both expressed", "and ... said").
    assert speakers("Peskov and Zakharova both expressed support for it.") == {"Peskov",
                                                                              "Zakharova"}
    assert speakers("Armenia and Russia signed the treaty.") == set()
    zakharova = ("Russian Foreign Ministry spokesperson Maria Zakharova announced that Moscow "
                 "has already requested clarifications regarding Armenia’s ratification of the "
                 "Rome Statute.")
    assert assess("Peskov and Zakharova both expressed support for the Rome Statute, stating "
                  "that it is necessary for Armenia to ratify it.", zakharova,
                  "What did Peskov and Zakharova say about the Rome Statute?").reason == "speaker"
    # A passage whose only speaker is "he" may stand for one asked name, not for two.
    reminds = ("He reminds that the process started long before: “The Armenian side has "
               "always explained that this is necessary for the country.”")
    q = "What did Peskov and Zakharova say about the Rome Statute?"
    assert assess("Peskov and Zakharova both expressed support for the Rome Statute, stating "
                  "that it is necessary for Armenia.", reminds, q).reason == "speaker"
    assert assess("Peskov said that it is necessary for the Armenian side.", reminds,
                  "What did Peskov say about the Armenian side?").supported
    # A name after "by" or "of" is not who speaks: the analyst and the spokesman do.
    assert speakers("The analyst quoted by JAMnews does not believe that it is so.") == set()
    assert speakers("The spokesman of Putin said that he will not come.") == set()
    # Named in the passage, but not as the one speaking: unsupported.
    assert support("Putin said that he will not be arrested if he comes to Armenia.",
                   KHURSHUDYAN.chunk.text) == 0.0
    assert support("Putin will not be arrested if he comes to Armenia.",
                   KHURSHUDYAN.chunk.text) == 1.0
    assert support("Peskov responded that Russia cannot leave Armenia.", PESKOV.chunk.text) == 1.0


def test_an_asked_speaker_needs_someone_speaking_in_the_passage():
    """"What did X say?": a passage that shows no one speaking (an FAQ's own answer) is not
    X's words; one where someone speaks unnamed ("he said", a quotation) may be."""
    q = "What did Bart Jansen say about Unicode support?"
    claim = "Bart Jansen said that Unicode support is limited in the stable branch."
    faq = "The stable branch has very limited Unicode support; the next one does better."
    assert assess(claim, faq, q).reason == "speaker"
    for spoken in (f"“{faq}” he told the list.", f"In the interview: “{faq}”",
                   f"According to him, {faq}", f"{faq[:-1]}, he pointed out.",
                   f"{faq[:-1]}, the spokesman said.", f'He wrote: "{faq}"'):
        assert assess(claim, spoken, q).supported, spoken
    # A scare-quoted word, a code string, authorial "we": nobody speaking.
    for silent in (f"The “stable” branch: {faq}", f'{faq} Try print("the stable branch now").',
                   f"{faq} As we noted above, it is limited.",
                   f'{faq} Set "LANG" to a locale such as "en_US.UTF-8".'):
        assert assess(claim, silent, q).reason == "speaker", silent
    # A document its title names speaks through its text; a name its title lacks does not.
    faq_q = "What does the FAQ say about Unicode support?"
    said = "According to the FAQ, Unicode support is limited in the stable branch."
    assert assess(said, faq, faq_q, "Archive-Name: unix-faq/shell/zsh").supported
    assert assess(said, faq, faq_q, "Zsh manual").reason == "speaker"


def test_a_document_speaks_through_its_title():
    """"According to the Constitution, ..." cites the constitution's own text: the name that
    opens the passage's title is the document, which needs no "said"; a name further into a
    title is what it is about, and still has to be shown speaking."""
    passage = "8. The Project Leader serves for one year from their election."
    claim = ("According to the Constitution for the Debian Project (v1.9), the term of a Debian "
             "Project Leader is one year from their election.")
    question = "How long is the term of a Debian Project Leader?"
    assert support(claim, passage, question) == 0.0  # no title: nobody shown speaking
    assert support(claim, passage, question, "Constitution for the Debian Project (v1.9)\n"
                   "5. Project Leader › 5.2. Appointment") >= SUPPORT_THRESHOLD
    # A country or a person is no document, whatever the title: it must be shown speaking.
    for claim, about in (
            ("According to Armenia, the exercise is a routine one.",
             "7 facts about Armenia-Russia relations"),
            ("According to Russia, the exercise is a routine one.", "Russia and the CSTO"),
            ("Peskov said that the exercise is a routine one.",
             "Peskov's statement on the exercise")):
        assert support(claim, "The exercise is a routine one.", "", about) == 0.0, claim


def test_inverted_attribution():
    from rag.citations import speakers

    assert speakers("Russia cannot leave Armenia, said Dmitry Peskov.") == {"Peskov"}
    assert speakers("Peskov said Russia cannot leave Armenia.") == {"Peskov"}


def test_marker_after_closing_quote_is_not_doubled():
    s = split_cited('He said it is "on the verge of rudeness [2]." [2]')
    assert [x.cites for x in s] == [(2,)]


# --- frame and claim, polarity, modality: sentences of the article, as the index chunks it ----

SIMONYAN = _p("On the same day, Armenian Parliament Speaker Alen Simonyan said:\n\n“In all "
              "probability, the Rome Statute will be ratified. We will discuss, understand what "
              "benefits there are, and there are many, since war crimes have been and are being "
              "committed against our country. We need it, our country needs it”.", 2929)
PESKOV_CURTAIL = _p("He only mentioned that the situation has changed: “But this does not mean "
                    "that Russia is going to curtail its activities in any way.", 7016)
KOCHINYAN_INTRO = _p("Political analyst Areg Kochinyan\xa0does not believe that Armenia is "
                     "changing course and the statements voiced are anti-Russian rhetoric:", 9651)
HYSTERIA = _p("Today the lives of 120 thousand Armenians of Artsakh are actually in danger – "
              "because of the blockade and hunger,” he told JAMnews.\n\nIn recent days, the "
              "political analyst notes numerous publications in the Russian media, “stirring up "
              "hysteria”.", 9800)


@pytest.mark.parametrize(("sentence", "frame", "claim"), [
    ("According to political analyst Areg Kochinyan, the Russian media is stirring up "
     "hysteria.", "According to political analyst Areg Kochinyan,",
     "the Russian media is stirring up hysteria."),
    ("Peskov said that Russia cannot leave Armenia.", "Peskov said that",
     "Russia cannot leave Armenia."),
    ("Kochinyan does not believe that Armenia is changing course.",
     "Kochinyan does not believe that", "Armenia is changing course."),
    ("Russia cannot leave Armenia, Peskov said.", ", Peskov said.", "Russia cannot leave Armenia"),
    ("The article states that the exercise starts on September 11.", "The article states that",
     "the exercise starts on September 11."),
    ("The exercise starts on September 11.", "", "The exercise starts on September 11."),
])
def test_frame_and_claim(sentence, frame, claim):
    assert frame_and_claim(sentence) == (frame, claim)


def test_attribution_padding_does_not_count_as_support():
    q = "What does Kochinyan say about the Russian media?"
    padded = ("According to political analyst Areg Kochinyan, the Russian media is stirring up "
              "hysteria.")
    # The frame's words (analyst, Areg, Kochinyan) are all in the passage; the claim is not.
    a = assess(padded, KOCHINYAN_INTRO.chunk.text, q)
    assert not a.supported and a.reason == "claim"
    # The same claim, cited to the passage that makes it, is supported.
    right = "Kochinyan said the Russian media were stirring up hysteria."
    assert assess(right, HYSTERIA.chunk.text, q).supported
    assert assess("The political analyst said the Russian media were stirring up hysteria.",
                  HYSTERIA.chunk.text).supported


def test_right_speaker_wrong_passage_is_repointed_or_removed():
    q = "What did Peskov say?"
    s = CitedSentence("According to Peskov, the changed situation does not mean that Russia is "
                      "going to curtail its activities in any way.", (1,))
    # [1] is Peskov's other statement; [2] holds this one: re-pointed.
    checked = check([s], [PESKOV, PESKOV_CURTAIL], q)
    assert checked.sentences[0].cites == (2,)
    assert any("re-pointed to [2]" in w for w in checked.warnings)
    # Without the passage that holds it, no citation vouches for it, speaker or not.
    assert check([s], [PESKOV, EXERCISE], q).sentences[0].cites == ()
    # Peskov's own statement, cited right, stays.
    ok = CitedSentence("Peskov said Russia cannot leave Armenia.", (1,))
    assert check([ok], [PESKOV, PESKOV_CURTAIL], q).sentences[0].cites == (1,)


def test_a_future_or_uncertain_passage_does_not_support_a_past_fact():
    text = SIMONYAN.chunk.text
    past = "The Armenian Parliament ratified the Rome Statute on the same day."
    a = assess(past, text)
    assert not a.supported and a.reason == "modality"
    assert assess("The Rome Statute was ratified.", text).reason == "modality"
    # Said as the passage says it, it is supported.
    for kept in ("Alen Simonyan said that, in all probability, the Rome Statute will be ratified.",
                 "Simonyan said the Rome Statute will probably be ratified."):
        assert assess(kept, text).supported, kept
    # A scheduled event in the present tense is no change of modality.
    assert assess("The joint exercise Eagle partner 2023 starts in Armenia on September 11.",
                  EXERCISE.chunk.text).supported


def test_a_hedge_on_another_case_hedges_nothing_else():
    """"or -4 when the value would exceed der_len" speaks of another return value: the claim
    on -1, from the same sentence, is not hedged by it; a hedge on the claim's own words
    still is, in a condition too ("if necessary Armenia could leave the CSTO")."""
    text = ("Returns: Return the decoded length value, or -1 on indefinite length, or -2 when "
            "the value was too big to fit in a int, or -4 when the decoded length value plus "
            "len would exceed der_len .")
    claim = "The function asn1_get_length_der returns -1 when the DER length is indefinite."
    assert conflict(claim, text) is None
    assert conflict("The exercise started on Monday.",
                    "The exercise would have started on Monday, the ministry said.") == "modality"
    for claim, hedged in (
            ("Armenia is leaving the CSTO.",
             "Pashinyan said that if necessary Armenia could leave the CSTO."),
            ("The minister resigns over the report.",
             "If the report is confirmed the minister would resign over it."),
            ("The ministry cancels the exercise.",
             "Unless the talks resume the ministry may cancel the exercise.")):
        assert conflict(claim, hedged) == "modality", claim


def test_the_month_may_is_no_uncertainty():
    assert conflict("The tribunal summoned the mayor.",
                    "In May the tribunal summoned the mayor as a witness.") is None
    assert conflict("Azerbaijan used armed forces three times.",
                    "Since May 11, 2021, Azerbaijan used armed forces three times.") is None
    # The modal, in any case: "may", a specification's "MAY", a sentence's first word.
    assert conflict("The tribunal summoned the mayor.",
                    "The tribunal may summon the mayor as a witness.") == "modality"
    assert conflict("Clients send the Accept header.",
                    "Clients MAY send the Accept header.") == "modality"
    assert conflict("The server drops the connection.",
                    "May drop the connection when the server is overloaded.") == "modality"


def test_a_claim_of_the_opposite_polarity_is_not_supported():
    text = KOCHINYAN_INTRO.chunk.text
    assert assess("Yes, Kochinyan believes that Armenia is changing course.", text).reason \
        == "polarity"
    assert assess("Kochinyan does not believe that Armenia is changing course.", text).supported
    assert assess("No, Kochinyan does not believe that Armenia is changing course.",
                  text).supported
    # A negation elsewhere in the passage's sentence is not the claim's.
    assert assess("Russia is an integral part of the region.", PESKOV.chunk.text).supported
    assert conflict("Russia can leave Armenia.", PESKOV.chunk.text) == "polarity"


def test_a_passage_holding_only_the_names_supports_nothing():
    q = "What did Pashinyan say Armenians will one day wake up and see?"
    said = "Pashinyan stated that Armenia will wake up one day to find that Russia is not there."
    headlines = _p("• Pashinyan on Armenia’s problems and a “crisis of international law and "
                   "order”\n  • “Russia was a guarantor of Armenia’s security, but it has become "
                   "a threat.” Opinion", 40)
    quote = _p("One day we will just wake up and see that Russia is not here.”", 6590)
    assert not assess(said, headlines.chunk.text, q).supported
    assert assess(said, quote.chunk.text, q).supported
    checked = check([CitedSentence(said, (1,))], [headlines, quote], q)
    assert checked.sentences[0].cites == (2,)


@pytest.mark.parametrize(("sentence", "passage"), [
    # A negated negative is no negation.
    ("Anna Hakobyan brought a humanitarian cargo to Ukraine.",
     "Anna Hakobyan was one of the speakers of the summit. The fact that she arrived in "
     "Ukraine with a humanitarian cargo did not go unnoticed."),
    # "in no way directed" negates "directed", as "not directed" does.
    ("The ratification is not directed against Russia.",
     "Arshakyan said that the ratification “is in no way directed against Russia”."),
    # "X does not believe that A is B" and "according to X, A is not B" say the same.
    ("According to Kochinyan, Armenia is not changing course.",
     "Political analyst Areg Kochinyan does not believe that Armenia is changing course."),
    # A future clause elsewhere in the sentence is not the claim's tense.
    ("Moscow had already requested clarifications regarding the ratification.",
     "Zakharova announced that Moscow has already requested clarifications regarding the "
     "ratification: “We will decide on our further steps based on the response”."),
])
def test_said_the_same_way_in_other_words(sentence, passage):
    assert conflict(sentence, passage) is None
    assert assess(sentence, passage).supported


@pytest.mark.parametrize(("sentence", "passage"), [
    # The claim keeps what the passage has someone not believe, and drops the verb.
    ("Yes, according to political analyst Areg Kochinyan, Armenia is changing course.",
     KOCHINYAN_INTRO.chunk.text),
    ("Armenia is changing course, Kochinyan said.", KOCHINYAN_INTRO.chunk.text),
    # The same in another corpus's words, and through "don't think".
    ("According to the maintainers, the C API is stable across releases.",
     "The maintainers do not consider that the C API is stable across releases; use the "
     "limited API instead."),
    ("Kochinyan said anyone will give us guarantees.",
     "“I don’t think anyone will ever give us any guarantees or is obliged to give them,” "
     "Kochinyan said."),
])
def test_a_claim_stating_what_the_passage_denies_believing_is_the_opposite(sentence, passage):
    assert conflict(sentence, passage) == "polarity"
    assert assess(sentence, passage).reason == "polarity"


def test_what_the_passage_denies_believing_reaches_to_the_end_of_its_clause():
    # "does not believe that A and B": B is not denied; the sentence's frame alone is not A.
    text = KOCHINYAN_INTRO.chunk.text
    for sentence in ("According to Kochinyan, the statements voiced are anti-Russian rhetoric.",
                     "Kochinyan is a political analyst.",
                     "According to Kochinyan, Armenia is not changing course."):
        assert conflict(sentence, text) is None, sentence


def test_a_contradicted_sentence_is_not_repointed_to_a_passage_silent_on_its_speaker():
    # A headline asking the question holds the claim's words; it says nothing of Kochinyan.
    headline = _p("Is Armenia changing course from Russia to the West", 10)
    s = CitedSentence("According to political analyst Areg Kochinyan, Armenia is changing "
                      "course.", ())
    q = "Does Areg Kochinyan believe that Armenia is changing course?"
    assert check([s], [KOCHINYAN_INTRO, headline], q).sentences[0].cites == ()
    # Without the passage that contradicts it, a passage where someone unnamed says it may
    # still be cited; the headline, where no one speaks, is nobody's words.
    said = _p("“Armenia is changing course from Russia to the West,” he said.", 10)
    assert check([s], [said], q).sentences[0].cites == (1,)
    assert check([s], [headline], q).sentences[0].cites == ()


@pytest.mark.parametrize("forms", [
    ("raise", "raises", "raised", "raising"), ("change", "changes", "changed", "changing"),
    ("believe", "believes", "believed"), ("guarantee", "guarantees", "guaranteed"),
    ("class", "classes"), ("process", "processes"), ("value", "values"),
    ("ratify", "ratifies", "ratified", "ratifying", "ratification"),
    ("specify", "specified", "specification", "specifications"), ("copy", "copied", "copies"),
])
def test_the_forms_of_a_word_have_one_stem(forms):
    # "What exception does it raise?" is matched by "raises" (retrieval and the checker).
    assert len({stem(w) for w in forms}) == 1, {w: stem(w) for w in forms}


def test_a_negation_reaches_no_further_than_its_clause():
    # "None" is a value here, and it ends its clause: the algorithm is not denied.
    passage = ("If sep is not specified or is None, a different splitting algorithm is "
               "applied: runs of consecutive whitespace are regarded as a single separator.")
    answer = ("When the separator is not specified or is None, a different splitting "
              "algorithm is applied: runs of consecutive whitespace are regarded as a single "
              "separator.")
    assert conflict(answer, passage) is None
    assert support(answer, passage) >= SUPPORT_THRESHOLD
    # Within its clause a negation still counts.
    assert conflict("A different splitting algorithm is not applied.", passage) == "polarity"


def test_a_passage_vouches_for_the_names_of_its_title_and_headings():
    text = ("There is new syntax := that assigns values to variables as part of a larger "
            "expression.")
    answer = ("The walrus operator is new syntax in Python 3.8 that assigns values to "
              "variables as part of a larger expression [1].")
    bare = Passage(Chunk("d", "d#0", 0, len(text), text), "Changelog", 1.0)
    under = Passage(Chunk("d", "d#0", 0, len(text), text,
                          "What’s New In Python 3.8 › Assignment expressions"), "Changelog", 1.0)
    assert not check(split_cited(answer), [bare]).sentences[0].cites  # "3.8": from nowhere
    assert check(split_cited(answer), [under]).sentences[0].cites == (1,)
    # Names only: the heading's words do not make up the claim.
    claim = "Python 3.8 added assignment expressions and new walrus syntax [1]."
    assert not check(split_cited(claim), [Passage(Chunk("d", "d#0", 0, 5, "Hello"),
                                                  "Python 3.8", 1.0,)]).sentences[0].cites


SELF_DOC = _p("typing.Self\nSpecial type to represent the current enclosed class. For example:\n"
              ">>> from typing import Self\n>>> class Foo:\n"
              "...     def return_self(self) -> Self:\n...         return self\n", 900)


def test_a_code_block_is_one_unit_cited_after_its_fence():
    answer = ("Self stands for the current enclosed class [1]. For example:\n```python\n"
              "from typing import Self\n\nclass Foo:\n    def return_self(self) -> Self:\n"
              "        return self\n```\n[1]")
    parsed = split_cited(answer)
    assert [s.cites for s in parsed] == [(1,), (1,), (1,)]
    assert parsed[2].text == ("```python\nfrom typing import Self\n\nclass Foo:\n    def "
                              "return_self(self) -> Self:\n        return self\n```")
    checked = check(parsed, [SELF_DOC]).sentences
    assert checked[2].cites == (1,)  # every line of it is in the passage
    text = render(checked)
    # No marker inside the code, its lines kept, and the text parses back the same.
    assert "```python\nfrom typing import Self\n\nclass Foo:\n" in text
    assert text.endswith("return self\n```\n[1]") and "Self [1]" not in text.split("```")[1]
    assert split_cited(text) == list(checked)


def test_code_must_be_quoted_from_the_passages():
    made_up = "```python\nfrom typing import Self\nclass Box(Generic[T]):\n    pass\n```"
    assert not assess(made_up, SELF_DOC.chunk.text).supported
    assert assess(made_up, SELF_DOC.chunk.text).reason == "code"
    quoted = "```\nclass Foo:\n    # a comment the passage does not have\n    ...\n```"
    assert assess(quoted, SELF_DOC.chunk.text).supported
    # A block cut off by the token limit is still one unit; markers inside code stay code.
    cut = split_cited("Use it so:\n```\nx = a[1]\ny = 2")
    assert [s.text for s in cut] == ["Use it so:", "```\nx = a[1]\ny = 2\n```"]
    # A sentence introducing a block keeps its colon after its marker.
    assert render([CitedSentence("For example:", (1,))]) == "For example [1]:"


def test_a_list_item_number_is_no_sentence():
    parsed = split_cited("You can follow these steps:\n1. Import the copy module.\n"
                         "2. Use replace() on the object [1].\n- Keep the copy.")
    assert [s.text for s in parsed] == ["You can follow these steps:", "Import the copy module.",
                                        "Use replace() on the object.", "Keep the copy."]
    # A number that is a claim stays one ("1."), and so does "-1 is returned".
    assert [s.text for s in split_cited("-1 is returned [1].")] == ["-1 is returned."]


def test_a_question_identifier_the_claim_repeats_must_be_in_its_passage():
    q = "What does the --long option do?"
    dictionary = "-D DICT: use DICT as Dictionary to compress or decompress FILE(s)"
    verdict = assess("The --long option decompresses with a dictionary.", dictionary, q)
    assert not verdict.supported and verdict.reason == "subject"
    long_ = "--long[=#]: enables long distance matching with # windowLog"
    assert assess("The --long option enables long distance matching.", long_, q).supported
    # A code name may be written by its distinctive last part on its own page, or be under a
    # heading that names it; not by a namesake of another module.
    q = "What is the default maxsize of functools.lru_cache?"
    assert assess("The default maxsize of functools.lru_cache is 128.",
                  "If maxsize is left at its default of 128, lru_cache ...", q).supported
    q = "What does os.cpu_count() return?"
    other = "multiprocessing.cpu_count() Return the number of CPUs in the system."
    assert assess("os.cpu_count() returns the number of CPUs in the system.", other,
                  q).reason == "subject"
    assert assess("os.cpu_count() returns the number of CPUs in the system.",
                  "Return the number of CPUs in the system.", q, about="os › os.cpu_count()"
                  ).supported
    # A file's name is what its document is about: its passages need not repeat it.
    q = "What buffer size does zpipe.c define for CHUNK?"
    assert assess("zpipe.c defines a buffer size of 16384 bytes for CHUNK.",
                  "#define CHUNK 16384\nCHUNK is simply the buffer size", q).supported
    # Compounds of words are paraphrased like words: "on/off" need not be in the passage.
    q = "How do I make an on/off flag?"
    assert assess("An on/off flag is made with action='store_true'.",
                  "action='store_true' makes a flag that stores True", q).supported


def test_a_system_written_word_of_the_question_must_be_in_the_passage():
    # A user, a file, an element: the question's words vouch for no claim about them.
    q = "What uid does the www-data user have?"
    operator = "the operator user is no longer created by default. It had uid 37."
    verdict = assess("The www-data user has the uid 37.", operator, q)
    assert not verdict.supported and verdict.reason == "subject"
    assert assess("The www-data user has the uid 33.", "www-data: uid 33. Some web servers "
                  "run as www-data.", q).supported
    q = "In which version of the specification was the globs2 file introduced?"
    assert assess("The globs2 file was introduced in version 0.21.",
                  "This is version 0.21 of the specification.", q).reason == "subject"
    q = "Where must type stub (.pyi) files be installed?"
    assert assess("Type stub files (.pyi) must be installed in /usr/lib/python3/dist-packages.",
                  "Public modules must be installed in /usr/lib/python3/dist-packages.",
                  q).reason == "subject"
    # The page's title or heading may write it; a capitalised compound is a name, which
    # the name rule checks ("Armenian-American" of the question vouches for itself there).
    assert assess("The magic-replace element replaces the magic rules.", "It replaces the "
                  "magic rules of the type.", "What does the magic-replace element do?",
                  about="Shared MIME-info › magic-replace").supported
    q = "How did Peskov react to the joint Armenian-American exercise?"
    assert assess("Peskov was wary of the joint Armenian-American exercise.",
                  "Peskov said: “This causes wariness.” The joint exercise with the US ...",
                  q).supported


def test_system_written_words_are_told_from_prose():
    assert question_system_words("What uid does www-data have, and what does asn1Coding "
                                 "--strict do with .pyi files?") == {
        "www-data", "asn1coding", "--strict", ".pyi"}
    # Not abbreviations, file names (what a document is about), code names (whose answer may
    # lie in another entry) or capitalised names.
    assert question_system_words("Does zpipe.c, e.g. os.cpu_count or lru_cache, need the "
                                 "Armenian-American Python3 notes?") == set()


def test_words_another_person_said_are_not_the_asked_speakers():
    passage = ("Armenian Parliament Speaker Alen Simonyan also spoke about the fact that the "
               "Lachin corridor should be under the jurisdiction of Russian peacekeepers. "
               "Russian Foreign Ministry spokesperson Maria Zakharova said in this regard that "
               "Yerevan's public rhetoric about the Lachin corridor is on the verge of rudeness.")
    q = "What did Alen Simonyan say about the Lachin corridor?"
    verdict = assess("Alen Simonyan said that the public rhetoric about the Lachin corridor is "
                     "on the verge of rudeness.", passage, q)
    assert not verdict.supported and verdict.reason == "speaker"
    assert assess("Alen Simonyan said that the Lachin corridor should be under the "
                  "jurisdiction of Russian peacekeepers.", passage, q).supported
    assert assess("Maria Zakharova said that the public rhetoric about the Lachin corridor is "
                  "on the verge of rudeness.", passage, q).supported
    # A month is no speaker ("according to the November 2020 agreements"): quoted whole,
    # Simonyan's sentence is his.
    own = ("Armenian Parliament Speaker Alen Simonyan also spoke about the fact that, "
           "according to the November 2020 agreements, the Lachin corridor should be under "
           "the jurisdiction of Russian peacekeepers.")
    assert assess(own, passage.replace("the fact that the Lachin", "the fact that, according "
                                       "to the November 2020 agreements, the Lachin"), q).supported
    # A quotation after "X said:" has no speaker of its own: it is X's.
    quoted = "Peskov said:\n\n“This causes wariness, especially in the current situation.”"
    assert assess("Peskov said that this causes wariness in the current situation.", quoted,
                  "What did Peskov say?").supported


def test_a_month_is_named_by_its_abbreviation():
    text = "/* Version history:\n1.0 30 Oct 2004 First version */"
    assert assess("The first version was written on 30 October 2004.", text).supported
    assert not assess("The first version was written on 30 November 2004.", text).supported


def test_a_number_is_no_ending_of_a_name():
    from rag.citations import named

    # A demonym's ending names its country; a number names another thing of that name.
    assert named("armenia", {"armenian"}) and named("armenian", {"armenia"})
    assert not named("debconf22", {"debconf", "debconf13"})
    assert not assess("DebConf22 was held in Vaumarcus.",
                      "The fourteenth DebConf Debconf13, was held in Vaumarcus.").supported


def test_a_bracketed_range_is_text_not_a_citation():
    parsed = split_cited("Dynamic users come from the range [61184, 65519] [2].")
    assert parsed == [CitedSentence("Dynamic users come from the range [61184, 65519].", (2,))]
    assert marker_numbers("pixels in [0, 255], see [1][3]") == [1, 3]
    assert strip_markers("values in [0, 255] [1].") == "values in [0, 255]."


def test_a_number_taken_from_the_question_must_be_in_the_passage():
    q = "What does section 18 of the GPL require for hosted services?"
    preamble = "Modified versions must be marked as changed, so that their problems will not be " \
               "attributed erroneously to authors of previous versions."
    verdict = assess("Section 18 requires that modified versions be marked as changed.",
                     preamble, q)
    assert not verdict.supported and verdict.reason == "subject"
    section = "18. Hosted services. Modified versions must be marked as changed."
    assert assess("Section 18 requires that modified versions be marked as changed.",
                  section, q).supported


def test_a_number_in_words_must_be_in_the_passage_in_words_or_digits():
    # The question supplies "written offer" and "valid"; only the passage can supply the term.
    q = "For at least how long must the written offer for the Corresponding Source be valid?"
    claim = "The written offer for the Corresponding Source must be valid for at least three years."
    other = "c) Convey individual copies of the object code with a copy of the written offer."
    verdict = assess(claim, other, q)
    assert not verdict.supported and verdict.reason == "number"
    assert assess(claim, "a written offer, valid for at least three years", q).supported
    assert assess(claim, "a written offer, valid for at least 3 years", q).supported
    assert not assess(claim, "a written offer, valid for at least four years", q).supported
    # "one" is more often a pronoun than a count, and is not checked.
    assert assess("It is one of the written offers.", "the written offers", q).supported


def test_spelled_numbers():
    from rag.text import number_values, spelled_numbers

    assert spelled_numbers("three years, twenty-five days, one of them, Forty") == {3, 25, 40}
    assert spelled_numbers("two hundred people, hundreds of them, 1.5 million") == {200}
    assert number_values("1,000 items and 3 years") == {1000, 3}


def test_a_version_written_with_its_v_is_its_number():
    assert {"2.39", "2.38"} <= numbers("Git v2.39 Release Notes, fixes since v2.38")
    assert "2.39" not in numbers("GPLv2.39")  # a name with a digit is no version
    q = "What new option did git patch-id pick up in Git 2.39?"
    assert assess("In Git 2.39, git patch-id picked up --include-whitespace.",
                  "A new --include-whitespace option is added to git patch-id.", q,
                  about="Git v2.39 Release Notes").supported


def test_a_number_joined_to_a_word_stands_on_its_own():
    q = "Which early project member recalled compiling the kernel on a 20 MHz 386?"
    passage = ("An early member of the project, Bill Mitchell, remembers the Linux kernel "
               "\"... being between 0.99r8 and 0.99r15 when we got started. For a long time, I "
               "could build the kernel in less than 30 minutes on a 20 MHz 386-based machine.")
    claim = "The early project member who recalled compiling the kernel on a 20 MHz 386 was " \
            "Bill Mitchell."
    assert assess(claim, passage, q).supported
    assert not assess(claim, passage.replace("386-based", "486-based"), q).supported


PESKOV_WARY = _p("Russian presidential spokesman Dmitry Peskov said:\n\n“This causes wariness, "
                 "especially in the current situation. Therefore, we will deeply analyze this "
                 "news and monitor the situation.”", 9539)
EAGLE = _p("On September 11, the joint Armenian-American military exercise “Eagle partner "
           "2023” will start in Armenia.", 8675)
WARY = ("Dmitry Peskov, the Russian presidential spokesman, expressed wariness and deep "
        "analysis of the news regarding the joint Armenian-American military exercise "
        "\"Eagle partner 2023\" in Armenia.")


def test_a_sentence_two_passages_support_together_cites_both():
    q = "How did Putin's spokesman react to the news of the joint exercise with the United States?"
    s = CitedSentence(WARY, ())
    assert check([s], [PESKOV_WARY], q).sentences[0].cites == ()  # the exercise: elsewhere
    assert check([s], [EAGLE], q).sentences[0].cites == ()  # Peskov: elsewhere
    assert check([s], [PESKOV_WARY, PESKOV, EAGLE], q).sentences[0].cites == (1, 3)
    cited = check([CitedSentence(WARY, (1,))], [PESKOV_WARY, EAGLE], q)
    assert cited.sentences[0].cites == (1, 2) and "re-pointed to [1][2]" in cited.warnings[0]
    # Not for a yes or no, whose answer is how one passage says it.
    assert check([s], [PESKOV_WARY, EAGLE], q, pairs=False).sentences[0].cites == ()


def test_a_pair_may_not_lend_one_speaker_another_speakers_words():
    prediction = _p("On the same day, Armenian Parliament Speaker Alen Simonyan said:\n\n“In all "
                    "probability, the Rome Statute will be ratified.”", 2929)
    vice = _p("About a month ago, Parliament Vice-Speaker Hakob Arshakyan again said that the "
              "ratification of the document “is in no way directed against Russia, but will "
              "serve to prevent Azerbaijani encroachments on Armenia’s sovereign territory”.",
              4045)
    s = CitedSentence("The Armenian Parliament Speaker Alen Simonyan predicted that the Rome "
                      "Statute will be ratified, noting that it is in no way directed against "
                      "Russia but will serve to prevent Azerbaijani encroachments.", ())
    q = "What did the speaker of Armenia's parliament predict about the Rome Statute?"
    assert check([s], [prediction, vice], q).sentences[0].cites == ()
    # Named, the Vice-Speaker's words may join the prediction.
    both = CitedSentence(s.text.replace("noting", "and Hakob Arshakyan said"), ())
    assert check([both], [prediction, vice], q).sentences[0].cites == (1, 2)


def test_a_pair_may_join_names_with_digits():
    # "IPv6" and "UTF-8" are names, not numbers a passage must hold for the other.
    ipv6 = _p("The server listens on IPv6 addresses by default.", 100)
    utf8 = _p("Its configuration files must be encoded in UTF-8.", 900)
    s = CitedSentence("The server listens on IPv6 addresses by default, and its configuration "
                      "files must be encoded in UTF-8.", ())
    assert check([s], [ipv6, utf8], "").sentences[0].cites == (1, 2)


def test_a_pair_may_not_take_its_numbers_in_words_from_both():
    release = _p("The 6.x Releases\n\nDebian 6.0 (squeeze) was released February 6th, 2011, "
                 "after two years of work.", 100)
    count = _p("Debian 2.1 (slink) shipped with more than one thousand and ten developers "
               "maintaining packages.", 900)
    s = CitedSentence("There were more than one thousand and ten Debian developers maintaining "
                      "packages when Debian 6.0 squeeze was released.", ())
    q = "How many Debian developers were maintaining packages when Debian 6.0 was released?"
    assert check([s], [release, count], q).sentences[0].cites == ()



def test_a_pair_takes_a_number_and_the_identifier_it_is_for_from_one_passage():
    # The uid is the operator user's; "www-data" is named in another passage only.
    www = _p("www-data\n\nSome web servers run as www-data. Web content should not be owned "
             "by this user.", 100)
    operator = _p("operator\n\nThe operator user is no longer created by default. It had "
                  "uid 37.", 900)
    q = "What numeric uid is assigned to the www-data user?"
    s = CitedSentence("The www-data user is assigned the numeric uid 37.", ())
    assert check([s], [www, operator], q).sentences[0].cites == ()
    # The same pair may join what each says, the number in a clause of its own.
    s = CitedSentence("Web servers run as the www-data user, and the operator user is no "
                      "longer created by default.", ())
    assert check([s], [www, operator], "").sentences[0].cites == (1, 2)
    s = CitedSentence("Web content should not be owned by www-data, and the operator user "
                      "had uid 37.", ())
    assert check([s], [www, operator], "").sentences[0].cites == (1, 2)


def test_a_number_is_supported_by_its_version_written_with_a_v():
    dotenv = _p("Multiline Values\n\nIf you need multiline variables in your .env file, for "
                "example private keys, those are now supported (`>= v15.0.0`) with line "
                "breaks.")
    s = CitedSentence("Since dotenv version 15.0.0, it supports multiline values in the "
                      ".env file.", ())
    q = "Since which dotenv version can a value span several lines in the .env file?"
    assert check([s], [dotenv], q).sentences[0].cites == (1,)
    later = CitedSentence(s.text.replace("15.0.0", "16.0.0"), ())
    assert check([later], [dotenv], q).sentences[0].cites == ()


def test_words_an_answer_quotes_must_be_the_passages_own():
    topics = _p("The Prime Minister of Armenia in an interview with France Presse talked about "
                "the humanitarian crisis in NK, the likelihood of war, the possibilities of "
                "normalizing relations with Azerbaijan and the “balancing” between the West "
                "and Russia")
    q = "What did Pashinyan tell France Presse about how likely a new war with Azerbaijan is?"
    said = ("Prime Minister Pashinyan in an interview with France Presse stated that the "
            "likelihood of war with Azerbaijan is {}.")
    # Unquoted, the words pass (0.82 of them there); a list of an interview's topics shows
    # no one speaking, so the claim fails on its speaker instead.
    assert assess(said.format("high"), topics.chunk.text, q).reason == "speaker"
    assert assess(said.format("high"), f"{topics.chunk.text}, he said.", q).supported
    invented = assess(said.format("\"high\""), topics.chunk.text, q)
    assert not invented.supported and invented.reason == "quote"
    # Quotation marks of either kind, case and an ellipsis between quoted pieces are folded.
    for quoted in ("“the likelihood of war”", "\"The humanitarian crisis in NK ... the "
                   "likelihood of war\"", "the “balancing”"):
        s = f"The Prime Minister of Armenia talked about {quoted} with France Presse."
        assert assess(s, topics.chunk.text, q).supported, s
    assert not assess("He talked about “the likelihood of a war”.", topics.chunk.text,
                      q).supported


def test_a_pair_is_of_one_document_and_each_gives_more_than_a_common_word():
    footnote = Passage(Chunk("intro.html", "intro#1", 0, 140, "0, 1, 1, 2, 3, 5, 8,\n\nSince "
                             "** has higher precedence than -, -3**2 will be interpreted as "
                             "-(3**2) and thus result in -9."), "Intro", 0.5)
    fib = Passage(Chunk("intro.html", "intro#2", 500, 620, "The expressions on the right-hand "
                        "side are all evaluated first before any of the assignments."),
                  "Intro", 0.5)
    s = CitedSentence("-1**2 evaluates to -9.", ())
    q = "What does -1**2 evaluate to in Python?"
    assert check([s], [footnote, fib], q).sentences[0].cites == ()  # "evaluates" alone
    # Two documents never make one sentence together, however much each gives.
    other = Passage(Chunk("other.html", "other#1", 0, len(EAGLE.chunk.text), EAGLE.chunk.text),
                    "Other", 0.5)
    assert check([CitedSentence(WARY, ())], [PESKOV_WARY, other], "").sentences[0].cites == ()


def test_a_source_preamble_keeps_a_dotted_name_whole():
    s = split_cited("According to [2], typing.Self is used to represent the class. Then more.")
    assert s[0] == CitedSentence("Typing.Self is used to represent the class.", (2,))


def test_a_marker_as_the_sentence_s_subject_cites_what_it_states_of_three_words():
    assert [x.text for x in split_cited("A is b. [2] says so.")] == ["A is b. says so."]


def test_a_marker_as_the_sentence_s_subject_cites_what_it_states():
    # "[2] also states that X" opens a sentence of its own, citing [2]; it is not run into
    # the sentence before (which a marker after its full stop would have done).
    s = split_cited("Web content should not be owned by www-data. This is because a "
                    "compromised web server could rewrite the site. [2] also states that data "
                    "written by web servers is owned by www-data. Source [3] explains that "
                    "the group is shared.")
    assert [x.text for x in s] == [
        "Web content should not be owned by www-data.",
        "This is because a compromised web server could rewrite the site.",
        "Data written by web servers is owned by www-data.",
        "The group is shared."]
    assert [x.cites for x in s] == [(2,), (2,), (2,), (3,)]


@pytest.mark.parametrize(("sentence", "title"), [
    ("The political analyst calls worries about the ratification a false narrative.",
     "analyst"),
    ("The Armenian Prime Minister stated that there is no organization itself.", "Minister"),
    ("According to the Russian presidential spokesman, Russia cannot leave Armenia.",
     "spokesman"),
    ("Peskov said that Russia cannot leave Armenia.", None),  # a name, not a title
    ("The Rome Statute is the treaty that established the court.", None),  # nobody speaks
    # A capitalised word after a lower-case one is a name, not a title.
    ("The same day Zakharova announced that Moscow asked for clarifications.", None),
    ("The political analyst quoted by JAMnews does not believe it.", None),
])
def test_a_speaker_named_by_title(sentence, title):
    assert role_speaker(sentence) == title


def test_the_names_a_title_is_given():
    assert title_holders("spokesman", PESKOV.chunk.text) == {"dmitry", "peskov"}
    assert title_holders("analyst", KOCHINYAN_INTRO.chunk.text) == {"areg", "kochinyan"}
    # "the political analyst notes": the title, and no name after it.
    assert title_holders("analyst", HYSTERIA.chunk.text) == set()
    # A title after the name; not a headline's words, nor a name on the next line.
    assert title_holders("spokesman", "Dmitry Peskov, the Kremlin spokesman, said it.") == {
        "dmitry", "peskov"}
    assert title_holders("spokesman", "Kremlin Spokesman Says Russia Cannot Leave") == set()
    assert title_holders("Minister", "Armenian Prime Minister\xa0Nikol Pashinyan said") == {
        "nikol", "pashinyan"}  # a no-break space is a space
    assert title_holders("spokesman", "Statement of the spokesman\n\nThe Kremlin said") == set()


# --- acronyms, and a reason given for something else ----------------------------------------

def test_an_acronym_names_what_it_abbreviates_and_back():
    from rag.text import abbreviated
    # A name in capitals and its acronym, both ways; the sentence's opening "The" is no part.
    assert {"international", "atomic", "energy", "agency"} <= abbreviated(
        "The International Atomic Energy Agency sent inspectors.", "the IAEA sent inspectors")
    assert "iaea" in abbreviated("What did the IAEA send?",
                                 "The International Atomic Energy Agency sent inspectors.")
    # An acronym the text defines, whatever the case of its long form.
    assert "gil" in abbreviated("Is the GIL released during I/O?",
                                "The global interpreter lock (GIL) is released around I/O.")
    assert {"python", "enhancement", "proposal"} <= abbreviated(
        "Python Enhancement Proposals list the changes.", "See the PEPs (Python Enhancement "
        "Proposals) index.") | abbreviated("Python Enhancement Proposals list the changes.",
                                           "PEP 8 is the style guide.")
    # Only capitals make an acronym: "us" is a word, not the United States; nor is a word of
    # a line in capitals, or two names' initials (a person's), unless the text defines them.
    assert not abbreviated("What did the United States announce?", "let us wait")
    assert not abbreviated("Ian Smith provides the software.",
                           'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY')
    assert not abbreviated("Peter Rossi merged the change.", "The PR merged the change.")
    assert "eu" in abbreviated("What did the EU announce?",
                               "the European Union (EU) announced it")
    # A possessive is still the acronym.
    assert "icc" in abbreviated("The ICC’s judges met.", "the International Criminal Court")


def test_a_passage_writing_the_acronym_supports_the_long_name():
    council = _p("On Monday the IAEA sent four inspectors to the plant near the border.", 10)
    assert assess("The International Atomic Energy Agency sent four inspectors to the plant.",
                  council.chunk.text).supported
    assert assess("The IAEA sent four inspectors to the plant.",
                  "On Monday the International Atomic Energy Agency sent four inspectors to "
                  "the plant.").supported
    # A name that abbreviates to something else is still missing.
    assert assess("The International Energy Agency sent four inspectors to the plant.",
                  council.chunk.text).reason == "name"


# The parliament's reason for a vote, a paragraph away from a separate decision.
CHARTER = ("The tribunal was founded after the war. Its statute gave it power over cases of "
           "fraud and bribery by officials.\n\nIn May the tribunal summoned the mayor as a "
           "witness in the harbour contract inquiry. He did not appear.")


def test_a_reason_the_passages_give_for_something_else_is_not_support():
    from rag.citations import unlinked_cause
    # Each half is in the passage; the link is not.
    said = ("The tribunal summoned the mayor because it has power over cases of fraud and "
            "bribery by officials.")
    assert unlinked_cause(said, CHARTER)
    assert assess(said, CHARTER).reason == "cause"
    # The reason the passage gives for it, in its sentence, is.
    assert assess("The tribunal summoned the mayor because of the harbour contract inquiry.",
                  CHARTER).supported
    # ... or in the next sentence of its paragraph ("This is because ...").
    docs = ("os.replace() is atomic on POSIX. This is because the rename is one system "
            "call.\n\nOn Windows the call may fail if the target is open.")
    assert not unlinked_cause("os.replace() is atomic on POSIX because the rename is one "
                              "system call.", docs)
    assert unlinked_cause("os.replace() takes bytes paths because the rename is one system "
                          "call.", docs + " Paths may be str or bytes.")
    # A line break is no paragraph's end (a wrapped line, or two passages read together);
    # a blank line is.
    seam = ("The rename is atomic on POSIX systems when both paths are on one filesystem.\n"
            "This is because a single system call performs it.")
    said = ("The rename is atomic on POSIX systems because it is performed by a single "
            "system call.")
    assert not unlinked_cause(said, seam)
    assert unlinked_cause(said, seam.replace("\n", "\n\n"))
    # A reason no sentence holds most of is not given either, however many of the claim's
    # other words the passage has ("witness", "harbour" alone are no reason).
    assert unlinked_cause("The tribunal summoned the mayor because of a harbour storm "
                          "warning.", CHARTER)
    # No reason word: not this check's call.
    assert not unlinked_cause("The tribunal summoned the mayor.", CHARTER)


def test_an_identifier_the_claim_brings_must_be_in_its_passage():
    # Every word of "--without-gil" is in the question and the passage; the option is in
    # neither: an invented option, not a paraphrase.
    q = "Which configure option builds CPython without the GIL?"
    options = ("--build=BUILD configure for building on BUILD.\n"
               "--with-dtrace: CPython must then be configured with this option.")
    verdict = assess("The configure option that builds CPython without the GIL is "
                     "--without-gil.", options, q)
    assert not verdict.supported and verdict.reason == "identifier"
    assert assess("CPython is configured with --with-dtrace for SystemTap markers.", options,
                  "How do I build CPython with SystemTap markers?").supported
    # A code name may be written by its last part on its own page, whatever its heading
    # says; a compound or version is spelt many ways and is checked as words.
    for claim, passage, about in (
            ("os.path.join() joins one or more path segments.",
             "join(path, *paths) Join one or more path segments intelligently.",
             "os.path — Common pathname manipulations"),
            ("str.split() returns a list of the words in the string.",
             "split(sep=None, maxsplit=-1) Return a list of the words in the string.",
             "Built-in Types › String Methods"),
            ("asyncio.timeout() can limit the time spent waiting.",
             "timeout(delay) An asynchronous context manager that can be used to limit the "
             "amount of time spent waiting on something.", "asyncio › Timeouts"),
            ("The daemon listens on a well-known port.",
             "The daemon listens on a well known port number.", ""),
            ("The default encoding is utf-8.", "The default encoding is UTF8.", ""),
            ("The sparse index was added in v2.3.", "Version 2.3 added the sparse index.", "")):
        assert assess(claim, passage, "What does it do?", about=about).supported, claim
    # An option is not named by a longer one that starts with it.
    assert assess("CPython is configured with --with for markers.",
                  "Configure CPython with --without-gil.", "How?").reason == "identifier"
    q = "How can I put a time limit on awaits?"
    assert assess("asyncio.timeout() can limit the time spent waiting.",
                  "timeout(delay) An asynchronous context manager that can be used to limit "
                  "the amount of time spent waiting on something.", q,
                  about="asyncio › Timeouts › asyncio.timeout()").supported
    assert assess("asyncio.timeout_at() can limit the time spent waiting.",
                  "timeout(delay) An asynchronous context manager that can be used to limit "
                  "the amount of time spent waiting on something.", q,
                  about="asyncio › Timeouts › asyncio.timeout()").reason == "identifier"
