"""Vega-Lite channels for fields: types, titles, sorting, number and time formats, tooltips."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from nexus.charts.choose import Plan
from nexus.charts.shape import OTHER, How, Record, by_value, cap, lower, natural, time_formats
from nexus.charts.table import Field
from nexus.charts.words import axis_format, value_format

WIDTH = 640
HEIGHT = 360
BAR_STEP = 24
SERIES_CAP = 10
"""At most this many colours: more series than that cannot be told apart."""


@dataclass
class Context:
    """The bounds a chart is built within, and the notes it collects."""

    max_points: int
    max_categories: int
    notes: list[str] = field(default_factory=list)

    def note(self, text: str | None) -> None:
        """Add a note (nothing for None)."""
        if text:
            self.notes.append(text)


def channel(f: Field, **extra: Any) -> dict[str, Any]:
    """Return a channel for a field: its data key, Vega-Lite type and title."""
    return {"field": f.key, "type": f.kind, "title": f.label, **extra}


def measure(f: Field, rows: Sequence[Record] = (), **extra: Any) -> dict[str, Any]:
    """Return a quantitative channel with the field's axis format (money, percentages)."""
    fmt = axis_format(_ranged(f, rows))
    axis = {"format": fmt} if fmt else {}
    if "axis" in extra:
        axis = {**axis, **extra.pop("axis")}
    return channel(f, **({"axis": axis} if axis else {}), **extra)


def _ranged(f: Field, rows: Sequence[Record]) -> Field:
    """Return the field with low and high taken from the shaped rows (sums reach further than values)."""
    values = [float(row[f.key]) for row in rows if isinstance(row.get(f.key), (int, float))]
    if not values:
        return f
    return replace(f, low=min(values), high=max(values))


def time_axis(f: Field, rows: Sequence[Record]) -> dict[str, Any]:
    """Return a temporal x channel labelled at the data's own step (years, months, days)."""
    _, d3 = time_formats(rows, f.key)
    return channel(
        f, axis={"format": d3, "labelOverlap": True} if d3 in {"%Y", "%b %Y"} else {"labelOverlap": True}
    )


def band_axis(f: Field, sort: Sequence[Any], *, vertical_labels: bool) -> dict[str, Any]:
    """Return a discrete channel in this order, its labels slanted when they would collide."""
    long = f.label_chars > 6 or len(sort) > 8
    axis: dict[str, Any] = {"labelLimit": 160}
    if vertical_labels:
        axis["labelAngle"] = -40 if long else 0
    return channel(f, sort=list(sort), axis=axis)


def tooltip(
    fields: Sequence[Field], rows: Sequence[Record], *, averaged: bool = False
) -> list[dict[str, Any]]:
    """Return tooltip entries for these fields, values formatted as they read."""
    entries: list[dict[str, Any]] = []
    for f in fields:
        if f.kind == "quantitative":
            fmt = value_format(f) if not (averaged and f.integer) else ",.2~f"
            entries.append(channel(f, format=fmt))
        elif f.kind == "temporal":
            _, d3 = time_formats(rows, f.key)
            entries.append(channel(f, format=d3))
        else:
            entries.append(channel(f))
    return entries


def data(rows: Sequence[Record]) -> dict[str, Any]:
    """Return rows as inline Vega-Lite data."""
    return {"values": list(rows)}


def how_of(value: Field, plan: Plan) -> How:
    """Return how repeated values of a measure combine: averages are averaged, the rest added up."""
    return "mean" if value.averaged or plan.average else "sum"


def capped(rows: list[Record], dim: Field, value: Field, keep: int, plan: Plan, ctx: Context) -> list[Record]:
    """Return rows with a category capped to its top values, noting what was grouped or left out."""
    how = how_of(value, plan)
    rows, dropped = cap(rows, dim, value.key, keep, how)
    if dropped and how == "sum":
        ctx.note(f"{dropped:,} smaller {lower(dim.label)} values are grouped as {OTHER}.")
    elif dropped:
        ctx.note(f"Only the top {keep:,} {lower(dim.label)} values are shown; {dropped:,} more are left out.")
    return rows


def order_of(rows: list[Record], dim: Field, value: Field, plan: Plan) -> list[Any]:
    """Return a dimension's values in axis order: by value for categories, else their own order."""
    if dim.kind == "nominal":
        return by_value(rows, dim.key, value.key, how_of(value, plan))
    return natural(dim, rows)
