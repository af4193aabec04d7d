"""Names for tables and columns: unique, readable, and safe to quote."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_UNSAFE = re.compile(r"[^\w]+", re.UNICODE)
MAX_NAME = 63


def clean_name(text: str, fallback: str) -> str:
    """Return a lower-case identifier-like form of a header or sheet name, or the fallback."""
    normal = unicodedata.normalize("NFKC", text or "").strip().lower()
    normal = _UNSAFE.sub("_", normal).strip("_")[:MAX_NAME].rstrip("_")
    if not normal or normal.startswith("__nexus"):
        return fallback
    return normal if not normal[0].isdigit() else f"c_{normal}"[:MAX_NAME]


def unique_names(headers: Iterable[str | None], prefix: str = "column") -> list[str]:
    """Turn headers into unique clean names: duplicates get _2, _3...; empty ones column_<n>."""
    taken: set[str] = set()
    names: list[str] = []
    for position, header in enumerate(headers, start=1):
        base = clean_name(header or "", f"{prefix}_{position}")
        name, counter = base, 2
        while name in taken:
            name = f"{base}_{counter}"[: MAX_NAME + 4]
            counter += 1
        taken.add(name)
        names.append(name)
    return names


def quote(identifier: str) -> str:
    """Quote an identifier for DuckDB SQL."""
    return '"' + identifier.replace('"', '""') + '"'
