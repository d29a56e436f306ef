"""The answer policy on its own: no model, no index, no embedder (rag.grounding is pure)."""

from dataclasses import replace

from rag.citations import CitedSentence
from rag.grounding import (
    _asked_speakers,
    answer_passage,
    before_generation,
    judge,
    judge_again,
    needs_retry,
    quotable,
    quote_answer,
    restates,
)

from .test_citations import EXERCISE, PESKOV, SELF_DOC, _p

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


def test_the_models_own_refusal_is_shown_as_written():
    """A refusal exactly as the user saw it stream is not a revision; one the policy
    shortened or reworded is."""
    v = judge(Q, Q, PASSAGES, " The documents do not say.\n")
    assert v.abstained and v.revision == "none" and v.text == "The documents do not say."
    worded = judge(Q, Q, PASSAGES, "The documents do not say what the weather was [1].")
    assert worded.abstained and worded.revision == "rewritten"
    # A refusal the model gave when asked again is not what streamed ("[1]"): a revision,
    # and the retry is said.
    again = judge(Q, Q, PASSAGES, "[1]", "The documents do not say.")
    assert again.abstained and again.revision == "rewritten"
    assert any("asked again" in w for w in again.warnings)


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


def test_before_generation_abstains_on_names_the_documents_never_mention():
    words = {"peskov", "russia", "armenia"}
    v = before_generation("What did Macron say?", PASSAGES, words, lambda name: True)
    assert v is not None and v.abstained and "Macron" in v.text
    assert before_generation(Q, PASSAGES, words | {"peskov"}, lambda name: True) is None
    silent = before_generation(Q, PASSAGES, words, lambda name: False)
    assert silent is not None and "nothing said by Peskov" in silent.text


PESKOV_WARY = _p("In Moscow, this information caused concern. Russian presidential spokesman "
                 "Dmitry Peskov said:\n\n“This causes wariness, especially in the current "
                 "situation. Therefore, we will deeply analyze this news and monitor the "
                 "situation.”", 9392)
REPUBBLICA = _p("On September 2, Armenian Prime Minister Nikol Pashinyan stated in an interview "
                "with the Italian newspaper La Repubblica that “the peacekeeping forces of the "
                "Russian Federation are not fulfilling the mission entrusted to them”.", 4000)
CSTO = _p("“Since May 11, 2021, Azerbaijan has used armed forces three times and occupied "
          "approximately 140 square kilometers of the sovereign territory of the Republic of "
          "Armenia.", 8000)


def test_what_did_x_say_gets_every_statement_the_passages_hold():
    # The model quoted one of Peskov's two statements; the other is added, quoted and cited.
    passages = (PESKOV_WARY, EXERCISE, PESKOV)
    v = judge(Q, Q, passages, "Peskov said that this causes wariness [1].")
    assert [s.cites for s in v.sentences] == [(1,), (3,)]
    assert "Russia cannot leave Armenia" in v.text and v.text.count("[3]") == 1
    assert any("left out" in w for w in v.warnings) and v.revision == "rewritten"
    # A topic in the question keeps statements on other topics out.
    about = "What did Peskov say about the joint exercise and the situation?"
    v = judge(about, about, passages, "Peskov said that this causes wariness [1].")
    assert [s.cites for s in v.sentences] == [(1,)]
    # Not a "what did X say" question: nothing is added.
    how = "How did Peskov react to the exercise?"
    v = judge(how, how, passages, "Peskov said that this causes wariness [1].")
    assert [s.cites for s in v.sentences] == [(1,)]


def test_another_persons_words_given_as_the_asked_persons_are_replaced_by_theirs():
    q = "What did Alen Simonyan say about Russia's role in the Lachin corridor?"
    both = _p("Armenian Parliament Speaker Alen Simonyan also spoke after the interview about "
              "the fact that, according to the November 2020 agreements, the Lachin corridor "
              "should be under the jurisdiction of Russian peacekeepers.\n\nRussian Foreign "
              "Ministry spokesperson Maria Zakharova said in this regard that Yerevan's public "
              "rhetoric in connection with the Lachin corridor is on the verge of rudeness.", 0)
    v = judge(q, q, (both,), "Alen Simonyan said that Russia's public rhetoric in connection "
              "with the Lachin corridor is on the verge of rudeness [1].")
    assert v.mode == "extractive" and "jurisdiction of Russian peacekeepers" in v.text
    assert "rudeness" not in v.text and [c.n for c in v.citations] == [1]


def test_a_quote_cites_its_passage_even_when_the_checker_finds_none(monkeypatch):
    from rag import citations, grounding

    passage = _p("Simonyan spoke about the corridor.", 0)
    # A checker that supports nothing (as a false speaker once made it for a copied sentence).
    monkeypatch.setattr(citations, "check", lambda sentences, passages, question="":
                        citations.Checked(tuple(citations.CitedSentence(s.text, ())
                                                for s in sentences)))
    v = grounding._quoted(1, "Simonyan spoke about the corridor.", (passage,), [])
    assert v.text.endswith("[1].") and [c.n for c in v.citations] == [1]


def test_a_question_in_parts_gets_each_asked_persons_words():
    # The passage that quotes Pashinyan also quotes Peskov's reply; the model cited it for
    # Pashinyan's words and left the reply out: the part that asks for it gets it.
    both = _p("And he explained, “We see that Russia itself is withdrawing from the region. "
              "One day we will just wake up and see that Russia is not here.”\n\nRussian "
              "presidential spokesman Dmitry Peskov responded to this statement: “Russia is an "
              "absolutely integral part of this region. Russia cannot leave Armenia.”", 5000)
    q = ("What did Pashinyan tell La Repubblica about Russia withdrawing, and how did Peskov "
         "answer?")
    v = judge(q, q, (REPUBBLICA, both), "Pashinyan told La Repubblica that Russia is "
              "withdrawing from the region [1][2].")
    assert "Russia cannot leave Armenia" in v.text and [s.cites for s in v.sentences] == [
        (1, 2), (2,)]
    assert any("Peskov saying" in w for w in v.warnings)
    # An answer that gives the reply already gets nothing more.
    v = judge(q, q, (REPUBBLICA, both), "Pashinyan told La Repubblica that Russia is "
              "withdrawing from the region [1][2]. Peskov responded that Russia cannot leave "
              "Armenia [2].")
    assert len(v.sentences) == 2 and not any("Peskov saying" in w for w in v.warnings)
    assert [names for names, _ in _asked_speakers(q)] == [{"Pashinyan"}, {"Peskov"}]
    assert _asked_speakers("How does str.split work, and what does it return?") == []


def test_an_answer_without_the_asked_type_abstains():
    q = "How many soldiers take part in the exercise?"
    v = judge(q, q, PASSAGES, "The joint military exercise will start in Armenia [2].")
    assert v.abstained and "a number" in v.text
    # A date is not a count: the checker's word overlap accepts this sentence, the type not.
    v = judge(q, q, PASSAGES, "On September 11, the joint military exercise will start [2].")
    assert v.abstained and any("asks for a number" in w for w in v.warnings)
    v = judge(q, q, PASSAGES, "The exercise will last for 10 days [2].")  # a count, if off
    assert not v.abstained


def test_a_quoted_fallback_must_be_about_all_the_question_names():
    # "In which year did Armenia join the CSTO?" The model's claim is unsupported; the
    # passage's sentence holds a year and Armenia, but not the CSTO: no quote, abstain.
    q = "In which year did Armenia join the CSTO?"
    v = judge(q, q, (CSTO,), "Armenia joined the CSTO on May 11, 2021 [1].")
    assert v.abstained and not v.citations


def test_a_passage_title_names_what_its_quote_is_about():
    """After a refusal, a quote must be about the question's names; its passage's title and
    headings vouch for them, as they do for a citation: "MIME" is in the title of the
    specification whose sentence gives the default type."""
    from rag.types import Chunk, Passage

    q = "If no magic rule matches the data of a binary file, which MIME type is the default?"
    text = ("If no magic rule matches the data (or if the content is not available), use the "
            "default type of application/octet-stream for binary data, or text/plain for "
            "textual data.")
    raw = "The documents do not say."
    titled = Passage(Chunk("s", "s#0", 0, len(text), text, "2.12. Recommended checking order"),
                     "Shared MIME-info Database", 0.5)
    untitled = replace(titled, title="Specification")
    for passage, quoted in ((titled, True), (untitled, False)):
        refusal = judge(q, q, (passage,), raw)
        n = answer_passage(q, (passage,), raw, refusal)
        assert (n == 1) is quoted
        if quoted:
            v = quote_answer(q, (passage,), n, refusal)
            assert v.mode == "extractive" and "application/octet-stream" in v.text
    # A sentence naming another thing is not about the title's: "Armenia and the CSTO"
    # does not make "Kazakhstan joined the CSTO in 1994" the year Armenia joined.
    q = "When did Armenia join the CSTO?"
    text = ("The CSTO was founded by six states. Kazakhstan joined the CSTO in 1994, and "
            "Uzbekistan joined the CSTO in 2006.")
    other = Passage(Chunk("c", "c#0", 0, len(text), text), "Armenia and the CSTO", 0.5)
    assert answer_passage(q, (other,), raw, judge(q, q, (other,), raw)) is None


def test_a_refusal_beside_a_passage_under_the_questions_heading_is_quoted():
    """The passage's title and headings say what it is about as a whole: a sentence under
    "Widget.io Governance › Steering Board" answers for the steering board of Widget.io
    without naming it, and the heading's words count toward the quote's share of the
    question, if the sentence holds most of what the question asks beyond them."""
    from rag.types import Chunk, Passage

    q = "What does the Widget.io steering board need to amend its bylaws?"
    text = "Any change to the bylaws needs a two-thirds vote of the members."
    raw = "The documents do not say."

    def under(heading: str, body: str = text, title: str = "Widget.io Governance") -> Passage:
        return Passage(Chunk("g", "g#0", 0, len(body), body, heading), title, 0.5)

    board = under("Widget.io Governance › Steering Board")
    refusal = judge(q, q, (board,), raw)
    assert refusal.abstained
    n = answer_passage(q, (board,), raw, refusal)
    assert n == 1
    v = quote_answer(q, (board,), n, refusal)
    assert v.mode == "extractive" and "two-thirds vote" in v.text
    assert [c.n for c in v.citations] == [1]
    # Under another heading the sentence holds too little of the question.
    elsewhere = under("Widget.io Governance › Release process")
    assert quote_answer(q, (elsewhere,), 1, judge(q, q, (elsewhere,), raw)).abstained
    # A sentence naming another project is about that project, whatever its first word.
    for body in ("Any change to the Gadget.io bylaws needs a two-thirds vote of the members.",
                 "Gadget.io needs a two-thirds vote of the members for any change to bylaws."):
        other = under("Widget.io Governance › Steering Board", body)
        assert quote_answer(q, (other,), 1, judge(q, q, (other,), raw)).abstained, body
    # A title holding the question's subject is on every passage of its document: the
    # sentence must still hold most of the rest ("which editor", "open").
    git = "Which editor does Git open for commit messages?"
    short = under("", "Commit messages should be short.", "Git FAQ")
    assert quote_answer(git, (short,), 1, judge(git, git, (short,), raw)).abstained
    # A yes or no is answered by a sentence on its own terms: one that only shares the
    # heading's names says neither, and no passage is chosen for it by its heading.
    yn = "Can the Widget.io steering board veto a release?"
    assert answer_passage(yn, (board,), raw, judge(yn, yn, (board,), raw)) is None
    assert quote_answer(yn, (board,), 1, judge(yn, yn, (board,), raw)).abstained


def test_after_a_refusal_the_entry_of_the_asked_code_name_comes_before_a_mention():
    """"What does dict.get return ...?": the passage that opens with get()'s signature
    answers for it, before one on setdefault() that holds more of the question's words
    and only mentions get()."""
    q = "What does dict.get return when the key is missing and I don't pass a default?"
    mention = _p("Dictionaries have a new method, setdefault(key, default), which behaves "
                 "like the existing get() method. However, if the key is missing, "
                 "setdefault() returns the default as get() would do, and also inserts it "
                 "into the dictionary.", 0)
    entry = _p("get(key[, default])\n\nReturn the value for key if key is in the dictionary, "
               "else default. If default is not given, it defaults to None.", 900)
    entry = replace(entry, chunk=replace(entry.chunk, heading="Mapping Types — dict"))
    raw = "The documents do not say."
    for passages, n in (((mention, entry), 2), ((entry, mention), 1)):
        refusal = judge(q, q, passages, raw)
        assert answer_passage(q, passages, raw, refusal) == n
        v = quote_answer(q, passages, n, refusal)
        assert "defaults to None" in v.text and [c.n for c in v.citations] == [n]
    # With no entry among them, the passage holding most of the question still answers.
    assert answer_passage(q, (mention,), raw, judge(q, q, (mention,), raw)) == 1


def test_a_heading_vouches_for_a_number_where_the_sentence_names_something_else():
    from rag.grounding import _mentions_key_terms

    q = "How many security issues were fixed in rsync 3.5.0?"
    about = "NEWS for rsync 3.5.0"
    assert _mentions_key_terms(q, "### SECURITY FIXES: This release fixes 33 issues.", about)
    assert not _mentions_key_terms(q, "This release fixes 33 issues.", "NEWS for rsync 3.6.0")
    # Not for a name: "Kazakhstan" is what the sentence is about, first word or not.
    q = "When did Armenia join the union?"
    about = "Armenia and the union"
    assert _mentions_key_terms(q, "It joined in 1994.", about)
    assert not _mentions_key_terms(q, "In 1994 Kazakhstan joined it.", about)
    assert not _mentions_key_terms(q, "Kazakhstan joined it in 1994.", about)
    assert not _mentions_key_terms(q, "It joined in 1994.", "The union")


def test_a_refusal_beside_a_passage_that_holds_the_answer():
    q = "Which newspaper interviewed Pashinyan on September 2?"
    passages = (EXERCISE, REPUBBLICA)
    raw = "The documents do not say."
    refusal = judge(q, q, passages, raw)
    assert refusal.abstained
    n = answer_passage(q, passages, raw, refusal)
    assert n == 2
    quoted = quote_answer(q, passages, n, refusal)
    assert quoted.mode == "extractive" and "La Repubblica" in quoted.text
    assert [c.n for c in quoted.citations] == [2]
    again = judge_again(q, q, passages, "The Italian newspaper La Repubblica interviewed "
                        "Pashinyan on September 2 [2].", n, refusal)
    assert again.mode == "retried" and "La Repubblica" in again.text
    assert any("asked again" in w for w in again.warnings)
    failed = judge_again(q, q, passages, "The documents do not say.", n, refusal)
    assert failed.abstained and any("no answer either" in w for w in failed.warnings)


def test_no_second_try_without_a_passage_that_clearly_answers():
    raw = "The documents do not say."
    # The passage lacks the question's names (who speaks, and on which day).
    q = "Which newspaper interviewed Simonyan on September 9?"
    assert answer_passage(q, (REPUBBLICA,), raw, judge(q, q, (REPUBBLICA,), raw)) is None
    # The passage holds the terms but no value of the asked type (a year).
    q = "In which year did Pashinyan give an interview on September 2 about peacekeeping?"
    assert answer_passage(q, (REPUBBLICA,), raw, judge(q, q, (REPUBBLICA,), raw)) is None
    # An answer the checks withheld is not a refusal.
    q = "Which newspaper interviewed Pashinyan on September 2?"
    refusal = judge(q, q, (REPUBBLICA,), raw)
    assert answer_passage(q, (REPUBBLICA,), raw, refusal) == 1
    assert answer_passage(q, (REPUBBLICA,), "Le Monde interviewed him [1].", refusal) is None


def test_a_passage_with_half_the_question_words_does_not_answer_it():
    # Year, Armenia and the CSTO are all there, but not "join": no second try, no quote.
    q = "In which year did Armenia join the CSTO?"
    meeting = _p("And if there is no zone of responsibility, there is no organization itself,” "
                 "said the Armenian Prime Minister on November 23, 2022 during the meeting of "
                 "the CSTO Collective Security Council in Yerevan.", 8600)
    raw = "The documents do not say."
    assert answer_passage(q, (meeting,), raw, judge(q, q, (meeting,), raw)) is None


def test_a_quote_must_hold_most_of_the_question_itself():
    # The passage as a whole holds most of the question's words, but no one sentence does:
    # quoting "the output is written to sys.stderr" (another function's) would mislead.
    q = "Where does print() send its output when no file argument is passed?"
    text = _p("Changed in version 3.3: print() added the flush keyword argument. The file "
              "argument is an I/O stream to which the output is written; by default "
              "sys.stderr.", 300)
    raw = "The documents do not say."
    refusal = judge(q, q, (text,), raw)
    n = answer_passage(q, (text,), raw, refusal)
    assert n == 1
    kept = quote_answer(q, (text,), n, refusal)
    assert kept.abstained and any("no sentence of it answers" in w for w in kept.warnings)


def test_a_question_in_the_documents_is_never_quoted_as_the_answer():
    # An FAQ's own question holds every word of the user's: it answers nothing.
    q = "Did zsh have any problems with the year 2000?"
    faq = _p("6.4: Did zsh have problems in the year 2000?\n\nNot that I heard of.", 700)
    raw = "The documents do not say."
    refusal = judge(q, q, (faq,), raw)
    n = answer_passage(q, (faq,), raw, refusal)
    assert n == 1
    verdict = quote_answer(q, (faq,), n, refusal)
    assert "Did zsh have problems" not in verdict.text


# --- an answer that restates the question, and what may be quoted in its place ------------

FROZEN_Q = "What exception is raised if I try to assign to a field of a frozen dataclass?"
FROZEN = _p("exception dataclasses.FrozenInstanceError\n\nRaised when an implicitly defined "
            "__setattr__() or __delattr__() is called on a dataclass which was defined with "
            "frozen=True.", 500)
FROZEN_FLAG = _p("frozen: If true (the default is False), assigning to fields will generate an "
                 "exception. This emulates read-only frozen instances.", 900)


def test_a_sentence_that_only_restates_the_question_is_no_answer():
    assert restates(FROZEN_Q, FROZEN_Q, "The exception raised if you try to assign to a field "
                    "of a frozen dataclass is.")
    assert not restates(FROZEN_Q, FROZEN_Q, "Assigning to a field raises FrozenInstanceError.")
    # A yes/no question may be answered in its own words.
    yn = "Is the exercise directed against Russia?"
    assert not restates(yn, yn, "The exercise is directed against Russia.")
    assert not restates("Who said it?", "Who said it?", "No, nobody said it.")


def test_a_restated_question_is_replaced_by_the_pointed_passage_with_its_heading():
    v = judge(FROZEN_Q, FROZEN_Q, (FROZEN_FLAG, FROZEN), "The exception raised if you try to "
              "assign to a field of a frozen dataclass is [2].")
    assert v.mode == "extractive"
    # The signature line above the sentence names what the sentence describes.
    assert v.text.startswith("exception dataclasses.FrozenInstanceError Raised when")
    assert v.text.endswith("[2].")
    assert any("restates the question" in w for w in v.warnings)
    [c] = v.citations
    assert FROZEN.chunk.text.startswith("exception dataclasses.FrozenInstanceError")
    assert (c.support_start, c.support_end) == (FROZEN.chunk.start, FROZEN.chunk.end)


def test_a_restated_question_is_quoted_from_any_passage_or_abstains():
    q = "What is an absolutely integral part of this region?"
    hollow = "An absolutely integral part of this region is [2]."
    v = judge(q, q, (EXERCISE, PESKOV), hollow)
    assert v.mode == "extractive" and "Russia is an absolutely integral part" in v.text
    assert judge(q, q, (EXERCISE,), hollow.replace("[2]", "[1]")).abstained


def test_quotable_sentences_carry_the_line_that_introduces_them():
    text = ("os.cpu_count()\n\nReturn the number of CPUs in the system. Returns None if "
            "undetermined.\n\nThe number of usable CPUs can be obtained with "
            "len(os.sched_getaffinity(0))\n"
            "See the scheduler docs.")
    assert [q.sentence for q in quotable(text)] == [
        # The signature alone is no sentence to quote: it comes with the one it introduces.
        "os.cpu_count() Return the number of CPUs in the system.",
        "Returns None if undetermined.",
        "The number of usable CPUs can be obtained with len(os.sched_getaffinity(0))",
        # A line longer than a heading is a sentence without its stop, not a lead.
        "See the scheduler docs.",
    ]
    # A quote runs on to the end of its paragraph: what the sentence begins, it finishes.
    assert quotable(text)[0].quote == ("os.cpu_count() Return the number of CPUs in the "
                                       "system. Returns None if undetermined.")
    assert quotable(text)[2].quote == quotable(text)[2].sentence
    # "X said:" runs on into the quotation it introduces.
    assert quotable(PESKOV.chunk.text)[0].sentence.endswith("Russia cannot leave Armenia.”")


def test_a_quote_about_a_namesake_is_refused():
    q = "What does os.cpu_count() return?"
    other = _p("multiprocessing.cpu_count()\n\nReturn the number of CPUs in the system.", 0)
    own = _p("os.cpu_count()\n\nReturn the number of CPUs in the system.", 300)
    refusal = judge(q, q, (other, own), "The documents do not say.")
    assert answer_passage(q, (other, own), "The documents do not say.", refusal) == 2
    assert answer_passage(q, (other,), "The documents do not say.", refusal) is None
    # The signature opens the chunk, so the chunk's heading path is the section above it.
    under = replace(other, chunk=replace(other.chunk, heading="multiprocessing › Reference"))
    assert answer_passage(q, (under, own), "The documents do not say.", refusal) == 2


def test_a_yes_no_answer_is_not_vouched_for_by_the_question_words():
    q = "Would Putin be arrested if he came to Armenia, according to the analyst?"
    majority = _p("However, Armenian political analysts in the majority do not share this "
                  "opinion and do not agree with the opinion that Armenia is changing the vector "
                  "of its foreign policy.", 0)
    analyst = _p("He reminds that the process started long before the arrest warrant was "
                 "issued. And Putin, of course, will not be arrested if he comes to Armenia.", 400)
    raw = ("The Armenian political analysts in the majority do not agree with the opinion that "
           "Armenia is changing the vector of its foreign policy, and they do not believe that "
           "Putin would be arrested if he came to Armenia [1].")
    v = judge(q, q, (majority, analyst), raw)
    # Putin is named only by the question: the passage cited cannot vouch for him. The claim
    # holds too little of the other passage's sentence to pick it, but the question's own
    # terms do: that sentence answers, quoted and cited.
    assert v.mode == "extractive" and "will not be arrested" in v.text
    assert [c.n for c in v.citations] == [2]
    assert any("no sentence of the model's answer is supported" in w for w in v.warnings)
    # The same words for a question that is not a yes/no one may restate it.
    wq = "What do the analysts in the majority not agree with?"
    assert judge(wq, wq, (majority,), "They do not agree with the opinion that Armenia is "
                 "changing the vector of its foreign policy [1].").mode == "generated"


def test_a_quote_saying_his_carries_the_sentence_that_names_him():
    text = ("Kochinyan believes that Armenia needs to increase its resilience. “I don’t think "
            "anyone will ever give us any guarantees,” was his response to a question.")
    assert quotable(text)[1].sentence == text
    q = "Does Kochinyan expect anyone to give Armenia guarantees?"
    p = _p(text, 0)
    refusal = judge(q, q, (p,), "The documents do not say.")
    n = answer_passage(q, (p,), "The documents do not say.", refusal)
    assert n == 1
    v = quote_answer(q, (p,), n, refusal)
    assert v.mode == "extractive" and "anyone will ever give us any guarantees" in v.text
    assert v.text.startswith("Kochinyan believes")


def test_a_line_of_code_or_its_output_introduces_no_sentence():
    text = (">>> '1,2,,3,'.split(',')\n['1', '2', '', '3', '']\nIf sep is not specified or is "
            "None, a different splitting algorithm is applied.\nos.cpu_count()\nReturn the "
            "number of CPUs in the system.")
    sentences = [q.sentence for q in quotable(text)]
    assert ("If sep is not specified or is None, a different splitting algorithm is applied."
            in sentences)
    assert "os.cpu_count() Return the number of CPUs in the system." in sentences


def test_a_bare_refusal_after_a_supported_answer_is_removed():
    q = "When does the exercise start?"
    v = judge(q, q, PASSAGES, "The exercise will start on September 11 [2]. "
                              "The documents do not say.")
    assert v.text == "The exercise will start on September 11 [2]."
    assert "removed a refusal that followed a supported answer" in v.warnings
    # A refusal of one part of the question stays: it says what is missing.
    v = judge(q, q, PASSAGES, "The exercise will start on September 11 [2]. "
                              "The documents do not say where it will take place.")
    assert v.text.endswith("The documents do not say where it will take place.")


def test_a_yes_no_question_may_open_with_whose_view_it_asks():
    q = "According to Arshakyan, is the ratification of the Rome Statute directed against Russia?"
    passage = _p("Political scientist Hakob Arshakyan believes that the ratification of the "
                 "Rome Statute is in no way directed against Russia.", 0)
    # "... is not directed against Russia" answers it; it does not restate it.
    v = judge(q, q, (passage,), "According to Arshakyan, the ratification of the Rome Statute "
                                "is not directed against Russia [1].")
    assert not v.abstained and "not directed against Russia" in v.text


def test_a_refusal_beside_a_passage_without_the_quantity_asked_stands():
    q = "What is the population of Armenia?"
    passage = _p("Another pain point is the inaction of the peacekeepers deployed to protect "
                 "the Armenian population.", 0)
    raw = "The population of Armenia is not mentioned in the sources provided."
    refusal = judge(q, q, (passage,), raw)
    assert refusal.abstained
    assert answer_passage(q, (passage,), raw, refusal) is None


def test_an_invented_code_block_is_removed_and_a_quoted_one_kept_whole():
    q = "What is typing.Self for?"
    made_up = ("It stands for the current enclosed class [1]. For example:\n```python\n"
               "class Box(Generic[T]):\n    def get(self) -> T:\n        return self.value\n```")
    v = judge(q, q, [SELF_DOC], made_up)
    assert "```" not in v.text and "Generic" not in v.text
    # "For example:" introduced the removed block: it goes with it.
    assert v.text == "It stands for the current enclosed class [1]."
    assert any("no passage supports" in w and "```" in w for w in v.warnings)
    quoted = ("It stands for the current enclosed class. For example:\n```python\nclass Foo:\n"
              "    def return_self(self) -> Self:\n        return self\n``` [1]")
    v = judge(q, q, [SELF_DOC], quoted)
    assert v.text.startswith("It stands for the current enclosed class [1]. For example [1]:\n")
    assert ("```python\nclass Foo:\n    def return_self(self) -> Self:\n        return self\n"
            "```\n[1]") in v.text
    assert [c.n for c in v.citations] == [1]


def test_a_word_the_question_holds_only_in_a_path_is_an_answer():
    q = "Which group can read /etc/shadow?"
    shadow = _p("shadow\n/etc/shadow is readable by this group. Some programs that need to "
                "access the file are setgid shadow.")
    v = judge(q, q, [shadow], "The group that can read /etc/shadow is shadow [1].")
    assert v.text == "The group that can read /etc/shadow is shadow [1]." and not v.warnings


def test_a_quote_for_an_option_comes_from_that_options_passage():
    q = "What does the --disable-cats configure option do?"
    nls = _p("To compile man-db with no support for message catalogues, simply pass the "
             "`--disable-nls` option to configure.")
    v = judge(q, q, [nls], "The --disable-cats option disables message catalogues.")
    assert v.abstained  # its words are near the question's, but it is another option
    cats = _p("* `--disable-cats`\nNormally, man will automatically try to create cat files "
              "corresponding to manual files when a manual page is read. This flag "
              "suppresses this behaviour.")
    v = judge(q, q, [nls, cats], "The --disable-cats option stops man from creating cat "
              "files [1].")
    assert not v.abstained and [c.n for c in v.citations] == [2]  # re-pointed to its passage


def test_no_quote_for_a_system_word_from_a_passage_that_never_writes_it():
    # The model's answer is withheld; "It had uid 37." holds the question's "uid" and a
    # number, but is about the operator user, not www-data.
    q = "What uid does the www-data user have?"
    operator = _p("In Debian, the use of a utility such as sudo is preferred over such "
                  "highly-special-purpose accounts, and the operator user is no longer created "
                  "by default. It had uid 37.")
    v = judge(q, q, [operator], "The www-data user has the uid 37 [1].")
    assert v.abstained and "uid 37" not in v.text
    www = _p("www-data\nSome web servers run as www-data. It has uid 33.")
    v = judge(q, q, [operator, www], "The www-data user has the uid 33 [1].")
    assert not v.abstained and [c.n for c in v.citations] == [2]


BENCH = _p("| Compressor name | Ratio | Compression| Decompress.|\n"
           "| --------------- | ------| -----------| ---------- |\n"
           "| **zstd 1.5.1 -1** | 2.887 | 530 MB/s | 1700 MB/s |\n"
           "| brotli 1.0.9 -0 | 2.702 | 395 MB/s | 450 MB/s |\n\nFaster is better.")


def test_a_table_row_is_quoted_with_its_header_after_a_refusal():
    from rag.grounding import answer_passage, quotable, quote_answer

    rows = [q.sentence for q in quotable(BENCH.chunk.text)]
    assert rows[:2] == ["| Compressor name | Ratio | Compression| Decompress.|\n"
                        "| **zstd 1.5.1 -1** | 2.887 | 530 MB/s | 1700 MB/s |",
                        "| Compressor name | Ratio | Compression| Decompress.|\n"
                        "| brotli 1.0.9 -0 | 2.702 | 395 MB/s | 450 MB/s |"]
    assert "Faster is better." in rows  # the prose after the table is itself
    q = "What compression ratio does zstd 1.5.1 -1 achieve in the benchmark?"
    refusal = judge(q, q, [BENCH], "The documents do not say.")
    n = answer_passage(q, [BENCH], "The documents do not say.", refusal)
    v = quote_answer(q, [BENCH], n, refusal)
    assert v.mode == "extractive" and v.text.endswith("| 2.887 | 530 MB/s | 1700 MB/s | [1]")
    # Cells an HTML table joined with " | " are rows as well.
    html = "Name | Ratio | Speed\nzstd | 2.887 | 530 MB/s\nlz4 | 2.101 | 740 MB/s"
    assert [q.sentence for q in quotable(html)][1] == "Name | Ratio | Speed\nlz4 | 2.101 | 740 MB/s"


def test_the_excluded_part_of_a_question_does_not_pick_the_quote():
    from rag.grounding import answer_passage, quote_answer

    q = "Besides the border incidents, what else pains Armenia about Russia?"
    text = _p("Armenia’s top leadership has been openly criticizing Russia’s position for a "
              "long time. The incidents on the border, when Russia refused to help, are one "
              "reason. Another pain point for Armenia is the inaction of the Russian "
              "peacekeeping contingent.")
    refusal = judge(q, q, [text], "The documents do not say.")
    n = answer_passage(q, [text], "The documents do not say.", refusal)
    v = quote_answer(q, [text], n, refusal)
    # Not the border incidents, nor a sentence sharing only "Armenia" and "Russia": the
    # one on what else pains ("Russian" stands for "Russia").
    assert v.text.startswith("Another pain point for Armenia is the inaction")


def test_a_scope_phrase_of_the_question_need_not_be_in_the_quote():
    from rag.grounding import answer_passage, quote_answer

    q = ("Under the GPL version 3, does mere interaction with a user through a computer "
         "network, without transferring a copy, count as conveying?")
    gpl = _p("To “convey” a work means any kind of propagation that enables other parties to "
             "make or receive copies. Mere interaction with a user through a computer "
             "network, with no transfer of a copy, is not conveying.")
    refusal = judge(q, q, [gpl], "The documents do not say.")
    n = answer_passage(q, [gpl], "The documents do not say.", refusal)
    v = quote_answer(q, [gpl], n, refusal)
    assert v.text.startswith("Mere interaction with a user") and "is not conveying" in v.text
    # "In which year ..., and ...?" is the question itself, not a scope.
    from rag.grounding import _SCOPE

    assert not _SCOPE.match("In which year did Armenia join the CSTO, and why?")
    assert _SCOPE.match("In Python 3.11, what does int() accept?")


def test_a_quote_must_speak_of_what_the_question_asks_not_only_its_names():
    # "Ian Murdock was born in [2]." points at nothing; a sentence naming him is no answer
    # to where he was born.
    q = "Where was Ian Murdock born?"
    missed = _p("Ian Murdock will be missed. He started programming at nine years of age.", 0)
    v = judge(q, q, (missed,), "Ian Murdock was born in [1].")
    assert v.abstained
    born = _p("Ian Murdock was born in Konstanz, West Germany, in 1973.", 0)
    v = judge(q, q, (born,), "Ian Murdock was born in [1].")
    assert not v.abstained and "Konstanz" in v.text


def test_the_questions_numbers_must_be_in_a_passage_the_answer_cites():
    q = "How was the Technical Committee's chair chosen when Debian 3.0 was released?"
    constitution = _p("The Technical Committee elects a Chair from its members. The Chair of "
                      "the Technical Committee is elected by the Committee.", 0)
    v = judge(q, q, (constitution,), "The Chair of the Technical Committee was elected by the "
              "Committee [1].")
    assert v.abstained and "3.0" in v.text
    q = "Who chaired the Technical Committee when Debian 3.0 was released?"
    history = _p("Debian 3.0 (woody) was released in July 2002. Bdale Garbee chaired the "
                 "Technical Committee then.", 0)
    v = judge(q, q, (history,), "Bdale Garbee chaired the Technical Committee [1].")
    assert not v.abstained
    # A date's day may be written as an ordinal.
    q = "What happened on September 5?"
    v = judge(q, q, (_p("On September 5th, the ministry recalled its envoy.", 0),),
              "The ministry recalled its envoy [1].")
    assert not v.abstained


def test_a_passage_continuing_the_one_that_names_the_questions_number_holds_it():
    q = ("In the 1961 Rose Bowl prank, how many copies of the blank sheet did the students "
         "get printed?")
    story = _p("In 1961, students from Caltech hacked the Rose Bowl football game.", 0)
    copies = _p("They stole a blank direction sheet for the card stunts. They then had a printer "
                "run off 2300 copies of the blank.", len(story.chunk.text) + 1)
    answer = "The students had 2300 copies of the blank sheet printed [2]."
    v = judge(q, q, (story, copies), answer)
    assert not v.abstained and "2300" in v.text
    # A passage from far before, or alone, speaks of another case.
    far = replace(copies, chunk=replace(copies.chunk, start=5000, end=5100))
    assert judge(q, q, (story, far), answer).abstained
    assert judge(q, q, (copies,), answer.replace("[2]", "[1]")).abstained


def test_an_answer_about_the_opposite_of_a_negated_term_is_removed():
    dfsg = _p("The \"GPL\", \"BSD\", and \"Artistic\" licenses are examples of licenses that "
              "we consider \"free\".", 0)
    q = "Which license do the guidelines give as an example of a non-free license?"
    v = judge(q, q, (dfsg,), "The guidelines give the GPL, BSD and Artistic licenses as "
              "examples of licenses that they consider free [1].")
    assert v.abstained and any("opposite" in w for w in v.warnings)
    # Said of the negated term itself, or asked yes or no, it stands.
    nonfree = _p("Works that are non-free, such as the XYZ license, go to non-free.", 0)
    v = judge(q, q, (nonfree,), "The XYZ license is an example of a non-free license [1].")
    assert not v.abstained
    yn = "Does Debian ship non-free software?"
    v = judge(yn, yn, (_p("We promise that the Debian system will remain 100% free.", 0),),
              "No, the Debian system will remain 100% free [1].")
    assert not v.abstained


def test_a_title_vouches_for_the_questions_version_as_for_its_names():
    from rag.grounding import _mentions_key_terms

    q = "Which pickle protocol does Python 3.11 use by default?"
    sentence = "Currently the default protocol is 4, first introduced in Python 3.4."
    title = "pickle — Python object serialization — Python 3.11.2 documentation"
    assert _mentions_key_terms(q, sentence, title)  # 3.11.2 is a 3.11
    assert not _mentions_key_terms(q.replace("3.11", "3.12"), sentence, title)
    assert not _mentions_key_terms(q, sentence, "pickle — Python object serialization")


# --- "What did X say?" answered with someone else's words ---------------------------------

ANALYST = _p("The political analyst calls worries about the possible ratification of the Rome "
             "Statute a false narrative.", 9000)
ZAKHAROVA = _p("Russian Foreign Ministry spokesperson Maria Zakharova announced that Moscow has "
               "already requested clarifications regarding Armenia’s ratification of the Rome "
               "Statute.", 3300)
PM = _p("On September 2, Armenian Prime Minister Nikol Pashinyan stated in an interview with "
        "the Italian newspaper La Repubblica that the peacekeeping forces are not fulfilling "
        "their mission.", 1200)
PEACEKEEPERS = _p("The Armenian Prime Minister said that the peacekeeping forces are not "
                  "fulfilling their mission.", 5000)


def test_another_speakers_words_do_not_answer_what_x_said():
    q = "What did Dmitry Peskov say about Armenia's plans to ratify the Rome Statute?"
    # The documents give the title "analyst" to Kochinyan, not to Peskov.
    v = judge(q, q, (ANALYST, PESKOV), "The political analyst calls worries about the "
              "possible ratification of the Rome Statute a false narrative [1].",
              holders=lambda title: {"areg", "kochinyan"} if title == "analyst" else set())
    assert v.abstained and "others' words, not Peskov's" in v.text
    assert any("someone else's words" in w for w in v.warnings)
    # Someone else by name; the passages' own titles when no corpus lookup is given.
    v = judge(q, q, (ZAKHAROVA, PESKOV), "Maria Zakharova announced that Moscow has already "
              "requested clarifications regarding Armenia’s ratification of the Rome Statute [1].")
    assert v.abstained and "others' words" in v.text


def test_a_title_the_documents_give_x_is_x_speaking():
    q = "What did Pashinyan say about the peacekeeping forces?"
    raw = ("The Armenian Prime Minister said that the peacekeeping forces are not fulfilling "
           "their mission [1].")
    # "Armenian Prime Minister Nikol Pashinyan" in passage [2]: the title is his.
    v = judge(q, q, (PEACEKEEPERS, PM), raw)
    assert not v.abstained and v.text.startswith("The Armenian Prime Minister said")
    # A title the documents give no one is not someone else's either.
    v = judge(q, q, (PEACEKEEPERS,), raw, holders=lambda title: set())
    assert not v.abstained
    # Nor does the rule touch a question that asks no one's words.
    q = "What are the peacekeeping forces not fulfilling?"
    v = judge(q, q, (PEACEKEEPERS,), raw, holders=lambda title: {"someone"})
    assert not v.abstained


def test_x_named_with_others_by_first_name_or_after_a_title_is_still_x():
    # Two people asked: either one's words answer.
    q = "What did Peskov and Zakharova say about Armenia?"
    v = judge(q, q, (PESKOV, ZAKHAROVA), "Peskov said that Russia cannot leave Armenia [1].")
    assert not v.abstained and v.text.startswith("Peskov said")
    # The title after the name ("Dmitry Peskov, the Kremlin spokesman, said"), not another's.
    kremlin = _p("Dmitry Peskov, the Kremlin spokesman, said that Russia cannot leave Armenia.",
                 10)
    ministry = _p("Foreign Ministry spokesman Alexander Lukashevich said that talks continue.",
                  500)
    q = "What did Peskov say about Armenia?"
    v = judge(q, q, (kremlin, ministry), "The Kremlin spokesman said that Russia cannot leave "
              "Armenia [1].")
    assert not v.abstained
    # Asked by first name, answered by surname.
    q = "What did Dmitry say about Armenia?"
    v = judge(q, q, (PESKOV,), "Peskov said that Russia cannot leave Armenia [1].")
    assert not v.abstained


def test_others_words_give_way_to_x_own_statement_in_the_same_passage():
    both = _p("Maria Zakharova announced that Moscow asked Yerevan for clarifications. Dmitry "
              "Peskov said that Russia cannot leave Armenia.", 10)
    q = "What did Peskov say about Armenia?"
    v = judge(q, q, (both,), "Maria Zakharova announced that Moscow asked Yerevan for "
              "clarifications [1].")
    assert not v.abstained and "Zakharova" not in v.text
    assert "Russia cannot leave Armenia" in v.text


def test_why_answered_with_a_reason_given_for_something_else_quotes_the_asked_event():
    from .test_citations import CHARTER
    q = "Why did the tribunal summon the mayor?"
    raw = ("The tribunal summoned the mayor because it has power over cases of fraud and "
           "bribery by officials [1].")
    v = judge(q, q, (_p(CHARTER, 40),), raw)
    # The model's reason is not the one the passage gives; the sentence that tells of the
    # summons is quoted instead (the claim's wandering reason does not pick the quote).
    assert v.mode == "extractive"
    assert "harbour contract inquiry" in v.text and "fraud" not in v.text


def test_an_acronym_in_the_quote_stands_for_the_question_s_long_name():
    q = "Why did the International Atomic Energy Agency send inspectors?"
    text = _p("Background.\n\nIn June the IAEA sent inspectors to check the cooling "
              "pumps after a leak.", 60)
    v = judge(q, q, (text,), "The agency was founded in 1957 [1].")
    assert v.mode == "extractive" and "cooling pumps" in v.text


def test_the_long_form_of_the_question_s_acronym_restates_it():
    q = "Which configure option builds CPython without the GIL?"
    text = _p("The global interpreter lock (GIL) is a mutex. Configure options are listed "
              "in the setup guide.", 80)
    raw = "The configure option that builds CPython without the Global Interpreter Lock is [1]."
    assert restates(q, q, citations_strip(raw))
    assert judge(q, q, (text,), raw).abstained


def citations_strip(text: str) -> str:
    from rag.citations import strip_markers
    return strip_markers(text)


def test_a_why_quote_prefers_the_sentence_that_gives_a_reason():
    # Two sentences hold all the question's words, and neither only restates it; the one
    # with a reason answers "why".
    q = "Why are the nightly backups not uploaded?"
    text = _p("The nightly backups are not uploaded on holidays, weekends, or during audits "
              "by the finance department.\n\nThe nightly backups are not uploaded at once, to "
              "avoid saturating the office network link.", 90)
    refusal = judge(q, q, (text,), "The documents do not say.")
    n = answer_passage(q, (text,), "The documents do not say.", refusal)
    assert n == 1
    v = quote_answer(q, (text,), n, refusal)
    assert "to avoid saturating the office network link" in v.text


def test_a_why_quote_without_a_reason_runs_on_to_the_next_sentence():
    # The sentence that matches is long and gives no reason; the next one of its paragraph
    # does, and is quoted with it however long the first is.
    q = "Why should mirror operators not sync the archive with rsync --delete-during?"
    long = ("Mirror operators who sync the archive should not run rsync --delete-during, "
            "--delete-before or any similar option against the primary archive server, "
            "whether by hand, from cron, from a systemd timer or from a wrapper script of "
            "their own, on any of the mirror's hosts")
    text = _p(f"{long}. This would leave clients with indexes that point at deleted files."
              "\n\nMirrors are listed on the web site.", 120)
    refusal = judge(q, q, (text,), "The documents do not say.")
    n = answer_passage(q, (text,), "The documents do not say.", refusal)
    assert n == 1
    v = quote_answer(q, (text,), n, refusal)
    assert "indexes that point at deleted files" in v.text and "listed on the web" not in v.text
    # The next sentence is of the same line: not a list item, table or code below it.
    listed = _p(f"{long}.\n- This would leave clients with indexes that point at deleted "
                "files.", 120)
    refusal = judge(q, q, (listed,), "The documents do not say.")
    v = quote_answer(q, (listed,), 1, refusal)
    assert "deleted files" not in v.text
    # Not for a question that asks no reason: the same sentence is quoted alone.
    q2 = "Should mirror operators sync the archive with rsync --delete-during?"
    assert "deleted files" not in judge(q2, q2, (text,), "Yes, they should [1].").text


def test_a_why_answer_that_only_states_the_premise_is_no_answer():
    from rag.grounding import premise
    q = "Why does the museum not allow visitors to take photographs?"
    said = ("The museum does not allow visitors to take photographs or to bring tripods "
            "into the galleries.")
    assert premise(q, said)
    # A reason in it, or a claim mostly of other words, is an answer (right or wrong).
    assert not premise(q, "The museum does not allow photographs because flash damages "
                          "the paintings.")
    assert not premise(q, "Flash light fades old pigments over the years.")
    assert not premise("What does the museum not allow?", said)  # not a why question
    rules = _p("Visitors\n\nThe museum does not allow visitors to take photographs or to "
               "bring tripods into the galleries.\n\nTickets are sold at the door.", 10)
    v = judge(q, q, (rules,), f"{said} [1]")
    assert v.abstained
    # A passage that gives the reason next to the premise is quoted with it.
    why = _p("Visitors\n\nThe museum does not allow visitors to take photographs or to bring "
             "tripods into the galleries. The flash fades the pigments of the oldest "
             "paintings, so the ban protects them.", 10)
    v = judge(q, q, (why,), f"{said} [1]")
    assert v.mode == "extractive" and "so the ban protects them" in v.text
    # A purpose in "to" is a reason; so is a sentence beside it that gives one.
    assert not premise(q, "The museum does not allow visitors to take photographs to "
                          "protect the paintings.")
    v = judge(q, q, (why,), f"{said} [1]. The flash fades the pigments of the oldest "
                            "paintings, so the ban protects them [1].")
    assert v.mode == "generated" and v.text.startswith("The museum does not allow")
    # A follow-up asks why through its rewritten question.
    assert premise("And why?", said, "Why does the museum not allow visitors to take "
                                     "photographs?")
