"""Liveness (/health) and readiness (/ready)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from rag.errors import NotReadyError

from ..deps import State, state

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, Any]:
    """The process is alive (answers even while a question is being answered)."""
    return {"status": "ok"}


@router.get("/ready")
async def is_ready(s: State = Depends(state)) -> JSONResponse:
    """200 once the index and the model are loaded, 503 before (or if loading failed)."""
    if not s.ready.is_set():
        body = {"ready": False, "error": s.load_error}
        return JSONResponse(body, status_code=503,
                            headers={"Retry-After": str(NotReadyError.retry_after)})
    index = s.pipeline.index
    return JSONResponse({
        "ready": True, "model": s.pipeline.generator.name,
        "embedding_model": index.manifest.embedding_model,
        "documents": len(index.documents), "chunks": len(index),
        "llm_backend": s.settings.llm_backend, "vector_store": index.store,
        "slots": s.engine.slots, "max_waiting": s.engine.max_waiting,
        "busy": s.engine.busy, "stats": s.engine.stats,
    })
