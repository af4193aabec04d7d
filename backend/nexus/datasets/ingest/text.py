"""Text files: encodings, delimiters, and where the header row is.

Real exports open with titles, dates and blank lines before the header ("Payments export /
Generated 2024-01-01 / <blank> / id,amount,..."). DuckDB's sniffer gives a first opinion on the
dialect; the preamble and the header row are decided here from the rows themselves.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nexus.datasets.ingest.base import IngestError

SAMPLE_BYTES = 256 * 1024
_CHUNK = 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
_NUMBERISH = re.compile(r"^[\s$€£¥()+\-.,%0-9]*[0-9][\s$€£¥()+\-.,%0-9a-zA-Z/:]*$")


@dataclass(frozen=True)
class Encoding:
    """How a text file is encoded; ``bom`` bytes are skipped when transcoding."""

    name: str
    bom: bytes = b""

    @property
    def is_plain_utf8(self) -> bool:
        """Whether DuckDB can read the file as it is."""
        return self.name == "utf-8" and not self.bom


def detect_encoding(sample: bytes) -> Encoding:
    """Decide the encoding of a sample: BOMs, UTF-16 without BOM, strict UTF-8, then cp1252."""
    for bom, name in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if sample.startswith(bom):
            return Encoding(name, bom)
    if sample and sample.count(b"\x00") > len(sample) // 4:
        even_nuls = sample[0::2].count(b"\x00")
        odd_nuls = sample[1::2].count(b"\x00")
        return Encoding("utf-16-le" if odd_nuls > even_nuls else "utf-16-be")
    try:
        sample.decode("utf-8")
        return Encoding("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut by the end of the sample is still UTF-8.
        if error.start >= len(sample) - 3 and error.reason in {"unexpected end of data"}:
            return Encoding("utf-8")
    try:
        sample.decode("cp1252")
        return Encoding("cp1252")
    except UnicodeDecodeError:
        return Encoding("latin-1")


def looks_binary(sample: bytes, encoding: Encoding) -> bool:
    """Whether a sample is not text at all (NULs or control bytes in an 8-bit encoding)."""
    if encoding.name.startswith("utf-16"):
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte < 9 or 13 < byte < 32)
    return controls > len(sample) // 100


def transcode_to_utf8(source: Path, target: Path, encoding: Encoding) -> None:
    """Rewrite a file as UTF-8 without BOM, in chunks (never whole in memory)."""
    decoder = codecs.getincrementaldecoder(encoding.name)(errors="replace")
    with source.open("rb") as reader, target.open("wb") as writer:
        reader.seek(len(encoding.bom))
        while chunk := reader.read(_CHUNK):
            writer.write(decoder.decode(chunk).encode("utf-8"))
        writer.write(decoder.decode(b"", final=True).encode("utf-8"))


def sample_lines(path: Path, limit: int = 200) -> list[str]:
    """Return the first lines of a UTF-8 file (for dialect and header decisions)."""
    with path.open("rb") as handle:
        data = handle.read(SAMPLE_BYTES)
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if len(data) == SAMPLE_BYTES and lines:
        lines = lines[:-1]  # the last one may be cut
    return lines[:limit]


def _parse_with_lines(lines: Sequence[str], delimiter: str) -> tuple[list[list[str]], list[int]]:
    """Parse lines as CSV; also return the physical line each row starts on."""
    reader = csv.reader(iter(lines), delimiter=delimiter, quotechar='"')
    rows: list[list[str]] = []
    starts: list[int] = []
    try:
        while True:
            start = reader.line_num
            try:
                row = next(reader)
            except StopIteration:
                break
            rows.append(row)
            starts.append(start)
    except csv.Error:
        pass
    return rows, starts


def parse_rows(lines: Sequence[str], delimiter: str) -> list[list[str]]:
    """Parse lines as CSV rows (quoted fields may span lines)."""
    return _parse_with_lines(lines, delimiter)[0]


def choose_delimiter(lines: Sequence[str], preferred: str | None = None) -> str:
    """Pick the delimiter that splits the most lines into the same number (>1) of fields."""
    best, best_score = preferred or ",", -1.0
    body = [line for line in lines if line.strip()][-100:]
    for delimiter in DELIMITERS:
        rows = parse_rows(body, delimiter)
        widths = Counter(len(row) for row in rows if row)
        if not widths:
            continue
        width, count = widths.most_common(1)[0]
        if width < 2:
            continue
        score = count / len(rows) + (0.01 if delimiter == preferred else 0.0) + width * 1e-4
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _textual(row: Sequence[str | None]) -> tuple[int, int]:
    cells = [str(cell).strip() for cell in row if cell is not None and str(cell).strip()]
    return sum(1 for cell in cells if not _NUMBERISH.match(cell)), len(cells)


def _is_header_like(row: Sequence[str | None], following: Sequence[str | None] | None) -> bool:
    """Whether a row reads as labels: mostly text, and more so than the row after it.

    When both are all text (names, cities) the first is taken as the header, as most tools do.
    """
    textual, filled = _textual(row)
    if not filled or textual * 2 < filled:
        return False
    if following is None:
        return True
    next_textual, next_filled = _textual(following)
    return textual > next_textual or (textual == filled and next_textual == next_filled)


def find_table_start(rows: Sequence[Sequence[str | None]]) -> tuple[int, bool] | None:
    """Return (index of the table's first row, whether that row is a header); None when rows are empty.

    Titles and blank lines above a table are skipped: the table's width is the most common number of
    filled fields among the rows, and it starts at the first row that fills most of that width and
    is followed by a row of similar width. That row is a header when it reads like labels.
    """

    def width(row: Sequence[str | None]) -> int:
        filled = [i for i, cell in enumerate(row) if cell is not None and str(cell).strip()]
        return filled[-1] + 1 if filled else 0

    widths = [width(row) for row in rows]
    nonzero = [w for w in widths if w]
    if not nonzero:
        return None
    table_width = Counter(nonzero).most_common(1)[0][0]
    for index, row in enumerate(rows):
        filled = sum(1 for cell in row if cell is not None and str(cell).strip())
        if widths[index] == 0 or filled < max(min(2, table_width), (table_width + 1) // 2):
            continue
        # The next row must not be much wider (a title's next row is); data rows may be narrower
        # than the header when trailing optional fields are empty.
        following = next((w for w in widths[index + 1 :] if w), 0)
        if following > widths[index] + max(1, widths[index] // 4):
            continue
        next_row = next(
            (r for r in rows[index + 1 :] if any(c is not None and str(c).strip() for c in r)), None
        )
        return index, _is_header_like(row, next_row)
    return None


def find_header(rows: Sequence[Sequence[str | None]]) -> int | None:
    """Return the index of the header row, skipping titles and blank lines; None when there is none."""
    start = find_table_start(rows)
    return start[0] if start is not None and start[1] else None


@dataclass(frozen=True)
class Dialect:
    """How to read a delimited file."""

    delimiter: str
    quote: str
    skip_lines: int
    """Lines before the header row (titles, blank lines)."""
    header: list[str]
    has_header: bool


def detect_dialect(path: Path, sniffed_delimiter: str | None = None) -> Dialect:
    """Decide delimiter, preamble and header of a UTF-8 delimited file from its first lines."""
    lines = sample_lines(path)
    if not any(line.strip() for line in lines):
        raise IngestError("The file has no rows.")
    delimiter = choose_delimiter(lines, sniffed_delimiter)
    rows, starts = _parse_with_lines(lines, delimiter)
    start = find_table_start(rows)
    if start is None:
        raise IngestError("The file has no rows.")
    index, has_header = start
    return Dialect(delimiter, '"', starts[index], rows[index] if has_header else [], has_header=has_header)
