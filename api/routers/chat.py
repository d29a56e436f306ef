"""Answering (/chat, streamed as server-sent events on request) and retrieval alone
(/search)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from rag.conversation import from_messages

from ..deps import State, ready
from ..engine import Token
from ..schemas import ChatRequest, SearchRequest
from ..streaming import answer_events, sse, stream_error, unless_disconnected

# No router-wide tags: /chat is tagged "chat" and /search "retrieval" in the schema.
router = APIRouter()


@router.post("/chat", tags=["chat"])
async def chat(body: ChatRequest, request: Request, s: State = Depends(ready)):
    """Answer the last user message; earlier messages resolve follow-ups.

    The JSON object is the one `rag ask --json` prints. With `"stream": true` the answer
    comes as server-sent events: `token` events ({"text"}), one `answer` event (the
    whole object), then `done`.
    """
    question, history = from_messages([(m.role, m.content) for m in body.messages],
                                      s.settings.max_messages, s.settings.max_question_chars)
    if not body.stream:
        answer = await unless_disconnected(request, s.engine.ask(question, history, body.top_k))
        return answer.to_dict()
    s.engine.check_capacity()

    async def events() -> AsyncIterator[str]:
        try:
            async with contextlib.aclosing(answer_events(
                    request, s.engine, question, history, body.top_k)) as stream:
                async for event in stream:
                    if isinstance(event, Token):
                        yield sse("token", {"text": event.text})
                    else:
                        yield sse("answer", event.to_dict())
            yield sse("done", {})
        except Exception as e:  # a stream must end with an error event
            detail, status = stream_error(e)
            yield sse("error", {"detail": detail, "status": status})

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


@router.post("/search", tags=["retrieval"])
async def search(body: SearchRequest, s: State = Depends(ready)) -> dict[str, Any]:
    """Retrieval only: the passages and their scores, no model."""
    passages = await s.engine.search(body.query, body.top_k)
    return {"query": body.query,
            "passages": [p.to_dict(i) for i, p in enumerate(passages, start=1)]}
