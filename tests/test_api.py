"""Contract tests of every route, with FastAPI's TestClient and a scripted generator."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from rag.library import safe_filename
from rag.pipeline import Pipeline

from .conftest import ScriptedGenerator

PESKOV = "Peskov said that Russia cannot leave Armenia [{n}]."


class Replayer(ScriptedGenerator):
    """Answers every question with the Peskov sentence, citing the right passage."""

    def stream(self, messages, max_tokens=256, cancel=None):
        user = messages[-1]["content"]
        blocks = user.split("\n\n")
        n = next((i for i, b in enumerate(
            [b for b in blocks if b.startswith("[")], 1) if "cannot leave" in b), 1)
        self.answers = [PESKOV.format(n=n)]
        yield from super().stream(messages, max_tokens, cancel)


def make_client(settings, embedder, **overrides) -> TestClient:
    settings = settings.with_overrides(**overrides)
    pipeline = Pipeline(settings, embedder=embedder, generator=Replayer([]))
    client = TestClient(create_app(settings, pipeline))
    client.__enter__()
    deadline = time.time() + 30
    while client.get("/ready", headers=_auth(settings)).status_code != 200:
        assert time.time() < deadline, "never ready"
        time.sleep(0.05)
    return client


def _auth(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.api_key}"} if settings.api_key else {}


@pytest.fixture
def client(settings, embedder):
    c = make_client(settings, embedder)
    yield c
    c.__exit__(None, None, None)


def ask(question: str, **extra) -> dict:
    return {"messages": [{"role": "user", "content": question}], **extra}


def test_health_and_ready(client):
    assert client.get("/health").json() == {"status": "ok"}
    r = client.get("/ready").json()
    assert r["ready"] and r["documents"] == 1 and r["chunks"] > 20 and r["model"] == "scripted"
    # What a load balancer and a dashboard need: the backends, the slots and the queue.
    assert (r["llm_backend"], r["vector_store"], r["slots"], r["max_waiting"]) == (
        "local", "faiss", 1, 8)
    assert r["busy"] == 0 and set(r["stats"]) == {"answered", "rejected", "cancelled",
                                                  "timed_out"}


def test_chat_returns_the_cli_json_object(client):
    r = client.post("/chat", json=ask("What did Peskov say?"))
    assert r.status_code == 200
    d = r.json()
    assert {"question", "answer", "abstained", "citations", "passages", "model",
            "timings"} <= set(d)
    assert d["abstained"] is False and "cannot leave Armenia" in d["answer"]
    assert "cannot leave Armenia" in d["citations"][0]["text"]


def test_chat_stream_sse_framing(client):
    with client.stream("POST", "/chat", json=ask("What did Peskov say?", stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = r.read().decode()
    blocks = [b for b in raw.split("\n\n") if b]
    events = []
    for b in blocks:
        lines = dict(line.split(": ", 1) for line in b.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    kinds = [e for e, _ in events]
    assert kinds[-2:] == ["answer", "done"] and set(kinds[:-2]) == {"token"}
    assert "".join(d["text"] for e, d in events if e == "token").strip().startswith("Peskov")
    assert events[-2][1]["citations"]


def test_followup_uses_earlier_messages(client):
    body = {"messages": [
        {"role": "user", "content": "What did Simonyan say about the Rome Statute?"},
        {"role": "assistant", "content": "It will be ratified [1]."},
        {"role": "user", "content": "And what did Zakharova say about it?"}]}
    d = client.post("/chat", json=body).json()
    assert d["standalone_question"] == "What did Zakharova say about the Rome Statute?"


def test_abstains_on_unknown_person(client):
    d = client.post("/chat", json=ask("What did Angela Merkel say?")).json()
    assert d["abstained"] and d["citations"] == []


@pytest.mark.parametrize(("body", "fragment"), [
    ({"messages": []}, "messages"),
    ({"messages": [{"role": "assistant", "content": "hi"}]}, "must be the user's question"),
    ({"messages": [{"role": "user", "content": "   "}]}, "empty"),
    ({"messages": [{"role": "user", "content": "x" * 5000}]}, "5,000 characters"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "role"),
    (ask("What did Peskov say?", temperature=2), "temperature: Extra inputs"),
    (ask("What did Peskov say?", top_k=0), "top_k"),
    ({"question": "no messages"}, "messages"),
])
def test_chat_validation(client, body, fragment):
    r = client.post("/chat", json=body)
    assert r.status_code == 422
    assert fragment in r.json()["detail"]


def test_not_json_and_too_large(client):
    r = client.post("/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    big = json.dumps(ask("x" * 11_000_000))
    assert client.post("/chat", content=big,
                       headers={"content-type": "application/json"}).status_code == 413


def test_openai_routes(client):
    models = client.get("/v1/models").json()
    assert models["object"] == "list" and models["data"][0]["id"] == "scripted"
    body = {"model": "anything", "messages": [{"role": "user", "content": "What did Peskov say?"}],
            "temperature": 0.7}
    d = client.post("/v1/chat/completions", json=body).json()
    assert d["object"] == "chat.completion"
    assert "cannot leave Armenia" in d["choices"][0]["message"]["content"]
    assert d["choices"][0]["finish_reason"] == "stop" and d["citations"] and d["rag"]["passages"]
    assert d["usage"]["total_tokens"] == d["usage"]["prompt_tokens"] + d["usage"][
        "completion_tokens"]
    with client.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as r:
        lines = [x for x in r.read().decode().split("\n\n") if x]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(x[6:]) for x in lines[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop" and chunks[-1]["citations"]
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "cannot leave Armenia" in text


def test_search(client):
    d = client.post("/search", json={"query": "140 square kilometers", "top_k": 2}).json()
    assert len(d["passages"]) == 2 and "140 square kilometers" in d["passages"][0]["text"]
    assert client.post("/search", json={"query": ""}).status_code == 422


def test_documents_upload_search_delete(client, settings):
    r = client.get("/documents").json()["documents"]
    assert [d["id"] for d in r] == ["jamnews-2023-09-07-armenia-russia.txt"]
    files = {"file": ("lake.md", b"# Lake Sevan\n\nLake Sevan is the largest lake in Armenia.")}
    r = client.post("/documents", files=files)
    assert r.status_code == 201 and r.json()["id"] == "lake.md" and r.json()["chunks"] == 1
    hit = client.post("/search", json={"query": "largest lake", "top_k": 1}).json()
    assert hit["passages"][0]["doc_id"] == "lake.md"
    assert client.post("/documents", files=files).status_code == 409  # no silent overwrite
    assert client.post("/documents?replace=true", files=files).status_code == 201
    assert client.delete("/documents/lake.md").status_code == 200
    assert not (settings.documents_dir / "lake.md").exists()
    assert client.delete("/documents/lake.md").status_code == 404
    assert [d["id"] for d in client.get("/documents").json()["documents"]] == [
        "jamnews-2023-09-07-armenia-russia.txt"]


def test_upload_names_are_sanitised(client, settings, tmp_path):
    r = client.post("/documents", files={"file": ("../../evil.txt", b"Escaped text here.")})
    assert r.status_code == 201 and r.json()["id"] == "evil.txt"
    assert (settings.documents_dir / "evil.txt").is_file()
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path.parent / "evil.txt").exists()
    assert safe_filename("..\\..\\win.md") == "win.md"
    assert safe_filename(".hidden.txt") == "hidden.txt"
    assert safe_filename("a b;rm -rf.txt") == "a_b_rm_-rf.txt"
    # Names in other scripts keep their letters, so they do not collide.
    assert safe_filename("Отчёт.txt") == "Отчёт.txt" and safe_filename("報告.md") == "報告.md"
    assert safe_filename("Отчёт.txt") != safe_filename("Отзыв.txt")
    assert safe_filename("e\u0301te.txt") == "\u00e9te.txt"  # one spelling (NFC)


@pytest.mark.parametrize(("name", "content", "status"), [
    ("tool.exe", b"MZ", 415), ("noext", b"text", 415), ("blob.txt", b"\x00\x01\x02", 422),
    ("empty.txt", b"", 422), ("broken.pdf", b"%PDF-1.4 nope", 422)])
def test_bad_uploads_leave_the_index_intact(client, settings, name, content, status):
    before = client.get("/ready").json()["chunks"]
    r = client.post("/documents", files={"file": (name, content)})
    assert r.status_code == status, r.text
    assert r.json()["detail"]
    assert client.get("/ready").json()["chunks"] == before
    assert sorted(p.name for p in settings.documents_dir.iterdir()) == [
        "jamnews-2023-09-07-armenia-russia.txt"]


def test_upload_size_limit(settings, embedder):
    c = make_client(settings, embedder, max_upload_bytes=2000)
    r = c.post("/documents", files={"file": ("big.txt", b"word " * 1000)})
    assert r.status_code == 413 and "RAG_MAX_UPLOAD_BYTES" in r.json()["detail"]
    assert not list(settings.documents_dir.glob("*big*"))
    assert not list(settings.documents_dir.glob(".upload-*"))
    c.__exit__(None, None, None)


def test_api_key(settings, embedder):
    c = make_client(settings, embedder, api_key="s3cret")
    assert c.get("/health").status_code == 200
    r = c.post("/chat", json=ask("What did Peskov say?"))
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    assert "RAG_API_KEY" in r.json()["detail"]
    bad = {"Authorization": "Bearer wrong"}
    for method, path in [("get", "/ready"), ("get", "/documents"), ("get", "/v1/models"),
                         ("post", "/search"), ("post", "/v1/chat/completions")]:
        assert getattr(c, method)(path, headers=bad).status_code == 401, path
    ok = {"Authorization": "Bearer s3cret"}
    assert c.post("/chat", json=ask("What did Peskov say?"), headers=ok).status_code == 200
    assert c.get("/").status_code == 200  # the page itself holds no data
    c.__exit__(None, None, None)


def test_not_ready_is_503(settings, embedder, tmp_path):
    bad = settings.with_overrides(documents_dir=tmp_path / "nothing-here")
    pipeline = Pipeline(bad, embedder=embedder, generator=Replayer([]))
    with TestClient(create_app(bad, pipeline)) as c:
        deadline = time.time() + 10
        while (r := c.get("/ready")).json().get("error") is None:
            assert time.time() < deadline
            time.sleep(0.05)
        assert r.status_code == 503 and "No documents folder" in r.json()["error"]
        r = c.post("/chat", json=ask("What did Peskov say?"))
        assert r.status_code == 503 and "Start-up failed" in r.json()["detail"]
        assert c.get("/health").status_code == 200


def test_cors(settings, embedder):
    c = make_client(settings, embedder, cors_origins=["http://example.test"])
    r = c.options("/chat", headers={"Origin": "http://example.test",
                                    "Access-Control-Request-Method": "POST"})
    assert r.headers["access-control-allow-origin"] == "http://example.test"
    c.__exit__(None, None, None)


def test_page_and_assets_are_local(client):
    html = client.get("/").text
    assert "<script src=\"/static/app.js\">" in html and "http" not in html.split("<body>")[1]
    for asset in ("/static/app.js", "/static/style.css"):
        body = client.get(asset).text
        assert client.get(asset).status_code == 200 and "https://" not in body


def test_openapi_lists_the_routes(client):
    paths = client.get("/openapi.json").json()["paths"]
    for p in ["/chat", "/v1/chat/completions", "/v1/models", "/search", "/documents",
              "/documents/{doc_id}", "/health", "/ready"]:
        assert p in paths, p


def test_a_pdf_bomb_upload_is_refused_and_the_index_kept(client, settings):
    from .test_documents import bomb_pdf

    before = client.get("/ready").json()["chunks"]
    bomb = bomb_pdf(settings.documents_dir.parent / "bomb.pdf")
    r = client.post("/documents", files={"file": ("bomb.pdf", bomb.read_bytes())})
    assert r.status_code == 422, r.text
    assert "unreadable PDF" in r.json()["detail"] or "no text layer" in r.json()["detail"]
    assert client.get("/ready").json()["chunks"] == before


@pytest.mark.parametrize("content", ["\ud800 Peskov", [{"type": "text", "text": "\ud800 Peskov"}]])
@pytest.mark.parametrize("stream", [False, True])
def test_lone_surrogates_are_422_on_every_route(client, content, stream):
    body = json.dumps({"messages": [{"role": "user", "content": content}], "stream": stream},
                      ensure_ascii=True)  # keeps the \ud800 escape as a client sends it
    headers = {"Content-Type": "application/json"}
    r = client.post("/v1/chat/completions", content=body, headers=headers)
    assert r.status_code == 422 and "UTF-8" in r.json()["detail"], r.text
    if isinstance(content, str):
        assert client.post("/chat", content=body, headers=headers).status_code == 422
        q = json.dumps({"query": content}, ensure_ascii=True)
        assert client.post("/search", content=q, headers=headers).status_code == 422
    # and the connection still serves the next request
    assert client.post("/search", json={"query": "Peskov", "top_k": 1}).status_code == 200


def test_a_question_of_nul_characters_is_422(client):
    assert client.post("/chat", json=ask("\x00\x00\x00")).status_code == 422
    assert client.post("/search", json={"query": "\x00 \x00"}).status_code == 422


class Crasher(Replayer):
    """Fails after the first words, as a bug would."""

    def stream(self, messages, max_tokens=256, cancel=None):
        yield "Peskov said "
        raise TypeError("TextInputSequence must be str")


@pytest.mark.parametrize("route", ["/chat", "/v1/chat/completions"])
def test_any_error_in_a_stream_ends_it_with_an_error_and_done(settings, embedder, route):
    pipeline = Pipeline(settings, embedder=embedder, generator=Crasher([]))
    with TestClient(create_app(settings, pipeline)) as c:
        while c.get("/ready").status_code != 200:
            time.sleep(0.05)
        r = c.post(route, json=ask("What did Peskov say?", stream=True))
        text = r.text
        assert r.status_code == 200
        if route == "/chat":
            assert "event: error" in text and '"status": 500' in text, text
        else:
            assert '"error"' in text and text.rstrip().endswith("data: [DONE]"), text
        assert "Internal error (TypeError)" in text
        # the server still answers on the same client
        assert c.post("/search", json={"query": "Peskov", "top_k": 1}).status_code == 200


def test_the_key_is_checked_before_the_body_and_guards_the_schema(settings, embedder):
    c = make_client(settings, embedder, api_key="s3cret")
    for path in ("/chat", "/v1/chat/completions", "/search"):
        r = c.post(path, content=b"{not json", headers={"Content-Type": "application/json"})
        assert r.status_code == 401, (path, r.status_code)
    assert c.get("/openapi.json").status_code == 401
    ok = {"Authorization": "Bearer s3cret"}
    assert "/chat" in c.get("/openapi.json", headers=ok).json()["paths"]
    assert c.post("/chat", content=b"{not json", headers={
        **ok, "Content-Type": "application/json"}).status_code == 422
    for public in ("/", "/health", "/static/app.js"):
        assert c.get(public).status_code == 200, public
    c.__exit__(None, None, None)


def test_no_docs_ui_that_needs_a_cdn(client):
    for path in ("/docs", "/redoc"):
        assert client.get(path).status_code == 404
