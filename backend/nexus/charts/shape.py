"""Shape a table's rows into the records a chart inlines: melted, added up, capped, ordered, bounded."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any, Literal

from nexus.charts.table import Field, Table, parse_time

OTHER = "Other"
Record = dict[str, Any]
How = Literal["sum", "mean"]


def fresh(wanted: str, fields: Iterable[Field]) -> str:
    """Return a data key no field uses."""
    taken = {f.key.casefold() for f in fields}
    key, number = wanted, 2
    while key.casefold() in taken:
        key = f"{wanted}_{number}"
        number += 1
    return key


def records(table: Table, fields: Sequence[Field]) -> list[Record]:
    """Return each row's values of these fields, keyed by their data keys."""
    return [{f.key: row[f.index] for f in fields} for row in table.rows]


def melt(table: Table, x: Field | None, measures: Sequence[Field]) -> tuple[list[Record], Field, Field]:
    """Return rows as one record per (row, measure), with the measure's label and value as fields."""
    used = [*measures, *([x] if x else [])]
    series = Field(
        index=-1, name="measure", key=fresh("measure", used), label="Measure", kind="nominal", role=""
    )
    value = Field(
        index=-1,
        name="value",
        key=fresh("value", [*used, series]),
        label=listed([m.label for m in measures]),
        kind="quantitative",
        role="",
        money=measures[0].money,
        fraction=measures[0].fraction,
        averaged=any(m.averaged for m in measures),
        integer=all(m.integer for m in measures),
        low=min(m.low for m in measures),
        high=max(m.high for m in measures),
    )
    melted = [
        {**({x.key: row[x.index]} if x else {}), series.key: m.label, value.key: row[m.index]}
        for row in table.rows
        for m in measures
    ]
    order = tuple(m.label for m in measures)
    return melted, replace(series, distinct=len(measures), order=order), value


def listed(labels: Sequence[str]) -> str:
    """Return labels as a list in words, the first capitalised as given: "Revenue, cost and profit"."""
    words = [label if i == 0 else lower(label) for i, label in enumerate(labels)]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def lower(label: str) -> str:
    """Return a label to follow other words: lower-case first letter unless it starts an acronym."""
    return label if label[:2].isupper() else label[:1].lower() + label[1:]


def repeated(rows: Sequence[Record], keys: Sequence[str]) -> bool:
    """Return whether some rows share the same values of these keys."""
    seen = {tuple(row[k] for k in keys) for row in rows}
    return len(seen) < len(rows)


def aggregate(rows: Sequence[Record], keys: Sequence[str], value: str, how: How) -> list[Record]:
    """Return one record per distinct key, its value the sum (or mean) of the values present."""
    groups: dict[tuple[Any, ...], list[float]] = {}
    for row in rows:
        bucket = groups.setdefault(tuple(row[k] for k in keys), [])
        if row[value] is not None:
            bucket.append(float(row[value]))
    out: list[Record] = []
    for group, values in groups.items():
        total: float | None = None
        if values:
            total = sum(values) / len(values) if how == "mean" else sum(values)
        out.append({**dict(zip(keys, group, strict=True)), value: _tidy(total)})
    return out


def _tidy(number: float | None) -> float | int | None:
    if number is None or not math.isfinite(number):
        return None
    rounded = round(number, 10)
    return int(rounded) if rounded.is_integer() and abs(rounded) < 2**53 else rounded


def totals(rows: Sequence[Record], key: str, value: str, how: How = "sum") -> dict[Any, float]:
    """Return each value of a key with the sum (or mean) of its values."""
    by_key = aggregate(rows, [key], value, how)
    return {row[key]: float(row[value] or 0.0) for row in by_key}


def by_value(rows: Sequence[Record], key: str, value: str, how: How = "sum") -> list[Any]:
    """Return a key's values largest first by total, Other last."""
    ranked = totals(rows, key, value, how)
    ordered = sorted((k for k in ranked if k != OTHER), key=lambda k: -ranked[k])
    return ordered + ([OTHER] if OTHER in ranked else [])


def cap(rows: list[Record], field: Field, value: str, keep: int, how: How) -> tuple[list[Record], int]:
    """Keep a category's ``keep`` largest values; add the rest up as Other, or leave them out for means.

    Returns the rows and how many values were grouped or left out. Ordered axes are never capped.
    """
    if field.kind != "nominal":
        return rows, 0
    ranked = totals(rows, field.key, value, how)
    if len(ranked) <= keep:
        return rows, 0
    kept = set(sorted(ranked, key=lambda k: -ranked[k])[:keep])
    if how == "mean":
        return [row for row in rows if row[field.key] in kept], len(ranked) - keep
    keys = [k for k in rows[0] if k != value]
    grouped = [row if row[field.key] in kept else {**row, field.key: OTHER} for row in rows]
    return aggregate(grouped, keys, value, "sum"), len(ranked) - keep


def count_cap(rows: list[Record], field: Field, keep: int) -> tuple[list[Record], int]:
    """Keep the ``keep`` categories with the most rows (box plots: raw values cannot be added up)."""
    counts: dict[Any, int] = {}
    for row in rows:
        counts[row[field.key]] = counts.get(row[field.key], 0) + 1
    if field.kind != "nominal" or len(counts) <= keep:
        return rows, 0
    kept = set(sorted(counts, key=lambda k: -counts[k])[:keep])
    return [row for row in rows if row[field.key] in kept], len(counts) - keep


def natural(field: Field, rows: Sequence[Record]) -> list[Any]:
    """Return an ordered field's values present in the rows, in their order."""
    present = {row[field.key] for row in rows} - {None}
    if field.order:
        ordered = [v for v in field.order if v in present]
        return ordered + sorted((v for v in present if v not in set(field.order)), key=str)
    return sorted(present, key=str)


def time_formats(rows: Sequence[Record], key: str) -> tuple[str, str]:
    """Return (strftime, d3 time format) for labels of these times at their finest step."""
    moments = [m for m in (parse_time(row[key]) for row in rows) if m is not None]
    if all(_midnight(m) and m.month == 1 and m.day == 1 for m in moments):
        return "%Y", "%Y"
    if all(_midnight(m) and m.day == 1 for m in moments):
        return "%Y-%m", "%b %Y"
    if all(_midnight(m) for m in moments):
        return "%Y-%m-%d", "%Y-%m-%d"
    return "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M"


def _midnight(moment: dt.datetime) -> bool:
    return moment.hour == moment.minute == moment.second == moment.microsecond == 0


def as_ordinal(field: Field, rows: list[Record]) -> tuple[Field, list[Record]]:
    """Return a time field as ordered labels (bars and cells of a heatmap sit on a band, not a line)."""
    if field.kind != "temporal":
        return field, rows
    pattern, _ = time_formats(rows, field.key)
    label: Callable[[Any], Any] = lambda v: m.strftime(pattern) if (m := parse_time(v)) else None  # noqa: E731
    relabelled = [{**row, field.key: label(row[field.key])} for row in rows]
    order = tuple(sorted({row[field.key] for row in relabelled if row[field.key] is not None}))
    return replace(field, kind="ordinal", order=order, distinct=len(order)), relabelled


def bound(rows: list[Record], max_points: int) -> tuple[list[Record], str | None]:
    """Return at most ``max_points`` rows, and a note when some are left out."""
    if len(rows) <= max_points:
        return rows, None
    return rows[:max_points], f"Only the first {max_points:,} of {len(rows):,} points are drawn."
