"""Markdown for the reports `rag bench` and `rag eval` write (BENCHMARKS.md, report.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

Align = Literal["left", "center", "right"] | None  # None: the renderer's default
_RULES = {None: "---", "left": ":---", "center": ":---:", "right": "---:"}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[str]],
                   align: Sequence[Align] | None = None) -> str:
    """A pipe table, one line per row, without a final newline. Cells are written as
    given: a cell holding ``|`` or a line break must be escaped by the caller."""
    rules = [_RULES[a] for a in (align or [None] * len(headers))]
    if len(rules) != len(headers):
        raise ValueError(f"{len(headers)} columns but {len(rules)} alignments")
    lines = [_row(headers), "|" + "|".join(rules) + "|"]
    lines += [_row(r) for r in rows]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"
