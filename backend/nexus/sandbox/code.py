"""Code runs over a user's datasets: the tables as DataFrames, the sandbox, and the audit trail.

``POST /code`` and the analyst agent both come here. Tables are named as in the catalog (the
friendly names SQL uses); with one table the code also sees it as ``df``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
from sqlalchemy.orm import Session

from nexus.audit.service import AuditAction, record
from nexus.config import Settings
from nexus.datasets.ingest.names import quote
from nexus.datasets.storage import DatasetStore
from nexus.errors import NexusError
from nexus.query.catalog import Catalog, CatalogTable, load_catalog
from nexus.sandbox.errors import SandboxInputTooLarge
from nexus.sandbox.pool import TableLoader
from nexus.sandbox.service import CodeRun, Sandbox, code_hash
from nexus.users.models import User


def table_keys(catalog: Catalog) -> dict[str, str]:
    """Return each table's friendly name and the cache key of its (immutable) dataset version."""
    return {table.name: _key(table) for table in catalog.tables}


def _key(table: CatalogTable) -> str:
    return f"{table.dataset_id}:{table.version}:{table.table}"


def check_sizes(catalog: Catalog, max_rows: int) -> None:
    """Refuse tables with more rows than the sandbox takes."""
    for table in catalog.tables:
        if table.row_count > max_rows:
            raise SandboxInputTooLarge(
                f"Table {table.name!r} has {table.row_count:,} rows; the sandbox takes at most {max_rows:,} "
                "(NEXUS_SANDBOX_MAX_INPUT_ROWS). Ask in SQL, or filter it into a smaller dataset first."
            )


def _read(
    catalog: Catalog, store: DatasetStore, table: CatalogTable, limit: int | None = None
) -> pd.DataFrame:
    """Read one table (or its first ``limit`` rows) into a DataFrame, read-only."""
    con = store.connect_read_only(dict(catalog.attachments)[table.alias])
    try:
        head = f" LIMIT {int(limit)}" if limit is not None else ""
        return con.execute(f"SELECT * FROM {quote(table.table)}{head}").df()
    finally:
        con.close()


def table_loader(catalog: Catalog, store: DatasetStore) -> TableLoader:
    """Return a function that reads tables by cache key into DataFrames, read-only."""
    by_key = {_key(table): table for table in catalog.tables}

    def load(keys: list[str]) -> dict[str, pd.DataFrame]:
        return {key: _read(catalog, store, by_key[key]) for key in keys}

    return load


def first_rows(catalog: Catalog, store: DatasetStore, rows: int) -> dict[str, pd.DataFrame]:
    """Return the first rows of every table, by friendly name (samples for a model's prompt)."""
    return {table.name: _read(catalog, store, table, rows) for table in catalog.tables}


@dataclass
class CodeService:
    """Runs a user's code over their own datasets and audits every run."""

    session: Session
    store: DatasetStore
    settings: Settings
    sandbox: Sandbox

    def catalog(self, user: User, dataset_ids: Sequence[uuid.UUID]) -> Catalog:
        """Return the catalog of the named datasets, all of them the caller's own."""
        return load_catalog(
            self.session, self.store, user, dataset_ids, max_datasets=self.settings.query.max_query_datasets
        )

    def run(
        self, user: User, dataset_ids: Sequence[uuid.UUID], code: str, *, client_ip: str | None = None
    ) -> CodeRun:
        """Run code over the caller's datasets; the audit log gets the code's hash and the outcome."""
        started = time.perf_counter()
        outcome = "ok"
        try:
            self.sandbox.check(code)
            catalog = self.catalog(user, dataset_ids)
            return self.run_catalog(catalog, code)
        except NexusError as exc:
            outcome = exc.type_slug
            raise
        except Exception:
            outcome = "internal-error"
            raise
        finally:
            record(
                self.session,
                AuditAction.CODE_RUN,
                actor_id=user.id,
                subject=code_hash(code)[:64],
                client_ip=client_ip,
                sha256=code_hash(code),
                dataset_ids=[str(item) for item in dataset_ids],
                outcome=outcome,
                chars=len(code),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            self.session.commit()

    def run_catalog(self, catalog: Catalog, code: str) -> CodeRun:
        """Run code over the tables of a catalog already scoped to its owner."""
        check_sizes(catalog, self.settings.sandbox.sandbox_max_input_rows)
        return self.sandbox.run(code, table_keys(catalog), table_loader(catalog, self.store))
