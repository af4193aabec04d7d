"""The vector store: ChromaDB, embedded in the data dir by default, a Chroma server by setting.

Each owner's chunks live in that owner's own collection (``owner_<uuid hex>``), and every chunk also
carries ``owner_id`` in its metadata. A search opens only the caller's collection, so another owner's
chunks are never candidates: isolation is done by the store, before ranking, not by filtering
results afterwards. (A shared collection with a ``where`` filter on ``owner_id`` works too, but
Chroma pays for such a filter per matching row: about 36 ms a query for an owner with 10,000 chunks.)

Chunks are always added with their vectors and collections have no embedding function, so Chroma
never loads (or downloads) a model of its own.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np
import structlog

from nexus.rag.chunk import Chunk

log = structlog.get_logger(__name__)

HEADING_SEPARATOR = " > "


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store returns it."""

    id: str
    document_id: str
    ordinal: int
    text: str
    title: str
    page: int | None
    headings: tuple[str, ...]
    start: int
    end: int
    distance: float | None = None
    vector: np.ndarray[Any, Any] | None = field(default=None, compare=False)


def collection_name(owner_id: uuid.UUID) -> str:
    """Return the name of an owner's collection."""
    return f"owner_{owner_id.hex}"


def chunk_id(document_id: uuid.UUID, ordinal: int) -> str:
    """Return a chunk's id in the store."""
    return f"{document_id}:{ordinal}"


def _metadata(owner_id: uuid.UUID, document_id: uuid.UUID, title: str, chunk: Chunk) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "owner_id": str(owner_id),
        "document_id": str(document_id),
        "ordinal": chunk.ordinal,
        "title": title,
        "headings": HEADING_SEPARATOR.join(chunk.headings),
        "start": chunk.start,
        "end": chunk.end,
    }
    if chunk.page is not None:
        metadata["page"] = chunk.page
    return metadata


def _stored(
    id_: str, text: str | None, metadata: Any, distance: float | None = None, vector: Any = None
) -> StoredChunk:
    meta = dict(metadata or {})
    headings = str(meta.get("headings") or "")
    return StoredChunk(
        id=id_,
        document_id=str(meta.get("document_id", "")),
        ordinal=int(meta.get("ordinal", 0)),
        text=text or "",
        title=str(meta.get("title", "")),
        page=int(meta["page"]) if meta.get("page") is not None else None,
        headings=tuple(headings.split(HEADING_SEPARATOR)) if headings else (),
        start=int(meta.get("start", 0)),
        end=int(meta.get("end", 0)),
        distance=distance,
        vector=np.asarray(vector, dtype=np.float32) if vector is not None else None,
    )


class ChunkStore:
    """Chunks and their vectors, one collection per owner."""

    def __init__(self, data_dir: Path, url: str | None = None) -> None:
        self.url = url
        self.path = data_dir / "chroma"
        self._client: Any = None
        # Collection handles by owner: opening one is a round trip, and only deleting the owner
        # (their user) removes a collection.
        self._collections: dict[uuid.UUID, Any] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """Return the Chroma client, created on first use."""
        with self._lock:
            if self._client is None:
                import chromadb
                from chromadb.config import Settings as ChromaSettings

                settings = ChromaSettings(anonymized_telemetry=False)
                if self.url:
                    parts = urlparse(self.url)
                    self._client = chromadb.HttpClient(
                        host=parts.hostname or "localhost",
                        port=parts.port or (443 if parts.scheme == "https" else 8000),
                        ssl=parts.scheme == "https",
                        settings=settings,
                    )
                else:
                    self.path.mkdir(parents=True, exist_ok=True)
                    self._client = chromadb.PersistentClient(path=str(self.path), settings=settings)
            return self._client

    def close(self) -> None:
        """Close a server client's connections (an embedded client holds none of its own)."""
        with self._lock:
            client, self._client = self._client, None
            self._collections.clear()
        session = getattr(getattr(client, "_server", None), "_session", None)
        if session is not None:
            session.close()

    def _collection(self, owner_id: uuid.UUID, *, create: bool) -> Any:
        found = self._collections.get(owner_id)
        if found is not None:
            return found
        name = collection_name(owner_id)
        if create:
            found = self.client.get_or_create_collection(
                name, metadata={"hnsw:space": "cosine"}, embedding_function=None
            )
        else:
            try:
                found = self.client.get_collection(name, embedding_function=None)
            except Exception:  # noqa: BLE001 - Chroma raises NotFoundError or ValueError by version
                return None
        self._collections[owner_id] = found
        return found

    def add(
        self,
        owner_id: uuid.UUID,
        document_id: uuid.UUID,
        title: str,
        chunks: Sequence[Chunk],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        """Add a document's chunks with their vectors."""
        if len(chunks) != len(vectors):
            raise ValueError("one vector per chunk")
        collection = self._collection(owner_id, create=True)
        step = max(1, min(5_000, int(self.client.get_max_batch_size())))
        for start in range(0, len(chunks), step):
            batch = chunks[start : start + step]
            collection.add(
                ids=[chunk_id(document_id, c.ordinal) for c in batch],
                embeddings=[list(v) for v in vectors[start : start + step]],
                documents=[c.text for c in batch],
                metadatas=[_metadata(owner_id, document_id, title, c) for c in batch],
            )

    def delete_document(self, owner_id: uuid.UUID, document_id: uuid.UUID) -> None:
        """Remove a document's chunks."""
        collection = self._collection(owner_id, create=False)
        if collection is not None:
            collection.delete(where={"document_id": str(document_id)})

    def delete_owner(self, owner_id: uuid.UUID) -> None:
        """Remove every chunk of an owner."""
        if self._collection(owner_id, create=False) is not None:
            self._collections.pop(owner_id, None)
            self.client.delete_collection(collection_name(owner_id))

    def owners(self) -> list[uuid.UUID]:
        """Return the owners that have a collection in the store."""
        found = []
        for collection in self.client.list_collections():
            name = getattr(collection, "name", collection)
            if isinstance(name, str) and name.startswith("owner_"):
                try:
                    found.append(uuid.UUID(hex=name.removeprefix("owner_")))
                except ValueError:
                    continue
        return found

    def count(self, owner_id: uuid.UUID, document_id: uuid.UUID | None = None) -> int:
        """Return how many chunks an owner (or one of their documents) has in the store."""
        collection = self._collection(owner_id, create=False)
        if collection is None:
            return 0
        if document_id is None:
            return int(collection.count())
        found = collection.get(where={"document_id": str(document_id)}, include=[])
        return len(found["ids"])

    def nearest(self, owner_id: uuid.UUID, vector: Sequence[float], n: int) -> list[StoredChunk]:
        """Return an owner's n chunks nearest to a vector, nearest first (cosine distance), with vectors."""
        collection = self._collection(owner_id, create=False)
        if collection is None or n < 1:
            return []
        found = collection.query(
            query_embeddings=[list(vector)],
            n_results=n,
            include=["documents", "metadatas", "distances", "embeddings"],
        )
        return [
            _stored(id_, text, meta, distance, stored_vector)
            for id_, text, meta, distance, stored_vector in zip(
                found["ids"][0],
                found["documents"][0],
                found["metadatas"][0],
                found["distances"][0],
                found["embeddings"][0],
                strict=True,
            )
        ]

    def vectors(self, owner_id: uuid.UUID, ids: Sequence[str]) -> dict[str, np.ndarray[Any, Any]]:
        """Return the stored vectors of some chunks."""
        collection = self._collection(owner_id, create=False)
        if collection is None or not ids:
            return {}
        found = collection.get(ids=list(ids), include=["embeddings"])
        return {
            id_: np.asarray(vector, dtype=np.float32)
            for id_, vector in zip(found["ids"], found["embeddings"], strict=True)
        }

    def scan(self, owner_id: uuid.UUID, page: int = 5_000) -> Iterator[StoredChunk]:
        """Yield every chunk of an owner (text and metadata, no vectors)."""
        collection = self._collection(owner_id, create=False)
        if collection is None:
            return
        offset = 0
        while True:
            found = collection.get(include=["documents", "metadatas"], limit=page, offset=offset)
            ids = found["ids"]
            for id_, text, meta in zip(ids, found["documents"], found["metadatas"], strict=True):
                yield _stored(id_, text, meta)
            if len(ids) < page:
                return
            offset += page
