"""Answers in a format the question asks for: ``@name[value]`` placeholders, rounded as told.

Benchmarks and scripts write questions like "... Provide the answer as @mean_fare[mean_fare_value],
rounded to two decimal places". When the result holds exactly the values asked for, the answer ends
with them in that format; otherwise nothing is added (a value is never made up to fill one).
"""

from __future__ import annotations

import re
from typing import Any

_PLACEHOLDER = re.compile(r"@(\w+)\[")
_DECIMALS = re.compile(r"round\w*(?: off)?(?: the \w+)?(?: \w+)? to (\w+) decimal", re.IGNORECASE)
_WORDS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6}


def requested(question: str) -> list[str]:
    """Return the placeholder names a question asks for, in order, once each."""
    return list(dict.fromkeys(_PLACEHOLDER.findall(question)))


def _decimals(question: str) -> int | None:
    match = _DECIMALS.search(question)
    if match is None:
        return None
    word = match.group(1).lower()
    return int(word) if word.isdigit() else _WORDS.get(word)


def _shown(value: Any, decimals: int | None) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if decimals is not None:
        return f"{value:.{decimals}f}"
    return str(value)


def fill(question: str, result: dict[str, Any] | None) -> str | None:
    """Return the ``@name[value]`` line for a result, or None when it does not hold the values."""
    names = requested(question)
    rows = (result or {}).get("rows") or []
    if not names:
        return None
    columns = [column.get("name") for column in (result or {}).get("columns") or []]
    if columns == ["key", "value"] and all(len(row) == 2 for row in rows):
        # the analyst's dict results: {"mean_fare": 34.65, "median_fare": 14.45}
        named = {str(row[0]): row[1] for row in rows}
        if all(name in named for name in names):
            decimals = _decimals(question)
            return " ".join(f"@{name}[{_shown(named[name], decimals)}]" for name in names)
    if len(rows) != 1:
        return None
    row = rows[0]
    numbers = [cell for cell in row if isinstance(cell, (int, float)) and not isinstance(cell, bool)]
    if len(names) == 1:
        values = [numbers[-1]] if numbers else ([row[-1]] if len(row) == 1 else [])
    elif len(names) == len(row):
        values = list(row)
    else:
        return None
    if len(values) != len(names):
        return None
    decimals = _decimals(question)
    return " ".join(f"@{name}[{_shown(value, decimals)}]" for name, value in zip(names, values, strict=True))
