"""SQL against a user's datasets, and what questions need from them (catalog, column values).

``POST /sql`` runs here: SQL that ``validate_sql`` accepts, run by ``execute`` on a read-only
connection with a time limit. Questions go through the orchestrator (``nexus.graph``), whose sql
agent uses the same catalog, value index, compiler, validator and executor.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session

from nexus.config import QuerySettings
from nexus.datasets.ingest.names import quote
from nexus.datasets.storage import DatasetStore
from nexus.query.catalog import Catalog, load_catalog
from nexus.query.executor import QueryResult, execute
from nexus.query.validate import validate_sql
from nexus.users.models import User

log = structlog.get_logger(__name__)

MAX_DISTINCT_VALUES = 2_000
"""Text columns with at most this many distinct values are indexed for 'in Europe'-style filters."""

_CACHE_VERSIONS = 64


class _ValueCache:
    """Distinct values of text columns per dataset version; versions never change, so never stale."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[uuid.UUID, int, str], dict[str, list[str]]] = OrderedDict()

    def get(self, key: tuple[uuid.UUID, int, str]) -> dict[str, list[str]] | None:
        with self._lock:
            found = self._items.get(key)
            if found is not None:
                self._items.move_to_end(key)
            return found

    def put(self, key: tuple[uuid.UUID, int, str], values: dict[str, list[str]]) -> None:
        with self._lock:
            self._items[key] = values
            while len(self._items) > _CACHE_VERSIONS * 8:
                self._items.popitem(last=False)


VALUES = _ValueCache()


def column_values(catalog: Catalog, store: DatasetStore) -> dict[tuple[str, str], list[str]]:
    """Return the distinct values of the low-cardinality text columns of every table in a catalog."""
    index: dict[tuple[str, str], list[str]] = {}
    paths = dict(catalog.attachments)
    for table in catalog.tables:
        key = (table.dataset_id, table.version, table.table)
        cached = VALUES.get(key)
        if cached is None:
            wanted = [
                c.name
                for c in table.columns
                if c.type == "text" and 0 < int(c.profile.get("distinct_count") or 0) <= MAX_DISTINCT_VALUES
            ]
            cached = {}
            if wanted:
                con = store.connect_read_only(paths[table.alias])
                try:
                    for name in wanted:
                        rows = con.execute(
                            f"SELECT DISTINCT {quote(name)} FROM {quote(table.table)} "
                            f"WHERE {quote(name)} IS NOT NULL LIMIT {MAX_DISTINCT_VALUES + 1}"
                        ).fetchall()
                        cached[name] = [str(row[0]) for row in rows]
                finally:
                    con.close()
            VALUES.put(key, cached)
        for name, values in cached.items():
            index[(table.name, name)] = values
    return index


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


@dataclass
class QueryService:
    """Runs SQL and questions for one request, reading only the caller's own datasets."""

    session: Session
    store: DatasetStore
    settings: QuerySettings

    def catalog(self, user: User, dataset_ids: Sequence[uuid.UUID]) -> Catalog:
        """Return the catalog of the named datasets, all of them the caller's own."""
        return load_catalog(
            self.session, self.store, user, dataset_ids, max_datasets=self.settings.max_query_datasets
        )

    def run_sql(
        self, user: User, dataset_ids: Sequence[uuid.UUID], sql: str
    ) -> tuple[str, QueryResult, dict[str, float]]:
        """Validate and run the caller's SQL; return the normalised SQL, the result and timings."""
        started = time.perf_counter()
        catalog = self.catalog(user, dataset_ids)
        timings = {"catalog_ms": _ms(started)}
        step = time.perf_counter()
        checked = validate_sql(sql, catalog, max_chars=self.settings.max_sql_chars)
        timings["validate_ms"] = _ms(step)
        result = execute(catalog, checked.executable, self.settings)
        timings.update(result.timings)
        timings["total_ms"] = _ms(started)
        return checked.sql, result, timings
