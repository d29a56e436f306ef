"""The OpenAI-compatible routes (/v1/models, /v1/chat/completions), so OpenAI clients
can talk to the local model; the citations ride along in extra fields."""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse

from rag.conversation import from_messages
from rag.types import Answer

from ..deps import State, ready
from ..engine import Token
from ..schemas import OpenAIChatRequest
from ..streaming import answer_events, stream_error, unless_disconnected

router = APIRouter(tags=["openai"])


@router.get("/v1/models")
async def models(s: State = Depends(ready)) -> dict[str, Any]:
    """The loaded model, in the OpenAI list shape."""
    return {"object": "list", "data": [{"id": s.pipeline.generator.name, "object": "model",
                                        "created": int(s.started), "owned_by": "local"}]}


@router.post("/v1/chat/completions")
async def completions(body: OpenAIChatRequest, request: Request,
                      s: State = Depends(ready)):
    """OpenAI-compatible chat. The citations ride along in `citations` (and the whole
    answer object in `rag`) of the response, or of the final chunk when streaming.
    Streamed deltas are the model's raw words; `rag.answer` is the checked answer."""
    question, history = from_messages([(m.role, m.text()) for m in body.messages],
                                      s.settings.max_messages, s.settings.max_question_chars)
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    created = int(time.time())
    model = s.pipeline.generator.name
    if not body.stream:
        answer = await unless_disconnected(request, s.engine.ask(question, history, body.top_k))
        return _completion(cid, created, model, answer)
    s.engine.check_capacity()

    async def chunks() -> AsyncIterator[str]:
        def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
            data = {"id": cid, "object": "chat.completion.chunk", "created": created,
                    "model": model, "choices": [{"index": 0, "delta": delta,
                                                 "finish_reason": finish}], **extra}
            return f"data: {json.dumps(data, ensure_ascii=False)}\n\n"

        yield chunk({"role": "assistant", "content": ""})
        streamed = False
        try:
            async with contextlib.aclosing(answer_events(
                    request, s.engine, question, history, body.top_k)) as stream:
                async for event in stream:
                    if isinstance(event, Token):
                        streamed = True
                        yield chunk({"content": event.text})
                        continue
                    d = event.to_dict()
                    if not streamed:  # abstained before the model: send the words
                        yield chunk({"content": d["answer"]})
                    yield chunk({}, "stop", citations=d["citations"], rag=d,
                                usage=_usage(event))
        except Exception as e:  # a stream must end with an error and [DONE]
            detail, status = stream_error(e)
            err = {"error": {"message": detail, "type": type(e).__name__, "code": status}}
            yield f"data: {json.dumps(err)}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(chunks(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


def _usage(answer: Answer) -> dict[str, int]:
    p = answer.usage.get("prompt_tokens", 0)
    c = answer.usage.get("completion_tokens", 0)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c,
            "prompt_tokens_details": {"cached_tokens": answer.usage.get("cached_tokens", 0)}}


def _completion(cid: str, created: int, model: str, answer: Answer) -> dict[str, Any]:
    d = answer.to_dict()
    return {"id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": d["answer"]},
                         "finish_reason": "stop"}],
            "usage": _usage(answer), "citations": d["citations"], "rag": d}
