"""A forecast drawn over its history: the history line, the forecast dashed, 80 % and 95 % bands."""

from __future__ import annotations

from typing import Any

from nexus.charts.encode import HEIGHT, WIDTH
from nexus.charts.model import Chart
from nexus.charts.schema import SCHEMA_URL, scrub, validate_spec
from nexus.charts.shape import time_formats
from nexus.charts.table import Field, clean_label, parse_time, time_text
from nexus.charts.words import axis_format, value_format

MAX_HISTORY = 5000
_SERIES = ("History", "Forecast", "80% interval", "95% interval")
_COLOURS = ("#4c78a8", "#f58518", "#fdbe85", "#feedde")
_SCALE = {"domain": list(_SERIES), "range": list(_COLOURS)}


def _colour() -> dict[str, Any]:
    return {"field": "series", "type": "nominal", "scale": _SCALE, "legend": {"title": None}}


def _series(name: str) -> dict[str, Any]:
    # A datum colour cannot carry the shared scale; a constant field can.
    return {"calculate": f"'{name}'", "as": "series"}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def _rows(history: list[dict[str, Any]], points: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    rows: list[dict[str, Any]] = []
    for item in history:
        moment, value = parse_time(item.get("date")), _number(item.get("value"))
        if moment is not None and value is not None:
            rows.append({"part": "history", "date": time_text(moment), "value": value})
    rows.sort(key=lambda row: str(row["date"]))
    dropped = max(0, len(rows) - MAX_HISTORY)
    rows = rows[dropped:]
    for item in points:
        moment = parse_time(item.get("date"))
        if moment is None:
            continue
        row: dict[str, Any] = {"part": "forecast", "date": time_text(moment)}
        for key in ("forecast", "lo80", "hi80", "lo95", "hi95"):
            row[key] = _number(item.get(key))
        rows.append(row)
    return rows, dropped


def _band(level: str, name: str, lo: str, hi: str) -> dict[str, Any]:
    return {
        "transform": [
            {"filter": f"datum.part === 'forecast' && isValid(datum.{lo}) && isValid(datum.{hi})"},
            _series(name),
        ],
        "mark": {"type": "area", "opacity": 1},
        "encoding": {
            "x": {"field": "date", "type": "temporal"},
            "y": {"field": lo, "type": "quantitative"},
            "y2": {"field": hi},
            "color": _colour(),
        },
        "name": f"band_{level}",
    }


def layered_forecast_chart(
    history: list[dict[str, Any]],
    points: list[dict[str, Any]],
    *,
    title: str,
    measure_label: str,
    money: bool = False,
) -> Chart:
    """Return a forecast over its history as one layered, schema-checked line chart."""
    rows, dropped = _rows(history, points)
    measure_label = clean_label(measure_label) or "Value"
    values = [v for row in rows for k, v in row.items() if k not in {"part", "date"} and v is not None]
    measure = Field(
        index=-1,
        name="value",
        key="value",
        label=measure_label,
        kind="quantitative",
        role="amount" if money else "measure",
        money=money,
        low=min(values, default=0.0),
        high=max(values, default=0.0),
    )
    fmt = axis_format(measure)
    _, d3 = time_formats(rows, "date") if rows else ("", "%Y-%m-%d")
    x = {"field": "date", "type": "temporal", "title": "Date", "axis": {"format": d3, "labelOverlap": True}}
    y = {
        "field": "value",
        "type": "quantitative",
        "title": measure_label,
        **({"axis": {"format": fmt}} if fmt else {}),
    }
    tip = value_format(measure)
    history_line = {
        "transform": [{"filter": "datum.part === 'history' && isValid(datum.value)"}, _series("History")],
        "mark": {"type": "line"},
        "encoding": {
            "x": x,
            "y": y,
            "color": _colour(),
            "tooltip": [
                {"field": "date", "type": "temporal", "title": "Date", "format": d3},
                {"field": "value", "type": "quantitative", "title": measure_label, "format": tip},
            ],
        },
    }
    forecast_line = {
        "transform": [
            {"filter": "datum.part === 'forecast' && isValid(datum.forecast)"},
            _series("Forecast"),
        ],
        "mark": {"type": "line", "strokeDash": [6, 4], "point": True},
        "encoding": {
            "x": x,
            "y": {**y, "field": "forecast"},
            "color": _colour(),
            "tooltip": [
                {"field": "date", "type": "temporal", "title": "Date", "format": d3},
                {"field": "forecast", "type": "quantitative", "title": "Forecast", "format": tip},
                {"field": "lo80", "type": "quantitative", "title": "80% low", "format": tip},
                {"field": "hi80", "type": "quantitative", "title": "80% high", "format": tip},
                {"field": "lo95", "type": "quantitative", "title": "95% low", "format": tip},
                {"field": "hi95", "type": "quantitative", "title": "95% high", "format": tip},
            ],
        },
    }
    spec: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "title": title,
        "description": f"{measure_label}: history and forecast with 80% and 95% intervals.",
        "width": WIDTH,
        "height": HEIGHT,
        "data": {"values": rows},
        "layer": [
            _band("95", "95% interval", "lo95", "hi95"),
            _band("80", "80% interval", "lo80", "hi80"),
            history_line,
            forecast_line,
        ],
    }
    spec = scrub(spec)
    validate_spec(spec)
    notes = [f"Only the last {MAX_HISTORY:,} points of the history are drawn."] if dropped else []
    reason = "A line shows the history and the forecast, with shaded 80% and 95% intervals."
    return Chart(kind="line", spec=spec, reason=reason, notes=notes)
