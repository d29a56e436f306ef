"""What the routes share: the State built at start-up, and the dependencies that hand it
to a route: ``state`` always, ``ready`` only once the index and the model are loaded
(before that, or if loading failed, it raises NotReadyError: 503 with Retry-After)."""

from __future__ import annotations

import asyncio
import logging
import time

from fastapi import Depends, Request

from rag import errors
from rag.config import Settings
from rag.pipeline import Pipeline

from .engine import AnswerEngine

log = logging.getLogger("rag.api")


class State:
    """What the routes share: the engine, and whether start-up loading has finished."""

    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.engine = AnswerEngine(pipeline, settings.max_waiting, settings.request_timeout_s,
                                   slots=settings.answer_slots)
        self.ready = asyncio.Event()
        self.load_error: str | None = None
        self.started = time.time()

    async def load(self) -> None:
        """Build/update the index and load both models, off the event loop (the LLM loads
        in its own thread while the index is read)."""
        try:
            self.pipeline.start_loading()
            await asyncio.to_thread(lambda: (self.pipeline.index, self.pipeline.generator))
            self.ready.set()
        except errors.RagError as e:
            self.load_error = str(e)
            log.error("Start-up failed: %s", e)
        except Exception as e:  # reported by /ready, not a crash
            self.load_error = f"{type(e).__name__}: {e}"
            log.exception("Start-up failed")


def state(request: Request) -> State:
    return request.app.state.rag


async def ready(s: State = Depends(state)) -> State:
    if not s.ready.is_set():
        if s.load_error:
            raise errors.NotReadyError(f"Start-up failed: {s.load_error}")
        raise errors.NotReadyError("The model and index are still loading; retry in a few "
                                   "seconds")
    return s
