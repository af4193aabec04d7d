"""What a chart is once chosen: its kind, its Vega-Lite spec, and why it was chosen."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from nexus.errors import UnprocessableContent

ChartKind = Literal[
    "line",
    "bar",
    "grouped_bar",
    "stacked_bar",
    "horizontal_bar",
    "histogram",
    "box",
    "scatter",
    "heatmap",
    "pie",
    "kpi",
]
CHART_KINDS: tuple[ChartKind, ...] = get_args(ChartKind)


@dataclass(frozen=True)
class Chart:
    """A chart ready to show: a validated Vega-Lite v5 spec with its data inlined."""

    kind: ChartKind
    spec: dict[str, Any]
    """Vega-Lite v5, ``$schema`` set, data inlined as ``{"values": [...]}``."""
    reason: str
    """One sentence, shown to users: why this kind of chart."""
    notes: list[str] = field(default_factory=list)
    """What the chart leaves out or changes (grouped categories, rows not drawn...)."""


class ChartError(UnprocessableContent):
    """No chart fits the result (no columns, or nothing to measure)."""

    type_slug = "chart-not-possible"
