"""Delimited text (CSV, TSV, semicolons, pipes) into a VARCHAR staging table.

Encoding first (non-UTF-8 is transcoded in chunks), then the dialect: DuckDB's sniffer gives the
delimiter, our own look at the first lines finds the preamble and the header row. DuckDB then reads
every field as text; typing happens afterwards. Ragged rows are kept: short ones padded with NULLs,
long ones cut, and both counted.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from nexus.datasets.ingest.base import IngestError, IngestLimits, RaggedRows, ReadResult, StagedTable
from nexus.datasets.ingest.names import quote, unique_names
from nexus.datasets.ingest.text import (
    SAMPLE_BYTES,
    Dialect,
    detect_dialect,
    detect_encoding,
    parse_rows,
    sample_lines,
    transcode_to_utf8,
)

STAGING = "__nexus_stage_1"
EXTRA = "__nexus_extra"
# Fields read as this "null string" never occur, so empty fields stay '' and only padding is NULL.
_NEVER = "\x01\x02"


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _sniffed_delimiter(con: duckdb.DuckDBPyConnection, path: Path) -> str | None:
    try:
        row = con.execute(
            f"SELECT Delimiter FROM sniff_csv({_literal(str(path))}, sample_size = 20480)"
        ).fetchone()
    except duckdb.Error:
        return None
    return str(row[0]) if row and row[0] else None


def _width(dialect: Dialect, path: Path) -> int:
    if dialect.has_header:
        return len(dialect.header)
    rows = parse_rows(sample_lines(path)[dialect.skip_lines :], dialect.delimiter)
    return max((len(row) for row in rows), default=0)


def _clean_error(error: duckdb.Error, path: Path) -> str:
    message = str(error).split("\n")[0].replace(str(path), "the file")
    return message.removeprefix("Invalid Input Error: ").removeprefix("Conversion Error: ")[:300]


def read(source: Path, con: duckdb.DuckDBPyConnection, limits: IngestLimits) -> ReadResult:
    """Stage a delimited text file as one VARCHAR table."""
    with source.open("rb") as handle:
        encoding = detect_encoding(handle.read(SAMPLE_BYTES))
    path = source
    notes: list[str] = []
    if not encoding.is_plain_utf8:
        path = source.with_name(source.name + ".utf8")
        transcode_to_utf8(source, path, encoding)
        notes.append(f"Read as {encoding.name.upper()}{' with a byte-order mark' if encoding.bom else ''}.")
    try:
        return _read_utf8(path, con, limits, notes)
    finally:
        if path != source:
            path.unlink(missing_ok=True)


def _read_utf8(
    path: Path, con: duckdb.DuckDBPyConnection, limits: IngestLimits, notes: list[str]
) -> ReadResult:
    dialect = detect_dialect(path, _sniffed_delimiter(con, path))
    width = _width(dialect, path)
    if width > limits.max_columns:
        raise IngestError(
            f"The file has {width} columns; the limit is {limits.max_columns} (NEXUS_MAX_COLUMNS)."
        )
    headers = dialect.header + [""] * (width - len(dialect.header)) if dialect.has_header else [""] * width
    names = unique_names(headers)
    if dialect.skip_lines:
        notes.append(f"Skipped {dialect.skip_lines} line(s) above the header row.")
    columns = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in [*names, EXTRA])
    sql = (
        # TEMP: the staging copy lives in memory (spilling to disk if needed), never in the version file.
        f"CREATE TEMP TABLE {quote(STAGING)} AS SELECT * FROM read_csv({_literal(str(path))}, "
        f"auto_detect = false, header = {str(dialect.has_header).lower()}, skip = {dialect.skip_lines}, "
        f"delim = {_literal(dialect.delimiter)}, quote = {_literal(dialect.quote)}, "
        f"escape = {_literal(dialect.quote)}, "
        f"columns = {{{columns}}}, null_padding = true, strict_mode = false, nullstr = {_literal(_NEVER)}, "
        f"max_line_size = {max(2_097_152, limits.max_cell_chars * 2)}, buffer_size = 8000000)"
    )
    try:
        try:
            con.execute(sql)
        except duckdb.Error as error:
            # DuckDB's parallel reader cannot pad short rows when quoted fields hold newlines;
            # the single-threaded reader can (slower, so only when needed).
            if "parallel=false" not in str(error).replace(" ", ""):
                raise
            con.execute(f"DROP TABLE IF EXISTS {quote(STAGING)}")
            con.execute(sql[:-1] + ", parallel = false)")
    except duckdb.Error as error:
        raise IngestError(f"The CSV could not be read: {_clean_error(error, path)}") from error
    counts = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE {quote(names[-1])} IS NULL), "
        f"count(*) FILTER (WHERE {quote(EXTRA)} IS NOT NULL) FROM {quote(STAGING)}"
    ).fetchone()
    assert counts is not None
    rows, short, long = (int(value) for value in counts)
    if rows == 0:
        raise IngestError(
            "The file has a header but no rows." if dialect.has_header else "The file has no rows."
        )
    ragged = RaggedRows(short=short, long=long)
    if short or long:
        notes.append(
            f"{short + long} ragged row(s) kept: {short} with missing fields (filled with empty values), "
            f"{long} with extra fields (the extra fields were dropped)."
        )
    if not dialect.has_header:
        notes.append("No header row found: columns are named column_1, column_2, ...")
    labels = dict(zip(names, headers, strict=True))
    table = StagedTable(name="data", staging=STAGING, labels=labels, ragged=ragged)
    return ReadResult(format="csv", tables=[table], notes=notes)
