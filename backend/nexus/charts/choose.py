"""Choose a chart kind for a result, and which fields go on which channel.

Each kind has an *assigner* that either places the fields (a Plan) or says in words why the data
cannot make that kind. A kind asked for (the explicit hint, else a chart word in the question) is
used when its assigner places the fields; otherwise the natural choice is made from the result's
shape and the question's intent, and the reason says why the asked kind was not used.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from nexus.charts.model import ChartError, ChartKind
from nexus.charts.shape import listed, lower
from nexus.charts.table import Field, Table, read_table
from nexus.charts.words import NAMES, Intent, hint_kind, mentioned, position

PIE_PARTS = (2, 6)
_LONG_LABEL = 12
_MANY_BARS = 10
_REPEATS_FOR_BOX = 3
_SCATTER_ROWS = 30


@dataclass(frozen=True)
class Shape:
    """A result seen as measures and dimensions, with the question's intent."""

    table: Table
    intent: Intent
    question: str
    measures: tuple[Field, ...]
    times: tuple[Field, ...]
    """Time axes: dates with at least two values, ordered years, months, quarters."""
    cats: tuple[Field, ...]
    """Categories: every other dimension."""

    @property
    def rows(self) -> int:
        """Return how many rows came back."""
        return len(self.table.rows)

    @property
    def dims(self) -> tuple[Field, ...]:
        """Return the dimensions in column order."""
        return tuple(sorted(self.times + self.cats, key=lambda f: f.index))

    def primary(self) -> Field:
        """Return the measure the question names first, else the first measure."""
        named = mentioned(self.measures, self.question)
        return named[0] if named else self.measures[0]

    def alike(self) -> tuple[Field, ...]:
        """Return the measures that can share an axis with the primary one (same unit)."""
        first = self.primary()
        unit = (first.money, first.fraction)
        return (first, *(m for m in self.measures if m is not first and (m.money, m.fraction) == unit))

    def grouping(self) -> Field | None:
        """Return the first dimension whose values repeat, grouping rows for box plots."""
        return next(
            (d for d in self.cats + self.times if 2 <= d.distinct and 2 * d.distinct <= self.rows), None
        )

    def averaged(self, measure: Field) -> bool:
        """Return whether a measure's values do not add up (averages, rates, or the question says so)."""
        return measure.averaged or self.intent.average


@dataclass(frozen=True)
class Plan:
    """A chart kind and the fields on its channels."""

    kind: ChartKind
    reason: str = ""
    x: Field | None = None
    y: Field | None = None
    color: Field | None = None
    measures: tuple[Field, ...] = ()
    """Several measures drawn as series of one axis (the data is melted)."""
    trend: bool = False
    donut: bool = False
    normalize: bool = False
    average: bool = False
    """The question asks for averages: values are averaged, never added up."""


def _w(f: Field) -> str:
    """Return a field's label as it reads inside a sentence."""
    return lower(f.label)


def _listed(fields: tuple[Field, ...]) -> str:
    return lower(listed([f.label for f in fields]))


def shape_of(table: Table, question: str) -> Shape:
    """Return the result's measures, time axes and categories."""
    measures = tuple(f for f in table.fields if f.kind == "quantitative")
    times = tuple(f for f in table.fields if f.timelike and (f.kind == "ordinal" or f.distinct >= 2))
    cats = tuple(f for f in table.fields if f.dimension and f not in times)
    return Shape(table, Intent.of(question), question, measures, times, cats)


def _two_dims(shape: Shape) -> tuple[Field, Field] | None:
    if len(shape.dims) < 2:
        return None
    if shape.times:
        first = shape.times[0]
        second = next(d for d in shape.dims if d is not first)
        return first, second
    a, b = shape.dims[0], shape.dims[1]
    return (a, b) if a.distinct >= b.distinct else (b, a)


def _kpi(shape: Shape) -> Plan | str:
    if shape.rows != 1:
        return f"a single number needs a result of one row, and this one has {shape.rows:,}"
    if shape.measures:
        y = shape.primary()
        return Plan("kpi", f"the result is one value of {_w(y)}, so it is shown as a number", y=y)
    if len(shape.table.fields) == 1:
        y = shape.table.fields[0]
        return Plan("kpi", f"the result is one value of {_w(y)}, so it is shown on its own", y=y)
    return "a single number needs one value, and this row holds several"


def _line(shape: Shape) -> Plan | str:
    if not shape.times:
        return "a line chart needs a date or time column"
    if not shape.measures:
        return "a line chart needs a number column"
    x = shape.times[0]
    color = next((d for d in shape.dims if d is not x and not d.timelike), None)
    alike = shape.alike()
    if color is None and len(alike) > 1:
        names = _listed(alike)
        return Plan(
            "line", f"a line for each of {names} shows how they change over {_w(x)}", x=x, measures=alike
        )
    y = shape.primary()
    per = f", one line per {_w(color)}" if color else ""
    return Plan("line", f"a line shows how {_w(y)} changes over {_w(x)}{per}", x=x, y=y, color=color)


def _bar(shape: Shape, kind: ChartKind = "bar") -> Plan | str:
    if not shape.measures:
        return "a bar chart needs a number column"
    if not shape.dims:
        alike = shape.alike()
        if shape.rows == 1 and len(alike) > 1:
            return Plan(kind, "bars compare the result's values side by side", measures=alike)
        return "a bar chart needs a column of categories or dates"
    x = shape.cats[0] if shape.cats else shape.times[0]
    y = shape.primary()
    reason = f"bars compare {_w(y)} across {_w(x)}"
    if kind == "horizontal_bar":
        reason += ", laid on their side"
        if x.label_chars > _LONG_LABEL:
            reason += " so that the long labels stay readable"
        elif x.distinct > _MANY_BARS:
            reason += f" because there are many {_w(x)} values"
    return Plan(kind, reason, x=x, y=y)


def _grouped(shape: Shape, kind: ChartKind = "grouped_bar") -> Plan | str:
    if not shape.measures:
        return "grouped or stacked bars need a number column"
    stacked = kind == "stacked_bar"
    pair = _two_dims(shape)
    y = shape.primary()
    if stacked and shape.averaged(y):
        return f"{_w(y)} is an average or a rate, and those do not add up"
    normalize = stacked and shape.intent.share
    if pair is not None:
        x, color = pair
        if stacked:
            what = "share of" if normalize else "part of"
            reason = f"stacked bars show each {_w(color)}'s {what} {_w(y)} for every {_w(x)}"
        else:
            reason = f"grouped bars compare {_w(y)} across {_w(x)} for each {_w(color)}"
        return Plan(kind, reason, x=x, y=y, color=color, normalize=normalize)
    alike = shape.alike()
    if len(shape.dims) == 1 and len(alike) > 1:
        x = shape.dims[0]
        names = _listed(alike)
        verb = "stacked" if stacked else "grouped"
        return Plan(
            kind, f"{verb} bars compare {names} across {_w(x)}", x=x, measures=alike, normalize=normalize
        )
    return "grouped or stacked bars need two columns of categories, or one with several number columns"


def _histogram(shape: Shape) -> Plan | str:
    if not shape.measures:
        return "a histogram needs a number column"
    if shape.rows < 2:
        return "a histogram needs more than one value"
    x = shape.primary()
    return Plan("histogram", f"a histogram shows how the values of {_w(x)} are distributed", x=x)


def _box(shape: Shape) -> Plan | str:
    if not shape.measures:
        return "a box plot needs a number column"
    if shape.rows < 2:
        return "a box plot needs more than one value"
    y = shape.primary()
    x = shape.grouping()
    if x is None:
        return Plan("box", f"a box plot shows the spread of {_w(y)}", y=y)
    return Plan("box", f"box plots show the spread of {_w(y)} within each {_w(x)}", x=x, y=y)


def _scatter(shape: Shape) -> Plan | str:
    if len(shape.measures) < 2:
        return "a scatter plot needs two number columns"
    named = mentioned(shape.measures, shape.question)
    ordered = named + [m for m in shape.measures if m not in named]
    first, second = ordered[0], ordered[1]
    x, y = first, second
    if len(named) >= 2:
        text = shape.question.casefold()
        between = text[position(first, text) or 0 : position(second, text)]
        if re.search(r"\b(against|vs\.?|versus|by)\b", between):
            x, y = second, first
    color = next((c for c in shape.cats if 2 <= c.distinct <= 10 and c.distinct < shape.rows), None)
    trend = shape.intent.trend_line
    reason = f"a scatter plot shows how {_w(y)} relates to {_w(x)}" + (", with a trend line" if trend else "")
    return Plan("scatter", reason, x=x, y=y, color=color, trend=trend)


def _heatmap(shape: Shape) -> Plan | str:
    pair = _two_dims(shape)
    if pair is None:
        return "a heatmap needs two columns of categories or dates"
    if not shape.measures:
        return "a heatmap needs a number column"
    x, y = pair
    m = shape.primary()
    return Plan("heatmap", f"a heatmap shows {_w(m)} for each {_w(x)} and {_w(y)}", x=x, y=y, color=m)


def _pie(shape: Shape) -> Plan | str:
    if len(shape.dims) != 1 or not shape.measures:
        return "a pie needs one column of parts and one number column"
    x, y = shape.dims[0], shape.primary()
    low, high = PIE_PARTS
    if not low <= x.distinct <= high:
        return f"a pie needs {low} to {high} parts, and there are {x.distinct:,} {_w(x)} values"
    if y.low < 0 or y.high <= 0:
        return f"a pie needs values that are not negative, and {_w(y)} has some"
    if shape.averaged(y):
        return f"a pie shows parts of a whole, and {_w(y)} values do not add up"
    reason = f"a pie shows how the {x.distinct} {_w(x)} values make up the total {_w(y)}"
    return Plan("pie", reason, x=x, y=y, donut=shape.intent.donut)


ASSIGNERS: dict[ChartKind, Callable[[Shape], Plan | str]] = {
    "kpi": _kpi,
    "line": _line,
    "bar": _bar,
    "horizontal_bar": lambda shape: _bar(shape, "horizontal_bar"),
    "grouped_bar": _grouped,
    "stacked_bar": lambda shape: _grouped(shape, "stacked_bar"),
    "histogram": _histogram,
    "box": _box,
    "scatter": _scatter,
    "heatmap": _heatmap,
    "pie": _pie,
}


def _natural(shape: Shape) -> list[ChartKind]:
    """Return the kinds that suit the result best, most suitable first."""
    intent, measures, dims = shape.intent, shape.measures, shape.dims
    if shape.rows == 1:
        return ["kpi"] if len(measures) <= 1 or len(shape.alike()) < 2 else ["bar", "kpi"]
    if intent.distribution and measures:
        return ["box", "histogram"] if shape.grouping() else ["histogram"]
    if intent.relationship and len(measures) >= 2 and (len(dims) == 0 or len(shape.alike()) < 2):
        return ["scatter"]
    if shape.times and measures and (len(shape.times) == 1 or shape.times[0].kind == "temporal"):
        second = [d for d in dims if d is not shape.times[0]]
        if second and (intent.share or intent.stacked):
            return ["stacked_bar", "line"]
        return ["line"]
    if len(dims) >= 2 and measures:
        if intent.share or intent.stacked:
            return ["stacked_bar", "grouped_bar"]
        x, color = _two_dims(shape) or (dims[0], dims[1])
        if intent.compare or color.distinct <= 5:
            return ["grouped_bar", "heatmap"]
        return ["heatmap"]
    if len(dims) == 1 and measures:
        return _one_dimension(shape)
    if len(measures) >= 2:
        return ["scatter", "histogram"]
    if measures:
        return ["histogram"]
    return []


def _one_dimension(shape: Shape) -> list[ChartKind]:
    x, intent = shape.dims[0], shape.intent
    if len(shape.alike()) > 1 and x.distinct <= _SCATTER_ROWS:
        return ["stacked_bar" if intent.share or intent.stacked else "grouped_bar"]
    if len(shape.measures) > 1 and shape.rows > _SCATTER_ROWS and x.distinct == shape.rows:
        return ["scatter"]
    if x.kind == "nominal" and shape.rows >= _REPEATS_FOR_BOX * x.distinct and not intent.share:
        return ["box"]
    kinds: list[ChartKind] = ["pie"] if intent.share else []
    if x.kind == "nominal" and (x.label_chars > _LONG_LABEL or x.distinct > _MANY_BARS):
        return [*kinds, "horizontal_bar"]
    return [*kinds, "bar"]


def plan_chart(table: Table, question: str = "", hint: str | None = None) -> Plan:
    """Return the chart kind for a table, its fields' channels and the reason in one sentence."""
    if not table.fields or not table.rows:
        raise ChartError("The result has no rows or no columns a chart can draw.")
    shape = shape_of(table, question)
    asked = hint_kind(hint) or shape.intent.asked
    declined = ""
    if hint and hint_kind(hint) is None:
        declined = f"the hint '{hint}' names no kind of chart"
    if asked is not None:
        placed = ASSIGNERS[asked](shape)
        if isinstance(placed, Plan) and placed.kind == "pie" and hint and "nut" in hint.casefold():
            placed = replace(placed, donut=True)
        if isinstance(placed, Plan):
            return replace(
                placed, reason=_sentence(f"as asked, {placed.reason}"), average=shape.intent.average
            )
        declined = f"a {NAMES[asked]} does not fit ({placed})"
    for kind in _natural(shape):
        placed = ASSIGNERS[kind](shape)
        if isinstance(placed, Plan):
            text = f"{declined}, so {placed.reason}" if declined else placed.reason
            return replace(placed, reason=_sentence(text), average=shape.intent.average)
    if not shape.measures:
        raise ChartError("The result has no number column to draw; a chart needs something to measure.")
    raise ChartError("No chart fits this result.")


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def choose(
    result: Mapping[str, Any],
    question: str = "",
    roles: Mapping[str, str] | None = None,
    hint: str | None = None,
    labels: Mapping[str, str] | None = None,
) -> tuple[Table, Plan]:
    """Read a result and plan its chart."""
    table = read_table(result, roles, labels)
    return table, plan_chart(table, question, hint)
