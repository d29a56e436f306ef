"""Local question answering over your documents, with cited passages. No cloud.

``import rag`` stays light: torch, faiss and llama_cpp are imported where they are used.

    from rag import Pipeline, Settings
    pipeline = Pipeline(Settings(model="smollm2-135m"))
    answer = pipeline.ask("What did Peskov say?")
    print(answer.text, [c.passage.chunk.chunk_id for c in answer.citations])

    for event in pipeline.stream("What did Zakharova say?"):  # the words as they come
        print(event if isinstance(event, str) else f"\n{event.text}", end="")
"""

from .config import Settings
from .errors import RagError
from .pipeline import Pipeline
from .types import Answer, Chunk, Citation, Document, Passage, Turn
from .version import __version__

__all__ = ["Answer", "Chunk", "Citation", "Document", "Passage", "Pipeline", "RagError",
           "Settings", "Turn", "__version__"]
