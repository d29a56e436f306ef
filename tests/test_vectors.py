"""Vector index choice, tuning and persistence (real FAISS, synthetic clustered vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from rag import vectors as vx
from rag.bench import synthetic_vectors
from rag.index import Index, update_index


def test_auto_is_exact_up_to_the_threshold_then_ivf():
    assert vx.choose_kind("auto", 100, 100) == "flat"
    assert vx.choose_kind("auto", 101, 100) == "ivf"
    assert vx.choose_kind("hnsw", 10, 100) == "hnsw"
    with pytest.raises(ValueError, match="not one of"):
        vx.choose_kind("annoy", 10, 100)


@pytest.mark.parametrize("kind", ["ivf", "hnsw"])
def test_approximate_index_is_tuned_to_the_recall_target(kind):
    data = synthetic_vectors(20_000, d=64, seed=3)
    index, params = vx.build(data, kind, recall_target=0.95)
    assert params["tuned_recall_at_10"] >= 0.95
    # Held-out queries, not the ones it was tuned on.
    queries = vx.sample_queries(data, 200, seed=99)
    _, found = index.search(queries, 10)
    assert vx.recall_at_k(found, vx.exact_neighbours(data, queries, 10)) >= 0.93
    # Rows read back in order: incremental updates reuse them.
    np.testing.assert_allclose(vx.reconstruct_all(index)[[0, 777, 19_999]],
                               data[[0, 777, 19_999]], atol=1e-6)


def test_tuning_stops_at_the_smallest_breadth_that_reaches_the_target():
    data = synthetic_vectors(20_000, d=64, seed=4)
    loose, p_loose = vx.build(data, "ivf", recall_target=0.5)
    tight, p_tight = vx.build(data, "ivf", recall_target=0.99)
    assert p_loose["nprobe"] < p_tight["nprobe"]
    assert loose.nprobe == p_loose["nprobe"]


def test_recall_at_k_counts_shared_ids():
    exact = np.array([[1, 2, 3, 4], [5, 6, 7, 8]])
    found = np.array([[4, 3, 9, -1], [5, 6, 7, 8]])
    assert vx.recall_at_k(found, exact) == pytest.approx((2 / 4 + 4 / 4) / 2)


def test_index_switches_type_past_the_threshold_without_re_embedding(settings, embedder):
    index, _ = update_index(settings, embedder)
    assert index.manifest.index_type == "flat"
    n = len(index)
    embedded = len(embedder.embedded)
    small = settings.with_overrides(exact_max_chunks=n - 1)
    index, changes = update_index(small, embedder)
    assert changes.reindexed == "ivf" and changes.chunks_embedded == 0
    assert len(embedder.embedded) == embedded  # nothing embedded again
    assert index.manifest.index_type == "ivf" and index.manifest.index_params["nprobe"] >= 1
    loaded = Index.load(settings.index_dir)
    assert loaded.vectors.nprobe == index.manifest.index_params["nprobe"]
    # The same top hit as exact search for a chunk's own vector.
    vec = loaded.all_vectors()[5]
    assert loaded.search_vectors(vec, 1)[0][0] == 5
    # And back to exact when asked.
    index, changes = update_index(small.with_overrides(index_type="flat"), embedder)
    assert changes.reindexed == "flat" and index.manifest.index_type == "flat"
