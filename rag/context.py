"""The context the model reads: the retrieved passages, cut to the sentences that matter.

On a CPU the prompt's length sets the answer time (about 100 prompt tokens per second for
the default model), so every sentence the model reads must earn its place.

``chunks`` gives the model the retrieved chunks as they are. ``sentences`` keeps, in each
passage, the run of sentences from the first to the last one sharing a content word with
the question, and drops a
passage whose kept text an earlier passage already holds (overlapping chunks). A passage
with no such sentence is kept whole: dense retrieval found it for a reason the word
match cannot see.

Discourse rules keep the kept text readable on its own, and they work on the document,
not the chunk, so neither this cut nor the chunker's cut loses who is speaking:

- a first sentence that opens with "This", "He", "It"... keeps the sentence before it;
- a quotation is one unit: kept text that starts inside a quotation starts where it opens,
  and a quotation open at the end of the kept text is kept to its close, or to the
  chunk's end;
- the attribution of a quotation stays with it: the "X said:" sentence that introduces it,
  and, when only a pronoun names the speaker ("…,” he told JAMnews."), the sentence before;
- a sentence ending in a colon keeps what it introduces, and so does a heading or a
  definition's term ("EAFP" keeps "Easier to ask for forgiveness than permission.").

The rules reach whole sentences at most MAX_REACH characters beyond the chunk.
The kept text is still one exact span of the document, so citations keep pointing at
exact characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import get_args

from .chunking import sentence_spans
from .citations import SPEECH
from .config import ContextMode
from .text import content_terms, open_quote, word_keys
from .types import Chunk, Document, Passage

MODES = get_args(ContextMode)
SENTENCES_AFTER = 0  # 1 kept no more gold evidence, at 13% more context
# Characters a discourse rule may add beyond the chunk, each side: an attribution line or a
# short quotation's opening, not a long quotation read back to its start (measured on the
# article: 600 put the matching sentence at the end of long passages the model then missed).
MAX_REACH = 300
QUOTE_SCAN = 5000  # characters before a sentence searched for the quotation it is in
COMMON_SHARE = 0.2  # a question word in this share of the chunks or more picks no sentence


def select(question: str, passages: Sequence[Passage], mode: str = "sentences",
           documents: Mapping[str, Document] | None = None,
           term_share: Callable[[str], float] | None = None) -> list[Passage]:
    """The passages to put in the prompt, in rank order.

    ``documents`` (doc_id -> Document) lets the discourse rules reach beyond a chunk, and
    passages of one document that overlap or touch merge into one. ``term_share(term)``, the share
    of the corpus' chunks that hold a term, tells which question words are distinctive: a
    sentence is kept for a word that fewer than COMMON_SHARE of the chunks hold ("Peskov"
    in an article about Russia, not "Russia"), unless the passage has no such sentence.
    """
    if mode == "chunks":
        return list(passages)
    if mode != "sentences":
        raise ValueError(f"context mode {mode!r} is not one of {', '.join(MODES)}")
    terms = set(content_terms(question))
    distinctive = ({t for t in terms if term_share(t) < COMMON_SHARE}
                   if term_share is not None else set())
    out: list[Passage] = []
    for p in passages:
        doc = documents.get(p.chunk.doc_id) if documents else None
        heads = frozenset(at for at, _, _ in doc.headings) if doc else frozenset()
        trimmed = (_trim(p, distinctive, doc.text if doc else None, heads) if distinctive
                   else p)
        if trimmed is p:  # no sentence with a distinctive word: any word of the question
            trimmed = _trim(p, terms, doc.text if doc else None, heads)
        c = trimmed.chunk
        if any(o.chunk.doc_id == c.doc_id and o.chunk.start <= c.start and c.end <= o.chunk.end
               for o in out):
            continue  # an earlier passage already holds these sentences
        same = doc is not None and doc.text[c.start : c.end] == c.text
        overlap = (next((i for i, o in enumerate(out) if o.chunk.doc_id == c.doc_id
                         and doc.text[o.chunk.start : o.chunk.end] == o.chunk.text
                         and _touch(doc.text, o.chunk, c)), None) if same else None)
        if overlap is not None:
            # One span of the document, read once, at the rank of the earlier passage: the
            # quotation in one and the line naming its speaker in the other come together.
            o = out[overlap].chunk
            lo, hi = min(o.start, c.start), max(o.end, c.end)
            out[overlap] = replace(out[overlap], chunk=replace(o, start=lo, end=hi,
                                                               text=doc.text[lo:hi]))
            continue
        out.append(trimmed)
    return out


def _touch(text: str, a: Chunk, b: Chunk) -> bool:
    """Whether two spans of ``text`` overlap or only whitespace lies between them."""
    lo, hi = (a, b) if a.start <= b.start else (b, a)
    return hi.start <= lo.end or not text[lo.end : hi.start].strip()


_BACK_REFERENCES = frozenset(
    "this that these those it its he she his her they their them such there here both".split())
# The pronoun attribution of a quotation: "…,” he told JAMnews." / "“…,” said she."
_PRONOUN_ATTRIBUTION = re.compile(rf"[”\"]\s*,?\s*(?:(?:he|she|they)\s+{SPEECH}|{SPEECH}\s+"
                                  r"(?:he|she|they))\b", re.IGNORECASE)
_OPENING = "“«\""


def _refers_back(sentence: str) -> bool:
    """Whether a sentence opens with a word that points at the one before it."""
    first = sentence.lstrip("“\"'‘•- ").split(" ", 1)[0].strip(",.:;").lower()
    return first in _BACK_REFERENCES


def _trim(p: Passage, terms: set[str], doc_text: str | None = None,
          heads: frozenset[int] = frozenset()) -> Passage:
    c = p.chunk
    if doc_text is None or doc_text[c.start : c.end] != c.text:
        text, base = c.text, 0  # the chunk alone: the rules stop at its edges
        window = (0, len(c.text))
        heads = frozenset()  # document offsets, which the chunk's text does not have
    else:
        text, base = doc_text, c.start
        window = _line_aligned(doc_text, max(0, c.start - MAX_REACH),
                               min(len(doc_text), c.end + MAX_REACH))
    # Whole sentences only, and none that starts or ends farther than MAX_REACH out.
    spans = [(lo, hi) for lo, hi in sentence_spans(text, *window)
             if lo >= base - MAX_REACH and hi <= base + len(c.text) + MAX_REACH]
    inside = [i for i, (lo, hi) in enumerate(spans)
              if base <= lo and hi <= base + len(c.text)]
    hits = [i for i in inside if word_keys(text[spans[i][0] : spans[i][1]]) & terms]
    if not hits:
        return p
    first, last = hits[0], min(inside[-1], hits[-1] + SENTENCES_AFTER)
    first, last = _discourse(text, spans, first, last, inside[-1], heads)
    lo, hi = spans[first][0], spans[last][1]
    if (lo, hi) == (c.start, c.end) and base:
        return p
    if not base and (lo, hi) == (0, len(c.text)):
        return p
    start, end = (lo, hi) if base else (c.start + lo, c.start + hi)
    chunk = replace(c, start=start, end=end, text=text[lo:hi])
    return replace(p, chunk=chunk)


def _line_aligned(text: str, lo: int, hi: int) -> tuple[int, int]:
    """Widen [lo, hi) to whole lines, so that sentences are split as in the chunker, but
    by MAX_REACH at most (a megabyte on one line is not split for every question; a
    sentence cut at the window's edge lies beyond the reach and is never kept)."""
    start = max(text.rfind("\n", max(0, lo - MAX_REACH), lo) + 1, lo - MAX_REACH, 0)
    end = text.find("\n", hi, hi + MAX_REACH + 1)
    return start, min(len(text), hi + MAX_REACH + 1) if end < 0 else end


def _discourse(text: str, spans: list[tuple[int, int]], first: int, last: int,
               chunk_last: int, heads: frozenset[int] = frozenset()) -> tuple[int, int]:
    """Widen sentences ``first..last`` of ``text`` by the discourse rules (module doc);
    ``chunk_last`` is the chunk's last sentence, ``heads`` the offsets in ``text`` where
    the document's headings (and definition terms) start."""
    def sentence(i: int) -> str:
        return text[spans[i][0] : spans[i][1]]

    # "This is the only road ..." needs the sentence that says what "this" is.
    while first > 0 and _refers_back(sentence(first)):
        first -= 1
    # Starting inside a quotation: go back to where it opens (the text from the start of
    # the quotation's line to here has more opening than closing marks).
    # (Counted over the line, or its last QUOTE_SCAN characters on a huge one.)
    line_start = text.rfind("\n", max(0, spans[first][0] - QUOTE_SCAN), spans[first][0]) + 1
    line_start = line_start or max(0, spans[first][0] - QUOTE_SCAN)
    while first > 0 and spans[first - 1][0] >= line_start and open_quote(
            text[line_start : spans[first][0]]):
        first -= 1
    # A quotation keeps what introduces it: "Peskov said:" on the line or sentence before.
    if (first > 0 and sentence(first)[:1] in _OPENING
            and sentence(first - 1).endswith(":")):
        first -= 1
    # A quotation is one unit, and a sentence ending in a colon keeps what it introduces;
    # past the chunk's end only the latter, one sentence: a long quotation is not read to
    # its end for one matching sentence (its speaker is found going back, above).
    while last + 1 < len(spans) and (
            (last + 1 <= chunk_last and open_quote(text[spans[first][0] : spans[last][1]]))
            or sentence(last).endswith(":") or spans[last][0] in heads):
        last += 1
    # "…,” he told JAMnews.": the sentence before the quotation names who "he" is.
    kept = text[spans[first][0] : spans[last][1]]
    if first > 0 and _PRONOUN_ATTRIBUTION.search(kept) and sentence(first)[:1] in _OPENING:
        first -= 1
    return first, last
