"""Errors a user can act on. Each message says what to do next.

Each error carries what its front ends need: ``exit_code`` for the CLI and
``http_status`` for the HTTP API (and ``retry_after``, in seconds, when waiting helps),
so the two stay together and the API maps an error with one attribute lookup.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: the CLI prints the message on one line and exits non-zero."""

    exit_code = 1
    http_status = 400
    retry_after: int | None = None  # sent as Retry-After when set


class InvalidQuestionError(RagError):
    """The question is empty or too long."""

    exit_code = 2
    http_status = 422


class NoDocumentsError(RagError):
    """There is nothing to index."""

    http_status = 422


class IndexNotFoundError(RagError):
    """No index has been built yet."""

    http_status = 503


class IndexCorruptError(RagError):
    """The index on disk cannot be read (damaged or half-written)."""

    http_status = 503


class IndexWriteError(RagError):
    """The index could not be written (disk full, read-only, no permission)."""

    http_status = 503


class ModelNotFoundError(RagError):
    """A model preset's package or a model path is missing."""

    http_status = 503


class ModelChecksumError(RagError):
    """A model file does not have the expected sha256."""

    http_status = 503


class ModelLoadError(RagError):
    """llama.cpp or sentence-transformers could not load a model."""

    http_status = 503


class CpuMismatchError(RagError):
    """The installed llama.cpp cannot run on this CPU (built for another one)."""

    exit_code = 3
    http_status = 503


class ConfigError(RagError):
    """Settings that do not go together (a backend without its URL, ...)."""

    exit_code = 2
    http_status = 503


class LLMServerError(RagError):
    """The OpenAI-compatible LLM server (RAG_LLM_URL) failed, or did not answer in its API."""

    exit_code = 4
    http_status = 502


class LLMUnavailableError(LLMServerError):
    """The LLM server cannot be reached, or stays busy after the retries."""

    http_status = 503
    retry_after = 10


class VectorStoreError(RagError):
    """The vector store (Qdrant) cannot be reached or refused a request."""

    exit_code = 4
    http_status = 503
    retry_after = 10


class GenerationInterrupted(RagError):
    """The answer was stopped before it was complete (time limit, client gone)."""


# --- serving answers ---------------------------------------------------------------------


class NotReadyError(RagError):
    """The model and index are still loading (or failed to)."""

    http_status = 503
    retry_after = 5


class BusyError(RagError):
    """Every slot and queue place is taken."""

    http_status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"The assistant is busy answering other questions; retry in "
                         f"{retry_after} s")
        self.retry_after = retry_after


class AnswerTimeoutError(RagError):
    """An answer took longer than the per-request limit."""

    http_status = 504


# --- the document library (rag/library.py) ------------------------------------------------


class DocumentLibraryError(RagError):
    """Adding or removing a document was refused; the folder and the index are unchanged."""


class DocumentExistsError(DocumentLibraryError):
    """A document of that name exists and replacing it was not asked for."""

    http_status = 409


class DocumentTooLargeError(DocumentLibraryError):
    """The file is over the upload size limit (RAG_MAX_UPLOAD_BYTES)."""

    http_status = 413


class UnsupportedFileTypeError(DocumentLibraryError):
    """The file's suffix is not one of the supported document types."""

    http_status = 415


class InvalidDocumentError(DocumentLibraryError):
    """The file has no usable name, or no text could be read from it."""

    http_status = 422


class DocumentNotFoundError(DocumentLibraryError):
    """No indexed document has that id."""

    http_status = 404


class LastDocumentError(DocumentLibraryError):
    """Removing the document would leave nothing to index."""

    http_status = 409


class BadDocumentIdError(DocumentLibraryError):
    """A document id that points outside the documents folder."""

    http_status = 400
