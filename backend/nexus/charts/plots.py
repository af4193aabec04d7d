"""Lines over time, histograms, box plots, scatter plots and single numbers."""

from __future__ import annotations

import statistics
from typing import Any

from nexus.charts.choose import Plan
from nexus.charts.encode import (
    HEIGHT,
    SERIES_CAP,
    WIDTH,
    Context,
    band_axis,
    capped,
    channel,
    data,
    how_of,
    measure,
    order_of,
    time_axis,
    tooltip,
)
from nexus.charts.model import ChartError
from nexus.charts.shape import (
    Record,
    aggregate,
    as_ordinal,
    bound,
    count_cap,
    lower,
    melt,
    natural,
    records,
    repeated,
    time_formats,
)
from nexus.charts.table import Field, Table, parse_time
from nexus.charts.words import value_format

MAX_BINS = 30
_POINTS_SHOWN = 60
"""Lines with at most this many points per series mark each point."""


def kpi(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return one value as a large number (a text mark centred in the view)."""
    assert plan.y is not None
    y = plan.y
    rows = records(table, [y])[:1]
    if rows[0][y.key] is None:
        raise ChartError("The result's only value is empty; there is nothing to show.")
    if y.kind == "quantitative":
        text = {"field": y.key, "type": "quantitative", "format": value_format(y)}
    else:
        if y.kind == "temporal":
            moment = parse_time(rows[0][y.key])
            rows = [{y.key: moment.strftime(time_formats(rows, y.key)[0]) if moment else rows[0][y.key]}]
        text = {"field": y.key, "type": "nominal"}
    mark = {
        "type": "text",
        "fontSize": 56,
        "fontWeight": "bold",
        "align": "center",
        "baseline": "middle",
        "x": {"expr": "width / 2"},
        "y": {"expr": "height / 2"},
    }
    return {
        "width": 320,
        "height": 140,
        "data": data(rows),
        "mark": mark,
        "encoding": {"text": text, "tooltip": tooltip([y], rows)},
        "config": {"view": {"stroke": None}},
    }


def _by_time(rows: list[Record], x: Field) -> list[Record]:
    if x.kind == "temporal":
        return sorted(rows, key=lambda row: str(row[x.key]))
    position = {value: i for i, value in enumerate(x.order)}
    return sorted(rows, key=lambda row: position.get(row[x.key], len(position)))


def line(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return lines over a time axis: one per category (or per measure), repeated times added up."""
    assert plan.x is not None
    x, color = plan.x, plan.color
    if plan.measures:
        rows, color, y = melt(table, x, plan.measures)
    else:
        assert plan.y is not None
        y = plan.y
        rows = records(table, [x, *([color] if color else []), y])
    rows = [row for row in rows if row[x.key] is not None]
    keys = [x.key, *([color.key] if color else [])]
    if repeated(rows, keys):
        how = how_of(y, plan)
        rows = aggregate(rows, keys, y.key, how)
        ctx.note(f"{y.label} is {'averaged' if how == 'mean' else 'added up'} for each {lower(x.label)}.")
    if color is not None:
        rows = capped(rows, color, y, min(ctx.max_categories, SERIES_CAP), plan, ctx)
    rows, note = bound(_by_time(rows, x), ctx.max_points)
    ctx.note(note)
    series = len({row[color.key] for row in rows}) if color else 1
    x_channel = (
        time_axis(x, rows) if x.kind == "temporal" else band_axis(x, natural(x, rows), vertical_labels=True)
    )
    encoding: dict[str, Any] = {"x": x_channel, "y": measure(y, rows)}
    if color is not None:
        encoding["color"] = {
            "field": color.key,
            "type": color.kind,
            "title": color.label,
            "sort": order_of(rows, color, y, plan),
        }
    encoding["tooltip"] = tooltip(
        [x, *([color] if color else []), y], rows, averaged=how_of(y, plan) == "mean"
    )
    mark = {"type": "line", "point": len(rows) <= _POINTS_SHOWN * series}
    return {"width": WIDTH, "height": HEIGHT, "data": data(rows), "mark": mark, "encoding": encoding}


def histogram(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return a histogram of one measure's raw values."""
    assert plan.x is not None
    x = plan.x
    rows = [row for row in records(table, [x]) if row[x.key] is not None]
    rows, note = bound(rows, ctx.max_points)
    ctx.note(note)
    binned = {"maxbins": MAX_BINS}
    count = {"aggregate": "count", "type": "quantitative", "title": "Number of rows"}
    encoding = {
        "x": measure(x, rows, bin=binned),
        "y": count,
        "tooltip": [channel(x, bin=binned, format=value_format(x)), count],
    }
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "data": data(rows),
        "mark": {"type": "bar"},
        "encoding": encoding,
    }


def box(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return box plots of a measure's raw values, one per category (largest median first)."""
    assert plan.y is not None
    y, x = plan.y, plan.x
    rows = [row for row in records(table, [*([x] if x else []), y]) if row[y.key] is not None]
    encoding: dict[str, Any] = {}
    if x is not None:
        x, rows = as_ordinal(x, rows)
        rows = [row for row in rows if row[x.key] is not None]
        rows, dropped = count_cap(rows, x, ctx.max_categories)
        if dropped:
            ctx.note(f"Only the {ctx.max_categories:,} {lower(x.label)} values with the most rows are shown.")
        encoding["x"] = band_axis(x, _by_median(rows, x, y), vertical_labels=True)
    rows, note = bound(rows, ctx.max_points)
    ctx.note(note)
    encoding["y"] = measure(y, rows)
    mark = {"type": "boxplot", "extent": 1.5}
    return {"width": WIDTH, "height": HEIGHT, "data": data(rows), "mark": mark, "encoding": encoding}


def _by_median(rows: list[Record], x: Field, y: Field) -> list[Any]:
    if x.kind != "nominal":
        return natural(x, rows)
    values: dict[Any, list[float]] = {}
    for row in rows:
        values.setdefault(row[x.key], []).append(float(row[y.key]))
    return sorted(values, key=lambda k: -statistics.median(values[k]))


def scatter(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return points of two measures, coloured by a category, with a regression line when asked."""
    assert plan.x is not None and plan.y is not None
    x, y, color = plan.x, plan.y, plan.color
    name = next((f for f in table.fields if f.kind == "nominal" and f is not color), None)
    extra = [f for f in (color, name) if f is not None]
    rows = [r for r in records(table, [x, y, *extra]) if r[x.key] is not None and r[y.key] is not None]
    rows, note = bound(rows, ctx.max_points)
    ctx.note(note)
    encoding: dict[str, Any] = {
        "x": measure(x, rows, scale={"zero": False}),
        "y": measure(y, rows, scale={"zero": False}),
        "tooltip": tooltip([*([name] if name else []), x, y, *([color] if color else [])], rows),
    }
    if color is not None:
        encoding["color"] = {"field": color.key, "type": color.kind, "title": color.label}
    points = {"mark": {"type": "point", "filled": True, "opacity": 0.7}, "encoding": encoding}
    body: dict[str, Any] = {"width": WIDTH, "height": HEIGHT, "data": data(rows)}
    if not plan.trend:
        return {**body, **points}
    trend = {
        "mark": {"type": "line", "color": "#d62728", "strokeWidth": 2},
        "transform": [{"regression": y.key, "on": x.key}],
        "encoding": {
            "x": {"field": x.key, "type": "quantitative"},
            "y": {"field": y.key, "type": "quantitative"},
        },
    }
    return {**body, "layer": [points, trend]}
