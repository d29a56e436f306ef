"""The documents folder as a library: add a file or remove one, each as one transaction.

A new file is written next to the others under a hidden name (the index skips those),
checked by loading it as the indexer will, and only then moved into place; if indexing
fails, the folder is put back as it was, so the folder and the index never disagree.
Plain functions and no web framework: the API runs them in a worker thread. ``reindex``
brings the index up to date for the named documents only (the API's engine serialises
those runs), so replicas sharing one Qdrant store never touch each other's documents.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from .documents import SUPPORTED_SUFFIXES, SourceFile, load, scan
from .errors import (
    BadDocumentIdError,
    DocumentExistsError,
    DocumentNotFoundError,
    DocumentTooLargeError,
    InvalidDocumentError,
    LastDocumentError,
    NoDocumentsError,
    UnsupportedFileTypeError,
)

if TYPE_CHECKING:
    from .config import Settings
    from .index import Changes

log = logging.getLogger(__name__)

BLOCK = 1 << 20  # bytes copied at a time
LAST_DOCUMENT = "That is the last document: the index needs at least one; add another first"


@dataclass(frozen=True)
class StoredDocument:
    """A file added to the documents folder."""

    doc_id: str  # its id in the index: the file name
    path: Path
    replaced: bool  # a file of that name was there and was replaced


def safe_filename(name: str) -> str:
    """A plain file name for an upload: no folders, no leading dots, a supported suffix."""
    base = unicodedata.normalize("NFC", re.split(r"[\\/]", name)[-1])
    # Letters and digits of any script stay (\w is Unicode-aware), so "Отчёт.txt" and
    # "報告.txt" keep different names; anything else becomes "_".
    base = re.sub(r"[^\w. -]", "_", base).strip().lstrip(".").replace(" ", "_")
    suffix = Path(base).suffix.lower()
    if not base or not Path(base).stem:
        raise InvalidDocumentError("The upload needs a file name, like notes.txt")
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileTypeError(
            f"Unsupported file type {suffix or '(none)'}: upload one of "
            f"{', '.join(sorted(SUPPORTED_SUFFIXES))}")
    return base[:120]


def add_document(settings: Settings, filename: str, source: BinaryIO, replace: bool,
                 reindex: Callable[[set[str]], Changes]) -> tuple[StoredDocument, Changes]:
    """Store the bytes of ``source`` as ``filename`` (made safe) and index them.

    Refused, with the folder unchanged, if the name is taken and not ``replace``, if the
    file is over ``settings.max_upload_bytes`` or has no text to index. If ``reindex``
    raises, the new file is taken away again (and a replaced one put back).
    """
    name = safe_filename(filename)
    docs_dir = settings.documents_dir.resolve()
    target = docs_dir / name
    if target.exists() and not replace:
        raise DocumentExistsError(f"A document named {name} exists: add ?replace=true to "
                                  "replace it, or rename the file")
    docs_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", suffix=target.suffix, dir=docs_dir)
    tmp = Path(tmp_name)
    backup: Path | None = None
    try:
        with os.fdopen(fd, "wb") as out:
            _copy(source, out, settings.max_upload_bytes)
        _check_readable(name, tmp, settings.max_document_chars)
        replaced = target.exists()
        if replaced:
            backup = target.with_name(f".backup-{uuid.uuid4().hex}-{name}")
            os.replace(target, backup)
        os.replace(tmp, target)
        try:
            changes = reindex({name})
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
    return StoredDocument(name, target, replaced), changes


def remove_document(settings: Settings, doc_id: str, known_ids: Collection[str],
                    reindex: Callable[[set[str]], Changes]) -> Changes:
    """Remove document ``doc_id`` (one of ``known_ids``, the indexed ones) from the folder
    and the index. The last document is refused before anything is touched; if
    ``reindex`` raises, the file is put back."""
    if doc_id not in known_ids:
        raise DocumentNotFoundError(f"No document {doc_id!r}: GET /documents lists them")
    docs_dir = settings.documents_dir.resolve()
    path = docs_dir / doc_id
    if ".." in Path(doc_id).parts or not path.parent.resolve().is_relative_to(docs_dir):
        raise BadDocumentIdError("Document ids are paths inside the documents folder")
    if not set(known_ids) - {doc_id} and not _others_in_folder(settings, doc_id):
        raise LastDocumentError(LAST_DOCUMENT)
    backup = None
    if path.is_symlink() or path.is_file():
        # Set aside until the index has switched; a link moves, never the file it points to.
        backup = path.with_name(f".removed-{uuid.uuid4().hex}-{path.name}")
        os.replace(path, backup)
    try:
        changes = reindex({doc_id})
    except Exception as e:
        if backup:
            os.replace(backup, path)
        if isinstance(e, NoDocumentsError):  # the others are unreadable or gone
            raise LastDocumentError(LAST_DOCUMENT) from None
        raise
    if backup:
        backup.unlink(missing_ok=True)
    return changes


def _copy(source: BinaryIO, out: BinaryIO, limit: int) -> None:
    size = 0
    while block := source.read(BLOCK):
        size += len(block)
        if size > limit:
            raise DocumentTooLargeError(f"The file is larger than {limit:,} bytes "
                                        "(RAG_MAX_UPLOAD_BYTES)")
        out.write(block)


def _check_readable(name: str, path: Path, max_chars: int) -> None:
    """Load the file as the indexer will; InvalidDocumentError saying why it cannot be."""
    try:
        load(SourceFile(name, path, ""), max_chars)
    except (ValueError, OSError) as e:
        raise InvalidDocumentError(f"Cannot index {name}: {e}") from e
    except Exception as e:  # a parser's limit or bug: the file is at fault, not us
        log.warning("Upload %s is unreadable", name, exc_info=True)
        raise InvalidDocumentError(f"Cannot index {name}: unreadable "
                                   f"({type(e).__name__})") from e


def _others_in_folder(settings: Settings, doc_id: str) -> bool:
    """Whether the folder holds a document other than ``doc_id`` (one not indexed yet)."""
    try:
        sources, _ = scan(settings.documents_dir, settings.follow_external_links)
    except NoDocumentsError:  # no folder at all
        return False
    return any(s.doc_id != doc_id for s in sources)
