"""Loading files under the documents folder into Documents (.txt, .md, .html, .pdf)."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import NoDocumentsError
from .types import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = {".txt": "text", ".md": "markdown", ".markdown": "markdown",
                      ".html": "html", ".htm": "html", ".pdf": "pdf"}

_URL_LINE = re.compile(r"^\s*(https?://\S+)\s*$")
# Scraping debris at the top of a page: share buttons, category labels, lone symbols.
_HEAD_DEBRIS = re.compile(
    r"^\s*(?:[^\w\s]*\w?[^\w\s]*|(?:categories|category|tags|share|tweet|print)\b.*)\s*$",
    re.IGNORECASE,
)
# A byline left at the very end: "Kevo Kalantarian:", "By Jane Doe".
_TAIL_BYLINE = re.compile(r"^\s*(?:by\s+)?[A-Z][\w.'’-]*(?:\s+[A-Z][\w.'’-]*){0,3}\s*:?\s*$")


@dataclass(frozen=True)
class SourceFile:
    """A file found under the documents folder, before parsing."""

    doc_id: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def doc_id_for(path: Path, root: Path) -> str:
    """A stable id: the path relative to the documents folder, with forward slashes."""
    return path.relative_to(root).as_posix()


def scan(root: Path) -> tuple[list[SourceFile], list[Skipped]]:
    """Find supported files under ``root`` (recursively) and hash their bytes."""
    if not root.is_dir():
        raise NoDocumentsError(
            f"No documents folder at {root}: create it and put .txt, .md, .html or .pdf files in it"
        )
    found: list[SourceFile] = []
    skipped: list[Skipped] = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(Skipped(str(path), f"unsupported type {path.suffix or '(none)'}"))
            continue
        try:
            data = path.read_bytes()
        except OSError as e:
            skipped.append(Skipped(str(path), f"unreadable: {e.strerror or e}"))
            continue
        found.append(SourceFile(doc_id_for(path, root), path, hashlib.sha256(data).hexdigest()))
    return found, skipped


def load(source: SourceFile) -> Document:
    """Parse one file into a Document. Raises ValueError with a reason if it has no text."""
    kind = SUPPORTED_SUFFIXES[source.path.suffix.lower()]
    data = source.path.read_bytes()
    if kind == "pdf":
        text, title = _pdf_text(source.path)
    else:
        raw = _decode(data)
        if kind == "html":
            text, title = _html_text(raw)
        else:
            text, title = raw, None
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text, metadata = clean_text(text)
    if not text.strip():
        raise ValueError("no text in it")
    if not title:
        title = _markdown_title(text) if kind == "markdown" else None
    title = title or _first_line(text) or source.path.stem
    return Document(
        doc_id=source.doc_id,
        title=title[:200],
        path=str(source.path),
        text=text,
        sha256=source.sha256,
        metadata={"format": kind, **metadata},
    )


def iter_documents(sources: list[SourceFile]) -> Iterator[Document | Skipped]:
    """Load each source; one that cannot be read yields a Skipped naming why."""
    for src in sources:
        try:
            yield load(src)
        except (ValueError, OSError) as e:
            yield Skipped(str(src.path), str(e))


def clean_text(text: str) -> tuple[str, dict[str, str]]:
    """Drop scraping debris at the head and tail; keep a source URL found there as metadata.

    Only whole lines at the very start or end are dropped, and only short ones that look
    like debris (a lone "X", "Categories: 2023", a trailing "Author Name:" byline), so
    article text is never lost.
    """
    metadata: dict[str, str] = {}
    lines = text.split("\n")
    # Leading debris, before the first substantive line.
    i = 0
    while i < len(lines) and (not lines[i].strip() or _HEAD_DEBRIS.match(lines[i])):
        i += 1
    # Trailing: blank lines, a byline, the source URL.
    j = len(lines)
    while j > i:
        line = lines[j - 1]
        url = _URL_LINE.match(line)
        if not line.strip():
            j -= 1
        elif url:
            metadata.setdefault("source_url", url.group(1))
            j -= 1
        elif line.rstrip().endswith(":") and _TAIL_BYLINE.match(line):
            metadata.setdefault("byline", line.strip().rstrip(":").strip())
            j -= 1
        else:
            break
    body = "\n".join(line.rstrip() for line in lines[i:j])
    return body.strip("\n"), metadata


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ValueError("binary content, not text")
    for encoding in ("utf-8-sig", "utf-16"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            break
        return text
    raise ValueError("not valid UTF-8 text")


def _html_text(raw: str) -> tuple[str, str | None]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "noscript", "template", "head", "svg", "iframe"]):
        if tag.name != "head":
            tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    if not title and (h1 := soup.find("h1")):
        title = h1.get_text(" ", strip=True)
    if soup.head:
        soup.head.decompose()
    text = soup.get_text("\n")
    lines = [re.sub(r"[ \t\u00a0]+", " ", ln).strip() for ln in text.split("\n")]
    text = re.sub(r"\n{3,}", "\n\n", "\n".join(lines))
    return text.strip(), title or None


def _pdf_text(path: Path) -> tuple[str, str | None]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or None
    except (PdfReadError, ValueError, KeyError, TypeError) as e:
        raise ValueError(f"unreadable PDF ({e})") from e
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise ValueError("PDF has no text layer (scanned image?)")
    return text, str(title) if title else None


def _markdown_title(text: str) -> str | None:
    for line in text.split("\n"):
        if m := re.match(r"^#{1,6}\s+(.+?)\s*#*\s*$", line):
            return m.group(1)
    return None


def _first_line(text: str) -> str | None:
    for line in text.split("\n"):
        if line.strip():
            return line.strip()
    return None
