"""rag.files: a write is whole or not at all; rag.report: the markdown tables of the reports."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rag.files import atomic_replace_dir, atomic_write_text, atomic_writer
from rag.report import markdown_table


def test_atomic_write_replaces_whole_and_leaves_nothing_beside(tmp_path: Path):
    path = tmp_path / "sub" / "CURRENT"
    atomic_write_text(path, "gen-000001\n", sync_dir=True)
    atomic_write_text(path, "gen-000002\n")
    assert path.read_text() == "gen-000002\n"
    assert [p.name for p in path.parent.iterdir()] == ["CURRENT"]


def test_a_failed_write_keeps_the_old_file(tmp_path: Path):
    path = tmp_path / "report.md"
    path.write_text("old")
    with pytest.raises(RuntimeError), atomic_writer(path) as f:
        f.write(b"half of a new")
        raise RuntimeError("crash")
    assert path.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.md"]


def test_the_new_file_has_the_mode_open_gives(tmp_path: Path):
    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_atomic_replace_dir(tmp_path: Path):
    src = tmp_path / ".tmp-1"
    src.mkdir()
    (src / "f").write_text("x")
    atomic_replace_dir(src, tmp_path / "gen-000001")
    assert (tmp_path / "gen-000001" / "f").read_text() == "x" and not src.exists()


def test_markdown_table():
    assert markdown_table(["a", "b"], [["x", "1"], ["y", "2"]]) == (
        "| a | b |\n|---|---|\n| x | 1 |\n| y | 2 |")
    assert markdown_table(["a", "b", "c", "d"], [], ["left", None, "center", "right"]) == (
        "| a | b | c | d |\n|:---|---|:---:|---:|")
    with pytest.raises(ValueError, match="2 columns but 1"):
        markdown_table(["a", "b"], [], ["right"])
