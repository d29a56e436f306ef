"""All prompt text in one place."""

from __future__ import annotations

from collections.abc import Sequence

from .types import Passage

ABSTAIN_TEXT = "The documents do not say."

SYSTEM = (
    "You answer questions using only the numbered sources you are given. "
    "Use only facts the sources state; quote their words where you can. "
    "End every sentence with the number of the source it comes from, like [1]. "
    f'If the sources do not answer the question, reply exactly: "{ABSTAIN_TEXT}" '
    "Answer in one to three sentences."
)

RETRY = (
    "That reply had no words. Answer the question again in one or two full sentences, "
    "using the sources' words, and end each sentence with its source number like [1]."
)


def format_sources(passages: Sequence[Passage]) -> str:
    """Number the passages [1]..[k]; name the document only when there are several."""
    several = len({p.chunk.doc_id for p in passages}) > 1
    blocks = []
    for i, p in enumerate(passages, start=1):
        head = f"[{i}] (from: {p.title})" if several else f"[{i}]"
        blocks.append(f"{head}\n{p.chunk.text.strip()}")
    return "\n\n".join(blocks)


def build_messages(
    question: str, passages: Sequence[Passage], earlier_question: str | None = None
) -> list[dict[str, str]]:
    """Chat messages for one answer. The system text is fixed so its KV cache is reusable."""
    context = f"Earlier question: {earlier_question}\n" if earlier_question else ""
    user = f"Sources:\n{format_sources(passages)}\n\n{context}Question: {question}"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
