"""The blocks a parsed document is made of, and the helpers every format's reader shares.

``Builder`` collects blocks in reading order, keeps the heading path and refuses text over the limit;
the functions here flatten whitespace, decode text files and turn table rows into "header: value" text.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from nexus.errors import UnprocessableContent

FORMATS = ("pdf", "docx", "markdown", "text", "html", "csv", "xlsx")
NONE_OF_THEM = "Documents can be PDF, DOCX, Markdown, text, HTML, CSV or Excel; this file is none of them."
SAMPLE_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")  # not ESC: logs have colours


@dataclass(frozen=True)
class Block:
    """A unit of a document's structure: a heading, a paragraph, a list item or a table row."""

    text: str
    kind: str
    page: int | None = None
    headings: tuple[str, ...] = ()
    level: int = 0


@dataclass(frozen=True)
class Parsed:
    """A parsed document: its format, title, page count and blocks in reading order."""

    format: str
    title: str | None
    pages: int | None
    blocks: tuple[Block, ...]


def flatten(text: str) -> str:
    """Collapse every run of whitespace, line breaks included, into one space."""
    return " ".join(text.split())


def flatten_lines(text: str) -> str:
    """Flatten each line on its own and drop the blank ones, keeping the line breaks."""
    return "\n".join(flat for line in text.splitlines() if (flat := flatten(line)))


class Builder:
    """Collects blocks, keeps the heading stack and refuses text over the limit."""

    def __init__(self, max_chars: int) -> None:
        self.blocks: list[Block] = []
        self.stack: list[tuple[int, str]] = []
        self.max_chars = max_chars
        self.chars = 0

    def heading(self, text: str, level: int, page: int | None = None) -> None:
        """Add a heading and make it the innermost entry of the heading path."""
        text = flatten(text)
        if text:
            while self.stack and self.stack[-1][0] >= level:
                self.stack.pop()
            self._add(Block(text, "heading", page, tuple(t for _, t in self.stack), level))
            self.stack.append((level, text))

    def add(self, text: str, kind: str = "paragraph", page: int | None = None, *, keep: bool = False) -> None:
        """Add a paragraph or a row (skipped when blank); ``keep`` keeps its line breaks."""
        text = flatten_lines(text) if keep else flatten(text)
        if text:
            self._add(Block(text, kind, page, tuple(t for _, t in self.stack)))

    def _add(self, block: Block) -> None:
        self.chars += len(block.text) + (2 if self.blocks else 0)
        if self.chars > self.max_chars:
            raise UnprocessableContent(
                f"The document has more than {self.max_chars:,} characters of text; "
                f"the limit is {self.max_chars:,}."
            )
        self.blocks.append(block)


def decode_text(data: bytes, *, final: bool = True) -> str:
    """Decode text (UTF-16 by BOM, UTF-8, then cp1252); refuse binary content."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = codecs.getincrementaldecoder("utf-16")(errors="replace").decode(data, final=final)
    elif b"\x00" in data:
        raise UnprocessableContent(f"The file holds binary data, not text. {NONE_OF_THEM}")
    else:
        try:
            text = codecs.getincrementaldecoder("utf-8-sig")().decode(data, final=final)
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
            except UnicodeDecodeError as error:
                raise UnprocessableContent(
                    "The file is not readable text: it is neither UTF-8 nor Windows-1252."
                ) from error
    if len(_CONTROL.findall(text[:SAMPLE_BYTES])) > min(len(text), SAMPLE_BYTES) // 100:
        raise UnprocessableContent(f"The file holds binary data, not text. {NONE_OF_THEM}")
    return text


def unreadable(what: str, error: Exception) -> UnprocessableContent:
    """Build the error saying that ``what`` cannot be read, with the reason taken from ``error``."""
    reason = flatten(str(error)).rstrip(".") or type(error).__name__
    return UnprocessableContent(f"{what} cannot be read: {reason[:300]}.")


def read_text(path: Path, max_chars: int) -> str:
    """Read and decode a text file; refuse one too large for ``max_chars`` characters of text."""
    if path.stat().st_size > 8 * max_chars + 1024:
        raise UnprocessableContent(f"The file is too large: the limit is {max_chars:,} characters of text.")
    return decode_text(path.read_bytes())


def row_texts(rows: Iterable[Sequence[str]]) -> Iterator[str]:
    """Yield "header: value; ..." per row under the first row; a lone row as its cells."""
    header: list[str] | None = None
    count = 0
    for raw in rows:
        row = [flatten(cell) for cell in raw]
        if not any(row):
            continue
        if header is None:
            header = row
            continue
        names = header + [""] * (len(row) - len(header))
        count += 1
        yield "; ".join(
            f"{name or f'column {i}'}: {cell}"
            for i, (name, cell) in enumerate(zip(names, row, strict=False), 1)
            if cell
        )
    if header is not None and not count:
        yield "; ".join(cell for cell in header if cell)


def add_rows(builder: Builder, rows: Iterable[Sequence[str]]) -> None:
    """Add a table's rows to ``builder`` as row blocks, the first row naming the columns."""
    for text in row_texts(rows):
        builder.add(text, "row")
