"""Which model serves each role, the metered calls, and structured output's one retry."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pytest
from prometheus_client import REGISTRY
from pydantic import BaseModel, ValidationError

from nexus.config import LLMSettings
from nexus.llm.base import ROLES, ChatResult, Message, ModelOutputInvalid, ModelUnavailable
from nexus.llm.models import Assignment, Models, assignment
from nexus.llm.ollama_provider import OllamaProvider

if TYPE_CHECKING:  # imported by pytest_plugins below, where its asserts can be rewritten
    from tests.fixtures.ollama_server import FakeOllama

pytest_plugins = ["tests.fixtures.ollama_server"]

QUESTION = [Message("user", 'Is water wet? Reply with JSON {"answer": "yes"} or {"answer": "no"}.')]
SettingsFactory = Callable[..., LLMSettings]


class YesNo(BaseModel):
    answer: Literal["yes", "no"]


@pytest.fixture
def llm_settings(monkeypatch: pytest.MonkeyPatch) -> SettingsFactory:
    """Return a function building LLMSettings from NEXUS_* variables only (no .env, no leftovers)."""
    for name in list(os.environ):
        if name.startswith(("NEXUS_LLM", "NEXUS_OLLAMA", "NEXUS_EMBEDDED")):
            monkeypatch.delenv(name)

    def build(**env: str) -> LLMSettings:
        for key, value in env.items():
            monkeypatch.setenv(f"NEXUS_{key.upper()}", value)
        return LLMSettings(_env_file=None)

    return build


def close_ollama(models: Models) -> None:
    provider = models.provider("ollama")
    assert isinstance(provider, OllamaProvider)
    provider.client.close()


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests(provider: str, model: str, role: str, outcome: str) -> float:
    labels = {"provider": provider, "model": model, "role": role, "outcome": outcome}
    return metric("nexus_llm_requests_total", **labels)


def tokens(model: str, direction: str) -> float:
    return metric("nexus_llm_tokens_total", model=model, direction=direction)


def timed(model: str, role: str) -> float:
    return metric("nexus_llm_request_duration_seconds_count", model=model, role=role)


class TestAssignment:
    def test_every_role_defaults_to_the_embedded_model(self, llm_settings: SettingsFactory) -> None:
        settings = llm_settings()
        assert {assignment(settings, role) for role in ROLES} == {
            Assignment("embedded", "qwen2.5-coder-1.5b")
        }
        small = llm_settings(embedded_model="smollm2-135m")
        assert {assignment(small, role) for role in ROLES} == {Assignment("embedded", "smollm2-135m")}

    def test_ollama_uses_llama_and_phi3_for_review(self, llm_settings: SettingsFactory) -> None:
        settings = llm_settings(llm_provider="ollama")
        assert {role: assignment(settings, role) for role in ROLES} == {
            "router": Assignment("ollama", "llama3.1:8b"),
            "planner": Assignment("ollama", "llama3.1:8b"),
            "analyst": Assignment("ollama", "llama3.1:8b"),
            "reviewer": Assignment("ollama", "phi3:mini"),
            "narrator": Assignment("ollama", "llama3.1:8b"),
        }

    def test_a_role_can_name_its_own_provider_and_model(self, llm_settings: SettingsFactory) -> None:
        settings = llm_settings(
            llm_reviewer="ollama:llama3.1:8b", llm_analyst="ollama:qwen2.5:7b-instruct-q4_K_M"
        )
        assert assignment(settings, "reviewer") == Assignment("ollama", "llama3.1:8b")
        assert assignment(settings, "analyst") == Assignment("ollama", "qwen2.5:7b-instruct-q4_K_M")
        assert assignment(settings, "planner") == Assignment("embedded", "qwen2.5-coder-1.5b")
        mixed = llm_settings(llm_provider="ollama", llm_router="embedded:smollm2-135m")
        assert assignment(mixed, "router") == Assignment("embedded", "smollm2-135m")
        assert assignment(mixed, "narrator") == Assignment("ollama", "llama3.1:8b")

    def test_an_empty_role_setting_means_unset(self, llm_settings: SettingsFactory) -> None:
        assert assignment(llm_settings(llm_router=""), "router") == Assignment(
            "embedded", "qwen2.5-coder-1.5b"
        )

    @pytest.mark.parametrize(
        "configured",
        [
            "llama3.1:8b",
            "ollama",
            "ollama:",
            ":llama3.1:8b",
            "openai:gpt-4o",
            "Ollama:llama3.1:8b",
            " ollama:llama3.1:8b",
            "embedded",
        ],
    )
    def test_a_malformed_role_setting_is_refused(
        self, llm_settings: SettingsFactory, configured: str
    ) -> None:
        settings = llm_settings(llm_planner=configured)
        with pytest.raises(ValueError, match="NEXUS_LLM_PLANNER must look like"):
            assignment(settings, "planner")

    def test_an_unknown_provider_is_refused_by_settings(self, llm_settings: SettingsFactory) -> None:
        with pytest.raises(ValidationError):
            llm_settings(llm_provider="openai")


class ScriptedProvider:
    """A provider that answers from a script and records what it was asked."""

    name = "embedded"

    def __init__(self, *replies: str | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[dict[str, Any]] = []

    def _next(self, **call: Any) -> str:
        self.calls.append(call)
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def chat(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] = (),
    ) -> ChatResult:
        text = self._next(messages=list(messages), model=model, schema=schema, max_tokens=max_tokens)
        return ChatResult(text, model, prompt_tokens=11, completion_tokens=len(text.split()))

    def stream(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        for piece in self._next(messages=list(messages), model=model, max_tokens=max_tokens).split("|"):
            if piece == "!":
                raise ModelUnavailable("gone mid-reply")
            yield piece

    def count_tokens(self, text: str, *, model: str) -> int:
        return len(text.split())


@pytest.fixture
def scripted(llm_settings: SettingsFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Return a function giving Models whose every provider is a ScriptedProvider with these replies."""

    def build(*replies: str | Exception) -> tuple[Models, ScriptedProvider]:
        models = Models(llm_settings(embedded_model="smollm2-135m", llm_max_tokens="64"), tmp_path)
        provider = ScriptedProvider(*replies)
        monkeypatch.setattr(models, "provider", lambda name: provider)
        return models, provider

    return build


SMALL = "smollm2-135m"


class TestMetrics:
    def test_a_reply_is_counted_with_its_tokens_and_time(self, scripted: Any) -> None:
        models, provider = scripted("four words of reply")
        before = (
            requests("embedded", SMALL, "planner", "ok"),
            tokens(SMALL, "prompt"),
            timed(SMALL, "planner"),
        )
        completion = tokens(SMALL, "completion")
        models.chat("planner", QUESTION)
        assert requests("embedded", SMALL, "planner", "ok") == before[0] + 1
        assert tokens(SMALL, "prompt") == before[1] + 11
        assert tokens(SMALL, "completion") == completion + 4
        assert timed(SMALL, "planner") == before[2] + 1
        assert provider.calls[0]["max_tokens"] == 64, "the settings' max tokens apply when none is given"

    @pytest.mark.parametrize(
        ("failure", "outcome"),
        [(ModelUnavailable("down"), "unavailable"), (RuntimeError("llama.cpp crashed"), "error")],
    )
    def test_a_failure_is_counted_by_outcome(self, scripted: Any, failure: Exception, outcome: str) -> None:
        models, _ = scripted(failure)
        before, prompt = requests("embedded", SMALL, "narrator", outcome), tokens(SMALL, "prompt")
        with pytest.raises(type(failure)):
            models.chat("narrator", QUESTION)
        assert requests("embedded", SMALL, "narrator", outcome) == before + 1
        assert tokens(SMALL, "prompt") == prompt

    def test_a_stream_counts_its_pieces(self, scripted: Any) -> None:
        models, _ = scripted("The| sky| is| blue.")
        before, completion = requests("embedded", SMALL, "narrator", "ok"), tokens(SMALL, "completion")
        assert "".join(models.stream("narrator", QUESTION)) == "The sky is blue."
        assert requests("embedded", SMALL, "narrator", "ok") == before + 1
        assert tokens(SMALL, "completion") == completion + 4

    def test_a_stream_that_breaks_is_counted_unavailable(self, scripted: Any) -> None:
        models, _ = scripted("The| sky|!")
        before = requests("embedded", SMALL, "narrator", "unavailable")
        with pytest.raises(ModelUnavailable):
            list(models.stream("narrator", QUESTION))
        assert requests("embedded", SMALL, "narrator", "unavailable") == before + 1


class TestStructured:
    def test_a_fitting_reply_is_returned_at_once(self, scripted: Any) -> None:
        models, provider = scripted('{"answer": "yes"}')
        assert models.structured("reviewer", QUESTION, YesNo) == YesNo(answer="yes")
        assert len(provider.calls) == 1
        assert provider.calls[0]["schema"] == YesNo.model_json_schema()

    def test_a_bad_reply_is_sent_back_once_with_the_error(self, scripted: Any) -> None:
        models, provider = scripted('{"answer": "maybe"}', '{"answer": "no"}')
        invalid = requests("embedded", SMALL, "reviewer", "invalid_output")
        assert models.structured("reviewer", QUESTION, YesNo) == YesNo(answer="no")
        retry = provider.calls[1]["messages"]
        assert retry[: len(QUESTION)] == QUESTION
        assert retry[len(QUESTION)] == Message("assistant", '{"answer": "maybe"}')
        assert retry[-1].role == "user" and "answer" in retry[-1].content
        assert requests("embedded", SMALL, "reviewer", "invalid_output") == invalid

    def test_two_bad_replies_are_a_502(self, scripted: Any) -> None:
        models, provider = scripted("not json", '{"answer": 3}', '{"answer": "yes"}')
        ok = requests("embedded", SMALL, "reviewer", "ok")
        invalid = requests("embedded", SMALL, "reviewer", "invalid_output")
        with pytest.raises(ModelOutputInvalid, match="YesNo") as raised:
            models.structured("reviewer", QUESTION, YesNo)
        assert raised.value.status == 502
        assert len(provider.calls) == 2, "one retry, never a third guess"
        assert requests("embedded", SMALL, "reviewer", "ok") == ok + 2
        assert requests("embedded", SMALL, "reviewer", "invalid_output") == invalid + 1

    def test_an_unavailable_model_is_not_retried(self, scripted: Any) -> None:
        models, provider = scripted(ModelUnavailable("down"), '{"answer": "yes"}')
        with pytest.raises(ModelUnavailable):
            models.structured("reviewer", QUESTION, YesNo)
        assert len(provider.calls) == 1


class TestAgainstOllama:
    @pytest.fixture
    def models(self, llm_settings: SettingsFactory, ollama_server: str, tmp_path: Path) -> Iterator[Models]:
        settings = llm_settings(llm_provider="ollama", ollama_host=ollama_server, ollama_retries="0")
        models = Models(settings.model_copy(update={"llm_max_tokens": 16}), tmp_path)
        yield models
        close_ollama(models)

    def test_the_reviewer_asks_phi3(self, models: Models, fake_ollama: FakeOllama) -> None:
        before, prompt = requests("ollama", "phi3:mini", "reviewer", "ok"), tokens("phi3:mini", "prompt")
        result = models.chat("reviewer", QUESTION)
        assert result.text and result.model == "phi3:mini"
        path, body = fake_ollama.requests[-1]
        assert (path, body["model"], body["options"]["num_predict"]) == ("/api/chat", "phi3:mini", 16)
        assert requests("ollama", "phi3:mini", "reviewer", "ok") == before + 1
        assert tokens("phi3:mini", "prompt") == prompt + result.prompt_tokens > prompt

    def test_structured_through_ollama(self, models: Models) -> None:
        assert models.structured("router", QUESTION, YesNo, max_tokens=32).answer in {"yes", "no"}

    def test_stream_through_ollama(self, models: Models) -> None:
        before = requests("ollama", "llama3.1:8b", "narrator", "ok")
        assert "".join(models.stream("narrator", QUESTION)).strip()
        assert requests("ollama", "llama3.1:8b", "narrator", "ok") == before + 1

    def test_the_provider_is_built_once(self, models: Models) -> None:
        assert models.provider("ollama") is models.provider("ollama")

    def test_ollama_down_is_counted_unavailable(
        self, llm_settings: SettingsFactory, ollama_down: str, tmp_path: Path
    ) -> None:
        settings = llm_settings(llm_provider="ollama", ollama_host=ollama_down, ollama_retries="0")
        before = requests("ollama", "llama3.1:8b", "planner", "unavailable")
        models = Models(settings, tmp_path)
        with pytest.raises(ModelUnavailable, match="ollama serve"):
            models.chat("planner", QUESTION)
        close_ollama(models)
        assert requests("ollama", "llama3.1:8b", "planner", "unavailable") == before + 1
