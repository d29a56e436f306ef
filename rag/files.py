"""Writes that matter: whole or not at all (a temporary file, fsync, then rename)."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO


@contextmanager
def atomic_writer(path: Path, *, sync_dir: bool = False) -> Iterator[BinaryIO]:
    """A file to write that replaces ``path`` only when the block ends without an error:
    a crash or an exception leaves the old file (or none), never half a new one.

    The new file gets the permissions ``open()`` would give it (0666 less the umask).
    With ``sync_dir``, the folder is flushed too, so the rename itself survives a power
    cut (a pointer such as the index's CURRENT)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if sync_dir:
        fsync_path(path.parent)


def atomic_write_bytes(path: Path, data: bytes, *, sync_dir: bool = False) -> None:
    """Replace ``path`` with ``data`` atomically."""
    with atomic_writer(path, sync_dir=sync_dir) as f:
        f.write(data)


def atomic_write_text(path: Path, text: str, *, sync_dir: bool = False) -> None:
    """Replace ``path`` with UTF-8 ``text`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"), sync_dir=sync_dir)


def atomic_replace_dir(src: Path, dst: Path) -> None:
    """Move the folder ``src``, written aside in ``dst``'s folder, to ``dst`` in one rename,
    then flush that folder so the rename survives a power cut. ``dst`` must not be a
    non-empty folder: a folder cannot be renamed over one (remove it first)."""
    os.replace(src, dst)
    fsync_path(dst.parent)


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's list of names (after a rename in it), to the disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _create_beside(path: Path) -> tuple[int, Path]:
    """A new, empty ``.NAME.RANDOM.tmp`` in ``path``'s folder, open for writing. Unlike
    ``tempfile.mkstemp`` (always 0600), the mode is what ``open()`` gives a new file."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), tmp
        except FileExistsError:
            continue
