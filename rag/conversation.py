"""Resolving a follow-up question against the conversation before retrieval."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .text import content_terms, key_terms
from .types import Turn

_ANAPHORA = re.compile(
    r"\b(it|its|this|these|those|they|them|their|he|him|his|she|her|"
    r"the same|the other|such)\b", re.IGNORECASE)
_CONTINUATION = re.compile(r"^\s*(and|but|also|so|what about|how about|why|then)\b", re.IGNORECASE)


@dataclass(frozen=True)
class Resolved:
    question: str  # as asked
    retrieval_query: str  # what retrieval searches for
    earlier_question: str | None  # the question it follows up on, if it does

    @property
    def standalone(self) -> str:
        if not self.earlier_question:
            return self.question
        return f"{self.question} (following up on: {self.earlier_question})"


def is_followup(question: str) -> bool:
    """A question that leans on earlier ones: 'And what did X say about it?'."""
    return bool(_CONTINUATION.match(question) or _ANAPHORA.search(question)
                or (not key_terms(question) and len(content_terms(question)) <= 1))


def resolve(question: str, history: Sequence[Turn], max_turns: int = 4) -> Resolved:
    """Pair a follow-up with the user's previous question; retrieval searches for both."""
    earlier = [t.content.strip() for t in history[-max_turns:] if t.role == "user"]
    earlier = [q for q in earlier if q]
    if not earlier or not is_followup(question):
        return Resolved(question, question, None)
    previous = earlier[-1]
    return Resolved(question, f"{question} {previous}", previous)
