"""Resolving a follow-up question against the conversation before retrieval.

Small models follow a self-contained question far better than "Earlier question: ...
Question: what about it?", so a follow-up is rewritten, deterministically, into a
standalone question: pronouns are replaced by the earlier question's subject or topic
("And what did Zakharova say about it?" after "What did Simonyan say about the Rome
Statute?" becomes "What did Zakharova say about the Rome Statute?"). When no rewrite
applies, retrieval searches for both questions and the prompt shows the earlier one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .text import content_terms, key_terms
from .types import Turn

_THING = r"it|this|that|them|they|these|those"
_PERSON = r"he|him|she|her"
_POSSESSIVE = r"his|its|their"
_ANAPHORA = re.compile(rf"\b({_THING}|{_PERSON}|{_POSSESSIVE}|the same|such)\b", re.IGNORECASE)
_CONTINUATION = re.compile(r"^\s*(and|but|also|so|what about|how about|then)\b", re.IGNORECASE)
_WHAT_ABOUT = re.compile(r"^\s*(?:and\s+)?(?:what|how)\s+about\s+(.+?)\s*\??\s*$", re.IGNORECASE)
_TOPIC = re.compile(r"\b(?:about|on|regarding|concerning|of)\s+(.+?)\s*\??\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Resolved:
    question: str  # as asked
    standalone: str  # rewritten to stand alone (== question when it already does)
    retrieval_query: str  # what retrieval searches for
    earlier_question: str | None  # shown to the model when no rewrite was possible

    @property
    def prompt_question(self) -> str:
        """The question the model is given: the rewrite, or (with the earlier question shown
        beside it) the question as asked."""
        return self.question if self.earlier_question else self.standalone


def is_followup(question: str) -> bool:
    """A question that leans on earlier ones: 'And what did X say about it?'."""
    return bool(_CONTINUATION.match(question) or _ANAPHORA.search(question)
                or (not key_terms(question, skip_first=True) and len(content_terms(question)) <= 1))


def _rewrite(question: str, previous: str) -> str | None:
    names = key_terms(previous, skip_first=True)
    topic_match = _TOPIC.search(previous)
    topic = topic_match.group(1) if topic_match else None
    if m := _WHAT_ABOUT.match(question):
        subject = m.group(1)
        if names and names[0] in previous:
            return previous.replace(names[0], subject, 1)
        return None
    q = re.sub(r"^\s*(and|but|also|so|then)\s*,?\s+", "", question, flags=re.IGNORECASE)
    changed = False
    if topic and re.search(rf"\b({_THING})\b", q, re.IGNORECASE):
        q = re.sub(rf"\b({_THING})\b", topic, q, count=1, flags=re.IGNORECASE)
        changed = topic in q
    if names and re.search(rf"\b({_PERSON})\b", q, re.IGNORECASE):
        q = re.sub(rf"\b({_PERSON})\b", names[0], q, count=1, flags=re.IGNORECASE)
        changed = True
    if names and re.search(rf"\b({_POSSESSIVE})\b", q, re.IGNORECASE):
        q = re.sub(rf"\b({_POSSESSIVE})\b", f"{names[0]}’s", q, count=1, flags=re.IGNORECASE)
        changed = True
    if not changed or _ANAPHORA.search(q):
        return None
    return q[:1].upper() + q[1:]


def resolve(question: str, history: Sequence[Turn], max_turns: int = 4) -> Resolved:
    """Turn a follow-up into a standalone question using the user's previous question."""
    earlier = [t.content.strip() for t in history[-max_turns:] if t.role == "user"]
    earlier = [q for q in earlier if q]
    if not earlier or not is_followup(question):
        return Resolved(question, question, question, None)
    previous = earlier[-1]
    rewritten = _rewrite(question, previous)
    if rewritten:
        return Resolved(question, rewritten, rewritten, None)
    return Resolved(question, f"{question} (following up on: {previous})",
                    f"{question} {previous}", previous)
