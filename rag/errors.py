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


class IndexMismatchError(RagError):
    """The index was built with other settings (embedding model, chunking)."""


class ModelNotFoundError(RagError):
    """A model preset's package or a model path is missing."""


class ModelChecksumError(RagError):
    """A model file does not have the expected sha256."""


class ModelLoadError(RagError):
    """llama.cpp or sentence-transformers could not load a model."""
