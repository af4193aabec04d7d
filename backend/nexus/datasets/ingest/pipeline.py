"""One ingestion: an uploaded file becomes a DuckDB database file of typed, profiled tables."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from nexus.datasets.ingest.base import (
    IngestError,
    IngestLimits,
    ProgressCallback,
    RaggedRows,
    ReadResult,
    StagedTable,
)
from nexus.datasets.ingest.csv import is_serial_only
from nexus.datasets.ingest.detect import FileFormat, detect_format
from nexus.datasets.ingest.names import quote
from nexus.datasets.ingest.profile import profile_table
from nexus.datasets.ingest.typing import (
    ColumnType,
    infer_column,
    present_condition,
    present_count_sql,
    swap_day_month,
    typed_select_sql,
    typed_value_sql,
)

_READERS = {
    FileFormat.CSV: "nexus.datasets.ingest.csv",
    FileFormat.XLSX: "nexus.datasets.ingest.excel",
    FileFormat.JSON: "nexus.datasets.ingest.jsonfile",
    FileFormat.JSONL: "nexus.datasets.ingest.jsonfile",
    FileFormat.PARQUET: "nexus.datasets.ingest.parquet",
    FileFormat.SQLITE: "nexus.datasets.ingest.sqlite",
}
_SAMPLE_CELLS = 2_000_000
_HIDDEN = "__nexus_"


@dataclass(frozen=True)
class IngestOptions:
    """Resources and limits of one ingestion."""

    limits: IngestLimits = field(default_factory=IngestLimits)
    memory_limit_mb: int = 512
    threads: int = 2
    ambiguous_date_order: str = "dmy"


@dataclass
class TableResult:
    """One stored table and its profile."""

    name: str
    row_count: int
    columns: list[dict[str, Any]]
    notes: list[str]
    ragged: dict[str, int] | None = None
    foreign_keys: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class IngestResult:
    """What an ingestion stored."""

    format: str
    tables: list[TableResult]
    notes: list[str]


def _noop(_fraction: float, _phase: str) -> None:
    return None


@contextmanager
def _watch(
    con: duckdb.DuckDBPyConnection, progress: ProgressCallback, start: float, span: float
) -> Iterator[None]:
    """Report DuckDB's progress on the running statement, scaled into [start, start + span]."""
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.5):
            try:
                percent = float(con.query_progress())
            except (duckdb.Error, RuntimeError, TypeError, ValueError):
                continue
            if percent >= 0:
                progress(start + span * min(percent, 100.0) / 100.0, "reading")

    watcher = threading.Thread(target=poll, name="nexus-ingest-progress", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()
        watcher.join(timeout=2)


def _unique_table_names(tables: list[StagedTable]) -> list[str]:
    taken: set[str] = set()
    names = []
    for table in tables:
        name, counter = table.name, 2
        while name in taken:
            name = f"{table.name}_{counter}"
            counter += 1
        taken.add(name)
        names.append(name)
    return names


def _infer_types(
    columns: list[tuple[str, str]], samples: dict[str, list[str | None]], options: IngestOptions
) -> list[ColumnType]:
    types = []
    for name, kind in columns:
        if kind != "VARCHAR":
            types.append(ColumnType(name, "kept", quote(name)))
            continue
        types.append(
            infer_column(
                name,
                samples[name],
                tolerance=options.limits.junk_tolerance,
                ambiguous_order=options.ambiguous_date_order,
            )
        )
    return types


def _plan_types(
    con: duckdb.DuckDBPyConnection, staged: StagedTable, options: IngestOptions
) -> list[ColumnType]:
    described = con.execute(f"DESCRIBE {quote(staged.staging)}").fetchall()
    columns = [(str(row[0]), str(row[1])) for row in described if str(row[0]) in staged.labels]
    varchar = [name for name, kind in columns if kind == "VARCHAR"]
    samples: dict[str, list[str | None]] = {name: [] for name in varchar}
    if varchar:
        sample_rows = max(500, min(10_000, _SAMPLE_CELLS // len(varchar)))
        selected = ", ".join(quote(name) for name in varchar)
        rows = con.execute(
            f"SELECT {selected} FROM {quote(staged.staging)} "
            f"USING SAMPLE reservoir({sample_rows} ROWS) REPEATABLE (7)"
        ).fetchall()
        for row in rows:
            for name, value in zip(varchar, row, strict=True):
                samples[name].append(value)
    return _infer_types(columns, samples, options)


def _count_dropped(
    con: duckdb.DuckDBPyConnection,
    staged: StagedTable,
    final_name: str,
    types: list[ColumnType],
    tolerance: float,
) -> bool:
    """Set each converted column's dropped count (cells with a value that became NULL).

    Returns False when some column would drop more than the tolerance: it is then marked text and
    the caller rebuilds the table. Counting after the conversion costs two cheap aggregate queries
    instead of evaluating every conversion twice.
    """
    converting = [t for t in types if t.converts]
    if not converting:
        return True
    counts = ", ".join(f"count({quote(t.name)})" for t in converting)
    raw = con.execute(f"SELECT {counts} FROM {quote(staged.staging)}").fetchone() or ()
    kept = con.execute(f"SELECT {counts} FROM {quote(final_name)}").fetchone() or ()
    # Only where the typed column lost cells must null tokens ('', 'NA') be told from junk.
    differing = [t for t, before, after in zip(converting, raw, kept, strict=True) if before != after]
    present_by_name = {t.name: int(before) for t, before in zip(converting, raw, strict=True)}
    query = present_count_sql(staged.staging, differing)
    if query is not None:
        exact = con.execute(query).fetchone() or ()
        present_by_name.update({t.name: int(n) for t, n in zip(differing, exact, strict=True)})
    present = [present_by_name[t.name] for t in converting]
    return _settle(list(enumerate(converting)), present, [int(n) for n in kept], tolerance)


def _finish_table(
    con: duckdb.DuckDBPyConnection,
    staged: StagedTable,
    final_name: str,
    options: IngestOptions,
    file_notes: list[str],
) -> TableResult:
    if staged.extra.get("scan"):
        types, scan_notes = _finish_scanned_table(con, staged, final_name, options)
        file_notes.extend(scan_notes)
        notes: list[str] = []
    else:
        types, notes = _plan_types(con, staged, options), []
        con.execute(f"CREATE TABLE {quote(final_name)} AS {typed_select_sql(staged.staging, types)}")
        if not _count_dropped(con, staged, final_name, types, options.limits.junk_tolerance):
            # Rare: the sample promised a type the whole column does not keep. Rebuild with it as text.
            con.execute(f"DROP TABLE {quote(final_name)}")
            con.execute(f"CREATE TABLE {quote(final_name)} AS {typed_select_sql(staged.staging, types)}")
        con.execute(f"DROP TABLE {quote(staged.staging)}")
    rows, columns = profile_table(con, final_name, staged.labels, {t.name: t for t in types})
    notes = list(staged.notes) + notes
    dropped = {c["name"]: c["dropped"] for c in columns if c["dropped"]}
    for name, count in dropped.items():
        notes.append(f"Column {name!r}: {count} value(s) did not fit its type and were left empty.")
    return TableResult(
        name=final_name,
        row_count=rows,
        columns=columns,
        notes=notes,
        ragged={"short": staged.ragged.short, "long": staged.ragged.long} if staged.ragged else None,
        foreign_keys=[
            {
                "columns": fk.columns,
                "references_table": fk.references_table,
                "references_columns": fk.references_columns,
            }
            for fk in staged.foreign_keys
        ],
    )


def _scanned_select(scan: str, types: list[ColumnType], ragged_columns: tuple[str, str]) -> str:
    """Return the typed SELECT over a file scan, with hidden flags that count what the scan saw.

    Per converted column one flag marks a cell that held a value but did not convert; the flags are
    almost all false, so they cost little to compute (the test on the raw value runs only where the
    typed value is NULL) and to store, and they are dropped after counting.
    """
    last, extra = ragged_columns
    columns = [f"{typed_value_sql(t)} AS {quote(t.name)}" for t in types]
    columns += [
        f"{quote(last)} IS NULL AS {quote(_HIDDEN + 'short')}",
        f"{quote(extra)} IS NOT NULL AS {quote(_HIDDEN + 'long')}",
    ]
    columns += [
        f"(({typed_value_sql(t)}) IS NULL AND {present_condition(quote(t.name))}) "
        f"AS {quote(_HIDDEN + 'dropped_' + str(index))}"
        for index, t in enumerate(types)
        if t.converts
    ]
    return f"SELECT {', '.join(columns)} FROM {scan}"


def _finish_scanned_table(
    con: duckdb.DuckDBPyConnection, staged: StagedTable, final_name: str, options: IngestOptions
) -> tuple[list[ColumnType], list[str]]:
    """Read a file once, straight into its typed table; count ragged rows and dropped cells on the way."""
    names = list(staged.labels)
    sample = staged.extra["sample"]
    samples = {name: [row[i] for row in sample] for i, name in enumerate(names)}
    types = _infer_types([(name, "VARCHAR") for name in names], samples, options)
    scan = staged.extra["scan"]
    short = long = 0
    for _attempt in range(3):
        scan = _create_from_scan(con, final_name, scan, staged, types)
        converting = [(index, t) for index, t in enumerate(types) if t.converts]
        parts = [f"count_if({quote(_HIDDEN + 'short')})", f"count_if({quote(_HIDDEN + 'long')})"]
        parts += [f"count_if({quote(_HIDDEN + 'dropped_' + str(i))})" for i, _ in converting]
        parts += [f"count({quote(t.name)})" for _, t in converting]
        row = con.execute(f"SELECT {', '.join(parts)} FROM {quote(final_name)}").fetchone() or ()
        counts = [int(value) for value in row]
        short, long = counts[:2]
        dropped, kept = counts[2 : 2 + len(converting)], counts[2 + len(converting) :]
        present = [d + k for d, k in zip(dropped, kept, strict=True)]
        if _settle(converting, present, kept, options.limits.junk_tolerance):
            break
    for (column,) in con.execute(f"SELECT column_name FROM (DESCRIBE {quote(final_name)})").fetchall():
        if str(column).startswith(_HIDDEN):
            con.execute(f"ALTER TABLE {quote(final_name)} DROP COLUMN {quote(str(column))}")
    staged.ragged = RaggedRows(short=short, long=long)
    notes: list[str] = []
    if short or long:
        notes.append(
            f"{short + long} ragged row(s) kept: {short} with missing fields (filled with empty values), "
            f"{long} with extra fields (the extra fields were dropped)."
        )
    return types, notes


def _create_from_scan(
    con: duckdb.DuckDBPyConnection, final_name: str, scan: str, staged: StagedTable, types: list[ColumnType]
) -> str:
    """Create the typed table from the file scan; return the scan that worked (serial if it had to be)."""
    con.execute(f"DROP TABLE IF EXISTS {quote(final_name)}")
    ragged_columns = staged.extra["ragged_columns"]
    try:
        con.execute(f"CREATE TABLE {quote(final_name)} AS {_scanned_select(scan, types, ragged_columns)}")
        return scan
    except duckdb.Error as error:
        serial = str(staged.extra["serial_scan"])
        if scan == serial or not is_serial_only(error):
            raise IngestError(f"The CSV could not be read: {str(error).splitlines()[0][:300]}") from error
    con.execute(f"DROP TABLE IF EXISTS {quote(final_name)}")
    try:
        con.execute(f"CREATE TABLE {quote(final_name)} AS {_scanned_select(serial, types, ragged_columns)}")
    except duckdb.Error as error:
        raise IngestError(f"The CSV could not be read: {str(error).splitlines()[0][:300]}") from error
    return serial


def _settle(
    converting: list[tuple[int, ColumnType]], present: list[int], kept: list[int], tolerance: float
) -> bool:
    """Record dropped cells; mark columns that drop too many as text and return False if any did."""
    settled = True
    for (_, column_type), with_value, typed in zip(converting, present, kept, strict=True):
        dropped = with_value - typed
        if with_value and dropped > tolerance * with_value and swap_day_month(column_type):
            settled = False  # the sample could not tell day from month; the data says the other way
        elif with_value and dropped > tolerance * with_value:
            column_type.kind = "text"
            column_type.expression = f"NULLIF({quote(column_type.name)}, '')"
            column_type.detail = {"reason": f"{dropped} of {with_value} values did not fit one type"}
            column_type.dropped = 0
            settled = False
        else:
            column_type.dropped = max(dropped, 0)
    return settled


def _read(fmt: FileFormat, source: Path, con: duckdb.DuckDBPyConnection, limits: IngestLimits) -> ReadResult:
    reader = importlib.import_module(_READERS[fmt])
    result: ReadResult = reader.read(source, con, limits)
    return result


def ingest_file(
    source: Path, target: Path, options: IngestOptions, progress: ProgressCallback = _noop
) -> IngestResult:
    """Ingest ``source`` into a new DuckDB file at ``target`` (which must not exist).

    Raises IngestError for files that cannot become a dataset; the caller removes ``target`` then.
    """
    fmt = detect_format(source)
    progress(0.02, "detected")
    config: dict[str, str | bool | int | float | list[str]] = {
        "threads": options.threads,
        "memory_limit": f"{options.memory_limit_mb}MB",
    }
    con = duckdb.connect(str(target), config=config)
    read: ReadResult | None = None
    try:
        con.execute(f"SET temp_directory = '{str(target.parent / (target.name + '.spill'))}'")
        with _watch(con, progress, 0.05, 0.55):
            read = _read(fmt, source, con, options.limits)
        if not read.tables:
            raise IngestError("The file has no tables with rows.")
        progress(0.6, "typing")
        results = []
        names = _unique_table_names(read.tables)
        share = 0.38 / len(read.tables)
        for index, (staged, name) in enumerate(zip(read.tables, names, strict=True)):
            with _watch(con, progress, 0.6 + share * index, share * 0.9):
                results.append(_finish_table(con, staged, name, options, read.notes))
            progress(0.6 + share * (index + 1), "profiling")
        con.execute("CHECKPOINT")
    finally:
        con.close()
        for staged in read.tables if read is not None else []:
            for path in staged.extra.get("cleanup", []):
                Path(path).unlink(missing_ok=True)
    return IngestResult(format=read.format, tables=results, notes=read.notes)
