"""Dataset metadata: a dataset, its immutable versions, and the tables of each version."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from nexus.db import Base, IdMixin, TimestampMixin, UTCDateTime, text_enum, utcnow


class VersionStatus(StrEnum):
    """Where a version's ingestion stands."""

    INGESTING = "ingesting"
    READY = "ready"


class Dataset(IdMixin, TimestampMixin, Base):
    """A named collection of tables owned by one user; its content lives in versions."""

    __tablename__ = "datasets"

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    current_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    versions: Mapped[list[DatasetVersion]] = relationship(
        back_populates="dataset", cascade="all, delete-orphan", order_by="DatasetVersion.version"
    )


class DatasetVersion(IdMixin, Base):
    """One immutable upload (or transformation) of a dataset, stored as one DuckDB file."""

    __tablename__ = "dataset_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version"),)

    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[VersionStatus] = mapped_column(text_enum(VersionStatus, "version_status"))
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    source_filename: Mapped[str] = mapped_column(String(255))
    source_format: Mapped[str | None] = mapped_column(String(16), nullable=True)
    source_bytes: Mapped[int] = mapped_column(BigInteger)
    source_sha256: Mapped[str] = mapped_column(String(64))
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    dataset: Mapped[Dataset] = relationship(back_populates="versions")
    tables: Mapped[list[DatasetTable]] = relationship(
        back_populates="version", cascade="all, delete-orphan", order_by="DatasetTable.position"
    )


class DatasetTable(IdMixin, Base):
    """A table of a version, with its profile."""

    __tablename__ = "dataset_tables"
    __table_args__ = (UniqueConstraint("version_id", "name"),)

    version_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("dataset_versions.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    row_count: Mapped[int] = mapped_column(BigInteger)
    columns: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    notes: Mapped[list[str]] = mapped_column(JSON, default=list)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    version: Mapped[DatasetVersion] = relationship(back_populates="tables")
