"""The time-series agent: a measure over time, regularised, backtested against naive, forecast.

It finds the table, the time column and the measure (from the parser's plan when it has one, else
from the column profiles), reads the series as one aggregate per day with validated SQL, and hands it
to ``nexus.forecast``: a regular grain with its gaps filled and counted, a seasonal period, candidate
models chosen by a rolling-origin backtest (MASE against seasonal naive), and a forecast with 80% and
95% intervals. The answer says plainly whether anything beat naive. Every figure in it is in the
result table or in the plan the run records (the models' MASE, strengths, anomalies).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Literal, cast

from threadpoolctl import threadpool_limits

from nexus.agents.visualiser import chart_dict
from nexus.charts import ChartError, layered_forecast_chart
from nexus.datasets.ingest.names import quote
from nexus.errors import NexusError
from nexus.forecast import (
    ForecastError,
    ForecastResult,
    Grain,
    RegularSeries,
    forecast,
    parse_horizon,
    regularise,
)
from nexus.graph.registry import register
from nexus.graph.state import Deps, RunState
from nexus.query.catalog import CatalogTable, Column
from nexus.query.executor import execute
from nexus.query.parser import Parser
from nexus.query.spec import Aggregate
from nexus.query.validate import validate_sql

_GRAIN_WORDS: tuple[tuple[str, Grain], ...] = (
    (r"\b(?:daily|(?:per|by|each|a) day)\b", "day"),
    (r"\b(?:weekly|(?:per|by|each|a) week)\b", "week"),
    (r"\b(?:monthly|(?:per|by|each|a) month)\b", "month"),
    (r"\b(?:quarterly|(?:per|by|each|a) quarter)\b", "quarter"),
    (r"\b(?:yearly|annual(?:ly)?|(?:per|by|each|a) year)\b", "year"),
)
"""Grains the question asks for outright ("monthly sales"); "next 6 months" is a horizon, not a grain."""
_ORDER: tuple[Grain, ...] = ("day", "week", "month", "quarter", "year")
_HORIZON_UNIT = re.compile(r"\bnext (?:\w+ )?(day|week|month|quarter|year)s?\b", re.IGNORECASE)
_ABOUT_SHAPE = re.compile(r"\b(?:trend|seasonal(?:ity)?|anomal(?:y|ies)|outliers?|unusual)\b", re.IGNORECASE)
_MONEY = ("amount", "revenue", "sales", "price", "cost", "income", "profit", "spend", "fare", "total")


@dataclass(frozen=True)
class Source:
    """Where the series comes from: a table, its time column, a measure and how periods combine."""

    table: CatalogTable
    time: Column
    measure: Column | None  # None: count rows
    how: str  # "sum" or "mean"

    @property
    def label(self) -> str:
        """Return the measure in words."""
        return self.measure.label if self.measure is not None else f"{self.table.name} rows"


def _temporal(table: CatalogTable, wanted: str | None = None) -> Column | None:
    if wanted:
        found = table.column(wanted)
        if found is not None and found.temporal:
            return found
    columns = [c for c in table.columns if c.temporal]
    columns.sort(key=lambda c: c.role != "date")
    return columns[0] if columns else None


def find_source(question: str, deps: Deps) -> Source:
    """Return the table, time column and measure the question is about."""
    parsed = Parser(deps.catalog, deps.values).parse(question)
    spec = parsed.spec
    tables = sorted(deps.catalog.tables, key=lambda t: -t.row_count)
    if spec is not None:
        named = [t for t in deps.catalog.tables if t.name in spec.tables]
        tables = named + [t for t in tables if t not in named]
    for table in tables:
        wanted_time = spec.time.column if spec is not None and spec.time is not None else None
        if spec is not None:
            for dimension in spec.dimensions:
                if dimension.grain is not None:
                    wanted_time = dimension.column
        when = _temporal(table, wanted_time)
        if when is None:
            continue
        if spec is not None and spec.measures:
            first = spec.measures[0]
            column = table.column(first.column) if first.column else None
            if first.column is None or column is not None:
                how = "mean" if first.agg in (Aggregate.AVG, Aggregate.MEDIAN) else "sum"
                return Source(table, when, column if column is not None and column.numeric else None, how)
        for role in ("amount", "measure"):
            for column in table.columns:
                if column.role == role and column.numeric and column.name.casefold() in question.casefold():
                    return Source(table, when, column, "sum" if role == "amount" else "mean")
        for role in ("amount", "measure"):
            for column in table.columns:
                if column.role == role and column.numeric:
                    return Source(table, when, column, "sum" if role == "amount" else "mean")
        return Source(table, when, None, "sum")
    raise ForecastError("None of the chosen tables has a date or time column to forecast along.")


def _grain(question: str) -> Grain | None:
    for pattern, grain in _GRAIN_WORDS:
        if re.search(pattern, question, re.IGNORECASE):
            return grain
    return None


def series_for(question: str, dates: list[str], values: list[float], how: str) -> RegularSeries:
    """Return the series at the grain the question asks for, else the data's own.

    A horizon in coarser units than the data ("the next 6 months" of daily rows) sets the grain to
    weeks, months or quarters; never to years, which few datasets have enough of.
    """
    per: Literal["sum", "mean"] = "mean" if how == "mean" else "sum"
    asked = _grain(question)
    if asked is not None:
        return regularise(dates, values, grain=asked, how=per)
    series = regularise(dates, values, how=per)
    unit = _HORIZON_UNIT.search(question)
    if unit is not None:
        wanted = cast(Grain, unit.group(1).lower())
        if wanted != "year" and _ORDER.index(wanted) > _ORDER.index(series.grain):
            return regularise(dates, values, grain=wanted, how=per)
    return series


def read_daily(source: Source, deps: Deps) -> tuple[str, list[str], list[float]]:
    """Return the SQL and one aggregate per day of the measure, read with validated, read-only SQL."""
    when = quote(source.time.name)
    if source.measure is None:
        value = "COUNT(*)"
    else:
        agg = "AVG" if source.how == "mean" else "SUM"
        value = f"{agg}({quote(source.measure.name)})"
    sql = (
        f"SELECT CAST(date_trunc('day', CAST({when} AS TIMESTAMP)) AS DATE) AS period, {value} AS value "
        f"FROM {quote(source.table.name)} WHERE {when} IS NOT NULL GROUP BY 1 ORDER BY 1"
    )
    checked = validate_sql(sql, deps.catalog, max_chars=10_000)
    limits = deps.query_settings.model_copy(update={"max_result_rows": deps.chart_settings.forecast_max_rows})
    result = execute(deps.catalog, checked.executable, limits)
    if result.truncated:
        raise ForecastError(
            f"The series has more than {limits.max_result_rows:,} days (NEXUS_FORECAST_MAX_ROWS); "
            "filter it first."
        )
    rows = [row for row in result.rows if row[1] is not None]
    return checked.sql, [str(row[0]) for row in rows], [float(row[1]) for row in rows]


def _figure(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.2f}" if abs(value) < 1e6 else f"{value:,.0f}"


def describe(found: ForecastResult, source: Source, horizon: int, question: str) -> str:
    """Return the answer in words; its figures are the forecast's own."""
    grain = found.grain
    first, last = found.points[0], found.points[-1]
    periods = f"{horizon} {grain}{'s' if horizon != 1 else ''}"
    parts = [
        f"Forecast of {source.label} per {grain} for the next {periods}: "
        f"{_figure(first['forecast'])} for {first['date']}"
        + (f" to {_figure(last['forecast'])} for {last['date']}" if len(found.points) > 1 else "")
        + f" (95% interval {_figure(last['lo95'])} to {_figure(last['hi95'])} at the end)."
    ]
    if found.beats_naive:
        parts.append(
            f"Model: {found.model}, chosen by backtest: MASE {found.backtest_mase:.2f} against "
            f"{found.naive_mase:.2f} for seasonal naive (repeating the last season)."
        )
    else:
        others = [c["mase"] for c in found.candidates[1:] if c.get("mase") is not None]
        best = f", best other {min(others):.2f}" if others else ""
        parts.append(
            f"Nothing beat seasonal naive in the backtest (naive MASE {found.naive_mase:.2f}{best}), "
            "so the forecast repeats the last season: treat it as a baseline."
        )
    if _ABOUT_SHAPE.search(question) or found.anomalies:
        if found.trend_strength is not None and found.seasonal_strength is not None:
            parts.append(
                f"Trend strength {found.trend_strength:.2f} and seasonal strength "
                f"{found.seasonal_strength:.2f} (0 none, 1 all of the variation)."
            )
        if found.anomalies:
            shown = ", ".join(f"{a['date']} ({_figure(a['value'])})" for a in found.anomalies[:5])
            parts.append(f"Unusual points: {shown}.")
        elif re.search(r"anomal|outlier|unusual", question, re.IGNORECASE):
            parts.append("No point falls outside the robust bounds of the residuals.")
    if found.filled:
        parts.append(f"{found.filled} missing {grain}(s) were filled ({found.fill_method}).")
    return " ".join(parts)


def result_table(found: ForecastResult, source: Source) -> dict[str, Any]:
    """Return the history and the forecast as one table."""
    columns = [
        {"name": "period", "type": "date"},
        {"name": "actual", "type": "number"},
        {"name": "forecast", "type": "number"},
        {"name": "lo80", "type": "number"},
        {"name": "hi80", "type": "number"},
        {"name": "lo95", "type": "number"},
        {"name": "hi95", "type": "number"},
    ]
    rows: list[list[Any]] = [[h["date"], h["value"], None, None, None, None, None] for h in found.history]
    rows += [
        [p["date"], None, p["forecast"], p["lo80"], p["hi80"], p["lo95"], p["hi95"]] for p in found.points
    ]
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": False}


def forecast_dict(found: ForecastResult) -> dict[str, Any]:
    """Return the forecast as the state and the API carry it."""
    return {
        "model": found.model,
        "grain": found.grain,
        "season": found.season,
        "backtest_mase": found.backtest_mase,
        "naive_mase": found.naive_mase,
        "beats_naive": found.beats_naive,
        "points": found.points,
        "candidates": found.candidates,
        "trend_strength": found.trend_strength,
        "seasonal_strength": found.seasonal_strength,
        "anomalies": found.anomalies,
        "filled": found.filled,
        "fill_method": found.fill_method,
    }


def _failed(reason: str, timings: dict[str, float]) -> dict[str, Any]:
    return {
        "agent": "timeseries",
        "plan": None,
        "planned_by": "none",
        "sql": None,
        "result": None,
        "answer": f"I could not forecast this: {reason}",
        "status": "unresolved",
        "pattern": "forecast",
        "confidence": 0.0,
        "unresolved": [],
        "notes": [],
        "timings": timings,
    }


@register(
    "timeseries",
    "forecasts a measure over time (backtested against naive), and answers about trend, seasonality "
    "and anomalies",
)
def timeseries_agent(state: RunState, deps: Deps) -> dict[str, Any]:
    """Read the series, forecast it, and answer with the forecast, its backtest and a chart."""
    started = time.perf_counter()
    question = state["question"]
    timings = dict(state.get("timings") or {})
    settings = deps.chart_settings
    try:
        source = find_source(question, deps)
        sql, dates, values = read_daily(source, deps)
        series = series_for(question, dates, values, source.how)
        horizon = parse_horizon(question, series.grain)
        if horizon is not None and horizon > settings.forecast_max_horizon:
            raise ForecastError(
                f"{horizon} periods is more than NEXUS_FORECAST_MAX_HORIZON "
                f"({settings.forecast_max_horizon})."
            )
        with threadpool_limits(limits=1, user_api="blas"):  # tiny matrices: threads only contend
            found = forecast(series, horizon, max_seconds=settings.forecast_max_seconds)
    except NexusError as error:
        timings["agent_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return _failed(error.detail, timings)
    steps = len(found.points)
    table = result_table(found, source)
    plan = {
        "forecast": {
            "table": source.table.name,
            "time": source.time.name,
            "measure": source.measure.name if source.measure is not None else None,
            "per_period": source.how if source.measure is not None else "count",
            "grain": found.grain,
            "season": found.season,
            "horizon": steps,
            "model": found.model,
            "backtest_mase": found.backtest_mase,
            "naive_mase": found.naive_mase,
            "trend_strength": found.trend_strength,
            "seasonal_strength": found.seasonal_strength,
            "anomalies": found.anomalies,
            "filled": found.filled,
            "intervals_percent": [80, 95],
        }
    }
    tried = [str(c["model"]) for c in found.candidates]
    notes = [f"Backtested {len(tried)} candidate models: {', '.join(tried)}."]
    chart: dict[str, Any] | None = None
    try:
        money = any(word in source.label.casefold() for word in _MONEY) or (
            source.measure is not None and source.measure.role == "amount"
        )
        chart = chart_dict(
            layered_forecast_chart(
                found.history,
                found.points,
                title=f"{source.label} per {found.grain}: history and forecast",
                measure_label=source.label,
                money=money,
            )
        )
    except ChartError as error:
        notes.append(f"No chart: {error.detail}")
    timings.update({f"forecast_{key}": value for key, value in found.timings.items()})
    timings["agent_ms"] = round((time.perf_counter() - started) * 1000, 3)
    return {
        "agent": "timeseries",
        "plan": plan,
        "planned_by": "rules",
        "sql": sql,
        "result": table,
        "chart": chart,
        "forecast": forecast_dict(found),
        "answer": describe(found, source, steps, question),
        "status": "answered",
        "pattern": "forecast",
        "confidence": 0.8,
        "unresolved": [],
        "notes": notes,
        "timings": timings,
    }
