import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rag.errors import IndexCorruptError, IndexNotFoundError, NoDocumentsError
from rag.index import CURRENT, FORMAT_VERSION, Index, update_index

from .conftest import ROOT, HashEmbedder


def test_build_writes_manifest_and_loads(settings, embedder):
    index, changes = update_index(settings, embedder)
    assert changes.added == ["jamnews-2023-09-07-armenia-russia.txt"]
    assert changes.chunks_embedded == len(index) > 20
    loaded = Index.load(settings.index_dir)
    m = json.loads((loaded.path / "manifest.json").read_text())
    assert m["embedding_model"] == "hash-embedder" and m["dimension"] == 64
    assert (m["chunk_size"], m["chunk_overlap"]) == (400, 80)
    assert m["n_chunks"] == len(index)
    assert m["package_version"] and m["format_version"] == FORMAT_VERSION
    assert list(m["documents"].values())[0] == index.documents[
        "jamnews-2023-09-07-armenia-russia.txt"].sha256
    for c in loaded.chunks:
        assert loaded.documents[c.doc_id].text[c.start : c.end] == c.text


def test_incremental_embeds_only_what_changed(settings, embedder, docs_dir):
    update_index(settings, embedder)
    first = len(embedder.embedded)
    # Unchanged: nothing embedded, nothing written.
    gen = (settings.index_dir / CURRENT).read_text()
    _, changes = update_index(settings, embedder)
    assert not changes.changed and len(embedder.embedded) == first
    assert (settings.index_dir / CURRENT).read_text() == gen
    # A new document: only its chunks are embedded.
    (docs_dir / "note.md").write_text("# Note\n\nThe lake Sevan is large and blue.\n")
    index, changes = update_index(settings, embedder)
    assert changes.added == ["note.md"] and changes.unchanged
    assert embedder.embedded[first:] == ["# Note\n\nThe lake Sevan is large and blue."]
    # Changed, then deleted.
    (docs_dir / "note.md").write_text("# Note\n\nThe lake Sevan is small.\n")
    index, changes = update_index(settings, embedder)
    assert changes.updated == ["note.md"]
    assert any("small" in c.text for c in index.chunks)
    assert not any("blue" in c.text for c in index.chunks)
    (docs_dir / "note.md").unlink()
    index, changes = update_index(settings, embedder)
    assert changes.removed == ["note.md"]
    assert {c.doc_id for c in index.chunks} == {"jamnews-2023-09-07-armenia-russia.txt"}
    # Kept vectors are the ones embedded before (search still finds the same chunk).
    row = next(i for i, c in enumerate(index.chunks) if "Peskov responded" in c.text)
    hits = index.search_vectors(embedder.embed_query(index.chunks[row].text), 1)
    assert hits[0][0] == row
    # Only the newest generation is kept on disk.
    assert len(list(settings.index_dir.glob("gen-*"))) == 1


def test_settings_change_rebuilds(settings, embedder):
    update_index(settings, embedder)
    _, changes = update_index(settings.with_overrides(chunk_size=300), embedder)
    assert changes.rebuilt_because and "chunks of 400/80" in changes.rebuilt_because

    class Other(HashEmbedder):
        name = "other-model"

    _, changes = update_index(settings.with_overrides(chunk_size=300), Other())
    assert "embedding model hash-embedder" in changes.rebuilt_because


def test_an_index_of_an_older_format_is_rebuilt_saying_why(settings, embedder):
    import json

    update_index(settings, embedder)
    generation = settings.index_dir / (settings.index_dir / CURRENT).read_text().strip()
    manifest = generation / "manifest.json"
    m = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**m, "format_version": FORMAT_VERSION - 1}))
    index, changes = update_index(settings, embedder)
    assert changes.rebuilt_because == (f"The index was built in index format "
                                       f"{FORMAT_VERSION - 1}, now {FORMAT_VERSION}; "
                                       "rebuilding it")
    assert index.manifest.format_version == FORMAT_VERSION


@pytest.mark.parametrize("damage", ["chunks", "manifest", "vectors", "pointer"])
def test_damaged_index_is_detected_and_rebuilt(settings, embedder, damage):
    update_index(settings, embedder)
    gen = settings.index_dir / (settings.index_dir / CURRENT).read_text().strip()
    if damage == "chunks":  # cut short, as a half-written file would be
        data = (gen / "chunks.npy").read_bytes()
        (gen / "chunks.npy").write_bytes(data[: len(data) - 120])
    elif damage == "manifest":
        (gen / "manifest.json").write_text("{not json")
    elif damage == "vectors":
        (gen / "vectors.faiss").write_bytes(b"garbage")
    else:
        (settings.index_dir / CURRENT).write_text("gen-999999\n")
    with pytest.raises(IndexCorruptError, match="damaged"):
        Index.load(settings.index_dir)
    notes = []

    from rag.progress import Reporter

    class R(Reporter):
        def note(self, message):
            notes.append(message)

    index, changes = update_index(settings, embedder, R())
    assert changes.rebuilt_because and "damaged" in changes.rebuilt_because
    assert any("rebuilding" in n for n in notes)
    assert Index.load(settings.index_dir).manifest.n_chunks == len(index)
    assert (settings.documents_dir / "jamnews-2023-09-07-armenia-russia.txt").is_file()


def test_no_index_and_no_documents(settings, embedder, tmp_path):
    with pytest.raises(IndexNotFoundError, match="rag index"):
        Index.load(tmp_path / "nothing")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "blank.txt").write_text("")
    with pytest.raises(NoDocumentsError, match="add .txt"):
        update_index(settings.with_overrides(documents_dir=empty), embedder)


_KILL_SCRIPT = r"""
import sys, time
from pathlib import Path
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
import faiss
from conftest import HashEmbedder
from rag.config import Settings
from rag.index import update_index

stage = sys.argv[1]
marker = Path(sys.argv[2])

class SlowEmbedder(HashEmbedder):
    def embed_batch(self, texts):
        if stage == "embedding":
            marker.write_text("embedding")
            time.sleep(60)
        return super().embed_batch(texts)

real_write = faiss.write_index
def slow_write(index, path):
    real_write(index, path)
    if stage == "saving":
        marker.write_text("saving")
        time.sleep(60)
faiss.write_index = slow_write

s = Settings(documents_dir=sys.argv[3], index_dir=sys.argv[4], chunk_size=400, chunk_overlap=80)
update_index(s, SlowEmbedder())
"""


@pytest.mark.parametrize("stage", ["embedding", "saving"])
def test_killed_indexing_leaves_old_index_usable(settings, embedder, docs_dir, tmp_path, stage):
    old, _ = update_index(settings, embedder)
    (docs_dir / "new.txt").write_text("A new document about the Lachin corridor and Stepanakert.")
    script = tmp_path / "kill_me.py"
    script.write_text(_KILL_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")))
    marker = tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, str(script), stage, str(marker),
                             str(settings.documents_dir), str(settings.index_dir)],
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    deadline = time.time() + 60
    while not marker.exists() or not marker.read_text():  # created, then written: both
        assert proc.poll() is None, "indexing ended before it could be killed"
        assert time.time() < deadline
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert marker.read_text() == stage
    survivor = Index.load(settings.index_dir)  # the previous generation, whole
    assert survivor.manifest.documents == old.manifest.documents
    assert len(survivor) == len(old)
    # The next run finishes the job and clears the half-written leftovers.
    index, changes = update_index(settings, embedder)
    assert changes.added == ["new.txt"]
    assert not list(settings.index_dir.glob(".tmp-*"))
    assert len(list(settings.index_dir.glob("gen-*"))) == 1


def test_forced_rebuild_reembeds_and_replaces(settings, embedder):
    old, _ = update_index(settings, embedder)
    n = len(embedder.embedded)
    index, changes = update_index(settings, embedder, rebuild=True)
    assert changes.rebuilt_because and len(embedder.embedded) == 2 * n
    assert index.path != old.path and Index.load(settings.index_dir).path == index.path


def test_concurrent_updates_take_turns(settings, docs_dir):
    import threading

    started = threading.Event()

    class Slow(HashEmbedder):
        def embed_batch(self, texts):
            started.set()
            time.sleep(0.5)
            return super().embed_batch(texts)

    results = {}
    a = threading.Thread(target=lambda: results.setdefault("a", update_index(settings, Slow())))
    a.start()
    started.wait(10)
    second = HashEmbedder()
    _, changes_b = update_index(settings, second)  # waits for the first run, then reuses it
    a.join()
    assert results["a"][1].added and not changes_b.changed and second.embedded == []
    assert len(list(settings.index_dir.glob("gen-*"))) == 1


# --- read-only and full disks, on real mounts ------------------------------------------------

_NS_SCRIPT = r"""
import sys
sys.path.insert(0, {root!r})
sys.path.insert(0, {tests!r})
from conftest import HashEmbedder
from rag.config import Settings
from rag.errors import RagError
from rag.index import update_index
from rag.progress import Reporter

class Notes(Reporter):
    def note(self, message):
        print("note:", message)

s = Settings(documents_dir=sys.argv[2], index_dir=sys.argv[3], chunk_size=400, chunk_overlap=80)
try:
    index, changes = update_index(s, HashEmbedder(), Notes(), require_write=sys.argv[1] == "write")
    print("ok", len(index.documents), "documents")
except RagError as e:
    print("error:", e)
"""


def in_namespace(shell: str, tmp_path):
    """Run ``shell`` as root of new user and mount namespaces: real mounts, no privileges."""
    import shutil

    if shutil.which("unshare") is None:
        pytest.skip("needs unshare (util-linux) for a private mount namespace")
    probe = subprocess.run(["unshare", "-rm", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"user namespaces are not allowed here: {probe.stderr.decode()[:200]}")
    script = tmp_path / "ns_update.py"
    script.write_text(_NS_SCRIPT.format(root=str(ROOT), tests=str(ROOT / "tests")))
    shell = shell.replace("UPDATE", f"{sys.executable} {script}")
    return subprocess.run(["unshare", "-rm", "sh", "-ec", shell], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})


def test_a_read_only_index_serves_reads_and_refuses_updates(settings, embedder, docs_dir,
                                                            tmp_path):
    update_index(settings, embedder)
    idx, docs = settings.index_dir, docs_dir
    r = in_namespace(f"""
        mount --bind {idx} {idx} && mount -o remount,bind,ro {idx}
        UPDATE read {docs} {idx}
        echo 'A new note about Lake Sevan.' > {docs}/new.txt
        UPDATE read {docs} {idx}
        UPDATE write {docs} {idx}
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "ok 1 documents", r.stdout  # no write lock needed to read
    assert "read-only and does not match the documents" in lines[1]
    assert lines[2] == "ok 1 documents"  # stale, but served, and said so
    assert lines[3].startswith("error: Cannot write the index in") and \
        "Read-only file system" in lines[3], lines[3]
    assert not (idx / ".lock").exists() or (idx / ".lock").stat().st_size == 0


def test_a_full_disk_is_reported_as_such_and_the_old_index_stays(settings, docs_dir, tmp_path):
    idx, docs = tmp_path / "small-disk", docs_dir
    idx.mkdir()
    r = in_namespace(f"""
        mount -t tmpfs -o size=2m tmpfs {idx}
        UPDATE write {docs} {idx}
        dd if=/dev/zero of={idx}/filler bs=4k 2>/dev/null || true
        cat {docs}/*.txt > {docs}/copy.txt
        UPDATE write {docs} {idx}
        UPDATE read {docs} {idx}
        rm {idx}/filler
        UPDATE write {docs} {idx}
    """, tmp_path)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert lines[0] == "ok 1 documents", r.stdout
    assert lines[1].startswith(f"error: The disk holding {idx}/ is full"), lines[1]
    assert "previous one is still in use" in lines[1]
    assert "is full" in lines[2] and lines[3] == "ok 1 documents"  # a reader keeps the old one
    assert lines[4] == "ok 2 documents"  # with space again, the update goes through


def test_a_generation_is_arrays_and_texts_and_the_json_layout_before_still_loads(settings,
                                                                                 embedder):
    """chunks.npy + texts.txt (read as needed), not a JSON object per chunk; a generation
    written in the layout before (chunks.jsonl, texts inside documents.json) still loads."""
    from dataclasses import asdict

    index, _ = update_index(settings, embedder)
    gen = index.path
    assert {p.name for p in gen.iterdir()} >= {"chunks.npy", "chunks.json", "texts.txt",
                                               "documents.json", "bm25", "vocabulary.json"}
    assert not (gen / "chunks.jsonl").exists()
    loaded = Index.load(settings.index_dir)
    assert list(loaded.chunks) == list(index.chunks) and loaded.chunk_counts() == {
        "jamnews-2023-09-07-armenia-russia.txt": len(index)}
    assert dict(loaded.documents) == dict(index.documents)
    # The layout before, written by hand from the same index.
    (gen / "chunks.npy").unlink()
    (gen / "texts.txt").unlink()
    (gen / "documents.json").write_text(json.dumps({k: asdict(v) for k, v in
                                                    index.documents.items()}))
    (gen / "chunks.jsonl").write_text("".join(json.dumps(asdict(c)) + "\n"
                                              for c in index.chunks))
    old = Index.load(settings.index_dir)
    assert old.chunks == list(index.chunks) and old.documents == dict(index.documents)


def test_a_span_outside_its_document_is_damage(settings, embedder):
    import numpy as np

    index, _ = update_index(settings, embedder)
    rows = np.load(index.path / "chunks.npy")
    rows[3, 2] = 10**9  # an end past the document's text
    np.save(index.path / "chunks.npy", rows)
    with pytest.raises(IndexCorruptError, match="does not match its document"):
        Index.load(settings.index_dir)


def test_an_unchanged_file_is_not_read_again_to_know_it(settings, embedder, docs_dir,
                                                        monkeypatch):
    from pathlib import Path

    from rag.documents import scan

    update_index(settings, embedder)
    m = Index.load(settings.index_dir).manifest
    name = "jamnews-2023-09-07-armenia-russia.txt"
    assert m.stats[name][0] == (docs_dir / name).stat().st_size
    read = []
    real = Path.read_bytes
    monkeypatch.setattr(Path, "read_bytes", lambda p: read.append(p.name) or real(p))
    known = {d: (sha, m.stats[d]) for d, sha in m.documents.items()}
    (found,), _ = scan(docs_dir, known=known)
    assert found.sha256 == m.documents[name] and read == []
    os.utime(docs_dir / name, ns=(1, 1))  # touched: read and hashed again
    (found,), _ = scan(docs_dir, known=known)
    assert read == [name] and found.sha256 == m.documents[name]
