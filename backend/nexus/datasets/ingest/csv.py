"""Delimited text (CSV, TSV, semicolons, pipes): the dialect, a type sample, and the scan to read it.

Encoding first (non-UTF-8 is transcoded in chunks), then the dialect: DuckDB's sniffer gives the
delimiter, our own look at the first lines finds the preamble and the header row. No copy is made
here: the reader returns the ``read_csv`` scan (every field as text) and a sample of rows, and the
pipeline reads the file once, straight into the typed table. Ragged rows are kept: short ones padded
with NULLs, long ones cut, and both counted there.
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
    """Describe a delimited text file as one table, scanned later straight into its typed form."""
    with source.open("rb") as handle:
        encoding = detect_encoding(handle.read(SAMPLE_BYTES))
    path = source
    notes: list[str] = []
    if not encoding.is_plain_utf8:
        path = source.with_name(source.name + ".utf8")
        transcode_to_utf8(source, path, encoding)
        notes.append(f"Read as {encoding.name.upper()}{' with a byte-order mark' if encoding.bom else ''}.")
    try:
        result = _read_utf8(path, con, limits, notes)
    except BaseException:
        if path != source:
            path.unlink(missing_ok=True)
        raise
    if path != source:
        result.tables[0].extra["cleanup"] = [path]
    return result


def _scan_sql(path: Path, dialect: Dialect, names: list[str], limits: IngestLimits, *, parallel: bool) -> str:
    columns = ", ".join(f"{_literal(name)}: 'VARCHAR'" for name in [*names, EXTRA])
    return (
        f"read_csv({_literal(str(path))}, "
        f"auto_detect = false, header = {str(dialect.has_header).lower()}, skip = {dialect.skip_lines}, "
        f"delim = {_literal(dialect.delimiter)}, quote = {_literal(dialect.quote)}, "
        f"escape = {_literal(dialect.quote)}, "
        f"columns = {{{columns}}}, null_padding = true, strict_mode = false, nullstr = {_literal(_NEVER)}, "
        f"max_line_size = {max(2_097_152, limits.max_cell_chars * 2)}, buffer_size = 8000000"
        f"{'' if parallel else ', parallel = false'})"
    )


def is_serial_only(error: duckdb.Error) -> bool:
    """Whether DuckDB refused a parallel scan that a single-threaded one can do.

    Its parallel reader cannot pad short rows when quoted fields hold newlines.
    """
    return "parallel=false" in str(error).replace(" ", "")


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
    scan = _scan_sql(path, dialect, names, limits, parallel=True)
    serial = _scan_sql(path, dialect, names, limits, parallel=False)
    try:
        try:
            sample = _sample(con, scan, names, path, dialect.delimiter)
        except duckdb.Error as error:
            if not is_serial_only(error):
                raise
            scan = serial
            sample = _sample(con, scan, names, path, dialect.delimiter)
    except duckdb.Error as error:
        raise IngestError(f"The CSV could not be read: {_clean_error(error, path)}") from error
    if not sample:
        raise IngestError(
            "The file has a header but no rows." if dialect.has_header else "The file has no rows."
        )
    if not dialect.has_header:
        notes.append("No header row found: columns are named column_1, column_2, ...")
    labels = dict(zip(names, headers, strict=True))
    # No staging copy: the pipeline reads the file once, straight into the typed table.
    table = StagedTable(
        name="data",
        staging="",
        labels=labels,
        ragged=RaggedRows(),
        extra={"scan": scan, "serial_scan": serial, "sample": sample, "ragged_columns": (names[-1], EXTRA)},
    )
    return ReadResult(format="csv", tables=[table], notes=notes)


_SAMPLE_HEAD = 3_000
_SPREAD_POINTS = (0.2, 0.4, 0.6, 0.8, 0.97)
_SPREAD_BYTES = 48 * 1024


def _sample(
    con: duckdb.DuckDBPyConnection, scan: str, names: list[str], path: Path, delimiter: str
) -> list[tuple[str | None, ...]]:
    """Return rows for type inference: the first rows, and rows from further into the file.

    A sample drawn by DuckDB would parse the whole file; the head is read by the scan (which stops
    early) and later rows are parsed from a few chunks at fixed points of the file, keeping only
    rows of the table's width (a chunk may start inside a quoted field).
    """
    selected = ", ".join(quote(name) for name in names)
    rows = con.execute(f"SELECT {selected} FROM {scan} LIMIT {_SAMPLE_HEAD}").fetchall()
    head = [tuple(row) for row in rows]
    if len(head) < _SAMPLE_HEAD:
        return head
    size = path.stat().st_size
    spread: list[tuple[str | None, ...]] = []
    with path.open("rb") as handle:
        for point in _SPREAD_POINTS:
            handle.seek(int(size * point))
            lines = handle.read(_SPREAD_BYTES).decode("utf-8", errors="replace").splitlines()[1:-1]
            spread += [tuple(row) for row in parse_rows(lines, delimiter) if len(row) == len(names)]
    return head + spread
