"""The persisted index: FAISS vectors, the chunk store, the documents and a manifest.

Layout under the index folder::

    CURRENT              name of the live generation (replaced atomically)
    gen-000007/          one complete generation
        manifest.json    embedding model, dimension, chunk settings, content hashes, version
        vectors.faiss    the FAISS index; row i is chunks.jsonl line i
        chunks.jsonl     doc_id, chunk_id, start, end, text
        documents.json   doc_id -> title, path, sha256, metadata, text
        bm25/            the BM25 index of the chunks (bm25s), loaded memory-mapped
        vocabulary.json  every word of the documents (stemmed) and code name, with the
                         number of documents that hold it (updated per document)

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

FORMAT_VERSION = 2  # 2: chunks carry their heading path, embedded with the text
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
    format_version: int = FORMAT_VERSION
    package_version: str = __version__
    created_at: str = ""

    def settings_mismatch(self, embedding_model: str, dimension: int, chunk_size: int,
                          chunk_overlap: int) -> str | None:
        """Why this index cannot be reused with these settings, or None if it can."""
        if self.format_version != FORMAT_VERSION:
            return f"index format {self.format_version} is not {FORMAT_VERSION}"
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
    documents: dict[str, Document]
    chunks: list[Chunk]
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
        """BM25 over the chunks' heading paths and texts: read from the generation's bm25/
        (memory-mapped), or built once if it has none (a generation written before)."""
        if self._lexical is None:
            with self._lock:
                if self._lexical is None:
                    saved = self.path / "bm25" if self.path else None
                    if saved is not None and saved.is_dir():
                        try:
                            self._lexical = LexicalIndex.load(saved, len(self.chunks))
                        except (OSError, ValueError, KeyError) as e:
                            raise IndexCorruptError(f"The BM25 index in {saved}/ is damaged "
                                                    f"({_short(e)}): run `rag index "
                                                    "--rebuild`") from e
                    else:
                        self._lexical = LexicalIndex.build([c.search_text for c in self.chunks])
        return self._lexical

    def search_terms(self, query: str, k: int) -> list[tuple[int, float]]:
        """(row, BM25 score) of the ``k`` best chunks for the query's terms."""
        return self.lexical.top(query, k)

    @property
    def vocabulary(self) -> Counter[str]:
        """Every word key and code name of the documents -> how many documents hold it:
        read from the generation (written when it was), or counted once if it has none."""
        if self._vocabulary is None:
            with self._lock:
                if self._vocabulary is None:
                    saved = self.path / "vocabulary.json" if self.path else None
                    if saved is not None and saved.is_file():
                        self._vocabulary = Counter(json.loads(saved.read_text()))
                    else:
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
            docs_raw = json.loads((gen / "documents.json").read_text())
            documents = {k: Document(**{**v, "headings": tuple(map(tuple, v.get("headings", ())))})
                         for k, v in docs_raw.items()}
            with (gen / "chunks.jsonl").open() as f:
                chunks = [Chunk(**json.loads(line)) for line in f]
            vectors = faiss.read_index(str(gen / "vectors.faiss"))
            configure(vectors, manifest.index_params)
        except (OSError, ValueError, TypeError, RuntimeError) as e:
            raise IndexCorruptError(f"The index in {folder}/ is damaged ({_short(e)})") from e
        problems = []
        if vectors.ntotal != len(chunks) or manifest.n_chunks != len(chunks):
            problems.append(f"{vectors.ntotal} vectors, {len(chunks)} chunks, "
                            f"manifest says {manifest.n_chunks}")
        if vectors.d != manifest.dimension:
            problems.append(f"vectors have {vectors.d} dims, manifest says {manifest.dimension}")
        if set(documents) != set(manifest.documents):
            problems.append("documents do not match the manifest")
        for c in chunks:
            doc = documents.get(c.doc_id)
            if doc is None or doc.text[c.start : c.end] != c.text:
                problems.append(f"chunk {c.chunk_id} does not match its document")
                break
        if problems:
            raise IndexCorruptError(f"The index in {folder}/ is damaged ({'; '.join(problems)})")
        return cls(manifest, documents, chunks, vectors, path=gen)

    def save(self, folder: Path) -> Path:
        """Write a new generation aside, then switch CURRENT to it atomically."""
        import faiss

        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
        try:
            _write_json(tmp / "manifest.json", asdict(self.manifest))
            _write_json(tmp / "documents.json", {k: asdict(v) for k, v in self.documents.items()})
            with (tmp / "chunks.jsonl").open("w") as f:
                for c in self.chunks:
                    f.write(json.dumps(asdict(c), ensure_ascii=False) + "\n")
                f.flush()
                os.fsync(f.fileno())
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


def _plan(settings, embedder, reporter: Reporter, old: Index | None, rebuild: bool,
          corrupt: str | None, only: set[str] | None, refuse_mismatch: str | None = None
          ) -> _Plan:
    """Compare the documents folder with the index: what to keep, read, and remove."""
    changes = Changes(rebuilt_because=corrupt)
    sources, skipped = scan(settings.documents_dir, settings.follow_external_links)
    if only is not None:  # just these documents; the others stay as they are
        sources = [s for s in sources if s.doc_id in only]
        skipped = [s for s in skipped if Path(s.path).name in only]
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
    return _Plan(changes, keep_ids, new_docs, keep_old=old is not None)


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
            return old, changes
        # Same vectors, another index type (the corpus crossed the threshold, or the
        # setting changed): rebuild the FAISS part only; nothing is embedded.
        reporter.note(f"Re-indexing {len(old)} vectors as {kind} "
                      f"(was {old.manifest.index_type})")
        changes.reindexed = kind

    # Reuse the vectors of unchanged documents; embed only the new chunks.
    keep = set(keep_ids)
    documents: dict[str, Document] = {d: old.documents[d] for d in keep_ids} if old else {}
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
        pass
    except IndexCorruptError as e:
        if not (require_write or rebuild):
            raise
        corrupt = f"{e}; rebuilding it"
    if old is not None and not (require_write or rebuild):
        why = old.manifest.settings_mismatch(embedder.name, embedder.dimension,
                                             settings.chunk_size, settings.chunk_overlap)
        if why:
            raise IndexWriteError(f"The Qdrant collection {store.collection!r} was {why}: "
                                  f"{REFUSED_MISMATCH}")
        sources, _ = scan(settings.documents_dir, settings.follow_external_links)
        folder = {s.doc_id: s.sha256 for s in sources}
        differ = sorted(d for d in set(folder) | set(old.manifest.documents)
                        if folder.get(d) != old.manifest.documents.get(d))
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
    store.apply(changes.removed + changes.updated if plan.keep_old else [], plan.new_docs,
                new_chunks, new_vectors, reporter)
    index = store.load()
    changes.n_chunks = len(index)
    return index, changes
