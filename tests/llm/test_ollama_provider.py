"""OllamaProvider, through the real ``ollama`` client, against a server that speaks Ollama's HTTP API."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Literal

import httpx
import ollama
import pytest
from pydantic import BaseModel

from nexus.llm.base import Message, ModelUnavailable, structured
from nexus.llm.ollama_provider import OllamaProvider

if TYPE_CHECKING:  # imported by pytest_plugins below, where its asserts can be rewritten
    from tests.fixtures.ollama_server import FakeOllama, HangUp

pytest_plugins = ["tests.fixtures.ollama_server"]

MODEL = "llama3.1:8b"
NOT_PULLED = "mistral:7b"
QUESTION = [
    Message("system", "You answer in one short sentence."),
    Message("user", "What colour is the sky on a clear day?"),
]
OPTIONS = {"temperature": 0.0, "num_predict": 16}


class YesNo(BaseModel):
    answer: Literal["yes", "no"]


Connect = Callable[..., OllamaProvider]


@pytest.fixture
def connect(ollama_server: str) -> Iterator[Connect]:
    """Return a function building OllamaProviders (to the fake by default), closed after the test."""
    built: list[OllamaProvider] = []

    def build(host: str = ollama_server, *, retries: int = 0, backoff_s: float = 0.01) -> OllamaProvider:
        built.append(OllamaProvider(host, timeout_s=60, retries=retries, backoff_s=backoff_s))
        return built[-1]

    yield build
    for provider in built:
        provider.client.close()


@pytest.fixture
def provider(connect: Connect) -> OllamaProvider:
    return connect()


class TestWireProtocol:
    """The fake answers what Ollama answers, byte for byte where the client cares."""

    def test_chat_streams_ndjson_when_stream_is_absent(self, ollama_server: str) -> None:
        body = {"model": MODEL, "messages": [m.as_dict() for m in QUESTION], "options": OPTIONS}
        with httpx.stream("POST", f"{ollama_server}/api/chat", json=body, timeout=60) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("application/x-ndjson")
            chunks = list(response.iter_raw())
        lines = [json.loads(line) for line in b"".join(chunks).decode().splitlines()]
        *pieces, last = lines
        assert len(chunks) > 1, "the reply arrived in one piece, not streamed"
        assert len(pieces) >= 2
        for piece in pieces:
            assert piece["done"] is False
            assert piece["model"] == MODEL
            assert piece["message"]["role"] == "assistant"
            assert isinstance(piece["message"]["content"], str)
            assert piece["created_at"].endswith("Z")
        assert last["done"] is True
        assert last["done_reason"] in {"stop", "length"}
        assert last["prompt_eval_count"] > 0
        assert last["eval_count"] == len(pieces)
        for duration in ("total_duration", "prompt_eval_duration", "eval_duration"):
            assert isinstance(last[duration], int) and last[duration] >= 0
        assert "".join(piece["message"]["content"] for piece in pieces).strip()

    def test_stream_false_is_one_object(self, ollama_server: str) -> None:
        body = {"model": MODEL, "messages": [m.as_dict() for m in QUESTION], "options": OPTIONS}
        response = httpx.post(f"{ollama_server}/api/chat", json=body | {"stream": False}, timeout=60)
        assert response.status_code == 200
        reply = response.json()
        assert reply["done"] is True
        assert reply["message"]["content"].strip()
        assert 0 < reply["eval_count"] <= 16

    def test_generate_with_num_predict_zero_still_counts_the_prompt(self, ollama_server: str) -> None:
        body = {"model": MODEL, "prompt": "Count me.", "options": {"num_predict": 0}, "stream": False}
        reply = httpx.post(f"{ollama_server}/api/generate", json=body, timeout=60).json()
        assert reply["done"] is True
        assert reply["response"] == ""
        assert reply["prompt_eval_count"] > 0
        assert reply["eval_count"] == 0

    def test_unknown_model_is_404_with_ollamas_error(self, ollama_server: str) -> None:
        for path in ("/api/chat", "/api/generate", "/api/embed"):
            response = httpx.post(f"{ollama_server}{path}", json={"model": "nope:1b"}, timeout=10)
            assert response.status_code == 404
            assert response.json() == {"error": 'model "nope:1b" not found, try pulling it first'}

    def test_tags_and_version(self, ollama_server: str) -> None:
        with ollama.Client(host=ollama_server) as client:
            listed = client.list()
        assert {model.model for model in listed.models} == {"llama3.1:8b", "phi3:mini"}
        assert all(model.size and model.details and model.details.format == "gguf" for model in listed.models)
        assert httpx.get(f"{ollama_server}/api/version", timeout=10).json()["version"]

    def test_format_json_constrains_the_reply(self, ollama_server: str) -> None:
        with ollama.Client(host=ollama_server) as client:
            reply = client.chat(
                model=MODEL,
                messages=[{"role": "user", "content": 'Reply with the JSON object {"ok": true} only.'}],
                format="json",
                options={"temperature": 0, "num_predict": 64},
                stream=False,
            )
        assert reply.done_reason == "stop", "the object should be closed well before 64 tokens"
        assert isinstance(json.loads(reply.message.content or ""), dict)

    def test_a_streamed_format_reply_is_json_with_real_counts(self, ollama_server: str) -> None:
        body = {
            "model": MODEL,
            "messages": [{"role": "user", "content": "Is water wet?"}],
            "format": YesNo.model_json_schema(),
            "options": {"temperature": 0, "num_predict": 32},
        }
        with httpx.stream("POST", f"{ollama_server}/api/chat", json=body, timeout=60) as response:
            *pieces, last = [json.loads(line) for line in response.iter_lines()]
        YesNo.model_validate_json("".join(piece["message"]["content"] for piece in pieces))
        assert last["done"] is True and last["eval_count"] > 1 and last["prompt_eval_count"] > 0

    def test_embed_returns_one_unit_vector_per_input(self, ollama_server: str) -> None:
        with ollama.Client(host=ollama_server) as client:
            many = client.embed(model=MODEL, input=["revenue by region", "the sky is blue"]).embeddings
            one = client.embed(model=MODEL, input="revenue by region").embeddings
        assert len(many) == 2 and len(one) == 1
        assert len(many[0]) == len(many[1]) > 0
        assert all(math.isclose(math.hypot(*vector), 1.0, rel_tol=1e-3) for vector in many)
        assert list(many[0]) != list(many[1])
        assert one[0] == pytest.approx(many[0], abs=1e-4)


class TestChat:
    def test_reply_and_token_counts(self, provider: OllamaProvider) -> None:
        result = provider.chat(QUESTION, model=MODEL, max_tokens=16)
        assert result.text.strip()
        assert result.model == MODEL
        assert result.prompt_tokens > 0
        assert 0 < result.completion_tokens <= 16
        assert result.duration_s > 0

    def test_options_reach_the_server(self, provider: OllamaProvider, fake_ollama: FakeOllama) -> None:
        provider.chat(QUESTION, model="phi3:mini", max_tokens=8, temperature=0.3, stop=["."])
        path, body = fake_ollama.requests[-1]
        assert path == "/api/chat"
        assert body["stream"] is False
        assert body["options"] == {"temperature": 0.3, "num_predict": 8, "stop": ["."]}
        assert body["messages"] == [m.as_dict() for m in QUESTION]

    def test_structured_reply_validates(self, provider: OllamaProvider, fake_ollama: FakeOllama) -> None:
        question = [Message("user", 'Is water wet? Reply with JSON {"answer": "yes"} or {"answer": "no"}.')]
        answer = structured(provider.chat, question, YesNo, model=MODEL, max_tokens=32)
        assert answer.answer in {"yes", "no"}
        assert fake_ollama.requests[-1][1]["format"] == YesNo.model_json_schema()


class TestStream:
    def test_pieces_join_into_the_reply(self, provider: OllamaProvider, fake_ollama: FakeOllama) -> None:
        pieces = list(provider.stream(QUESTION, model=MODEL, max_tokens=16))
        assert len(pieces) > 1
        assert "".join(pieces).strip()
        assert fake_ollama.requests[-1][1]["stream"] is True

    def test_model_not_pulled(self, provider: OllamaProvider) -> None:
        with pytest.raises(ModelUnavailable, match=f"ollama pull {NOT_PULLED}"):
            list(provider.stream(QUESTION, model=NOT_PULLED, max_tokens=8))

    def test_server_down_says_start_ollama(self, connect: Connect, ollama_down: str) -> None:
        down = connect(ollama_down)
        with pytest.raises(ModelUnavailable, match="ollama serve"):
            list(down.stream(QUESTION, model=MODEL, max_tokens=8))


class TestCountTokens:
    def test_counts_through_a_zero_token_generate(
        self,
        provider: OllamaProvider,
        fake_ollama: FakeOllama,
    ) -> None:
        short = provider.count_tokens("revenue", model=MODEL)
        path, body = fake_ollama.requests[-1]
        longer = provider.count_tokens("total revenue by region and month for the last year", model=MODEL)
        assert 0 < short < longer
        assert path == "/api/generate"
        assert body["options"] == {"num_predict": 0}


class TestUnavailable:
    @pytest.mark.parametrize("call", ["chat", "count_tokens"])
    def test_model_not_pulled_is_503_with_the_pull_command(
        self, connect: Connect, fake_ollama: FakeOllama, call: str
    ) -> None:
        patient = connect(retries=2)
        before = len(fake_ollama.requests)
        with pytest.raises(ModelUnavailable) as raised:
            if call == "chat":
                patient.chat(QUESTION, model=NOT_PULLED, max_tokens=8)
            else:
                patient.count_tokens("hello", model=NOT_PULLED)
        assert raised.value.status == 503
        assert f"`ollama pull {NOT_PULLED}`" in raised.value.detail
        assert len(fake_ollama.requests) - before == 1, "a missing model must not be retried"

    @pytest.mark.parametrize(("retries", "waits"), [(0, 0.0), (1, 0.2), (2, 0.6)])
    def test_server_down_retries_with_backoff_then_503(
        self, connect: Connect, ollama_down: str, retries: int, waits: float
    ) -> None:
        down = connect(ollama_down, retries=retries, backoff_s=0.2)
        started = time.monotonic()
        with pytest.raises(ModelUnavailable) as raised:
            down.chat(QUESTION, model=MODEL, max_tokens=8)
        elapsed = time.monotonic() - started
        assert raised.value.status == 503
        assert "ollama serve" in raised.value.detail and ollama_down in raised.value.detail
        assert waits <= elapsed < waits + 2

    def test_each_retry_is_a_new_connection_attempt(self, connect: Connect, ollama_hang_up: HangUp) -> None:
        flaky = connect(ollama_hang_up.url, retries=2)
        with pytest.raises(ModelUnavailable, match="not answering"):
            flaky.chat(QUESTION, model=MODEL, max_tokens=8)
        assert ollama_hang_up.connections == 3

    def test_a_server_error_is_retried(self, connect: Connect, fake_ollama: FakeOllama) -> None:
        patient = connect(retries=1)
        before = len(fake_ollama.requests)
        fake_ollama.fail_next(1, status=500)
        assert patient.chat(QUESTION, model=MODEL, max_tokens=8).text
        assert len(fake_ollama.requests) - before == 2

    def test_a_lasting_server_error_is_503(self, connect: Connect, fake_ollama: FakeOllama) -> None:
        patient = connect(retries=1)
        fake_ollama.fail_next(2, status=500)
        with pytest.raises(ModelUnavailable, match="refused the request") as raised:
            patient.chat(QUESTION, model=MODEL, max_tokens=8)
        assert raised.value.status == 503
        assert "llama runner process has terminated" in raised.value.detail

    def test_a_client_error_is_not_retried(self, connect: Connect, fake_ollama: FakeOllama) -> None:
        patient = connect(retries=2)
        before = len(fake_ollama.requests)
        fake_ollama.fail_next(1, status=400)
        with pytest.raises(ModelUnavailable, match="refused the request"):
            patient.chat(QUESTION, model=MODEL, max_tokens=8)
        assert len(fake_ollama.requests) - before == 1
