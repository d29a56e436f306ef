"""Deciding that the documents do not hold the answer, from retrieval evidence and the model.

Small models answer questions about people the article never names, so the decision does
not rest on the model alone: before generation, a name or number of the question that no
retrieved passage contains means the documents cannot answer it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

from .citations import speakers
from .text import code_names, key_terms, term_key, word_keys
from .types import Passage

# The model says its sources do not answer: these phrases are refusals wherever they stand.
_SOURCES = r"documents?|sources?|passages?|article"
_MODEL_ABSTAINS = re.compile(
    rf"({_SOURCES}|context|text)s?\s+(do|does|did)\s*(not|n[o’']t)\s+"
    r"(say|mention|contain|provide|include|state|specify|discuss|answer|give)"
    r"|\bno (information|mention)\b|\b(cannot|can[’']t|unable to) answer\b"
    r"|\bthere is no (information|mention)\b",
    re.IGNORECASE,
)
# These are refusals only about the sources, or from the model itself: "If sep is not
# specified, runs of whitespace are one separator" and "when Python cannot find a module"
# are what a document says, and a right answer that quotes them is not a refusal.
_NOT_GIVEN = re.compile(r"\bnot (mentioned|provided|specified|stated)\b"
                        r"|\b(cannot|can[’']t|unable to) (determine|find)\b", re.IGNORECASE)
# (A missed refusal costs little: an uncited sentence no passage supports is removed. A
# right answer taken for a refusal is lost, so these words are few: not "text", "context"
# or "information", which documentation says of its own subject.)
_ABOUT_SOURCES = re.compile(rf"\b({_SOURCES})\b"
                            r"|^\s*(I\b|(it|this|that)\s+(is|was)\s+not\b)", re.IGNORECASE)


@dataclass(frozen=True)
class EvidenceCheck:
    abstain: bool
    missing: tuple[str, ...] = ()
    silent: tuple[str, ...] = ()  # asked what they said, but they say nothing in the documents

    @property
    def reason(self) -> str:
        if self.silent:
            return "the documents report nothing said by " + ", ".join(self.silent)
        if not self.missing:
            return "no passage was retrieved"
        return "the documents never mention " + ", ".join(self.missing)


def check_evidence(question: str, passages: Sequence[Passage], corpus_words: Container[str],
                   speaks: Callable[[str], bool]) -> EvidenceCheck:
    """Abstain before generation when the documents cannot hold the answer.

    - a name or number of the question that neither the retrieved passages nor any other
      part of the documents contain ("What did Macron say?"); a term that is in the
      documents but not in the passages is left to the model (retrieval may have missed);
    - a code name of the question ("os.process_cpu_count", "copy.replace") that no document
      writes, in full or as its last two parts ("Path.walk" for "pathlib.Path.walk");
    - "What did X say?" when X speaks nowhere in the documents (``speaks(X)`` is False).
    """
    if not passages:
        return EvidenceCheck(True)
    present = set().union(*(word_keys(p.chunk.text) for p in passages))

    def anywhere(key: str) -> bool:
        return key in present or key in corpus_words

    # "Russian-led": one part in the documents is enough; so is the name of "GPLv3",
    # "IPv6" or "Python3", which the documents may write "GPL version 3".
    missing = tuple(t for t in key_terms(question, skip_first=True)
                    if not any(anywhere(term_key(part)) for part in _parts(t)))
    # Code names: "os.process_cpu_count()" in no document is a function they do not have,
    # even though "process", "cpu" and "count" are all words of theirs.
    known = set().union(*(code_names(p.chunk.text) for p in passages))
    unknown = {n for n in code_names(question) if not any(
        x in known or x in corpus_words for x in (n, _tail(n)))}
    missing += tuple(sorted(n for n in unknown  # named once: not "path.walk" beside it
                            if not any(o.endswith(f".{n}") for o in unknown)))
    if missing:
        return EvidenceCheck(True, missing)
    silent = tuple(sorted(n for n in speakers(question) if not speaks(n)))
    return EvidenceCheck(bool(silent), silent=silent)


_VERSIONED = re.compile(r"([A-Za-z]{2,}?)[-_]?v?\d+(?:\.\d+)*")


def _parts(term: str) -> list[str]:
    parts = [part for part in term.split("-") if part]
    if m := _VERSIONED.fullmatch(term):
        parts.append(m.group(1))
    return parts


def _tail(name: str) -> str:
    """ "pathlib.path.walk" -> "path.walk": how other pages may write the same name."""
    return ".".join(name.split(".")[-2:])


def model_abstained(answer: str) -> bool:
    """The model's own words say the sources do not answer the question."""
    return bool(_MODEL_ABSTAINS.search(answer) or (
        _NOT_GIVEN.search(answer) and _ABOUT_SOURCES.search(answer)))
