"""The embedded provider: SmolLM2 through llama-cpp-python, and assembling multi-part GGUF files."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel

from nexus.llm.base import Message, ModelOutputInvalid, ModelUnavailable
from nexus.llm.embedded import QWEN, SMOLLM2, EmbeddedModel, EmbeddedProvider, model_path

MODEL = SMOLLM2.name
QUESTION = [
    Message("system", "You answer in one short sentence."),
    Message("user", "What colour is the sky on a clear day?"),
]


class Verdict(BaseModel):
    answer: Literal["yes", "no"]
    confidence: int


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedProvider:
    return EmbeddedProvider(tmp_path_factory.mktemp("models"), threads=2, context_tokens=2048)


class TestChat:
    def test_reply_and_token_counts(self, provider: EmbeddedProvider) -> None:
        result = provider.chat(QUESTION, model=MODEL, max_tokens=16)
        assert result.text.strip()
        assert result.model == MODEL
        assert result.prompt_tokens > 0
        assert 0 < result.completion_tokens <= 16
        assert result.duration_s > 0

    def test_max_tokens_bounds_the_reply(self, provider: EmbeddedProvider) -> None:
        assert provider.chat(QUESTION, model=MODEL, max_tokens=3).completion_tokens <= 3

    def test_stop_sequence_ends_the_reply(self, provider: EmbeddedProvider) -> None:
        result = provider.chat(QUESTION, model=MODEL, max_tokens=16, stop=[" "])
        assert result.text and " " not in result.text

    def test_schema_constrains_the_reply(self, provider: EmbeddedProvider) -> None:
        question = [Message("user", "Is the sky blue? Answer yes or no, with your confidence from 0 to 10.")]
        result = provider.chat(question, model=MODEL, schema=Verdict.model_json_schema(), max_tokens=48)
        assert isinstance(json.loads(result.text), dict)
        verdict = Verdict.model_validate_json(result.text)
        assert verdict.answer in {"yes", "no"}

    def test_callers_on_many_threads_are_served_in_turn(self, provider: EmbeddedProvider) -> None:
        with ThreadPoolExecutor(max_workers=3) as pool:
            results = list(pool.map(lambda _: provider.chat(QUESTION, model=MODEL, max_tokens=6), range(3)))
        assert all(result.text.strip() for result in results)

    def test_unknown_model_is_unavailable(self, provider: EmbeddedProvider) -> None:
        with pytest.raises(ModelUnavailable, match="smollm2-135m") as raised:
            provider.chat(QUESTION, model="gpt-4o")
        assert raised.value.status == 503


def test_a_prompt_over_the_context_window_is_a_clear_error(tmp_path: Path) -> None:
    small = EmbeddedProvider(tmp_path, threads=2, context_tokens=512)
    with pytest.raises(ModelOutputInvalid, match="could not answer"):
        small.chat([Message("user", "data " * 2000)], model="smollm2-135m", max_tokens=8)


class TestStream:
    def test_pieces_join_into_the_reply(self, provider: EmbeddedProvider) -> None:
        pieces = list(provider.stream(QUESTION, model=MODEL, max_tokens=16))
        assert len(pieces) > 1
        assert all(isinstance(piece, str) and piece for piece in pieces)
        assert "".join(pieces) == provider.chat(QUESTION, model=MODEL, max_tokens=16).text

    def test_stop_sequence_ends_the_stream(self, provider: EmbeddedProvider) -> None:
        assert " " not in "".join(provider.stream(QUESTION, model=MODEL, max_tokens=16, stop=[" "]))


class TestCountTokens:
    def test_counts_grow_with_the_text(self, provider: EmbeddedProvider) -> None:
        assert provider.count_tokens("", model=MODEL) == 0, "no beginning-of-sequence token is counted"
        short = provider.count_tokens("revenue", model=MODEL)
        longer = provider.count_tokens("total revenue by region and month for the last year", model=MODEL)
        assert 0 < short < longer


# --- assembly -------------------------------------------------------------------------------------

ModelFactory = Callable[..., EmbeddedModel]


@pytest.fixture
def parts_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ModelFactory:
    """Return a function that installs real, tiny importable packages holding a model's parts."""
    root = tmp_path / "site"
    monkeypatch.syspath_prepend(str(root))

    def make(*contents: bytes, sha256: str | None = None) -> EmbeddedModel:
        packages, relative = [], []
        for index, content in enumerate(contents, start=1):
            package = f"nexus_test_model_part{index}_{uuid.uuid4().hex[:8]}"
            data = root / package / "data"
            data.mkdir(parents=True)
            (root / package / "__init__.py").write_text("")
            (data / f"part{index:02d}.bin").write_bytes(content)
            packages.append(package)
            relative.append(f"data/part{index:02d}.bin")
        return EmbeddedModel(
            name="tiny",
            packages=tuple(packages),
            relative=tuple(relative),
            sha256=sha256 or hashlib.sha256(b"".join(contents)).hexdigest(),
            file_name="tiny.gguf",
        )

    return make


@pytest.fixture
def replacements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Count the renames that publish an assembled file."""
    calls: list[str] = []
    real = os.replace

    def spy(source: str | os.PathLike[str], target: str | os.PathLike[str]) -> None:
        calls.append(str(target))
        real(source, target)

    monkeypatch.setattr(os, "replace", spy)
    yield calls


PARTS = (b"GGUF" + b"\x01" * 1000, b"\x02" * 5000, b"\x03" * 7)


class TestModelPath:
    def test_parts_are_joined_in_order_into_the_models_dir(
        self, parts_model: ModelFactory, tmp_path: Path
    ) -> None:
        models_dir = tmp_path / "models"
        target = model_path(parts_model(*PARTS), models_dir)
        assert target == models_dir / "tiny.gguf"
        assert target.read_bytes() == b"".join(PARTS)
        assert list(models_dir.iterdir()) == [target], "no temporary file may be left behind"

    def test_second_call_does_not_reassemble(
        self, parts_model: ModelFactory, tmp_path: Path, replacements: list[str]
    ) -> None:
        model = parts_model(*PARTS)
        first = model_path(model, tmp_path / "models")
        before = first.stat()
        (tmp_path / "site" / model.packages[0] / model.relative[0]).write_bytes(b"changed")
        second = model_path(model, tmp_path / "models")
        assert second == first
        assert second.read_bytes() == b"".join(PARTS)
        assert (second.stat().st_ino, second.stat().st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
        assert replacements == [str(first)]

    def test_wrong_checksum_is_unavailable_and_leaves_nothing(
        self, parts_model: ModelFactory, tmp_path: Path
    ) -> None:
        models_dir = tmp_path / "models"
        with pytest.raises(ModelUnavailable, match="SHA-256") as raised:
            model_path(parts_model(*PARTS, sha256="0" * 64), models_dir)
        assert raised.value.status == 503
        assert list(models_dir.iterdir()) == []

    def test_a_failed_check_is_tried_again_next_time(self, parts_model: ModelFactory, tmp_path: Path) -> None:
        good = parts_model(*PARTS)
        bad = EmbeddedModel(good.name, good.packages, good.relative, "0" * 64, good.file_name)
        with pytest.raises(ModelUnavailable):
            model_path(bad, tmp_path / "models")
        assert model_path(good, tmp_path / "models").read_bytes() == b"".join(PARTS)

    def test_concurrent_callers_assemble_once(
        self, parts_model: ModelFactory, tmp_path: Path, replacements: list[str]
    ) -> None:
        model = parts_model(*PARTS)
        with ThreadPoolExecutor(max_workers=4) as pool:
            paths = set(pool.map(lambda _: model_path(model, tmp_path / "models"), range(8)))
        assert len(paths) == 1
        assert len(replacements) == 1

    def test_missing_package_says_how_to_install(self, tmp_path: Path) -> None:
        missing = EmbeddedModel("gone", ("nexus_no_such_model_package",), ("x.bin",), "0" * 64, "gone.gguf")
        with pytest.raises(ModelUnavailable, match="make install"):
            model_path(missing, tmp_path / "models")
        assert not (tmp_path / "models").exists()

    def test_a_single_part_model_is_read_in_place(self, tmp_path: Path) -> None:
        path = model_path(SMOLLM2, tmp_path / "models")
        assert path.name == SMOLLM2.file_name and path.is_file()
        assert not (tmp_path / "models").exists()

    def test_the_shipped_smollm2_matches_its_recorded_checksum(self, tmp_path: Path) -> None:
        digest = hashlib.sha256()
        with model_path(SMOLLM2, tmp_path).open("rb") as handle:
            while chunk := handle.read(1 << 22):
                digest.update(chunk)
        assert digest.hexdigest() == SMOLLM2.sha256

    def test_qwen_names_one_file_per_package(self) -> None:
        assert len(QWEN.packages) == len(QWEN.relative) == 22
        assert len(set(QWEN.relative)) == 22
