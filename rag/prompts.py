"""All prompt text in one place."""

from __future__ import annotations

from collections.abc import Sequence

from .types import Passage

ABSTAIN_TEXT = "The documents do not say."

SYSTEM = (
    "You are a careful assistant. Read the numbered sources and answer the question from "
    "them in one to three sentences, using the sources' own words. Put the source number in "
    "brackets after each sentence, like [1]. "
    f'If the answer is not in the sources, say "{ABSTAIN_TEXT}"'
)

RETRY = (
    "That reply had no words. Answer the question again in one or two full sentences, "
    "using the sources' words, and end each sentence with its source number like [1]."
)


def format_sources(passages: Sequence[Passage], only: Sequence[int] | None = None) -> str:
    """Number the passages [1]..[k]; name the document only when there are several.
    With ``only``, just those passages, under their numbers."""
    several = len({p.chunk.doc_id for p in passages}) > 1
    blocks = []
    for i, p in enumerate(passages, start=1):
        if only is not None and i not in only:
            continue
        head = f"[{i}] (from: {p.title})" if several else f"[{i}]"
        blocks.append(f"{head}\n{p.chunk.text.strip()}")
    return "\n\n".join(blocks)


def build_messages(
    question: str, passages: Sequence[Passage], earlier_question: str | None = None,
    only: Sequence[int] | None = None,
) -> list[dict[str, str]]:
    """Chat messages for one answer. The system text is fixed so its KV cache is reusable.
    ``only``: show just these passages (under their own numbers), to ask again narrowly."""
    context = f"Earlier question: {earlier_question}\n" if earlier_question else ""
    user = f"Sources:\n{format_sources(passages, only)}\n\n{context}Question: {question}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
