"""The two generator backends: llama.cpp in process, and an OpenAI-compatible server.

Fast unit tests speak to httpx's MockTransport (retries, errors, the SSE format); the
integration tests use a real `rag llm-server` (llama-cpp-python's server) on 127.0.0.1
with the smallest preset, and run the same cases on both backends.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from rag.config import Settings
from rag.errors import ConfigError, GenerationInterrupted, LLMServerError, LLMUnavailableError
from rag.generation import load_generator
from rag.openai_generator import OpenAIGenerator, base_url

from .conftest import (
    ARTICLE,
    SMALLEST,
    _free_port,
    article_workdir,
    serve_env,
    start_llm_server,
    start_server,
)

URL = "http://llm.test:8080/v1"
MODELS = {"object": "list", "data": [{"id": "m1", "object": "model"}]}


def sse(*chunks: object) -> bytes:
    return b"".join(f"data: {c if isinstance(c, str) else json.dumps(c)}\n\n".encode()
                    for c in chunks)


def delta(text: str | None = None, finish: str | None = None) -> dict:
    d = {"content": text} if text is not None else {}
    return {"choices": [{"index": 0, "delta": d, "finish_reason": finish}]}


def fake(chat, models=None) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    """A server: GET /v1/models answers ``models``; POST chat calls ``chat(n)`` (n from 0)."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/v1/models":
            return models(request) if callable(models) else httpx.Response(200,
                                                                            json=models or MODELS)
        return chat(sum(r.url.path.endswith("/chat/completions") for r in seen) - 1)

    return httpx.MockTransport(handle), seen


def streamed(*chunks: object) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"},
                          content=sse(*chunks))


def generator(transport: httpx.MockTransport, **kw) -> OpenAIGenerator:
    return OpenAIGenerator(URL, transport=transport, backoff_s=0.01, **kw)


MESSAGES = [{"role": "user", "content": "Hi"}]


# --- unit: the client's logic ---------------------------------------------------------------


@pytest.mark.parametrize("given, expected", [
    ("http://h:8080", "http://h:8080/v1"), ("http://h:8080/", "http://h:8080/v1"),
    ("http://h:11434/v1/", "http://h:11434/v1"), ("https://h/api/v1", "https://h/api/v1")])
def test_base_url_gets_v1_only_when_it_has_no_path(given, expected):
    assert base_url(given) == expected


@pytest.mark.parametrize("bad", [None, "", "localhost:8080", "ftp://h/v1"])
def test_a_missing_or_bad_url_says_which_setting(bad):
    with pytest.raises(ConfigError, match="RAG_LLM_URL"):
        base_url(bad)


def test_usage_counts_the_prompt_tokens_the_server_had_cached():
    transport, _ = fake(lambda n: streamed(
        delta("Peskov said [1]."), delta(finish="stop"),
        {"choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 3,
                                  "prompt_tokens_details": {"cached_tokens": 64}}}, "[DONE]"))
    g = generator(transport)
    assert list(g.pieces(MESSAGES, 32)) == ["Peskov said [1]."]
    assert g.last_usage == {"prompt_tokens": 90, "completion_tokens": 3, "cached_tokens": 64}


def test_streams_pieces_and_usage_and_sends_the_model_and_settings():
    transport, seen = fake(lambda n: streamed(
        delta("Peskov "), delta("said [1]."), delta(finish="stop"),
        {"choices": [], "usage": {"prompt_tokens": 90, "completion_tokens": 3}}, "[DONE]"))
    g = generator(transport, temperature=0.0, seed=7)
    assert g.name == "m1"  # the one model the server serves
    assert list(g.pieces(MESSAGES, 32)) == ["Peskov ", "said [1]."]
    assert g.last_usage == {"prompt_tokens": 90, "completion_tokens": 3, "cached_tokens": 0}
    body = json.loads(seen[-1].content)
    assert body["model"] == "m1" and body["stream"] and body["max_tokens"] == 32
    assert body["seed"] == 7 and body["temperature"] == 0.0 and body["messages"] == MESSAGES


def test_retries_503_and_429_with_backoff_then_answers():
    replies = [httpx.Response(503), httpx.Response(429, headers={"retry-after": "0"}),
               streamed(delta("ok"), delta(finish="stop"), "[DONE]")]
    transport, seen = fake(lambda n: replies[n])
    g = generator(transport, retries=3)
    assert g.complete(MESSAGES) == "ok"
    assert sum(r.method == "POST" for r in seen) == 3


def test_a_server_that_stays_busy_is_one_error_naming_the_url():
    transport, seen = fake(lambda n: httpx.Response(429, json={"error": {"message": "full"}}))
    g = generator(transport, retries=2)
    with pytest.raises(LLMUnavailableError, match=r"http://llm.test:8080/v1 .*429: full"):
        g.complete(MESSAGES)
    assert sum(r.method == "POST" for r in seen) == 3


def test_a_refused_connection_is_retried_then_named():
    port = _free_port()  # nothing listens there
    with pytest.raises(LLMUnavailableError) as e:
        OpenAIGenerator(f"http://127.0.0.1:{port}", retries=1, backoff_s=0.01)
    assert f"http://127.0.0.1:{port}/v1" in str(e.value) and "after 2 tries" in str(e.value)


def test_an_unknown_model_lists_what_the_server_serves():
    transport, _ = fake(lambda n: streamed())
    with pytest.raises(ConfigError, match=r"does not serve model 'nope'; it serves: m1"):
        generator(transport, model="nope")


def test_a_reply_that_is_not_the_openai_api_says_so():
    transport, _ = fake(lambda n: streamed(),
                        models=lambda r: httpx.Response(200, text="<html>router login</html>"))
    with pytest.raises(LLMServerError, match="not answer GET /models in the OpenAI format"):
        generator(transport)
    transport, _ = fake(lambda n: httpx.Response(200, json={"answer": "hi"}))
    with pytest.raises(LLMServerError, match="OpenAI format"):
        generator(transport).complete(MESSAGES)


def test_a_wrong_key_names_the_setting():
    transport, _ = fake(lambda n: streamed(),
                        models=lambda r: httpx.Response(401, json={"detail": "bad key"}))
    with pytest.raises(LLMServerError, match="RAG_LLM_API_KEY"):
        generator(transport)


def test_an_answer_cut_short_without_a_finish_reason_is_an_error_not_a_short_answer():
    """llama-cpp-python's server ends a stream that way when another request arrives."""
    transport, _ = fake(lambda n: streamed(delta("Peskov said"), "[DONE]"))
    with pytest.raises(LLMServerError, match="interrupt_requests"):
        generator(transport).complete(MESSAGES)


def test_an_error_event_mid_stream_is_reported():
    transport, _ = fake(lambda n: streamed(delta("Pes"), {"error": {"message": "KV full"}}))
    with pytest.raises(LLMServerError, match="failed mid-answer: KV full"):
        generator(transport).complete(MESSAGES)


def test_load_generator_picks_the_backend_from_settings():
    with pytest.raises(ConfigError, match="RAG_LLM_URL"):
        load_generator(Settings(llm_backend="openai"))
    assert Settings().answer_slots == 1
    assert Settings(llm_backend="openai", llm_concurrency=6).answer_slots == 6


# --- integration: a real llama-cpp-python server, and the same cases in process -------------


@pytest.fixture(scope="module", params=["local", "openai"])
def backend(request, tmp_path_factory):
    """The smallest preset, in process or behind `rag llm-server`."""
    if request.param == "local":
        g = load_generator(Settings(model=SMALLEST))
    else:
        server = request.getfixturevalue("llm_server")
        g = load_generator(Settings(llm_backend="openai", llm_url=server.url))
    yield g
    g.close()


CODE_WORDS = ["ZEBRA-17", "MANGO-42", "TULIP-93", "COBALT-58"]


def echo(word: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "You repeat the code word you are given, and "
             "nothing else."},
            {"role": "user", "content": f"The code word is {word}. Repeat the code word."}]


@pytest.mark.integration
def test_concurrent_answers_are_never_mixed_up(backend):
    """Each of 4 answers asked at once holds its own code word and no other's
    (llama.cpp#10072: wrong slots under 4 concurrent requests)."""
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda w: backend.complete(echo(w), 16), CODE_WORDS * 2))
    for word, text in zip(CODE_WORDS * 2, answers, strict=True):
        assert word in text, (word, text)
        assert not [w for w in CODE_WORDS if w != word and w in text], (word, text)


STORY = [{"role": "user", "content": "Write a very long story, of at least 2000 words, about "
          "a dragon who learns to cook. Use many chapters."}]


@pytest.mark.integration
def test_cancelling_an_answer_stops_it_and_only_it(backend):
    """The long answer (1500 tokens, ~40 s on 2 cores) stops within moments of its cancel,
    and the model answers the next question at once: the server dropped the request."""
    cancel = threading.Event()
    pieces = []
    t0 = time.monotonic()
    with pytest.raises(GenerationInterrupted):
        for piece in backend.pieces(STORY, 1500, cancel):
            pieces.append(piece)
            if len(pieces) == 5:
                cancel.set()
    assert len(pieces) == 5 and time.monotonic() - t0 < 15
    t1 = time.monotonic()
    assert "MANGO-42" in backend.complete(echo("MANGO-42"), 16)
    assert time.monotonic() - t1 < 10, "the cancelled story was still being written"


@pytest.mark.integration
def test_cancel_while_the_prompt_is_read_returns_at_once(backend):
    """No token yet (the server reads a long prompt): the cancel still returns within 2 s."""
    long = [{"role": "user", "content": ARTICLE.read_text()[:9000] + "\nSummarise this."}]
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    t0 = time.monotonic()
    with pytest.raises(GenerationInterrupted):
        backend.complete(long, 64, cancel)
    assert time.monotonic() - t0 < 2.0


@pytest.mark.integration
def test_followup_over_http(any_server):
    r = httpx.post(f"{any_server.url}/chat", timeout=120, json={"messages": [
        {"role": "user", "content": "What did Simonyan say about the Rome Statute?"},
        {"role": "assistant", "content": "It will be ratified [1]."},
        {"role": "user", "content": "And what did Zakharova say about it?"}]})
    assert r.status_code == 200
    d = r.json()
    assert d["standalone_question"] == "What did Zakharova say about the Rome Statute?"
    assert d["model"] == any_server.model
    assert d["passages"]
    doc = " ".join((any_server.workdir / "documents" / ARTICLE.name).read_text().split())
    for c in d["citations"]:  # every citation quotes the document, with its span
        assert " ".join(c["text"].split()) in doc and c["end"] - c["start"] == len(c["text"])


@pytest.mark.integration
def test_llm_server_killed_mid_answer_is_a_clear_error_not_a_hang(tmp_path):
    """The answer under way ends with a 502 error event; the next request is a 503 that
    names the server, after the retries, and nothing hangs."""
    (tmp_path / "llm").mkdir()
    (tmp_path / "api").mkdir()
    llm = start_llm_server(tmp_path / "llm")
    work = article_workdir(tmp_path / "api")
    api = start_server(["serve"], work, "/ready", serve_env(
        work, RAG_LLM_BACKEND="openai", RAG_LLM_URL=llm.url, RAG_LLM_RETRIES="2"))
    try:
        events: list[tuple[str, dict]] = []
        t0 = time.monotonic()
        with httpx.stream("POST", f"{api.url}/chat", timeout=60, json={
                "messages": [{"role": "user", "content": "What did Peskov say?"}],
                "stream": True}) as r:
            name = ""
            for line in r.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                    if name == "token" and llm.proc.poll() is None:
                        llm.proc.kill()  # SIGKILL mid-answer
        kinds = [k for k, _ in events]
        assert kinds[0] == "token" and kinds[-1] == "error", kinds  # the stream's last event
        error = events[-1][1]
        assert error["status"] == 502 and llm.url in error["detail"], error
        assert time.monotonic() - t0 < 30
        t1 = time.monotonic()
        r = httpx.post(f"{api.url}/chat", timeout=60,
                       json={"messages": [{"role": "user", "content": "What did Peskov say?"}]})
        assert r.status_code == 503 and r.headers["retry-after"]
        assert f"Cannot reach the LLM server at {llm.url}" in r.json()["detail"]
        assert time.monotonic() - t1 < 20
    finally:
        api.stop()
        llm.stop()
