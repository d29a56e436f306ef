from pathlib import Path

import pytest

from rag.documents import Skipped, SourceFile, clean_text, iter_documents, load, scan
from rag.errors import NoDocumentsError

from .conftest import ARTICLE


def _load(path: Path, root: Path):
    sources, _ = scan(root)
    return next(d for d in iter_documents(sources) if getattr(d, "path", "") == str(path))


def test_article_debris_is_dropped_and_url_kept():
    doc = load(SourceFile("a.txt", ARTICLE, "h"))
    raw = ARTICLE.read_text()
    assert raw.startswith("X\n")
    assert doc.text.startswith("7 facts")
    assert "Categories: 2023" not in doc.text
    assert doc.text.endswith("possible support from the West.")
    assert "Kevo Kalantarian" not in doc.text
    assert doc.metadata["source_url"] == (
        "https://jam-news.net/is-armenia-changing-course-from-russia-to-the-west/")
    assert doc.metadata["byline"] == "Kevo Kalantarian"
    assert doc.title.startswith("7 facts")
    # No article sentence is lost: every long line of the file is in the text.
    for line in raw.splitlines():
        if len(line.strip()) > 40 and not line.startswith("http"):
            assert line.strip() in doc.text


def test_clean_text_keeps_ordinary_text():
    text = "First sentence here.\nSecond line: with a colon inside it and more words.\n"
    assert clean_text(text)[0] == text.strip()


def test_formats_and_skips(tmp_path: Path):
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "a.md").write_text("# Markdown Title\n\nSome body text about Yerevan.\n")
    (root / "sub" / "b.html").write_text(
        "<html><head><title>Page</title><style>p{color:red}</style></head>"
        "<body><script>var x=1;</script><p>Visible text about Moscow.</p></body></html>")
    (root / "empty.txt").write_text("   \n")
    (root / "binary.txt").write_bytes(b"\x00\x01\x02binary")
    (root / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (root / "image.png").write_bytes(b"\x89PNG")
    (root / ".hidden.txt").write_text("hidden")
    sources, skipped = scan(root)
    assert sorted(s.doc_id for s in sources) == ["a.md", "binary.txt", "empty.txt",
                                                "latin1.txt", "sub/b.html"]
    assert [Path(s.path).name for s in skipped] == ["image.png"]
    loaded = list(iter_documents(sources))
    docs = {d.doc_id: d for d in loaded if not isinstance(d, Skipped)}
    bad = {Path(s.path).name: s.reason for s in loaded if isinstance(s, Skipped)}
    assert docs["a.md"].title == "Markdown Title"
    assert docs["sub/b.html"].title == "Page"
    assert docs["sub/b.html"].text == "Visible text about Moscow."
    assert set(bad) == {"empty.txt", "binary.txt", "latin1.txt"}
    assert "binary" in bad["binary.txt"] and "UTF-8" in bad["latin1.txt"]


def test_pdf_text_layer(tmp_path: Path):
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=300, height=200)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                             NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    stream = DecodedStreamObject()
    stream.set_data(b"BT /F1 12 Tf 20 100 Td (Peskov spoke about Armenia.) Tj ET")
    page[NameObject("/Contents")] = writer._add_object(stream)
    root = tmp_path / "docs"
    root.mkdir()
    with (root / "r.pdf").open("wb") as f:
        writer.write(f)
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 not really")
    loaded = list(iter_documents(scan(root)[0]))
    docs = [d for d in loaded if not isinstance(d, Skipped)]
    assert [d.text for d in docs] == ["Peskov spoke about Armenia."]
    assert [Path(s.path).name for s in loaded if isinstance(s, Skipped)] == ["broken.pdf"]


def test_missing_folder(tmp_path: Path):
    with pytest.raises(NoDocumentsError, match="create it"):
        scan(tmp_path / "nope")
