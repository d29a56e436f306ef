"""The README's "Scaling out" commands, run as written (the smallest preset, a free port,
a scratch folder): an LLM server, answers generated on it, the index in Qdrant."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ARTICLE, ROOT, SMALLEST, _free_port

pytestmark = pytest.mark.integration


def blocks() -> list[str]:
    section = (ROOT / "README.md").read_text().split("## Scaling out", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)\n```", section, re.S)


def run(script: str, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    bin_dir = str(Path(sys.executable).parent)
    script = script.replace(".venv/bin/", bin_dir + "/")
    return subprocess.run(["bash", "-c", "set -e\n" + script], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout,
                          env={"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(Path.home()),
                               "PYTHONPATH": str(ROOT)})


def test_the_scaling_out_commands_work_as_written(tmp_path):
    (tmp_path / "documents").mkdir()
    shutil.copy(ARTICLE, tmp_path / "documents" / ARTICLE.name)
    first = blocks()[0]
    assert "rag llm-server" in first and "RAG_VECTOR_STORE=qdrant" in first
    port = str(_free_port())
    script = first.replace("8080", port).replace("--model qwen2.5-coder-1.5b",
                                                 f"--model {SMALLEST}")
    r = run(script, tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    # Two answers, each with its sources, generated on the server (the model's name).
    assert r.stdout.count("Sources") == 2, r.stdout
    assert r.stdout.count(f"{SMALLEST} · retrieval") == 2
    assert "Index: Qdrant collection 'rag-chunks' at index/qdrant" in r.stdout
    assert (tmp_path / "index" / "qdrant").is_dir()
    assert "Peskov" in r.stdout.split("Sources")[1]  # the first answer cites him
    assert "Traceback" not in r.stderr


def test_the_qdrant_server_commands_fail_clearly_without_a_server(tmp_path):
    """No Qdrant server runs here: the README's second block, without its `docker run`,
    stops at `rag index` with one line that names the URL."""
    (tmp_path / "documents").mkdir()
    shutil.copy(ARTICLE, tmp_path / "documents" / ARTICLE.name)
    second = blocks()[1]
    lines = [ln for ln in second.splitlines() if not ln.startswith("docker ")]
    port = _free_port()
    script = "\n".join(lines).replace("6333", str(port))
    r = run(script, tmp_path, timeout=300)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: Qdrant at http://127.0.0.1:") and str(port) in last, r.stderr
    assert "Traceback" not in r.stderr
