"""Resolving a follow-up question against the conversation before retrieval.

Small models follow a self-contained question far better than "Earlier question: ...
Question: what about it?", so a follow-up is rewritten, deterministically, into a
standalone question: pronouns are replaced by the earlier question's subject or topic
("And what did Zakharova say about it?" after "What did Simonyan say about the Rome
Statute?" becomes "What did Zakharova say about the Rome Statute?"). When no rewrite
applies, retrieval searches for both questions and the prompt shows the earlier one.

Also the checks every question and message passes once, whichever front end it came from
(``validate_question``, ``validate_text``), and ``from_messages``, which turns a chat
request's messages into the question and earlier turns.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import InvalidQuestionError
from .text import content_terms, key_terms
from .types import Turn

# Control characters (C0, DEL, C1) other than tab and newline: typed by nobody, they
# count as spaces, so a question of NULs is an empty question.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def validate_text(text: str, what: str = "The question") -> str:
    """``text`` with control characters as spaces; an error if it is not valid Unicode.

    Lone surrogates come from bytes that are not UTF-8 (a terminal in another encoding;
    Python keeps them as U+DC80..U+DCFF) or from a JSON "\\ud800" escape. The tokenizers
    cannot take them, so they are refused here, once, for every front end.
    """
    if m := _SURROGATE.search(text):
        ch = m.group(0)
        raw = f"byte 0x{ord(ch) - 0xDC00:02x}" if 0xDC80 <= ord(ch) <= 0xDCFF \
            else f"U+{ord(ch):04X}"
        raise InvalidQuestionError(
            f"{what} holds text that is not valid UTF-8 ({raw} at character {m.start() + 1}): "
            "check the encoding of your terminal or client")
    return _CONTROL.sub(" ", text)


class Question(str):
    """A question that passed validate_question: it is not checked again."""


def validate_question(question: str, max_chars: int) -> Question:
    """The question stripped, or an InvalidQuestionError saying what is wrong."""
    if isinstance(question, Question):
        return question
    if not isinstance(question, str):
        raise InvalidQuestionError("The question must be text")
    question = validate_text(question).strip()
    if not question:
        raise InvalidQuestionError("The question is empty: type a question about your documents")
    if len(question) > max_chars:
        raise InvalidQuestionError(
            f"The question is {len(question):,} characters long; the limit is {max_chars:,} "
            "(RAG_MAX_QUESTION_CHARS): ask a shorter question"
        )
    return Question(question)


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


def from_messages(messages: Sequence[tuple[str, str]], max_messages: int,
                  max_question_chars: int) -> tuple[str, list[Turn]]:
    """The question (the last message, which must be the user's) and the earlier turns,
    from (role, content) pairs as a chat client sends them; other roles (system, tool)
    are dropped. InvalidQuestionError says what is wrong with them."""
    if not messages:
        raise InvalidQuestionError("No messages: the last one must be the user's question")
    if len(messages) > max_messages:
        raise InvalidQuestionError(
            f"{len(messages)} messages; the limit is {max_messages} (RAG_MAX_MESSAGES)")
    role, content = messages[-1]
    if role != "user":
        raise InvalidQuestionError(
            f"The last message must be the user's question, not a {role} message")
    question = validate_question(content, max_question_chars)
    history = [Turn(r, validate_text(c, f"Message {i}")) for i, (r, c)
               in enumerate(messages[:-1], 1) if r in ("user", "assistant")]
    return question, history
