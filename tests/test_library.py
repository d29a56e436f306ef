"""The document library (rag/library.py) on its own: a tmp folder and a fake reindex."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rag import errors, library
from rag.config import Settings
from rag.library import StoredDocument, add_document, remove_document, safe_filename

CHANGES = object()  # what the fake reindex returns; the library hands it back untouched
LAKE = b"# Lake Sevan\n\nLake Sevan is the largest lake in Armenia."


class FakeReindex:
    """Records what the folder held at each call (hidden files included); may raise."""

    def __init__(self, folder: Path, error: Exception | None = None) -> None:
        self.folder = folder
        self.error = error
        self.seen: list[list[str]] = []
        self.only: list[set[str]] = []  # the documents each call was asked to bring in line

    def __call__(self, only: set[str]) -> object:
        self.seen.append(listing(self.folder))
        self.only.append(only)
        if self.error:
            raise self.error
        return CHANGES


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    (tmp_path / "documents").mkdir()
    return Settings(documents_dir=tmp_path / "documents", index_dir=tmp_path / "index",
                    max_upload_bytes=1000)


@pytest.fixture
def folder(settings: Settings) -> Path:
    return settings.documents_dir


def add(settings: Settings, name: str, data: bytes, replace: bool = False,
        reindex: FakeReindex | None = None) -> tuple[StoredDocument, object]:
    reindex = reindex or FakeReindex(settings.documents_dir)
    return add_document(settings, name, io.BytesIO(data), replace, reindex)


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "safe"), [
    ("notes.txt", "notes.txt"),
    ("../../evil.txt", "evil.txt"),
    ("..\\..\\win.md", "win.md"),
    (".hidden.txt", "hidden.txt"),
    ("a b;rm -rf.txt", "a_b_rm_-rf.txt"),
    ("Отчёт.txt", "Отчёт.txt"),  # letters of any script stay, so names do not collide
    ("報告.md", "報告.md"),
    ("e\u0301te.txt", "\u00e9te.txt"),  # one spelling (NFC)
    ("REPORT.PDF", "REPORT.PDF"),
])
def test_safe_filename(name, safe):
    assert safe_filename(name) == safe


def test_safe_filename_is_at_most_120_characters():
    assert len(safe_filename("x" * 300 + ".txt")) == 120


@pytest.mark.parametrize(("name", "error", "message"), [
    ("tool.exe", errors.UnsupportedFileTypeError,
     "Unsupported file type .exe: upload one of .htm, .html, .markdown, .md, .pdf, .txt"),
    ("noext", errors.UnsupportedFileTypeError,
     "Unsupported file type (none): upload one of .htm, .html, .markdown, .md, .pdf, .txt"),
    (".txt", errors.UnsupportedFileTypeError,
     "Unsupported file type (none): upload one of .htm, .html, .markdown, .md, .pdf, .txt"),
    ("...", errors.InvalidDocumentError, "The upload needs a file name, like notes.txt"),
    ("", errors.InvalidDocumentError, "The upload needs a file name, like notes.txt"),
    ("dir/", errors.InvalidDocumentError, "The upload needs a file name, like notes.txt"),
])
def test_unsafe_names_are_refused(name, error, message):
    with pytest.raises(error) as e:
        safe_filename(name)
    assert str(e.value) == message


def test_the_errors_carry_their_http_status():
    assert errors.UnsupportedFileTypeError.http_status == 415
    assert errors.InvalidDocumentError.http_status == 422
    assert errors.DocumentExistsError.http_status == 409
    assert errors.DocumentTooLargeError.http_status == 413
    assert errors.DocumentNotFoundError.http_status == 404
    assert errors.LastDocumentError.http_status == 409
    assert errors.BadDocumentIdError.http_status == 400


# --- adding ------------------------------------------------------------------------------


def test_add_stores_the_file_then_reindexes(settings, folder):
    reindex = FakeReindex(folder)
    stored, changes = add(settings, "../Lake Sevan.md", LAKE, reindex=reindex)
    assert stored == StoredDocument("Lake_Sevan.md", folder.resolve() / "Lake_Sevan.md", False)
    assert changes is CHANGES
    assert reindex.seen == [["Lake_Sevan.md"]]  # in place, no temporary file beside it
    assert reindex.only == [{"Lake_Sevan.md"}]  # that document only
    assert (folder / "Lake_Sevan.md").read_bytes() == LAKE
    assert listing(folder) == ["Lake_Sevan.md"]


def test_add_creates_a_missing_documents_folder(tmp_path):
    settings = Settings(documents_dir=tmp_path / "new", index_dir=tmp_path / "index")
    stored, _ = add(settings, "lake.md", LAKE)
    assert stored.path.read_bytes() == LAKE


def test_too_large_is_refused_and_leaves_nothing(settings, folder):
    reindex = FakeReindex(folder)
    with pytest.raises(errors.DocumentTooLargeError) as e:
        add(settings, "big.txt", b"word " * 201, reindex=reindex)
    assert str(e.value) == "The file is larger than 1,000 bytes (RAG_MAX_UPLOAD_BYTES)"
    assert listing(folder) == [] and reindex.seen == []


def test_exactly_the_limit_is_accepted(settings, folder):
    stored, _ = add(settings, "full.txt", b"word " * 200)
    assert stored.path.stat().st_size == 1000


def test_unsupported_type_is_refused_before_anything_is_written(settings, folder):
    reindex = FakeReindex(folder)
    with pytest.raises(errors.UnsupportedFileTypeError):
        add(settings, "tool.exe", b"MZ", reindex=reindex)
    assert listing(folder) == [] and reindex.seen == []


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("blob.txt", b"\x00\x01\x02", "Cannot index blob.txt: "),
    ("empty.txt", b"", "Cannot index empty.txt: no text in it"),
    ("broken.pdf", b"%PDF-1.4 nope", "Cannot index broken.pdf: unreadable PDF"),
])
def test_unreadable_files_are_refused_and_leave_nothing(settings, folder, name, data, reason):
    (folder / "kept.txt").write_text("Kept text.")
    reindex = FakeReindex(folder)
    with pytest.raises(errors.InvalidDocumentError) as e:
        add(settings, name, data, reindex=reindex)
    assert str(e.value).startswith(reason)
    assert listing(folder) == ["kept.txt"] and reindex.seen == []


def test_a_parser_crash_is_an_unreadable_file(settings, folder, monkeypatch):
    def crash(source, max_chars):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(library, "load", crash)
    with pytest.raises(errors.InvalidDocumentError) as e:
        add(settings, "notes.txt", b"Some text.")
    assert str(e.value) == "Cannot index notes.txt: unreadable (RuntimeError)"
    assert listing(folder) == []


def test_an_existing_name_needs_replace(settings, folder):
    (folder / "lake.md").write_bytes(b"old")
    reindex = FakeReindex(folder)
    with pytest.raises(errors.DocumentExistsError) as e:
        add(settings, "lake.md", LAKE, reindex=reindex)
    assert str(e.value) == ("A document named lake.md exists: add ?replace=true to replace "
                            "it, or rename the file")
    assert (folder / "lake.md").read_bytes() == b"old" and reindex.seen == []


def test_replace_swaps_the_file(settings, folder):
    (folder / "lake.md").write_bytes(b"# Old\n\nOld text.")
    stored, _ = add(settings, "lake.md", LAKE, replace=True)
    assert stored.replaced and (folder / "lake.md").read_bytes() == LAKE
    assert listing(folder) == ["lake.md"]  # no backup left behind


def test_replace_restores_the_old_file_if_reindexing_fails(settings, folder):
    (folder / "lake.md").write_bytes(b"# Old\n\nOld text.")
    failure = errors.IndexWriteError("disk full")
    reindex = FakeReindex(folder, error=failure)
    with pytest.raises(errors.IndexWriteError) as e:
        add(settings, "lake.md", LAKE, replace=True, reindex=reindex)
    assert e.value is failure
    assert reindex.seen[0][-1] == "lake.md"  # the old one was set aside under a hidden name
    assert (folder / "lake.md").read_bytes() == b"# Old\n\nOld text."
    assert listing(folder) == ["lake.md"]


def test_a_new_file_is_taken_away_if_reindexing_fails(settings, folder):
    (folder / "kept.txt").write_text("Kept text.")
    reindex = FakeReindex(folder, error=RuntimeError("boom"))
    with pytest.raises(RuntimeError):
        add(settings, "lake.md", LAKE, reindex=reindex)
    assert listing(folder) == ["kept.txt"]


# --- removing ----------------------------------------------------------------------------


def test_remove_deletes_the_file_then_reindexes(settings, folder):
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(f"Text of {name}.")
    reindex = FakeReindex(folder)
    assert remove_document(settings, "a.txt", {"a.txt", "b.txt"}, reindex) is CHANGES
    assert reindex.seen[0][-1] == "b.txt" and reindex.seen[0][0].startswith(".")  # set aside
    assert listing(folder) == ["b.txt"]


def test_remove_in_a_subfolder(settings, folder):
    (folder / "sub").mkdir()
    (folder / "sub" / "a.txt").write_text("A.")
    (folder / "b.txt").write_text("B.")
    remove_document(settings, "sub/a.txt", {"sub/a.txt", "b.txt"}, FakeReindex(folder))
    assert listing(folder / "sub") == []


def test_remove_an_unknown_document(settings, folder):
    with pytest.raises(errors.DocumentNotFoundError) as e:
        remove_document(settings, "nope.txt", {"a.txt"}, FakeReindex(folder))
    assert str(e.value) == "No document 'nope.txt': GET /documents lists them"


@pytest.mark.parametrize("doc_id", ["../outside.txt", "sub/../../outside.txt"])
def test_remove_refuses_ids_outside_the_folder(settings, folder, doc_id):
    outside = folder.parent / "outside.txt"
    outside.write_text("Not a document.")
    with pytest.raises(errors.BadDocumentIdError) as e:
        remove_document(settings, doc_id, {doc_id, "a.txt"}, FakeReindex(folder))
    assert str(e.value) == "Document ids are paths inside the documents folder"
    assert outside.exists()


LAST = "That is the last document: the index needs at least one; add another first"


def test_remove_refuses_the_last_document_and_keeps_the_file(settings, folder):
    (folder / "only.txt").write_text("The only text.")
    reindex = FakeReindex(folder)
    with pytest.raises(errors.LastDocumentError) as e:
        remove_document(settings, "only.txt", {"only.txt"}, reindex)
    assert str(e.value) == LAST
    assert listing(folder) == ["only.txt"] and reindex.seen == []  # nothing was touched


def test_the_last_indexed_document_may_go_when_another_waits_in_the_folder(settings, folder):
    (folder / "only.txt").write_text("The only indexed text.")
    (folder / "new.txt").write_text("Added to the folder, not indexed yet.")
    remove_document(settings, "only.txt", {"only.txt"}, FakeReindex(folder))
    assert listing(folder) == ["new.txt"]


def test_remove_puts_the_file_back_if_no_readable_document_would_remain(settings, folder):
    (folder / "a.txt").write_text("A.")  # b.txt is indexed but its file is gone
    reindex = FakeReindex(folder, error=errors.NoDocumentsError("No readable documents"))
    with pytest.raises(errors.LastDocumentError) as e:
        remove_document(settings, "a.txt", {"a.txt", "b.txt"}, reindex)
    assert str(e.value) == LAST
    assert listing(folder) == ["a.txt"] and (folder / "a.txt").read_text() == "A."


def test_remove_puts_the_file_back_if_reindexing_fails(settings, folder):
    for name in ("a.txt", "b.txt"):
        (folder / name).write_text(f"Text of {name}.")
    reindex = FakeReindex(folder, error=errors.IndexWriteError("read-only"))
    with pytest.raises(errors.IndexWriteError):
        remove_document(settings, "a.txt", {"a.txt", "b.txt"}, reindex)
    assert listing(folder) == ["a.txt", "b.txt"]


def test_remove_a_link_removes_the_link_not_its_target(settings, folder, tmp_path):
    target = tmp_path / "elsewhere.txt"
    target.write_text("Linked text.")
    (folder / "link.txt").symlink_to(target)
    (folder / "b.txt").write_text("B.")
    remove_document(settings, "link.txt", {"link.txt", "b.txt"}, FakeReindex(folder))
    assert listing(folder) == ["b.txt"] and target.read_text() == "Linked text."


def test_remove_a_document_whose_file_is_already_gone(settings, folder):
    (folder / "b.txt").write_text("B.")
    assert remove_document(settings, "a.txt", {"a.txt", "b.txt"},
                           FakeReindex(folder)) is CHANGES
