"""The HTTP API: the app that serves the routes of api/routers/ (chat and search, the
OpenAI-compatible endpoints, the document library, health) and the web chat page.

Here is what is app-wide: start-up loading in the background, the API key check, and
the one place errors become JSON: a RagError answers with its ``http_status``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag import errors
from rag.config import Settings
from rag.pipeline import Pipeline

from .deps import State
from .routers import chat, documents, health, openai

STATIC = Path(__file__).parent / "static"
PUBLIC_PATHS = ("/", "/health")  # and /static/*: the page and its assets hold no data


def create_app(settings: Settings | None = None, pipeline: Pipeline | None = None) -> FastAPI:
    """The FastAPI app. Heavy parts load in the background at start; /ready says when."""
    settings = settings or Settings()
    pipeline = pipeline or Pipeline(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = State(settings, pipeline)
        app.state.rag = state
        task = asyncio.create_task(state.load())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task

    app = FastAPI(
        title="rag-local",
        version=_version(),
        description="Answers from your documents, with cited passages. Local and offline.",
        lifespan=lifespan,
        max_body_size=settings.max_upload_bytes + 64_000,
        # Swagger UI and ReDoc load from a CDN, which an offline machine cannot reach; the
        # schema itself is served at /openapi.json (behind the key when one is set).
        docs_url=None,
        redoc_url=None,
    )
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins,
                           allow_methods=["*"], allow_headers=["*"])

    @app.exception_handler(errors.RagError)
    async def rag_error(request: Request, exc: errors.RagError) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else None
        # The document library's refusals were HTTPExceptions before they moved to
        # rag/library.py; their type stays "HTTPError" for clients that match on it.
        kind = "HTTPError" if isinstance(exc, errors.DocumentLibraryError) else type(exc).__name__
        return _error(exc.http_status, str(exc), kind, headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), "HTTPError", exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            problems.append(f"{where or 'body'}: {err.get('msg')}")
        return _error(422, "Invalid request: " + "; ".join(problems), "ValidationError")

    @app.middleware("http")
    async def authorized(request: Request,
                         call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """With RAG_API_KEY set, every route but the public ones needs the key. Checked
        before anything reads the body, so a malformed request without the key gets 401."""
        if (settings.api_key and request.method != "OPTIONS"
                and not _is_public(request.url.path)):
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            if not secrets.compare_digest(token.encode(), settings.api_key.encode()):
                return _error(401, "Missing or wrong API key: send 'Authorization: Bearer "
                                   "<key>' (the key is RAG_API_KEY on the server)",
                              "HTTPError", {"WWW-Authenticate": "Bearer"})
        return await call_next(request)

    for area in (health, chat, openai, documents):
        app.include_router(area.router)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith("/static/")


def _error(status: int, message: str, kind: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"detail": message, "error": {"message": message, "type": kind, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def _version() -> str:
    from rag import __version__

    return __version__
