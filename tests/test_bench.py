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
         "4. Vector search at scale", "5. Cold start", "6. `rag serve` under load"]


def test_table_markdown_and_spread():
    t = Table("k", "Title", ["a", "b"], [["x", "1.0"]], ["a note"])
    assert t.markdown() == "## Title\n\n| a | b |\n|---|---:|\n| x | 1.0 |\n\n- a note\n"
    assert spread([3.0, 1.0, 2.0], " s") == "2.00 s (1.00-3.00)"
    assert spread([]) == "-"


@pytest.mark.integration
def test_quick_bench_writes_all_six_tables(tmp_path):
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
    assert set(tables) == {"answer", "context", "indexing", "retrieval", "cold", "server"}
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
    configs = {c["name"]: c["aggregate"] for c in tables["context"]["data"]["configs"]}
    assert configs["sentences"]["prompt_tokens_mean"] < configs["chunks"]["prompt_tokens_mean"]
    assert re.search(r"\*\*\d+\.\d{3}×\*\*", text)  # the overhead ratio, in bold
    # The tables are printed too.
    assert "Answer latency" in proc.stdout
