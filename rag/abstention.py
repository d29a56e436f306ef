"""Deciding that the documents do not hold the answer, from retrieval evidence and the model.

Small models answer questions about people the article never names, so the decision does
not rest on the model alone: before generation, a name or number of the question that no
retrieved passage contains means the documents cannot answer it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Sequence
from dataclasses import dataclass

from .citations import named, speakers
from .text import abbreviated, code_names, key_terms, question_parts, term_key, word_keys, words
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

    A seat of power stands for its country ("the Kremlin" is there if Russia is), and a
    question in parts abstains only if every part names something absent.
    """
    if not passages:
        return EvidenceCheck(True)
    present = set().union(*(word_keys(p.chunk.text) for p in passages))
    # A name the passages write as an acronym is in them ("the ICC" for "the International
    # Criminal Court"), and back.
    present |= abbreviated(question, "\n".join(p.chunk.text for p in passages))

    def anywhere(key: str) -> bool:
        return key in present or key in corpus_words

    def absent(text: str) -> list[str]:
        seats = _seat_words(text, lambda c: named(term_key(c), present)
                            or anywhere(term_key(c)))
        # "Russian-led": one part in the documents is enough; so is the name of "GPLv3",
        # "IPv6" or "Python3", which the documents may write "GPL version 3".
        return [t for t in key_terms(text, skip_first=True) if t.lower() not in seats
                and not any(anywhere(term_key(part)) for part in _parts(t))]

    # A question in parts is answered in part: "What did Pashinyan call a strategic mistake,
    # and how did X respond?" is not left unanswered because X is in no document.
    by_part = [absent(part) for part in question_parts(question)]
    missing = tuple(dict.fromkeys(t for part in by_part for t in part)) if all(by_part) else ()
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


# Seats of power stand for their governments in the press ("the Kremlin's spokesman", "how
# did the White House react"): a question naming one asks about its country, which the
# documents may name instead ("Russian presidential spokesman Dmitry Peskov").
_SEATS = {"kremlin": ("Russia",), "white house": ("America", "Washington"),
          "pentagon": ("America", "Washington"), "downing street": ("Britain", "London"),
          "elysee": ("France", "Paris"), "élysée": ("France", "Paris")}


def _seat_words(text: str, known: Callable[[str], bool]) -> set[str]:
    """The words of the seats of power ``text`` names whose country is ``known``."""
    said = " ".join(words(text))
    return {w for seat, countries in _SEATS.items()
            if re.search(rf"\b{seat}\b", said) and any(known(c) for c in countries)
            for w in seat.split()}


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
