"""The Ollama provider: the official ``ollama`` client against ``NEXUS_OLLAMA_HOST``.

Structured output uses Ollama's ``format=<JSON schema>``. A server that cannot be reached is retried
with backoff (``NEXUS_OLLAMA_RETRIES``), then reported as 503 ``model-unavailable``; a model that is
not pulled is reported at once with the ``ollama pull`` to run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import httpx
import ollama

from nexus.llm.base import ChatResult, Message, ModelUnavailable

T = TypeVar("T")

# Defaults per role when a role names the provider but not the model (the seed's two-model review).
DEFAULT_MODELS = {
    "router": "llama3.1:8b",
    "planner": "llama3.1:8b",
    "analyst": "llama3.1:8b",
    "reviewer": "phi3:mini",
    "narrator": "llama3.1:8b",
}


class OllamaProvider:
    """Chat with models served by Ollama."""

    name = "ollama"

    def __init__(self, host: str, *, timeout_s: float, retries: int, backoff_s: float = 0.5) -> None:
        self.host = host
        self.retries = retries
        self.backoff_s = backoff_s
        self.client = ollama.Client(host=host, timeout=timeout_s)

    def _call(self, model: str, request: Callable[[], T]) -> T:
        delay = self.backoff_s
        for attempt in range(self.retries + 1):
            try:
                return request()
            except ollama.ResponseError as error:
                if error.status_code == 404:
                    raise ModelUnavailable(
                        f"Ollama at {self.host} does not have the model {model!r}; "
                        f"run `ollama pull {model}`.",
                        model=model,
                    ) from None
                if error.status_code < 500 or attempt == self.retries:
                    raise ModelUnavailable(
                        f"Ollama at {self.host} refused the request for {model!r}: {str(error.error)[:200]}",
                        model=model,
                    ) from None
            except (ConnectionError, httpx.TransportError):
                if attempt == self.retries:
                    raise ModelUnavailable(
                        f"Ollama is not answering at {self.host} (NEXUS_OLLAMA_HOST); "
                        "start it with `ollama serve`.",
                        model=model,
                    ) from None
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _options(temperature: float, max_tokens: int, stop: Sequence[str]) -> dict[str, Any]:
        options: dict[str, Any] = {"temperature": temperature, "num_predict": max_tokens}
        if stop:
            options["stop"] = list(stop)
        return options

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
        """Return the reply; with a schema Ollama constrains it to JSON that fits."""
        started = time.perf_counter()
        reply = self._call(
            model,
            lambda: self.client.chat(
                model=model,
                messages=[m.as_dict() for m in messages],
                format=schema,
                options=self._options(temperature, max_tokens, stop),
                stream=False,
            ),
        )
        return ChatResult(
            text=reply.message.content or "",
            model=model,
            prompt_tokens=int(reply.prompt_eval_count or 0),
            completion_tokens=int(reply.eval_count or 0),
            duration_s=time.perf_counter() - started,
        )

    def stream(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply as Ollama streams it (NDJSON)."""

        def start() -> tuple[Any, Any]:
            # The client sends nothing until the stream is read: read the first chunk here, so that a
            # missing model or a server that is down is reported (and retried) like any request.
            chunks = self.client.chat(
                model=model,
                messages=[m.as_dict() for m in messages],
                options=self._options(temperature, max_tokens, stop),
                stream=True,
            )
            iterator = iter(chunks)
            return iterator, next(iterator, None)

        chunks, first = self._call(model, start)
        try:
            if first is not None and first.message.content:
                yield first.message.content
            for chunk in chunks:
                if chunk.message.content:
                    yield chunk.message.content
        except (ConnectionError, httpx.TransportError, ollama.ResponseError):
            raise ModelUnavailable(
                f"Ollama at {self.host} stopped answering mid-reply.", model=model
            ) from None

    def embed(self, texts: Sequence[str], *, model: str) -> list[list[float]]:
        """Return one embedding per text (Ollama's /api/embed)."""
        reply = self._call(model, lambda: self.client.embed(model=model, input=list(texts)))
        return [list(vector) for vector in reply.embeddings]

    def close(self) -> None:
        """Close the client's connections."""
        self.client._client.close()

    def count_tokens(self, text: str, *, model: str) -> int:
        """Return the prompt token count Ollama reports for a text (one short generate call)."""
        reply = self._call(
            model,
            lambda: self.client.generate(model=model, prompt=text, options={"num_predict": 0}, stream=False),
        )
        return int(reply.prompt_eval_count or 0)
