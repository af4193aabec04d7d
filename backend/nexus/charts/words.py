"""What a question says about the chart it wants, and the words and number formats a chart shows."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from nexus.charts.model import ChartKind
from nexus.charts.table import Field

_TITLE_CHARS = 90

_ASKED_KINDS: tuple[tuple[re.Pattern[str], ChartKind], ...] = (
    (re.compile(r"\b(pie|donut|doughnut)\b"), "pie"),
    (re.compile(r"\bscatter"), "scatter"),
    (re.compile(r"\bhistogram"), "histogram"),
    (re.compile(r"\bbox[- ]?(plot|and[- ]whisker)s?\b|\bwhiskers?\b"), "box"),
    (re.compile(r"\bheat[- ]?map|\bmatrix\b"), "heatmap"),
    (re.compile(r"\bstacked\b"), "stacked_bar"),
    (re.compile(r"\bgrouped\b|\bclustered\b|\bside[- ]by[- ]side\b"), "grouped_bar"),
    (re.compile(r"\bhorizontal\b"), "horizontal_bar"),
    (re.compile(r"\bline (chart|graph|plot)|\bas a line\b|\btime[- ]?series\b"), "line"),
    (re.compile(r"\b(bar|column) (chart|graph|plot)|\bas (a )?bars?\b|\bbar\b"), "bar"),
    (re.compile(r"\bkpi\b|\bsingle number\b|\bas a number\b"), "kpi"),
)
HINTS: dict[str, ChartKind] = {
    "line": "line",
    "lines": "line",
    "area": "line",
    "trend": "line",
    "timeseries": "line",
    "time series": "line",
    "bar": "bar",
    "bars": "bar",
    "column": "bar",
    "grouped": "grouped_bar",
    "grouped_bar": "grouped_bar",
    "grouped bar": "grouped_bar",
    "stacked": "stacked_bar",
    "stacked_bar": "stacked_bar",
    "stacked bar": "stacked_bar",
    "horizontal": "horizontal_bar",
    "horizontal_bar": "horizontal_bar",
    "horizontal bar": "horizontal_bar",
    "barh": "horizontal_bar",
    "histogram": "histogram",
    "hist": "histogram",
    "distribution": "histogram",
    "box": "box",
    "boxplot": "box",
    "box plot": "box",
    "box_plot": "box",
    "scatter": "scatter",
    "scatterplot": "scatter",
    "scatter plot": "scatter",
    "points": "scatter",
    "heatmap": "heatmap",
    "heat map": "heatmap",
    "matrix": "heatmap",
    "pie": "pie",
    "donut": "pie",
    "doughnut": "pie",
    "kpi": "kpi",
    "number": "kpi",
}
NAMES: dict[ChartKind, str] = {
    "line": "line chart",
    "bar": "bar chart",
    "grouped_bar": "grouped bar chart",
    "stacked_bar": "stacked bar chart",
    "horizontal_bar": "horizontal bar chart",
    "histogram": "histogram",
    "box": "box plot",
    "scatter": "scatter plot",
    "heatmap": "heatmap",
    "pie": "pie chart",
    "kpi": "single number",
}


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


@dataclass(frozen=True)
class Intent:
    """What the question asks of the chart, beyond its data."""

    asked: ChartKind | None = None
    """A chart kind the question names ("as a pie", "scatter of ...")."""
    donut: bool = False
    share: bool = False
    stacked: bool = False
    compare: bool = False
    distribution: bool = False
    relationship: bool = False
    trend_line: bool = False
    average: bool = False

    @classmethod
    def of(cls, question: str) -> Intent:
        """Read the intent from a question."""
        text = question.casefold()
        asked = next((kind for pattern, kind in _ASKED_KINDS if pattern.search(text)), None)
        return cls(
            asked=asked,
            donut=_has(r"\b(donut|doughnut)\b", text),
            share=_has(
                r"\b(shares?|proportions?|percentages? of|percent of|composition|breakdown|split|"
                r"mix|parts? of|fractions? of|contribution|makes? up|made up)\b",
                text,
            ),
            stacked=_has(r"\b(stack(ed)?|composition|makes? up|made up)\b", text),
            compare=_has(r"\b(compare|comparison|comparing|versus|vs\.?|side by side)\b", text),
            distribution=_has(
                r"\b(distribution|distributed|histogram|spread|dispersion|variance|variability|"
                r"outliers?|box ?plots?|range of values)\b",
                text,
            ),
            relationship=_has(
                r"\b(scatter|relationship|relate[sd]?|correlat\w*|against|association|regression|"
                r"depends? on|versus|vs\.?)\b",
                text,
            ),
            trend_line=_has(
                r"\b(trend|trend ?line|correlat\w*|relationship|regression|best fit|fit)\b", text
            ),
            average=_has(r"\b(average|avg|mean|median|typical)\b", text),
        )


def hint_kind(hint: str | None) -> ChartKind | None:
    """Return the chart kind an explicit hint names (None when it names none)."""
    if not hint:
        return None
    text = re.sub(r"[\s_-]+", " ", hint.strip().casefold())
    return HINTS.get(text) or HINTS.get(text.replace(" ", "_")) or HINTS.get(text.removesuffix(" chart"))


def position(field: Field, question: str) -> int | None:
    """Return where a question first names a field (by name, name in words, or label), if it does."""
    text = question.casefold()
    names = {field.name.casefold(), field.name.casefold().replace("_", " "), field.label.casefold()}
    found = [m.start() for n in names if n for m in [re.search(rf"(?<!\w){re.escape(n)}(?!\w)", text)] if m]
    return min(found) if found else None


def mentioned(fields: Sequence[Field], question: str) -> list[Field]:
    """Return the fields a question names, in the order it names them."""
    found = [(at, field) for field in fields for at in [position(field, question)] if at is not None]
    return [field for _, field in sorted(found, key=lambda item: item[0])]


_LEAD = re.compile(
    r"^(please\s+)?((can|could|would|will) you\s+)?(please\s+)?"
    r"(plot|chart|graph|draw|show( me)?|give me|make|create|display|visuali[sz]e|tell me|list|"
    r"what (is|are|was|were)|what's|how (has|have|did|does|do)|how is|which)\s+",
    re.IGNORECASE,
)
_CHART_WORDS = re.compile(
    r"^(an?\s+|the\s+)?(\w+\s+)?(chart|graph|plot|histogram|heat ?map|pie|donut|box ?plot|scatter( ?plot)?)"
    r"(\s+chart)?\s+(of|for|showing)\s+",
    re.IGNORECASE,
)
_TAIL = re.compile(
    r"\s+(as|in|using)\s+(an?\s+)?((bar|line|pie|donut|stacked|grouped|horizontal|scatter|column|area)\s+)?"
    r"(chart|graph|plot|pie|donut|bars?|lines?|histogram|"
    r"heat ?map|scatter( ?plot)?|box ?plot)(\s+(chart|graph|plot))?\s*$",
    re.IGNORECASE,
)
_TREND = re.compile(
    r"\s+(with|and)\s+(an?\s+|the\s+)?(trend|regression|best[- ]fit)(\s*line)?$", re.IGNORECASE
)


def title_from(question: str) -> str | None:
    """Return a chart title from a question: commands, chart words and the question mark left out."""
    text = re.sub(r"\s+", " ", question).strip().rstrip("?.!").strip()
    for _ in range(2):
        text = _LEAD.sub("", text).strip()
        text = _CHART_WORDS.sub("", text).strip()
    text = _TAIL.sub("", text).strip()
    text = _TREND.sub("", text).strip()
    text = re.sub(r"^(the|a|an)\s+", "", text, flags=re.IGNORECASE).strip(" ,;:")
    if len(text) < 3:
        return None
    if len(text) > _TITLE_CHARS:
        text = text[: _TITLE_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return text[:1].upper() + text[1:]


def axis_format(field: Field) -> str | None:
    """Return the d3 format of a measure's axis (None: Vega-Lite's own)."""
    if field.money:
        return "$,.3~s" if max(abs(field.low), abs(field.high)) >= 1e6 else "$,.2~f"
    if field.fraction:
        return ".1%"
    return None


def value_format(field: Field) -> str:
    """Return the d3 format of one value of a measure (tooltips, numbers shown alone)."""
    if field.money:
        return "$,.2f"
    if field.fraction:
        return ".1%"
    return ",d" if field.integer else ",.6~r"
