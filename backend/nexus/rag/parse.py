"""Documents into blocks: headings, paragraphs and table rows in reading order, with their heading path.

The format is decided from the content first (PDF header, the parts inside an Office zip, HTML tags) and
the file name second. Every failure a user can cause is an ``UnprocessableContent`` with a plain sentence.
This module detects the format and reads PDF, Word and Excel files; ``nexus.rag.markup`` reads the text
formats and ``nexus.rag.blocks`` holds the block types and the helpers the readers share.
"""

from __future__ import annotations

import datetime as dt
import re
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pypdf
import python_calamine
from docx.table import Table

from nexus.errors import UnprocessableContent
from nexus.rag.blocks import (
    FORMATS,
    NONE_OF_THEM,
    SAMPLE_BYTES,
    Block,
    Builder,
    Parsed,
    add_rows,
    decode_text,
    flatten,
    flatten_lines,
    row_texts,
    unreadable,
)
from nexus.rag.markup import parse_csv, parse_html, parse_markdown, parse_text

__all__ = ["FORMATS", "NONE_OF_THEM", "Block", "Parsed", "detect_format", "parse_document"]

_EXTENSIONS = {"": "text", ".txt": "text", ".text": "text", ".log": "text", ".md": "markdown"}
_EXTENSIONS |= {".markdown": "markdown", ".html": "html", ".htm": "html", ".xhtml": "html", ".csv": "csv"}
_EXTENSIONS |= {".tsv": "csv", ".pdf": "pdf", ".docx": "docx", ".xlsx": "xlsx"}
_MAX_UNZIPPED = 512 * 1024 * 1024
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HTML_START = re.compile(
    r"\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)[\s>]", re.I | re.S
)


def _zip_format(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise UnprocessableContent("The file is a damaged zip archive.") from error
    if sum(member.file_size for member in members) > _MAX_UNZIPPED:
        raise UnprocessableContent(f"The file expands to more than {_MAX_UNZIPPED:,} bytes when unzipped.")
    names = {member.filename for member in members}
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise UnprocessableContent(f"The file is a zip archive but not a Word or Excel document. {NONE_OF_THEM}")


def detect_format(path: Path, filename: str) -> str:
    """Return one of FORMATS from the content first and the file name's extension second."""
    with path.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    if not head:
        raise UnprocessableContent("The file is empty.")
    suffix = Path(filename).suffix.lower()
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04"):
        return _zip_format(path)
    if head.startswith(_OLE_MAGIC):
        raise UnprocessableContent(
            "The file is an old-style (.doc, .xls) or password-protected Office file; "
            "save it as .docx or .xlsx without a password."
        )
    if suffix in (".pdf", ".docx", ".xlsx"):
        kind = {".pdf": "a PDF", ".docx": "a Word document", ".xlsx": "an Excel workbook"}[suffix]
        raise UnprocessableContent(f"The file is named {suffix} but is not {kind}.")
    text = decode_text(head, final=False)
    if _HTML_START.match(text):
        return "html"
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    raise UnprocessableContent(NONE_OF_THEM)


def _pdf_paragraphs(text: str) -> list[tuple[str, int]]:
    """Split a page's text into (paragraph, lines): on blank lines, else reflowing wrapped lines."""
    if re.search(r"\n[ \t]*\n", text.strip()):
        return [
            (flatten(part), len(flatten_lines(part).splitlines())) for part in re.split(r"\n[ \t]*\n", text)
        ]
    lines = [flat for line in text.splitlines() if (flat := flatten(line))]
    width = max((len(line) for line in lines), default=0)
    paragraphs: list[tuple[str, int]] = []
    current: list[str] = []
    for line in lines:
        current.append(line)
        if len(line) < 0.7 * width:  # a short line ends its paragraph; a full one wrapped
            paragraphs.append((" ".join(current), len(current)))
            current = []
    if current:
        paragraphs.append((" ".join(current), len(current)))
    return paragraphs


def _pdf_heading(text: str, lines: int, following: str) -> bool:
    """Whether a paragraph looks like a heading: one short line, no end punctuation, before real text."""
    return (
        lines == 1
        and len(text) <= 80
        and len(text.split()) <= 10
        and (text[0].isupper() or text[0].isdigit())
        and text[-1] not in ".,;:!?"
        and any(char.isalpha() for char in text)
        and len(following) >= 2 * len(text)
        and following[-1] in ".!?:"
    )


def _parse_pdf(path: Path, filename: str, builder: Builder) -> tuple[str | None, int | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            reader = pypdf.PdfReader(path, strict=False)
            if reader.is_encrypted and not _pdf_decrypt(reader):
                raise UnprocessableContent("The PDF is encrypted.")
            metadata = reader.metadata
            title = flatten(metadata.title or "") if metadata is not None else ""
            for number, page in enumerate(reader.pages, start=1):
                paragraphs = [(text, lines) for text, lines in _pdf_paragraphs(page.extract_text()) if text]
                for index, (text, lines) in enumerate(paragraphs):
                    following = paragraphs[index + 1][0] if index + 1 < len(paragraphs) else ""
                    if _pdf_heading(text, lines, following):
                        builder.heading(text, 1, page=number)
                    else:
                        builder.add(text, page=number)
            return title or None, len(reader.pages)
        except UnprocessableContent:
            raise
        except Exception as error:  # pypdf raises many kinds on malformed files
            raise unreadable("The PDF", error) from error


def _pdf_decrypt(reader: pypdf.PdfReader) -> bool:
    try:
        return reader.decrypt("") != pypdf.PasswordType.NOT_DECRYPTED
    except Exception:  # a missing crypto backend or an unknown algorithm: still encrypted to us
        return False


def _parse_docx(path: Path, filename: str, builder: Builder) -> tuple[str | None, int | None]:
    try:
        document = docx.Document(str(path))
        title = flatten(document.core_properties.title or "")
        for item in document.iter_inner_content():
            if isinstance(item, Table):
                add_rows(builder, ([cell.text for cell in row.cells] for row in item.rows))
                continue
            style = (item.style.name if item.style is not None else None) or ""
            heading = re.fullmatch(r"(?i)heading ([1-9])|title", style)
            if heading:
                builder.heading(item.text, min(int(heading.group(1) or 1), 6))
            else:
                builder.add(item.text)
    except UnprocessableContent:
        raise
    except Exception as error:  # python-docx and lxml raise many kinds on damaged files
        raise unreadable("The Word document", error) from error
    return title or None, None


def _cell(value: object) -> str:
    """Return a cell as the text Excel shows for it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return "" if value is None else value.isoformat() if isinstance(value, dt.date | dt.time) else str(value)


def _parse_xlsx(path: Path, filename: str, builder: Builder) -> tuple[str | None, int | None]:
    try:
        with python_calamine.CalamineWorkbook.from_path(str(path)) as workbook:
            for meta in workbook.sheets_metadata:
                if meta.typ != python_calamine.SheetTypeEnum.WorkSheet:
                    continue
                sheet = workbook.get_sheet_by_name(meta.name)
                texts = row_texts([_cell(value) for value in row] for row in sheet.iter_rows())
                first = next(texts, None)
                if first is not None:
                    builder.heading(meta.name, 1)
                    for text in (first, *texts):
                        builder.add(text, "row")
    except python_calamine.PasswordError as error:
        raise UnprocessableContent("The Excel workbook is password-protected.") from error
    except (python_calamine.CalamineError, OSError, ValueError) as error:
        raise unreadable("The Excel workbook", error) from error
    return None, None  # sheet names are not titles


_PARSERS: dict[str, Callable[[Path, str, Builder], tuple[str | None, int | None]]] = {
    "pdf": _parse_pdf,
    "docx": _parse_docx,
    "markdown": parse_markdown,
    "text": parse_text,
    "html": parse_html,
    "csv": parse_csv,
    "xlsx": _parse_xlsx,
}


def parse_document(path: Path, filename: str, *, max_chars: int = 5_000_000) -> Parsed:
    """Parse the file into blocks; raise UnprocessableContent for anything that cannot be read as text."""
    document_format = detect_format(path, filename)
    builder = Builder(max_chars)
    try:
        title, pages = _PARSERS[document_format](path, filename, builder)
    except RecursionError as error:
        raise UnprocessableContent("The document is nested too deeply to be read.") from error
    if not builder.blocks:
        if document_format == "pdf":
            raise UnprocessableContent("The PDF has no extractable text (is it a scanned image?).")
        raise UnprocessableContent("The document has no text.")
    if title is None and document_format != "xlsx":
        title = next((b.text for b in builder.blocks if b.kind == "heading" and b.level == 1), None)
    return Parsed(document_format, title, pages, tuple(builder.blocks))
