"""llama.cpp at run time: the CPU backend this machine can run, logs, and a guard.

The Makefile builds llama.cpp the way its release builds are made: the CPU backend as
one loadable module per x86-64 level (``GGML_BACKEND_DL`` + ``GGML_CPU_ALL_VARIANTS``),
so one wheel serves every x86-64 CPU. The bindings never load those modules
(abetlen/llama-cpp-python#2069); :func:`init` does, before the first model:

- it asks each module for its score (0 = this CPU lacks an instruction it uses) and
  loads the best, leaving out the AMX module unless asked for by name: its kernel
  crashes on the first batch on some Sapphire Rapids machines (ggml-org/llama.cpp#20824);
- it checks, once per installed build and CPU and in a child process, that the chosen
  module (or a build that links the CPU code statically) runs here and uses no
  instruction set that /proc/cpuinfo does not report. A mismatch is one error naming
  the rebuild command, never an illegal instruction;
- it sends llama.cpp's log through ``llama_log_set`` to the ``rag.llama`` logger (shown
  with RAG_DEBUG=1) and keeps the last errors for the exception that follows them.
  llama-cpp-python's own way to silence it points file descriptors 1 and 2 at
  /dev/null for the whole process, which loses whatever another thread prints while a
  model loads; that redirection is turned off here.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CpuMismatchError, ModelLoadError

if TYPE_CHECKING:
    from llama_cpp import Llama

log = logging.getLogger("rag.llama")

REBUILD_COMMAND = "make rebuild-llama"
CPUINFO = Path("/proc/cpuinfo")

# ggml's name of a CPU feature -> the /proc/cpuinfo flag that reports it (x86-64).
FEATURE_FLAGS = {
    "SSE3": "pni", "SSSE3": "ssse3", "AVX": "avx", "AVX_VNNI": "avx_vnni", "AVX2": "avx2",
    "F16C": "f16c", "FMA": "fma", "BMI2": "bmi2", "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi", "AVX512_VNNI": "avx512_vnni", "AVX512_BF16": "avx512_bf16",
    "AMX_INT8": "amx_int8",
}
# CPU modules never chosen automatically (a user may still name one).
AVOIDED_VARIANTS = {"sapphirerapids": "its AMX kernel crashes on some CPUs (llama.cpp#20824)"}
VARIANT_FILE = re.compile(r"^libggml-cpu-([\w-]+)\.so$")


@dataclass(frozen=True)
class CpuBackend:
    """What init() loaded: the module's variant (None for a static build) and its features."""

    variant: str | None
    features: tuple[str, ...]


# --- pure parts, unit-tested on recorded inputs --------------------------------------------


def cpu_flags(cpuinfo: str) -> set[str]:
    """The instruction-set flags of the first processor in /proc/cpuinfo text."""
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "flags":
            return set(value.split())
    return set()


def compiled_features(system_info: str) -> tuple[str, ...]:
    """The CPU features a build uses, from ``llama_print_system_info()``."""
    # "CPU : SSE3 = 1 | AVX = 1 | ... | REPACK = 1 | " and then any other backend's part.
    _, found, rest = system_info.partition("CPU : ")
    features = []
    for part in rest.split("|") if found else ():
        if " : " in part:  # the next backend begins
            break
        name, _, value = part.partition("=")
        if value.strip() == "1":
            features.append(name.strip())
    return tuple(features)


def missing_instructions(features: tuple[str, ...] | list[str], flags: set[str]) -> list[str]:
    """Features the build uses that the CPU does not report (empty: it can run here)."""
    return [f for f in features if f in FEATURE_FLAGS and FEATURE_FLAGS[f] not in flags]


def choose_variant(scores: dict[str, int], wanted: str | None = None) -> str | None:
    """The CPU module to load: ``wanted`` if given, else the best-scored one not avoided."""
    if wanted:
        return wanted
    usable = {v: s for v, s in scores.items() if s > 0 and v not in AVOIDED_VARIANTS}
    return max(usable, key=usable.__getitem__) if usable else None


# --- the installed build ------------------------------------------------------------------


def lib_dir() -> Path:
    """The folder of the shared libraries in the installed llama_cpp package."""
    import importlib.util

    spec = importlib.util.find_spec("llama_cpp")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError("llama-cpp-python is not installed: run `make setup`")
    return Path(next(iter(spec.submodule_search_locations))) / "lib"


def variant_files(folder: Path) -> dict[str, Path]:
    """CPU modules of a dynamic-backend build: variant name -> file."""
    found = {}
    for p in sorted(folder.glob("libggml-cpu-*.so")):
        if m := VARIANT_FILE.match(p.name):
            found[m.group(1)] = p
    return found


def _loaded_ggml(folder: Path) -> Path:
    """The libggml file the bindings' libllama actually uses.

    The wheel holds libggml.so, .so.0 and .so.0.x as separate copies, and opening another
    copy than libllama's would give a second backend registry that libllama never sees.
    """
    maps = Path("/proc/self/maps")
    if maps.is_file():
        for line in maps.read_text().splitlines():
            path = line.split(maxsplit=5)[-1] if line.count(" ") >= 5 else ""
            if re.search(r"/libggml\.so(\.\d+)*$", path):
                return Path(path)
    candidates = sorted(folder.glob("libggml.so.*"), key=lambda p: len(p.name))
    return candidates[0] if candidates else folder / "libggml.so"


def _ggml(folder: Path) -> ctypes.CDLL:
    lib = ctypes.CDLL(str(_loaded_ggml(folder)))
    lib.ggml_backend_load.argtypes = [ctypes.c_char_p]
    lib.ggml_backend_load.restype = ctypes.c_void_p
    lib.ggml_backend_reg_by_name.argtypes = [ctypes.c_char_p]
    lib.ggml_backend_reg_by_name.restype = ctypes.c_void_p
    return lib


def _score(path: Path) -> int:
    """A module's own verdict on this CPU (its score function is built for any x86-64)."""
    try:
        module = ctypes.CDLL(str(path))
    except OSError as e:
        log.debug("cannot open %s: %s", path, e)
        return 0
    fn = getattr(module, "ggml_backend_score", None)
    return int(fn()) if fn is not None else 0


_lock = threading.Lock()
_loaded: CpuBackend | None = None
_recent_errors: deque[str] = deque(maxlen=5)


def _load_backend(wanted: str | None) -> CpuBackend:
    """Load the CPU module (once per process) and report what was loaded."""
    import llama_cpp

    folder = lib_dir()
    variants = variant_files(folder)
    variant = None
    if variants:
        lib = _ggml(folder)
        if wanted and wanted not in variants:
            raise CpuMismatchError(
                f"No llama.cpp CPU variant {wanted!r}; this build has "
                f"{', '.join(variants)} (unset RAG_LLAMA_CPU_VARIANT to pick the best)")
        if not lib.ggml_backend_reg_by_name(b"CPU"):
            scores = {} if wanted else {v: _score(p) for v, p in variants.items()}
            log.debug("llama.cpp CPU variant scores: %s", scores)
            variant = choose_variant(scores, wanted)
            if variant is None:
                raise CpuMismatchError(
                    "No llama.cpp CPU variant runs on this CPU (it lacks even SSE4.2?): "
                    f"rebuild with `{REBUILD_COMMAND}`")
            if not lib.ggml_backend_load(str(variants[variant]).encode()):
                if wanted and _score(variants[variant]) == 0:
                    # ggml refuses a module whose own CPU check fails here (the
                    # sapphirerapids one on a CPU without AMX): a choice, not a broken build.
                    raise CpuMismatchError(
                        f"The llama.cpp CPU variant {wanted!r} does not run on this CPU, "
                        "which lacks instructions it needs (the module's own check says "
                        "so): unset RAG_LLAMA_CPU_VARIANT to pick the best one, or rebuild "
                        f"with `{REBUILD_COMMAND}`")
                raise ModelLoadError(f"llama.cpp could not load {variants[variant]}"
                                     f"{last_error()}: rebuild with `{REBUILD_COMMAND}`")
    info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    return CpuBackend(variant, compiled_features(info))


def _probe_main() -> None:
    """Child process of the guard: load the backend as init() would and, given a model,
    run its kernels on one small batch; print what was loaded."""
    from .errors import RagError

    _install_logging()
    try:
        backend = _load_backend(os.environ.get("RAG_LLAMA_CPU_VARIANT") or None)
    except RagError as e:
        print(json.dumps({"error": str(e)}))
        sys.exit(3)
    print(json.dumps(asdict(backend)), flush=True)
    model = os.environ.get("RAG_PROBE_MODEL")
    if model:
        from llama_cpp import Llama

        try:
            llm = Llama(model_path=model, n_ctx=256, n_batch=64, verbose=False,
                        n_threads=max(1, min(4, os.cpu_count() or 1)))
        except Exception as e:  # a bad file is the real load's to report
            print(json.dumps({"model_error": str(e)}))
            return
        llm.eval(llm.tokenize(b"The quick brown fox jumps over the lazy dog. " * 8)[:64])
        print(json.dumps({"model_ran": True}))


def _guard(wanted: str | None, cache_dir: Path | None, model: Path | None) -> str | None:
    """Run the backend once in a child process; stop with one line if it cannot run here.

    The child loads the CPU module and, with ``model``, evaluates a 64-token batch, so a
    kernel that traps on this machine (an instruction the CPU, the hypervisor or the
    kernel does not allow) kills the child, not the caller. Passed checks are remembered
    per build, CPU, variant and model file, with the variant chosen, so that a later start
    loads it without asking every module again. Returns that variant (None: built in).
    """
    flags = cpu_flags(CPUINFO.read_text()) if CPUINFO.is_file() else set()
    folder = lib_dir()
    model_id = [str(model), model.stat().st_size] if model and model.is_file() else None
    stamp = hashlib.sha256(json.dumps([
        sorted(flags), wanted, model_id,
        sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in folder.glob("*.so*")),
    ]).encode()).hexdigest()
    marker = cache_dir / "llama-cpu-check" / f"{stamp[:20]}.json" if cache_dir else None
    if marker is not None and marker.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError):
            return json.loads(marker.read_text())["variant"]
    variants = variant_files(folder)
    if wanted and wanted not in variants:
        raise CpuMismatchError(
            f"No llama.cpp CPU variant {wanted!r}; this build has "
            f"{', '.join(variants) or 'none (its CPU code is built in)'} (unset "
            "RAG_LLAMA_CPU_VARIANT to pick the best)")
    env = {**os.environ, "RAG_LLAMA_CPU_VARIANT": wanted or "",
           "RAG_PROBE_MODEL": str(model) if model_id else ""}
    r = subprocess.run([sys.executable, "-c", "from rag.llamacpp import _probe_main; "
                        "_probe_main()"], capture_output=True, text=True, env=env,
                       timeout=300)
    lines = [json.loads(ln) for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode != 0:
        if r.returncode < 0:
            import signal

            why = signal.Signals(-r.returncode).name
            fix = (f"unset RAG_LLAMA_CPU_VARIANT, or rebuild it with `{REBUILD_COMMAND}`"
                   if wanted else f"rebuild it with `{REBUILD_COMMAND}`")
            raise CpuMismatchError(
                f"The installed llama.cpp stopped with {why} on this machine "
                f"({f'its {wanted} variant' if wanted else 'it'} uses instructions this CPU "
                f"does not run): {fix}")
        said = next((ln["error"] for ln in lines if "error" in ln), None)
        tail = (r.stderr.strip().splitlines() or ["(no output)"])[-1][:300]
        raise CpuMismatchError(said or f"llama.cpp cannot start on this machine ({tail})")
    backend = CpuBackend(**lines[0])
    ran_model = any(ln.get("model_ran") for ln in lines[1:])
    lacking = missing_instructions(backend.features, flags) if flags else []
    if lacking:
        built = f"its {backend.variant} variant" if backend.variant else "it"
        raise CpuMismatchError(
            f"The installed llama.cpp uses {', '.join(lacking)}, which this CPU lacks "
            f"({built} was built for another CPU): rebuild it with `{REBUILD_COMMAND}`")
    if marker is not None and (ran_model or model_id is None):
        from .files import atomic_write_text

        with contextlib.suppress(OSError):  # a read-only cache only costs a re-check
            atomic_write_text(marker, json.dumps(asdict(backend)))
    return backend.variant


def init(variant: str | None = None, cache_dir: Path | None = None,
         model: Path | None = None) -> CpuBackend:
    """Make llama.cpp ready for ``model``: logs routed, guard passed, CPU backend loaded."""
    global _loaded
    with _lock:
        if _loaded is None:
            _install_logging()
            checked = _guard(variant, cache_dir, model)
            _loaded = _load_backend(variant or checked)
            log.debug("llama.cpp CPU backend: %s (%s)", _loaded.variant or "built in",
                      " ".join(_loaded.features))
        elif variant and variant != _loaded.variant:
            raise CpuMismatchError(f"llama.cpp already runs its {_loaded.variant} variant in "
                                   "this process; a variant is chosen once per process")
        return _loaded


class AbortCallback:
    """llama.cpp's abort callback for one context: while armed, llama.cpp calls
    ``should_stop()`` between the steps of each decode and stops the decode when it
    returns True. Each call crosses into Python, so it is armed only while a prompt is
    read (a generated token is checked by the caller, between tokens)."""

    def __init__(self, llm: Llama, should_stop: Callable[[], bool]) -> None:
        import llama_cpp

        self.lib = llama_cpp.llama_cpp._lib
        self.lib.llama_set_abort_callback.argtypes = [
            ctypes.c_void_p, llama_cpp.ggml_abort_callback, ctypes.c_void_p]
        self.lib.llama_set_abort_callback.restype = None
        self.ctx = llm._ctx.ctx

        def check(_data: ctypes.c_void_p) -> bool:
            try:
                return bool(should_stop())
            except Exception:  # an exception must never cross into C
                return False

        self.callback = llama_cpp.ggml_abort_callback(check)  # kept alive here
        self.none = llama_cpp.ggml_abort_callback()  # a NULL function pointer

    def arm(self) -> None:
        self.lib.llama_set_abort_callback(self.ctx, self.callback, None)

    def disarm(self) -> None:
        self.lib.llama_set_abort_callback(self.ctx, self.none, None)


# --- logging ----------------------------------------------------------------------------

# ggml_log_level: NONE, INFO, WARN, ERROR, DEBUG, CONT(inue the previous line)
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.DEBUG, 3: logging.ERROR,
           4: logging.DEBUG}
_pending: list[str] = []
_pending_level = logging.DEBUG
_callback = None


def _on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
    """llama.cpp's log, a line at a time, to the ``rag.llama`` logger."""
    global _pending_level
    try:
        if level != 5:
            _pending_level = _LEVELS.get(level, logging.DEBUG)
        _pending.append(text.decode("utf-8", "replace") if text else "")
        joined = "".join(_pending)
        if "\n" not in joined:
            return
        *lines, rest = joined.split("\n")
        _pending[:] = [rest] if rest else []
        for line in lines:
            if not line.strip():
                continue
            if _pending_level >= logging.ERROR:
                _recent_errors.append(line.strip())
            log.debug("%s", line)
    except Exception:  # an exception must never cross into C
        pass


def last_error() -> str:
    """llama.cpp's last error line, as ' (…)', or '' if it logged none."""
    return f" ({_recent_errors[-1]})" if _recent_errors else ""


class _NoRedirect:
    """Stands in for llama-cpp-python's suppress_stdout_stderr: redirects nothing."""

    def __init__(self, disable: bool = True) -> None:
        pass

    def __enter__(self) -> _NoRedirect:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _install_logging() -> None:
    global _callback
    if _callback is not None:
        return
    import llama_cpp
    import llama_cpp._internals
    import llama_cpp.llama

    # The bindings' process-wide descriptor redirection (see the module docstring).
    for module in (llama_cpp.llama, llama_cpp._internals):
        if hasattr(module, "suppress_stdout_stderr"):
            module.suppress_stdout_stderr = _NoRedirect
    _callback = llama_cpp.llama_log_callback(_on_log)
    llama_cpp.llama_log_set(_callback, ctypes.c_void_p(0))
