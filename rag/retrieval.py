"""Retrieval: dense (FAISS inner product), lexical (BM25 via bm25s), fused by reciprocal rank
(each retriever's first pick kept). In hybrid mode a third vote, the share of the query's
rare terms each candidate holds, chooses which passages are read; the two-way fusion still
orders them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .text import content_terms
from .types import Passage

if TYPE_CHECKING:
    from .config import RetrievalMode
    from .corpus import Corpus
    from .embedding import Embedder


class LexicalIndex:
    """BM25 over the chunk texts (bm25s): built when a FAISS generation is written, saved in
    it, and loaded memory-mapped instead of rebuilt at every start."""

    def __init__(self, bm25, n: int) -> None:
        self.bm25 = bm25
        self.n = n
        self.vocab: dict[str, int] = bm25.vocab_dict
        self._indptr = np.asarray(bm25.scores["indptr"])

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        bm25s = _bm25s()
        bm25 = bm25s.BM25()
        # bm25s wants every document non-empty; a placeholder token matches no query.
        bm25.index([content_terms(t) or ["\x00"] for t in texts], show_progress=False)
        return cls(bm25, len(texts))

    def save(self, folder: Path) -> None:
        self.bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path, n: int) -> LexicalIndex:
        bm25 = _bm25s().BM25.load(str(folder), mmap=True)
        if int(bm25.scores.get("num_docs", n)) != n:
            raise ValueError(f"BM25 holds {bm25.scores.get('num_docs')} chunks, not {n}")
        return cls(bm25, n)

    def share(self, term: str) -> float:
        """The fraction of chunks that hold ``term`` (a content term, stemmed)."""
        i = self.vocab.get(term)
        if i is None:
            return 0.0
        return int(self._indptr[i + 1] - self._indptr[i]) / max(1, self.n)

    def scores(self, query: str) -> np.ndarray:
        terms = [t for t in content_terms(query) if t in self.vocab]
        if not terms:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)

    def top(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, score) of the ``k`` best chunks with a positive score."""
        scores = self.scores(query)
        k = min(k, len(scores))
        if k <= 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        order = best[np.lexsort((best, -scores[best]))]
        return [(int(i), float(scores[i])) for i in order if scores[i] > 0]


def _bm25s():
    import logging

    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import
    return bm25s


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: sum of 1/(k + rank) over the rankings (rank from 1)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


def coverage_ranking(corpus: Corpus, query: str,
                     candidates: Sequence[tuple[int, float]]) -> list[int]:
    """The candidates (rows, best first) ranked by the share of the query's terms each
    holds, a term weighed by its rarity in the corpus (-log of the share of chunks holding
    it); ties keep the candidates' order. Empty when no query term tells chunks apart (none
    is in the corpus, or each is in every chunk).

    BM25 saturates on a term repeated and favours short chunks, and a sentence embedding
    blurs rare names: both may rank a chunk that holds one of the query's terms many times
    above the one that holds all of them ("What exception do I get when I call zip() with
    strict=True and one of the iterables is shorter?": the chunk that says it raises a
    ValueError was fifth, behind other chunks on zip()).
    As a vote fused with the two, coverage lifts such a chunk without overruling either.
    """
    weights = {t: -math.log(share) for t in set(content_terms(query))
               if 0 < (share := corpus.term_share(t)) < 1}
    total = sum(weights.values())
    if not total:
        return []
    chunks = corpus.index.chunks
    held = {}
    for row, _ in candidates:
        terms = set(content_terms(chunks[row].search_text))
        held[row] = sum(w for t, w in weights.items() if t in terms) / total
    return sorted(held, key=lambda row: -held[row])


def _firsts_first(fused: list[tuple[int, float]], firsts: set[int]) -> list[tuple[int, float]]:
    return [(i, s) for i, s in fused if i in firsts] + [(i, s) for i, s in fused
                                                        if i not in firsts]


@dataclass(frozen=True)
class Retriever:
    """Finds the passages of a corpus that best match a query. Holds no index: one
    Retriever serves every generation of the corpus."""

    embedder: Embedder | None  # None only in "bm25" mode
    mode: RetrievalMode = "hybrid"
    rrf_k: int = 60
    candidates: int = 20  # per retriever, before fusion

    def search(self, corpus: Corpus, query: str, top_k: int) -> list[Passage]:
        index = corpus.index
        n = len(index)
        depth = min(n, max(self.candidates, top_k))
        dense: dict[int, float] = {}
        lexical: dict[int, float] = {}
        rankings: list[list[int]] = []
        # Both searches run in the index's store (FAISS and BM25 files, or Qdrant's dense
        # and sparse vectors); the fusion below is the same for every store.
        if self.mode in ("dense", "hybrid"):
            qv = self.embedder.embed_query(query)  # type: ignore[union-attr]
            hits = index.search_vectors(qv, depth)
            dense = dict(hits)
            rankings.append([i for i, _ in hits])
        if self.mode in ("bm25", "hybrid"):
            hits = index.search_terms(query, depth)
            lexical = dict(hits)
            rankings.append([i for i, _ in hits])
        if self.mode == "dense":
            ranked = chosen = [(i, s) for i, s in dense.items()]
        elif self.mode == "bm25":
            ranked = chosen = [(i, lexical[i]) for i in rankings[0]]
        else:
            # Each retriever's first pick is kept: a chunk that BM25 alone ranks first (an
            # exact term such as "EAFP") is not outvoted by chunks both rank fifth.
            firsts = {r[0] for r in rankings if r}
            fused = rrf(rankings, self.rrf_k)
            ranked = _firsts_first(fused, firsts)
            # Which chunks are read: a third vote joins the two, how much of the query each
            # candidate holds (coverage_ranking).
            voted = rrf(rankings + [coverage_ranking(corpus, query, fused)], self.rrf_k)
            chosen = _firsts_first(voted, firsts)
        picked: list[int] = []
        seen: set[str] = set()
        for row, _ in chosen:
            if len(picked) == top_k:
                break
            # The same text on several pages (a repeated notice, a contents list) is one
            # passage, not several places in a short context.
            key = " ".join(index.chunks[row].text.split())
            if key in seen:
                continue
            seen.add(key)
            picked.append(row)
        # In the retrievers' order: the vote changes which chunks are read, not where each
        # stands. The model reads the first passages most: reordering the same four (39
        # questions of 222 on six gold sets) made three right answers wrong, none right.
        position = {row: n for n, (row, _) in enumerate(ranked)}
        score = dict(ranked)
        picked.sort(key=lambda row: position.get(row, len(position)))
        out: list[Passage] = []
        for row in picked:
            chunk = index.chunks[row]
            out.append(Passage(chunk, index.title(chunk.doc_id), score.get(row, 0.0),
                               dense_score=dense.get(row), lexical_score=lexical.get(row)))
        return out
