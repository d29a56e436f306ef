"""``rag llm-server``: llama-cpp-python's own OpenAI-compatible server, for a preset.

``python -m llama_cpp.server`` alone cannot run the wheel the Makefile builds: that
build keeps its CPU code in loadable modules that the bindings never load (see
rag/llamacpp.py), so the model fails to load. This command does what
``python -m llama_cpp.server`` does after the steps it lacks: the model preset is
assembled from its installed packages and checksummed (rag/models.py), and the best CPU
module is loaded and checked. It also sets ``interrupt_requests`` off: left on, the
server ends a streamed answer early, with no finish reason, whenever another request
arrives, which cuts answers short as soon as two replicas share it.

The server runs one answer at a time (one llama.cpp context); requests beyond that
wait there. For parallel slots, run llama.cpp's ``llama-server --parallel N`` or vLLM
instead; the client side (RAG_LLM_BACKEND=openai) is the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .progress import SILENT, Reporter

if TYPE_CHECKING:
    from .config import Settings


def create_app(settings: Settings, host: str, port: int, api_key: str | None = None,
               reporter: Reporter = SILENT):
    """The llama-cpp-python server app for ``settings.model``, its CPU module loaded."""
    from . import llamacpp
    from .models import resolve_llm

    path, name = resolve_llm(settings.model, settings.cache_dir, settings.model_sha256, reporter)
    llamacpp.init(settings.llama_cpu_variant, settings.cache_dir, path)
    from llama_cpp.server.app import create_app as llama_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    server = ServerSettings(host=host, port=port, api_key=api_key, interrupt_requests=False)
    model = ModelSettings(model=str(path), model_alias=name, n_ctx=settings.n_ctx,
                          n_threads=settings.n_threads, n_threads_batch=settings.n_threads,
                          n_batch=512, seed=settings.seed, use_mmap=True, verbose=False)
    try:
        return llama_app(server_settings=server, model_settings=[model]), name
    except Exception as e:  # llama.cpp raises ValueError/RuntimeError with long texts
        from .errors import ModelLoadError

        raise ModelLoadError(f"llama.cpp could not load {path}: "
                             f"{e}{llamacpp.last_error()}") from e
