"""The HTTP API: a chat endpoint with streaming, an OpenAI-compatible endpoint, retrieval,
document management, health, and the web chat page. Routes stay thin: parse, call the
engine or pipeline, shape the response; one handler maps RagError to status codes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import tempfile
import time
import unicodedata
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from fastapi import Depends, FastAPI, File, HTTPException, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from rag import errors
from rag.config import Settings
from rag.documents import SUPPORTED_SUFFIXES, SourceFile, load
from rag.pipeline import Pipeline, validate_question, validate_text
from rag.types import Answer, Turn

from .engine import AnswerEngine, AnswerTimeoutError, BusyError, Token
from .schemas import ChatRequest, OpenAIChatRequest, SearchRequest

log = logging.getLogger("rag.api")
STATIC = Path(__file__).parent / "static"
T = TypeVar("T")

STATUS = [  # most specific first
    (BusyError, 429),
    (AnswerTimeoutError, 504),
    (errors.InvalidQuestionError, 422),
    (errors.NoDocumentsError, 422),
    (errors.IndexNotFoundError, 503),
    (errors.IndexCorruptError, 503),
    (errors.IndexWriteError, 503),
    (errors.ModelNotFoundError, 503),
    (errors.ModelChecksumError, 503),
    (errors.ModelLoadError, 503),
    (errors.RagError, 400),
]


class NotReadyError(errors.RagError):
    """The model and index are still loading (or failed to)."""


STATUS.insert(0, (NotReadyError, 503))


class State:
    """What the routes share: the engine, and whether start-up loading has finished."""

    def __init__(self, settings: Settings, pipeline: Pipeline) -> None:
        self.settings = settings
        self.pipeline = pipeline
        self.engine = AnswerEngine(pipeline, settings.max_waiting, settings.request_timeout_s)
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
        except Exception as e:  # noqa: BLE001 - reported by /ready, not a crash
            self.load_error = f"{type(e).__name__}: {e}"
            log.exception("Start-up failed")


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
        status = _status(exc)
        headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, BusyError) else None
        if isinstance(exc, NotReadyError):
            headers = {"Retry-After": "5"}
        return _error(status, str(exc), type(exc).__name__, headers)

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

    def state(request: Request) -> State:
        return request.app.state.rag

    @app.middleware("http")
    async def authorized(request: Request, call_next):  # noqa: ANN001, ANN202
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

    async def ready(s: State = Depends(state)) -> State:
        if not s.ready.is_set():
            if s.load_error:
                raise NotReadyError(f"Start-up failed: {s.load_error}")
            raise NotReadyError("The model and index are still loading; retry in a few seconds")
        return s

    # --- health ---------------------------------------------------------------------------

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, Any]:
        """The process is alive (answers even while a question is being answered)."""
        return {"status": "ok"}

    @app.get("/ready", tags=["health"])
    async def is_ready(s: State = Depends(state)) -> JSONResponse:
        """200 once the index and the model are loaded, 503 before (or if loading failed)."""
        if not s.ready.is_set():
            body = {"ready": False, "error": s.load_error}
            return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
        index = s.pipeline.index
        return JSONResponse({
            "ready": True, "model": s.pipeline.generator.name,
            "embedding_model": index.manifest.embedding_model,
            "documents": len(index.documents), "chunks": len(index),
            "busy": s.engine.busy, "stats": s.engine.stats,
        })

    # --- answering --------------------------------------------------------------------------

    @app.post("/chat", tags=["chat"])
    async def chat(body: ChatRequest, request: Request, s: State = Depends(ready)):  # noqa: ANN202
        """Answer the last user message; earlier messages resolve follow-ups.

        The JSON object is the one `rag ask --json` prints. With `"stream": true` the answer
        comes as server-sent events: `token` events ({"text"}), one `answer` event (the
        whole object), then `done`.
        """
        question, history = _conversation([(m.role, m.content) for m in body.messages],
                                          settings)
        if not body.stream:
            answer = await _unless_disconnected(
                request, s.engine.ask(question, history, body.top_k))
            return answer.to_dict()
        s.engine.check_capacity()

        async def events() -> AsyncIterator[str]:
            try:
                async with contextlib.aclosing(_answer_events(
                        request, s.engine, question, history, body.top_k)) as stream:
                    async for event in stream:
                        if isinstance(event, Token):
                            yield _sse("token", {"text": event.text})
                        else:
                            yield _sse("answer", event.to_dict())
                yield _sse("done", {})
            except Exception as e:  # noqa: BLE001 - a stream must end with an error event
                detail, status = _stream_error(e)
                yield _sse("error", {"detail": detail, "status": status})

        return StreamingResponse(events(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache",
                                          "X-Accel-Buffering": "no"})

    @app.get("/v1/models", tags=["openai"])
    async def models(s: State = Depends(ready)) -> dict[str, Any]:
        """The loaded model, in the OpenAI list shape."""
        return {"object": "list", "data": [{"id": s.pipeline.generator.name, "object": "model",
                                            "created": int(s.started), "owned_by": "local"}]}

    @app.post("/v1/chat/completions", tags=["openai"])
    async def completions(body: OpenAIChatRequest, request: Request,  # noqa: ANN202
                          s: State = Depends(ready)):
        """OpenAI-compatible chat. The citations ride along in `citations` (and the whole
        answer object in `rag`) of the response, or of the final chunk when streaming.
        Streamed deltas are the model's raw words; `rag.answer` is the checked answer."""
        question, history = _conversation([(m.role, m.text()) for m in body.messages],
                                          settings)
        cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        created = int(time.time())
        model = s.pipeline.generator.name
        if not body.stream:
            answer = await _unless_disconnected(
                request, s.engine.ask(question, history, body.top_k))
            return _openai_completion(cid, created, model, answer)
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
                async with contextlib.aclosing(_answer_events(
                        request, s.engine, question, history, body.top_k)) as stream:
                    async for event in stream:
                        if isinstance(event, Token):
                            streamed = True
                            yield chunk({"content": event.text})
                            continue
                        if not streamed:  # abstained before the model: send the words
                            yield chunk({"content": event.answer})
                        d = event.to_dict()
                        yield chunk({}, "stop", citations=d["citations"], rag=d,
                                    usage=_usage(event))
            except Exception as e:  # noqa: BLE001 - a stream must end with an error and [DONE]
                detail, status = _stream_error(e)
                err = {"error": {"message": detail, "type": type(e).__name__, "code": status}}
                yield f"data: {json.dumps(err)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache"})

    @app.post("/search", tags=["retrieval"])
    async def search(body: SearchRequest, s: State = Depends(ready)) -> dict[str, Any]:
        """Retrieval only: the passages and their scores, no model."""
        passages = await s.engine.search(body.query, body.top_k)
        return {"query": body.query,
                "passages": [p.to_dict(i) for i, p in enumerate(passages, start=1)]}

    # --- documents ---------------------------------------------------------------------------

    @app.get("/documents", tags=["documents"])
    async def documents(s: State = Depends(ready)) -> dict[str, Any]:
        """The indexed documents: id, title, number of chunks."""
        index = s.pipeline.index
        counts = index.chunk_counts()
        return {"documents": [
            {"id": d.doc_id, "title": d.title, "chunks": counts.get(d.doc_id, 0),
             "characters": len(d.text), "source_url": d.metadata.get("source_url")}
            for d in sorted(index.documents.values(), key=lambda d: d.doc_id)]}

    @app.post("/documents", status_code=201, tags=["documents"])
    async def upload(file: UploadFile = File(...), replace: bool = Query(False),
                     s: State = Depends(ready)) -> dict[str, Any]:
        """Add a .txt, .md, .html or .pdf file; it is indexed and searchable on return."""
        name = safe_filename(file.filename or "")
        docs_dir = settings.documents_dir.resolve()
        target = docs_dir / name
        if target.exists() and not replace:
            raise HTTPException(409, f"A document named {name} exists: add ?replace=true "
                                     "to replace it, or rename the file")
        docs_dir.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkstemp(prefix=".upload-", suffix=target.suffix, dir=docs_dir)[1])
        backup = None
        try:
            size = 0
            with tmp.open("wb") as out:
                while block := await file.read(1 << 20):
                    size += len(block)
                    if size > settings.max_upload_bytes:
                        raise HTTPException(413, f"The file is larger than "
                                                 f"{settings.max_upload_bytes:,} bytes "
                                                 "(RAG_MAX_UPLOAD_BYTES)")
                    out.write(block)
            try:
                await asyncio.to_thread(load, SourceFile(name, tmp, ""),
                                        settings.max_document_chars)
            except (ValueError, OSError) as e:
                raise HTTPException(422, f"Cannot index {name}: {e}") from e
            except Exception as e:  # a parser's limit or bug: the file is at fault, not us
                log.warning("Upload %s is unreadable", name, exc_info=True)
                raise HTTPException(422, f"Cannot index {name}: unreadable "
                                         f"({type(e).__name__})") from e
            if target.exists():
                backup = target.with_name(f".backup-{uuid.uuid4().hex}-{name}")
                os.replace(target, backup)
            os.replace(tmp, target)
            try:
                changes = await s.engine.reindex()
            except Exception:
                target.unlink(missing_ok=True)  # the index was not switched: undo the file
                if backup:
                    os.replace(backup, target)
                    backup = None
                raise
        finally:
            tmp.unlink(missing_ok=True)
            if backup:
                backup.unlink(missing_ok=True)
        index = s.pipeline.index
        doc = index.documents[name]
        return {"id": doc.doc_id, "title": doc.title,
                "chunks": index.chunk_counts()[name],
                "changes": changes.summary()}

    @app.delete("/documents/{doc_id:path}", tags=["documents"])
    async def delete(doc_id: str, s: State = Depends(ready)) -> dict[str, Any]:
        """Remove a document from documents/ and from the index."""
        index = s.pipeline.index
        if doc_id not in index.documents:
            raise HTTPException(404, f"No document {doc_id!r}: GET /documents lists them")
        docs_dir = settings.documents_dir.resolve()
        path = docs_dir / doc_id
        if ".." in Path(doc_id).parts or not path.parent.resolve().is_relative_to(docs_dir):
            raise HTTPException(400, "Document ids are paths inside the documents folder")
        path.unlink(missing_ok=True)  # a link goes, never the file it points to
        try:
            changes = await s.engine.reindex()
        except errors.NoDocumentsError:
            raise HTTPException(409, "That is the last document: the index needs at least "
                                     "one; add another first") from None
        return {"deleted": doc_id, "changes": changes.summary()}

    # --- the web page ------------------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


# --- helpers ---------------------------------------------------------------------------------


PUBLIC_PATHS = ("/", "/health")  # and /static/*: the page and its assets hold no data


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith("/static/")


def safe_filename(name: str) -> str:
    """A plain file name for an upload: no folders, no leading dots, a supported suffix."""
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", name)[-1])
    # Letters and digits of any script stay (\w is Unicode-aware), so "Отчёт.txt" and
    # "報告.txt" keep different names; anything else becomes "_".
    base = re.sub(r"[^\w. -]", "_", base).strip().lstrip(".").replace(" ", "_")
    suffix = Path(base).suffix.lower()
    if not base or not Path(base).stem:
        raise HTTPException(422, "The upload needs a file name, like notes.txt")
    if suffix not in SUPPORTED_SUFFIXES:
        raise HTTPException(415, f"Unsupported file type {suffix or '(none)'}: upload one of "
                                 f"{', '.join(sorted(SUPPORTED_SUFFIXES))}")
    return base[:120]


def _conversation(messages: list[tuple[str, str]], settings: Settings) -> tuple[str, list[Turn]]:
    """The question (last message, from the user) and the earlier turns."""
    if len(messages) > settings.max_messages:
        raise errors.InvalidQuestionError(
            f"{len(messages)} messages; the limit is {settings.max_messages} (RAG_MAX_MESSAGES)")
    role, content = messages[-1]
    if role != "user":
        raise errors.InvalidQuestionError(
            f"The last message must be the user's question, not a {role} message")
    question = validate_question(content, settings.max_question_chars)
    history = [Turn(r, validate_text(c, f"Message {i}")) for i, (r, c)
               in enumerate(messages[:-1], 1) if r in ("user", "assistant")]
    return question, history


def _stream_error(exc: Exception) -> tuple[str, int]:
    """What a stream's closing error event says: the RagError's words, or a logged bug."""
    if isinstance(exc, errors.RagError):
        return str(exc), _status(exc)
    log.exception("Answer stream failed", exc_info=exc)
    return f"Internal error ({type(exc).__name__}); the server log has the details", 500


def _status(exc: errors.RagError) -> int:
    return next(code for kind, code in STATUS if isinstance(exc, kind))


async def _answer_events(request: Request, engine: AnswerEngine, question: str,
                         history: list[Turn], top_k: int | None) -> AsyncIterator[Any]:
    """The engine's tokens and answer, stopping (and freeing the model) on disconnect."""
    async with contextlib.aclosing(engine.stream(question, history, top_k)) as stream:
        async for event in stream:
            if await request.is_disconnected():
                return
            yield event


async def _unless_disconnected(request: Request, work: Awaitable[T]) -> T:
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


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _usage(answer: Answer) -> dict[str, int]:
    p = answer.usage.get("prompt_tokens", 0)
    c = answer.usage.get("completion_tokens", 0)
    return {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c}


def _openai_completion(cid: str, created: int, model: str, answer: Answer) -> dict[str, Any]:
    d = answer.to_dict()
    return {"id": cid, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer},
                         "finish_reason": "stop"}],
            "usage": _usage(answer), "citations": d["citations"], "rag": d}


def _error(status: int, message: str, kind: str,
           headers: dict[str, str] | None = None) -> JSONResponse:
    body = {"detail": message, "error": {"message": message, "type": kind, "code": status}}
    return JSONResponse(body, status_code=status, headers=headers)


def _version() -> str:
    from rag import __version__

    return __version__
