"""Follow-up questions: "and by region?", "only for 2024", "what about Europe?" reuse the last plan.

A follow-up is recognised by how it starts (and, also, only, what about, by, per, in, for...) and
by being short. It is parsed like any question; the pieces it names (groupings, filters, a period, a
limit) are laid over the previous plan, whose measures stay unless the follow-up names new ones.
"""

from __future__ import annotations

import re
from typing import Any

from nexus.query import lexicon as lx
from nexus.query.parser import ParseResult
from nexus.query.spec import QuerySpec

_CUE = re.compile(
    r"^\s*(?:and|also|plus|what about|how about|now|only|just|same|but|then|instead|break (?:it|that|this) "
    r"down|split (?:it|that|this)|by|per|for|in|without|excluding|except|limit(?:ed)? to)\b",
    re.IGNORECASE,
)
MAX_FOLLOWUP_WORDS = 10


def is_followup(question: str) -> bool:
    """Return whether a question reads as a continuation of the previous one."""
    return bool(_CUE.match(question)) and len(question.split()) <= MAX_FOLLOWUP_WORDS


def merge(previous: dict[str, Any], fragment: ParseResult, question: str) -> QuerySpec | None:
    """Return the previous plan with the follow-up's pieces laid over it, or None if they don't fit."""
    try:
        base = QuerySpec.model_validate(previous)
    except ValueError:
        return None
    if base.reconcile is not None:
        return None
    spec = fragment.spec
    if spec is None:
        return None
    words = set(re.findall(r"[a-z]+", question.lower()))
    names_measure = bool(words & (set(lx.AGGREGATE_WORDS) | lx.COUNT_WORDS | lx.SHARE_WORDS)) or any(
        m.column is not None for m in spec.measures
    )
    replace_groups = bool(words & {"instead", "rather"})
    dimensions = list(base.dimensions)
    if spec.dimensions:
        dimensions = (
            list(spec.dimensions)
            if replace_groups
            else dimensions + [d for d in spec.dimensions if d not in dimensions]
        )
    touched = {f.column for f in spec.filters}
    filters = [f for f in base.filters if f.column not in touched] + list(spec.filters)
    update: dict[str, Any] = {
        "dimensions": dimensions,
        "filters": filters,
        "time": spec.time or base.time,
        "limit": spec.limit if spec.limit is not None else base.limit,
        "order": spec.order or base.order,
    }
    if names_measure and spec.measures:
        update["measures"] = spec.measures
    if spec.dimensions and base.growth is None and base.compare is None:
        update["order"] = spec.order
    tables = list(dict.fromkeys([*base.tables, *spec.tables]))
    update["tables"] = tables
    update["joins"] = list({j.model_dump_json(): j for j in [*base.joins, *spec.joins]}.values())
    try:
        return QuerySpec.model_validate({**base.model_dump(), **{k: _dump(v) for k, v in update.items()}})
    except ValueError:
        return None


def _dump(value: Any) -> Any:
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return value
