"""Documents -> Chunks on sentence boundaries, with exact character offsets."""

from __future__ import annotations

import re

from .types import Chunk, Document

# A sentence ends at . ! ? or … (optionally followed by closing quotes/brackets) before
# whitespace and an opening capital, digit, quote or bullet.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*(?=\s+[\"'“‘(\[•A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "ms", "dr", "prof", "st", "jr", "sr", "vs", "etc", "e.g", "i.e",
                  "u.s", "u.k", "no", "sept", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
                  "oct", "nov", "dec", "gen", "col", "lt", "gov", "sen", "rep"}


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences in ``text[start:end]``, whitespace trimmed.

    Line breaks always end a sentence (headings, list items, datelines stand alone).
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        lo = start + line.start()
        hi = start + line.end()
        cut = lo
        for m in _SENTENCE_END.finditer(text, lo, hi):
            word = re.search(r"([\w.]+)\.$", text[cut : m.start()])
            if word and word.group(1).lower() in _ABBREVIATIONS:
                continue
            _add_trimmed(text, cut, m.end(), spans)
            cut = m.end()
        _add_trimmed(text, cut, hi, spans)
    return spans


def _add_trimmed(text: str, lo: int, hi: int, out: list[tuple[int, int]]) -> None:
    while lo < hi and text[lo].isspace():
        lo += 1
    while hi > lo and text[hi - 1].isspace():
        hi -= 1
    if hi > lo:
        out.append((lo, hi))


def _split_long(text: str, lo: int, hi: int, size: int) -> list[tuple[int, int]]:
    """Split a span longer than ``size`` at word boundaries."""
    parts: list[tuple[int, int]] = []
    while hi - lo > size:
        cut = text.rfind(" ", lo + 1, lo + size)
        if cut <= lo:
            cut = lo + size
        _add_trimmed(text, lo, cut, parts)
        lo = cut
    _add_trimmed(text, lo, hi, parts)
    return parts


def chunk_document(doc: Document, size: int, overlap: int) -> list[Chunk]:
    """Pack whole sentences into chunks of at most ``size`` characters.

    Consecutive chunks share trailing sentences of up to ``overlap`` characters. A chunk
    never starts mid-sentence unless one sentence alone is longer than ``size``.
    """
    if overlap >= size:
        raise ValueError(f"chunk overlap ({overlap}) must be smaller than chunk size ({size})")
    units: list[tuple[int, int]] = []
    for lo, hi in sentence_spans(doc.text):
        units.extend(_split_long(doc.text, lo, hi, size) if hi - lo > size else [(lo, hi)])

    chunks: list[Chunk] = []
    i = 0
    while i < len(units):
        j = i + 1
        while j < len(units) and units[j][1] - units[i][0] <= size:
            j += 1
        start, end = units[i][0], units[j - 1][1]
        chunks.append(
            Chunk(doc.doc_id, f"{doc.doc_id}#{len(chunks)}", start, end, doc.text[start:end])
        )
        if j >= len(units):
            break
        # Step back over whole sentences that fit in the overlap, but always move forward.
        k = j
        while k - 1 > i and units[j - 1][1] - units[k - 1][0] <= overlap:
            k -= 1
        i = k
    return chunks

