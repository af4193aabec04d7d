"""Remove secrets (passwords, tokens, Authorization headers) from anything about to leave the process."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

_SECRET_KEY = re.compile(
    r"pass(word|wd)?|secret|token|authori[sz]ation|cookie|api[_-]?key|credential|dsn|private[_-]?key",
    re.IGNORECASE,
)
_SECRET_PARAM = r"[A-Za-z0-9_.-]*(?:pass(?:word|wd)?|secret|token|authori[sz]ation|api[_-]?key|credential)"
_SECRET_VALUE = re.compile(
    r"(?P<bearer>\b(?:(?i:bearer)|Basic)\s+)[A-Za-z0-9._~+/=-]+"
    # name=value pairs of query strings and form bodies (?token=..., &password=...)
    rf"|(?P<param>(?<![A-Za-z0-9_.-])(?i:{_SECRET_PARAM})[A-Za-z0-9_.-]*=)[^&#\s'\"]+"
    r"|eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
    r"|nxr_[A-Za-z0-9_-]{8,}",
)


def is_secret_key(key: object) -> bool:
    """Whether a mapping key names something secret."""
    if isinstance(key, bytes | bytearray):  # ASGI header names
        key = bytes(key).decode("latin-1")
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def redact_text(text: str) -> str:
    """Blank out bearer credentials, JWTs, refresh tokens and secret name=value pairs inside free text."""
    return _SECRET_VALUE.sub(lambda m: (m.group("bearer") or m.group("param") or "") + REDACTED, text)


def redact(value: Any, *, depth: int = 0) -> Any:
    """Return a copy of a value with secret keys and secret-looking strings blanked."""
    if depth > 12:
        return REDACTED  # too deep to inspect: fail closed
    if isinstance(value, dict):
        return {
            key: REDACTED if is_secret_key(key) and item not in (None, "") else redact(item, depth=depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        items = [redact(item, depth=depth + 1) for item in value]
        # Header lists arrive as [name, value] pairs.
        if len(items) == 2 and is_secret_key(items[0]) and isinstance(items[1], str | bytes | bytearray):
            items[1] = REDACTED
        return type(value)(items) if isinstance(value, tuple) else items
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bytes | bytearray):  # ASGI headers and raw bodies
        return redact_text(bytes(value).decode("latin-1"))
    return value
