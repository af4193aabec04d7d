"""Which provider and model serves each role, and the metered calls the rest of Nexus makes.

Each role (router, planner, analyst, reviewer, narrator) names ``provider:model`` in settings
(``NEXUS_LLM_ROUTER=ollama:llama3.1:8b``); a role left unset uses ``NEXUS_LLM_PROVIDER`` with that
provider's default (the embedded model for every role; Ollama: llama3.1:8b, phi3:mini for review).
Every call is counted in ``nexus_llm_*`` metrics by provider, model, role and outcome.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from nexus.config import LLMSettings
from nexus.errors import NexusError
from nexus.llm.base import (
    ChatResult,
    Message,
    ModelOutputInvalid,
    ModelUnavailable,
    Provider,
    Role,
    structured,
)
from nexus.llm.embedded import EmbeddedProvider
from nexus.llm.ollama_provider import DEFAULT_MODELS, OllamaProvider
from nexus.observability.metrics import LLM_DURATION, LLM_REQUESTS, LLM_TOKENS

T = TypeVar("T", bound=BaseModel)


@dataclass(frozen=True)
class Assignment:
    """The provider and model serving a role."""

    provider: str
    model: str


def assignment(settings: LLMSettings, role: Role) -> Assignment:
    """Return who serves a role, from its own setting or the default provider."""
    configured: str | None = getattr(settings, f"llm_{role}")
    if configured:
        provider, _, model = configured.partition(":")
        if provider not in {"embedded", "ollama"} or not model:
            raise ValueError(
                f"NEXUS_LLM_{role.upper()} must look like 'ollama:llama3.1:8b' "
                "or 'embedded:qwen2.5-coder-1.5b'."
            )
        return Assignment(provider, model)
    if settings.llm_provider == "ollama":
        return Assignment("ollama", DEFAULT_MODELS[role])
    return Assignment("embedded", settings.embedded_model)


class Models:
    """The language models of one process: providers built once, calls metered."""

    def __init__(self, settings: LLMSettings, data_dir: Path) -> None:
        self.settings = settings
        self._providers: dict[str, Provider] = {}
        self._data_dir = data_dir

    def provider(self, name: str) -> Provider:
        """Return a provider by name, built on first use."""
        found = self._providers.get(name)
        if found is None:
            if name == "ollama":
                found = OllamaProvider(
                    self.settings.ollama_host,
                    timeout_s=self.settings.llm_timeout_s,
                    retries=self.settings.ollama_retries,
                )
            else:
                found = EmbeddedProvider(
                    self._data_dir / "models",
                    threads=self.settings.llm_threads,
                    context_tokens=self.settings.llm_context_tokens,
                )
            self._providers[name] = found
        return found

    def close(self) -> None:
        """Close providers that hold connections (Ollama's HTTP client)."""
        for provider in self._providers.values():
            close = getattr(provider, "close", None)
            if close is not None:
                close()
        self._providers.clear()

    def chat(
        self,
        role: Role,
        messages: Sequence[Message],
        *,
        schema: dict[str, Any] | None = None,
        temperature: float = 0.0,
        max_tokens: int | None = None,
        stop: Sequence[str] = (),
    ) -> ChatResult:
        """Send a chat to the role's model, counting it."""
        who = assignment(self.settings, role)
        started = time.perf_counter()
        outcome = "error"
        try:
            result = self.provider(who.provider).chat(
                messages,
                model=who.model,
                schema=schema,
                temperature=temperature,
                max_tokens=max_tokens or self.settings.llm_max_tokens,
                stop=stop,
            )
            outcome = "ok"
        except ModelUnavailable:
            outcome = "unavailable"
            raise
        finally:
            LLM_REQUESTS.labels(who.provider, who.model, role, outcome).inc()
            LLM_DURATION.labels(who.model, role).observe(time.perf_counter() - started)
        LLM_TOKENS.labels(who.model, "prompt").inc(result.prompt_tokens)
        LLM_TOKENS.labels(who.model, "completion").inc(result.completion_tokens)
        return result

    def structured(self, role: Role, messages: Sequence[Message], answer_type: type[T], **options: Any) -> T:
        """Ask the role's model for JSON fitting ``answer_type`` (one retry with the error)."""

        def chat(conversation: Sequence[Message], **kwargs: Any) -> ChatResult:
            return self.chat(role, conversation, **kwargs)

        try:
            return structured(chat, messages, answer_type, **options)
        except ModelOutputInvalid:
            who = assignment(self.settings, role)
            LLM_REQUESTS.labels(who.provider, who.model, role, "invalid_output").inc()
            raise

    def stream(self, role: Role, messages: Sequence[Message], **options: Any) -> Iterator[str]:
        """Yield the role's model's reply as it is written."""
        who = assignment(self.settings, role)
        started = time.perf_counter()
        outcome = "error"
        pieces = 0
        try:
            options.setdefault("max_tokens", self.settings.llm_max_tokens)
            for piece in self.provider(who.provider).stream(messages, model=who.model, **options):
                pieces += 1
                yield piece
            outcome = "ok"
        except NexusError:
            outcome = "unavailable"
            raise
        finally:
            LLM_REQUESTS.labels(who.provider, who.model, role, outcome).inc()
            LLM_DURATION.labels(who.model, role).observe(time.perf_counter() - started)
            LLM_TOKENS.labels(who.model, "completion").inc(pieces)
