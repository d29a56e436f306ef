"""Errors a user can act on. Each message says what to do next."""

from __future__ import annotations


class RagError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""

    exit_code = 1


class InvalidQuestionError(RagError):
    """The question is empty or too long."""

    exit_code = 2


class NoDocumentsError(RagError):
    """There is nothing to index."""


class IndexNotFoundError(RagError):
    """No index has been built yet."""


class IndexCorruptError(RagError):
    """The index on disk cannot be read (damaged or half-written)."""


class IndexWriteError(RagError):
    """The index could not be written (disk full, read-only, no permission)."""


class ModelNotFoundError(RagError):
    """A model preset's package or a model path is missing."""


class ModelChecksumError(RagError):
    """A model file does not have the expected sha256."""


class ModelLoadError(RagError):
    """llama.cpp or sentence-transformers could not load a model."""


class CpuMismatchError(RagError):
    """The installed llama.cpp cannot run on this CPU (built for another one)."""

    exit_code = 3


class GenerationInterrupted(RagError):
    """The answer was stopped before it was complete (time limit, client gone)."""
