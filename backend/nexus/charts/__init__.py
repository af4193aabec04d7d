"""Charts from query results: choose a kind, build a Vega-Lite v5 spec, check it, render it.

result, question, roles, hint
  -> table.read_table     columns as measures, dates, ordered and plain categories
  -> choose.plan_chart    the kind (a hint or chart word when the data fits it) and channels
  -> bars / plots         rows shaped (added up, top N + Other, ordered, bounded) and encoded
  -> schema.validate_spec checked against the schema altair ships, before anyone sees it
  -> schema.render        PNG or SVG with vl-convert (no browser)
"""

from nexus.charts.build import build_chart, choose_kind
from nexus.charts.layered import layered_forecast_chart
from nexus.charts.model import CHART_KINDS, Chart, ChartError, ChartKind
from nexus.charts.schema import SCHEMA_URL, VL_VERSION, InvalidSpec, RenderError, render, validate_spec

__all__ = [
    "CHART_KINDS",
    "SCHEMA_URL",
    "VL_VERSION",
    "Chart",
    "ChartError",
    "ChartKind",
    "InvalidSpec",
    "RenderError",
    "build_chart",
    "choose_kind",
    "layered_forecast_chart",
    "render",
    "validate_spec",
]
