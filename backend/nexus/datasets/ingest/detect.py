"""What an uploaded file is, decided by its bytes; the name's extension is only a tie-breaker."""

from __future__ import annotations

import json
import zipfile
from enum import StrEnum
from pathlib import Path

from nexus.datasets.ingest.base import IngestError
from nexus.datasets.ingest.text import detect_encoding, looks_binary

_SAMPLE = 64 * 1024


class FileFormat(StrEnum):
    """Formats we read."""

    CSV = "csv"
    XLSX = "xlsx"
    JSON = "json"
    JSONL = "jsonl"
    PARQUET = "parquet"
    SQLITE = "sqlite"


def _is_parquet(path: Path, head: bytes) -> bool:
    if not head.startswith(b"PAR1") or path.stat().st_size < 12:
        return False
    with path.open("rb") as handle:
        handle.seek(-4, 2)
        return handle.read(4) == b"PAR1"


def _zip_kind(path: Path) -> FileFormat:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise IngestError("The file looks like a zip archive (as .xlsx files are) but is damaged.") from error
    if "[Content_Types].xml" in names and any(name.startswith("xl/") for name in names):
        return FileFormat.XLSX
    raise IngestError("The file is a zip archive but not an Excel workbook (.xlsx).")


def _json_kind(text: str, whole: bool) -> FileFormat | None:
    stripped = text.lstrip()
    if whole and stripped and stripped[0] not in "[{":
        try:
            value = json.loads(stripped)
        except ValueError:
            return None
        raise IngestError(f"The JSON is not a table: it is a single value ({json.dumps(value)[:40]}).")
    if not stripped or stripped[0] not in "[{":
        return None
    lines = [line for line in stripped.splitlines() if line.strip()]
    if stripped[0] == "{" and len(lines) > 1:
        try:
            json.loads(lines[0])
            json.loads(lines[1])
            return FileFormat.JSONL
        except ValueError:
            pass
    return FileFormat.JSON


def detect_format(path: Path) -> FileFormat:
    """Return the file's format, or raise IngestError saying why it is not a table we can read."""
    with path.open("rb") as handle:
        head = handle.read(_SAMPLE)
    if not head.strip():
        raise IngestError("The file is empty.")
    if head.startswith(b"SQLite format 3\x00"):
        return FileFormat.SQLITE
    if _is_parquet(path, head):
        return FileFormat.PARQUET
    if head.startswith(b"PK\x03\x04"):
        return _zip_kind(path)
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise IngestError("Old Excel files (.xls) are not supported; save the workbook as .xlsx or CSV.")
    encoding = detect_encoding(head)
    if looks_binary(head, encoding):
        raise IngestError("The file is not text, nor a format we read (CSV, Excel, JSON, Parquet, SQLite).")
    text = head[len(encoding.bom) :].decode(encoding.name, errors="replace")
    return _json_kind(text, whole=len(head) < _SAMPLE) or FileFormat.CSV
