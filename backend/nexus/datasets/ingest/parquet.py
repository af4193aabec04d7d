"""Parquet files: typed already, so columns keep their types; nested values become JSON text."""

from __future__ import annotations

from pathlib import Path

import duckdb

from nexus.datasets.ingest.base import IngestError, IngestLimits, ReadResult, StagedTable
from nexus.datasets.ingest.names import quote, unique_names

_NESTED = {"struct", "list", "map", "array", "union", "variant"}


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reason(error: duckdb.Error, source: Path) -> str:
    """Return DuckDB's message for the user: its first line, without the server's path."""
    return str(error).split("\n")[0].replace(str(source), "the file")[:300]


def _original_names(con: duckdb.DuckDBPyConnection, path: str) -> list[str]:
    """Return the top-level column names as stored (DuckDB renames duplicates, as "a" and "A" to "A_1")."""
    rows = con.execute(f"SELECT name, num_children FROM parquet_schema({path})").fetchall()
    names: list[str] = []
    index = 1
    while index < len(rows):
        names.append(str(rows[index][0]))
        pending = 1  # skip this element's subtree (the schema lists nested elements depth first)
        while pending:
            pending += int(rows[index][1] or 0) - 1
            index += 1
    return names


def read(source: Path, con: duckdb.DuckDBPyConnection, limits: IngestLimits) -> ReadResult:
    """Stage a Parquet file as one table named "data", keeping its column types."""
    path = _literal(str(source))
    scan = f"read_parquet({path})"
    try:
        relation = con.sql(f"SELECT * FROM {scan}")
        columns, types = relation.columns, relation.types
        originals = _original_names(con, path)
    except duckdb.Error as error:
        raise IngestError(f"The Parquet file could not be read: {_reason(error, source)}") from error
    if not columns:
        raise IngestError("The Parquet file has no columns.")
    if len(columns) > limits.max_columns:
        raise IngestError(
            f"The Parquet file has {len(columns):,} columns; the limit is {limits.max_columns:,}."
        )
    if len(originals) != len(columns):
        originals = list(columns)
    names = unique_names(originals)
    select = []
    notes = []
    for column, kind, name, original in zip(columns, types, names, originals, strict=True):
        expr = quote(column)
        if kind.id in _NESTED:
            expr = f"CAST(to_json({expr}) AS VARCHAR)"
            notes.append(f"Column '{original}' holds nested values; they were kept as JSON text.")
        select.append(f"{expr} AS {quote(name)}")
    staging = "__nexus_stage_1"
    try:
        con.execute(f"CREATE TEMP TABLE {quote(staging)} AS SELECT {', '.join(select)} FROM {scan}")
    except duckdb.Error as error:
        raise IngestError(f"The Parquet file could not be read: {_reason(error, source)}") from error
    labels = dict(zip(names, originals, strict=True))
    table = StagedTable(name="data", staging=staging, labels=labels, notes=notes)
    return ReadResult(format="parquet", tables=[table])
