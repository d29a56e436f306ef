"""The persisted index: FAISS vectors, the chunk store, the documents and a manifest.

Layout under the index folder::

    CURRENT              name of the live generation (replaced atomically)
    gen-000007/          one complete generation
        manifest.json    embedding model, dimension, chunk settings, content hashes, version
        vectors.faiss    the FAISS index; row i is chunk i
        chunks.npy       per chunk: document number, start, end, ordinal, heading number
        chunks.json      the document ids and the distinct heading paths those numbers
                         refer to (a chunk's text is its document's text[start:end])
        documents.json   doc_id -> title, path, sha256, metadata, headings, and where its
                         text lies in texts.txt
        texts.txt        every document's text, one after the other (UTF-8), memory-mapped
        bm25/            the BM25 index of the chunks (bm25s), loaded memory-mapped
        vocabulary.json  every word of the documents (stemmed) and code name, with the
                         number of documents that hold it (updated per document)

Nothing is parsed per chunk at start: a million chunks load as a few arrays, and a chunk
or a document's text is made when it is read. (A generation written before this layout,
with chunks.jsonl and the texts inside documents.json, still loads.)

A new generation is written aside in a temporary folder, renamed into place, and only
then does CURRENT point at it. A run killed at any moment leaves the previous
generation live and loadable.

That is the FAISS store, the default. With ``RAG_VECTOR_STORE=qdrant`` the same index
lives in a Qdrant collection instead (rag/qdrant_store.py): ``update_index`` decides what
changed the same way for both, and each store writes it its own way.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .chunking import chunk_document
from .documents import Skipped, iter_documents, scan
from .errors import IndexCorruptError, IndexNotFoundError, IndexWriteError, NoDocumentsError
from .files import atomic_replace_dir, atomic_write_text, fsync_path
from .progress import SILENT, Reporter, Task
from .retrieval import LexicalIndex
from .text import code_names, word_keys
from .types import Chunk, Document
from .vectors import build as build_vectors
from .vectors import choose_kind
from .version import __version__

FORMAT_VERSION = 9  # 2: chunks carry their heading path, embedded with the text; 3: heading
# offsets found on their own line (before 98e7bed a heading word inside an earlier paragraph
# could take its place), which chunk starts, heading paths and the context rules rely on,
# and BM25 terms stemmed so that "raise" and "raises" are one term; 4: plain text and
# Markdown read as paragraphs (hard-wrapped, indented and list-item lines joined) and a plain
# text's numbered sections taken for headings, which change its chunks and heading paths;
# 5: a PDF read as paragraphs (running headers and hyphenated line ends undone) with the
# headings its outline names; 6: BM25 terms and the vocabulary stemmed so that "ratified",
# "ratifies" and "ratification" are "ratify" (before, "-ied" and "-ification" each made a
# term of their own: "specified" never matched "specify"); 7: the vocabulary holds whole
# numbers ("3.5.0" and "3.5", "1024" for "1,024"), so that a question on rsync 3.6.0 is not
# taken for one on 3.5.0 because both begin with 3; 8: a Markdown paragraph is one line
# whatever its lines' lengths (a soft line break is a space, as CommonMark renders it); 9:
# a version or thousands number before a comma is whole in the vocabulary ("Debian 1.0,
# which ..." holds 1.0; before, only 1 and 0)
CURRENT = "CURRENT"


@dataclass(frozen=True)
class Manifest:
    embedding_model: str
    dimension: int
    chunk_size: int
    chunk_overlap: int
    documents: dict[str, str]  # doc_id -> sha256 of the file's bytes
    n_chunks: int
    index_type: str = "flat"
    index_params: dict[str, Any] = field(default_factory=dict)  # e.g. IVF nlist, nprobe
    # doc_id -> [size, mtime in ns] of the file when it was hashed: an unchanged file is
    # not read again to tell whether it changed
    stats: dict[str, list[int]] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    package_version: str = __version__
    created_at: str = ""

    def settings_mismatch(self, embedding_model: str, dimension: int, chunk_size: int,
                          chunk_overlap: int) -> str | None:
        """Why this index cannot be reused with these settings, or None if it can."""
        if self.format_version != FORMAT_VERSION:
            return f"built in index format {self.format_version}, now {FORMAT_VERSION}"
        if self.embedding_model != embedding_model or self.dimension != dimension:
            return (f"built with embedding model {self.embedding_model} ({self.dimension} dims), "
                    f"now {embedding_model} ({dimension} dims)")
        if (self.chunk_size, self.chunk_overlap) != (chunk_size, chunk_overlap):
            return (f"built with chunks of {self.chunk_size}/{self.chunk_overlap}, "
                    f"now {chunk_size}/{chunk_overlap}")
        return None


@dataclass
class Index:
    """A loaded index. ``chunks[i]`` is FAISS row i (and BM25 document i).

    The searches (``search_vectors``, ``search_terms``, ``term_share``) are what a store
    provides; this class is the FAISS one, and rag/qdrant_store.py's QdrantIndex the other.
    """

    manifest: Manifest
    documents: Mapping[str, Document]  # a dict, or LazyDocuments when loaded
    chunks: Sequence[Chunk]  # a list, or a ChunkTable when loaded
    vectors: Any  # faiss.Index
    path: Path | None = None
    store: str = "faiss"
    _lexical: LexicalIndex | None = field(default=None, repr=False)
    _vocabulary: Counter[str] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __len__(self) -> int:
        return len(self.chunks)

    def chunk_counts(self) -> dict[str, int]:
        """Number of chunks per document id."""
        counts = dict.fromkeys(self.documents, 0)
        if isinstance(self.chunks, ChunkTable):
            numbers = np.bincount(self.chunks.rows[:, 0], minlength=len(self.chunks.doc_ids))
            counts.update(zip(self.chunks.doc_ids, map(int, numbers), strict=True))
            return counts
        for c in self.chunks:
            counts[c.doc_id] += 1
        return counts

    def title(self, doc_id: str) -> str:
        return self.documents[doc_id].title

    def search_vectors(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        """(row, inner product) of the ``k`` nearest chunks."""
        k = min(k, len(self.chunks))
        if k <= 0:
            return []
        scores, ids = self.vectors.search(np.asarray(query, dtype=np.float32).reshape(1, -1), k)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    @property
    def lexical(self) -> LexicalIndex:
        """BM25 over the chunks' heading paths and texts: the generation's bm25/ (opened,
        memory-mapped, by ``load``), or built once if it has none (written before)."""
        if self._lexical is None:
            with self._lock:
                if self._lexical is None:
                    self._lexical = LexicalIndex.build([c.search_text for c in self.chunks])
        return self._lexical

    def search_terms(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, BM25 score) of the ``k`` best chunks for the query's terms."""
        return self.lexical.top(query, k)

    @property
    def vocabulary(self) -> Counter[str]:
        """Every word key and code name of the documents -> how many documents hold it:
        read with the generation (written when it was), or counted once if it has none."""
        if self._vocabulary is None:
            with self._lock:
                if self._vocabulary is None:
                    self._vocabulary = count_vocabulary(self.documents.values())
        return self._vocabulary

    def term_share(self, term: str) -> float:
        """The share of chunks holding a content term (stemmed)."""
        return self.lexical.share(term)

    @property
    def location(self) -> str:
        """Where the index lives, for a person to read."""
        return str(self.path)

    def stale(self) -> bool:
        """Whether another process changed the index since it was loaded (a shared store)."""
        return False

    def reload(self) -> Index:
        """The index as it is now in its store."""
        assert self.path is not None, "an index that was never saved has nothing to reload"
        return Index.load(self.path.parent)

    def all_vectors(self) -> np.ndarray:
        from .vectors import reconstruct_all

        return reconstruct_all(self.vectors)

    # --- persistence -------------------------------------------------------------------

    @classmethod
    def load(cls, folder: Path) -> Index:
        import faiss

        from .vectors import configure

        pointer = folder / CURRENT
        if not pointer.is_file():
            raise IndexNotFoundError(f"No index in {folder}/: run `rag index`")
        try:
            gen = folder / pointer.read_text().strip()
            manifest = Manifest(**json.loads((gen / "manifest.json").read_text()))
            if (gen / "chunks.npy").is_file():
                documents, chunks = _load_tables(gen)
            else:  # the layout before: every chunk and text in JSON
                documents, chunks = _load_json(gen)
            # Memory-mapped: 1.6 GB of IVF lists open in 0.004 s instead of 1.3 s.
            vectors = faiss.read_index(str(gen / "vectors.faiss"),
                                       faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
            configure(vectors, manifest.index_params)
            # Opened now, not at the first question: by then a newer generation may have
            # replaced this one and its folder be gone.
            lexical = (LexicalIndex.load(gen / "bm25", len(chunks))
                       if (gen / "bm25").is_dir() else None)
            vocabulary = (Counter(json.loads((gen / "vocabulary.json").read_text()))
                          if (gen / "vocabulary.json").is_file() else None)
            bad = chunks.bad_span() if isinstance(chunks, ChunkTable) else next(
                (c.chunk_id for c in chunks if documents.get(c.doc_id) is None
                 or documents[c.doc_id].text[c.start:c.end] != c.text), None)
        except (OSError, ValueError, TypeError, KeyError, RuntimeError) as e:
            raise IndexCorruptError(f"The index in {folder}/ is damaged ({_short(e)})") from e
        problems = []
        if vectors.ntotal != len(chunks) or manifest.n_chunks != len(chunks):
            problems.append(f"{vectors.ntotal} vectors, {len(chunks)} chunks, "
                            f"manifest says {manifest.n_chunks}")
        if vectors.d != manifest.dimension:
            problems.append(f"vectors have {vectors.d} dims, manifest says {manifest.dimension}")
        if set(documents) != set(manifest.documents):
            problems.append("documents do not match the manifest")
        if bad is not None:
            problems.append(f"chunk {bad} does not match its document")
        if problems:
            raise IndexCorruptError(f"The index in {folder}/ is damaged ({'; '.join(problems)})")
        return cls(manifest, documents, chunks, vectors, path=gen, _lexical=lexical,
                   _vocabulary=vocabulary)

    def save(self, folder: Path) -> Path:
        """Write a new generation aside, then switch CURRENT to it atomically."""
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
        try:
            _write_json(tmp / "manifest.json", asdict(self.manifest))
            _save_tables(tmp, self.documents, self.chunks)
            faiss.write_index(self.vectors, str(tmp / "vectors.faiss"))
            fsync_path(tmp / "vectors.faiss")
            self.lexical.save(tmp / "bm25")  # built here once, loaded at every start
            _write_json(tmp / "vocabulary.json", dict(self.vocabulary))
            for f in (tmp / "bm25").iterdir():
                fsync_path(f)
            gen = folder / _next_generation(folder)
            atomic_replace_dir(tmp, gen)
            atomic_write_text(folder / CURRENT, gen.name + "\n", sync_dir=True)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _remove_old_generations(folder, keep=gen.name)
        self.path = gen
        return gen


class LazyDocuments(Mapping[str, Document]):
    """doc_id -> Document, each made (and kept) when first read: its text is decoded from
    the generation's texts.txt, memory-mapped, so an index of many documents opens at once."""

    def __init__(self, meta: dict[str, dict[str, Any]], texts: Any) -> None:
        self._meta = meta
        self._texts = texts  # mmap (or bytes) of texts.txt
        self._made: dict[str, Document] = {}

    def __getitem__(self, doc_id: str) -> Document:
        doc = self._made.get(doc_id)
        if doc is None:
            m = self._meta[doc_id]
            lo, hi = m["text_bytes"]
            text = bytes(self._texts[lo:hi]).decode("utf-8")
            doc = self._made[doc_id] = Document(
                doc_id, m["title"], m["path"], text, m["sha256"], m.get("metadata", {}),
                tuple(map(tuple, m.get("headings", ()))))
        return doc

    def __iter__(self) -> Iterator[str]:
        return iter(self._meta)

    def __len__(self) -> int:
        return len(self._meta)

    def text_length(self, doc_id: str) -> int:
        return self._meta[doc_id]["text_chars"]


class ChunkTable(Sequence[Chunk]):
    """The chunks as arrays: ``table[i]`` makes Chunk i from its document's text."""

    def __init__(self, documents: Mapping[str, Document], doc_ids: list[str],
                 headings: list[str], rows: np.ndarray) -> None:
        self.documents = documents
        self.doc_ids = doc_ids
        self.headings = headings
        self.rows = rows  # (n, 5): document number, start, end, ordinal, heading number

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        d, start, end, ordinal, h = (int(x) for x in self.rows[i])
        doc_id = self.doc_ids[d]
        return Chunk(doc_id, f"{doc_id}#{ordinal}", start, end,
                     self.documents[doc_id].text[start:end], self.headings[h])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def bad_span(self) -> str | None:
        """The id of a chunk whose span lies outside its document's text, if any."""
        if not len(self.rows):
            return None
        docs = self.documents
        lengths = np.array([docs.text_length(d) if isinstance(docs, LazyDocuments)
                            else len(docs[d].text) for d in self.doc_ids], dtype=np.int64)
        d, start, end = self.rows[:, 0], self.rows[:, 1], self.rows[:, 2]
        wrong = np.flatnonzero((d < 0) | (d >= len(lengths)) | (start < 0) | (end <= start)
                               | (end > lengths[np.clip(d, 0, max(0, len(lengths) - 1))]))
        if len(wrong):
            i = int(wrong[0])
            return f"#{i}"
        return None


def _save_tables(gen: Path, documents: Mapping[str, Document], chunks: Sequence[Chunk]) -> None:
    """documents.json + texts.txt, chunks.json + chunks.npy (see the module's layout)."""
    meta: dict[str, dict[str, Any]] = {}
    with (gen / "texts.txt").open("wb") as f:
        at = 0
        for doc_id, d in documents.items():
            data = d.text.encode("utf-8")
            f.write(data)
            meta[doc_id] = {"doc_id": doc_id, "title": d.title, "path": d.path,
                            "sha256": d.sha256, "metadata": d.metadata,
                            "headings": [list(h) for h in d.headings],
                            "text_bytes": [at, at + len(data)], "text_chars": len(d.text)}
            at += len(data)
        f.flush()
        os.fsync(f.fileno())
    _write_json(gen / "documents.json", meta)
    number = {doc_id: i for i, doc_id in enumerate(documents)}
    headings: dict[str, int] = {"": 0}
    rows = np.zeros((len(chunks), 5), dtype=np.int64)
    for i, c in enumerate(chunks):
        prefix, _, ordinal = c.chunk_id.rpartition("#")
        if prefix != c.doc_id or not ordinal.isdigit():
            raise ValueError(f"chunk id {c.chunk_id!r} is not '<doc_id>#<n>'")
        rows[i] = (number[c.doc_id], c.start, c.end, int(ordinal),
                   headings.setdefault(c.heading, len(headings)))
    _write_json(gen / "chunks.json", {"documents": list(documents), "headings": list(headings)})
    with (gen / "chunks.npy").open("wb") as f:
        np.save(f, rows)
        f.flush()
        os.fsync(f.fileno())


def _load_tables(gen: Path) -> tuple[LazyDocuments, ChunkTable]:
    import mmap

    meta = json.loads((gen / "documents.json").read_text())
    with (gen / "texts.txt").open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        texts = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    documents = LazyDocuments(meta, texts)
    names = json.loads((gen / "chunks.json").read_text())
    rows = np.load(gen / "chunks.npy", mmap_mode="r")
    if rows.ndim != 2 or rows.shape[1] != 5:
        raise ValueError(f"chunks.npy has shape {rows.shape}")
    return documents, ChunkTable(documents, names["documents"], names["headings"], rows)


def _load_json(gen: Path) -> tuple[dict[str, Document], list[Chunk]]:
    docs_raw = json.loads((gen / "documents.json").read_text())
    documents = {k: Document(**{**v, "headings": tuple(map(tuple, v.get("headings", ())))})
                 for k, v in docs_raw.items()}
    with (gen / "chunks.jsonl").open() as f:
        chunks = [Chunk(**json.loads(line)) for line in f]
    return documents, chunks


def document_vocabulary(doc: Document) -> set[str]:
    """The word keys and code names of one document (what abstention looks terms up in)."""
    return word_keys(doc.text) | code_names(doc.text)


def count_vocabulary(documents) -> Counter[str]:
    counts: Counter[str] = Counter()
    for d in documents:
        counts.update(document_vocabulary(d))
    return counts


def _short(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return (text[0] if text else type(e).__name__)[:200]


def _write_json(path: Path, data: Any) -> None:
    with path.open("w") as f:
        json.dump(data, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


def _next_generation(folder: Path) -> str:
    numbers = [int(p.name[4:]) for p in folder.glob("gen-*") if p.name[4:].isdigit()]
    return f"gen-{max(numbers, default=0) + 1:06d}"


def _remove_old_generations(folder: Path, keep: str) -> None:
    for p in folder.iterdir():
        if p.is_dir() and p.name != keep and p.name.startswith(("gen-", ".tmp-")):
            shutil.rmtree(p, ignore_errors=True)


# --- building and updating ----------------------------------------------------------------


@dataclass
class Changes:
    """What an indexing run did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    rebuilt_because: str | None = None
    reindexed: str | None = None  # the FAISS index was rebuilt as this type, same vectors
    chunks_embedded: int = 0
    n_chunks: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed or self.rebuilt_because
                    or self.reindexed)

    def summary(self) -> str:
        parts = [f"{len(self.added)} added", f"{len(self.updated)} updated",
                 f"{len(self.removed)} removed", f"{len(self.unchanged)} unchanged"]
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped")
        return (f"Documents: {', '.join(parts)}. {self.n_chunks} chunks "
                f"({self.chunks_embedded} embedded this run).")


# Errors that say a folder cannot be written, as opposed to a broken disk or a bug.
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


def update_index(settings, embedder, reporter: Reporter = SILENT,
                 rebuild: bool = False, require_write: bool = False,
                 only: set[str] | None = None) -> tuple[Index, Changes]:
    """Bring the index in line with the documents folder, embedding only what changed.

    With ``rebuild``, every document is embedded again; the old index stays live until
    the new one replaces it. Concurrent runs on one folder take turns (a file lock).
    A read-only index serves as it is (reading needs no lock); updating it, asked for
    with ``require_write`` or ``rebuild``, is an IndexWriteError. With ``only``, just
    those documents are brought in line (added, replaced or removed as the folder has
    them); the others stay as indexed, wherever they came from.

    In Qdrant (a store other processes may share), a start that asks for no write loads
    the collection as it is, and says so if the folder differs: only an explicit update
    (``rag index``, an upload or a delete) changes it.
    """
    if settings.vector_store == "qdrant":
        return _update_qdrant(settings, embedder, reporter, rebuild, require_write, only)
    folder: Path = settings.index_dir
    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = (folder / ".lock").open("a")
    except OSError as e:
        if e.errno not in _READ_ONLY:
            raise IndexWriteError(write_failure(e, folder)) from e
        return _read_only(settings, embedder, reporter, rebuild or require_write, e)
    with lock:
        import fcntl

        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _update_index(settings, embedder, reporter, rebuild, only)
        except IndexWriteError as e:
            # The previous generation is intact: a reader may still use it, with a note.
            if require_write or rebuild or not (folder / CURRENT).is_file():
                raise
            old = Index.load(folder)
            reporter.note(f"{e}. Answering from the index as it was.")
            return old, Changes(unchanged=sorted(old.documents), n_chunks=len(old))
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def write_failure(e: OSError, folder: Path) -> str:
    """One line on why the index in ``folder`` could not be written, and what to do."""
    if e.errno == errno.ENOSPC:
        return (f"The disk holding {folder}/ is full: the index was not updated (the previous "
                "one is still in use); free some space there and run `rag index` again")
    if e.errno in _READ_ONLY:
        return (f"Cannot write the index in {folder}/ ({e.strerror}): it can be searched as "
                "it is but not updated; run `rag index` where that folder is writable, or "
                "point RAG_INDEX_DIR at a writable folder")
    return f"Cannot write the index in {folder}/ ({e.strerror or e})"


def _read_only(settings, embedder, reporter: Reporter, must_write: bool,
               cause: OSError) -> tuple[Index, Changes]:
    """Serve a complete index from a folder that cannot be written; never update it."""
    folder: Path = settings.index_dir
    if must_write:
        raise IndexWriteError(write_failure(cause, folder)) from cause
    try:
        index = Index.load(folder)
    except IndexNotFoundError:
        raise IndexWriteError(f"No index in {folder}/, and it cannot be written "
                              f"({cause.strerror}): build it with `rag index` where the folder "
                              "is writable, or point RAG_INDEX_DIR at a writable one") from cause
    why = index.manifest.settings_mismatch(embedder.name, embedder.dimension,
                                           settings.chunk_size, settings.chunk_overlap)
    if why:
        raise IndexWriteError(f"The read-only index in {folder}/ was {why}, and cannot be "
                              "rebuilt here: use the settings it was built with") from cause
    sources, _ = scan(settings.documents_dir, settings.follow_external_links)
    now = {s.doc_id: s.sha256 for s in sources}
    if now != index.manifest.documents:
        reporter.note(f"The index in {folder}/ is read-only and does not match the documents "
                      "folder any more; answering from it as it was built")
    changes = Changes(unchanged=sorted(index.documents), n_chunks=len(index))
    return index, changes


def _update_index(settings, embedder, reporter: Reporter, rebuild: bool,
                  only: set[str] | None = None) -> tuple[Index, Changes]:
    folder: Path = settings.index_dir
    old: Index | None = None
    corrupt = None
    try:
        old = Index.load(folder)
    except IndexNotFoundError:
        pass
    except IndexCorruptError as e:
        corrupt = f"{e}; rebuilding it"
    plan = _plan(settings, embedder, reporter, old, rebuild, corrupt, only)
    return _write_faiss(settings, embedder, reporter, old if plan.keep_old else None, plan)


@dataclass
class _Plan:
    """What an update does: the documents kept as indexed, and the ones (re)read."""

    changes: Changes
    keep_ids: list[str]
    new_docs: list[Document]
    keep_old: bool  # the old index is reused (not rebuilt)
    stats: dict[str, list[int]] = field(default_factory=dict)  # of the files scanned


def _plan(settings, embedder, reporter: Reporter, old: Index | None, rebuild: bool,
          corrupt: str | None, only: set[str] | None, refuse_mismatch: str | None = None
          ) -> _Plan:
    """Compare the documents folder with the index: what to keep, read, and remove."""
    if old is None or rebuild:
        only = None  # nothing to keep: every document of the folder goes in
    changes = Changes(rebuilt_because=corrupt)
    known = ({d: (sha, old.manifest.stats[d]) for d, sha in old.manifest.documents.items()
              if d in old.manifest.stats} if old is not None else None)
    sources, skipped = scan(settings.documents_dir, settings.follow_external_links, known)
    if only is not None:  # just these documents; the others stay as they are
        sources = [s for s in sources if s.doc_id in only]
        root = settings.documents_dir
        skipped = [s for s in skipped
                   if Path(os.path.relpath(s.path, root)).as_posix() in only]
    changes.skipped.extend(skipped)

    if old is not None and rebuild:
        changes.rebuilt_because = "Rebuilding the index as asked"
        old = None
    if old is not None:
        why = old.manifest.settings_mismatch(
            embedder.name, embedder.dimension, settings.chunk_size, settings.chunk_overlap)
        if why and refuse_mismatch:
            raise IndexWriteError(f"{refuse_mismatch} was {why}: {REFUSED_MISMATCH}")
        if why:
            changes.rebuilt_because = f"The index was {why}; rebuilding it"
            old = None
    if changes.rebuilt_because:
        reporter.note(changes.rebuilt_because)

    old_hashes = old.manifest.documents if old else {}
    current = {s.doc_id: s for s in sources}
    to_load = [s for s in sources if old_hashes.get(s.doc_id) != s.sha256]
    in_scope = set(old_hashes) if only is None else set(old_hashes) & only
    changes.removed = sorted(in_scope - set(current))
    keep_ids = [d for d in old_hashes if d not in in_scope
                or (d in current and old_hashes[d] == current[d].sha256)]

    new_docs: list[Document] = []
    with reporter.task("Reading documents", len(to_load)) if to_load else Task() as task:
        for item in iter_documents(to_load, settings.max_document_chars):
            task.advance()
            if isinstance(item, Skipped):
                changes.skipped.append(item)
            else:
                new_docs.append(item)
                (changes.updated if item.doc_id in old_hashes
                 else changes.added).append(item.doc_id)
    # A file that was indexed before but can no longer be read is dropped from the index.
    for s in changes.skipped:
        rel = next((d for d, src in current.items() if str(src.path) == s.path), None)
        if rel in old_hashes and rel not in changes.removed:
            changes.removed.append(rel)
            keep_ids = [d for d in keep_ids if d != rel]
    for s in changes.skipped:
        reporter.note(f"Skipped {s.path}: {s.reason}")

    changes.unchanged = sorted(keep_ids)
    if not new_docs and not keep_ids:
        raise NoDocumentsError(
            f"No readable documents in {settings.documents_dir}/: add .txt, .md, .html or .pdf "
            "files there, then run `rag index`"
        )
    stats = {s.doc_id: list(s.stat) for s in sources if s.stat[1]}
    return _Plan(changes, keep_ids, new_docs, keep_old=old is not None, stats=stats)


REFUSED_MISMATCH = ("use the settings it was built with, or rebuild it on purpose with "
                    "`rag index --rebuild` (every process sharing it must then use the new "
                    "settings)")


def _embed(settings, embedder, reporter: Reporter, plan: _Plan) -> tuple[list[Chunk], np.ndarray]:
    """The chunks of the (re)read documents and their vectors."""
    new_chunks = [c for d in plan.new_docs
                  for c in chunk_document(d, settings.chunk_size, settings.chunk_overlap)]
    if not new_chunks:
        return [], np.zeros((0, embedder.dimension), np.float32)
    # A text that repeats (boilerplate on many pages) is embedded once.
    unique: dict[str, int] = {}
    rows = [unique.setdefault(c.search_text, len(unique)) for c in new_chunks]
    with reporter.task("Embedding chunks", len(unique)) as task:
        vectors_unique = embedder.embed(list(unique), settings.embed_batch_size,
                                        progress=task.advance)
    plan.changes.chunks_embedded = len(unique)
    return new_chunks, vectors_unique[rows]


def _write_faiss(settings, embedder, reporter: Reporter, old: Index | None,
                 plan: _Plan) -> tuple[Index, Changes]:
    folder: Path = settings.index_dir
    changes, keep_ids = plan.changes, plan.keep_ids
    if old is not None and not changes.changed:
        changes.n_chunks = len(old)
        kind = choose_kind(settings.index_type, len(old), settings.exact_max_chunks)
        if old.manifest.index_type == kind:
            return old, changes  # (a touched but unchanged file is hashed again next time)
        # Same vectors, another index type (the corpus crossed the threshold, or the
        # setting changed): rebuild the FAISS part only; nothing is embedded.
        reporter.note(f"Re-indexing {len(old)} vectors as {kind} "
                      f"(was {old.manifest.index_type})")
        changes.reindexed = kind

    # Reuse the vectors of unchanged documents; embed only the new chunks.
    keep = set(keep_ids)
    documents: dict[str, Document] = {d: old.documents[d] for d in keep_ids} if old else {}
    if old is not None and isinstance(old.chunks, ChunkTable):
        numbers = [i for i, d in enumerate(old.chunks.doc_ids) if d in keep]
        kept_rows = np.flatnonzero(np.isin(old.chunks.rows[:, 0], numbers)).tolist()
    else:
        kept_rows = [i for i, c in enumerate(old.chunks) if c.doc_id in keep] if old else []
    chunks: list[Chunk] = [old.chunks[i] for i in kept_rows] if old else []
    parts = [old.all_vectors()[kept_rows]] if old and kept_rows else []

    new_chunks, new_vectors = _embed(settings, embedder, reporter, plan)
    for d in plan.new_docs:
        documents[d.doc_id] = d
    if new_chunks:
        parts.append(new_vectors)
    chunks.extend(new_chunks)
    vectors = np.concatenate(parts) if parts else np.zeros((0, embedder.dimension), np.float32)

    kind = choose_kind(settings.index_type, len(chunks), settings.exact_max_chunks)
    faiss_index, params = build_vectors(vectors, kind, settings.ann_recall_target)
    manifest = Manifest(
        embedding_model=embedder.name,
        dimension=embedder.dimension,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        documents={d: documents[d].sha256 for d in sorted(documents)},
        n_chunks=len(chunks),
        index_type=kind,
        index_params=params,
        stats={d: v for d, v in {**(old.manifest.stats if old else {}), **plan.stats}.items()
               if d in documents},
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    # The vocabulary, per document: the old counts, less the documents that went, plus the
    # new ones (a corpus-wide recount on every upload would grow with the corpus).
    vocabulary = Counter(old.vocabulary) if old is not None else Counter()
    for d in set(old.documents) - keep if old is not None else ():
        vocabulary.subtract(document_vocabulary(old.documents[d]))
    vocabulary.update(count_vocabulary(plan.new_docs))
    index = Index(manifest, documents, chunks, faiss_index,
                  _vocabulary=Counter({k: v for k, v in vocabulary.items() if v > 0}))
    try:
        index.save(folder)
    except OSError as e:
        raise IndexWriteError(write_failure(e, folder)) from e
    changes.n_chunks = len(chunks)
    return index, changes


def _update_qdrant(settings, embedder, reporter: Reporter, rebuild: bool, require_write: bool,
                   only: set[str] | None) -> tuple[Index, Changes]:
    """The same update, written per document into the Qdrant collections."""
    from .qdrant_store import open_store

    store = open_store(settings)
    old: Index | None = None
    corrupt = None
    try:
        old = store.load()
    except IndexNotFoundError:
        if store.remote and not (require_write or rebuild):
            # Replicas starting together on a server would each build (and drop) it.
            raise
    except IndexCorruptError as e:
        if not (require_write or rebuild) or (only is not None and not rebuild):
            # An upload must not rebuild a shared collection from one replica's folder.
            raise
        corrupt = f"{e}; rebuilding it"
    if old is not None and not (require_write or rebuild):
        why = old.manifest.settings_mismatch(embedder.name, embedder.dimension,
                                             settings.chunk_size, settings.chunk_overlap)
        if why:
            raise IndexWriteError(f"The Qdrant collection {store.collection!r} was {why}: "
                                  f"{REFUSED_MISMATCH}")
        try:
            sources, _ = scan(settings.documents_dir, settings.follow_external_links)
            folder = {s.doc_id: s.sha256 for s in sources}
            differ = sorted(d for d in set(folder) | set(old.manifest.documents)
                            if folder.get(d) != old.manifest.documents.get(d))
        except NoDocumentsError:  # a replica may have no folder of its own
            differ = []
        if differ:
            reporter.note(f"The documents folder and the Qdrant collection differ on "
                          f"{len(differ)} document(s) ({', '.join(differ[:3])}"
                          f"{', ...' if len(differ) > 3 else ''}); answering from the "
                          "collection: `rag index` brings it in line with the folder")
        return old, Changes(unchanged=sorted(old.documents), n_chunks=len(old))
    plan = _plan(settings, embedder, reporter, old, rebuild, corrupt, only,
                 refuse_mismatch=f"The Qdrant collection {store.collection!r}")
    changes = plan.changes
    if plan.keep_old and not changes.changed:
        changes.n_chunks = len(old)
        return old, changes
    new_chunks, new_vectors = _embed(settings, embedder, reporter, plan)
    if not plan.keep_old:
        store.create(Manifest(embedding_model=embedder.name, dimension=embedder.dimension,
                              chunk_size=settings.chunk_size,
                              chunk_overlap=settings.chunk_overlap, documents={}, n_chunks=0,
                              index_type="qdrant",
                              created_at=datetime.now(UTC).isoformat(timespec="seconds")))
    # Every (re)written document's old points go first: also those a failed write left.
    store.apply(changes.removed + [d.doc_id for d in plan.new_docs] if plan.keep_old else [],
                plan.new_docs, new_chunks, new_vectors, reporter)
    index = store.load()
    changes.n_chunks = len(index)
    return index, changes
