"""`rag bench --quick` runs every part and writes its tables (not how fast they were)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from rag.bench import Table, spread

from .conftest import ARTICLE, ROOT

PARTS = ["1. Answer latency", "2. Context budget", "3. Indexing throughput",
         "4. Vector search at scale", "5. Cold start", "6. `rag serve` under load",
         "7. Generator backends", "8. Scale: cold start"]


def test_table_markdown_and_spread():
    t = Table("k", "Title", ["a", "b"], [["x", "1.0"]], ["a note"])
    assert t.markdown() == "## Title\n\n| a | b |\n|---|---:|\n| x | 1.0 |\n\n- a note\n"
    assert spread([3.0, 1.0, 2.0], " s") == "2.00 s (1.00-3.00)"
    assert spread([]) == "-"


@pytest.mark.integration
def test_quick_bench_writes_all_eight_tables(tmp_path):
    (tmp_path / "documents").mkdir()
    shutil.copy(ARTICLE, tmp_path / "documents" / ARTICLE.name)
    env = {**os.environ, "RAG_DOCUMENTS_DIR": str(tmp_path / "documents"),
           "RAG_INDEX_DIR": str(tmp_path / "index"), "PYTHONPATH": str(ROOT)}
    out = tmp_path / "BENCHMARKS.md"
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "bench", "--quick", "--out",
                           str(out)], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    for title in PARTS:
        assert f"## {title}" in text
    assert "Machine:" in text and "rag bench --quick" in text
    raw = json.loads(out.with_suffix(".json").read_text())
    tables = raw["tables"]
    assert set(tables) == {"answer", "context", "indexing", "retrieval", "cold", "server",
                           "backends", "scale"}
    # Every ratio is a number, not a placeholder.
    assert tables["answer"]["data"]["overall_ratio"] > 0
    assert all(r > 0 for r in tables["indexing"]["data"]["ratio"])
    sizes = tables["retrieval"]["data"]["sizes"]
    assert [s["kind"] for s in sizes] == ["flat", "ivf"]  # auto switched past the threshold
    assert all(0 <= s["recall_at_10"] <= 1 for s in sizes)
    assert sizes[0]["recall_at_10"] == 1.0  # exact search is exact
    assert len(tables["cold"]["data"]["first_token_s"]) == 2
    levels = tables["server"]["data"]["levels"]
    assert levels[0]["errors"] == 0 and len(levels[0]["latencies_s"]) == 3
    assert levels[1]["errors"] == 0  # the small queue rejects (429), never fails
    assert len(levels[1]["latencies_s"]) + levels[1]["rejected"] == 6
    # Both generator backends answered every request; both stores started cold.
    for backend in ("local", "openai"):
        r = tables["backends"]["data"]["results"][backend]
        assert r["errors"] == 0 and r["rejected"] == 0 and len(r["latencies_s"]) == 2
    stores = tables["scale"]["data"]["stores"]
    assert set(stores) == {"faiss", "qdrant"}
    for x in stores.values():
        assert x["chunks"] > 4_000 and len(x["first_token_s"]) == 2 and x["peak_mb"][0] > 50
    configs = {c["name"]: c["aggregate"] for c in tables["context"]["data"]["configs"]}
    assert configs["sentences"]["prompt_tokens_mean"] < configs["chunks"]["prompt_tokens_mean"]
    assert re.search(r"\*\*\d+\.\d{3}×\*\*", text)  # the overhead ratio, in bold
    # The tables are printed too.
    assert "Answer latency" in proc.stdout


def test_a_partial_run_adds_its_table_to_the_report(tmp_path):
    from rag.bench import QUICK, merge_report, write_report

    out = tmp_path / "BENCHMARKS.md"
    write_report([Table("answer", "1. Answer latency", ["a"], [["1"]], [],
                        {"overall_ratio": 1.01})], out, "rag bench", QUICK, 60.0)
    corpus = Table("corpus", "9. A real corpus", ["measurement", "value"], [["chunks", "9"]],
                   [], {"ratio": 0.95, "documents": 3, "chunks": 9, "index_s": 60.0,
                        "peak_mb": 500.0})
    merge_report(out.with_suffix(".json"), out, [corpus], "rag bench --part corpus")
    text = out.read_text()
    assert text.index("## 1. Answer latency") < text.index("## 9. A real corpus")
    assert "Measured by `rag bench --part corpus`" in text
    assert "Produced by `rag bench`" in text  # the header still names the full run
    assert "✓ Real corpus: 3 documents, 9 chunks" in text


@pytest.mark.integration
def test_the_corpus_part_indexes_a_folder_in_a_new_process(tmp_path):
    from .test_documents import SPHINX_PAGE

    docs = tmp_path / "pages"
    docs.mkdir()
    for i in range(3):
        (docs / f"page{i}.html").write_text(SPHINX_PAGE.replace("itertools", f"module{i}"))
    env = {**os.environ, "RAG_INDEX_DIR": str(tmp_path / "index"), "PYTHONPATH": str(ROOT)}
    out = tmp_path / "B.md"
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "bench", "--part", "corpus",
                           "--corpus", str(docs), "--out", str(out)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(out.with_suffix(".json").read_text())["tables"]["corpus"]["data"]
    assert data["documents"] == 3 and data["chunks"] >= 3 and data["ratio"] > 0
    assert data["debris"]["¶"] == 0 and data["peak_mb"] > 50
