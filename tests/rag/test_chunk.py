"""Chunking parsed documents: exact slices, size limits, overlap, headings and pages."""

from __future__ import annotations

import bisect
from itertools import pairwise

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus.rag.chunk import Chunk, chunk_document, full_text
from nexus.rag.parse import Block, Parsed


def words(text: str) -> int:
    return len(text.split())


def doc(*blocks: Block) -> Parsed:
    return Parsed(format="markdown", title=None, pages=None, blocks=blocks)


def para(text: str, headings: tuple[str, ...] = (), page: int | None = None) -> Block:
    return Block(text, "paragraph", page, headings)


def head(text: str, level: int = 1, parents: tuple[str, ...] = ()) -> Block:
    return Block(text, "heading", None, parents, level)


def sentences(count: int, prefix: str = "s", length: int = 10) -> str:
    return " ".join(
        " ".join(f"{prefix}{i}w{j}" for j in range(length - 1)) + f" {prefix}{i}end." for i in range(count)
    )


def chunk(parsed: Parsed, max_tokens: int = 64, overlap: int = 16) -> list[Chunk]:
    chunks = chunk_document(parsed, max_tokens=max_tokens, overlap_tokens=overlap, count_tokens=words)
    check_invariants(parsed, chunks, max_tokens)
    return chunks


def check_invariants(parsed: Parsed, chunks: list[Chunk], max_tokens: int) -> None:
    text = full_text(parsed)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.text == text[c.start : c.end]
        assert c.text and c.text == c.text.strip()
        assert words(c.text) <= max_tokens, c.text
    for previous, following in pairwise(chunks):
        assert following.start > previous.start
        assert following.end > previous.end


def block_spans(parsed: Parsed) -> list[tuple[int, int]]:
    spans, offset = [], 0
    for block in parsed.blocks:
        spans.append((offset, offset + len(block.text)))
        offset += len(block.text) + 2
    return spans


class TestStructure:
    def test_full_text_joins_blocks_with_blank_lines(self) -> None:
        assert full_text(doc(head("A"), para("b c"), para("d"))) == "A\n\nb c\n\nd"
        assert full_text(doc()) == ""
        assert chunk(doc()) == []

    def test_small_sections_pack_and_headings_start_chunks(self) -> None:
        parsed = doc(
            head("Refunds"),
            para("Refunds take two weeks.", ("Refunds",)),
            para("Ask support.", ("Refunds",)),
            head("Late returns", 2, ("Refunds",)),
            para("Store credit only.", ("Refunds", "Late returns")),
        )
        chunks = chunk(parsed)
        assert [c.text for c in chunks] == [
            "Refunds\n\nRefunds take two weeks.\n\nAsk support.",
            "Late returns\n\nStore credit only.",
        ]
        assert [c.headings for c in chunks] == [("Refunds",), ("Refunds", "Late returns")]
        assert [c.page for c in chunks] == [None, None]

    def test_consecutive_headings_stay_with_the_text_after_them(self) -> None:
        parsed = doc(
            head("Policies"), head("Refunds", 2, ("Policies",)), para("Two weeks.", ("Policies", "Refunds"))
        )
        chunks = chunk(parsed)
        assert [c.text for c in chunks] == ["Policies\n\nRefunds\n\nTwo weeks."]
        assert chunks[0].headings == ("Policies",)

    def test_a_section_of_only_a_heading_is_its_own_chunk(self) -> None:
        parsed = doc(para("Intro text."), head("Appendix"))
        assert [c.text for c in chunk(parsed)] == ["Intro text.", "Appendix"]

    def test_greedy_packing_within_the_limit(self) -> None:
        parsed = doc(*(para(sentences(1, f"p{i}")) for i in range(20)))  # 10 words each
        chunks = chunk(parsed, max_tokens=32, overlap=4)
        assert [words(c.text) for c in chunks] == [30] * 6 + [20]
        for c in chunks:  # whole blocks, no overlap across blocks
            assert c.text.startswith("p") and c.text.endswith("end.")
        assert all(b.start >= a.end for a, b in pairwise(chunks))

    def test_pages_start_new_chunks(self) -> None:
        parsed = Parsed(
            "pdf",
            None,
            3,
            (para("One a.", page=1), para("One b.", page=1), para("Two.", page=2), para("Three.", page=3)),
        )
        chunks = chunk(parsed)
        assert [(c.text, c.page) for c in chunks] == [
            ("One a.\n\nOne b.", 1),
            ("Two.", 2),
            ("Three.", 3),
        ]
        assert all(c.headings == () for c in chunks)


class TestLongBlocks:
    def test_long_paragraph_splits_at_sentences_with_overlap(self) -> None:
        parsed = doc(
            head("Policy"), para(sentences(40), ("Policy",)), head("Next"), para("Short.", ("Next",))
        )
        chunks = chunk(parsed, max_tokens=64, overlap=16)
        body = [c for c in chunks if c.headings == ("Policy",)]
        assert len(body) > 5
        assert body[0].text.startswith("Policy\n\ns0w0")  # the heading is kept with its text
        for previous, following in pairwise(body):
            assert following.start < previous.end  # overlap
            shared = full_text(parsed)[following.start : previous.end]
            assert 1 <= words(shared) <= 16
            assert shared.startswith("s") and shared.endswith("end.")  # whole sentences
        for c in body[1:]:
            assert c.text.startswith("s") and c.text.endswith("end.")
        last = chunks[-1]
        assert last.text == "Next\n\nShort." and last.headings == ("Next",)
        assert last.start >= chunks[-2].end  # no overlap across sections

    def test_sentence_longer_than_the_limit_splits_at_words(self) -> None:
        text = " ".join(f"w{i}" for i in range(500))  # no sentence end at all
        parsed = doc(para(text))
        chunks = chunk(parsed, max_tokens=50, overlap=10)
        assert len(chunks) > 10
        for previous, following in pairwise(chunks):
            shared = full_text(parsed)[following.start : previous.end]
            assert 5 <= words(shared) <= 10
        covered = set()
        for c in chunks:
            covered.update(c.text.split())
        assert covered == set(text.split())

    def test_overlap_falls_back_to_words_when_sentences_are_long(self) -> None:
        parsed = doc(para(sentences(12, length=30)))  # 30-word sentences, 16 tokens of overlap wanted
        chunks = chunk(parsed, max_tokens=64, overlap=16)
        for previous, following in pairwise(chunks):
            assert 8 <= words(full_text(parsed)[following.start : previous.end]) <= 16

    def test_no_overlap_when_zero(self) -> None:
        parsed = doc(para(sentences(30)))
        chunks = chunk(parsed, max_tokens=32, overlap=0)
        assert all(b.start > a.end for a, b in pairwise(chunks))
        assert " ".join(c.text for c in chunks) == full_text(parsed)

    def test_heading_before_a_block_that_does_not_fit_takes_its_start(self) -> None:
        parsed = doc(
            para("Intro."),
            head("Big section"),
            para(" ".join(f"x{i}" for i in range(60)), ("Big section",)),
        )
        chunks = chunk(parsed, max_tokens=32, overlap=4)
        assert chunks[0].text == "Intro."
        assert chunks[1].text.startswith("Big section\n\nx0 x1")
        assert words(chunks[1].text) == 32
        assert chunks[1].headings == ("Big section",)
        assert chunks[2].headings == ("Big section",)
        assert not any(c.text == "Big section" for c in chunks)

    def test_long_block_tail_packs_with_the_next_blocks(self) -> None:
        parsed = doc(para(sentences(7)), para("Tail one."), para("Tail two."))
        chunks = chunk(parsed, max_tokens=32, overlap=0)
        assert chunks[-1].text.endswith("s6end.\n\nTail one.\n\nTail two.")

    def test_token_counting_is_linear(self) -> None:
        seen = 0

        def counting(text: str) -> int:
            nonlocal seen
            seen += len(text)
            return words(text)

        blocks = []
        for i in range(420):
            blocks.append(head(f"Section {i}"))
            blocks.append(para(sentences(i % 50 + 1, f"b{i}x"), (f"Section {i}",)))
        parsed = doc(*blocks)
        text = full_text(parsed)
        assert len(text) > 1_000_000
        chunks = chunk_document(parsed, max_tokens=256, overlap_tokens=32, count_tokens=counting)
        check_invariants(parsed, chunks, 256)
        assert seen < 3 * len(text)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(15, 0), (0, 0), (64, -1), (64, 32), (64, 40), (16, 8)])
def test_bad_settings(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="tokens"):
        chunk_document(doc(para("x")), max_tokens=max_tokens, overlap_tokens=overlap, count_tokens=words)


def test_smallest_settings_are_accepted() -> None:
    assert chunk_document(doc(para("x")), max_tokens=16, overlap_tokens=7, count_tokens=words)[0].text == "x"


TEXTS = st.text(alphabet="ab .!?\n\t", min_size=1, max_size=120)
BLOCKS = st.lists(
    st.builds(
        Block,
        text=TEXTS,
        kind=st.sampled_from(["heading", "paragraph", "paragraph", "row"]),
        page=st.one_of(st.none(), st.integers(1, 3)),
        headings=st.just(()),
        level=st.integers(0, 3),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=BLOCKS, max_tokens=st.integers(16, 40), overlap=st.integers(0, 19))
def test_property_exact_ordered_covering(blocks: list[Block], max_tokens: int, overlap: int) -> None:
    overlap = min(overlap, max_tokens // 2 - 1)
    parsed = doc(*blocks)
    text = full_text(parsed)
    chunks = chunk_document(parsed, max_tokens=max_tokens, overlap_tokens=overlap, count_tokens=words)
    check_invariants(parsed, chunks, max_tokens)
    covered = [False] * len(text)
    for c in chunks:
        covered[c.start : c.end] = [True] * (c.end - c.start)
    assert all(covered[i] for i, char in enumerate(text) if not char.isspace())
    spans = block_spans(parsed)
    starts = [start for start, _ in spans]
    for previous, following in pairwise(chunks):
        if following.start < previous.end:  # overlap only inside one block
            index = bisect.bisect_right(starts, following.start) - 1
            assert spans[index][0] <= following.start and previous.end <= spans[index][1]
