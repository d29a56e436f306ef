"""Retrieval: dense (FAISS inner product), lexical (BM25 via bm25s), fused by reciprocal rank
(each retriever's first pick kept)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .text import content_terms
from .types import Passage

if TYPE_CHECKING:
    from .config import RetrievalMode
    from .corpus import Corpus
    from .embedding import Embedder


class LexicalIndex:
    """BM25 over the chunk texts, built in memory from the chunk store (fast: bm25s)."""

    def __init__(self, texts: Sequence[str]) -> None:
        import logging

        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it sets DEBUG on import

        self.n = len(texts)
        tokens = [content_terms(t) for t in texts]
        self.chunks_with: Counter[str] = Counter(t for doc in tokens for t in set(doc))
        self.vocab = set(self.chunks_with)
        self.bm25 = bm25s.BM25()
        # bm25s wants every document non-empty; a placeholder token matches no query.
        self.bm25.index([doc or ["\x00"] for doc in tokens], show_progress=False)

    def share(self, term: str) -> float:
        """The fraction of chunks that hold ``term`` (a content term, stemmed)."""
        return self.chunks_with.get(term, 0) / max(1, self.n)

    def scores(self, query: str) -> np.ndarray:
        terms = [t for t in content_terms(query) if t in self.vocab]
        if not terms:
            return np.zeros(self.n, dtype=np.float32)
        return np.asarray(self.bm25.get_scores(terms), dtype=np.float32)


def rrf(rankings: Sequence[Sequence[int]], k: int = 60) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: sum of 1/(k + rank) over the rankings (rank from 1)."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda kv: (-kv[1], kv[0]))


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
        if self.mode in ("dense", "hybrid"):
            qv = self.embedder.embed_query(query)  # type: ignore[union-attr]
            hits = index.search_vectors(qv, depth)
            dense = dict(hits)
            rankings.append([i for i, _ in hits])
        if self.mode in ("bm25", "hybrid"):
            scores = corpus.lexical.scores(query)
            order = [int(i) for i in np.argsort(-scores, kind="stable")[:depth] if scores[i] > 0]
            lexical = {i: float(scores[i]) for i in order}
            rankings.append(order)
        if self.mode == "dense":
            ranked = [(i, s) for i, s in dense.items()]
        elif self.mode == "bm25":
            ranked = [(i, lexical[i]) for i in rankings[0]]
        else:
            # Each retriever's first pick is kept: a chunk that BM25 alone ranks first (an
            # exact term such as "EAFP") is not outvoted by chunks both rank fifth.
            fused = rrf(rankings, self.rrf_k)
            firsts = {r[0] for r in rankings if r}
            ranked = ([(i, s) for i, s in fused if i in firsts]
                      + [(i, s) for i, s in fused if i not in firsts])
        out: list[Passage] = []
        seen: set[str] = set()
        for row, score in ranked:
            if len(out) == top_k:
                break
            chunk = index.chunks[row]
            # The same text on several pages (a repeated notice, a contents list) is one
            # passage, not several places in a short context.
            key = " ".join(chunk.text.split())
            if key in seen:
                continue
            seen.add(key)
            out.append(Passage(chunk, index.title(chunk.doc_id), score,
                               dense_score=dense.get(row), lexical_score=lexical.get(row)))
        return out
