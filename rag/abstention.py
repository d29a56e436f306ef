"""Deciding that the documents do not hold the answer, from retrieval evidence and the model.

Small models answer questions about people the article never names, so the decision does
not rest on the model alone: before generation, a name or number of the question that no
retrieved passage contains means the documents cannot answer it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .text import key_terms, stem, term_key, words
from .types import Passage

_MODEL_ABSTAINS = re.compile(
    r"(documents?|sources?|passages?|context|text|article)s?\s+(do|does|did)\s*(not|n[o’']t)\s+"
    r"(say|mention|contain|provide|include|state|specify|discuss|answer|give)"
    r"|\bno (information|mention)\b|\bnot (mentioned|provided|specified|stated)\b"
    r"|\b(cannot|can[’']t|unable to) (answer|determine|find)\b"
    r"|\bthere is no (information|mention)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class EvidenceCheck:
    abstain: bool
    missing: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        if not self.missing:
            return "no passage was retrieved"
        return "no passage mentions " + ", ".join(self.missing)


def check_evidence(question: str, passages: Sequence[Passage]) -> EvidenceCheck:
    """Abstain when there are no passages or a name/number of the question is in none."""
    if not passages:
        return EvidenceCheck(True)
    present = {stem(w) for p in passages for w in words(p.chunk.text)}
    missing = tuple(t for t in key_terms(question, skip_first=True)
                    if term_key(t) not in present)
    return EvidenceCheck(bool(missing), missing)


def model_abstained(answer: str) -> bool:
    """The model's own words say the sources do not answer the question."""
    return bool(_MODEL_ABSTAINS.search(answer))
