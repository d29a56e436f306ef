"""The two vector stores behind one interface: FAISS files and Qdrant (embedded local mode,
no server). The same index cases run on both; then what only a shared store has: the
manifest refused on a mismatch, per-document writes, and replicas that see each other's
uploads and deletes. (tests/test_retrieval.py and tests/test_pipeline.py also run on both.)
"""

from __future__ import annotations

import io
import subprocess
import sys
import time

import pytest

from rag.errors import IndexWriteError, NoDocumentsError, VectorStoreError
from rag.index import count_vocabulary, update_index
from rag.library import add_document, remove_document
from rag.pipeline import Pipeline
from rag.progress import Reporter

from .conftest import ARTICLE, ROOT, HashEmbedder, ScriptedGenerator

DOC = ARTICLE.name


def write(settings, embedder, **kw):
    """An explicit update (`rag index`): both stores bring themselves in line with the folder."""
    return update_index(settings, embedder, require_write=True, **kw)


def test_build_load_and_search(store_settings, embedder):
    index, changes = write(store_settings, embedder)
    assert changes.added == [DOC] and changes.chunks_embedded == len(index) > 20
    assert index.store == store_settings.vector_store
    assert index.manifest.embedding_model == "hash-embedder" and index.manifest.dimension == 64
    assert index.manifest.documents == {DOC: index.documents[DOC].sha256}
    for c in index.chunks:  # every chunk keeps its exact span
        assert index.documents[c.doc_id].text[c.start:c.end] == c.text
    row = next(i for i, c in enumerate(index.chunks) if "Peskov responded" in c.text)
    assert index.search_vectors(embedder.embed_query(index.chunks[row].text), 1)[0][0] == row
    assert row in [r for r, _ in index.search_terms("Peskov responded integral region", 3)]
    assert index.term_share("peskov") == pytest.approx(
        sum("Peskov" in c.search_text for c in index.chunks) / len(index), abs=0.02)
    # A second process (here: a new pipeline) loads the same index, rows and all.
    again = Pipeline(store_settings, embedder=embedder, generator=ScriptedGenerator([])).index
    assert again.chunks == index.chunks and not again.stale()


def test_incremental_updates_and_deletes_per_document(store_settings, embedder, docs_dir):
    write(store_settings, embedder)
    first = len(embedder.embedded)
    _, changes = write(store_settings, embedder)
    assert not changes.changed and len(embedder.embedded) == first
    (docs_dir / "note.md").write_text("# Note\n\nThe lake Sevan is large and blue.\n")
    index, changes = write(store_settings, embedder)
    assert changes.added == ["note.md"] and changes.unchanged == [DOC]
    assert embedder.embedded[first:] == ["# Note\n\nThe lake Sevan is large and blue."]
    assert index.chunks[index.search_terms("Sevan", 1)[0][0]].doc_id == "note.md"
    (docs_dir / "note.md").write_text("# Note\n\nThe lake Sevan is small.\n")
    index, changes = write(store_settings, embedder)
    assert changes.updated == ["note.md"]
    assert [c.text for c in index.chunks if c.doc_id == "note.md"] == [
        "# Note\n\nThe lake Sevan is small."]
    assert not index.search_terms("blue", 5)  # the old version's chunk is gone
    assert index.vocabulary == count_vocabulary(index.documents.values())  # kept per document
    assert "small" in index.vocabulary and "blue" not in index.vocabulary
    (docs_dir / "note.md").unlink()
    index, changes = write(store_settings, embedder)
    assert changes.removed == ["note.md"] and set(index.documents) == {DOC}
    assert not index.search_terms("Sevan", 5)
    assert "sevan" not in index.vocabulary and "peskov" in index.vocabulary
    assert index.vocabulary == count_vocabulary(index.documents.values())


def test_only_the_named_documents_are_brought_in_line(store_settings, embedder, docs_dir):
    write(store_settings, embedder)
    (docs_dir / "a.txt").write_text("Alpha paragraph about Gyumri.\n")
    (docs_dir / "b.txt").write_text("Beta paragraph about Dilijan.\n")
    index, changes = write(store_settings, embedder, only={"a.txt"})
    assert changes.added == ["a.txt"] and set(index.documents) == {DOC, "a.txt"}
    (docs_dir / "a.txt").unlink()
    (docs_dir / "gone.txt").write_text("x")
    index, changes = write(store_settings, embedder, only={"a.txt"})
    assert changes.removed == ["a.txt"] and set(index.documents) == {DOC}


def test_no_documents_at_all_is_one_clear_error(store_settings, embedder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NoDocumentsError, match="add .txt"):
        write(store_settings.with_overrides(documents_dir=empty), embedder)


# --- Qdrant only: a store that several processes share ---------------------------------------


@pytest.fixture
def qdrant(settings):
    return settings.with_overrides(vector_store="qdrant")


class Notes(Reporter):
    def __init__(self) -> None:
        self.notes: list[str] = []

    def note(self, message: str) -> None:
        self.notes.append(message)


def test_the_payload_and_the_manifest_live_in_qdrant(qdrant, embedder):
    from rag.qdrant_store import open_store

    index, _ = write(qdrant, embedder)
    store = open_store(qdrant)
    points, _ = store.client.scroll(qdrant.qdrant_collection, limit=1, with_payload=True,
                                    with_vectors=True)
    p = points[0]
    assert {"doc_id", "chunk_id", "title", "text", "start", "end", "heading"} <= set(p.payload)
    assert p.payload["title"] == index.documents[DOC].title
    assert len(p.vector["dense"]) == 64 and len(p.vector["bm25"].indices) > 3
    manifest = store.client.retrieve(f"{qdrant.qdrant_collection}-documents",
                                     [__import__("rag.qdrant_store").qdrant_store.MANIFEST_ID])
    assert manifest[0].payload["manifest"]["embedding_model"] == "hash-embedder"


def test_a_manifest_mismatch_is_refused_not_rebuilt(qdrant, embedder):
    write(qdrant, embedder)

    class Other(HashEmbedder):
        name = "other-model"

    for kw in ({}, {"require_write": True}):  # a start, and an explicit update
        with pytest.raises(IndexWriteError, match=r"rag-chunks' was built with embedding model "
                                                  r"hash-embedder .*rag index --rebuild"):
            update_index(qdrant, Other(), **kw)
    with pytest.raises(IndexWriteError, match="chunks of 400/80, now 300/80"):
        update_index(qdrant.with_overrides(chunk_size=300), embedder)
    index, changes = update_index(qdrant, Other(), rebuild=True)  # on purpose: rebuilt
    assert changes.rebuilt_because and index.manifest.embedding_model == "other-model"


def test_a_start_answers_from_the_collection_and_says_the_folder_differs(qdrant, embedder,
                                                                         docs_dir):
    write(qdrant, embedder)
    (docs_dir / "new.txt").write_text("Something new about Sevan.\n")
    notes = Notes()
    index, changes = update_index(qdrant, embedder, notes)
    assert not changes.changed and set(index.documents) == {DOC}
    assert any("differ on 1 document(s) (new.txt)" in n and "`rag index`" in n
               for n in notes.notes)


def test_replicas_see_each_others_uploads_and_deletes(qdrant, embedder, tmp_path):
    """Two API replicas share one Qdrant and nothing else (each its own documents folder).
    The embedded mode opens in one process only, so the two replicas are two pipelines in
    this process on one client: the sharing logic (per-document writes, the stamp that
    makes the other reload) is what is tested; a Qdrant server shares it across machines."""
    write(qdrant, embedder)
    other = qdrant.with_overrides(documents_dir=tmp_path / "replica-b-documents")
    other.documents_dir.mkdir()
    a = Pipeline(qdrant, embedder=embedder, generator=ScriptedGenerator([]))
    b = Pipeline(other, embedder=embedder, generator=ScriptedGenerator([]))
    assert set(b.index.documents) == {DOC}  # B started without syncing its empty folder away
    before = b.corpus

    def reindex_a(only):
        return a.refresh_index(require_write=True, only=only)

    add_document(qdrant, "sevan.txt", io.BytesIO(b"Lake Sevan is the largest lake in "
                                                 b"Armenia.\n"), False, reindex_a)
    assert b.corpus is not before  # the stamp changed: B reloaded before this question
    hits = b.search("largest lake Sevan")
    assert hits[0].chunk.doc_id == "sevan.txt" and hits[0].title
    remove_document(qdrant, "sevan.txt", set(a.index.documents), reindex_a)
    assert "sevan.txt" not in b.index.documents
    assert all(p.chunk.doc_id != "sevan.txt" for p in b.search("largest lake Sevan"))


HOLD = """
import sys, time
sys.path.insert(0, {root!r})
from qdrant_client import QdrantClient
c = QdrantClient(path={path!r})
print("open", flush=True)
time.sleep(60)
"""


def test_the_embedded_store_open_in_another_process_is_one_clear_error(qdrant):
    from rag.qdrant_store import QdrantStore

    path = qdrant.index_dir / "qdrant"
    path.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", HOLD.format(root=str(ROOT),
                                                                 path=str(path))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(VectorStoreError, match="open in another process.*RAG_QDRANT_URL"):
            QdrantStore(qdrant)
    finally:
        holder.kill()
        holder.wait()


def test_an_unreachable_qdrant_server_names_its_url(qdrant):
    from rag.qdrant_store import QdrantStore

    from .conftest import _free_port

    url = f"http://127.0.0.1:{_free_port()}"
    t0 = time.monotonic()
    with pytest.raises(VectorStoreError, match=f"Qdrant at {url} failed"):
        QdrantStore(qdrant.with_overrides(qdrant_url=url))
    assert time.monotonic() - t0 < 35


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
def test_a_replica_never_creates_a_shared_collection_at_start(qdrant, embedder, monkeypatch):
    """On a Qdrant server, replicas starting at once must not each build (and drop) the
    collection: only `rag index` creates it; a start without one is a clear error. (The
    server is stood in for by the embedded mode, flagged as remote.)"""
    from rag import qdrant_store
    from rag.errors import IndexNotFoundError

    real = qdrant_store.open_store

    def remote(settings):
        store = real(settings)
        store.remote = True
        return store

    monkeypatch.setattr(qdrant_store, "open_store", remote)
    with pytest.raises(IndexNotFoundError, match="run `rag index`"):
        update_index(qdrant, embedder)
    index, changes = write(qdrant, embedder)  # `rag index`: created on purpose
    assert changes.added == [DOC]
    assert update_index(qdrant, embedder)[0].chunks == index.chunks


def test_qdrant_keeps_the_counts_a_reader_needs_per_document(qdrant, embedder, docs_dir):
    """The vocabulary and the chunk frequency of each term come with the documents'
    records, equal to a recount from the texts, and follow updates and deletes."""
    from collections import Counter

    from rag.text import content_terms

    (docs_dir / "note.md").write_text("# Note\n\nThe lake Sevan is large and blue.\n")
    index, _ = write(qdrant, embedder)
    assert index._vocabulary is not None and index._shares is not None  # read, not counted
    recount = Counter(t for c in index.chunks for t in set(content_terms(c.search_text)))
    assert index.vocabulary == count_vocabulary(index.documents.values())
    for term in ("peskov", "sevan", "armenia", "lake"):
        assert index.term_share(term) == recount[term] / len(index)
    (docs_dir / "note.md").unlink()
    index, _ = write(qdrant, embedder)
    assert "sevan" not in index.vocabulary and index.term_share("sevan") == 0


def test_an_upload_on_a_damaged_index_rebuilds_everything_not_just_the_upload(settings,
                                                                              embedder, docs_dir):
    """FAISS: a damaged generation and an upload: the whole folder is indexed again.
    Qdrant: a damaged shared collection is never rebuilt from one upload: an error."""
    from rag.errors import IndexCorruptError

    index, _ = write(settings, embedder)
    (index.path / "chunks.npy").write_bytes(b"damaged")
    (docs_dir / "new.txt").write_text("A new note about Lake Sevan.\n")
    index, changes = write(settings, embedder, only={"new.txt"})
    assert changes.rebuilt_because and set(index.documents) == {DOC, "new.txt"}
    q = settings.with_overrides(vector_store="qdrant")
    write(q, embedder)
    from rag.qdrant_store import open_store

    store = open_store(q)
    store.client.delete(f"{q.qdrant_collection}-documents",
                        points_selector=[__import__("rag.qdrant_store").qdrant_store.MANIFEST_ID])
    with pytest.raises(IndexCorruptError, match="no manifest"):
        write(q, embedder, only={"new.txt"})
    assert store.client.count(q.qdrant_collection).count > 20  # nothing was dropped


def test_qdrant_leftovers_of_a_failed_write_and_a_write_under_way(qdrant, embedder, docs_dir):
    from qdrant_client import models

    from rag.qdrant_store import chunk_point_id, open_store

    (docs_dir / "x.txt").write_text("Lake Sevan is large.\n")
    write(qdrant, embedder)
    store = open_store(qdrant)
    # Chunk #7 of x.txt, left by a write that failed half-way (its text is another's).
    stray = {"doc_id": "x.txt", "chunk_id": "x.txt#7", "start": 0, "end": 4, "text": "Lake",
             "heading": "", "title": "x", "doc_sha256": "an older version"}
    store.client.upsert(qdrant.qdrant_collection, [models.PointStruct(
        id=chunk_point_id("x.txt", "x.txt#7"), vector={"dense": [0.1] * 64},
        payload=stray)])
    loaded = store.load()  # a reader during a write skips it, and will load again
    assert "x.txt#7" not in [c.chunk_id for c in loaded.chunks] and loaded.stale()
    (docs_dir / "x.txt").write_text("Lake Sevan is small.\n")
    index, changes = write(qdrant, embedder, only={"x.txt"})
    assert changes.updated == ["x.txt"]
    ids = [str(p.id) for p in store.client.scroll(qdrant.qdrant_collection, limit=1000)[0]]
    assert chunk_point_id("x.txt", "x.txt#7") not in ids  # the rewrite removed the stray
    assert not index.stale()
