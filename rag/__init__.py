"""Local question answering over your documents, with cited passages. No cloud.

``import rag`` stays light: torch, faiss and llama_cpp are imported where they are used.
"""

__version__ = "0.1.0"
