"""Excel workbooks (.xlsx): every worksheet with rows becomes a table of text columns.

The zip container is checked before python-calamine opens it, so a zip bomb is refused without being
expanded. Cells are staged as the text a user sees in Excel (ISO dates, whole numbers without ".0",
"true"/"false"); the typing step decides the column types afterwards.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import python_calamine

from nexus.datasets.ingest.base import IngestError, IngestLimits, ReadResult, StagedTable
from nexus.datasets.ingest.names import quote, unique_names
from nexus.datasets.ingest.text import find_header

HEADER_SAMPLE_ROWS = 50
BATCH_ROWS = 50_000
RATIO_MIN_BYTES = 1024 * 1024
"""Below this many uncompressed bytes the compression ratio is not checked (tiny parts compress well)."""
_CHUNK = 1024 * 1024

Cell = int | float | str | bool | dt.time | dt.date | dt.datetime | dt.timedelta


def check_zip(source: Path, limits: IngestLimits) -> None:
    """Refuse a damaged zip, or one that would expand beyond the limits, without extracting it.

    The declared sizes are checked first; every member is then decompressed as a stream and counted,
    so a member whose header lies about its size fails its checksum instead of filling the disk.
    """
    try:
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            declared = sum(member.file_size for member in members)
            packed = max(1, sum(member.compress_size for member in members))
            _check_expansion(declared, packed, limits)
            expanded = 0
            for member in members:
                with archive.open(member) as stream:
                    while chunk := stream.read(_CHUNK):
                        expanded += len(chunk)
                        if expanded > limits.max_uncompressed_bytes:
                            _check_expansion(expanded, packed, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, RuntimeError, ValueError) as error:
        raise IngestError("The file is not a valid .xlsx workbook: its zip container is damaged.") from error
    except NotImplementedError as error:
        raise IngestError("The workbook uses a zip compression method that is not supported.") from error


def _check_expansion(expanded: int, packed: int, limits: IngestLimits) -> None:
    if expanded > limits.max_uncompressed_bytes:
        raise IngestError(
            f"The workbook expands to {expanded:,} bytes when unzipped; "
            f"the limit is {limits.max_uncompressed_bytes:,} bytes."
        )
    ratio = expanded / packed
    if expanded >= RATIO_MIN_BYTES and ratio > limits.max_compression_ratio:
        raise IngestError(
            f"The workbook is compressed {ratio:,.0f} times, more than the limit of "
            f"{limits.max_compression_ratio:,}; it looks like a zip bomb."
        )


def cell_text(value: Cell | None) -> str | None:
    """Return a cell as the text Excel shows for it; empty cells are None."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return f"{value:.15g}"  # Excel keeps 15 significant digits
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dt.datetime):
        spec = "milliseconds" if value.microsecond else "seconds"
        return value.isoformat(sep=" ", timespec=spec)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    seconds = int(value.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("", seconds)
    return f"{sign}{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _text_rows(rows: Iterator[list[Cell]]) -> Iterator[tuple[str | None, ...]]:
    for row in rows:
        yield tuple(cell_text(value) for value in row)


def _stage_sheet(
    sheet: python_calamine.CalamineSheet,
    label: str,
    name: str,
    staging: str,
    con: duckdb.DuckDBPyConnection,
    limits: IngestLimits,
) -> StagedTable | None:
    """Load one worksheet into ``staging``; None when it has no data rows."""
    rows = _text_rows(sheet.iter_rows())
    sample = list(itertools.islice(rows, HEADER_SAMPLE_ROWS))
    if not any(any(row) for row in sample):
        return None
    width = max(len(row) for row in sample)
    if width > limits.max_columns:
        raise IngestError(f"Sheet '{label}' has {width:,} columns; the limit is {limits.max_columns:,}.")
    notes: list[str] = []
    header_index = find_header(sample)
    if header_index is None:
        headers: Sequence[str | None] = [None] * width
        body = sample
        notes.append(f"Sheet '{label}' has no header row; its columns were given generic names.")
    else:
        headers = list(sample[header_index]) + [None] * (width - len(sample[header_index]))
        body = sample[header_index + 1 :]
        if header_index:
            notes.append(f"Sheet '{label}': {header_index} row(s) above the header were skipped.")
    columns = unique_names(headers)
    labels = {column: header or "" for column, header in zip(columns, headers, strict=True)}
    con.execute(f"CREATE TABLE {quote(staging)} ({', '.join(f'{quote(c)} VARCHAR' for c in columns)})")
    loaded = blank = 0
    with con.appender(staging) as appender:
        batch: list[tuple[str | None, ...]] = []
        for row in itertools.chain(body, rows):
            if not any(row):
                blank += 1
                continue
            batch.append(row + (None,) * (width - len(row)) if len(row) < width else row)
            if len(batch) >= BATCH_ROWS:
                appender.append_rows(batch)
                loaded += len(batch)
                batch = []
        appender.append_rows(batch)
        loaded += len(batch)
    if not loaded:
        con.execute(f"DROP TABLE {quote(staging)}")
        return None
    if blank:
        notes.append(f"Sheet '{label}': {blank:,} empty row(s) were skipped.")
    return StagedTable(name=name, staging=staging, labels=labels, notes=notes, extra={"sheet": label})


def read(source: Path, con: duckdb.DuckDBPyConnection, limits: IngestLimits) -> ReadResult:
    """Stage every non-empty worksheet of an .xlsx workbook as a table of VARCHAR columns."""
    check_zip(source, limits)
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(source))
    except python_calamine.PasswordError as error:
        raise IngestError(
            "The workbook is password-protected; remove the password and upload it again."
        ) from error
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        raise IngestError(f"The workbook could not be opened: {error}") from error
    result = ReadResult(format="xlsx", tables=[])
    with workbook:
        sheets = [
            meta for meta in workbook.sheets_metadata if meta.typ == python_calamine.SheetTypeEnum.WorkSheet
        ]
        for meta in workbook.sheets_metadata:
            if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                result.notes.append(
                    f"Sheet '{meta.name}' is not a worksheet (a chart or macro sheet) and was skipped."
                )
        if len(sheets) > limits.max_tables:
            raise IngestError(f"The workbook has {len(sheets):,} sheets; the limit is {limits.max_tables:,}.")
        names = unique_names((meta.name for meta in sheets), prefix="sheet")
        for meta, name in zip(sheets, names, strict=True):
            staging = f"__nexus_stage_{len(result.tables) + 1}"
            try:
                sheet = workbook.get_sheet_by_name(meta.name)
                table = _stage_sheet(sheet, meta.name, name, staging, con, limits)
            except python_calamine.CalamineError as error:
                raise IngestError(f"Sheet '{meta.name}' could not be read: {error}") from error
            if table is None:
                result.notes.append(f"Sheet '{meta.name}' has no rows and was skipped.")
            else:
                result.tables.append(table)
    if not result.tables:
        raise IngestError("The workbook has no data: every sheet is empty.")
    return result
