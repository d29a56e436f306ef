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

    def stream(self, messages, max_tokens: int = 256, cancel=None) -> Iterator[str]:
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


STORES = ["faiss", "qdrant"]  # every vector store a user can select


@pytest.fixture(params=STORES)
def store_settings(request, settings: Settings) -> Settings:
    """``settings`` on each vector store: FAISS files, and Qdrant's embedded local mode."""
    return settings.with_overrides(vector_store=request.param)


@pytest.fixture
def embedder() -> HashEmbedder:
    return HashEmbedder()


# --- real servers on 127.0.0.1: `rag serve` (in-process model or server-backed) and
# `rag llm-server` (llama-cpp-python's OpenAI-compatible server, the smallest preset) -----

SMALLEST = "smollm2-135m"


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    workdir: Path
    log: Path
    model: str = "qwen2.5-coder-1.5b"
    backend: str = "local"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args: Sequence[str], work: Path, ready_path: str, env: dict[str, str],
                 name: str = "server", timeout_s: float = 300) -> Server:
    """``python -m rag.cli ARGS --port P`` on 127.0.0.1, once GET ``ready_path`` is 200."""
    port = _free_port()
    log = work / f"{name}.log"
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "rag.cli", *args, "--port", str(port)],
                                env=full_env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + timeout_s
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}{ready_path}", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            proc.kill()
            raise AssertionError(f"{name} not ready in {timeout_s:.0f} s:\n{log.read_text()}")
        time.sleep(0.3)
    return Server(url, proc, work, log)


def article_workdir(work: Path) -> Path:
    (work / "documents").mkdir()
    shutil.copy(ARTICLE, work / "documents" / ARTICLE.name)
    return work


def serve_env(work: Path, **extra: str) -> dict[str, str]:
    return {"RAG_DOCUMENTS_DIR": str(work / "documents"), "RAG_INDEX_DIR": str(work / "index"),
            "RAG_MAX_WAITING": "3", **extra}


def start_llm_server(work: Path, model: str = SMALLEST) -> Server:
    """`rag llm-server` (llama-cpp-python's server) for ``model``; its URL ends in /v1."""
    s = start_server(["llm-server", "--model", model], work, "/v1/models", {},
                     name="llm-server")
    s.url += "/v1"
    s.model, s.backend = model, "llm-server"
    return s


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """The real pipeline (MiniLM, FAISS on disk, the default GGUF) behind uvicorn."""
    work = article_workdir(tmp_path_factory.mktemp("server"))
    s = start_server(["serve"], work, "/ready", serve_env(work))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory) -> Iterator[Server]:
    """`rag llm-server` with the smallest preset: the OpenAI-compatible backend's server."""
    s = start_llm_server(tmp_path_factory.mktemp("llm-server"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory, llm_server: Server) -> Iterator[Server]:
    """`rag serve` generating on ``llm_server`` (RAG_LLM_BACKEND=openai), 2 answers at once."""
    work = article_workdir(tmp_path_factory.mktemp("openai-server"))
    s = start_server(["serve"], work, "/ready", serve_env(
        work, RAG_LLM_BACKEND="openai", RAG_LLM_URL=llm_server.url, RAG_LLM_CONCURRENCY="2"))
    s.model, s.backend = llm_server.model, "openai"
    yield s
    s.stop()


@pytest.fixture(scope="session", params=["local", "openai"])
def any_server(request) -> Server:
    """The same `rag serve` tests through each generator backend."""
    return request.getfixturevalue("server" if request.param == "local" else "openai_server")
