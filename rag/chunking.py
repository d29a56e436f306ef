"""Documents -> Chunks on sentence boundaries, with exact character offsets."""

from __future__ import annotations

import re
from collections.abc import Sequence

from .types import Chunk, Document

# A sentence ends at . ! ? or … (optionally followed by closing quotes/brackets) before
# whitespace and an opening capital, digit, quote or bullet.
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*(?=\s+[\"'“‘(\[•A-Z0-9])")
# A section or item number opening a line ("14.", "6.5.", "IV.", "b."), not a sentence.
_ENUMERATOR = re.compile(r"\s*(?:\d{1,3}(?:\.\d{1,3})*|[IVX]{1,5}|[a-z])\.")
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
            if cut == lo and _ENUMERATOR.fullmatch(text, lo, m.start()):
                continue  # "14. Revised Versions of this License.": the number is its start
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
    never starts mid-sentence unless one sentence alone is longer than ``size``. A heading
    (or an API signature) starts a new chunk, without overlap, once the chunk holds a
    quarter of ``size``: a chunk is then about one thing, and its heading path says which.
    """
    if overlap >= size:
        raise ValueError(f"chunk overlap ({overlap}) must be smaller than chunk size ({size})")
    units: list[tuple[int, int]] = []
    for lo, hi in sentence_spans(doc.text):
        units.extend(_split_long(doc.text, lo, hi, size) if hi - lo > size else [(lo, hi)])
    starts = {at for at, _, _ in doc.headings}

    chunks: list[Chunk] = []
    i = 0
    path = _HeadingPath(doc.headings)
    while i < len(units):
        j = i + 1
        while (j < len(units) and units[j][1] - units[i][0] <= size
               and not (units[j][0] in starts and units[j][0] - units[i][0] >= size // 4)):
            j += 1
        start, end = units[i][0], units[j - 1][1]
        chunks.append(Chunk(doc.doc_id, f"{doc.doc_id}#{len(chunks)}", start, end,
                            doc.text[start:end], path.at(start)))
        if j >= len(units):
            break
        if units[j][0] in starts:
            i = j
            continue
        # Step back over whole sentences that fit in the overlap, but always move forward.
        k = j
        while k - 1 > i and units[j - 1][1] - units[k - 1][0] <= overlap:
            k -= 1
        i = k
    return chunks


HEADING_MAX_CHARS = 200


class _HeadingPath:
    """The headings in force at an offset, outermost first: "Title › Section › f()".

    A heading holds until the next one of its level or above; a <dt> term (level 7) until
    the next heading of any level. Offsets are asked in increasing order.
    """

    def __init__(self, headings: Sequence[tuple[int, int, str]]) -> None:
        self.headings = sorted(headings)
        self.next = 0
        self.open: list[tuple[int, int, str]] = []  # (offset, level, text), levels increasing

    def at(self, offset: int) -> str:
        """The path at ``offset``; a heading that starts there is in the text, not the path."""
        while self.next < len(self.headings) and self.headings[self.next][0] <= offset:
            at, level, text = self.headings[self.next]
            while self.open and self.open[-1][1] >= level:
                self.open.pop()
            self.open.append((at, level, " ".join(text.split())))
            self.next += 1
        path = " › ".join(text for at, _, text in self.open if at != offset)
        return path if len(path) <= HEADING_MAX_CHARS else "…" + path[-HEADING_MAX_CHARS:]
