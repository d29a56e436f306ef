"""Loading files under the documents folder into Documents (.txt, .md, .html, .pdf)."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import re
import stat
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import NoDocumentsError
from .types import Document

if TYPE_CHECKING:
    from lxml.html import HtmlElement
    from pypdf import PdfReader

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
    stat: tuple[int, int] = (0, 0)  # size and mtime in ns when hashed


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def doc_id_for(path: Path, root: Path) -> str:
    """A stable id: the path relative to the documents folder, with forward slashes."""
    return path.relative_to(root).as_posix()


def scan(root: Path, follow_external_links: bool = False,
         known: dict[str, tuple[str, tuple[int, int]]] | None = None,
         ) -> tuple[list[SourceFile], list[Skipped]]:
    """Find supported files under ``root`` (recursively) and hash their bytes.

    A link that leads out of ``root`` is skipped unless ``follow_external_links``: a
    document folder must not serve /etc/hostname because someone linked it in. ``known``
    (doc_id -> sha256, (size, mtime in ns)) spares reading a file whose size and
    modification time are those it had when it was hashed, as git's index does.
    """
    if not root.is_dir():
        raise NoDocumentsError(
            f"No documents folder at {root}: create it and put .txt, .md, .html or .pdf files in it"
        )
    found: list[SourceFile] = []
    skipped: list[Skipped] = []
    real_root = os.path.realpath(root)
    # os.walk and plain strings, one stat per file, a link resolved only where there is
    # one: a folder of 20,000 files is scanned in a fraction of what pathlib took.
    entries: list[tuple[tuple[str, ...], str, str]] = []  # (parts, path, real path)
    for dirpath, dirnames, filenames in os.walk(root):  # linked folders: not entered
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root)
        parts = () if rel_dir == "." else tuple(rel_dir.split(os.sep))
        real_dir = os.path.realpath(dirpath)
        for name in filenames:
            if name.startswith("."):
                continue
            full = os.path.join(dirpath, name)
            real = os.path.realpath(full) if os.path.islink(full) else os.path.join(real_dir,
                                                                                    name)
            entries.append(((*parts, name), full, real))
    entries.sort()
    for parts, full, real in entries:
        path = Path(full)
        try:
            st = os.stat(full)
        except OSError:
            continue  # a broken link, or gone since the walk
        if not stat.S_ISREG(st.st_mode):
            continue
        if not follow_external_links and not real.startswith(real_root + os.sep):
            skipped.append(Skipped(full, "a link to a file outside the documents folder "
                                         "(RAG_FOLLOW_EXTERNAL_LINKS=1 follows it)"))
            continue
        suffix = os.path.splitext(parts[-1])[1]
        if suffix.lower() not in SUPPORTED_SUFFIXES:
            skipped.append(Skipped(full, f"unsupported type {suffix or '(none)'}"))
            continue
        doc_id = "/".join(parts)
        file_stat = (st.st_size, st.st_mtime_ns)
        if known and doc_id in known and tuple(known[doc_id][1]) == file_stat and file_stat[1]:
            found.append(SourceFile(doc_id, path, known[doc_id][0], file_stat))
            continue
        try:
            data = path.read_bytes()
        except OSError as e:
            skipped.append(Skipped(full, f"unreadable: {e.strerror or e}"))
            continue
        found.append(SourceFile(doc_id, path, hashlib.sha256(data).hexdigest(), file_stat))
    return found, skipped


class TooLargeError(ValueError):
    """A document's text is over the extraction limit."""


def _too_large(limit: int) -> TooLargeError:
    return TooLargeError(f"more than {limit:,} characters of text (RAG_MAX_DOCUMENT_CHARS): "
                         "split it, or raise the limit")


def load(source: SourceFile, max_chars: int = 5_000_000) -> Document:
    """Parse one file into a Document. Raises ValueError with a reason if it has no text,
    or more than ``max_chars`` characters of it (checked as it is extracted)."""
    kind = SUPPORTED_SUFFIXES[source.path.suffix.lower()]
    outline: list[tuple[int, str]] = []  # (level, heading): an HTML page's or a PDF's
    if kind == "pdf":
        text, title, outline = _pdf_text(source.path, max_chars)
    else:
        # UTF-8 takes at most 4 bytes a character, HTML markup more: a cheap first bound.
        if source.path.stat().st_size > 4 * max_chars * (8 if kind == "html" else 1):
            raise _too_large(max_chars)
        raw = _decode(source.path.read_bytes())
        if kind == "html":
            text, title, outline = _html_text(raw)
        elif kind == "markdown":
            text, title = _markdown_text(raw)
        else:
            text, title = raw, None
    if len(text) > max_chars:
        raise _too_large(max_chars)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text, metadata = clean_text(text)
    if not text.strip():
        raise ValueError("no text in it")
    if kind == "text":  # (Markdown's paragraphs were joined as it was read)
        text = reflow(text)
    headings = (_locate(text, outline) if kind == "html"
                else _pdf_headings(text, outline) if kind == "pdf"
                else _markdown_headings(text) if kind == "markdown"
                else _text_headings(text) if kind == "text" else ())
    if not title and kind in ("text", "markdown"):
        title = next((h for _, level, h in headings if level == 1), None)
    if not title and kind == "markdown":
        # A README that opens with a logo, badges or a sentence is named by its file, not
        # by its first sentence or its first section's heading.
        first = _first_line(text) or ""
        title = (first if first and len(first) <= 80 and not re.search(r"[.,;:!?]$", first)
                 else source.path.stem)
    title = title or _first_line(text) or source.path.stem
    return Document(
        doc_id=source.doc_id,
        title=title[:200],
        path=str(source.path),
        text=text,
        sha256=source.sha256,
        metadata={"format": kind, **metadata},
        headings=headings,
    )


def iter_documents(sources: list[SourceFile],
                   max_chars: int = 5_000_000) -> Iterator[Document | Skipped]:
    """Load each source; one that cannot be read yields a Skipped naming why.

    Any failure of a parser counts as unreadable: one hostile file never stops the rest.
    """
    for src in sources:
        try:
            yield load(src, max_chars)
        except (ValueError, OSError) as e:
            yield Skipped(str(src.path), str(e))
        except Exception as e:  # a parser's bug or limit, not ours to crash on
            log.warning("Could not read %s", src.path, exc_info=True)
            yield Skipped(str(src.path), f"unreadable ({type(e).__name__}: {str(e)[:200]})")


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
        elif url and not _introduces_url(lines, i, j - 1):
            metadata.setdefault("source_url", url.group(1))
            j -= 1
        elif line.rstrip().endswith(":") and _TAIL_BYLINE.match(line):
            metadata.setdefault("byline", line.strip().rstrip(":").strip())
            j -= 1
        else:
            break
    body = "\n".join(line.rstrip() for line in lines[i:j])
    return body.strip("\n"), metadata


def _introduces_url(lines: list[str], first: int, at: int) -> bool:
    """Whether the text before line ``at`` introduces the URL on it ("Older bugs may be
    found here:"): then the URL is content, not the page's source."""
    before = next((line for line in reversed(lines[first:at]) if line.strip()), "")
    return before.rstrip().endswith(":")


# --- plain text as a reader sees it ------------------------------------------------------
# Text wrapped at a fixed width (READMEs, specifications, e-mails, books) breaks its lines
# inside sentences; the chunker and the context cut end a sentence at every line break, so
# such a paragraph is read as one paragraph: its soft line breaks become spaces.
_WRAP_MIN = 40  # a line this long or longer, followed by more of its paragraph, was wrapped
_WRAP_WIDTH = 100  # a wrapped document keeps nine in ten of its long lines within this
_FULL = 0.8  # a line at least this share of the text's width was wrapped
_LIST_START = re.compile(r"\s*(?:[-*+•]|\d{1,3}[.)]|[a-z][.)])\s")
_UNDERLINE = re.compile(r"\s*([=\-~^*])\1{2,}\s*")
_UNDERLINE_LEVELS = {"=": 1, "-": 2, "~": 3, "^": 4, "*": 4}
_BLOCK_START = re.compile(r"\s*(?:#|\||>|```|~~~|<)")
# What prose seldom holds and code often does: an indented line with these is code even when
# it runs to the wrap width.
_CODE_LIKE = re.compile(r"[{}=<>\\\u2500-\u257f]|->|::|/\*|\*/|&\w|\w\((?!s\))|\S {3,}\S"
                        r"|^\s*[$#%>]\s")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def reflow(text: str) -> str:
    """Join the lines of hard-wrapped paragraphs, if the text is wrapped at a fixed width
    (Markdown joins every paragraph's lines, wrapped or not: see _soft_breaks).

    A line break is soft when the line before is long (_WRAP_MIN) and the next line
    continues it: not blank, not a list item, a heading's underline or the heading above
    one, not more indented (code). A line indented by 4 or more is code, unless it
    continues a list item (the GPL's "    b) Convey ..." runs on for twelve lines) or runs
    to the wrap width with nothing code-like in it or the next (a manual page, or the
    Debian Social Contract, indents every paragraph by seven). Text with long unwrapped
    lines (one paragraph a line) is returned as is.
    """
    lines = text.split("\n")
    long_ = [len(line) for line in lines if len(line.strip()) >= _WRAP_MIN]
    if len(long_) < 5 or sum(n <= _WRAP_WIDTH for n in long_) < 0.9 * len(long_):
        return text
    # A line that ends near the wrap width was wrapped; one that ends well short of it and
    # is followed by a capital ("Copyright (c) 1998 A. Author" over "Copyright (c) 1996 ...")
    # is a line of its own.
    full = _full_width(long_)
    out = [lines[0]]
    for k in range(1, len(lines)):
        prev, line = out[-1], lines[k]
        after = lines[k + 1] if k + 1 < len(lines) else ""
        soft = (len(lines[k - 1].strip()) >= _WRAP_MIN
                and line.strip()
                and (not line.lstrip()[:1].isupper() or len(lines[k - 1].rstrip()) >= full)
                and not _LIST_START.match(line) and not _UNDERLINE.fullmatch(line)
                and not _UNDERLINE.fullmatch(after) and not _UNDERLINE.fullmatch(prev)
                and _indent(line) < _indent(lines[k - 1]) + 4
                and not (_indent(lines[k - 1]) >= 4 and not _LIST_START.match(prev)
                         and not (len(lines[k - 1].rstrip()) >= full
                                  and not _CODE_LIKE.search(lines[k - 1])
                                  and not _CODE_LIKE.search(line))))
        if soft:
            out[-1] = f"{prev.rstrip()} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)


_TABLE_ROW = re.compile(r"[^|\n]*\S\s*\|\s*\S")


def _soft_breaks(lines: list[str], fixed: list[bool]) -> str:
    """Markdown's paragraphs, each on one line: a line break inside a paragraph is soft and
    reads as a space (CommonMark), however long the lines are ("... using `node --inspect`
    et al.,\nthe inspector port is incremented by 1 ..." is one sentence). A break stays
    at the ``fixed`` lines (fenced code, HTML blocks), before and after a blank line, a
    heading (and a setext heading's underline), a list item, a quote, a table row,
    indented code (four columns, a tab as four, after a blank line) or a line four columns
    deeper than a paragraph's, and after a hard break (two spaces or a backslash at the end
    of the line)."""
    code = list(fixed)
    for k, line in enumerate(lines):  # indented code: after a blank line or more of it
        if (not code[k] and _indent(line.expandtabs(4)) >= 4 and line.strip()
                and (k == 0 or not lines[k - 1].strip() or code[k - 1])):
            code[k] = True
    out = [lines[0]] if lines else []
    for k in range(1, len(lines)):
        prev, line = lines[k - 1], lines[k]
        after = lines[k + 1] if k + 1 < len(lines) else ""
        soft = (not code[k] and not code[k - 1] and prev.strip() and line.strip()
                and not _BLOCK_START.match(line) and not _BLOCK_START.match(prev)
                and not _LIST_START.match(line)
                and not any(_UNDERLINE.fullmatch(x) for x in (prev, line, after))
                and (_indent(line.expandtabs(4)) < _indent(prev.expandtabs(4)) + 4
                     or _LIST_START.match(prev))
                and not prev.endswith(("  ", "\\"))
                and not (_TABLE_ROW.match(prev) and _TABLE_ROW.match(line)))
        if soft:
            out[-1] = f"{out[-1].rstrip()} {line.strip()}"
        else:
            out.append(line)
    return "\n".join(out)


# "4. The Developers by way of General Resolution", "  4.1. Powers", "  0. Definitions.":
# a section number and a short title, on a line of its own between blank lines.
_NUMBERED_HEADING = re.compile(r"( {0,3})(\d{1,2}(?:\.\d{1,2})*)\.?[ \t]+([A-Z][^\n]{0,78})")


def _text_headings(text: str) -> tuple[tuple[int, int, str], ...]:
    """A plain text's headings: underlined ones, and numbered section headings when the text
    has two or more (one numbered line alone is more likely a list of one). A section "4"
    is level 2 and "4.1" level 3, below an underlined title."""
    numbered, at = [], 0
    lines = text.split("\n")
    for k, line in enumerate(lines):
        m = _NUMBERED_HEADING.fullmatch(line.rstrip())
        if (m and (k == 0 or not lines[k - 1].strip())
                and (k + 1 == len(lines) or not lines[k + 1].strip())
                and not m.group(3).rstrip().endswith((",", ";", ":"))
                and len(m.group(3).split()) <= 12):
            numbered.append((at + len(m.group(1)), 1 + m.group(2).count(".") + 1,
                             line.strip()))
        at += len(line) + 1
    return tuple(sorted(_underlined_headings(text) + tuple(numbered if len(numbered) >= 2
                                                           else ())))


def _underlined_headings(text: str) -> tuple[tuple[int, int, str], ...]:
    """Headings underlined by a line of "=", "-", "~" ("Introduction" over "------"): in
    plain text and Markdown (setext) alike."""
    out, at = [], 0
    lines = text.split("\n")
    for k, line in enumerate(lines[:-1]):
        under = _UNDERLINE.fullmatch(lines[k + 1])
        title = line.strip()
        if (under and title and not _UNDERLINE.fullmatch(line) and not _LIST_START.match(line)
                and len(title) <= 120 and abs(len(lines[k + 1].strip()) - len(title)) <= 3
                + len(title) // 2):
            out.append((at + _indent(line), _UNDERLINE_LEVELS[under.group(1)], title))
        at += len(line) + 1
    return tuple(out)


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


# HTML as a reader sees it. Block elements start a paragraph; inline ones flow into their
# sentence; <pre> keeps its lines; table cells are joined by " | ".
_BLOCKS = frozenset("""address article aside blockquote body caption dd details dialog div dl
    dt fieldset figcaption figure footer form h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre
    section summary table tbody tfoot thead tr ul""".split())
_CELLS = frozenset({"td", "th"})
# Blocks that name what follows them; a <dt> (a term, or an API signature) ranks below h6.
_HEADING_LEVELS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6, "dt": 7}
# Never text: code, media, forms, and the page's chrome (navigation, footers). An <aside>
# is chrome outside the page's marked main content, and content inside it (a footnote).
_DROP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "iframe", "canvas",
                        "nav", "footer", "button", "select", "input", "textarea",
                        "form", "dialog", "head", "title"})
_DROP_ROLES = {"navigation", "search", "banner", "contentinfo", "complementary", "menu",
               "menubar", "toolbar", "dialog"}
# Class names of page furniture: a whole class token ("related", "sphinxsidebar") or its
# first part ("nav-links", "cookie_banner"). An id is chrome only when it is one of these
# words: ids of sections are slugs of their headings ("cookie-objects", "menus").
_CHROME_WORDS = frozenset("""sidebar sphinxsidebar sidebarwrapper navbar nav navigation menu
    breadcrumb breadcrumbs related footer toc skip-link mobile-nav cookie version_switcher
    language_switcher headerlink share social""".split())
# Inline elements carry text inside a sentence: their classes ("toc-backref" on a heading's
# link) never make them chrome.
_INLINE = frozenset("""a abbr b bdi bdo cite code data dfn em i kbd mark q s samp small span
    strong sub sup time u var""".split())
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_PERMALINK_TEXT = {"¶", "#", "§", "🔗", "link"}


def _is_chrome(el: HtmlElement) -> bool:
    """Hidden, navigation or page furniture: nothing a reader of the page reads as content."""
    if el.tag in ("html", "body", "main"):
        return False
    attrs = el.attrib
    if "hidden" in attrs or attrs.get("aria-hidden", "").lower() == "true":
        return True
    if _HIDDEN_STYLE.search(attrs.get("style", "")):
        return True
    if attrs.get("role", "").lower() in _DROP_ROLES:
        return True
    if attrs.get("id", "").lower() in _CHROME_WORDS:
        return True
    if el.tag not in _INLINE and any(
            token in _CHROME_WORDS or re.split(r"[-_]", token, maxsplit=1)[0] in _CHROME_WORDS
            for token in attrs.get("class", "").lower().split()):
        return True
    if el.tag == "a" and el.text_content().strip() in _PERMALINK_TEXT:
        return attrs.get("href", "").startswith("#")
    return False


class _Text:
    """Collects paragraphs: inline text joins the current one, a block boundary ends it."""

    def __init__(self) -> None:
        self.paragraphs: list[str] = []
        self.parts: list[str] = []
        self.pre = False  # the current paragraph is preformatted: keep its indentation
        self.headings: list[tuple[int, str]] = []  # (level, text) of h1-h6 and <dt> blocks
        self.in_main = False  # reading the page's marked main content: an <aside> is content

    def add(self, text: str, pre: bool) -> None:
        self.pre = self.pre or pre
        self.parts.append(text if pre else re.sub(r"[ \t\n\r\f\v\u00a0]+", " ", text))

    def newline(self) -> None:
        self.parts.append("\n")

    def end_block(self) -> None:
        text = "".join(self.parts)
        self.parts = []
        lines = [ln.rstrip() if self.pre else re.sub(r" {2,}", " ", ln.strip())
                 for ln in text.split("\n")]
        self.pre = False
        text = "\n".join(lines).strip("\n")
        if text.strip():
            self.paragraphs.append(text)


def _walk(el: HtmlElement, out: _Text, pre: bool = False, cell: bool = False) -> None:
    """Add the text under ``el`` (an lxml element). In a table cell, blocks (a <p> in a
    <td>) are only spaces: the row is the paragraph."""
    if el.text:
        out.add(el.text, pre)
    for child in el:
        name = child.tag if isinstance(child.tag, str) else None  # None: a comment or PI
        if (name is None or name in _DROP_TAGS or _is_chrome(child)
                or (name == "aside" and not out.in_main)):
            pass
        elif name == "br":
            out.newline()
        elif name in _CELLS:
            out.add(" | " if "".join(out.parts).strip() else "", pre)
            _walk(child, out, pre, cell=True)
        elif name in _BLOCKS:
            if pre:  # a block inside <pre> (rare) only breaks the line
                out.newline()
                _walk(child, out, True, cell)
            elif cell:
                out.add(" ", False)
                _walk(child, out, name == "pre", cell)
                out.add(" ", False)
            else:
                out.end_block()
                before = len(out.paragraphs)
                _walk(child, out, name == "pre")
                out.end_block()
                level = _HEADING_LEVELS.get(name)
                if level and len(out.paragraphs) == before + 1:
                    out.headings.append((level, out.paragraphs[-1]))
        else:
            _walk(child, out, pre, cell)
        if child.tail:  # the text after a child belongs to this element, dropped or not
            out.add(child.tail, pre)


_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def _html_text(raw: str) -> tuple[str, str | None, list[tuple[int, str]]]:
    """The text of an HTML page as a reader sees it, its title and its headings
    ((level, text), in order).

    Hidden elements, navigation, sidebars, footers, forms and permalink signs are left
    out; when the page marks its main content (<main> or role="main"), only that is
    read. lxml's parser and tree, walked once: a large page takes milliseconds.
    """
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.document_fromstring(_XML_DECLARATION.sub("", raw, count=1))
    except ParserError:  # "Document is empty"
        return "", None, []
    found = root.find(".//title")
    title = " ".join(found.text_content().split()) if found is not None else None
    main = next((m for m in root.iterfind(".//main") if m.text_content().strip()), None)
    if main is None:
        main = next((m for m in root.iterfind(".//*[@role='main']")
                     if m.text_content().strip()), None)
    body = main if main is not None else (root.find("body") if root.find("body") is not None
                                          else root)
    if not title and (h1 := body.find(".//h1")) is not None:
        title = " ".join(h1.text_content().split())
    out = _Text()
    out.in_main = main is not None
    _walk(body, out)
    out.end_block()
    return "\n\n".join(out.paragraphs), title or None, out.headings


# --- a PDF's text as a reader sees it -----------------------------------------------------
# pypdf gives a PDF's lines as they are set on the page: every line of a paragraph ends in a
# line break, some words are split by a hyphen at the end of a line, and each page repeats
# its running header or footer ("A Brief History of Debian 3 / 21"). The chunker and the
# context cut end a sentence at every line break, so those are undone here.
_PDF_EDGE = 2  # lines at a page's top and bottom that may be a running header or footer
# Contents lines with dot leaders ("4.1 The 0.x Releases . . . . 6"), tested on lines this
# short only: a long run of dots would make the pattern slow.
_PDF_LEADERS = re.compile(r".*?\S\s*(?:\.\s?){4,}\s*(?:\d+|[ivxlc]+)", re.IGNORECASE)
_PDF_LEADERS_MAX = 300
_PDF_ITEM = re.compile(r"\s*(?:[•◦▪‣∙·*–-]|\(?\d{1,3}[.)]|\(?[a-z][.)]|\([ivx]+\))\s")
_PDF_FOOTNOTE = re.compile(r"(\d{1,2}|[*†‡])\s+\S")
_PDF_COLUMNS = re.compile(r"\S {3,}\S")  # a table's columns
_PDF_HYPHENATED = re.compile(r"(\S*?)(\w+)-$")
# A page number as a page sets it, alone or at either end of a running line: "3", "iv",
# "3 / 21", "Page 3 of 21", "- 3 -".
_ROMAN = r"(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3})"
_PAGE_NUMBER = rf"(?:page\s+)?(?:\d{{1,4}}|{_ROMAN})(?:\s*(?:/|of)\s*\d{{1,4}})?"
_PAGE_AT_END = re.compile(rf"^[\s\-–|·]*({_PAGE_NUMBER})[\s\-–|·]+|[\s\-–|·]+({_PAGE_NUMBER})"
                          rf"[\s\-–|·]*$|^[\s\-–|·]*({_PAGE_NUMBER})[\s\-–|·]*$",
                          re.IGNORECASE)
# A closing quote set where a quotation opens (after a space, before a letter: LaTeX output
# often has ”... being between” for “... being between”) is the opening one, so that the
# quotation reads as open until it closes. A single quote not before a digit: "the ’90s".
_OPENING = re.compile(r"(^|[\s(\[])(”(?=\w|\.\.\.|…)|’(?=[^\W\d]|\.\.\.|…))", re.MULTILINE)
_OPENS = {"”": "“", "’": "‘"}
# A heading as a PDF sets it: its outline title, after its number ("4.1", "A.2.", "IV").
_PDF_NUMBER = re.compile(r"(?:[0-9]{1,3}|[A-Z]|[IVX]{1,4})(?:\.[0-9]{1,3})*\.?[ \t]+")
# An outline title may spell its quotes and dashes otherwise than the page ("What's Next?"
# over "What’s Next?"): they are compared folded, character for character.
_FOLD = str.maketrans({"‘": "'", "’": "'", "`": "'", "“": '"', "”": '"', "–": "-", "—": "-"})


def _pdf_text(path: Path, max_chars: int) -> tuple[str, str | None, list[tuple[int, str]]]:
    """A PDF's text as a reader sees it (see pdf_paragraphs), its title, and the headings
    its outline (bookmarks) names, as (level, title) in reading order."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError, PyPdfError

    pages: list[str] = []
    size = 0
    try:
        reader = PdfReader(str(path))
        title = (reader.metadata.title if reader.metadata else None) or None
        for page in reader.pages:  # page by page, so a huge PDF stops at the limit
            text = page.extract_text() or ""
            pages.append(text)
            size += len(text)
            if size > max_chars:
                raise _too_large(max_chars)
    except TooLargeError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, RecursionError) as e:
        # PyPdfError covers LimitReachedError: pypdf's guard against decompression bombs.
        raise ValueError(f"unreadable PDF ({type(e).__name__}: {str(e)[:200]})") from e
    if not any(p.strip() for p in pages):
        raise ValueError("PDF has no text layer (scanned image?): run OCR on it first "
                         "(ocrmypdf), or add its text as a .txt file")
    outline = _pdf_outline(reader)
    text = pdf_paragraphs(pages, [t for _, t in outline])
    # Without a title in its metadata, a PDF is named by its running header, which is most
    # often its title ("Shared MIME-info Database" atop every page), not by its first line.
    title = str(title).strip() if title and str(title).strip() else _running_title(pages)
    return text, title, outline


def _pdf_outline(reader: PdfReader) -> list[tuple[int, str]]:
    """The outline's titles with their depth (1 for the top level), in reading order; none
    when the PDF has no outline or pypdf cannot read it (headings are then simply absent)."""
    out: list[tuple[int, str]] = []

    def walk(items: list, level: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, level + 1)
            elif (t := " ".join(str(getattr(item, "title", "") or "").split())):
                out.append((level, t))

    try:
        walk(reader.outline, 1)
    except Exception as e:  # noqa: BLE001 - a broken outline costs the headings, not the file
        log.debug("PDF outline unreadable: %s", e)
        return []
    return out


@dataclass(frozen=True)
class _PageLine:
    """A line at a page's edge, as it may recur on other pages: its text without the page
    number, whether that number is roman, and its offset from the page's index (None
    without one). A page numbered 3 as the 9th page has offset -6, as has the 10th
    numbered 4."""

    mark: str
    roman: bool = False
    offset: int | None = None


def _page_line(line: str, index: int) -> _PageLine:
    text = " ".join(line.split())
    m = _PAGE_AT_END.search(text)
    if not m:
        return _PageLine(text.lower())
    number = re.sub(r"^page\s+", "", (m.group(1) or m.group(2) or m.group(3)).lower())
    first = re.match(rf"\d+|{_ROMAN}", number)
    digits = first is not None and first.group(0).isdigit()
    value = int(first.group(0)) if digits else _roman_value(first.group(0)) if first else 0
    mark = (text[: m.start()] + " # " + text[m.end():]).lower()
    return _PageLine(" ".join(mark.split()), not digits, value - index)


def _roman_value(numeral: str) -> int:
    values = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100, "d": 500, "m": 1000}
    total = 0
    for a, b in zip(numeral, numeral[1:] + " ", strict=True):
        total += -values[a] if values.get(b, 0) > values[a] else values[a]
    return total


def _running_lines(pages: list[list[str]]) -> set[_PageLine]:
    """Running headers and footers: lines among a page's first or last two that recur the
    same but for a page number that rises with the pages ("A Brief History of Debian 3 /
    21", "iv", "12") on two pages, or the same on three pages and a fifth of them. A number
    that does not follow the pages ("Since: 4.19", "Chapter 3") makes no running line."""
    seen: Counter[_PageLine] = Counter()
    for index, lines in enumerate(pages):
        kept = [ln for ln in lines if ln.strip()]
        seen.update({_page_line(ln, index) for ln in kept[:_PDF_EDGE] + kept[-_PDF_EDGE:]})
    # Per line, the pages numbered in step (front matter in roman numerals, the body in
    # digits, each with its own offset) count together.
    step: dict[tuple[str, bool], _PageLine] = {}
    for line, _ in seen.most_common():
        step.setdefault((line.mark, line.roman), line)
    total: Counter[str] = Counter()
    for line in step.values():
        total[line.mark] += seen[line]
    # A number in step with the pages is a page number: two pages show a running line; a
    # line without one must recur on three pages and a fifth of them.
    need = max(3, math.ceil(len(pages) / 5))
    return {line for line in step.values()
            if total[line.mark] >= (2 if line.offset is not None else need)}


def _running_title(pages: Sequence[str]) -> str | None:
    """The running header that tops the most pages, without its page number, if it tops at
    least half of them (a chapter's header tops only that chapter's pages)."""
    firsts: dict[_PageLine, list[str]] = {}
    for index, page in enumerate(pages):
        first = next((ln.strip() for ln in page.split("\n") if ln.strip()), "")
        if first:
            firsts.setdefault(_page_line(first, index), []).append(first)
    best = max(firsts.values(), key=len, default=[])
    if len(best) < max(3, math.ceil(len(pages) / 2)):
        return None
    m = _PAGE_AT_END.search(best[0])
    title = f"{best[0][: m.start()]} {best[0][m.end():]}" if m else best[0]
    return " ".join(title.split()) or None


def pdf_paragraphs(pages: Sequence[str], titles: Sequence[str] = ()) -> str:
    """The text of a PDF's pages (as pypdf extracts them) with each paragraph on one line.

    Running headers and footers and page numbers (see _running_lines) and contents lines
    with dot leaders ("4.1 The 0.x Releases . . . . 6") are dropped; a line that is one of
    the outline's ``titles`` never is. A line break is soft, and becomes a space, when the
    line before runs to (nearly) the text's width (see _soft_break). Pages continue each
    other's paragraphs. A word split by a hyphen is joined again (see _join); a closing
    quote where a quotation opens is read as the opening one. Nothing is dropped when the
    rules would drop every line."""
    titled = {" ".join(t.split()).translate(_FOLD) for t in titles}
    split = [p.replace("\r\n", "\n").replace("\r", "\n").split("\n") for p in pages]
    running = _running_lines(split)
    lines: list[tuple[str, bool]] = []  # (line, the first line of a footnote)
    every: list[tuple[str, bool]] = []
    for index, page in enumerate(split):
        kept = [ln.strip() for ln in page if ln.strip()]
        edge = {*range(min(_PDF_EDGE, len(kept))),
                *range(max(0, len(kept) - _PDF_EDGE), len(kept))}
        for k, ln in enumerate(kept):
            note = k > 0 and k >= len(kept) - 4 and _footnote(ln, kept[:k])
            every.append((ln, note))
            if _pdf_heading(ln, titled) or not (
                    (k in edge and _page_line(ln, index) in running)
                    or (len(ln) <= _PDF_LEADERS_MAX and _PDF_LEADERS.fullmatch(ln))):
                lines.append((ln, note))
    lines = lines or every
    if not lines:
        return ""
    full = _full_width([len(ln) for ln, _ in lines if len(ln) >= _WRAP_MIN])
    vocabulary = Counter(w.lower() for w in re.findall(r"\w+", "\n".join(ln for ln, _ in lines)))
    out = [lines[0][0]]
    for (prev, _), (line, note) in zip(lines, lines[1:], strict=False):
        if note or not full or not _soft_break(prev, line, full, titled):
            out.append(line)
        else:
            out[-1] = _join(out[-1], line, vocabulary)
    return _OPENING.sub(lambda m: m.group(1) + _OPENS[m.group(2)], "\n".join(out))


def _footnote(line: str, above: Sequence[str]) -> bool:
    """Whether ``line``, near a page's foot, opens a footnote: its mark ("1 https://...",
    "* Since 2005") follows a word above it on the page ("developers1"); "20 MHz 386-based
    machine" continues a sentence."""
    m = _PDF_FOOTNOTE.match(line)
    return bool(m) and re.search(rf"[^\W\d]{re.escape(m.group(1))}(?![\w.])",
                                 "\n".join(above)) is not None


def _full_width(lengths: Sequence[int]) -> float:
    """The length a line runs to when it was wrapped, from the lengths of a text's long
    lines: a share (_FULL) of their 90th percentile; 0 when there are none. Plain text
    (reflow) and PDF pages (pdf_paragraphs) are measured alike."""
    widths = sorted(lengths)
    return _FULL * widths[int(0.9 * (len(widths) - 1))] if widths else 0.0


def _soft_break(prev: str, line: str, full: float, titles: set[str]) -> bool:
    """Whether the break between ``prev`` and ``line`` is inside a paragraph: ``prev`` runs
    to the width, and ``line`` is no list item, table row or heading (one the outline names,
    or a short line after a sentence's end)."""
    return (len(prev) >= full and not _PDF_ITEM.match(line)
            and not _PDF_COLUMNS.search(prev) and not _PDF_COLUMNS.search(line)
            and not _pdf_heading(line, titles) and not _pdf_heading(prev, titles)
            and not (re.search(r"[.!?:][”\"’')\]]*$", prev) and len(line) < full))


def _join(last: str, line: str, vocabulary: Counter[str]) -> str:
    """``line`` run on after ``last``. A word hyphenated at the break is one word again when
    the document writes it so elsewhere, or when its parts are not both words of their own
    (each found elsewhere, or the first a long one: "develop-" "ment", "doc-" "umented");
    it keeps its hyphen otherwise ("dpkg-" "deb", "correspondingly-" "revised") and always
    in an option or a name with digits ("--no-" "verify", "kfreebsd-" "amd64").
    A name or path broken after "_" or "/" is joined without a space ("ASN1_MAX_"
    "NAME_SIZE"), unless the line goes on with a plain word ("https://www.debian.org/" "and
    the rest")."""
    token = re.match(r"\S+", line)
    first = token.group(0) if token else ""
    head = _PDF_HYPHENATED.search(last)
    if head and line[:1].islower():
        tail = (re.match(r"\w+", line) or re.match("", line)).group(0).lower()
        word = head.group(2).lower()
        named = head.group(1).startswith("-") or re.search(r"[\d_]|\.\w", head.group(0) + first)
        words = (vocabulary[word] >= 2 or len(word) >= 6) and vocabulary[tail] >= 2
        if not named and (vocabulary[word + tail] or not words):
            return last[:-1] + line
        return last + line
    if last.endswith(("_", "/")) and re.search(r"[_/.]", first):
        return last + line
    return f"{last} {line}"


def _pdf_heading(line: str, titles: set[str]) -> bool:
    """Whether ``line`` is one of the outline's ``titles``, after its number if it has one."""
    if not titles:
        return False
    line = " ".join(line.split()).translate(_FOLD)
    m = _PDF_NUMBER.match(line)
    return line in titles or (m is not None and line[m.end():] in titles)


def _pdf_headings(text: str,
                  outline: Sequence[tuple[int, str]]) -> tuple[tuple[int, int, str], ...]:
    """Offsets of the outline's headings in the text: each title (after its number, if the
    page gives one) found as a line of its own, searching forward in reading order, and not
    in a list of three or more titles in a row (a contents page without page numbers,
    which may end right before the first heading); a
    title the text does not show so (set over two lines, or worded otherwise) is left out."""
    titles = {" ".join(t.split()).translate(_FOLD) for _, t in outline}
    starts = [m.start() for m in re.finditer(r"^", text, re.MULTILINE)]
    is_title = [_pdf_heading(text[a:b], titles) for a, b in
                zip(starts, [s - 1 for s in starts[1:]] + [len(text)], strict=True)]
    # In a run of titles, all but the last are a list (the last may be the first heading,
    # right after the list).
    listed = {starts[i] for i in range(len(starts) - 2)
              if all(is_title[i:i + 3]) or (i and all(is_title[i - 1:i + 2]))}
    out, pos = [], 0
    folded = text.translate(_FOLD)
    for level, title in outline:
        pattern = re.compile(rf"^(?:{_PDF_NUMBER.pattern})?{re.escape(title.translate(_FOLD))}"
                             r"[ \t]*$", re.MULTILINE)
        found = next((m for m in pattern.finditer(folded, pos) if m.start() not in listed), None)
        if found:
            out.append((found.start(), level, " ".join(text[found.start():found.end()].split())))
            pos = found.end()
    return tuple(out)


def _locate(text: str, headings: list[tuple[int, str]]) -> tuple[tuple[int, int, str], ...]:
    """Offsets in the final text of the headings the HTML walk saw, in order (cleaning
    only drops whole lines at the ends, so each is found, as a line of its own, by a
    forward search)."""
    out, pos = [], 0
    for level, heading in headings:
        # The heading's own line, not the same words earlier in a paragraph.
        found = re.compile(rf"^{re.escape(heading)}$", re.MULTILINE).search(text, pos)
        if found:
            out.append((found.start(), level, heading))
            pos = found.end()
    return tuple(out)


_MD_HEADING = re.compile(r"(#{1,6})[ \t]+(\S.*)")
_MD_FENCE = re.compile(r"\s{0,3}(```|~~~)")


# Markdown as a reader sees it: front matter is metadata, a link reads as its text, an
# image as its alt text, a reference definition and an HTML tag as nothing (outside code).
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.DOTALL)
_MD_LINK = re.compile(r"!?\[([^\]\n]*)\]\((?:[^()\s]|\([^()\s]*\))*(?:\s+\"[^\"\n]*\")?\)")
_MD_REF_LINK = re.compile(r"\[([^\]\n]+)\]\[[^\]\n]*\]")
_MD_REF_DEFINITION = re.compile(r"\s{0,3}\[[^\]\n]+\]:\s+\S+.*")
_HTML_TAG = re.compile(r"</?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>\n]*)?/?>")
_HTML_BLOCK = re.compile(r" {0,3}<(?:[A-Za-z/]|!--)")


def _markdown_text(raw: str) -> tuple[str, str | None]:
    """The text of a Markdown file, and the title its front matter gives, if any."""
    title = None
    if m := _FRONT_MATTER.match(raw.replace("\r\n", "\n")):
        if t := re.search(r"^title:\s*[\"']?(.+?)[\"']?\s*$", m.group(1), re.MULTILINE):
            title = t.group(1)
        raw = raw.replace("\r\n", "\n")[m.end():]
    lines = raw.split("\n")
    out: list[str] = []
    fixed: list[bool] = []  # code and HTML blocks: their line breaks are not soft
    html = False
    for line, code in zip(lines, _code_lines(lines), strict=True):
        if not code:
            if _MD_REF_DEFINITION.fullmatch(line):
                continue
            # An HTML block runs from a line opening with a tag (or comment) to a blank line.
            html = bool(line.strip()) and (html or _HTML_BLOCK.match(line) is not None)
            line = _HTML_TAG.sub("", _MD_REF_LINK.sub(r"\1", _MD_LINK.sub(r"\1", line)))
        out.append(line)
        fixed.append(code or html)
    return _soft_breaks(out, fixed), title


def _markdown_headings(text: str) -> tuple[tuple[int, int, str], ...]:
    """ATX headings ("## Setup") and underlined (setext) ones, outside fenced code blocks,
    with their offsets."""
    lines = text.split("\n")
    code = _code_lines(lines)
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    out = []
    for at, line, in_code in zip(starts, lines, code, strict=True):
        if not in_code and (m := _MD_HEADING.fullmatch(line)):
            heading = re.sub(r"[ \t]+#+$", "", m.group(2).rstrip())  # a closing "##"
            if heading:
                out.append((at + m.start(2), len(m.group(1)), heading))
    # Setext: "Title" over "=====" (level 1) or "-----" (level 2).
    line_of = {at: k for k, at in enumerate(starts)}
    out += [h for h in _underlined_headings(text) if h[1] <= 2
            and not code[line_of[text.rfind("\n", 0, h[0]) + 1]]]
    return tuple(sorted(out))


def _code_lines(lines: list[str]) -> list[bool]:
    """Which Markdown lines are fenced code: the fences and what lies between them (a
    block opened by ``` closes at ```, not at ~~~; one left open runs to the end)."""
    out, fence = [], None
    for line in lines:
        m = _MD_FENCE.match(line)
        out.append(fence is not None or m is not None)
        if m:
            fence = None if fence == m.group(1) else (fence or m.group(1))
    return out


def _first_line(text: str) -> str | None:
    for line in text.split("\n"):
        if line.strip():
            return line.strip()
    return None
