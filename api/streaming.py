"""Answering while the client may leave: cancel the work (and free the model) when it
does, and frame a stream as server-sent events that always end, even on an error."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable
from typing import Any, TypeVar

from fastapi import HTTPException, Request

from rag import errors
from rag.types import Turn

from .engine import AnswerEngine

log = logging.getLogger("rag.api")
T = TypeVar("T")


async def unless_disconnected(request: Request, work: Awaitable[T]) -> T:
    """Await ``work``, cancelling it (and freeing the model) if the client goes away."""
    task = asyncio.ensure_future(work)
    while not task.done():
        done, _ = await asyncio.wait({task}, timeout=0.5)
        if not done and await request.is_disconnected():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise HTTPException(499, "Client closed the request")
    return task.result()


async def answer_events(request: Request, engine: AnswerEngine, question: str,
                        history: list[Turn], top_k: int | None) -> AsyncIterator[Any]:
    """The engine's tokens and answer, stopping (and freeing the model) on disconnect."""
    async with contextlib.aclosing(engine.stream(question, history, top_k)) as stream:
        async for event in stream:
            if await request.is_disconnected():
                return
            yield event


def stream_error(exc: Exception) -> tuple[str, int]:
    """What a stream's closing error event says: the RagError's words, or a logged bug."""
    if isinstance(exc, errors.RagError):
        return str(exc), exc.http_status
    log.exception("Answer stream failed", exc_info=exc)
    return f"Internal error ({type(exc).__name__}); the server log has the details", 500


def sse(event: str, data: dict[str, Any]) -> str:
    """One server-sent event."""
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

