"""Readers of the text formats: Markdown, plain text, CSV and HTML, each into a ``Builder``'s blocks.

Each reader takes the file's path, its name and the builder, and returns the document's title and page
count where the format has them (``None`` otherwise).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from bs4 import BeautifulSoup
from bs4.element import NavigableString, PreformattedString, Script, Stylesheet, Tag, TemplateString

from nexus.rag.blocks import SAMPLE_BYTES, Builder, add_rows, flatten, read_text, unreadable

_ATX = re.compile(r" {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*")
_SETEXT = re.compile(r" {0,3}(=+|-+)[ \t]*")
_RULE = re.compile(r" {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*")
_ITEM = re.compile(r"[ \t]*(?:[-*+]|\d{1,9}[.)])[ \t]+(.*)")
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_TABLE_SEP = re.compile(r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*")
_QUOTE = re.compile(r"[ \t]*(?:>[ \t]?)+")
_INLINE = (
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images and links: their text
    (re.compile(r"\[([^\]]+)\]\[[^\]]*\]"), r"\1"),  # reference links
    (re.compile(r"<((?:https?|mailto):[^>\s]+)>"), r"\1"),  # autolinks
    (re.compile(r"`+([^`]+?)`+"), r"\1"),
    (re.compile(r"(\*\*|__|~~)(?=\S)(.+?)(?<=\S)\1"), r"\2"),
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),
)


def _inline(text: str) -> str:
    """Drop inline Markdown: emphasis, code spans and link targets."""
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return text


def _front_matter_end(lines: Sequence[str]) -> int:
    if lines and lines[0].strip() == "---":
        for index in range(1, min(len(lines), 200)):
            if lines[index].strip() in ("---", "..."):
                return index + 1
    return 0


def _md_code(lines: Sequence[str], index: int, fence: str, builder: Builder) -> int:
    """Add a fenced code block starting at ``index``; return the index after its closing fence."""
    body: list[str] = []
    index += 1
    while index < len(lines) and not lines[index].lstrip().startswith(fence):
        body.append(lines[index])
        index += 1
    builder.add("\n".join(body), keep=True)
    return index + 1


def _md_table(lines: Sequence[str], index: int, builder: Builder) -> int:
    """Add the table starting at ``index`` as rows (not its |---| line); return the index after it."""
    rows: list[list[str]] = []
    while index < len(lines) and "|" in lines[index] and lines[index].strip():
        line = lines[index].strip().removeprefix("|")
        line = line if line.endswith("\\|") else line.removesuffix("|")
        if not _TABLE_SEP.fullmatch(lines[index]):
            rows.append([_inline(cell.replace("\\|", "|")) for cell in re.split(r"(?<!\\)\|", line)])
        index += 1
    add_rows(builder, rows)
    return index


def _md_is_table(lines: Sequence[str], index: int) -> bool:
    line, following = lines[index], lines[index + 1] if index + 1 < len(lines) else ""
    if line.lstrip().startswith("|") and line.count("|") >= 2:
        return True
    return "|" in line and "|" in following and bool(_TABLE_SEP.fullmatch(following))


def parse_markdown(path: Path, filename: str, builder: Builder) -> tuple[str | None, int | None]:
    """Read a Markdown file: headings, paragraphs, list items, code blocks and table rows."""
    lines = read_text(path, builder.max_chars).splitlines()
    paragraph: list[str] = []

    def flush() -> None:
        builder.add(_inline(" ".join(paragraph)))
        paragraph.clear()

    index = _front_matter_end(lines)
    while index < len(lines):
        line = (
            _QUOTE.sub("", lines[index], count=1) if lines[index].lstrip().startswith(">") else lines[index]
        )
        step = 1
        if not line.strip():
            flush()
        elif fence := _FENCE.match(line):
            flush()
            step = _md_code(lines, index, fence.group(1), builder) - index
        elif atx := _ATX.fullmatch(line):
            flush()
            builder.heading(_inline(atx.group(2) or ""), len(atx.group(1)))
        elif paragraph and (setext := _SETEXT.fullmatch(line)):
            text = _inline(" ".join(paragraph))
            paragraph.clear()
            builder.heading(text, 1 if setext.group(1).startswith("=") else 2)
        elif _RULE.fullmatch(line):
            flush()
        elif _md_is_table(lines, index):
            flush()
            step = _md_table(lines, index, builder) - index
        else:
            if item := _ITEM.fullmatch(line):
                flush()
                line = item.group(1)
            paragraph.append(line.strip())
        index += step
    flush()
    return None, None


def parse_text(path: Path, filename: str, builder: Builder) -> tuple[str | None, int | None]:
    """Read a plain text file as paragraphs separated by blank lines."""
    text = read_text(path, builder.max_chars)
    for paragraph in re.split(r"\n\s*\n", text.replace("\r\n", "\n").replace("\r", "\n")):
        builder.add(paragraph)
    return None, None


def _delimiter(lines: Sequence[str]) -> str:
    """Pick the delimiter that splits the most sample rows into the same number (> 1) of fields."""
    best, best_score = ",", (0, 0)
    for delimiter in (",", ";", "\t", "|"):
        try:
            widths = [len(row) for row in csv.reader(lines, delimiter=delimiter) if any(row)]
        except csv.Error:
            continue
        width, rows = Counter(widths).most_common(1)[0] if widths else (0, 0)
        score = (rows if width > 1 else 0, width)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def parse_csv(path: Path, filename: str, builder: Builder) -> tuple[str | None, int | None]:
    """Read a CSV or TSV file as rows under its header, all under a heading named after the file."""
    text = read_text(path, builder.max_chars)
    delimiter = _delimiter(text[:SAMPLE_BYTES].splitlines()[:50])
    builder.stack = [(1, Path(filename).stem or filename)]
    try:
        add_rows(builder, csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as error:
        raise unreadable("The CSV file", error) from error
    return None, None


_HTML_DROP = ("script", "style", "noscript", "head", "template", "svg", "iframe", "object", "embed")
_HTML_PARAGRAPHS = frozenset(("p", "li", "blockquote", "pre", "dd", "dt", "figcaption", "address", "caption"))
_HTML_BLOCKS = frozenset(
    "article aside body center details dialog div dl fieldset figure footer form header hgroup hr html main "
    "menu nav ol section summary table ul td th tr tbody thead tfoot".split()
)
_HTML_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_HTML_SKIPPED_STRINGS = (PreformattedString, Script, Stylesheet, TemplateString)


def _html_text(node: Tag) -> str:
    """Return a tag's text, with a space where block tags and line breaks separate words."""
    parts: list[str] = []
    for child in node.descendants:
        if isinstance(child, Tag):
            if child.name == "br" or child.name in _HTML_BLOCKS or child.name in _HTML_PARAGRAPHS:
                parts.append(" ")
        elif isinstance(child, NavigableString) and not isinstance(child, _HTML_SKIPPED_STRINGS):
            parts.append(str(child))
    return "".join(parts)


def _html_walk(node: Tag, builder: Builder, inline: list[str]) -> None:
    """Add the blocks under ``node``; loose text gathers in ``inline`` until a block tag ends it."""
    for child in node.children:
        if not isinstance(child, Tag):
            if isinstance(child, NavigableString) and not isinstance(child, _HTML_SKIPPED_STRINGS):
                inline.append(str(child))
            continue
        name = child.name
        if name == "br":
            inline.append(" ")
            continue
        if name not in _HTML_BLOCKS and name not in _HTML_PARAGRAPHS and name not in _HTML_HEADINGS:
            _html_walk(child, builder, inline)  # inline markup: its text joins the running paragraph
            continue
        builder.add("".join(inline))
        inline.clear()
        if name in _HTML_HEADINGS:
            builder.heading(_html_text(child), _HTML_HEADINGS[name])
        elif name == "pre":
            builder.add(child.get_text(), keep=True)
        elif name in _HTML_PARAGRAPHS:
            builder.add(_html_text(child))
        elif name == "table":
            rows = child.find_all("tr")
            add_rows(
                builder, ([_html_text(c) for c in r.find_all(["td", "th"], recursive=False)] for r in rows)
            )
        else:
            _html_walk(child, builder, inline)
            builder.add("".join(inline))
            inline.clear()


def parse_html(path: Path, filename: str, builder: Builder) -> tuple[str | None, int | None]:
    """Read an HTML page's visible text as headings, paragraphs and table rows; its title from <title>."""
    soup = BeautifulSoup(read_text(path, builder.max_chars), "html.parser")
    title_tag = soup.find("title")
    title = flatten(title_tag.get_text()) if title_tag is not None else ""
    for tag in soup.find_all(_HTML_DROP):
        if not tag.decomposed:
            tag.decompose()
    inline: list[str] = []
    _html_walk(soup, builder, inline)
    builder.add("".join(inline))
    return title or None, None
