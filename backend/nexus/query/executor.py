"""Run one validated query on a fresh, sealed DuckDB connection and bring back a bounded result.

Each query runs on an in-memory connection that is the unit of isolation:

    connect        threads and memory limit from QuerySettings; no spilling to disk, no extension
                   auto-loading
    attach         each dataset version's file READ_ONLY under its alias (d1, d2...)
    seal           enable_external_access = false (no network, no new ATTACH), the local file
                   system disabled (the attached files stay open, nothing else can be opened or
                   written, not even the attached files' paths), then lock_configuration = true
    run            a watchdog interrupts the connection at query_timeout_s -> QueryTimeout (504)
    fetch          Arrow batches: the first max_result_rows rows are kept, the rest only counted,
                   so the true row count comes back without holding a large result in memory

Sealed connections are kept for reuse (``_POOL``), keyed by the exact files they attach and the
limits they were made with: opening and sealing one costs 15-25 ms, more than most queries. A
connection is only ever reused for the same files (so for the same owner); validated SQL cannot
change its state (no DDL, no SET, the configuration is locked); and one that failed or was
interrupted is closed rather than returned. Deleting a dataset closes the idle connections that
hold its files (``forget``).

The SQL must come from ``validate_sql``: the sealing is the second wall, not the only one.
DuckDB's errors become 422 ``SQLRejected`` (rule ``execution-error``) with the first line of the
message, storage names translated back to the caller's table names and file paths removed.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb

from nexus.config import QuerySettings
from nexus.datasets.ingest.profile import json_safe
from nexus.datasets.storage import removal_hooks
from nexus.errors import QueryTimeout
from nexus.query.catalog import Catalog
from nexus.query.validate import SQLRejected

# DuckDB's row-group size: large enough that counting a long result costs few round-trips.
_BATCH_ROWS = 122_880
# Types Arrow carries as opaque bytes or needs pandas for; DuckDB renders them as text instead.
_TEXT_TYPES = re.compile(r"\b(BIT|BIGNUM|VARINT|TIMESTAMP_NS|GEOMETRY|VARIANT)\b")
# Types whose Arrow values are JSON values already: no per-value work on the common columns.
_PLAIN_TYPES = frozenset(
    {"BOOLEAN", "TINYINT", "SMALLINT", "INTEGER", "BIGINT", "UTINYINT", "USMALLINT", "UINTEGER"}
    | {"UBIGINT", "VARCHAR", "UUID", "JSON"}
)
# 128-bit integers travel as Arrow decimals; they are integers to the caller.
_INTEGER_TYPES = frozenset({"HUGEINT", "UHUGEINT"})


@dataclass
class QueryResult:
    """What a query returned: at most max_result_rows rows, and how many there were in all."""

    columns: list[dict[str, str]]
    """Name and DuckDB type of each column, in order."""
    rows: list[list[Any]]
    """The rows kept, as JSON-safe values."""
    row_count: int
    """How many rows the query produced, kept or not."""
    truncated: bool
    """Whether rows were left out because of max_result_rows."""
    timings: dict[str, float] = field(default_factory=dict)
    """Milliseconds spent connecting (connect_ms), running (execute_ms) and fetching (fetch_ms)."""


class _Watchdog:
    """Interrupt a connection once its time is up, and keep interrupting until the query stops.

    One ``interrupt()`` can land between two steps of the client (binding, then executing) and be
    lost; repeating it every 50 ms until the caller is done makes the limit hold regardless.
    """

    def __init__(self, connection: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self._connection = connection
        self._seconds = seconds
        self._done = threading.Event()
        self.fired = False
        self._thread = threading.Thread(target=self._watch, name="query-watchdog", daemon=True)

    def _watch(self) -> None:
        if self._done.wait(self._seconds):
            return
        self.fired = True
        while True:
            self._connection.interrupt()
            if self._done.wait(0.05):
                return

    def __enter__(self) -> _Watchdog:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._done.set()
        self._thread.join()


class _Pool:
    """Idle sealed connections by (files, limits); at most ``size`` kept in all, oldest closed first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._idle: OrderedDict[tuple[Any, ...], list[duckdb.DuckDBPyConnection]] = OrderedDict()

    def take(self, key: tuple[Any, ...]) -> duckdb.DuckDBPyConnection | None:
        with self._lock:
            idle = self._idle.get(key)
            if not idle:
                return None
            connection = idle.pop()
            if not idle:
                del self._idle[key]
            return connection

    def give(self, key: tuple[Any, ...], connection: duckdb.DuckDBPyConnection) -> None:
        evicted: list[duckdb.DuckDBPyConnection] = []
        with self._lock:
            self._idle.setdefault(key, []).append(connection)
            self._idle.move_to_end(key)
            while sum(len(v) for v in self._idle.values()) > self.size:
                oldest = next(iter(self._idle))
                evicted.append(self._idle[oldest].pop(0))
                if not self._idle[oldest]:
                    del self._idle[oldest]
        for old in evicted:
            old.close()

    def forget(self, paths: set[str]) -> None:
        """Close idle connections that attach any of these files."""
        closing: list[duckdb.DuckDBPyConnection] = []
        with self._lock:
            for key in [k for k in self._idle if paths & {path for _, path in k[0]}]:
                closing.extend(self._idle.pop(key))
        for connection in closing:
            connection.close()

    def clear(self) -> None:
        """Close every idle connection."""
        with self._lock:
            closing = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for connection in closing:
            connection.close()


_POOL = _Pool(size=16)


def forget(paths: Iterable[Path]) -> None:
    """Close pooled connections that hold these dataset files open (call when they are deleted)."""
    _POOL.forget({str(path) for path in paths})


removal_hooks.append(forget)


def _key(catalog: Catalog, settings: QuerySettings) -> tuple[Any, ...]:
    files = tuple((alias, str(path)) for alias, path in catalog.attachments)
    return (files, settings.query_threads, settings.query_memory_mb)


def execute(catalog: Catalog, executable_sql: str, settings: QuerySettings) -> QueryResult:
    """Run validated SQL on the catalog's files within the configured limits."""
    started = time.perf_counter()
    key = _key(catalog, settings)
    connection = _POOL.take(key) or _connect(catalog, settings)
    healthy = False
    try:
        connected = time.perf_counter()
        with _Watchdog(connection, settings.query_timeout_s) as watchdog:
            try:
                relation = connection.sql(executable_sql)
                if relation is None:  # only statements answer nothing, and validate_sql passes none
                    raise SQLRejected("The SQL produced no result.", rule="execution-error")
                columns = [
                    {"name": name, "type": str(kind)}
                    for name, kind in zip(relation.columns, relation.types, strict=True)
                ]
                reader = _as_arrow(relation, columns).to_arrow_reader(_BATCH_ROWS)
                first = _next(reader)
                executed = time.perf_counter()
                rows, row_count = _fetch(first, reader, columns, settings.max_result_rows)
            except (duckdb.Error, OSError) as error:  # Arrow streams report as OSError
                if watchdog.fired:
                    raise _timeout(settings) from None
                raise _rejected(error, catalog, settings) from None
        fetched = time.perf_counter()
        healthy = not watchdog.fired
    finally:
        if healthy:
            _POOL.give(key, connection)
        else:
            connection.close()
    return QueryResult(
        columns=columns,
        rows=rows,
        row_count=row_count,
        truncated=row_count > len(rows),
        timings={
            "connect_ms": _ms(connected - started),
            "execute_ms": _ms(executed - connected),
            "fetch_ms": _ms(fetched - executed),
        },
    )


def _connect(catalog: Catalog, settings: QuerySettings) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(
        ":memory:",
        config={
            "threads": settings.query_threads,
            "memory_limit": f"{settings.query_memory_mb}MB",
            # Spilling would write into the working directory; a query that does not fit is refused.
            "temp_directory": "",
            "autoload_known_extensions": False,
            "autoinstall_known_extensions": False,
        },
    )
    try:
        statements = [
            f"ATTACH {_literal(str(path))} AS {_identifier(alias)} (READ_ONLY)"
            for alias, path in catalog.attachments
        ]
        statements += [
            "SET enable_external_access = false",
            # ATTACH puts each file (and its .wal) on DuckDB's allowed list, which survives the line
            # above: without this, COPY ... TO could still overwrite a dataset file.
            "SET disabled_filesystems = 'LocalFileSystem'",
            "SET lock_configuration = true",
        ]
        connection.execute("; ".join(statements))
    except BaseException:
        connection.close()
        raise
    return connection


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _as_arrow(relation: duckdb.DuckDBPyRelation, columns: list[dict[str, str]]) -> duckdb.DuckDBPyRelation:
    """Return the relation with columns Arrow cannot carry faithfully cast to text (rare)."""
    if not any(_TEXT_TYPES.search(column["type"]) for column in columns):
        return relation
    projection = ", ".join(
        f"CAST(#{position} AS VARCHAR)" if _TEXT_TYPES.search(column["type"]) else f"#{position}"
        for position, column in enumerate(columns, start=1)
    )
    return relation.project(projection)


def _fetch(first: Any, reader: Any, columns: list[dict[str, str]], limit: int) -> tuple[list[list[Any]], int]:
    """Keep the first ``limit`` rows as JSON values, count the rest without keeping them."""
    rows: list[list[Any]] = []
    count = 0
    batch = first
    while batch is not None:
        count += batch.num_rows
        room = limit - len(rows)
        if room > 0:
            rows.extend(_rows(batch.slice(0, room), columns))
        batch = _next(reader)
    return rows, count


def _next(reader: Any) -> Any:
    """Return the reader's next Arrow batch, or None at the end."""
    try:
        return reader.read_next_batch()
    except StopIteration:
        return None


def _rows(batch: Any, columns: list[dict[str, str]]) -> list[list[Any]]:
    values = [
        _column_values(array, column["type"]) for array, column in zip(batch.columns, columns, strict=True)
    ]
    return [list(row) for row in zip(*values, strict=True)]


def _column_values(array: Any, duckdb_type: str) -> list[Any]:
    values: list[Any] = array.to_pylist()
    if duckdb_type in _PLAIN_TYPES:
        return values
    if duckdb_type in _INTEGER_TYPES:
        return [None if value is None else int(value) for value in values]
    return [_json_value(value) for value in values]


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _json_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_value(item) for item in value]
    if type(value).__name__ == "MonthDayNano":  # an INTERVAL (a tuple too: test it first)
        # As DuckDB's own Python conversion does: a month counts 30 days; seconds like timedelta.
        return (value.months * 30 + value.days) * 86_400 + value.nanoseconds / 1e9
    if isinstance(value, tuple):  # a MAP entry (key, value)
        return [_json_value(item) for item in value]
    return json_safe(value)


def _timeout(settings: QuerySettings) -> QueryTimeout:
    return QueryTimeout(
        f"The query ran longer than {settings.query_timeout_s:g} s and was stopped. "
        "Narrow it down (filters, fewer joins, an aggregate) or raise NEXUS_QUERY_TIMEOUT_S.",
        limit_s=settings.query_timeout_s,
    )


def _rejected(error: Exception, catalog: Catalog, settings: QuerySettings) -> SQLRejected:
    message = _public_message(str(error), catalog)
    if isinstance(error, duckdb.OutOfMemoryException) or message.startswith("Out of Memory"):
        return SQLRejected(
            f"The query needed more than the {settings.query_memory_mb} MB of memory it may use "
            f"({message}). Aggregate or filter earlier, or raise NEXUS_QUERY_MEMORY_MB.",
            rule="execution-error",
            limit_mb=settings.query_memory_mb,
        )
    return SQLRejected(message, rule="execution-error")


def _public_message(message: str, catalog: Catalog) -> str:
    """Return the first line of a DuckDB message, in the caller's names, without file paths."""
    line = message.strip().splitlines()[0] if message.strip() else "The query failed."
    for table in catalog.tables:
        storage_names = (
            f'"{table.alias}"."main"."{table.table}"',
            f"{table.alias}.main.{table.table}",
            f"{table.alias}.{table.table}",
        )
        for storage in storage_names:
            line = line.replace(storage, table.name)
    for _, path in catalog.attachments:
        for place in (path, *list(path.parents)[:3]):
            if len(place.parts) > 1:  # never the bare root
                line = line.replace(str(place), "<data>")
    return line


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)
