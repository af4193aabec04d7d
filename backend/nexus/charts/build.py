"""Choose a chart for a result and build its Vega-Lite spec, checked against the schema."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from nexus.charts import bars, plots
from nexus.charts.choose import Plan, choose
from nexus.charts.encode import Context
from nexus.charts.model import Chart, ChartKind
from nexus.charts.schema import SCHEMA_URL, scrub, validate_spec
from nexus.charts.shape import listed, lower
from nexus.charts.table import Table
from nexus.charts.words import title_from

Builder = Callable[[Table, Plan, Context], dict[str, Any]]
BUILDERS: dict[ChartKind, Builder] = {
    "kpi": plots.kpi,
    "line": plots.line,
    "histogram": plots.histogram,
    "box": plots.box,
    "scatter": plots.scatter,
    "bar": bars.bar,
    "horizontal_bar": bars.bar,
    "grouped_bar": bars.grouped,
    "stacked_bar": bars.grouped,
    "pie": bars.pie,
    "heatmap": bars.heatmap,
}


def choose_kind(
    result: dict[str, Any],
    question: str = "",
    roles: Mapping[str, str] | None = None,
    hint: str | None = None,
) -> tuple[ChartKind, str]:
    """Return the chart kind for a result and one sentence saying why."""
    _, plan = choose(result, question, roles, hint)
    return plan.kind, plan.reason


def build_chart(
    result: dict[str, Any],
    question: str = "",
    roles: Mapping[str, str] | None = None,
    hint: str | None = None,
    *,
    labels: Mapping[str, str] | None = None,
    max_points: int = 5000,
    max_categories: int = 12,
) -> Chart:
    """Return the chart for a result: its kind, a schema-valid Vega-Lite spec, the reason and notes.

    Raises ChartError (422) when no chart fits the result.
    """
    table, plan = choose(result, question, roles, hint, labels)
    ctx = Context(max_points=max(1, max_points), max_categories=max(2, max_categories))
    if table.truncated:
        ctx.note(
            f"The result has {table.row_count:,} rows; the chart is drawn from the first "
            f"{len(table.rows):,} that came back."
        )
    drawn = {f.key for f in (plan.x, plan.y, plan.color, *plan.measures) if f is not None}
    left_out = [f.label for f in table.fields if f.kind == "quantitative" and f.key not in drawn]
    if left_out:
        ctx.note(f"{listed(left_out)} {'is' if len(left_out) == 1 else 'are'} not drawn.")
    body = BUILDERS[plan.kind](table, plan, ctx)
    spec = {
        "$schema": SCHEMA_URL,
        "title": title_from(question) or default_title(plan),
        "description": plan.reason,
    }
    spec.update(body)
    spec = scrub(spec)
    validate_spec(spec)
    return Chart(kind=plan.kind, spec=spec, reason=plan.reason, notes=ctx.notes)


def default_title(plan: Plan) -> str:
    """Return a title in the columns' words: "<measure> by <dimension>" and the like."""
    measure = listed([m.label for m in plan.measures]) if plan.measures else (plan.y.label if plan.y else "")
    x = lower(plan.x.label) if plan.x else ""
    if plan.kind == "kpi":
        return measure
    if plan.kind == "histogram":
        return f"Distribution of {x}"
    if plan.kind == "scatter":
        return f"{measure} against {x}"
    if plan.kind == "box" and not plan.x:
        return f"Distribution of {lower(measure)}"
    if plan.kind == "heatmap" and plan.color is not None and plan.y is not None:
        return f"{plan.color.label} by {x} and {lower(plan.y.label)}"
    if plan.color is not None and plan.kind in {"grouped_bar", "stacked_bar", "line"}:
        return f"{measure} by {x} and {lower(plan.color.label)}"
    return f"{measure} by {x}" if x else measure
