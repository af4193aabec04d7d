"""Document metadata; the text itself lives as chunks in the vector store (``nexus.rag.store``)."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nexus.db import Base, IdMixin, TimestampMixin, text_enum


class DocumentStatus(StrEnum):
    """Where a document's ingestion stands."""

    INGESTING = "ingesting"
    READY = "ready"


class Document(IdMixin, TimestampMixin, Base):
    """An uploaded document owned by one user: where it came from and what it became."""

    __tablename__ = "documents"

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    status: Mapped[DocumentStatus] = mapped_column(text_enum(DocumentStatus, "document_status"))
    source_filename: Mapped[str] = mapped_column(String(255))
    source_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    source_bytes: Mapped[int] = mapped_column(BigInteger)
    source_sha256: Mapped[str] = mapped_column(String(64))
    pages: Mapped[int | None] = mapped_column(Integer, nullable=True)
    characters: Mapped[int] = mapped_column(BigInteger, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    embedder: Mapped[str] = mapped_column(String(255), default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
