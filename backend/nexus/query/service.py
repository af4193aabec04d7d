"""Questions and SQL against a user's datasets: plan, compile, validate, execute, answer.

Both routes end in the same place: SQL that ``validate_sql`` accepted, run by ``execute`` on a
read-only connection with a time limit. A question goes through the rule-based parser first; its
plan compiles to SQL (shown to the user) and its answer is written from the result by a template.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.orm import Session

from nexus.config import QuerySettings
from nexus.datasets.ingest.names import quote
from nexus.datasets.storage import DatasetStore
from nexus.errors import UnprocessableContent
from nexus.query.answer import Answerer, unresolved_answer
from nexus.query.catalog import Catalog, load_catalog
from nexus.query.compiler import PlanError, compile_spec
from nexus.query.executor import QueryResult, execute
from nexus.query.parser import Parser, ParseResult
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


@dataclass
class QueryAnswer:
    """What POST /query answers."""

    answer: str
    status: str
    confidence: float
    unresolved: list[str]
    notes: list[str]
    plan: dict[str, Any] | None = None
    sql: str | None = None
    result: QueryResult | None = None
    pattern: str = "unknown"
    timings: dict[str, float] = field(default_factory=dict)


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

    def ask(self, user: User, dataset_ids: Sequence[uuid.UUID], question: str) -> QueryAnswer:
        """Answer a question with the rule-based parser, or say which words it could not place."""
        if len(question) > self.settings.max_question_chars:
            raise UnprocessableContent(
                f"The question is over {self.settings.max_question_chars:,} characters "
                "(NEXUS_MAX_QUESTION_CHARS)."
            )
        started = time.perf_counter()
        catalog = self.catalog(user, dataset_ids)
        timings = {"catalog_ms": _ms(started)}
        step = time.perf_counter()
        values = column_values(catalog, self.store)
        timings["values_ms"] = _ms(step)
        step = time.perf_counter()
        parsed: ParseResult = Parser(catalog, values).parse(question)
        timings["parse_ms"] = _ms(step)
        if parsed.spec is None:
            timings["total_ms"] = _ms(started)
            log.info("question_unresolved", pattern=parsed.pattern, unresolved=len(parsed.unresolved))
            return QueryAnswer(
                answer=unresolved_answer(parsed.unresolved, catalog, parsed.missing),
                status="unresolved",
                confidence=parsed.confidence,
                unresolved=parsed.unresolved,
                notes=parsed.notes,
                pattern=parsed.pattern,
                timings=timings,
            )
        step = time.perf_counter()
        try:
            shown = compile_spec(parsed.spec, catalog).sql(dialect="duckdb", pretty=True)
        except PlanError as error:
            # The parser made a plan the catalog cannot run: say so rather than guess.
            timings["total_ms"] = _ms(started)
            return QueryAnswer(
                answer=unresolved_answer(parsed.unresolved, catalog, error.detail),
                status="unresolved",
                confidence=min(parsed.confidence, 0.3),
                unresolved=parsed.unresolved,
                notes=parsed.notes,
                plan=parsed.spec.describe(),
                pattern=parsed.pattern,
                timings=timings,
            )
        checked = validate_sql(shown, catalog, max_chars=1_000_000)
        timings["compile_ms"] = _ms(step)
        result = execute(catalog, checked.executable, self.settings)
        timings.update(result.timings)
        names = [column["name"] for column in result.columns]
        answer = Answerer(parsed.spec, catalog).write(names, result.rows, result.row_count)
        if parsed.notes:
            answer += " " + " ".join(parsed.notes)
        if parsed.unresolved:
            unused = ", ".join(f"'{word}'" for word in parsed.unresolved)
            answer += f" I did not use these words of the question: {unused}."
        if result.truncated:
            answer += (
                f" The result has {result.row_count:,} rows; the first {len(result.rows):,} are returned."
            )
        timings["total_ms"] = _ms(started)
        return QueryAnswer(
            answer=answer,
            status="answered",
            confidence=parsed.confidence,
            unresolved=parsed.unresolved,
            notes=parsed.notes,
            plan=parsed.spec.describe(),
            sql=shown,
            result=result,
            pattern=parsed.pattern,
            timings=timings,
        )
