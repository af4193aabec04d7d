"""SQLite database files: every table becomes a table of text columns, with its declared foreign keys.

The file is opened strictly read-only (immutable, so no journal or WAL file is looked for or written).
Only tables are read: views and triggers are never compiled, so ones that refer to missing tables do
not matter. SQLite's typing is per value, so values are staged as text, converted by SQLite itself
(integers as written, reals with 15 significant digits) for the typing step to decide; BLOB values
are left empty (NULL) and counted in a note.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from pathlib import Path

import duckdb

from nexus.datasets.ingest.base import ForeignKey, IngestError, IngestLimits, ReadResult, StagedTable
from nexus.datasets.ingest.names import quote, unique_names

BATCH_ROWS = 50_000
_TALLY_COLUMNS = 900


def _q(identifier: str) -> str:
    """Quote an identifier for SQLite."""
    return '"' + identifier.replace('"', '""') + '"'


def _decode(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _table_names(db: sqlite3.Connection) -> tuple[list[str], list[str]]:
    """Return the ordinary tables in creation order, and notes about the virtual ones that are skipped."""
    query = "SELECT name, sql FROM main.sqlite_master WHERE type = 'table' ORDER BY rowid"
    master = [(str(name), str(sql or "")) for name, sql in db.execute(query)]
    try:  # tells shadow tables (a full-text index's storage) apart; SQLite 3.37 and later
        kinds = {str(row[1]): str(row[2]) for row in db.execute("PRAGMA main.table_list")}
    except sqlite3.OperationalError:
        kinds = {}
    rows = [
        (name, kinds.get(name) or ("virtual" if sql.upper().startswith("CREATE VIRTUAL") else "table"))
        for name, sql in master
    ]
    tables = [name for name, kind in rows if kind == "table" and not name.lower().startswith("sqlite_")]
    notes = [
        f"Virtual table '{name}' (such as a full-text index) was skipped."
        for name, kind in rows
        if kind == "virtual"
    ]
    return tables, notes


def _tally(
    db: sqlite3.Connection, table: str, columns: list[str], limit: int
) -> tuple[int, list[int], list[int]]:
    """Count the rows, and per column the BLOB values and the texts longer than ``limit``."""
    total, blobs, cut = 0, [], []
    for start in range(0, len(columns), _TALLY_COLUMNS):  # SQLite returns at most 2,000 result columns
        chunk = columns[start : start + _TALLY_COLUMNS]
        counts = ", ".join(
            f"total(typeof({_q(c)}) = 'blob'), total(typeof({_q(c)}) = 'text' AND length({_q(c)}) > {limit})"
            for c in chunk
        )
        row = db.execute(f"SELECT count(*), {counts} FROM main.{_q(table)}").fetchone() or (0,) * (
            1 + 2 * len(chunk)
        )
        total = int(row[0])
        blobs += [int(value) for value in row[1::2]]
        cut += [int(value) for value in row[2::2]]
    return total, blobs, cut


def _stage_table(
    db: sqlite3.Connection,
    table: str,
    columns: list[str],
    staged: list[str],
    staging: str,
    con: duckdb.DuckDBPyConnection,
    limits: IngestLimits,
) -> list[str]:
    """Copy one table into ``staging`` as text in batches; return notes about what was changed."""
    limit = limits.max_cell_chars
    total, blobs, cut = _tally(db, table, columns, limit)
    select = ", ".join(
        f"CASE WHEN typeof({_q(c)}) = 'blob' THEN NULL ELSE substr(CAST({_q(c)} AS TEXT), 1, {limit}) END"
        for c in columns
    )
    con.execute(f"CREATE TABLE {quote(staging)} ({', '.join(f'{quote(name)} VARCHAR' for name in staged)})")
    cursor = db.execute(f"SELECT {select} FROM main.{_q(table)}")
    with con.appender(staging) as appender:
        while batch := cursor.fetchmany(BATCH_ROWS):
            appender.append_rows(batch)
    notes = [] if total else [f"Table '{table}' has no rows."]
    for column, blob_count, cut_count in zip(columns, blobs, cut, strict=True):
        if blob_count:
            notes.append(
                f"Table '{table}', column '{column}': {blob_count:,} binary (BLOB) value(s) were left empty."
            )
        if cut_count:
            notes.append(
                f"Table '{table}', column '{column}': "
                f"{cut_count:,} value(s) were cut to {limit:,} characters."
            )
    return notes


def _foreign_keys(
    db: sqlite3.Connection, table: str, staged: dict[str, dict[str, str]], names: dict[str, str]
) -> tuple[list[ForeignKey], list[str]]:
    """Return a table's declared foreign keys in staged column names, and notes about ones dropped."""
    groups: dict[int, list[tuple[str, str, str | None]]] = defaultdict(list)
    for row in db.execute(f"PRAGMA main.foreign_key_list({_q(table)})"):
        groups[int(row[0])].append((str(row[2]), str(row[3]), None if row[4] is None else str(row[4])))
    keys: list[ForeignKey] = []
    notes: list[str] = []
    for _, parts in sorted(groups.items(), reverse=True):  # SQLite numbers the last declared key 0
        parent = parts[0][0]
        target = staged.get(parent.lower())
        if target is None:
            notes.append(
                f"Table '{table}' refers to table '{parent}', which is not in the file; the link was dropped."
            )
            continue
        targets = [to for _, _, to in parts]
        if None in targets:  # REFERENCES parent without columns: the parent's primary key
            info = db.execute(f"PRAGMA main.table_info({_q(parent)})").fetchall()
            targets = [str(row[1]) for row in sorted(info, key=lambda row: int(row[5])) if int(row[5]) > 0]
        own = staged[table.lower()]
        columns = [own.get(origin.lower()) for _, origin, _ in parts]
        references = [target.get((to or "").lower()) for to in targets]
        if len(references) != len(columns) or None in columns or None in references:
            notes.append(
                f"Table '{table}' has a link to '{parent}' whose columns were not found; it was dropped."
            )
            continue
        keys.append(
            ForeignKey([c for c in columns if c], names[parent.lower()], [r for r in references if r])
        )
    return keys, notes


def read(source: Path, con: duckdb.DuckDBPyConnection, limits: IngestLimits) -> ReadResult:
    """Stage every table of a SQLite database as a table of VARCHAR columns, with its foreign keys."""
    uri = f"{source.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        db = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as error:
        raise IngestError(f"The SQLite database could not be opened: {error}.") from error
    db.text_factory = _decode
    try:
        return _read(db, con, limits)
    except sqlite3.Error as error:
        raise IngestError(f"The file is not a readable SQLite database: {error}.") from error
    finally:
        db.close()


def _read(db: sqlite3.Connection, con: duckdb.DuckDBPyConnection, limits: IngestLimits) -> ReadResult:
    tables, notes = _table_names(db)
    if not tables:
        raise IngestError("The SQLite database has no tables.")
    if len(tables) > limits.max_tables:
        raise IngestError(
            f"The SQLite database has {len(tables):,} tables; the limit is {limits.max_tables:,}."
        )
    columns = {
        table: [str(row[1]) for row in db.execute(f"PRAGMA main.table_info({_q(table)})")] for table in tables
    }
    for table, names in columns.items():
        if len(names) > limits.max_columns:
            raise IngestError(
                f"Table '{table}' has {len(names):,} columns; the limit is {limits.max_columns:,}."
            )
    user_names = dict(
        zip((table.lower() for table in tables), unique_names(tables, prefix="table"), strict=True)
    )
    staged = {table.lower(): unique_names(columns[table]) for table in tables}
    lookup = {
        table.lower(): {c.lower(): s for c, s in zip(columns[table], staged[table.lower()], strict=True)}
        for table in tables
    }
    result = ReadResult(format="sqlite", tables=[], notes=notes)
    for number, table in enumerate(tables, start=1):
        staging = f"__nexus_stage_{number}"
        names = staged[table.lower()]
        table_notes = _stage_table(db, table, columns[table], names, staging, con, limits)
        keys, key_notes = _foreign_keys(db, table, lookup, user_names)
        labels = dict(zip(names, columns[table], strict=True))
        result.tables.append(
            StagedTable(
                name=user_names[table.lower()],
                staging=staging,
                labels=labels,
                notes=table_notes + key_notes,
                foreign_keys=keys,
                extra={"source_table": table},
            )
        )
    return result
