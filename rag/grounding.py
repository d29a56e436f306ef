"""The answer policy, in one place: from the retrieved passages and the model's raw text to
the answer a user sees. Pure functions of their arguments: no model, no index, no clock.

The pipeline asks three things of it, in this order:

1. ``before_generation``: do the documents hold an answer at all? A name or number of the
   question that no document contains, or "What did X say?" when X speaks nowhere, is an
   abstention before the model is asked (abstention.check_evidence).
2. ``needs_retry``: the model's text has no words (only markers): ask once more.
3. ``judge``: the verdict on the model's text (and the retry's, if any). Each sentence's
   citations are checked and repaired (citations.check); sentences no passage supports
   are removed, and so are sentences that only restate the question ("The exception
   raised is [3]."); when nothing supported is left, the source sentence closest to the
   claim and the question is quoted instead ("extractive"; for a restated question, from
   the passage the model pointed at first), with the heading, signature or "X said:" line
   that introduces it, or the answer abstains; a "how many" question answered without a
   number abstains.

Every rule works on CitedSentence values; the model's text is parsed once, here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Container, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

from . import abstention, answer_types, citations, prompts
from .chunking import sentence_spans
from .citations import CitedSentence
from .text import (
    abbreviated,
    code_names,
    content_terms,
    key_terms,
    normalize,
    open_quote,
    question_parts,
    stem,
    term_key,
    word_keys,
    words,
)
from .types import AnswerMode, Citation, Passage, Revision

# How much of the model's claim (and the question) a source sentence must share to be
# quoted in its place when the model's own words are unsupported.
EXTRACTIVE_MIN_SHARE = 0.5
# The same, for a sentence of the passage the model pointed at ([3] in "The exception
# raised is [3]."): the model's pointer counts as part of the evidence.
POINTED_MIN_SHARE = 1 / 3
# A passage must hold more than this share of the question's content words for a refusal
# beside it not to be the final word (see answer_passage): a majority, so that a passage
# with "Armenia" and "CSTO" but not "join" or "year" does not answer "In which year did
# Armenia join the CSTO?".
ANSWER_PASSAGE_MIN_SHARE = 0.5


@dataclass(frozen=True)
class Verdict:
    """What the answer policy decided: the final text and how it was obtained."""

    text: str
    mode: AnswerMode
    sentences: tuple[CitedSentence, ...] = ()
    citations: tuple[Citation, ...] = ()
    warnings: tuple[str, ...] = ()
    revision: Revision = "rewritten"

    @property
    def abstained(self) -> bool:
        return self.mode == "abstained"


def _abstain(why: str | None = None, warnings: Sequence[str] = ()) -> Verdict:
    text = f"{prompts.ABSTAIN_TEXT} ({why})" if why else prompts.ABSTAIN_TEXT
    return Verdict(text, "abstained", warnings=tuple(warnings))


def before_generation(question: str, passages: Sequence[Passage], corpus_words: Container[str],
                      speaks: Callable[[str], bool]) -> Verdict | None:
    """An abstention when the documents cannot hold the answer; None to ask the model."""
    evidence = abstention.check_evidence(question, passages, corpus_words, speaks)
    if not evidence.abstain:
        return None
    return _abstain(f"{evidence.reason[:1].upper()}{evidence.reason[1:]}.")


def needs_retry(raw: str) -> bool:
    """The model answered with markers only ("[1]"): it is asked once more."""
    return citations.is_bare(raw)


def retry_note(raw: str) -> str:
    return f"the model answered with no words ({raw.strip()!r}); asked again"


def judge(question: str, asked: str, passages: Sequence[Passage], raw: str,
          retry: str | None = None,
          holders: Callable[[str], Collection[str]] | None = None) -> Verdict:
    """The verdict on the model's text ``raw`` (and ``retry``, its second try if ``raw``
    had no words). ``asked`` is the question as the model saw it (a follow-up rewritten
    to stand alone); an answer may restate it. ``holders(title)`` gives the keys of the
    names the documents give a title to (Corpus.title_holders); the passages' own, if
    not given."""
    warnings: list[str] = []
    mode: AnswerMode = "generated"
    if needs_retry(raw):
        warnings.append(retry_note(raw))
        if retry is not None and not needs_retry(retry):
            raw, mode = retry, "retried"
        else:
            cited = [n for n in citations.marker_numbers(retry or raw)
                     if 1 <= n <= len(passages)]
            return _quote_source(question, "", passages, cited[:1] or range(1, len(passages) + 1),
                                 "the model gave no words twice", "The model gave no answer.",
                                 warnings)

    written = citations.split_cited(raw)
    claims = [s for s in written if not abstention.model_abstained(s.text)]
    if not claims:  # the model itself says the passages do not answer
        refusal = _abstain(warnings=warnings)
        # Word for word what the user saw stream (its first try, not a retry): nothing to
        # say it was changed.
        return (replace(refusal, revision="none")
                if mode == "generated" and raw.strip() == refusal.text else refusal)
    # An answer may restate the question, so the question's words count as support; not
    # for a question a yes or no answers: whether the passages say those words, and how,
    # is the answer ("they do not believe that Putin would be arrested" cited to a passage
    # that never names Putin).
    # Nor may a yes or no rest on two passages, each saying half of it: "they do not
    # believe that Putin would be arrested", the analysts' disagreement from one passage
    # and the arrest from another, reads as a view neither passage reports.
    yes_no = _yes_no(question, asked)
    checked = citations.check(written, passages, "" if yes_no else asked, pairs=not yes_no)
    warnings.extend(checked.warnings)
    kept = [s for s in checked.sentences if s.cites or abstention.model_abstained(s.text)]
    for s in checked.sentences:
        if s not in kept:
            warnings.append(f"removed a sentence no passage supports: “{s.text[:80]}”")
    # "You would use the following code:" introduces what follows it; when that was
    # removed, it introduces nothing.
    for s, after in zip(checked.sentences, [*checked.sentences[1:], None], strict=True):
        if s in kept and s.text.rstrip().endswith(":") and (after is None or after not in kept):
            kept.remove(s)
            warnings.append(f"removed a sentence that introduced what was removed: “{s.text[:80]}”")
    # (A why-answer's premise stays beside a sentence that gives the reason: "Debian freezes
    # testing before a release. This lets the team stabilise it, since ...".)
    reasons = any(gives_reason(s.text, f"{question} {asked}") for s in kept if s.cites)
    hollow = [s for s in kept if s.cites and (restates(question, asked, s.text) or (
        not reasons and premise(question, s.text, asked)))]
    if hollow:
        kept = [s for s in kept if s not in hollow]
        for s in hollow:
            warnings.append(f"removed a sentence that only restates the question: “{s.text[:80]}”")
        if not any(s.cites for s in kept):
            # "The exception raised if you assign to a frozen field is [3].": the model
            # pointed at the passage and left the answer out; the pointed passage first.
            pointed = list(dict.fromkeys(n for s in hollow for n in s.cites))
            rest = [n for n in range(1, len(passages) + 1) if n not in pointed]
            return _quote_source(question, "", passages, [*pointed, *rest],
                                 "the model's answer restates the question without "
                                 "answering it", "The model's answer did not answer the "
                                 "question.", warnings, prefer=pointed)
    if not any(s.cites for s in kept):
        # The model answered, but in words no passage supports (often a detail added
        # from its own memory).
        return _quote_source(
            question, " ".join(s.text for s in claims), passages, range(1, len(passages) + 1),
            "no sentence of the model's answer is supported",
            "The model's answer was not supported by the retrieved passages, so it is "
            "withheld.", warnings)
    # "... [1]. The documents do not say.": a refusal of nothing in particular beside a
    # supported answer contradicts it; a refusal of a part ("... do not say when") stays.
    for s in [s for s in kept if not s.cites and _bare_refusal(s.text)]:
        kept.remove(s)
        warnings.append("removed a refusal that followed a supported answer")
    if opposite := [] if _yes_no(question, asked) else _opposites(question, kept):
        # "Which license do the guidelines give as an example of a non-free license?"
        # answered with the licenses "we consider free": every word is in the passage, and
        # it answers the opposite question.
        for s in opposite:
            kept.remove(s)
            warnings.append("removed a sentence about the opposite of what the question "
                            f"asks: “{s.text[:80]}”")
        if not any(s.cites for s in kept):
            return _abstain(None, warnings)
    if others := _others_words(question, kept, passages, holders):
        # "What did Peskov say about the Rome Statute?" answered with "The political
        # analyst calls worries about the ratification a false narrative": the words are
        # in the passage, and they are someone else's.
        for s in others:
            kept.remove(s)
            warnings.append(f"removed a sentence that reports someone else's words: "
                            f"“{s.text[:80]}”")
        if not any(s.cites for s in kept):
            # X's own statement, if a passage shows X speaking on the question's topic.
            kept = _other_statements(question, others, passages, warnings)
            if not kept:
                names = sorted({n for names, _ in _asked_speakers(question) for n in names})
                whose = " or ".join(f"{n}'s" for n in names)
                return _abstain(f"The passages it cites report others' words, not {whose}.",
                                warnings)
    kept = kept + _other_statements(question, kept, passages, warnings)
    text = citations.render(kept)
    want = answer_types.expected(question)
    if want and not _typed(want, question, kept, passages):
        warnings.append(f"the question asks for {want.description}; the answer gives none "
                        "from its passages")
        return _abstain(f"No passage gives {want.description} for it.", warnings)
    if missing := _unheld_numbers(question, kept, passages):
        # "Who chaired the Technical Committee when Debian 3.0 was released?" answered from
        # the constitution, which knows no releases: the question's numbers say which case
        # it asks about, and a passage without them speaks of another.
        warnings.append(f"the question names {missing}; no passage the answer cites does")
        return _abstain(f"No passage it cites mentions {missing}.", warnings)
    revision = _revision(written, kept) if mode == "generated" else "rewritten"
    return Verdict(text, mode, tuple(kept), citations.cite(kept, passages), tuple(warnings),
                   revision)


def _unheld_numbers(question: str, kept: Sequence[CitedSentence],
                    passages: Sequence[Passage]) -> str:
    """The question's numbers that none of the passages the answer cites holds (with their
    headings), joined for a message; "" when they all hold them.

    A retrieved passage that a cited one continues (the same document and section, ending
    at most _STORY_GAP characters before it) holds them for it: "In the 1961 Rose Bowl
    prank, how many copies ...?" is answered by the passage after the one that names 1961.
    """
    cited = [passages[n - 1].chunk for n in {n for s in kept for n in s.cites}]
    if not cited:
        return ""
    leads = [p.chunk for p in passages if any(
        p.chunk.doc_id == c.doc_id and p.chunk.heading == c.heading
        and 0 <= c.start - p.chunk.end <= _STORY_GAP for c in cited)]
    about = {p.chunk.chunk_id: p.about for p in passages}
    held = citations.numbers("\n".join(f"{c.text}\n{about.get(c.chunk_id, '')}"
                                        for c in [*cited, *leads]))
    return ", ".join(sorted(citations.numbers(question) - held))


_STORY_GAP = 600


# "non-free", "non-Linux", "non-empty": a compound that negates its base word.
_NEGATED = re.compile(r"\bnon-([a-z][\w-]*)", re.IGNORECASE)


def _opposites(question: str, kept: Sequence[CitedSentence]) -> list[CitedSentence]:
    """The cited sentences that speak of the base word of a negated compound the question
    asks about ("free" for "non-free"), and never of the compound itself. (Not for a yes/no
    question: "Does Debian ship non-free software?" may be answered "Debian will remain
    100% free".)"""
    bases = {m.group(1).lower() for m in _NEGATED.finditer(question)}
    out = []
    for s in kept:
        if not s.cites:
            continue
        text = s.text.lower()
        plain = {b for b in bases
                 if re.search(rf"(?<![\w-]){re.escape(b)}\b", text)
                 and not re.search(rf"\bnon-?{re.escape(b)}\b|\bnot\s+{re.escape(b)}\b", text)}
        if plain:
            out.append(s)
    return out


def _bare_refusal(sentence: str) -> bool:
    return (normalize(citations.strip_markers(sentence)).rstrip(" .")
            == normalize(prompts.ABSTAIN_TEXT).rstrip(" ."))


# Questions a "yes" or "no" answers: an answer may say no more than the question then.
# "According to Arshakyan, is the ratification directed against Russia?" is one as well.
_YES_NO = re.compile(r"^\s*(?:(?:and|but|so)\s+)?(?:(?:according\s+to|in\s+the\s+(?:view|opinion)"
                     r"\s+of|for)\s+[^,?]{1,80},\s*)?(?:is|are|was|were|am|do|does|did|can|could|"
                     r"will|would|should|shall|has|have|had|may|might|must)\b", re.IGNORECASE)


def _yes_no(question: str, asked: str) -> bool:
    return bool(_YES_NO.match(question) or _YES_NO.match(asked))


def restates(question: str, asked: str, sentence: str) -> bool:
    """Whether ``sentence`` says nothing but the question: every content word of its claim
    is one of the question's ("What exception is raised ...?" — "The exception raised ...
    is [3]."). Not for a question a yes or no answers, nor an answer that opens with one."""
    if _yes_no(question, asked) or citations.answers_yes_no(sentence):
        return False
    claim = set(content_terms(citations.frame_and_claim(sentence)[1]))
    # A word the question holds only inside a path is new in the answer: "shadow" for
    # "Which group can read /etc/shadow?".
    asked_words = _PATH.sub(" ", f"{question} {asked}")
    # "the Global Interpreter Lock (GIL)" restates the question's "GIL".
    said = set(content_terms(asked_words)) | abbreviated(sentence, asked_words)
    return bool(claim) and claim <= said


_PATH = re.compile(r"(?<!\S)\S*/\S+")


def premise(question: str, sentence: str, asked: str = "") -> bool:
    """For a "why" question (or its follow-up, rewritten as ``asked``), whether ``sentence``
    states what the question asks the reason for, and gives none: most of its claim's words
    are the question's, and it gives no reason (gives_reason: "Why does the project not
    require legal names?" — "The project does not require contributors to use their legal
    names or provide personal information.")."""
    both = f"{question} {asked}"
    if not (_WHY.match(question) or _WHY.match(asked)) or gives_reason(sentence, both):
        return False
    claim = set(content_terms(citations.frame_and_claim(sentence)[1]))
    said = set(content_terms(both)) | abbreviated(sentence, both)
    return bool(claim) and 2 * len(claim & said) > len(claim)


def gives_reason(text: str, question: str = "") -> bool:
    """Whether ``text`` holds a word of a reason or a purpose (_REASON; "since" only as a
    reason, not before a time: "since version 2.0"), or a purpose in "to" and a verb the
    question does not hold ("Debian freezes testing to stabilise the release"; "not allow
    visitors to take photographs" restates "Why ... not allow visitors to take
    photographs?")."""
    for m in _REASON.finditer(text):
        if m.group().lower() != "since" or not answer_types.since_a_time(text, m.start()):
            return True
    asked = set(content_terms(question))
    for m in _PURPOSE.finditer(text):
        before = [stem(w) for w in words(text[max(0, m.start() - 60):m.start()])][-4:]
        if before and before[-1] in ("or", "and", "not"):
            continue  # "allow visitors to take photographs or to bring tripods"
        if any(w in _TAKES_TO for w in before):
            continue  # what is allowed or wanted, not what for: "allow visitors to take"
        if stem(m.group(1).lower()) not in asked:
            return True
    return False


# "to" and a word that may be a verb: not an article, a pronoun, a name or a number.
_PURPOSE = re.compile(r"\bto\s+(?!(?:the|a|an|this|that|these|those|its|their|his|her|our|"
                      r"your|my|them|him|us|me|it|be|do|have)\b)([a-z][a-z-]+)\b")
# Verbs and adjectives whose "to" names what is allowed, wanted or able, not a purpose.
_TAKES_TO = frozenset(stem(w) for w in (
    "allow allows allowed permit permits permitted want wants wanted need needs needed try "
    "tries tried able unable going used ask asks asked tell tells told require requires "
    "required decide decides decided plan plans planned expect expects expected like likes "
    "prefer prefers seem seems intend intends intended has have had refuse refused refuses "
    "agree agreed agrees fail failed fails continue continues continued begin began start "
    "started starts enable enables enabled encourage encouraged force forced forces").split())


def _revision(written: Sequence[CitedSentence], final: Sequence[CitedSentence]) -> Revision:
    """What the checks changed since the model wrote it: "none" (the same sentences citing
    the same passages), "cited" (the same sentences, all citing one passage set the model
    did not write) or "rewritten" (anything else)."""
    if list(written) == list(final):
        return "none"
    if [s.text for s in written] == [s.text for s in final] and len({s.cites for s in final}) == 1:
        return "cited"
    return "rewritten"


_WHY = re.compile(r"^\s*(?:(?:and|but|so)\s+)?why\b", re.IGNORECASE)


def _quote_source(question: str, claim: str, passages: Sequence[Passage],
                  numbers: Iterable[int], why: str, withheld: str,
                  warnings: list[str], prefer: Sequence[int] = ()) -> Verdict:
    """Answer with the sentence of passages ``numbers`` closest to the model's claim and
    the question, if it is close and about the question (of the ``prefer`` passages, if one
    of theirs is); otherwise abstain."""
    best = _best_sentence(question, claim, passages, prefer) if prefer else None
    if best is None or best[2] < POINTED_MIN_SHARE:
        numbers = list(numbers)
        best = _best_sentence(question, claim, passages, numbers)
        if claim and (_yes_no(question, question) or _asked_speakers(question)
                      or _WHY.match(question)):
            # A yes/no question, or one asking what someone said or why, is answered by a
            # sentence on its own terms; a claim that wandered off them ("the analysts do
            # not agree that Armenia is changing course, and do not believe Putin would be
            # arrested"; Zakharova's words given as Simonyan's; a warrant explained by why
            # the court was founded) must not decide which one.
            alone = _best_sentence(question, "", passages, numbers)
            if alone is not None and (best is None or alone[2] > best[2]):
                best = alone
        if best is not None and best[2] < EXTRACTIVE_MIN_SHARE:
            best = None
    if best is not None:
        n, sentence, _ = best
        warnings.append(f"{why}; answered with a sentence of passage [{n}]")
        return _quoted(n, sentence, passages, warnings)
    warnings.append(why)
    return _abstain(withheld, warnings)


def _quoted(n: int, sentence: str, passages: Sequence[Passage],
            warnings: Sequence[str]) -> Verdict:
    quoted = citations.check([CitedSentence(citations.strip_markers(sentence), (n,))],
                             passages).sentences
    # The quote is passage n's own words: if the checker finds no passage for it (a false
    # speaker, a word it cannot match), it still cites the passage it was taken from.
    quoted = tuple(s if s.cites else CitedSentence(s.text, (n,)) for s in quoted)
    return Verdict(citations.render(quoted), "extractive", quoted,
                   citations.cite(quoted, passages), tuple(warnings))


def _best_sentence(question: str, claim: str, passages: Sequence[Passage],
                   numbers: Iterable[int],
                   under_heading: bool = False) -> tuple[int, str, float] | None:
    """The sentence of passages ``numbers`` that may stand as the answer, with the share of
    the claim's and the question's content words it holds: it must be about the question
    (_mentions_key_terms), show the question's speakers speaking, and hold a value of the
    type the question asks for (a year for "In which year ...?"). The highest share wins,
    and is quoted with the rest of its paragraph (Quotable); None if no sentence
    qualifies. ``under_heading``: the passages were chosen as a whole, their title and
    headings with them (answer_passage), so these words count toward the sentence's share
    ("All changes to the Charter need approval by the ... Council" under "Technical
    Steering Committee"); but of the question's words that are not names, the sentence must
    hold more than half of those its headings do not ("Commit messages should be short"
    under "Git FAQ" does not say which editor Git opens for them)."""
    terms = set(content_terms(f"{claim} {_without_exclusion(question)}"))
    asked = f"{claim} {question}"
    names = _name_keys(question)
    # The question's words that are not names: what it asks of them, which the sentence must
    # speak of too; not for a yes/no question, which a sentence on its names may answer in
    # other words ("Can I pass NULL to Py_INCREF?": "Py_INCREF() does not check for NULL").
    substance = (set() if _yes_no(question, question)
                 else set(content_terms(_without_exclusion(question))) - names)
    want = answer_types.expected(question)
    # An option is documented under its own name: a passage on another option ("--disable-nls"
    # for "What does --disable-cats do?") does not answer for it. (A code name's answer may
    # lie in another entry: subprocess.run's timeout in subprocess.TimeoutExpired's.)
    asked_options = citations.question_system_words(question)
    why = bool(_WHY.match(question))
    best: tuple[int, str, float] | None = None
    best_reason = False
    for n in numbers:
        passage = passages[n - 1]
        if not terms or not _speakers_speak(question, passage) or _about_namesake(question,
                                                                                  passage):
            continue
        if not citations.holds_identifiers(asked_options,
                                           f"{passage.chunk.text}\n{passage.about}"):
            continue
        text = passage.chunk.text
        headed = set(content_terms(passage.about))
        for q in quotable(text):
            if q.sentence.rstrip(" ”\"')").endswith("?"):
                continue  # a question answers nothing (an FAQ's "Did zsh have problems ...?")
            if want and not answer_types.holds(want, q.sentence, question):
                continue
            if not _mentions_key_terms(question, q.sentence, passage.about):
                continue
            own = set(content_terms(q.sentence))
            if substance and not substance & own:
                continue  # names alone ("Ian Murdock will be missed" for where he was born)
            share = _share(terms, q.sentence, names, abbreviated(asked, q.sentence))
            rest = substance - headed if under_heading else set()
            if rest and 2 * len(rest & own) > len(rest):
                said = f"{passage.about}\n{q.sentence}"
                share = max(share, _share(terms, said, names, abbreviated(asked, said)))
            # A "why" question: of sentences as close, one that gives a reason ("..., to
            # avoid unexpectedly processing triggers"); a sentence that gives none is quoted
            # with the next of its line, where the reason often is ("... should not
            # configure packages one by one. This might defeat dpkg's cycle detection."); a
            # sentence that only states what the question asks why of, without a reason
            # there, is no answer (premise).
            reason = why and gives_reason(q.sentence, question)
            quote = q.quote
            if why and not reason and q.then and q.then not in quote:
                quote = f"{q.sentence} {q.then}"
            if premise(question, q.sentence) and not gives_reason(q.then, question):
                continue  # what the question asks about, and no reason for it
            if best is None or (share, reason) > (best[2], best_reason):
                best, best_reason = (n, quote, share), reason
    return best


# Words that give a reason or a purpose: those that join a reason to a claim (see
# citations.unlinked_cause), and more.
_REASON = re.compile(rf"\b(?:{citations.CAUSE_WORDS}|since|as\s+a\s+(?:result|consequence)|"
                     r"so\s+(?:that|as\s+to|they|it|we|you|he|she|the|this)|"
                     r"in\s+order\s+to|to\s+(?:avoid|prevent|ensure|allow|make\s+sure|keep)|"
                     r"otherwise|therefore|thus|hence|reasons?|caus(?:e|es|ed|ing)|"
                     r"leads?\s+to|results?\s+in)\b", re.IGNORECASE)


def _share(terms: set[str], text: str, names: set[str], short: set[str] = frozenset()) -> float:
    """The share of ``terms`` (content terms) that ``text`` holds, or ``short`` (the keys it
    holds by an acronym, see text.abbreviated); of ``names`` (the keys of the question's
    names), a demonym stands for its country ("Russian" for "Russia", see
    citations.named)."""
    have = set(content_terms(text)) | short
    return sum(t in have or (t in names and citations.named(t, have)) for t in terms) / len(terms)


def _name_keys(question: str) -> set[str]:
    return {term_key(t) for t in key_terms(question, skip_first=True)}


@dataclass(frozen=True)
class Quotable:
    """A sentence as it may be quoted on its own: ``sentence`` (with the line that
    introduces it) is what must answer the question; ``quote`` adds the rest of its
    paragraph, up to _MAX_QUOTE_CHARS, which often finishes what it says ("Return the
    number of CPUs in the system." / "Returns None if undetermined.")."""

    sentence: str
    quote: str
    then: str = ""  # the next sentence of its line (its paragraph), if any


def quotable(text: str) -> list[Quotable]:
    """The passage's sentences as they may be quoted on their own, each on one line with
    the line that introduces it: a heading or signature right above it ("os.cpu_count()",
    "exception dataclasses.FrozenInstanceError") names what it describes, "X said:" who
    speaks, and the sentence before one that says "he" or "his" whom it means; a sentence
    that leaves a quotation open runs on to its end."""
    spans = sentence_spans(text)
    rows = _table_rows(text)
    out = []
    for i, (lo, hi) in enumerate(spans):
        line = text.rfind("\n", 0, lo) + 1
        if line in rows:
            # A table row is read with its header row: "| Compressor name | Ratio |" over
            # "| zstd 1.5.1 -1 | 2.887 |" says which number is the ratio.
            if rows[line] is not None and lo == _first_span_at(spans, line):
                end = text.find("\n", lo)
                row = text[line : len(text) if end < 0 else end]
                quote = f"{' '.join(rows[line].split())}\n{' '.join(row.split())}"
                out.append(Quotable(quote, quote))
            continue
        if i + 1 < len(spans) and _introduces(text, spans[i], spans[i + 1][0]):
            continue  # a heading or signature alone says nothing: it comes with the next
        prev_in_table = i and text.rfind("\n", 0, spans[i - 1][0]) + 1 in rows
        if i and not prev_in_table and (_introduces(text, spans[i - 1], lo)
                                        or _PERSONAL.search(text[lo:hi])):
            lo = spans[i - 1][0]
        j = i
        while j + 1 < len(spans) and (open_quote(text[lo:spans[j][1]])
                                      or text[lo:spans[j][1]].endswith(":")):
            j += 1
        k = j
        while (k + 1 < len(spans) and "\n" not in text[spans[k][1]:spans[k + 1][0]]
               and spans[k + 1][1] - lo <= _MAX_QUOTE_CHARS):
            k += 1
        while k > j and text[spans[k][0]:spans[k][1]].endswith(":"):
            k -= 1  # not "Thus, the following lines of code:" without the code
        then = ""
        if j + 1 < len(spans) and "\n" not in text[spans[j][1]:spans[j + 1][0]]:
            then = " ".join(text[spans[j + 1][0]:spans[j + 1][1]].split())
        out.append(Quotable(" ".join(text[lo:spans[j][1]].split()),
                            " ".join(text[lo:spans[k][1]].split()), then))
    return out


_TABLE_LINE = re.compile(r"\s*\|.*\|\s*|[^|\n]+(?: \| [^|\n]*){2,}")
_TABLE_RULE = re.compile(r"[\s|:+-]+")


def _table_rows(text: str) -> dict[int, str | None]:
    """The lines of ``text`` that are rows of a table (Markdown "| a | b |", or HTML cells
    joined by " | "), by their offset: a row's header row, or None for the header and
    rule lines themselves. A table has two rows or more."""
    rows: dict[int, str | None] = {}
    block: list[tuple[int, str]] = []
    at = 0
    for line in [*text.split("\n"), ""]:
        if line.strip() and _TABLE_LINE.fullmatch(line):
            block.append((at, line))
        else:
            if len(block) >= 2:
                header = block[0][1].strip()
                for start, row in block:
                    rows[start] = (None if start == block[0][0] or _TABLE_RULE.fullmatch(row)
                                   else header)
            block = []
        at += len(line) + 1
    return rows


def _first_span_at(spans: list[tuple[int, int]], line: int) -> int:
    return next((lo for lo, _ in spans if lo >= line), -1)


# A person referred back to: the sentence before names them.
_PERSONAL = re.compile(r"\b(?:he|she|him|his|her|hers)\b", re.IGNORECASE)
_MAX_QUOTE_CHARS = 250  # a quote runs on to the end of its paragraph, up to this
_MAX_LEAD_CHARS = 60  # a heading or signature, not a sentence that lacks its full stop


def _introduces(text: str, prev: tuple[int, int], lo: int) -> bool:
    """Whether the sentence at ``prev`` introduces the one starting at ``lo``: a line of
    its own (a heading or signature, without a full stop) or a line ending in a colon."""
    lead = text[prev[0]:prev[1]]
    own_line = "\n" in text[prev[1]:lo]
    if not re.search(r"[A-Za-z]{2}", lead) or lead.lstrip().startswith((">>>", "...")):
        return False  # a line of code or of its output ("['1', '2', '']") names nothing
    return (lead.endswith(":") or (own_line and not re.search(r"[.!?…]['\"”’)]*$", lead))) \
        and len(lead) <= _MAX_LEAD_CHARS


def _mentions_key_terms(question: str, sentence: str, about: str = "") -> bool:
    """A quoted sentence must be about the question: all its numbers, and its names but
    one in four ("the Armenian Prime Minister" may stand for "Pashinyan" among five other
    names; with "Armenia" and "CSTO", a sentence on Armenia alone is about something else).
    Its passage's title and headings (``about``) vouch for their names and numbers, as they
    do for a citation ("MIME" in "Shared MIME-info Database" for a sentence on "the default
    type"; "3.11" in "Python 3.11.2 documentation" for "the default protocol is 4"). Not
    for a name in a sentence that names something else ("Kazakhstan joined the CSTO in
    1994, and Uzbekistan ..." under "Armenia and the CSTO" is not about Armenia); for a
    number, always: "This release fixes 33 security issues" under "NEWS for rsync 3.5.0"
    speaks of 3.5.0 though it names its "SECURITY FIXES", and a heading's number, unlike
    its name, is never the subject the sentence turns away from."""
    have = word_keys(sentence)
    headed = word_keys(about)
    known = word_keys(question) | headed
    # (The sentence's first word counts: "Kazakhstan joined it in 1994.")
    others = [t for t in key_terms(sentence)
              if not t[0].isdigit() and term_key(t) not in known]
    names_have = have if others else have | headed
    # "ICC" in the sentence names the question's "International Criminal Court", and back.
    names_have |= abbreviated(question, sentence if others else f"{sentence}\n{about}")
    terms = key_terms(_SCOPE.sub("", question), skip_first=True)
    numbers = [t for t in terms if t[0].isdigit()]
    names = [t for t in terms if not t[0].isdigit()]
    missing = sum(not citations.named(term_key(t), names_have) for t in names)
    numbers_have = names_have | headed
    return (all(term_key(t) in numbers_have for t in numbers) and missing <= len(names) // 4
            and not _namesake(question, sentence))


# "Under the GPL version 3, does ...?": where to look, which a passage of that document
# need not repeat; the names and numbers of the question proper must be in the quote.
_SCOPE = re.compile(r"^\s*(?:under|in|within|per)\s+(?!(?:which|what|whose|how)\b)(?:the\s+)?"
                    r"[^,?]{1,60},\s*(?=\w)", re.IGNORECASE)


# A name the question writes as called: "max()", "print()".
_CALLED = re.compile(r"\b([A-Za-z_][\w.]*)\(\)")


def _entry_of(question: str) -> re.Pattern[str] | None:
    """How the entry of a code name the question asks about opens: its heading or signature
    starts with the name ("get(key[, default])" for "dict.get", "max(iterable, *,
    key=None)" for "max()"), where another passage only mentions it ("... behaves similarly
    to the existing get() method"). None when the question names no code."""
    asked = code_names(question) | {m.lower() for m in _CALLED.findall(question)}
    lasts = sorted({re.escape(name.rsplit(".", 1)[-1]) for name in asked})
    if not lasts:
        return None
    return re.compile(rf"\s*(?:[\w.]+\.)?(?:{'|'.join(lasts)})\s*\(", re.IGNORECASE)


def _heads(passage: Passage) -> tuple[str, str]:
    """The heading a passage sits under (its last part) and the line it opens with."""
    chunk = passage.chunk
    return chunk.heading.rsplit("›", 1)[-1], chunk.text.lstrip().split("\n", 1)[0]


def _about_namesake(question: str, passage: Passage) -> bool:
    """Whether the passage documents another thing of the question's name: the heading it
    sits under, or the heading or signature it opens with, names
    "multiprocessing.cpu_count()" for a question on "os.cpu_count()"."""
    return any(_namesake(question, head) for head in _heads(passage))


def _namesake(question: str, sentence: str) -> bool:
    """Whether ``sentence`` is about another thing of the same name than ``question``:
    "multiprocessing.cpu_count()" for "os.cpu_count()" (the same last part, another
    qualifier)."""
    asked = [n for n in code_names(question) if "." in n]
    if not asked:
        return False
    written = code_names(sentence)
    for name in asked:
        last = name.rsplit(".", 1)[1]
        same = [n for n in written if "." in n and n.rsplit(".", 1)[1] == last]
        if same and not any(n == name or n.endswith(f".{name}") or name.endswith(f".{n}")
                            for n in same):
            return True
    return False


def _speakers_speak(question: str, passage: Passage) -> bool:
    """For "What did X say?": a passage quoted as the answer must show X speaking."""
    return all(citations.shows_speaking(name, passage.chunk.text)
               for name in citations.speakers(question))


def _typed(want: answer_types.Expected, question: str, kept: Sequence[CitedSentence],
           passages: Sequence[Passage]) -> bool:
    """Whether the answer holds a value of the type the question asks for, taken from a
    passage it cites ("1,000 soldiers" that no cited passage holds does not count)."""
    answer = " ".join(s.text for s in kept)
    cited = "\n".join(passages[n - 1].chunk.text for s in kept for n in s.cites)
    return any(answer_types.occurs(v, cited) for v in answer_types.values(want.kind, answer,
                                                                          question))


_SAY_QUESTION = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+(?:else\s+)?(?:did|does|do|has|have)\b",
                           re.IGNORECASE)
# A question asks for words with verbs of its own: "what did X tell", "how did X answer".
# Who: "did Peskov tell", "did Peskov and Zakharova answer", "did Prime Minister Pashinyan
# tell" (each one's last name: Pashinyan).
_ASKED_WORDS = re.compile(r"\b(?:did|does|do|has|have)\s+((?:[A-Z][\w’'-]+(?:\s*,\s*|\s+and\s+|"
                          r"\s+))*?[A-Z][\w’'-]+)"
                          r"\s+(?:also\s+)?(?:tell|answer|respond|reply|react|comment|add|write|explain|"
                          r"claim|argue|warn|announce|declare|insist|stress)\b")
_MAX_OTHER_STATEMENTS = 2
# What these verbs ask for is the words themselves, not a topic a passage must share.
_ASKING_WORDS = frozenset(content_terms("tell answer respond reply react comment add write "
                                         "explain claim argue warn announce declare insist "
                                         "stress"))


def _asked_speakers(question: str) -> list[tuple[set[str], str]]:
    """The parts of ``question`` that ask what someone said, each with the names asked to
    speak in it: [({"Peskov"}, "What did Peskov say?")]."""
    out = []
    for part in question_parts(question):
        if not _SAY_QUESTION.match(part):
            continue
        asked = [each.split()[-1] for m in _ASKED_WORDS.finditer(part)
                 for each in re.split(r"\s*,\s*|\s+and\s+", m.group(1))]
        names = citations.speakers(part) | {
            n for n in asked if n in key_terms(part, skip_first=True)}
        if names:
            out.append((names, part))
    return out


def _others_words(question: str, kept: Sequence[CitedSentence], passages: Sequence[Passage],
                  holders: Callable[[str], Collection[str]] | None) -> list[CitedSentence]:
    """For "What did X say?": the cited sentences that present someone else as speaking
    and never name X. Someone else is a name ("Zakharova announced ..."), or a title the
    documents give to others and not to X ("The political analyst calls ..." where the
    documents speak of "political analyst Areg Kochinyan"). A title the documents give X
    ("The Armenian Prime Minister stated ..." for Pashinyan, "Armenian Prime Minister
    Nikol Pashinyan") or to no one ("The documents say ...") is not someone else."""
    parts = _asked_speakers(question)
    if not parts:
        return []
    # Everyone the question asks to speak, and the full names the passages write around
    # them ("Dmitry" is "Dmitry Peskov").
    asked = {term_key(n) for names, _ in parts for n in names}
    text = "\n".join(p.chunk.text for p in passages)
    for m in re.finditer(r"[A-Z][\w’'-]+(?:[^\S\n]+[A-Z][\w’'-]+)+", text):
        run = {term_key(w) for w in m.group().split()}
        if run & asked:
            asked |= run
    if holders is None:  # the titles the passages give
        holders = partial(citations.title_holders, text=text)
    out = []
    for s in kept:
        keys = word_keys(s.text)
        if not s.cites or any(citations.named(k, keys) for k in asked):
            continue
        title = citations.role_speaker(s.text)
        if title is not None:
            given = set(holders(title))
            if given and not given & asked:
                out.append(s)
        elif {term_key(n) for n in citations.speakers(s.text)} - asked:
            out.append(s)
    return out


def _other_statements(question: str, kept: Sequence[CitedSentence],
                      passages: Sequence[Passage], warnings: list[str]) -> list[CitedSentence]:
    """"What did X say?" wants every statement of X's the passages hold, not the first one
    the model picked: each passage that shows X speaking (about the question's topic, if it
    names one) and that the answer does not cite adds X's statement, quoted and cited. A
    question in parts ("What did X tell ..., and how did Y answer?") is asked so of each
    part; a part whose people the answer never names gets their statement even from a
    passage the answer cites for another part's (the passage that quotes X quoting Y's
    reply)."""
    if not any(s.cites for s in kept):
        return []
    answer_keys = word_keys(" ".join(s.text for s in kept))
    cited = {n for s in kept for n in s.cites}
    said = set(content_terms(" ".join(s.text for s in kept)))
    added: list[CitedSentence] = []
    for names, part in _asked_speakers(question):
        name_keys = {term_key(n) for n in names}
        unnamed = not any(citations.named(k, answer_keys) for k in name_keys)
        topic = set(content_terms(part)) - name_keys - _ASKING_WORDS
        cited_text = normalize(" ".join(passages[n - 1].chunk.text for n in cited))
        for n, passage in enumerate(passages, start=1):
            text = passage.chunk.text
            if (n in cited and not unnamed) or not all(
                    citations.shows_speaking(name, text) for name in names):
                continue
            if topic and 2 * len(topic & set(content_terms(text))) < len(topic):
                continue
            statement = _statement(text, names)
            if not statement or (normalize(statement) in cited_text and not unnamed):
                continue  # the answer cites a passage that holds this statement already
            terms = set(content_terms(statement)) - name_keys
            if terms and len(terms & said) >= 0.6 * len(terms):
                continue  # the answer says it already, in its own words
            said |= terms
            checked = citations.check([CitedSentence(statement, (n,))], passages).sentences
            if checked and checked[0].cites:
                added.append(checked[0])
                unnamed = False
                warnings.append(f"added what passage [{n}] reports {', '.join(sorted(names))} "
                                "saying, which the model's answer left out")
            if len(added) == _MAX_OTHER_STATEMENTS:
                return added
    return added


def _statement(text: str, names: set[str]) -> str | None:
    """The first sentence of ``text`` that shows all ``names`` speaking, with the quotation
    it opens or introduces ("Peskov said:" and the quote after it), on one line."""
    spans = sentence_spans(text)
    for i, (lo, hi) in enumerate(spans):
        if not all(citations.shows_speaking(name, text[lo:hi]) for name in names):
            continue
        j = i
        while j + 1 < len(spans) and (text[spans[j][1] - 1] == ":"
                                      or open_quote(text[lo : spans[j][1]])):
            j += 1
        return " ".join(text[lo : spans[j][1]].split())
    return None


# --- a refusal beside the answer ---------------------------------------------------------


def answer_passage(question: str, passages: Sequence[Passage], raw: str,
                   verdict: Verdict) -> int | None:
    """After the model said the documents do not say: the passage that clearly holds an
    answer-shaped span, if one does, so that the refusal is not the final word.

    A passage qualifies when it holds the question's names and numbers (but one name in
    four), most of the question's content words (its title and headings and the acronyms
    it writes count, but not for a question a yes or no answers), a value of the type the
    question asks for (if it asks for one), and shows the question's speakers speaking.
    The one holding most of the question's words wins (the higher-ranked on a tie). None
    when the model did not refuse (an answer the checks withheld is not a refusal) or no
    passage qualifies.
    """
    if not verdict.abstained or not model_refused(raw):
        return None
    terms = set(content_terms(_without_exclusion(question)))
    names = _name_keys(question)
    want = answer_types.expected(question)
    yes_no = _yes_no(question, question)
    entry = _entry_of(question)
    best: tuple[int, tuple[bool, float]] | None = None
    for n, passage in enumerate(passages, start=1):
        text = passage.chunk.text
        # A passage is about what its title and headings say, as a whole ("Technical
        # Steering Committee" over a passage on "the Charter"), and an acronym stands for
        # its words ("LSB" for "Linux Standard Base"); not for a yes or no, which a
        # sentence answers on its own terms (quote_answer).
        whole = text if yes_no else f"{passage.about}\n{text}"
        if not terms or not _mentions_key_terms(question, text, passage.about):
            continue
        share = _share(terms, whole, names, abbreviated(question, whole))
        if share <= ANSWER_PASSAGE_MIN_SHARE or not _speakers_speak(question, passage):
            continue
        if _about_namesake(question, passage) or not citations.holds_identifiers(
                citations.question_system_words(question), f"{text}\n{passage.about}"):
            continue
        if want and not answer_types.holds(want, text, question):
            continue
        # The entry of the code name asked about before a passage that only mentions it.
        rank = (entry is not None and any(entry.match(h) for h in _heads(passage)), share)
        if best is None or rank > best[1]:
            best = (n, rank)
    return best[0] if best else None


# "Besides the border incidents, what else pains Armenia?": the excluded part names what the
# answer is not, so its words do not make a sentence the answer.
_EXCLUSION = re.compile(r"^\s*(?:besides|apart\s+from|aside\s+from|other\s+than|except|"
                        r"in\s+addition\s+to)\b[^,?]*,\s*", re.IGNORECASE)


def _without_exclusion(question: str) -> str:
    """The question without its excluded part, and without "else", which only points at it
    ("what else pains Armenia" asks what pains Armenia)."""
    rest = _EXCLUSION.sub("", question)
    return re.sub(r"\belse\b", " ", rest, flags=re.IGNORECASE) if rest != question else question


def model_refused(raw: str) -> bool:
    """The model's text says only that the documents do not answer."""
    written = citations.split_cited(raw)
    return bool(written) and all(abstention.model_abstained(s.text) for s in written)


def _refusal_note(n: int) -> str:
    return (f"the model said the documents do not say, but passage [{n}] holds the "
            "question's terms")


def quote_answer(question: str, passages: Sequence[Passage], n: int,
                 refusal: Verdict) -> Verdict:
    """After a refusal beside passage ``n``: its sentence that best answers the question,
    quoted and cited, if it holds most of the question's words; the refusal if none
    qualifies (see _best_sentence)."""
    # (Not for a question a yes or no answers: a sentence answers it on its own terms, and
    # one that only shares the heading's names says neither yes nor no.)
    best = _best_sentence(question, "", passages, [n],
                          under_heading=not _yes_no(question, question))
    if best is None or best[2] <= ANSWER_PASSAGE_MIN_SHARE:
        return replace(refusal, warnings=(*refusal.warnings, _refusal_note(n),
                                          "no sentence of it answers the question"))
    return _quoted(n, best[1], passages, [*refusal.warnings,
                                          f"{_refusal_note(n)}; quoted its sentence"])


def judge_again(question: str, asked: str, passages: Sequence[Passage], raw: str, n: int,
                refusal: Verdict,
                holders: Callable[[str], Collection[str]] | None = None) -> Verdict:
    """The verdict on the model's second answer, asked with passage ``n`` alone after it
    refused (see answer_passage); the refusal stands if the second answer fails too."""
    note = f"{_refusal_note(n)}; asked again with that passage alone"
    again = judge(question, asked, passages, raw, holders=holders)
    if again.abstained:
        return replace(refusal, warnings=(*refusal.warnings, note, *again.warnings,
                                          "the second answer was no answer either"))
    return replace(again, mode="retried", revision="rewritten",
                   warnings=(*refusal.warnings, note, *again.warnings))
