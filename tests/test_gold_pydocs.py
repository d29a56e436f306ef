"""The Python 3.11 docs gold set (rag/gold/python-3.11-docs.jsonl) checked against its corpus:
Debian's python3.11-doc, fetched by scripts/fetch-pydocs.sh into corpora/ when missing, and
read exactly as `rag index` reads it (rag.documents). No models are loaded."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rag import eval as ev
from rag.chunking import chunk_document
from rag.config import Settings
from rag.documents import load, scan
from rag.text import normalize
from rag.types import Document

from .conftest import ROOT

GOLD = ROOT / "rag" / "gold" / "python-3.11-docs.jsonl"
CORPUS = ROOT / "corpora" / "python-3.11-docs"
FETCH = ROOT / "scripts" / "fetch-pydocs.sh"

# What each unanswerable question hinges on: names from Python 3.12/3.13 and third-party
# libraries, none of which the 3.11 docs mention.
ABSENT = ["Path.walk", "sys.monitoring", "typing.override", "process_cpu_count", "Box[T]",
          "warnings.deprecated", "copy.replace", "DataFrame", "Flask"]


@pytest.fixture(scope="module")
def pydocs() -> list[Document]:
    """The corpus' pages as extracted text; fetched first if missing (the script does
    nothing when the pages are there)."""
    r = subprocess.run(["bash", str(FETCH), str(CORPUS)], capture_output=True, text=True,
                       cwd=ROOT, timeout=600)
    if r.returncode != 0:
        pytest.fail(f"{FETCH.relative_to(ROOT)} failed:\n{r.stdout}{r.stderr}", pytrace=False)
    sources, skipped = scan(CORPUS)
    assert not skipped, skipped[:3]
    assert len(sources) > 400
    return [load(s) for s in sources]


@pytest.fixture(scope="module")
def folded(pydocs: list[Document]) -> dict[str, str]:
    """Each page's text normalized once, as ev.contains_text compares (a fast first look)."""
    return {d.doc_id: normalize(d.text) for d in pydocs}


def test_pydocs_gold_set_counts():
    items = ev.load_gold(GOLD)
    assert len(items) >= 40
    assert len({i.id for i in items}) == len(items)
    unanswerable = [i for i in items if i.unanswerable]
    assert len(unanswerable) >= 8
    for item in items:
        assert item.id.startswith("pu" if item.unanswerable else "p"), item.id
        if item.unanswerable:
            assert not item.answers and not item.evidence, item.id
        else:
            assert 1 <= len(item.answers) <= 4 and 1 <= len(item.evidence) <= 3, item.id
            # A quote short enough to sit in one chunk, so retrieval can find it whole.
            assert all(len(e) < 200 for e in item.evidence), item.id


def test_pydocs_gold_set_is_checked_against_the_docs(pydocs: list[Document],
                                                     folded: dict[str, str]):
    items = ev.load_gold(GOLD)
    size = Settings.model_fields["chunk_size"].default
    overlap = Settings.model_fields["chunk_overlap"].default
    cited: set[str] = set()
    for item in items:
        holders: list[Document] = []
        for quote in item.evidence:  # verbatim, up to case, spaces and quote style
            found = [d for d in pydocs if normalize(quote) in folded[d.doc_id]
                     and ev.contains_text(d.text, quote)]
            assert found, (item.id, quote)
            # ... and inside one chunk at the default chunk size, as a passage holds it.
            assert any(ev.contains_text(c.text, quote)
                       for d in found for c in chunk_document(d, size, overlap)), (item.id, quote)
            holders += found
        cited.update(d.doc_id for d in holders)
        for answer in item.answers:  # each gold answer is in the evidence or its page
            a = ev.normalize_answer(answer)
            assert a in ev.normalize_answer(" ".join(item.evidence)) or any(
                a in ev.normalize_answer(d.text) for d in holders), (item.id, answer)
    # The questions spread over the docs: many pages, every part of the documentation.
    assert len(cited) >= 30
    parts = {doc_id.split("/")[0] for doc_id in cited}
    assert {"library", "reference", "tutorial", "howto", "faq", "whatsnew", "c-api",
            "using", "glossary.html"} <= parts


def test_pydocs_unanswerable_questions_are_not_in_the_docs(folded: dict[str, str]):
    questions = " ".join(i.question for i in ev.load_gold(GOLD) if i.unanswerable)
    for name in ABSENT:
        assert name in questions, name
        assert not [doc_id for doc_id, text in folded.items() if normalize(name) in text], name


def test_fetch_script_is_idempotent(pydocs: list[Document]):
    r = subprocess.run(["bash", str(FETCH), str(CORPUS)], capture_output=True, text=True,
                       cwd=ROOT, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "already in" in r.stdout
    source = Path(f"{CORPUS}.source").read_text().strip()
    assert source.startswith("python3.11-doc=3.11.")


def test_pydocs_pages_read_as_prose_code_and_headings(pydocs: list[Document]):
    """The pipeline's view of real Sphinx HTML: no permalink signs or navigation debris,
    sections whose ids look like chrome words kept, code blocks cut only at line ends,
    and chunks that carry the API signature they document."""
    by_id = {d.doc_id: d for d in pydocs}
    for d in pydocs:
        assert "¶" not in d.text, d.doc_id
        assert not d.text.startswith(("Navigation", "index modules")), d.doc_id
    # Sections with ids like "cookie-objects" or "menus" are content, not chrome.
    assert "Cookie Objects" in by_id["library/http.cookies.html"].text
    # FAQ headings sit in links (class "toc-backref"): kept, and recorded as headings.
    faq = by_id["faq/programming.html"]
    assert any("lambdas defined in a loop" in h for _, _, h in faq.headings)
    size = Settings.model_fields["chunk_size"].default
    overlap = Settings.model_fields["chunk_overlap"].default
    chunks = chunk_document(by_id["library/os.html"], size, overlap)
    # A chunk starts and ends at a line's edge unless the line alone is longer than a chunk.
    text = by_id["library/os.html"].text
    for c in chunks:
        line = text[text.rfind("\n", 0, c.start) + 1 : (text.find("\n", c.end) + 1 or len(text))]
        if len(line) <= size:
            assert text[c.start - 1 : c.start] in ("", "\n", " "), c.chunk_id
    # "What does os.cpu_count() return?": the chunk documenting it says so in its heading
    # path, so retrieval finds it among the ~50 pages that mention cpu_count or count.
    doc_chunk = next(c for c in chunks if "Return the number of" in c.text
                     and "cpu_count" in c.search_text)
    assert doc_chunk.heading.startswith("os — Miscellaneous operating system interfaces")
