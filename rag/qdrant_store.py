"""The index in Qdrant (``RAG_VECTOR_STORE=qdrant``): the second store, next to FAISS.

Two collections, through qdrant-client: a server or cluster at ``RAG_QDRANT_URL``, or its
embedded local mode in ``RAG_QDRANT_PATH`` (one process at a time, no server):

- ``<RAG_QDRANT_COLLECTION>``: a point per chunk, with its dense vector (``dense``, dot
  product on normalised vectors, as FAISS) and its BM25 term vector (``bm25``, sparse,
  with Qdrant's server-side IDF, ``Modifier.IDF``), so lexical search lives in the engine
  and scales with it. The payload is the chunk: doc_id, chunk_id, title, heading, text
  and its character span, so citations keep their exact spans.
- ``<RAG_QDRANT_COLLECTION>-documents``: a point per document (its text, title, sha256,
  headings: what the context rules and the citations read), the manifest (embedding
  model, dimension, chunking), and a stamp that every write changes.

Updates are per document: an upload adds its chunks, a delete removes them by doc_id
(``update_index(only=...)``), so API replicas sharing one Qdrant never undo each other's
changes; each replica sees a new stamp before its next question and reloads. The two
searches are fused by the retriever's own reciprocal-rank fusion, the same as for FAISS.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import IndexCorruptError, IndexNotFoundError, IndexWriteError, VectorStoreError
from .index import Index, Manifest, document_vocabulary
from .progress import SILENT, Reporter
from .text import content_terms
from .types import Chunk, Document

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

    from .config import Settings

NAMESPACE = uuid.UUID("5b0e1c3a-6a52-4a57-9d0a-7f3f8c1e2b44")
MANIFEST_ID = str(uuid.uuid5(NAMESPACE, "manifest"))
STAMP_ID = str(uuid.uuid5(NAMESPACE, "stamp"))
DENSE, SPARSE = "dense", "bm25"
UPSERT_BATCH = 256
# BM25's term-frequency part is computed here (Qdrant applies the IDF): k1 and b as in
# bm25s, and a fixed average length (terms per chunk), as fastembed's Bm25 does.
K1, B = 1.5, 0.75


def chunk_point_id(doc_id: str, chunk_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"chunk\x00{doc_id}\x00{chunk_id}"))


def document_point_id(doc_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"document\x00{doc_id}"))


def term_id(term: str) -> int:
    """A stable 32-bit id for a term: every replica maps it alike, with no shared vocabulary
    (a collision merges two rare terms, about once in 4 billion pairs)."""
    return int.from_bytes(hashlib.blake2b(term.encode(), digest_size=4).digest(), "little")


def term_vector(text: str, avg_terms: float) -> tuple[list[int], list[float]]:
    """The BM25 term-frequency weights of a chunk's content terms, by term id."""
    terms = content_terms(text)
    if not terms:
        return [], []
    norm = K1 * (1 - B + B * len(terms) / avg_terms)
    weights: dict[int, float] = {}
    for term, tf in Counter(terms).items():
        i = term_id(term)
        weights[i] = weights.get(i, 0.0) + tf * (K1 + 1) / (tf + norm)
    ids = sorted(weights)
    return ids, [weights[i] for i in ids]


def query_terms(query: str) -> tuple[list[int], list[float]]:
    """A query's term ids, each weighted 1 (Qdrant multiplies in the IDF)."""
    ids = sorted({term_id(t) for t in content_terms(query)})
    return ids, [1.0] * len(ids)


def avg_terms_for(chunk_size: int) -> float:
    """Content terms in a typical full chunk: about one per 9 characters of English."""
    return max(8.0, chunk_size / 9)


class QdrantStore:
    """The two collections of one index in Qdrant, and what reads and writes them."""

    def __init__(self, settings: Settings, client: QdrantClient | None = None) -> None:
        self.collection = settings.qdrant_collection
        self.documents = f"{settings.qdrant_collection}-documents"
        self.where = settings.qdrant_url or str(self._path(settings))
        self.remote = bool(settings.qdrant_url)
        self.avg_terms = avg_terms_for(settings.chunk_size)
        self.client = client or self._connect(settings)

    @staticmethod
    def _path(settings: Settings):
        return settings.qdrant_path or settings.index_dir / "qdrant"

    def _connect(self, settings: Settings) -> QdrantClient:
        from qdrant_client import QdrantClient

        if settings.qdrant_url:
            client = QdrantClient(url=settings.qdrant_url, api_key=settings.qdrant_api_key,
                                  timeout=30, check_compatibility=False)
            self._call(client.get_collections)  # fails now, with the URL, if unreachable
            return client
        path = self._path(settings)
        try:
            path.mkdir(parents=True, exist_ok=True)
            return QdrantClient(path=str(path))
        except RuntimeError as e:  # "already accessed by another instance"
            raise VectorStoreError(
                f"The embedded Qdrant store in {path}/ is open in another process: its local "
                "mode serves one process at a time. Stop that process, or run a Qdrant server "
                "and set RAG_QDRANT_URL (docs/deploy.md)") from e
        except OSError as e:
            raise VectorStoreError(f"Cannot open the embedded Qdrant store in {path}/ "
                                   f"({e.strerror or e}): set RAG_QDRANT_PATH to a writable "
                                   "folder") from e

    def _call(self, fn, *args: Any, **kwargs: Any) -> Any:
        """A Qdrant call whose failure is one VectorStoreError naming the store."""
        try:
            return fn(*args, **kwargs)
        except VectorStoreError:
            raise
        except Exception as e:  # httpx/grpc transport errors, UnexpectedResponse, ...
            first = (str(e).strip().splitlines() or [type(e).__name__])[0][:200]
            raise VectorStoreError(f"Qdrant at {self.where} failed ({type(e).__name__}: "
                                   f"{first}); check that it is running and RAG_QDRANT_URL "
                                   "points at it") from e

    # --- reading ---------------------------------------------------------------------------

    def exists(self) -> bool:
        return bool(self._call(self.client.collection_exists, self.collection)
                    and self._call(self.client.collection_exists, self.documents))

    def stamp(self) -> str | None:
        found = self._call(self.client.retrieve, self.documents, [STAMP_ID], with_payload=True)
        return found[0].payload.get("stamp") if found else None

    def _scroll(self, collection: str, payload: Any = True, only: Any = None) -> Iterator[Any]:
        offset = None
        while True:
            points, offset = self._call(self.client.scroll, collection, limit=1024,
                                        offset=offset, with_payload=payload,
                                        with_vectors=False, scroll_filter=only)
            yield from points
            if offset is None:
                return

    def load(self) -> QdrantIndex:
        """The index as the collections hold it now."""
        if not self.exists():
            raise IndexNotFoundError(f"No index in Qdrant collection {self.collection!r} at "
                                     f"{self.where}: run `rag index`")
        stamp = self.stamp()
        meta: dict[str, Any] | None = None
        documents: dict[str, Document] = {}
        vocabulary: Counter[str] = Counter()
        shares: Counter[str] = Counter()
        counted = True
        for p in self._scroll(self.documents):
            kind = p.payload.get("kind")
            if kind == "manifest":
                meta = p.payload["manifest"]
            elif kind == "document":
                d = p.payload["document"]
                documents[d["doc_id"]] = Document(
                    **{**d, "headings": tuple(map(tuple, d.get("headings", ())))})
                if "vocabulary" in p.payload and "chunk_terms" in p.payload:
                    vocabulary.update(p.payload["vocabulary"])
                    shares.update(p.payload["chunk_terms"])
                else:  # written before they were kept: counted from the texts when needed
                    counted = False
        if meta is None:
            raise IndexCorruptError(f"The Qdrant collection {self.documents!r} at {self.where} "
                                    "has no manifest: run `rag index --rebuild`")
        chunks: list[Chunk] = []
        ids: dict[str, int] = {}
        for p in self._scroll(self.collection):
            c = p.payload
            doc = documents.get(c["doc_id"])
            if doc is None or c.get("doc_sha256", doc.sha256) != doc.sha256:
                # Another replica is rewriting this document right now: skip its chunks
                # and load again before the next question (the stamp will differ).
                stamp = None
                continue
            ids[str(p.id)] = len(chunks)
            chunks.append(Chunk(c["doc_id"], c["chunk_id"], c["start"], c["end"], c["text"],
                                c.get("heading", "")))
        # Rows in document order, as a FAISS generation has them (ties in search agree).
        order = sorted(range(len(chunks)), key=lambda i: (chunks[i].doc_id, chunks[i].start))
        chunks = [chunks[i] for i in order]
        where = {old: new for new, old in enumerate(order)}
        ids = {pid: where[row] for pid, row in ids.items()}
        for c in chunks:
            if documents[c.doc_id].text[c.start:c.end] != c.text:
                raise IndexCorruptError(f"Chunk {c.chunk_id} of {c.doc_id} in Qdrant does not "
                                        "match its document: run `rag index --rebuild`")
        manifest = Manifest(**{**meta, "documents": {d: documents[d].sha256
                                                     for d in sorted(documents)},
                               "n_chunks": len(chunks)})
        return QdrantIndex(manifest, documents, chunks, None, store="qdrant", qdrant=self,
                           ids=ids, stamp=stamp, _vocabulary=vocabulary if counted else None,
                           _shares=shares if counted else None)

    # --- writing ---------------------------------------------------------------------------

    def create(self, manifest: Manifest) -> None:
        """Empty collections for ``manifest`` (any old ones are dropped)."""
        from qdrant_client import models

        for name in (self.collection, self.documents):
            if self._call(self.client.collection_exists, name):
                self._call(self.client.delete_collection, name)
        self._call(self.client.create_collection, self.collection,
                   vectors_config={DENSE: models.VectorParams(size=manifest.dimension,
                                                              distance=models.Distance.DOT)},
                   sparse_vectors_config={SPARSE: models.SparseVectorParams(
                       modifier=models.Modifier.IDF)})
        if self.remote:  # deletes filter on doc_id (the embedded mode has no such indexes)
            self._call(self.client.create_payload_index, self.collection, "doc_id",
                       models.PayloadSchemaType.KEYWORD)
        self._call(self.client.create_collection, self.documents, vectors_config={})
        meta = {k: v for k, v in asdict(manifest).items() if k not in ("documents", "n_chunks")}
        self._call(self.client.upsert, self.documents, [models.PointStruct(
            id=MANIFEST_ID, vector={}, payload={"kind": "manifest", "manifest": meta})])

    def apply(self, remove: Sequence[str], documents: Sequence[Document],
              chunks: Sequence[Chunk], vectors: np.ndarray,
              reporter: Reporter = SILENT) -> None:
        """Delete the chunks and records of the ``remove`` documents, then add
        ``documents`` with their ``chunks`` (row i has vector i); then a new stamp."""
        from qdrant_client import models

        for doc_id in remove:
            only = models.Filter(must=[models.FieldCondition(
                key="doc_id", match=models.MatchValue(value=doc_id))])
            self._call(self.client.delete, self.collection,
                       points_selector=models.FilterSelector(filter=only))
            self._call(self.client.delete, self.documents,
                       points_selector=models.PointIdsList(points=[document_point_id(doc_id)]))
        titles = {d.doc_id: d.title for d in documents}
        shas = {d.doc_id: d.sha256 for d in documents}
        if len(chunks):
            with reporter.task("Writing to Qdrant", len(chunks)) as task:
                for start in range(0, len(chunks), UPSERT_BATCH):
                    batch = []
                    for c, v in zip(chunks[start:start + UPSERT_BATCH],
                                    vectors[start:start + UPSERT_BATCH], strict=True):
                        ids, weights = term_vector(c.search_text, self.avg_terms)
                        batch.append(models.PointStruct(
                            id=chunk_point_id(c.doc_id, c.chunk_id),
                            vector={DENSE: v.tolist(),
                                    SPARSE: models.SparseVector(indices=ids, values=weights)},
                            payload={**asdict(c), "title": titles[c.doc_id],
                                     "doc_sha256": shas[c.doc_id]}))
                    self._call(self.client.upsert, self.collection, batch)
                    task.advance(len(batch))
        # The document records last: a reader skips chunks whose document it has not seen.
        # Each carries what a reader would otherwise recount from every text at its first
        # question: the document's vocabulary, and in how many of its chunks each term is.
        terms: dict[str, Counter[str]] = {d.doc_id: Counter() for d in documents}
        for c in chunks:
            terms[c.doc_id].update(set(content_terms(c.search_text)))
        if documents:
            self._call(self.client.upsert, self.documents, [models.PointStruct(
                id=document_point_id(d.doc_id), vector={},
                payload={"kind": "document", "document": asdict(d),
                         "vocabulary": sorted(document_vocabulary(d)),
                         "chunk_terms": dict(terms[d.doc_id])}) for d in documents])
        self._call(self.client.upsert, self.documents, [models.PointStruct(
            id=STAMP_ID, vector={}, payload={"kind": "stamp", "stamp": uuid.uuid4().hex})])


@dataclass
class QdrantIndex(Index):
    """An index whose searches run in Qdrant; the chunk texts are also held here (the
    context rules and the speaker lookups read them), the vectors are not."""

    qdrant: QdrantStore | None = None
    ids: dict[str, int] = field(default_factory=dict)  # Qdrant point id -> row
    stamp: str | None = None
    _shares: Counter[str] | None = field(default=None, repr=False)

    def search_vectors(self, query: np.ndarray, k: int) -> list[tuple[int, float]]:
        if k <= 0 or not self.chunks:
            return []
        vector = np.asarray(query, dtype=np.float32).reshape(-1).tolist()
        return self._hits(self.qdrant._call(self.qdrant.client.query_points,
                                            self.qdrant.collection, query=vector, using=DENSE,
                                            limit=k, with_payload=False))

    def search_terms(self, query: str, k: int) -> list[tuple[int, float]]:
        from qdrant_client import models

        ids, weights = query_terms(query)
        if k <= 0 or not ids or not self.chunks:
            return []
        return self._hits(self.qdrant._call(
            self.qdrant.client.query_points, self.qdrant.collection,
            query=models.SparseVector(indices=ids, values=weights), using=SPARSE, limit=k,
            with_payload=False))

    def _hits(self, response: Any) -> list[tuple[int, float]]:
        # A point another replica added after this index was loaded has no row here yet;
        # the stamp check reloads before the next question.
        return [(self.ids[str(p.id)], float(p.score)) for p in response.points
                if str(p.id) in self.ids and p.score > 0]

    def term_share(self, term: str) -> float:
        if self._shares is None:
            with self._lock:
                if self._shares is None:
                    self._shares = Counter(t for c in self.chunks
                                           for t in set(content_terms(c.search_text)))
        return self._shares.get(term, 0) / max(1, len(self.chunks))

    @property
    def location(self) -> str:
        return f"Qdrant collection {self.qdrant.collection!r} at {self.qdrant.where}"

    def stale(self) -> bool:
        return self.qdrant.stamp() != self.stamp

    def reload(self) -> Index:
        new = self.qdrant.load()
        m = self.manifest
        why = new.manifest.settings_mismatch(m.embedding_model, m.dimension, m.chunk_size,
                                             m.chunk_overlap)
        if why:
            raise IndexWriteError(f"The Qdrant collection {self.qdrant.collection!r} was "
                                  f"rebuilt by another process and is now {why}: restart "
                                  "this one with the settings it was rebuilt with")
        return new

    def all_vectors(self) -> np.ndarray:
        raise NotImplementedError("a Qdrant index is updated in place, per document")

    def save(self, folder):  # noqa: ARG002
        raise NotImplementedError("a Qdrant index is written by QdrantStore.apply")


_clients: dict[str, QdrantClient] = {}
_clients_lock = threading.Lock()


def open_store(settings: Settings) -> QdrantStore:
    """The store for these settings. One client per location in a process: the embedded
    mode locks its folder, so a second client there would be refused."""
    where = settings.qdrant_url or str(QdrantStore._path(settings).resolve())
    with _clients_lock:
        client = _clients.get(where)
        store = QdrantStore(settings, client)
        if not _clients:
            atexit.register(close_all)
        _clients.setdefault(where, store.client)
        return store


def close_all() -> None:
    """Close every client this process opened (the embedded mode's files, its lock):
    at exit, before the interpreter tears down what the clients' own finalisers need."""
    with _clients_lock:
        for client in _clients.values():
            with contextlib.suppress(Exception):
                client.close()
        _clients.clear()
