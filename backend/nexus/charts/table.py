"""Read a query result into fields a chart can encode: measures, time axes, ordered and plain categories.

Results come typed in two vocabularies: the catalog's (``integer``, ``number``, ``text``, ``boolean``,
``date``, ``datetime``...) from the sandbox and the datasets, and DuckDB's own (``BIGINT``,
``DECIMAL(18,2)``, ``TIMESTAMP WITH TIME ZONE``...) from the SQL executor. Both are read the same
way, then refined from names, roles and values: a ``year`` integer is an ordered time axis, month
names sort as a calendar, ISO text is a date, ``revenue`` is money, a ``share`` in [0, 1] is a
percentage.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

FieldKind = Literal["quantitative", "temporal", "ordinal", "nominal"]

_INTEGERS = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "INT", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER"}
    | {"UBIGINT", "UHUGEINT", "INT2", "INT4", "INT8"}
)
_FLOATS = frozenset({"FLOAT", "DOUBLE", "REAL", "FLOAT4", "FLOAT8"})
_OURS = frozenset({"integer", "number", "text", "boolean", "date", "datetime", "time", "duration"})
_LABEL_CHARS = 80
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_SHORT = {
    "avg": "average",
    "pct": "percent",
    "qty": "quantity",
    "amt": "amount",
    "cnt": "count",
    "num": "number",
}
_ISO = re.compile(r"^\d{4}-\d{2}(-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}(:?\d{2})?)?)?)?$")
_MONTHS = (
    "january", "february", "march", "april", "may", "june",
    "july", "august", "september", "october", "november", "december",
)  # fmt: skip
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_QUARTER = re.compile(r"^(?:(\d{4})[-\s]?q([1-4])|q([1-4])(?:[-\s]?(\d{4}))?)$", re.IGNORECASE)
_LEADING_NUMBER = re.compile(r"^[<>≤≥]?\s*(-?\d+(?:\.\d+)?)")
_TIME_NAMES: tuple[tuple[re.Pattern[str], int, int], ...] = (
    (re.compile(r"(^|_)(year|yr|fy|fiscal_year|years)$"), 1000, 2999),
    (re.compile(r"(^|_)(month|mon|mth|month_of_year)$"), 1, 12),
    (re.compile(r"(^|_)(quarter|qtr|q)$"), 1, 4),
    (re.compile(r"(^|_)(week|wk|week_of_year|iso_week)$"), 0, 53),
    (re.compile(r"(^|_)(day|day_of_month|dom)$"), 1, 31),
    (re.compile(r"(^|_)(dow|weekday|day_of_week|isodow)$"), 0, 7),
    (re.compile(r"(^|_)(hour|hr|hour_of_day)$"), 0, 23),
)
_ID_NAME = re.compile(r"(^|_)(id|key|code|no|uuid|ref|sku|zip|zipcode|postcode)$|^(id|uuid|key)_")
_MONEY = re.compile(
    r"amount|amt|price|cost|revenue|sales|spend|spent|income|profit|salary|salaries|wage|fee|payment|"
    r"paid|balance|budget|gmv|arpu|usd|eur|gbp|dollar|\$|€|£"
)
_NOT_MONEY = re.compile(r"count|qty|quantity|number|num_|_num|(^|_)n(_|$)|pct|percent|share|rate|ratio|units")
_PERCENT = re.compile(r"share|pct|percent|percentage|rate|ratio|proportion|fraction|%")
_AVERAGED = re.compile(
    r"(^|_)(avg|average|mean|median|min|max|minimum|maximum|std|stddev|var|per)(_|$)|"
    r"pct|percent|rate|ratio|share|proportion|score|rating"
)
_AGGREGATE = re.compile(r"(^|_)(count|cnt|n|num|total|sum|avg|mean|median|amount|value|freq|frequency)(_|$)")


@dataclass(frozen=True)
class Field:
    """One column as a chart sees it."""

    index: int
    """Position in the result's rows."""
    name: str
    key: str
    """The name in the inlined data: letters, digits and underscores, so Vega-Lite reads no path in it."""
    label: str
    kind: FieldKind
    role: str
    timelike: bool = False
    """A time axis: dates, or ordered years, months, quarters."""
    order: tuple[Any, ...] = ()
    """The order of an ordinal field's values."""
    money: bool = False
    fraction: bool = False
    """A percentage held as a fraction (0.25 for 25 %)."""
    averaged: bool = False
    """Values that do not add up (averages, rates, maxima)."""
    integer: bool = False
    distinct: int = 0
    label_chars: float = 0.0
    """The mean length of the values' text (categories)."""
    low: float = 0.0
    high: float = 0.0

    @property
    def dimension(self) -> bool:
        """Return whether the field groups rows (anything but a measure)."""
        return self.kind != "quantitative"


@dataclass(frozen=True)
class Table:
    """A result's usable fields and its rows, values already cleaned to each field's kind."""

    fields: tuple[Field, ...]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


def humanize(name: str) -> str:
    """Return a column name as words: ``total_revenue`` and ``totalRevenue`` read ``Total revenue``."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])", " ", name.strip())
    if words != name.strip():
        words = words.lower()
    words = re.sub(r"[_\s]+", " ", words).strip()
    words = " ".join(_SHORT.get(word.casefold(), word) for word in words.split(" "))
    return (words[:1].upper() + words[1:]) if words else name


def base_type(declared: str) -> str:
    """Return a column's type in the catalog's words, from either vocabulary."""
    text = str(declared or "").strip()
    if text.lower() in _OURS:
        return text.lower()
    upper = text.upper()
    if upper.endswith("]") or upper.startswith(("STRUCT", "MAP", "UNION", "LIST")):
        return "nested"
    if upper in {"BOOLEAN", "BOOL"}:
        return "boolean"
    if upper in _INTEGERS:
        return "integer"
    if upper in _FLOATS or upper.startswith(("DECIMAL", "NUMERIC")):
        return "number"
    if upper == "DATE":
        return "date"
    if upper.startswith("TIMESTAMP") or upper == "DATETIME":
        return "datetime"
    if upper.startswith("TIME"):
        return "time"
    if upper == "INTERVAL":
        return "duration"
    return "text"


def _number(value: Any) -> float | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        if abs(value) <= 2**53:
            return value
        return float(value) if abs(value) < 1e308 else None  # beyond what a JavaScript number holds
    if isinstance(value, float):
        if abs(value) < sys.float_info.min:
            return 0.0  # subnormal: Vega's ticks cannot span such a domain and the chart fails
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip().replace(",", ""))
        except ValueError:
            return None
        return _number(number)
    return None


def parse_time(value: Any) -> dt.datetime | None:
    """Return a date or ISO 8601 text as a datetime (None when it is neither)."""
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, str) or not _ISO.match(value.strip()):
        return None
    text = value.strip()
    if len(text) == 7:
        text += "-01"
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def time_text(moment: dt.datetime) -> str:
    """Return a time as Vega-Lite reads it in local time (a bare ISO date would be read as UTC)."""
    return moment.isoformat(timespec="seconds")


def scrub(text: str) -> str:
    """Return text without the characters XML cannot hold (they crash the renderer)."""
    return _NOT_XML.sub("", text)


def clean_label(text: str) -> str:
    """Return a label that is safe as a title: one line, no backslash.

    Vega-Lite writes titles into its tooltip expressions unescaped; a line break or a backslash
    there makes the expression fail to parse and the chart fail to draw.
    """
    return " ".join(scrub(text).replace("\\", "\u2216").split())


def _category(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = scrub(str(value))
    # Axis labels show a few dozen characters at most; longer text only bloats the inline data.
    return text if len(text) <= _LABEL_CHARS else text[: _LABEL_CHARS - 1] + "…"


def _key(name: str, taken: set[str]) -> str:
    key = re.sub(r"[^0-9A-Za-z_]+", "_", name).strip("_") or "column"
    if key[0].isdigit():
        key = "c_" + key
    wanted, number = key, 2
    while key.casefold() in taken:
        key = f"{wanted}_{number}"
        number += 1
    taken.add(key.casefold())
    return key


def _named(pattern: re.Pattern[str], name: str, label: str) -> bool:
    """Return whether a column's name (camelCase read as snake_case) or label matches a pattern."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()
    return any(pattern.search(re.sub(r"[\s-]+", "_", text.strip())) for text in (snake, label.lower()))


def _names(text: str, name: str) -> bool:
    """Return whether text is a month or weekday name, in full or shortened ("Sep", "Sept.", "Tues")."""
    text = text.rstrip(".")
    return len(text) >= 3 and name.startswith(text)


def _ordered_text(values: Sequence[str]) -> tuple[tuple[Any, ...], bool] | None:
    """Return the natural order of text values that have one (months, weekdays, quarters, bands)."""
    folded = [v.strip().casefold() for v in values]
    for names in (_MONTHS, _DAYS):
        positions = [next((i for i, n in enumerate(names) if _names(v, n)), -1) for v in folded]
        if all(p >= 0 for p in positions):
            return tuple(v for _, v in sorted(zip(positions, values, strict=True))), True
    quarters = [_QUARTER.match(v) for v in folded]
    if all(quarters):
        keys = [(int(m[1] or m[4] or 0), int(m[2] or m[3])) for m in quarters if m]
        return tuple(v for _, v in sorted(zip(keys, values, strict=True))), True
    leading = [_LEADING_NUMBER.match(v) for v in folded]
    if all(leading) and any(_number(v) is None for v in values):
        bands = [(float(m[1]), v.startswith((">", "≥"))) for m, v in zip(leading, folded, strict=True) if m]
        return tuple(v for _, v in sorted(zip(bands, values, strict=True))), False
    return None


def _kind_of(base: str, values: list[Any], role: str | None) -> FieldKind | None:
    """Return the kind the values support (None: nothing a chart can draw)."""
    present = [v for v in values if v is not None]
    if not present or base == "nested" or any(isinstance(v, (dict, list)) for v in present):
        return None
    numbers = [_number(v) for v in present]
    if base in {"integer", "number", "duration"} and all(n is not None for n in numbers):
        return "nominal" if role in {"id", "category", "boolean"} else "quantitative"
    if base in {"date", "datetime"} or role in {"date", "datetime"} or base == "text":
        if all(parse_time(v) is not None for v in present):
            return "temporal"
    if base == "text" and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "quantitative" if numbers and all(n is not None for n in numbers) else "nominal"
    return "nominal"


def read_table(
    result: Mapping[str, Any], roles: Mapping[str, str] | None = None, labels: Mapping[str, str] | None = None
) -> Table:
    """Return a result's usable fields (columns nothing can draw are left out) and cleaned rows."""
    columns = result.get("columns") or []
    rows = [list(row) for row in result.get("rows") or [] if isinstance(row, (list, tuple))]
    if not columns and "value" in result and not isinstance(result.get("value"), (dict, list)):
        columns, rows = [{"name": "value", "type": "text"}], [[result["value"]]]
    roles, labels = roles or {}, labels or {}
    taken: set[str] = set()
    fields: list[Field] = []
    clean: list[list[Any]] = [[None] * len(columns) for _ in rows]
    for index, column in enumerate(columns):
        name = str(column.get("name", f"column {index + 1}")) if isinstance(column, dict) else str(column)
        declared = str(column.get("type", "text")) if isinstance(column, dict) else "text"
        values = [row[index] if index < len(row) else None for row in rows]
        role = roles.get(name) or next((r for n, r in roles.items() if n.casefold() == name.casefold()), None)
        kind = _kind_of(base_type(declared), values, role)
        if kind is None:
            continue
        label = clean_label(str(labels.get(name) or humanize(name))) or f"Column {index + 1}"
        field = _field(index, name, _key(name, taken), label, kind, role, base_type(declared), values)
        for row, value in zip(clean, values, strict=True):
            row[index] = _clean(field, value)
        fields.append(_summarise(field, [row[index] for row in clean]))
    return Table(
        fields=_dimension_first(tuple(fields), clean),
        rows=clean,
        row_count=int(result.get("row_count") or len(rows)),
        truncated=bool(result.get("truncated")),
    )


def _field(
    index: int,
    name: str,
    key: str,
    label: str,
    kind: FieldKind,
    role: str | None,
    base: str,
    values: list[Any],
) -> Field:
    present = [v for v in values if v is not None]
    common: dict[str, Any] = {"index": index, "name": name, "key": key, "label": label, "role": role or ""}
    if kind == "temporal":
        return Field(**common, kind="temporal", timelike=True)
    if kind == "quantitative":
        numbers = [float(n) for n in (_number(v) for v in present) if n is not None]
        integer = base == "integer" or all(n.is_integer() for n in numbers)
        for pattern, low, high in _TIME_NAMES:
            if integer and _named(pattern, name, label) and all(low <= n <= high for n in numbers):
                order = tuple(sorted({int(n) for n in numbers}))
                return Field(**common, kind="ordinal", timelike=True, order=order, integer=True)
        if _named(_ID_NAME, name, label) and integer and role not in {"amount", "measure"}:
            return Field(**common, kind="nominal")
        money = role == "amount" or (_named(_MONEY, name, label) and not _named(_NOT_MONEY, name, label))
        fraction = _named(_PERCENT, name, label) and all(-1 <= n <= 1 for n in numbers) and not money
        averaged = fraction or _named(_AVERAGED, name, label)
        return Field(
            **common, kind="quantitative", money=money, fraction=fraction, averaged=averaged, integer=integer
        )
    texts = [_category(v) for v in present]
    ordered = _ordered_text(sorted(set(texts))) if base not in {"boolean"} else None
    if ordered is not None:
        order, timelike = ordered
        return Field(**common, kind="ordinal", timelike=timelike, order=order)
    if base == "time":
        return Field(**common, kind="ordinal", order=tuple(sorted(set(texts))))
    return Field(**common, kind="nominal")


def _clean(field: Field, value: Any) -> Any:
    if field.kind == "quantitative":
        return _number(value)
    if field.kind == "temporal":
        moment = parse_time(value)
        return time_text(moment) if moment is not None else None
    if field.kind == "ordinal" and field.integer:
        number = _number(value)
        return None if number is None else int(number)
    return _category(value)


def _summarise(field: Field, values: list[Any]) -> Field:
    present = [v for v in values if v is not None]
    numbers = [float(v) for v in present if isinstance(v, (int, float))]
    texts = [str(v) for v in present]
    return replace(
        field,
        distinct=len(set(present)),
        label_chars=sum(len(t) for t in texts) / len(texts) if texts else 0.0,
        low=min(numbers) if numbers else 0.0,
        high=max(numbers) if numbers else 0.0,
    )


def _dimension_first(fields: tuple[Field, ...], rows: list[list[Any]]) -> tuple[Field, ...]:
    """Return the fields with a leading integer key of an aggregate read as an ordered category.

    ``SELECT rating, count(*) ...`` gives two integer columns; the first, unique per row and beside
    a column named like an aggregate, is what the rows are grouped by, not a second measure.
    """
    measures = [f for f in fields if f.kind == "quantitative"]
    if len(measures) < 2 or len(measures) != len(fields) or not 2 <= len(rows) <= 60:
        return fields
    first, others = measures[0], measures[1:]
    grouped = any(_named(_AGGREGATE, f.name, f.label) for f in others)
    if not (
        first.integer and first.distinct == len(rows) and grouped and not (first.money or first.fraction)
    ):
        return fields
    if _named(_AGGREGATE, first.name, first.label):
        return fields
    for row in rows:
        if row[first.index] is not None:
            row[first.index] = int(row[first.index])
    order = tuple(sorted(row[first.index] for row in rows if row[first.index] is not None))
    ordinal = replace(first, kind="ordinal", order=order, averaged=False)
    return tuple(ordinal if f is first else f for f in fields)
