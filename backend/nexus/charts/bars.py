"""Bars (vertical, horizontal, grouped, stacked), pies and heatmaps: measures over categories.

Each builder shapes the rows (melt several measures, add up repeated categories, cap categories to
the top N and Other, order the axis) and returns the spec's data, mark and encoding.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from nexus.charts.choose import Plan
from nexus.charts.encode import (
    BAR_STEP,
    HEIGHT,
    SERIES_CAP,
    WIDTH,
    Context,
    band_axis,
    capped,
    data,
    how_of,
    measure,
    order_of,
    tooltip,
)
from nexus.charts.shape import (
    Record,
    aggregate,
    as_ordinal,
    bound,
    by_value,
    lower,
    melt,
    natural,
    records,
    repeated,
)
from nexus.charts.table import Field, Table


def _rows(
    table: Table, plan: Plan, dims: list[Field], ctx: Context
) -> tuple[list[Record], list[Field], Field]:
    """Return the plan's rows on these dimensions with one measure, repeated keys added up."""
    if plan.measures:
        x = dims[0] if dims else None
        rows, series, value = melt(table, x, plan.measures)
        dims = [*dims, series]
    else:
        assert plan.y is not None
        value = plan.y
        rows = records(table, [*dims, value])
        left_out = [lower(f.label) for f in table.fields if f.dimension and f not in dims]
        if left_out and repeated(rows, [d.key for d in dims]):
            verb = "averaged" if how_of(value, plan) == "mean" else "added up"
            ctx.note(f"{value.label} is {verb} over every {' and '.join(left_out)}.")
    shaped: list[Field] = []
    for dim in dims:
        dim, rows = as_ordinal(dim, rows)
        shaped.append(dim)
    keys = [d.key for d in shaped]
    rows = [row for row in rows if all(row[k] is not None for k in keys)]  # no date, no place on the axis
    if repeated(rows, keys):
        how = how_of(value, plan)
        rows = aggregate(rows, keys, value.key, how)
        each = " and ".join(lower(d.label) for d in shaped)
        ctx.note(f"{value.label} is {'averaged' if how == 'mean' else 'added up'} for each {each}.")
    return rows, shaped, value


def _bounded(rows: list[Record], x: Field, ctx: Context) -> list[Record]:
    """Return at most max_points rows; along an ordered axis, the first ones in its order."""
    if len(rows) <= ctx.max_points:
        return rows
    position = {value: i for i, value in enumerate(natural(x, rows))}
    if x.kind != "nominal":
        rows = sorted(rows, key=lambda row: position.get(row[x.key], len(position)))
    rows, note = bound(rows, ctx.max_points)
    ctx.note(note)
    return rows


def bar(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return a bar chart: sorted by value unless its axis has an order of its own."""
    horizontal = plan.kind == "horizontal_bar"
    rows, dims, y = _rows(table, plan, [plan.x] if plan.x else [], ctx)
    x = dims[0]
    rows = _bounded(capped(rows, x, y, ctx.max_categories, plan, ctx), x, ctx)
    sort = order_of(rows, x, y, plan)
    band = band_axis(x, sort, vertical_labels=not horizontal)
    value = measure(y, rows)
    encoding: dict[str, Any] = {"x": value, "y": band} if horizontal else {"x": band, "y": value}
    encoding["tooltip"] = tooltip([x, y], rows, averaged=how_of(y, plan) == "mean")
    size = (
        {"width": WIDTH, "height": {"step": BAR_STEP}} if horizontal else {"width": WIDTH, "height": HEIGHT}
    )
    return {**size, "data": data(rows), "mark": {"type": "bar"}, "encoding": encoding}


def grouped(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return grouped (side by side) or stacked bars: a category on x, another as colour."""
    assert plan.x is not None
    dims = [plan.x] if plan.measures else [plan.x, *([plan.color] if plan.color else [])]
    rows, dims, y = _rows(table, plan, dims, ctx)
    x, color = dims[0], dims[1]
    rows = capped(rows, x, y, ctx.max_categories, plan, ctx)
    rows = capped(rows, color, y, min(ctx.max_categories, SERIES_CAP), plan, ctx)
    rows = _bounded(rows, x, ctx)
    value = measure(y, rows)
    if plan.normalize:
        value = {
            **value,
            "stack": "normalize",
            "axis": {"format": ".0%"},
            "title": f"Share of {lower(y.label)}",
        }
    colour = {
        "field": color.key,
        "type": color.kind,
        "title": color.label,
        "sort": order_of(rows, color, y, plan),
    }
    encoding: dict[str, Any] = {
        "x": band_axis(x, order_of(rows, x, y, plan), vertical_labels=True),
        "y": value,
        "color": colour,
        "tooltip": tooltip([x, color, y], rows, averaged=how_of(y, plan) == "mean"),
    }
    if plan.kind == "grouped_bar":
        encoding["xOffset"] = {"field": color.key, "type": color.kind, "sort": colour["sort"]}
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "data": data(rows),
        "mark": {"type": "bar"},
        "encoding": encoding,
    }


def pie(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return a pie (or donut) of a few parts of a whole, largest part first, shares in the tooltip."""
    assert plan.x is not None
    rows, dims, y = _rows(table, plan, [plan.x], ctx)
    x = dims[0]
    rows = _bounded(rows, x, ctx)
    share = {"field": "share", "type": "quantitative", "title": "Share", "format": ".1%"}
    order = by_value(rows, x.key, y.key) if x.kind == "nominal" else natural(x, rows)
    mark = {"type": "arc", **({"innerRadius": 70} if plan.donut else {})}
    return {
        "width": HEIGHT,
        "height": HEIGHT,
        "data": data(rows),
        "transform": [
            {"joinaggregate": [{"op": "sum", "field": y.key, "as": "total"}]},
            {"calculate": f"datum['{y.key}'] / datum.total", "as": "share"},
        ],
        "mark": mark,
        "encoding": {
            "theta": {"field": y.key, "type": "quantitative", "stack": True},
            "color": {"field": x.key, "type": x.kind, "title": x.label, "sort": order},
            "order": {"field": y.key, "type": "quantitative", "sort": "descending"},
            "tooltip": [*tooltip([x, y], rows), share],
        },
    }


def heatmap(table: Table, plan: Plan, ctx: Context) -> dict[str, Any]:
    """Return a heatmap: two categories as rows and columns of cells, a measure as their colour."""
    assert plan.x is not None and plan.y is not None and plan.color is not None
    rows, dims, m = _rows(table, replace(plan, y=plan.color, measures=()), [plan.x, plan.y], ctx)
    x, y = dims
    for dim in (x, y):
        rows = capped(rows, dim, m, 2 * ctx.max_categories, plan, ctx)
    rows = _bounded(rows, x, ctx)
    colour = measure(m, rows)
    colour.pop("axis", None)
    fmt = measure(m, rows).get("axis", {}).get("format")
    if fmt:
        colour["legend"] = {"format": fmt}
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "data": data(rows),
        "mark": {"type": "rect"},
        "encoding": {
            "x": band_axis(x, order_of(rows, x, m, plan), vertical_labels=True),
            "y": band_axis(y, order_of(rows, y, m, plan), vertical_labels=False),
            "color": {**colour, "scale": {"scheme": "blues"}},
            "tooltip": tooltip([x, y, m], rows, averaged=how_of(m, plan) == "mean"),
        },
    }
