"""Generator base class and the llama-cpp-python implementation; the server one is in
rag/openai_generator.py, and ``load_generator`` picks by RAG_LLM_BACKEND."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import GenerationInterrupted, ModelLoadError
from .progress import SILENT, Reporter

if TYPE_CHECKING:
    from .config import Settings

Messages = Sequence[dict[str, str]]


class Generator(ABC):
    """Streams an answer for chat messages. Subclasses implement ``stream``.

    Each answer has its own cancel event, so one answer can be stopped while others
    run (a server backend answers several at once). ``concurrency`` is how many answers
    the backend runs at the same time; the API admits that many.
    """

    name: str = "generator"
    concurrency: int = 1

    def __init__(self) -> None:
        self._usage = threading.local()
        self._active: set[threading.Event] = set()
        self._active_lock = threading.Lock()

    @property
    def last_usage(self) -> dict[str, int]:
        """The token counts of the last answer this thread generated."""
        return getattr(self._usage, "value", {})

    @last_usage.setter
    def last_usage(self, value: dict[str, int]) -> None:
        self._usage.value = value

    @abstractmethod
    def stream(self, messages: Messages, max_tokens: int = 256,
               cancel: threading.Event | None = None) -> Iterator[str]:
        """Yield the answer's text piece by piece; set ``last_usage`` when done. Stop soon
        after ``cancel`` is set (a subclass that can stop mid-prompt checks it there)."""

    def interrupt(self) -> None:
        """Stop every answer being generated now."""
        with self._active_lock:
            for event in self._active:
                event.set()

    def pieces(self, messages: Messages, max_tokens: int = 256,
               cancel: threading.Event | None = None) -> Iterator[str]:
        """``stream`` as the pipeline uses it: it stops (GenerationInterrupted) once
        ``cancel`` is set (or ``interrupt`` called), and closing it stops the model at once."""
        cancel = cancel or threading.Event()
        with self._active_lock:
            self._active.add(cancel)
        stream = self.stream(messages, max_tokens, cancel)
        try:
            for piece in stream:
                if cancel.is_set():
                    raise GenerationInterrupted("The answer was stopped")
                yield piece
        finally:
            # Close now, not when the traceback is freed: the stream holds the model lock.
            stream.close()
            with self._active_lock:
                self._active.discard(cancel)

    def complete(self, messages: Messages, max_tokens: int = 256,
                 cancel: threading.Event | None = None) -> str:
        """The whole answer at once."""
        return "".join(self.pieces(messages, max_tokens, cancel))

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Free what the backend holds (connections); the default holds nothing."""


class LlamaCppGenerator(Generator):
    """A GGUF model run on the CPU by llama.cpp; greedy by default, memory-mapped."""

    def __init__(self, path: Path, name: str, n_ctx: int = 4096, n_threads: int = 2,
                 temperature: float = 0.0, seed: int = 0, cpu_variant: str | None = None,
                 cache_dir: Path | None = None) -> None:
        super().__init__()
        from . import llamacpp

        self.backend = llamacpp.init(cpu_variant, cache_dir, path)
        try:
            from llama_cpp import Llama

            # verbose=False keeps the bindings' own prints quiet; llama.cpp's log goes to
            # the rag.llama logger (llamacpp.init), never to the terminal.
            self.llm = Llama(model_path=str(path), n_ctx=n_ctx, n_threads=n_threads,
                             n_threads_batch=n_threads, n_batch=512, seed=seed,
                             use_mmap=True, verbose=False)
        except Exception as e:  # llama.cpp raises ValueError/RuntimeError with long texts
            raise ModelLoadError(f"llama.cpp could not load {path}: "
                                 f"{e}{llamacpp.last_error()}") from e
        self.name = name
        self.path = path
        # llama.cpp asks this between the steps of every decode, prompt evaluation
        # included, so interrupt() stops a long prompt within milliseconds (a check per
        # token would wait until the whole prompt is read).
        self._cancel: threading.Event | None = None  # the answer being generated
        self._abort = llamacpp.AbortCallback(
            self.llm, lambda: self._cancel is not None and self._cancel.is_set())
        self.temperature = temperature
        self.seed = seed
        self.n_ctx = n_ctx
        # One llama.cpp context is not thread-safe: one generation at a time.
        self.lock = threading.Lock()
        self._prefixes: dict[str, list[int]] = {}

    def _shared_prefix(self, messages: Messages) -> list[int]:
        """The prompt tokens every question shares: the chat template up to the user's text.

        Found by rendering the template for two different user messages and keeping the
        common tokens. Empty when the model has no chat template.
        """
        system = messages[0]["content"] if messages and messages[0]["role"] == "system" else ""
        if system not in self._prefixes:
            tokens: list[int] = []
            template = self.llm.metadata.get("tokenizer.chat_template")
            if template:
                from llama_cpp.llama_chat_format import Jinja2ChatFormatter

                model = self.llm._model
                eos, bos = self.llm.token_eos(), self.llm.token_bos()
                fmt = Jinja2ChatFormatter(
                    template, eos_token=model.token_get_text(eos) if eos != -1 else "",
                    bos_token=model.token_get_text(bos) if bos != -1 else "")
                rendered = []
                for probe in ("A", "B"):
                    r = fmt(messages=[{"role": "system", "content": system},
                                      {"role": "user", "content": probe}])
                    rendered.append(self.llm.tokenize(r.prompt.encode(), special=True,
                                                      add_bos=not r.added_special))
                for a, b in zip(*rendered, strict=False):
                    if a != b:
                        break
                    tokens.append(a)
            self._prefixes[system] = tokens
        return self._prefixes[system]

    def _start_from_prefix(self, messages: Messages) -> None:
        """Keep only the shared prefix in the KV cache before a new prompt.

        llama-cpp-python reuses the longest prefix the new prompt shares with the last
        one. Left alone, how much is reused depends on the previous question, and so do
        the batch boundaries, and greedy decoding then gives different answers to the same
        question. Cutting back to the fixed template prefix (evaluated once, alone) keeps
        the saving of the system prompt and makes every answer reproducible.
        """
        prefix = self._shared_prefix(messages)
        n = len(prefix)
        if n == 0:
            self.llm.reset()
            return
        if self.llm.n_tokens < n or list(self.llm.input_ids[:n]) != prefix:
            self.llm.reset()
            self.llm.eval(prefix)
        self.llm.n_tokens = n

    def stream(self, messages: Messages, max_tokens: int = 256,
               cancel: threading.Event | None = None) -> Iterator[str]:
        cancel = cancel or threading.Event()
        with self.lock:
            self._cancel = cancel
            self._start_from_prefix(messages)
            completion = 0
            chunks = self.llm.create_chat_completion(
                messages=list(messages), stream=True, max_tokens=max_tokens,
                temperature=self.temperature, top_k=1 if self.temperature == 0 else 40,
                seed=self.seed, repeat_penalty=1.0,
            )
            self._abort.arm()  # the prompt is read in the first step of the iteration
            try:
                for chunk in chunks:
                    self._abort.disarm()
                    delta = chunk["choices"][0]["delta"].get("content")
                    if delta:
                        completion += 1
                        yield delta
                    if cancel.is_set():
                        raise GenerationInterrupted("The answer was stopped")
            except RuntimeError as e:
                if cancel.is_set():  # llama_decode returned 2: aborted, as asked
                    raise GenerationInterrupted("The answer was stopped") from e
                raise
            finally:
                self._abort.disarm()
                self._cancel = None
            total = int(self.llm.n_tokens)
            # cached: the prompt's shared prefix, read once per process and reused.
            self.last_usage = {"prompt_tokens": max(0, total - completion),
                               "completion_tokens": completion,
                               "cached_tokens": len(self._shared_prefix(messages))}


def load_generator(settings: Settings, reporter: Reporter = SILENT) -> Generator:
    """The generator the settings select: llama.cpp in this process, or a server."""
    if settings.llm_backend == "openai":
        from .openai_generator import OpenAIGenerator

        return OpenAIGenerator(settings.llm_url, settings.llm_model, settings.llm_api_key,
                               concurrency=settings.llm_concurrency,
                               timeout_s=settings.llm_timeout_s, retries=settings.llm_retries,
                               temperature=settings.temperature, seed=settings.seed)
    from .models import resolve_llm

    path, name = resolve_llm(settings.model, settings.cache_dir, settings.model_sha256, reporter)
    return LlamaCppGenerator(path, name, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                             temperature=settings.temperature, seed=settings.seed,
                             cpu_variant=settings.llama_cpu_variant,
                             cache_dir=settings.cache_dir)
