"""One llama.cpp model shared by many HTTP requests: a single slot, a bounded wait queue,
a time limit per request, and cancellation when the client goes away.

The pipeline is synchronous (llama.cpp is not thread-safe); each answer runs in a worker
thread while the event loop stays free, so /health answers instantly during generation.
Tokens cross from the worker thread to the request through an asyncio queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from rag.errors import RagError
from rag.pipeline import Pipeline
from rag.types import Answer, Passage, Turn


class BusyError(RagError):
    """Every slot and queue place is taken."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"The assistant is busy answering other questions; retry in "
                         f"{retry_after} s")
        self.retry_after = retry_after


class AnswerTimeoutError(RagError):
    """An answer took longer than the per-request limit."""


class _Cancelled(Exception):
    """Raised inside the worker thread to stop generation."""


@dataclass(frozen=True)
class Token:
    text: str


class AnswerEngine:
    """Serialises answers through one model slot; ``max_waiting`` may queue behind it."""

    def __init__(self, pipeline: Pipeline, max_waiting: int = 8, timeout_s: float = 120.0,
                 retry_after_s: int = 10) -> None:
        self.pipeline = pipeline
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._slot: asyncio.Lock | None = None
        self._admitted = 0  # answering + waiting
        self.stats = {"answered": 0, "rejected": 0, "cancelled": 0, "timed_out": 0}
        self._index_lock = threading.Lock()

    @property
    def slot(self) -> asyncio.Lock:
        if self._slot is None:
            self._slot = asyncio.Lock()
        return self._slot

    @property
    def busy(self) -> int:
        return self._admitted

    async def ask(self, question: str, history: Sequence[Turn] = (),
                  top_k: int | None = None) -> Answer:
        """The whole answer (tokens are not streamed)."""
        answer = None
        async for event in self.stream(question, history, top_k):
            if isinstance(event, Answer):
                answer = event
        assert answer is not None
        return answer

    def check_capacity(self) -> None:
        """Raise BusyError now if a new request could not even wait for the model."""
        if self._admitted >= 1 + self.max_waiting:
            self.stats["rejected"] += 1
            raise BusyError(self.retry_after_s)

    async def stream(self, question: str, history: Sequence[Turn] = (),
                     top_k: int | None = None) -> AsyncIterator[Token | Answer]:
        """Tokens as they are generated, then the Answer. Closing the iterator cancels."""
        self.check_capacity()
        self._admitted += 1
        deadline = time.monotonic() + self.timeout_s
        try:
            try:
                await asyncio.wait_for(self.slot.acquire(), timeout=self.timeout_s)
            except TimeoutError:
                self.stats["timed_out"] += 1
                raise AnswerTimeoutError(
                    f"Waited {self.timeout_s:.0f} s for the model without getting a turn; "
                    "retry later") from None
            try:
                # aclosing: closing this stream must close (and so cancel) the inner one now.
                async with contextlib.aclosing(self._run(question, history, top_k,
                                                         deadline)) as events:
                    async for event in events:
                        yield event
            finally:
                self.slot.release()
        finally:
            self._admitted -= 1

    async def _run(self, question: str, history: Sequence[Turn], top_k: int | None,
                   deadline: float) -> AsyncIterator[Token | Answer]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Token | None] = asyncio.Queue()
        cancel = threading.Event()

        def on_token(piece: str) -> None:
            if cancel.is_set():
                raise _Cancelled
            loop.call_soon_threadsafe(queue.put_nowait, Token(piece))

        def work() -> Answer:
            try:
                return self.pipeline.ask(question, history, on_token=on_token, top_k=top_k)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        future = loop.run_in_executor(None, work)
        finished = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                item = await asyncio.wait_for(queue.get(), timeout=remaining)
                if item is None:
                    break
                yield item
            answer = await future
            finished = True
            self.stats["answered"] += 1
            yield answer
        except TimeoutError:
            self.stats["timed_out"] += 1
            raise AnswerTimeoutError(
                f"The answer took longer than {self.timeout_s:.0f} s (RAG_REQUEST_TIMEOUT_S) "
                "and was stopped") from None
        finally:
            if not finished:
                cancel.set()
                self.pipeline.interrupt()  # also stops a prompt that is still being read
                if not future.done():
                    self.stats["cancelled"] += 1
                # The model is free only once the worker has stopped.
                with contextlib.suppress(_Cancelled, Exception):  # reported elsewhere, or moot
                    await asyncio.shield(future)

    async def search(self, query: str, top_k: int | None = None) -> list[Passage]:
        """Retrieval only: no model slot needed."""
        return await asyncio.to_thread(self.pipeline.search, query, top_k)

    async def reindex(self):  # noqa: ANN201 - Changes
        """Bring the index up to date with the documents folder (one run at a time)."""
        def run():  # noqa: ANN202
            with self._index_lock:
                return self.pipeline.refresh_index(require_write=True)

        return await asyncio.to_thread(run)
