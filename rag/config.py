"""One settings object for the CLI and the API: flags > RAG_* environment variables > defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

# The choices of the settings below; `typing.get_args(...)` lists them where code needs them.
IndexType = Literal["auto", "flat", "ivf", "hnsw"]
RetrievalMode = Literal["hybrid", "dense", "bm25"]
ContextMode = Literal["sentences", "chunks"]
OnRefusal = Literal["ask_again", "quote", "off"]
LLMBackend = Literal["local", "openai"]
VectorStoreKind = Literal["faiss", "qdrant"]
# The most passages an answer may be given: a bracketed number above it ("[61184, 65519]")
# is never a citation.
MAX_TOP_K = 50


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "rag-local"


class Settings(BaseSettings):
    """Every knob of the pipeline, each with a default and a one-line description."""

    model_config = SettingsConfigDict(env_prefix="RAG_", extra="ignore", validate_default=True)

    documents_dir: Path = Field(Path("documents"), description="Folder of documents to index.")
    index_dir: Path = Field(Path("index"), description="Folder where the index is written.")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Folder for model files assembled from installed packages.",
    )
    max_document_chars: int = Field(
        5_000_000, ge=1000, le=1_000_000_000,
        description="Most characters of text read from one document; a larger one is "
        "skipped with a reason.",
    )
    follow_external_links: bool = Field(
        False, description="Index files that links in the documents folder lead to outside it."
    )
    embedding_model: str = Field(
        "all-minilm-l6-v2",
        description="Embedding preset name or a local sentence-transformers folder.",
    )
    embed_batch_size: int = Field(32, ge=1, le=1024, description="Chunks embedded per batch.")
    chunk_size: int = Field(400, ge=50, le=8000, description="Target chunk size in characters.")
    chunk_overlap: int = Field(
        80, ge=0, le=4000, description="Characters of whole sentences repeated between chunks."
    )
    index_type: IndexType = Field(
        "auto",
        description="FAISS index: exact (flat), IVF or HNSW; auto = flat up to "
        "RAG_EXACT_MAX_CHUNKS chunks, IVF above.",
    )
    exact_max_chunks: int = Field(
        100_000, ge=0, description="Largest corpus (in chunks) searched exactly when auto."
    )
    ann_recall_target: float = Field(
        0.98, gt=0, le=1.0,
        description="Recall@10 against exact search an approximate index is tuned to reach.",
    )
    top_k: int = Field(4, ge=1, le=MAX_TOP_K, description="Passages given to the model.")
    retrieval_mode: RetrievalMode = Field(
        "hybrid", description="Dense (FAISS), lexical (BM25) or both fused by reciprocal rank."
    )
    context: ContextMode = Field(
        "sentences",
        description="What the model reads of each passage: the sentences that match the "
        "question (sentences) or the whole chunk (chunks).",
    )
    on_refusal: OnRefusal = Field(
        "quote",
        description="When the model says the documents do not say although a passage holds "
        "the question's terms (and a value of the type it asks for): quote that passage's "
        "best sentence (quote), ask the model again with that passage alone (ask_again), or "
        "accept the refusal (off).",
    )
    rrf_k: int = Field(60, ge=1, le=1000, description="Reciprocal-rank-fusion constant.")
    model: str = Field(
        "qwen2.5-coder-1.5b",
        description="LLM preset (qwen2.5-coder-1.5b, smollm2-135m) or a path to a .gguf file.",
    )
    model_sha256: str | None = Field(
        None, description="Expected sha256 of a GGUF given by path (checked before loading)."
    )
    llama_cpu_variant: str | None = Field(
        None,
        description="llama.cpp CPU variant to load (haswell, zen4, ...); default: the best "
        "this CPU runs, AMX left out.",
    )
    # --- scale-out: generation on a server, vectors in Qdrant (docs/deploy.md) ---
    llm_backend: LLMBackend = Field(
        "local",
        description="Where answers are generated: in this process with llama.cpp (local) or "
        "on an OpenAI-compatible chat-completions server at RAG_LLM_URL (openai).",
    )
    llm_url: str | None = Field(
        None, description="Base URL of the OpenAI-compatible server, e.g. "
        "http://127.0.0.1:8080/v1 (/v1 is added when the URL has no path).",
    )
    llm_api_key: str | None = Field(None, description="Bearer key for the LLM server, if any.")
    llm_model: str | None = Field(
        None, description="Model name on the LLM server; default: the one it serves, when it "
        "serves exactly one.",
    )
    llm_concurrency: int = Field(
        4, ge=1, le=256,
        description="Answers run at once on the LLM server (its parallel slots); more wait "
        "in the queue.",
    )
    llm_timeout_s: float = Field(
        60.0, gt=0, le=3600,
        description="Longest wait for the LLM server's next bytes (connecting: 5 s).",
    )
    llm_retries: int = Field(
        3, ge=0, le=10,
        description="Retries, with backoff, when the LLM server refuses the connection or "
        "answers 408/429/5xx before the first word.",
    )
    vector_store: VectorStoreKind = Field(
        "faiss",
        description="Where chunk vectors (and the BM25 terms) live: FAISS files under "
        "RAG_INDEX_DIR, or a Qdrant collection.",
    )
    qdrant_path: Path | None = Field(
        None, description="Folder for Qdrant's embedded local mode (one process at a time); "
        "default: RAG_INDEX_DIR/qdrant when RAG_QDRANT_URL is not set.",
    )
    qdrant_url: str | None = Field(
        None, description="URL of a Qdrant server or cluster, e.g. http://127.0.0.1:6333.",
    )
    qdrant_api_key: str | None = Field(None, description="API key of the Qdrant server.")
    qdrant_collection: str = Field(
        "rag-chunks", min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.-]+$",
        description="Qdrant collection of the chunks; its documents and manifest live in "
        "'<name>-documents'.",
    )
    n_ctx: int = Field(4096, ge=512, le=131072, description="LLM context size in tokens.")
    n_threads: int = Field(
        default_factory=lambda: max(1, os.cpu_count() or 1),
        ge=1,
        le=256,
        description="CPU threads for the LLM.",
    )
    max_tokens: int = Field(256, ge=16, le=4096, description="Most tokens an answer may have.")
    temperature: float = Field(
        0.0, ge=0.0, le=2.0, description="Sampling temperature (0 = greedy)."
    )
    seed: int = Field(0, description="Sampling seed.")
    max_question_chars: int = Field(
        2000, ge=10, le=100_000, description="Longest question accepted, in characters."
    )
    history_turns: int = Field(
        4, ge=0, le=50, description="Earlier messages used to resolve a follow-up question."
    )
    progress_interval_s: float = Field(
        10.0, gt=0, le=3600,
        description="Seconds between progress lines when stderr is not a terminal.",
    )
    # --- HTTP API (rag serve) ---
    host: str = Field("127.0.0.1", description="Address the HTTP server listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the HTTP server listens on.")
    api_key: str | None = Field(
        None, description="If set, every route but /health needs 'Authorization: Bearer KEY'."
    )
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed to call the API from a browser."
    )
    max_waiting: int = Field(
        8, ge=0, le=1000, description="Requests that may wait for the model; more get 429."
    )
    request_timeout_s: float = Field(
        120.0, gt=0, le=3600, description="Longest an answer may take, waiting included."
    )
    max_upload_bytes: int = Field(
        10_000_000, ge=1000, le=1_000_000_000, description="Largest document upload accepted."
    )
    max_messages: int = Field(50, ge=1, le=1000, description="Most messages in one chat request.")
    workers: int = Field(
        1, ge=1, le=64,
        description="API processes (rag serve); above 1 only with RAG_LLM_BACKEND=openai and a "
        "Qdrant server (RAG_QDRANT_URL): each in-process worker would load its own model and "
        "index.",
    )

    @property
    def answer_slots(self) -> int:
        """Answers generated at once: one llama.cpp context in process, or the server's slots."""
        return self.llm_concurrency if self.llm_backend == "openai" else 1

    def with_overrides(self, **overrides: object) -> Settings:
        """A copy with the given fields replaced; None values are ignored (unset CLI flags)."""
        values = {k: v for k, v in overrides.items() if v is not None}
        if not values:
            return self
        return Settings(**{**self.model_dump(), **values})
