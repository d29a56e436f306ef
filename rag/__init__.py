"""Local question answering over your documents, with cited passages. No cloud.

``import rag`` stays light: torch, faiss and llama_cpp are imported where they are used.

    from rag import Pipeline, Settings
    answer = Pipeline(Settings(model="smollm2-135m")).ask("What did Peskov say?")
    print(answer.answer, [c.passage.chunk.chunk_id for c in answer.citations])
"""

__version__ = "0.1.0"

from .config import Settings  # noqa: E402
from .errors import RagError  # noqa: E402
from .pipeline import Pipeline  # noqa: E402
from .types import Answer, Chunk, Citation, Document, Passage, Turn  # noqa: E402

__all__ = ["Answer", "Chunk", "Citation", "Document", "Passage", "Pipeline", "RagError",
           "Settings", "Turn", "__version__"]
