"""The FAISS index of chunk vectors: exact search for small corpora, approximate above that.

``auto`` picks exact inner-product search (``flat``) up to ``exact_max`` vectors and an
inverted-file index (``ivf``) above. Approximate indexes are tuned when built: the
smallest search breadth (IVF ``nprobe``, HNSW ``efSearch``) whose recall@10 against
exact search reaches the target on sample queries is chosen and recorded in the
manifest, so the speed/recall trade-off is measured, not guessed.
"""

from __future__ import annotations

import math
from typing import Any, get_args

import numpy as np

from .config import IndexType

KINDS = get_args(IndexType)
TUNING_QUERIES = 500
TUNING_K = 10


def choose_kind(requested: str, n: int, exact_max: int) -> str:
    """The index type for ``n`` vectors: ``requested`` unless it is ``auto``."""
    if requested not in KINDS:
        raise ValueError(f"index type {requested!r} is not one of {', '.join(KINDS)}")
    if requested != "auto":
        return requested
    return "flat" if n <= exact_max else "ivf"


def build(vectors: np.ndarray, kind: str, recall_target: float = 0.98,
          seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """A FAISS index of ``kind`` holding ``vectors`` (row i is id i), and its parameters."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    if kind == "flat" or n == 0:
        index = faiss.IndexFlatIP(d)
        index.add(vectors)
        return index, {}
    if kind == "ivf":
        # About 2·√n lists of ~√n/2 vectors; faiss wants >= 39 training points per list.
        nlist = max(1, min(n // 39, int(2 * math.sqrt(n))))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(seed)
        train = vectors if n <= 50 * nlist else vectors[rng.choice(n, 50 * nlist, replace=False)]
        index.cp.seed = seed
        index.cp.niter = 10  # k-means iterations: the nprobe tuning below absorbs the rest
        index.train(train)
        index.add(vectors)
        index.make_direct_map()  # so rows can be read back for incremental updates
        breadths = [b for b in (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
                    if b < nlist] + [nlist]
        breadth, recall = _tune(index, vectors, "nprobe", breadths, recall_target, seed)
        return index, {"nlist": nlist, "nprobe": breadth, "tuned_recall_at_10": recall}
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.add(vectors)
        breadth, recall = _tune(index, vectors, "efSearch", [16, 24, 32, 48, 64, 96, 128,
                                                            192, 256, 384, 512],
                                recall_target, seed)
        return index, {"M": 32, "efSearch": breadth, "tuned_recall_at_10": recall}
    raise ValueError(f"index type {kind!r} is not one of flat, ivf, hnsw")


def configure(index: Any, params: dict[str, Any]) -> None:
    """Apply the recorded search breadth to a loaded index."""
    if "nprobe" in params:
        index.nprobe = int(params["nprobe"])
    if "efSearch" in params:
        index.hnsw.efSearch = int(params["efSearch"])


def reconstruct_all(index: Any) -> np.ndarray:
    """Every stored vector, in row order."""
    if index.ntotal == 0:
        return np.zeros((0, index.d), dtype=np.float32)
    return index.reconstruct_n(0, index.ntotal)


def sample_queries(vectors: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """Queries near the data but not on it: stored vectors plus noise of the same norm
    (cosine about 0.7 to their source), normalised."""
    rng = np.random.default_rng(seed + 1)
    rows = rng.choice(len(vectors), min(count, len(vectors)), replace=False)
    noise = rng.standard_normal((len(rows), vectors.shape[1])).astype(np.float32)
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    q = vectors[rows] + noise
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def exact_neighbours(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    """Row ids of the exact ``k`` nearest vectors by inner product (no index built)."""
    import faiss

    _, ids = faiss.knn(queries, vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
    return ids


def recall_at_k(found: np.ndarray, exact: np.ndarray) -> float:
    """Mean share of the exact top-k that the approximate search found."""
    k = exact.shape[1]
    hits = [len(set(f[f >= 0].tolist()) & set(e.tolist())) for f, e in zip(found, exact,
                                                                           strict=True)]
    return float(np.mean(hits)) / k


def _tune(index: Any, vectors: np.ndarray, knob: str, breadths: list[int],
          target: float, seed: int) -> tuple[int, float]:
    k = min(TUNING_K, len(vectors))
    queries = sample_queries(vectors, TUNING_QUERIES, seed)
    exact = exact_neighbours(vectors, queries, k)
    recall = 0.0
    for b in breadths:
        configure(index, {knob: b})
        _, found = index.search(queries, k)
        recall = recall_at_k(found, exact)
        if recall >= target:
            return b, round(recall, 4)
    return breadths[-1], round(recall, 4)
