"""Fixtures: deterministic fakes for fast unit tests, and paths pointed at tmp_path."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

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

    def stream(self, messages, max_tokens: int = 256) -> Iterator[str]:  # noqa: ANN001
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
