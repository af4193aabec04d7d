"""The provider protocol, messages and results, and structured output through a JSON schema.

A provider does three things: chat (optionally constrained to a JSON schema), stream a chat token by
token, and count tokens. Everything a model is asked to decide comes back through ``structured``:
the reply must parse and validate against a pydantic model; a reply that does not is sent back once
with the validation error, and a second failure is reported (502), never guessed around.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from nexus.errors import NexusError, ServiceUnavailable

Role = Literal["router", "planner", "analyst", "reviewer", "narrator"]
ROLES: tuple[Role, ...] = ("router", "planner", "analyst", "reviewer", "narrator")


@dataclass(frozen=True)
class Message:
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str

    def as_dict(self) -> dict[str, str]:
        """Return the message as the chat APIs take it."""
        return {"role": self.role, "content": self.content}


@dataclass
class ChatResult:
    """A model's reply and what it cost."""

    text: str
    model: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    duration_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    """What every model provider offers."""

    name: str

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
        """Return the reply to a chat; with a schema the reply is JSON that fits it."""
        ...

    def stream(
        self,
        messages: Sequence[Message],
        *,
        model: str,
        temperature: float = 0.0,
        max_tokens: int = 512,
        stop: Sequence[str] = (),
    ) -> Iterator[str]:
        """Yield the reply to a chat piece by piece."""
        ...

    def count_tokens(self, text: str, *, model: str) -> int:
        """Return how many tokens the model reads in a text."""
        ...


class ModelUnavailable(ServiceUnavailable):
    """The model server is down, or the model is not there; ``detail`` says what to do."""

    type_slug = "model-unavailable"


class ModelOutputInvalid(NexusError):
    """A model's reply did not fit the schema twice in a row."""

    status = 502
    type_slug = "model-output-invalid"


T = TypeVar("T", bound=BaseModel)


def structured(
    chat: Any,
    messages: Sequence[Message],
    answer_type: type[T],
    **options: Any,
) -> T:
    """Ask for a reply that fits ``answer_type``'s JSON schema; retry once with the error, then fail.

    ``chat`` is a callable taking (messages, schema=..., **options) and returning a ChatResult.
    """
    schema = answer_type.model_json_schema()
    conversation = list(messages)
    error: ValidationError | None = None
    for _ in range(2):
        result: ChatResult = chat(conversation, schema=schema, **options)
        try:
            return answer_type.model_validate_json(result.text)
        except ValidationError as invalid:
            error = invalid
            conversation += [
                Message("assistant", result.text),
                Message(
                    "user",
                    "That reply does not fit the JSON schema: "
                    + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in invalid.errors()[:5])
                    + ". Reply again with only JSON that fits the schema.",
                ),
            ]
    raise ModelOutputInvalid(
        f"The model's reply did not fit the expected {answer_type.__name__} twice "
        f"({error.error_count() if error else 0} problem(s) the second time).",
    )
