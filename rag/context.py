"""The context the model reads: the retrieved passages, cut to the sentences that matter.

On a CPU the prompt's length sets the answer time (about 100 prompt tokens per second for
the default model), so every sentence the model reads must earn its place.

``chunks`` gives the model the retrieved chunks as they are. ``sentences`` keeps, in each
passage, the run of sentences from the first to the last one sharing a content word with
the question, and drops a
passage whose kept text an earlier passage already holds (overlapping chunks). A passage
with no such sentence is kept whole: dense retrieval found it for a reason the word
match cannot see. Three discourse rules keep a sentence readable on its own: a first
sentence that opens with "This", "He", "It"... keeps the sentence before it; a
quotation that starts in the kept text is kept to its end; a sentence ending in a colon
keeps what it introduces. The kept text is still one exact span of the document, so
citations keep pointing at exact characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import get_args

from .chunking import sentence_spans
from .config import ContextMode
from .text import content_terms, word_keys
from .types import Passage

MODES = get_args(ContextMode)
SENTENCES_AFTER = 0  # 1 kept no more gold evidence, at 13% more context


def select(question: str, passages: Sequence[Passage], mode: str = "sentences") -> list[Passage]:
    """The passages to put in the prompt, in rank order."""
    if mode == "chunks":
        return list(passages)
    if mode != "sentences":
        raise ValueError(f"context mode {mode!r} is not one of {', '.join(MODES)}")
    terms = set(content_terms(question))
    out: list[Passage] = []
    for p in passages:
        trimmed = _trim(p, terms)
        c = trimmed.chunk
        if any(o.chunk.doc_id == c.doc_id and o.chunk.start <= c.start and c.end <= o.chunk.end
               for o in out):
            continue  # an earlier passage already holds these sentences
        out.append(trimmed)
    return out


_BACK_REFERENCES = frozenset(
    "this that these those it its he she his her they their them such there here both".split())


def _refers_back(sentence: str) -> bool:
    """Whether a sentence opens with a word that points at the one before it."""
    first = sentence.lstrip("“\"'‘•- ").split(" ", 1)[0].strip(",.:;").lower()
    return first in _BACK_REFERENCES


def _open_quote(text: str) -> bool:
    return text.count("“") > text.count("”") or text.count('"') % 2 == 1


def _trim(p: Passage, terms: set[str]) -> Passage:
    c = p.chunk
    spans = sentence_spans(c.text)
    hits = [i for i, (lo, hi) in enumerate(spans) if word_keys(c.text[lo:hi]) & terms]
    if not hits:
        return p
    first, last = hits[0], min(len(spans) - 1, hits[-1] + SENTENCES_AFTER)
    # "This is the only road ..." needs the sentence that says what "this" is.
    while first > 0 and _refers_back(c.text[spans[first][0] : spans[first][1]]):
        first -= 1
    lo = spans[first][0]
    # A quotation is one unit: "Peskov said: “A. B. C.”" keeps B and C with A, and a
    # sentence ending in a colon keeps what it introduces.
    while last + 1 < len(spans) and (_open_quote(c.text[lo : spans[last][1]])
                                     or c.text[spans[last][1] - 1] == ":"):
        last += 1
    hi = spans[last][1]
    if (lo, hi) == (0, len(c.text)):
        return p
    chunk = replace(c, start=c.start + lo, end=c.start + hi, text=c.text[lo:hi])
    return replace(p, chunk=chunk)
