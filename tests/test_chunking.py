import pytest

from rag.chunking import chunk_document, sentence_spans
from rag.documents import SourceFile, load
from rag.types import Document

from .conftest import ARTICLE


@pytest.fixture(scope="module")
def article() -> Document:
    return load(SourceFile("article.txt", ARTICLE, "h"))


@pytest.mark.parametrize(("size", "overlap"), [(400, 80), (200, 0), (1000, 300), (60, 20)])
def test_offsets_are_exact_and_sizes_bounded(article: Document, size: int, overlap: int):
    chunks = chunk_document(article, size, overlap)
    assert chunks
    for c in chunks:
        assert article.text[c.start : c.end] == c.text
        assert len(c.text) <= size
        assert c.text == c.text.strip()
    # Every sentence of the article lies inside some chunk.
    for lo, hi in sentence_spans(article.text):
        if hi - lo <= size:
            assert any(c.start <= lo and hi <= c.end for c in chunks), article.text[lo:hi]
    # Chunks move forward and ids are unique.
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    assert len({c.chunk_id for c in chunks}) == len(chunks)


def test_overlap_repeats_whole_sentences(article: Document):
    chunks = chunk_document(article, 400, 120)
    overlapping = [(a, b) for a, b in zip(chunks, chunks[1:], strict=False) if b.start < a.end]
    assert overlapping
    starts = {lo for lo, _ in sentence_spans(article.text)}
    for _, b in overlapping:
        assert b.start in starts  # the next chunk starts at a sentence start


def test_no_overlap_means_disjoint(article: Document):
    chunks = chunk_document(article, 300, 0)
    assert all(b.start >= a.end for a, b in zip(chunks, chunks[1:], strict=False))


def test_sentences_respect_abbreviations_and_quotes():
    text = "Mr. Smith arrived. “It is over.” He left!\nNew line here"
    spans = [text[a:b] for a, b in sentence_spans(text)]
    assert spans == ["Mr. Smith arrived.", "“It is over.”", "He left!", "New line here"]


def test_overlap_must_be_smaller_than_size(article: Document):
    with pytest.raises(ValueError, match="smaller"):
        chunk_document(article, 100, 100)


def test_long_sentence_is_split_at_words():
    doc = Document("d", "t", "p", "word " * 100 + "end.", "h")
    chunks = chunk_document(doc, 50, 10)
    assert all(len(c.text) <= 50 and doc.text[c.start : c.end] == c.text for c in chunks)
    assert chunks[-1].text.endswith("end.")
