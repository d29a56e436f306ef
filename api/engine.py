"""The model shared by many HTTP requests: as many answer slots as the generator runs at
once (one llama.cpp context in process; RAG_LLM_CONCURRENCY on a server), a bounded wait
queue behind them, a time limit per request, and cancellation when the client goes away.

The pipeline is synchronous; each answer's stream (Pipeline.stream) is drained in a
worker thread while the event loop stays free, so /health answers instantly during
generation. Tokens cross from the worker thread to the request through an asyncio
queue. To cancel (client gone, time limit), the request sets that answer's own cancel
event, which stops its model call (mid-prompt too, or its server request) and nothing
else; the worker then closes the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from rag.errors import AnswerTimeoutError, BusyError
from rag.index import Changes
from rag.pipeline import Pipeline
from rag.types import Answer, Passage, Turn


@dataclass(frozen=True)
class Token:
    text: str


class AnswerEngine:
    """Runs up to ``slots`` answers at once; ``max_waiting`` more may queue behind them."""

    def __init__(self, pipeline: Pipeline, max_waiting: int = 8, timeout_s: float = 120.0,
                 retry_after_s: int = 10, slots: int = 1) -> None:
        self.pipeline = pipeline
        self.slots = slots
        self.max_waiting = max_waiting
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self._slot: asyncio.Semaphore | None = None
        self._admitted = 0  # answering + waiting
        self.stats = {"answered": 0, "rejected": 0, "cancelled": 0, "timed_out": 0}
        self._index_lock = threading.Lock()
        # One thread per slot (the default pool would cap concurrency at cores + 4).
        self._workers = ThreadPoolExecutor(slots, thread_name_prefix="answer")

    @property
    def slot(self) -> asyncio.Semaphore:
        if self._slot is None:
            self._slot = asyncio.Semaphore(self.slots)
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
        if self._admitted >= self.slots + self.max_waiting:
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
        queue: asyncio.Queue[Token | Answer | BaseException | None] = asyncio.Queue()
        cancel = threading.Event()

        def put(item: Token | Answer | BaseException | None) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, item)

        def work() -> None:
            """Drain the pipeline's stream into the queue; on cancel, close it (which
            stops the model and frees it)."""
            if cancel.is_set():  # the client left while this waited for a thread
                put(None)
                return
            events = self.pipeline.stream(question, history, top_k, cancel)
            try:
                for event in events:
                    if cancel.is_set():
                        break
                    put(Token(event) if isinstance(event, str) else event)
            except BaseException as e:  # handed to the request, which raises it
                put(e)
            finally:
                events.close()
                put(None)

        future = loop.run_in_executor(self._workers, work)
        finished = False
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                item = await asyncio.wait_for(queue.get(), timeout=remaining)
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise item
                if isinstance(item, Answer):
                    finished = True
                    self.stats["answered"] += 1
                yield item
        except TimeoutError:
            self.stats["timed_out"] += 1
            raise AnswerTimeoutError(
                f"The answer took longer than {self.timeout_s:.0f} s (RAG_REQUEST_TIMEOUT_S) "
                "and was stopped") from None
        finally:
            if not finished:
                cancel.set()  # also stops a prompt that is still being read
                if not future.done():
                    self.stats["cancelled"] += 1
            # The model is free only once the worker has closed the stream.
            with contextlib.suppress(Exception):
                await asyncio.shield(future)

    async def search(self, query: str, top_k: int | None = None) -> list[Passage]:
        """Retrieval only: no model slot needed."""
        return await asyncio.to_thread(self.pipeline.search, query, top_k)

    def reindex_blocking(self, only: set[str] | None = None) -> Changes:
        """Bring the index up to date with the documents folder, for the ``only`` documents
        if given (one run at a time); for a worker thread."""
        with self._index_lock:
            return self.pipeline.refresh_index(require_write=True, only=only)

    async def reindex(self, only: set[str] | None = None) -> Changes:
        """``reindex_blocking`` off the event loop."""
        return await asyncio.to_thread(self.reindex_blocking, only)
