"""Generator base class and the llama-cpp-python implementation."""

from __future__ import annotations

import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from .errors import ModelLoadError

Messages = Sequence[dict[str, str]]


class Generator(ABC):
    """Streams an answer for chat messages. Subclasses implement ``stream``."""

    name: str = "generator"

    def __init__(self) -> None:
        self.last_usage: dict[str, int] = {}

    @abstractmethod
    def stream(self, messages: Messages, max_tokens: int = 256) -> Iterator[str]:
        """Yield the answer's text piece by piece; set ``last_usage`` when done."""

    def complete(self, messages: Messages, max_tokens: int = 256,
                 on_token: Callable[[str], None] | None = None) -> str:
        """The whole answer, calling ``on_token`` with each piece as it arrives."""
        pieces = []
        stream = self.stream(messages, max_tokens)
        try:
            for piece in stream:
                pieces.append(piece)
                if on_token:
                    on_token(piece)  # may raise to stop generation
        finally:
            # Close now, not when the traceback is freed: the stream holds the model lock.
            stream.close()
        return "".join(pieces)


class LlamaCppGenerator(Generator):
    """A GGUF model run on the CPU by llama.cpp; greedy by default, memory-mapped."""

    def __init__(self, path: Path, name: str, n_ctx: int = 4096, n_threads: int = 2,
                 temperature: float = 0.0, seed: int = 0) -> None:
        super().__init__()
        try:
            from llama_cpp import Llama

            with _quiet_stderr():
                self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                                 n_threads_batch=n_threads, n_batch=512, seed=seed,
                                 use_mmap=True, verbose=False)
        except Exception as e:  # llama.cpp raises ValueError/RuntimeError with long texts
            raise ModelLoadError(f"llama.cpp could not load {path}: {e}") from e
        self.name = name
        self.path = path
        self.temperature = temperature
        self.seed = seed
        self.n_ctx = n_ctx
        # One llama.cpp context is not thread-safe: one generation at a time.
        self.lock = threading.Lock()

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def stream(self, messages: Messages, max_tokens: int = 256) -> Iterator[str]:
        with self.lock:
            completion = 0
            for chunk in self.llm.create_chat_completion(
                messages=list(messages), stream=True, max_tokens=max_tokens,
                temperature=self.temperature, top_k=1 if self.temperature == 0 else 40,
                seed=self.seed, repeat_penalty=1.0,
            ):
                delta = chunk["choices"][0]["delta"].get("content")
                if delta:
                    completion += 1
                    yield delta
            total = int(self.llm.n_tokens)
            self.last_usage = {"prompt_tokens": max(0, total - completion),
                               "completion_tokens": completion}


class _quiet_stderr:
    """Silence llama.cpp's C-level logging to stderr while a model loads."""

    def __enter__(self) -> None:
        self.saved = os.dup(2)
        self.devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.devnull, 2)

    def __exit__(self, *exc: object) -> None:
        os.dup2(self.saved, 2)
        os.close(self.saved)
        os.close(self.devnull)


def load_generator(settings, progress: Callable[[str], None] | None = None) -> Generator:  # noqa: ANN001
    from .models import resolve_llm

    path, name = resolve_llm(settings.model, settings.cache_dir, settings.model_sha256, progress)
    return LlamaCppGenerator(path, name, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                             temperature=settings.temperature, seed=settings.seed)
