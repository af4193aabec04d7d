"""Datasets: create from uploads, add versions, read, preview and delete; each owned by one user.

Ingestion is atomic. The dataset and version rows are committed first with status ``ingesting`` (so
progress can be shown), the DuckDB file is written under a temporary name, renamed into place, and
the version is marked ready in one transaction. Any failure removes the file and the rows that the
upload added; a crash is cleaned up by ``sweep_interrupted`` at the next start.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any

import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from nexus.config import DatasetSettings
from nexus.datasets.ingest.base import IngestLimits
from nexus.datasets.ingest.names import quote
from nexus.datasets.ingest.pipeline import IngestOptions, IngestResult, ingest_file
from nexus.datasets.ingest.profile import json_safe
from nexus.datasets.models import Dataset, DatasetTable, DatasetVersion, VersionStatus
from nexus.datasets.storage import DatasetStore
from nexus.datasets.upload import MAX_NAME_CHARS, Upload
from nexus.errors import NotFound, UnprocessableContent
from nexus.users.models import Role, User

log = structlog.get_logger(__name__)
_PROGRESS_EVERY_S = 0.5


def ingest_options(settings: DatasetSettings) -> IngestOptions:
    """Return the ingestion options that the settings ask for."""
    limits = IngestLimits(
        max_columns=settings.max_columns,
        max_tables=settings.max_tables,
        junk_tolerance=settings.junk_tolerance,
    )
    return IngestOptions(
        limits=limits,
        memory_limit_mb=settings.ingest_memory_mb,
        threads=settings.ingest_threads,
        ambiguous_date_order=settings.ambiguous_date_order,
    )


def dataset_name(requested: str | None, filename: str) -> str:
    """Return the name to show: the one asked for, else the file name without its extension."""
    name = (requested or "").strip() or PurePath(filename).stem.strip() or filename
    if "\x00" in name or len(name) > MAX_NAME_CHARS:
        raise UnprocessableContent(f"The dataset name must be 1 to {MAX_NAME_CHARS} characters without NUL.")
    return name


class _ProgressWriter:
    """Writes a version's progress in its own short transactions, at most twice a second."""

    def __init__(self, sessions: sessionmaker[Session], version_id: uuid.UUID) -> None:
        self.sessions = sessions
        self.version_id = version_id
        self.last = 0.0

    def __call__(self, fraction: float, _phase: str) -> None:
        now = time.monotonic()
        if now - self.last < _PROGRESS_EVERY_S:
            return
        self.last = now
        try:
            with self.sessions() as session:
                session.execute(
                    update(DatasetVersion)
                    .where(DatasetVersion.id == self.version_id)
                    .values(progress=round(min(max(fraction, 0.0), 0.99), 3))
                )
                session.commit()
        except Exception as error:  # noqa: BLE001 - progress is advice; never fail an ingestion over it
            log.warning("progress_write_failed", error=type(error).__name__)


@dataclass
class DatasetService:
    """Dataset operations for one request; every lookup is scoped to the caller."""

    session: Session
    sessions: sessionmaker[Session]
    store: DatasetStore
    settings: DatasetSettings

    # --- reading ---------------------------------------------------------------------------------

    def get(self, user: User, dataset_id: uuid.UUID, *, admin_may: bool = True) -> Dataset:
        """Return a dataset the user may see; anyone else's is simply not found."""
        dataset = self.session.get(Dataset, dataset_id)
        visible = dataset is not None and (
            dataset.owner_id == user.id or (admin_may and user.role is Role.ADMIN)
        )
        if not visible or dataset is None:
            raise NotFound("No such dataset.")
        return dataset

    def page(self, user: User, *, limit: int, offset: int) -> tuple[list[Dataset], int]:
        """Return the user's datasets (all of them for admins), newest first."""
        query = select(Dataset)
        if user.role is not Role.ADMIN:
            query = query.where(Dataset.owner_id == user.id)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        datasets = self.session.scalars(
            query.order_by(Dataset.created_at.desc(), Dataset.id).limit(limit).offset(offset)
        )
        return list(datasets), total

    def rows(
        self, user: User, dataset_id: uuid.UUID, table: str, *, offset: int, limit: int, version: int | None
    ) -> dict[str, Any]:
        """Return a page of a table's rows, from the current version unless one is named."""
        dataset = self.get(user, dataset_id, admin_may=False)
        chosen = self._ready_version(dataset, version)
        if not any(t.name == table for t in chosen.tables):
            raise NotFound(f"Version {chosen.version} has no table named {table!r}.")
        limit = min(limit, self.settings.max_preview_rows)
        con = self.store.connect_read_only(self.store.version_path(dataset.id, chosen.id))
        try:
            result = con.execute(f"SELECT * FROM {quote(table)} LIMIT {int(limit)} OFFSET {int(offset)}")
            columns = [str(d[0]) for d in result.description or []]
            rows = [[json_safe(value) for value in row] for row in result.fetchall()]
            total_row = con.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()
        finally:
            con.close()
        return {
            "dataset_id": dataset.id,
            "version": chosen.version,
            "table": table,
            "columns": columns,
            "rows": rows,
            "offset": offset,
            "limit": limit,
            "total": int(total_row[0]) if total_row else 0,
        }

    def _ready_version(self, dataset: Dataset, version: int | None) -> DatasetVersion:
        wanted = version if version is not None else dataset.current_version
        for candidate in dataset.versions:
            if candidate.version == wanted and candidate.status is VersionStatus.READY:
                return candidate
        raise NotFound("No such version." if version is not None else "The dataset has no ready version yet.")

    # --- writing ---------------------------------------------------------------------------------

    def create(self, user: User, upload: Upload, name: str) -> Dataset:
        """Create a dataset from an upload; on any failure nothing of it remains."""
        dataset = Dataset(owner_id=user.id, name=name)
        self.session.add(dataset)
        version = self._start_version(dataset, 1, upload, user)
        return self._ingest(dataset, version, upload, new_dataset=True)

    def add_version(self, user: User, dataset_id: uuid.UUID, upload: Upload) -> Dataset:
        """Add a version from an upload; on failure the dataset stays as it was."""
        dataset = self.get(user, dataset_id, admin_may=False)
        number = (
            self.session.scalar(
                select(func.max(DatasetVersion.version)).where(DatasetVersion.dataset_id == dataset.id)
            )
            or 0
        ) + 1
        version = self._start_version(dataset, number, upload, user)
        return self._ingest(dataset, version, upload, new_dataset=False)

    def delete(self, user: User, dataset_id: uuid.UUID) -> None:
        """Delete a dataset's rows, then its files."""
        dataset = self.get(user, dataset_id)
        self.session.delete(dataset)
        self.session.commit()
        self.store.remove_dataset(dataset_id)

    def _start_version(self, dataset: Dataset, number: int, upload: Upload, user: User) -> DatasetVersion:
        version = DatasetVersion(
            dataset=dataset,
            version=number,
            status=VersionStatus.INGESTING,
            progress=0.0,
            source_filename=upload.filename,
            source_bytes=upload.size,
            source_sha256=upload.sha256,
            created_by=user.id,
        )
        self.session.add(version)
        self.session.commit()
        return version

    def _ingest(
        self, dataset: Dataset, version: DatasetVersion, upload: Upload, *, new_dataset: bool
    ) -> Dataset:
        temporary = self.store.temporary_path(dataset.id, version.id)
        final = self.store.version_path(dataset.id, version.id)
        published = False
        try:
            result = ingest_file(
                upload.path,
                temporary,
                ingest_options(self.settings),
                _ProgressWriter(self.sessions, version.id),
            )
            self.store.publish(temporary, final)
            published = True
            self._record(dataset, version, result)
            self.before_commit()
            self.session.commit()
        except BaseException:
            self.session.rollback()
            self.store.discard(*((temporary, final) if published else (temporary,)))
            self._forget(dataset.id if new_dataset else None, version.id)
            raise
        log.info(
            "dataset_ingested", dataset_id=str(dataset.id), version=version.version, format=result.format
        )
        self.session.refresh(dataset)
        return dataset

    def before_commit(self) -> None:
        """Run right before an ingestion commits (tests inject failures here)."""

    def _record(self, dataset: Dataset, version: DatasetVersion, result: IngestResult) -> None:
        version.status = VersionStatus.READY
        version.progress = 1.0
        version.source_format = result.format
        version.notes = list(result.notes)
        for position, table in enumerate(result.tables):
            details: dict[str, Any] = {}
            if table.ragged:
                details["ragged_rows"] = table.ragged
            if table.foreign_keys:
                details["foreign_keys"] = table.foreign_keys
            version.tables.append(
                DatasetTable(
                    position=position,
                    name=table.name,
                    row_count=table.row_count,
                    columns=table.columns,
                    notes=table.notes,
                    details=details,
                )
            )
        dataset.current_version = version.version

    def _forget(self, dataset_id: uuid.UUID | None, version_id: uuid.UUID) -> None:
        """Remove what a failed ingestion added to the database, in its own transaction."""
        with self.sessions() as session:
            if dataset_id is not None:
                session.execute(delete(Dataset).where(Dataset.id == dataset_id))
            else:
                session.execute(delete(DatasetVersion).where(DatasetVersion.id == version_id))
            session.commit()
        if dataset_id is not None:
            self.store.remove_dataset(dataset_id)


def sweep_interrupted(sessions: sessionmaker[Session], store: DatasetStore) -> int:
    """After a crash: drop versions left ``ingesting``, datasets left without versions, and stray files."""
    with sessions() as session:
        session.execute(delete(DatasetVersion).where(DatasetVersion.status == VersionStatus.INGESTING))
        orphans = select(Dataset.id).where(
            ~select(DatasetVersion.id).where(DatasetVersion.dataset_id == Dataset.id).exists()
        )
        session.execute(delete(Dataset).where(Dataset.id.in_(orphans)))
        session.commit()
        live = session.execute(select(DatasetVersion.dataset_id, DatasetVersion.id)).all()
    return store.sweep((dataset_id, version_id) for dataset_id, version_id in live)


def remove_upload(path: Path) -> None:
    """Delete a received upload file."""
    path.unlink(missing_ok=True)
