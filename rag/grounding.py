"""The answer policy, in one place: from the retrieved passages and the model's raw text to
the answer a user sees. Pure functions of their arguments: no model, no index, no clock.

The pipeline asks three things of it, in this order:

1. ``before_generation``: do the documents hold an answer at all? A name or number of the
   question that no document contains, or "What did X say?" when X speaks nowhere, is an
   abstention before the model is asked (abstention.check_evidence).
2. ``needs_retry``: the model's text has no words (only markers): ask once more.
3. ``judge``: the verdict on the model's text (and the retry's, if any). Each sentence's
   citations are checked and repaired (citations.check); sentences no passage supports
   are removed; when nothing supported is left, the source sentence closest to the claim
   and the question is quoted instead ("extractive"), or the answer abstains; a "how
   many" question answered without a number abstains.

Every rule works on CitedSentence values; the model's text is parsed once, here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from . import abstention, citations, prompts
from .citations import CitedSentence
from .text import key_terms, term_key, word_keys
from .types import AnswerMode, Citation, Passage, Revision

# How much of the model's claim (and the question) a source sentence must share to be
# quoted in its place when the model's own words are unsupported.
EXTRACTIVE_MIN_SHARE = 0.5



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


def before_generation(question: str, passages: Sequence[Passage], corpus_words: set[str],
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
          retry: str | None = None) -> Verdict:
    """The verdict on the model's text ``raw`` (and ``retry``, its second try if ``raw``
    had no words). ``asked`` is the question as the model saw it (a follow-up rewritten
    to stand alone); an answer may restate it."""
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
    if not claims:
        return _abstain()  # the model itself says the passages do not answer
    checked = citations.check(written, passages, asked)
    warnings.extend(checked.warnings)
    kept = [s for s in checked.sentences if s.cites or abstention.model_abstained(s.text)]
    for s in checked.sentences:
        if s not in kept:
            warnings.append(f"removed a sentence no passage supports: “{s.text[:80]}”")
    if not any(s.cites for s in kept):
        # The model answered, but in words no passage supports (often a detail added
        # from its own memory).
        return _quote_source(
            question, " ".join(s.text for s in claims), passages, range(1, len(passages) + 1),
            "no sentence of the model's answer is supported",
            "The model's answer was not supported by the retrieved passages, so it is "
            "withheld.", warnings)
    text = citations.render(kept)
    if abstention.lacks_expected_number(question, text):
        warnings.append("the question asks how many or how much; the answer has no number")
        return _abstain("No passage gives that number.", warnings)
    revision = _revision(written, kept) if mode == "generated" else "rewritten"
    return Verdict(text, mode, tuple(kept), citations.cite(kept, passages), tuple(warnings),
                   revision)


def _revision(written: Sequence[CitedSentence], final: Sequence[CitedSentence]) -> Revision:
    """What the checks changed since the model wrote it: "none" (the same sentences citing
    the same passages), "cited" (the same sentences, all citing one passage set the model
    did not write) or "rewritten" (anything else)."""
    if list(written) == list(final):
        return "none"
    if [s.text for s in written] == [s.text for s in final] and len({s.cites for s in final}) == 1:
        return "cited"
    return "rewritten"


def _quote_source(question: str, claim: str, passages: Sequence[Passage],
                  numbers: Iterable[int], why: str, withheld: str,
                  warnings: list[str]) -> Verdict:
    """Answer with the sentence of passages ``numbers`` closest to the model's claim and
    the question, if it is close and about the question; otherwise abstain."""
    numbers = list(numbers)
    closest = citations.closest_sentence(f"{claim} {question}",
                                         [passages[n - 1] for n in numbers])
    if closest:
        i, sentence, share = closest
        n = numbers[i - 1]
        if (share >= EXTRACTIVE_MIN_SHARE and _speakers_speak(question, passages[n - 1])
                and _mentions_key_terms(question, sentence)):
            warnings.append(f"{why}; answered with a sentence of passage [{n}]")
            quoted = citations.check([CitedSentence(citations.strip_markers(sentence), (n,))],
                                     passages).sentences
            return Verdict(citations.render(quoted), "extractive", quoted,
                           citations.cite(quoted, passages), tuple(warnings))
    warnings.append(why)
    return _abstain(withheld, warnings)


def _mentions_key_terms(question: str, sentence: str) -> bool:
    """A quoted sentence must be about the question: all its numbers, half its names."""
    have = word_keys(sentence)
    terms = key_terms(question, skip_first=True)
    numbers = [t for t in terms if t[0].isdigit()]
    names = [t for t in terms if not t[0].isdigit()]
    return (all(term_key(t) in have for t in numbers)
            and 2 * sum(term_key(t) in have for t in names) >= len(names))


def _speakers_speak(question: str, passage: Passage) -> bool:
    """For "What did X say?": a passage quoted as the answer must show X speaking."""
    return all(citations.shows_speaking(name, passage.chunk.text)
               for name in citations.speakers(question))
