"""Documents: ingest an upload into chunks and vectors, list, read, search and delete; owner only.

Ingestion is atomic, like datasets'. The document row is committed first with status ``ingesting``,
then the file is parsed, chunked (by structure, then by size), embedded in batches and added to the
vector store, and the row is marked ready in one transaction. Any failure removes the chunks and the
row that the upload added; a crash is cleaned up by ``sweep_interrupted`` at the next start. Search
only ever considers ready documents, so a half-ingested one is never found.

Documents are private: nobody else, admins included, can list, read, search or delete them.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePath

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from nexus.config import DocumentSettings
from nexus.datasets.upload import MAX_NAME_CHARS, Upload
from nexus.documents.models import Document, DocumentStatus
from nexus.errors import Conflict, NotFound, UnprocessableContent
from nexus.observability.metrics import DOCUMENT_CHUNKS, RETRIEVAL_DURATION
from nexus.rag.chunk import Chunk, chunk_document, full_text
from nexus.rag.index import Rag
from nexus.rag.parse import parse_document
from nexus.rag.retrieve import Hit, Mode
from nexus.rag.store import HEADING_SEPARATOR
from nexus.users.models import User

log = structlog.get_logger(__name__)


def document_title(requested: str | None, parsed_title: str | None, filename: str) -> str:
    """Return the title to show: the one asked for, else the document's own, else the file's name."""
    title = (requested or "").strip() or (parsed_title or "").strip() or PurePath(filename).stem.strip()
    title = " ".join((title or filename).split())
    if "\x00" in title:
        raise UnprocessableContent("The title must not contain NUL.")
    return title[:MAX_NAME_CHARS]


CONTEXT_WORDS = 32
"""Most words of title and heading path put before a chunk when embedding it. The chunk itself fills
``NEXUS_CHUNK_TOKENS`` (200 of the local model's 256), so a long heading path must not push its end
past what the model reads."""


def embedding_text(title: str, chunk: Chunk) -> str:
    """Return what is embedded for a chunk: where it sits (title, headings), then its text."""
    context = HEADING_SEPARATOR.join([title, *chunk.headings]).split()
    if len(context) > CONTEXT_WORDS:
        context = ["...", *context[-CONTEXT_WORDS:]]  # the nearest headings say the most
    return " ".join(context) + "\n" + chunk.text


@dataclass
class DocumentService:
    """Document operations for one request; every lookup is scoped to the caller."""

    session: Session
    sessions: sessionmaker[Session]
    rag: Rag
    settings: DocumentSettings

    # --- reading ---------------------------------------------------------------------------------

    def get(self, user: User, document_id: uuid.UUID) -> Document:
        """Return the caller's document; anyone else's is simply not found."""
        document = self.session.get(Document, document_id)
        if document is None or document.owner_id != user.id:
            raise NotFound("No such document.")
        return document

    def page(self, user: User, *, limit: int, offset: int) -> tuple[list[Document], int]:
        """Return the caller's documents, newest first."""
        query = select(Document).where(Document.owner_id == user.id)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        documents = self.session.scalars(
            query.order_by(Document.created_at.desc(), Document.id).limit(limit).offset(offset)
        )
        return list(documents), total

    def ready_ids(self, user: User) -> list[str]:
        """Return the ids of the caller's ready documents."""
        found = self.session.scalars(
            select(Document.id).where(Document.owner_id == user.id, Document.status == DocumentStatus.READY)
        )
        return [str(document_id) for document_id in found]

    def search(
        self, user: User, query: str, k: int, *, mode: Mode = "hybrid", mmr: bool | None = None
    ) -> tuple[list[Hit], dict[str, float]]:
        """Return the caller's k best passages for a query, with where the time went."""
        if k > self.settings.search_max_k:
            raise UnprocessableContent(
                f"k may be at most {self.settings.search_max_k} (NEXUS_SEARCH_MAX_K).", limit="search_max_k"
            )
        started = time.perf_counter()
        timings: dict[str, float] = {}
        hits = self.rag.retriever.search(
            user.id,
            query,
            k,
            documents=self.ready_ids(user),
            mode=mode,
            mmr=self.settings.retrieval_mmr if mmr is None else mmr,
            timings=timings,
        )
        elapsed = time.perf_counter() - started
        RETRIEVAL_DURATION.labels(mode).observe(elapsed)
        timings["total_ms"] = round(elapsed * 1000, 3)
        return hits, timings

    # --- writing ---------------------------------------------------------------------------------

    def create(self, user: User, upload: Upload, title: str | None) -> Document:
        """Ingest an upload as a document; on any failure nothing of it remains.

        The same file twice would make every answer cite it twice, so a second upload of a file the
        caller already has is refused (409) with the existing document's id.
        """
        same = self.session.scalar(
            select(Document).where(Document.owner_id == user.id, Document.source_sha256 == upload.sha256)
        )
        if same is not None:
            raise Conflict(
                f"This file is already uploaded as {same.title!r}; delete that one to upload it again.",
                document_id=str(same.id),
            )
        document = Document(
            owner_id=user.id,
            title=document_title(title, None, upload.filename),
            status=DocumentStatus.INGESTING,
            source_filename=upload.filename,
            source_bytes=upload.size,
            source_sha256=upload.sha256,
            embedder=self.rag.embedder.name,
            details={},
        )
        self.session.add(document)
        self.session.commit()
        try:
            self._ingest(document, upload, title)
            self.before_commit()
            self.session.commit()
        except BaseException:
            self.session.rollback()
            self._forget(user.id, document.id)
            raise
        log.info(
            "document_ingested",
            document_id=str(document.id),
            format=document.source_format,
            chunks=document.chunk_count,
        )
        self.session.refresh(document)
        return document

    def _ingest(self, document: Document, upload: Upload, title: str | None) -> None:
        started = time.perf_counter()
        parsed = parse_document(upload.path, upload.filename, max_chars=self.settings.max_document_chars)
        parsed_s = time.perf_counter()
        chunks = chunk_document(
            parsed,
            max_tokens=self.settings.chunk_tokens,
            overlap_tokens=min(self.settings.chunk_overlap_tokens, self.settings.chunk_tokens // 2 - 1),
            count_tokens=self.rag.embedder.count_tokens,
        )
        if not chunks:
            raise UnprocessableContent("The document has no text to search.")
        chunked_s = time.perf_counter()
        document.title = document_title(title, parsed.title, upload.filename)
        vectors = self.rag.embedder.embed([embedding_text(document.title, chunk) for chunk in chunks])
        embedded_s = time.perf_counter()
        self.rag.store.add(document.owner_id, document.id, document.title, chunks, vectors)
        stored_s = time.perf_counter()
        document.status = DocumentStatus.READY
        document.source_format = parsed.format
        document.pages = parsed.pages
        document.characters = len(full_text(parsed))
        document.chunk_count = len(chunks)
        document.details = {
            "timings_ms": {
                "parse": round((parsed_s - started) * 1000, 1),
                "chunk": round((chunked_s - parsed_s) * 1000, 1),
                "embed": round((embedded_s - chunked_s) * 1000, 1),
                "store": round((stored_s - embedded_s) * 1000, 1),
            },
            "chunk_tokens": self.settings.chunk_tokens,
        }
        DOCUMENT_CHUNKS.inc(len(chunks))

    def before_commit(self) -> None:
        """Run right before an ingestion commits (tests inject failures here)."""

    def delete(self, user: User, document_id: uuid.UUID) -> None:
        """Delete a document's chunks, then its row (so a failure leaves it listed, to try again)."""
        document = self.get(user, document_id)
        self.rag.store.delete_document(user.id, document.id)
        self.session.delete(document)
        self.session.commit()

    def _forget(self, owner_id: uuid.UUID, document_id: uuid.UUID) -> None:
        """Remove what a failed ingestion added, in its own transaction."""
        try:
            self.rag.store.delete_document(owner_id, document_id)
        finally:
            with self.sessions() as session:
                session.execute(delete(Document).where(Document.id == document_id))
                session.commit()


def sweep_interrupted(sessions: sessionmaker[Session], rag: Rag) -> int:
    """After a crash: remove documents left ``ingesting`` with their chunks, and deleted users' chunks.

    Collections of owners who are no longer users are removed only from the embedded store, which
    belongs to this deployment alone; a Chroma server may serve others. Returns how many documents
    and collections were removed.
    """
    with sessions() as session:
        left: Sequence[tuple[uuid.UUID, uuid.UUID]] = [
            (row[0], row[1])
            for row in session.execute(
                select(Document.id, Document.owner_id).where(Document.status == DocumentStatus.INGESTING)
            )
        ]
        for document_id, owner_id in left:
            rag.store.delete_document(owner_id, document_id)
            session.execute(delete(Document).where(Document.id == document_id))
        session.commit()
        users = {str(user_id) for user_id in session.scalars(select(User.id))}
    gone = [] if rag.store.url else [owner for owner in rag.store.owners() if str(owner) not in users]
    for owner in gone:
        rag.store.delete_owner(owner)
    if left or gone:
        log.info("document_sweep", documents=len(left), owners=len(gone))
    return len(left) + len(gone)
