"""The visualiser agent: the sql agent's result, drawn as a Vega-Lite chart chosen from its shape.

Charts are data, never code: the kind follows from the result's columns (time, categories, measures),
their roles and the question's words ("as a pie", "scatter of X against Y", "distribution"), and the
spec is validated against the Vega-Lite v5 schema before it is returned (``nexus.charts``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from nexus.charts import Chart, ChartError, build_chart
from nexus.config import ChartSettings
from nexus.datasets.ingest.names import quote
from nexus.graph.registry import register
from nexus.graph.sql_agent import result_dict, sql_agent
from nexus.graph.state import Deps, RunState
from nexus.query.catalog import Catalog
from nexus.query.executor import execute
from nexus.query.validate import validate_sql


def column_roles(result: Mapping[str, Any], catalog: Catalog) -> tuple[dict[str, str], dict[str, str]]:
    """Return the roles and labels of a result's columns that are columns of the catalog's tables."""
    roles: dict[str, str] = {}
    labels: dict[str, str] = {}
    for column in result.get("columns") or []:
        name = str(column.get("name"))
        for table in catalog.tables:
            found = table.column(name)
            if found is not None:
                roles[name] = found.role
                labels[name] = found.label
                break
    return roles, labels


def chart_dict(chart: Chart) -> dict[str, Any]:
    """Return a chart as the state and the API carry it."""
    return {"kind": chart.kind, "spec": chart.spec, "reason": chart.reason, "notes": list(chart.notes)}


def draw(
    result: Mapping[str, Any],
    question: str,
    catalog: Catalog,
    settings: ChartSettings,
    hint: str | None = None,
) -> Chart:
    """Return the chart of a result, within the chart settings; raises ``ChartError`` when none fits."""
    roles, labels = column_roles(result, catalog)
    return build_chart(
        dict(result),
        question,
        roles,
        hint,
        labels=labels,
        max_points=settings.chart_max_points,
        max_categories=settings.chart_max_categories,
    )


_PICTURE_WORDS = re.compile(
    r"\b(?:as|in|into|with) (?:an? )?(?:pie|donut|doughnut|bar|line|area|scatter|heat ?map|box|kpi)"
    r"(?: ?(?:chart|graph|plot))?\b"
    r"|\b(?:an? )?(?:pie|donut|bar|line|area|heat ?map)? ?(?:chart|graph|plot|diagram)(?: of)?\b"
    r"|\b(?:plot|draw|visuali[sz]e|show me|display)\b",
    re.IGNORECASE,
)


def data_words(question: str) -> str:
    """Return the question without its picture words ("as a pie", "bar chart of", "plot")."""
    stripped = re.sub(r"\s+", " ", _PICTURE_WORDS.sub(" ", question)).strip(" ,.")
    return stripped or question


_RAW = re.compile(
    r"\b(?:histogram|distribution|distributed|spread|box ?plot|scatter|against|versus|vs\.?|relationship)\b",
    re.IGNORECASE,
)
_VALUES = re.compile(r"\b(?:histogram|distribution|distributed|spread|box ?plot|scatter)\b", re.IGNORECASE)
"""Words that want the values themselves even when an aggregate plan was found."""


def raw_rows(question: str, deps: Deps) -> tuple[str, dict[str, Any]] | None:
    """Return SQL and rows of the columns a distribution or scatter question names, unaggregated.

    "histogram of the amount", "scatter of price against quantity", "distribution of fare by class":
    the chart needs the values themselves, which no aggregate plan gives.
    """
    if not _RAW.search(question):
        return None
    text = question.casefold()
    for table in sorted(deps.catalog.tables, key=lambda t: -t.row_count):
        named = [
            c
            for c in table.columns
            if re.search(
                r"\b" + re.escape(c.name.casefold().replace("_", " ")) + r"\b", text.replace("_", " ")
            )
            or re.search(r"\b" + re.escape(c.label.casefold()) + r"\b", text)
        ]
        numbers = [c for c in named if c.numeric][:2]
        if not numbers:
            continue
        groups = [c for c in named if c.role in ("category", "boolean") and not c.numeric][:1]
        chosen = groups + numbers
        columns = ", ".join(quote(c.name) for c in chosen)
        where = " AND ".join(f"{quote(c.name)} IS NOT NULL" for c in numbers)
        sql = (
            f"SELECT {columns} FROM {quote(table.name)} WHERE {where} "
            f"LIMIT {deps.chart_settings.chart_max_points}"
        )
        checked = validate_sql(sql, deps.catalog, max_chars=10_000)
        return checked.sql, result_dict(execute(deps.catalog, checked.executable, deps.query_settings))
    return None


@register(
    "visualiser",
    "draws the result of a query as a chart (line, bar, histogram, box, scatter, heatmap, pie, KPI)",
)
def visualiser_agent(state: RunState, deps: Deps) -> dict[str, Any]:
    """Get the data as the sql agent would, then choose, build and validate its chart."""
    data_question = data_words(state["question"])
    updates = sql_agent({**state, "question": data_question}, deps)
    updates["agent"] = "visualiser"
    aggregated = bool((updates.get("plan") or {}).get("measures"))
    if updates.get("status") != "answered" or (aggregated and _VALUES.search(state["question"])):
        raw = raw_rows(state["question"], deps)
        if raw is not None:
            sql, rows = raw
            updates.update(
                sql=sql,
                result=rows,
                plan=None,
                planned_by="rules",
                status="answered",
                pattern="values",
                confidence=0.8,
                unresolved=[],
                answer=f"{rows['row_count']:,} rows of {', '.join(c['name'] for c in rows['columns'])}.",
            )
    result = updates.get("result")
    if updates.get("status") != "answered" or not result:
        return updates
    started = time.perf_counter()
    notes = list(updates.get("notes") or [])
    try:
        chart = draw(result, state["question"], deps.catalog, deps.chart_settings)
    except ChartError as error:
        notes.append(f"No chart: {error.detail}")
        updates["notes"] = notes
        return updates
    updates["chart"] = chart_dict(chart)
    updates["answer"] = f"{updates.get('answer') or ''} Drawn as a {chart.kind.replace('_', ' ')} chart."
    notes.append(chart.reason)  # the reason may name counts ("top 12"), which the answer must not
    notes.extend(note for note in chart.notes if note not in notes)
    updates["notes"] = notes
    timings = dict(updates.get("timings") or {})
    timings["chart_ms"] = round((time.perf_counter() - started) * 1000, 3)
    updates["timings"] = timings
    return updates
