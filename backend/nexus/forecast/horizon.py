"""How far ahead a question asks to forecast, counted in periods of the series' grain."""

from __future__ import annotations

import math
import re

from nexus.forecast.series import DAYS, Grain

_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "eighteen": 18,
    "twenty": 20,
    "twenty-four": 24,
    "twenty four": 24,
    "thirty": 30,
    "couple of": 2,
    "few": 3,
}
_UNIT_DAYS = {
    "day": DAYS["day"],
    "week": DAYS["week"],
    "fortnight": 2 * DAYS["week"],
    "month": DAYS["year"] / 12,
    "quarter": DAYS["year"] / 4,
    "year": DAYS["year"],
    "decade": 10 * DAYS["year"],
}
_GRAIN_DAYS = {
    "day": 1.0,
    "week": 7.0,
    "month": DAYS["year"] / 12,
    "quarter": DAYS["year"] / 4,
    "year": DAYS["year"],
}

_NUMBER = r"(?P<number>\d+(?:\.\d+)?|" + "|".join(sorted(map(re.escape, _WORDS), key=len, reverse=True)) + ")"
_UNIT = r"(?P<unit>day|week|fortnight|month|quarter|year|decade|period|step|point)s?\b"
_PATTERNS = tuple(
    re.compile(pattern, re.IGNORECASE)
    for pattern in (
        rf"\b(?:next|coming|following|upcoming)\s+(?:{_NUMBER}\s+)?{_UNIT}",
        rf"\b{_NUMBER}\s+{_UNIT}\s+(?:ahead|out|forward|from now|into the future|in advance)",
        rf"\b(?:forecast|predict|project)\w*\s+(?:\w+\s+){{0,4}}?(?:for|over)\s+(?:the\s+)?{_NUMBER}\s+{_UNIT}",
        rf"\b(?:forecast|predict|project)\w*\s+(?:the\s+)?{_NUMBER}\s+{_UNIT}",
    )
)
_SLACK = 0.25
"""A conversion a quarter of a period over a whole number rounds down (52.2 weeks in a year: 52)."""


def _amount(text: str | None) -> float:
    if text is None:
        return 1.0
    word = " ".join(text.lower().split())
    return float(_WORDS[word]) if word in _WORDS else float(word)


def parse_horizon(text: str, grain: Grain) -> int | None:
    """Return the periods of ``grain`` the text asks for ("next 6 months" -> 6), or None if none.

    Units other than the grain are converted and rounded up to cover what was asked ("next 6 weeks"
    at the month grain is 2 months, "next year" at the week grain is 52 weeks).
    """
    for pattern in _PATTERNS:
        match = pattern.search(text)
        if match is None:
            continue
        amount = _amount(match.group("number"))
        unit = match.group("unit").lower()
        if amount <= 0:
            continue
        if unit in {"period", "step", "point"}:
            return max(1, math.ceil(amount))
        periods = amount * _UNIT_DAYS[unit] / _GRAIN_DAYS[grain]
        return max(1, math.ceil(periods - _SLACK))
    return None
