"""Parsed documents into chunks for embedding: by structure first, then by size with overlap.

A heading opens a section and a new PDF page a new chunk; a section's blocks are packed greedily while the
chunk's tokens stay within the limit. A block too long for one chunk is cut at sentence ends (a sentence
too long at word ends), and consecutive pieces of it overlap. Every chunk is an exact slice of
``full_text(parsed)``, so its offsets point into the document's text honestly. Tokens are counted once per
block, and per sentence or word of a long block, and summed: the count of a chunk is the sum of its parts.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from nexus.rag.parse import Block, Parsed

SEPARATOR = "\n\n"
_SENTENCE = re.compile(r"\S.*?(?:[.!?](?=\s)|$)", re.S)
_WORD = re.compile(r"\S+")

TokenCounter = Callable[[str], int]


@dataclass(frozen=True)
class Chunk:
    """A piece of a document sized for embedding, with where it came from."""

    ordinal: int
    text: str
    start: int
    end: int
    page: int | None
    headings: tuple[str, ...]


@dataclass
class _Span:
    """A run of text in the full text: [start, end), its tokens and the block it starts in."""

    start: int
    end: int
    tokens: int
    block: int = 0


def full_text(parsed: Parsed) -> str:
    """Return the document's text: block texts joined by blank lines (offsets of chunks refer to it)."""
    return SEPARATOR.join(block.text for block in parsed.blocks)


def _refine(
    text: str, atom: _Span, budget: int, count_tokens: TokenCounter, *, chars: bool = True
) -> list[_Span]:
    """Cut an atom into its words, or a single word into slices of characters that fit ``budget``."""
    words = [_Span(m.start(), m.end(), 0) for m in _WORD.finditer(text, atom.start, atom.end)]
    if len(words) <= 1:
        length = atom.end - atom.start
        size = max(1, length * max(1, budget) * 9 // (10 * max(1, atom.tokens)))
        if not chars or size >= length:
            return [atom]
        words = [_Span(at, min(at + size, atom.end), 0) for at in range(atom.start, atom.end, size)]
    for word in words:
        word.tokens = count_tokens(text[word.start : word.end])
    return words


def _fill(
    text: str, atoms: list[_Span], first: int, budget: int, count_tokens: TokenCounter
) -> tuple[int, int]:
    """Take atoms from ``first`` while they fit ``budget``; return the index after the last and the tokens."""
    last, total = first, 0
    while last < len(atoms):
        if total + atoms[last].tokens <= budget:
            total += atoms[last].tokens
            last += 1
        elif last > first:
            break
        elif len(finer := _refine(text, atoms[last], budget, count_tokens)) > 1:
            atoms[last : last + 1] = finer
        else:  # cannot be cut any finer: it goes alone, over the budget
            return last + 1, atoms[last].tokens
    return last, total


def _back(
    text: str, atoms: list[_Span], first: int, last: int, overlap: int, count_tokens: TokenCounter
) -> int:
    """Return where the piece after atoms[first:last] starts: about ``overlap`` tokens back, past ``first``.

    A sentence too long to be carried whole is cut into its words inside ``atoms`` (the caller moves
    ``last`` by the number of atoms added).
    """
    start, carried = last, 0
    while overlap and start > first:
        previous = atoms[start - 1]
        if start - 1 > first and carried + previous.tokens <= overlap:
            start -= 1
            carried += previous.tokens
        elif (
            carried < overlap // 2 and len(finer := _refine(text, previous, 0, count_tokens, chars=False)) > 1
        ):
            atoms[start - 1 : start] = finer
            start += len(finer) - 1
        else:
            break
    return start


def _pieces(
    text: str, block: _Span, first_budget: int, max_tokens: int, overlap: int, count_tokens: TokenCounter
) -> list[_Span]:
    """Cut one long block into pieces within the budgets; consecutive pieces overlap by ~``overlap``."""
    atoms = [_Span(m.start(), m.end(), 0) for m in _SENTENCE.finditer(text, block.start, block.end)]
    if not atoms:
        return [block]
    for atom in atoms:
        atom.tokens = count_tokens(text[atom.start : atom.end])
    pieces: list[_Span] = []
    first, budget = 0, first_budget
    while True:
        last, total = _fill(text, atoms, first, budget, count_tokens)
        pieces.append(_Span(atoms[first].start, atoms[last - 1].end, total, block.block))
        if last >= len(atoms):
            return pieces
        size = len(atoms)
        start = _back(text, atoms, first, last, overlap, count_tokens)
        last += len(atoms) - size  # words spliced in before ``last`` moved it
        carried = sum(atom.tokens for atom in atoms[start:last])
        while start < last and carried + atoms[last].tokens > max_tokens:
            carried -= atoms[start].tokens
            start += 1
        first, budget = start, max_tokens


class _Packer:
    """Packs blocks greedily into chunk spans, keeping headings with the text after them."""

    def __init__(self, text: str, max_tokens: int, overlap: int, count_tokens: TokenCounter) -> None:
        self.text = text
        self.max_tokens = max_tokens
        self.overlap = overlap
        self.count_tokens = count_tokens
        self.spans: list[_Span] = []
        self.current: _Span | None = None
        self.only_headings = False
        self.page: int | None = None

    def emit(self) -> None:
        """Close the chunk being packed."""
        if self.current is not None:
            self.spans.append(self.current)
        self.current = None

    def add(self, block: Block, span: _Span) -> None:
        """Add one block: after the current chunk's blocks if it fits, else in new chunks."""
        heading = block.kind == "heading"
        current = self.current
        if current is not None:
            if not self.only_headings and (heading or block.page != self.page):
                self.emit()  # a section or a page starts
            elif current.tokens + span.tokens <= self.max_tokens:
                current.end, current.tokens = span.end, current.tokens + span.tokens
                self.only_headings = self.only_headings and heading
                self.page = block.page
                return
            elif not self.only_headings or heading:
                self.emit()
        self._start(block, span)

    def _start(self, block: Block, span: _Span) -> None:
        """Open a chunk with ``span``, after the headings being packed if there are any."""
        lead = self.current
        budget = self.max_tokens - (lead.tokens if lead is not None else 0)
        if lead is not None and budget < max(1, self.max_tokens // 8):
            self.emit()
            lead, budget = None, self.max_tokens
        if span.tokens <= budget:
            pieces = [span]
        else:
            pieces = _pieces(self.text, span, budget, self.max_tokens, self.overlap, self.count_tokens)
        if lead is not None:
            pieces[0] = _Span(lead.start, pieces[0].end, lead.tokens + pieces[0].tokens, lead.block)
        self.spans.extend(pieces[:-1])
        self.current = pieces[-1]
        self.only_headings = block.kind == "heading" and len(pieces) == 1
        self.page = block.page


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def chunk_document(
    parsed: Parsed, *, max_tokens: int, overlap_tokens: int, count_tokens: Callable[[str], int]
) -> list[Chunk]:
    """Split by structure first, then by size with overlap."""
    if max_tokens < 16:
        raise ValueError(f"max_tokens must be at least 16, not {max_tokens}.")
    if not 0 <= overlap_tokens < max_tokens // 2:
        raise ValueError(
            f"overlap_tokens must be at least 0 and below {max_tokens // 2}, not {overlap_tokens}."
        )
    text = full_text(parsed)
    packer = _Packer(text, max_tokens, overlap_tokens, count_tokens)
    offset = 0
    for index, block in enumerate(parsed.blocks):
        span = _Span(offset, offset + len(block.text), count_tokens(block.text), index)
        offset = span.end + len(SEPARATOR)
        packer.add(block, span)
    packer.emit()
    chunks: list[Chunk] = []
    for span in packer.spans:
        start, end = _trim(text, span.start, span.end)
        if start == end:
            continue
        first = parsed.blocks[span.block]
        headings = first.headings + (first.text,) if first.kind == "heading" else first.headings
        chunks.append(Chunk(len(chunks), text[start:end], start, end, first.page, headings))
    return chunks
