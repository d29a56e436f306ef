"""Plain data that moves between the pipeline stages (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

# How the answer text was obtained: the model's words (generated), its second try
# (retried), a sentence quoted from a passage (extractive), or no answer (abstained).
AnswerMode = Literal["generated", "retried", "extractive", "abstained"]
# How the answer differs from the model's first text, the one a front end streamed (see
# rag.grounding): the same, the same sentences with citations added, or rewritten.
Revision = Literal["none", "cited", "rewritten"]


@dataclass(frozen=True)
class Document:
    """A loaded document: its cleaned text is what chunk offsets point into."""

    doc_id: str
    title: str
    path: str
    text: str
    sha256: str
    metadata: dict[str, str] = field(default_factory=dict)
    # The document's headings as (offset in text, level, heading): h1..h6 are levels 1-6,
    # a definition-list term (an API signature in reference docs) is level 7.
    headings: tuple[tuple[int, int, str], ...] = ()


@dataclass(frozen=True)
class Chunk:
    """A span of a document: ``document.text[start:end] == text``."""

    doc_id: str
    chunk_id: str
    start: int
    end: int
    text: str
    # The headings the chunk sits under ("os — … › os.cpu_count()"): retrieval reads them
    # with the text (a paragraph seldom names its own subject); citations never include them.
    heading: str = ""

    @property
    def search_text(self) -> str:
        """What retrieval embeds and matches: the heading path, then the text."""
        return f"{self.heading}\n{self.text}" if self.heading else self.text


def about(title: str, heading: str) -> str:
    """What a passage is about beyond its words: its document's title and the headings it
    sits under ("What's New In Python 3.8 › Assignment expressions")."""
    return f"{title}\n{heading}".strip()


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its scores. ``score`` is the one used for ranking."""

    chunk: Chunk
    title: str
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None

    @property
    def about(self) -> str:
        """What the passage is about beyond its words (see ``about``)."""
        return about(self.title, self.chunk.heading)

    def to_dict(self, n: int) -> dict[str, Any]:
        c = self.chunk
        return {
            "n": n,
            "doc_id": c.doc_id,
            "chunk_id": c.chunk_id,
            "title": self.title,
            "heading": c.heading,
            "text": c.text,
            "start": c.start,
            "end": c.end,
            "score": round(float(self.score), 6),
        }


@dataclass(frozen=True)
class Citation:
    """A passage cited as [n] in an answer, and the part of it that supports the answer."""

    n: int
    passage: Passage
    support_start: int  # document offsets of the supporting sentence(s) inside the passage
    support_end: int

    def to_dict(self) -> dict[str, Any]:
        d = self.passage.to_dict(self.n)
        d["support_start"] = self.support_start
        d["support_end"] = self.support_end
        return d


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation."""

    role: str  # "user" or "assistant"
    content: str


@dataclass(frozen=True)
class Answer:
    """The result of a question: the one shape the CLI (--json) and the HTTP API return."""

    question: str
    text: str  # the checked answer, with its [n] markers
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    model: str
    timings: dict[str, float]
    answer_mode: AnswerMode = "generated"
    standalone_question: str = ""
    warnings: tuple[str, ...] = ()
    usage: dict[str, int] = field(default_factory=dict)
    raw_text: str = ""  # the model's own words, as streamed ("" when it was not asked)
    revision: Revision = "rewritten"

    @property
    def abstained(self) -> bool:
        return self.answer_mode == "abstained"

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict(i) for i, p in enumerate(self.passages, start=1)],
            "model": self.model,
            "timings": {k: round(v, 1) for k, v in self.timings.items()},
            "answer_mode": self.answer_mode,
            "standalone_question": self.standalone_question or self.question,
            "warnings": list(self.warnings),
            "usage": dict(self.usage),
            "raw_answer": self.raw_text,
            "revision": self.revision,
        }
