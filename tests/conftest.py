"""Fixtures: deterministic fakes for fast unit tests, and paths pointed at tmp_path."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest

from rag.config import Settings
from rag.embedding import Embedder
from rag.generation import Generator

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = ROOT / "documents" / "jamnews-2023-09-07-armenia-russia.txt"


class HashEmbedder(Embedder):
    """Bag of hashed words: texts that share words get similar vectors. Counts its calls."""

    name = "hash-embedder"
    dimension = 64

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        from rag.text import content_terms

        self.embedded.extend(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for w in content_terms(text) or ["empty"]:
                h = int(hashlib.md5(w.encode()).hexdigest(), 16)
                out[i, h % self.dimension] += 1.0
        return out


class ScriptedGenerator(Generator):
    """Replays answers in order and records the messages it was given."""

    name = "scripted"

    def __init__(self, answers: Sequence[str]) -> None:
        super().__init__()
        self.answers = list(answers)
        self.calls: list[list[dict[str, str]]] = []

    def stream(self, messages, max_tokens: int = 256) -> Iterator[str]:
        self.calls.append(list(messages))
        text = self.answers.pop(0)
        for piece in text.split(" "):
            yield piece + " "
        self.last_usage = {"prompt_tokens": 100, "completion_tokens": len(text.split())}


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    d = tmp_path / "documents"
    d.mkdir()
    shutil.copy(ARTICLE, d / ARTICLE.name)
    return d


@pytest.fixture
def settings(tmp_path: Path, docs_dir: Path) -> Settings:
    return Settings(documents_dir=docs_dir, index_dir=tmp_path / "index",
                    cache_dir=tmp_path / "cache", chunk_size=400, chunk_overlap=80)


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


# --- a real `rag serve` on 127.0.0.1, shared by the server and browser tests -------------


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    workdir: Path
    log: Path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """The real pipeline (MiniLM, FAISS on disk, the default GGUF) behind uvicorn."""
    work = tmp_path_factory.mktemp("server")
    (work / "documents").mkdir()
    shutil.copy(ARTICLE, work / "documents" / ARTICLE.name)
    port = _free_port()
    log = work / "server.log"
    env = {**os.environ, "RAG_DOCUMENTS_DIR": str(work / "documents"),
           "RAG_INDEX_DIR": str(work / "index"), "RAG_MAX_WAITING": "3",
           "PYTHONPATH": str(ROOT)}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", "serve", "--port", str(port)],
                                env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert time.time() < deadline, "server not ready in 300 s:\n" + log.read_text()
        time.sleep(0.5)
    yield Server(url, proc, work, log)
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
