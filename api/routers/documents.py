"""The document library over HTTP: list (GET /documents), add (POST), remove (DELETE).
The transaction itself (checks, the file, the re-index, the undo) is rag/library.py."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends, File, Query, UploadFile

from rag import library

from ..deps import State, ready

router = APIRouter(tags=["documents"])


@router.get("/documents")
async def documents(s: State = Depends(ready)) -> dict[str, Any]:
    """The indexed documents: id, title, number of chunks."""
    index = s.pipeline.index
    counts = index.chunk_counts()
    return {"documents": [
        {"id": d.doc_id, "title": d.title, "chunks": counts.get(d.doc_id, 0),
         "characters": len(d.text), "source_url": d.metadata.get("source_url")}
        for d in sorted(index.documents.values(), key=lambda d: d.doc_id)]}


@router.post("/documents", status_code=201)
async def upload(file: UploadFile = File(...), replace: bool = Query(False),
                 s: State = Depends(ready)) -> dict[str, Any]:
    """Add a .txt, .md, .html or .pdf file; it is indexed and searchable on return."""
    stored, changes = await asyncio.to_thread(
        library.add_document, s.settings, file.filename or "", file.file, replace,
        s.engine.reindex_blocking)
    index = s.pipeline.index
    doc = index.documents[stored.doc_id]
    return {"id": doc.doc_id, "title": doc.title,
            "chunks": index.chunk_counts()[doc.doc_id], "changes": changes.summary()}


@router.delete("/documents/{doc_id:path}")
async def delete(doc_id: str, s: State = Depends(ready)) -> dict[str, Any]:
    """Remove a document from documents/ and from the index."""
    changes = await asyncio.to_thread(
        library.remove_document, s.settings, doc_id, set(s.pipeline.index.documents),
        s.engine.reindex_blocking)
    return {"deleted": doc_id, "changes": changes.summary()}
