"""What a running app holds for documents: the store, the embedder and the retriever, built once."""

from __future__ import annotations

from dataclasses import dataclass

from nexus.config import Settings
from nexus.rag.embed import Embedder, make_embedder
from nexus.rag.retrieve import Retriever
from nexus.rag.store import ChunkStore


@dataclass
class Rag:
    """The vector store, the embedder and the retriever over them."""

    store: ChunkStore
    embedder: Embedder
    retriever: Retriever

    def close(self) -> None:
        """Release the store's and the embedder's connections."""
        self.store.close()
        close = getattr(self.embedder, "close", None)
        if close is not None:
            close()


def build_rag(settings: Settings) -> Rag:
    """Return the documents' store, embedder and retriever as the settings ask."""
    documents = settings.documents
    store = ChunkStore(settings.storage.data_dir, documents.chroma_url)
    embedder = make_embedder(
        documents.embedder,
        batch_size=documents.embed_batch,
        ollama_host=settings.llm.ollama_host,
        timeout_s=settings.llm.llm_timeout_s,
        retries=settings.llm.ollama_retries,
    )
    return Rag(store=store, embedder=embedder, retriever=Retriever(store, embedder))
