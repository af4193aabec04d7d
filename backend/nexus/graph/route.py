"""Routing: deterministic rules first, the router model only where the rules are unsure.

Rules, in order:

1. SQL typed by the user (it starts with SELECT or WITH) -> ``sql``.
2. Picture words ("plot", "chart", "as a pie") -> ``visualiser``.
3. Forecast words ("forecast", "predict", "next 6 months", "seasonality") -> ``timeseries``.
4. Document words ("according to the report", "what does the policy say") when the user has
   documents -> ``retrieval``, unless a confident plan uses the word as data (a ``policy_type``
   column).
5. The query engine's parser: a plan with enough confidence -> ``sql``.
6. Analysis words ("correlation", "standard deviation", "outliers", "regression") -> ``analyst``.
7. Otherwise the router model picks from the routes whose agents are present (JSON schema with an
   enum of routes, a few examples); without a model, ``sql`` (which says what it could not place).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

from nexus.graph.registry import AGENTS, ROUTES
from nexus.llm.base import Message
from nexus.llm.models import Models
from nexus.query.parser import ParseResult

CONFIDENT = 0.75

_SQL = re.compile(r"^\s*(?:select|with)\b", re.IGNORECASE)
_PICTURE = re.compile(
    r"\b(?:plot|plots|plotted|chart|charts|graph|graphs|visuali[sz]e|visuali[sz]ation|draw|diagram|histogram|"
    r"pie|donut|scatter|heatmap|heat map|bar chart|line chart|box ?plot|picture|show me a)\b",
    re.IGNORECASE,
)
_FORECAST = re.compile(
    r"\b(?:forecast|forecasts|forecasting|predict|predicted|prediction|predictions|projection|project|"
    r"projected|extrapolate|seasonality|seasonal|anomal(?:y|ies)|next (?:\d+ |few |)(?:days?|weeks?|months?|"
    r"quarters?|years?)|will (?:be|sell|reach|grow)|expected (?:in|for|to))\b",
    re.IGNORECASE,
)
_DOCUMENT = re.compile(
    r"\b(?:document|documents|report says|the report|policy|policies|manual|contract|according to|"
    r"data dictionary|what does .* (?:say|mean)|pdf|memo|handbook|guideline|guidelines|definition of)\b",
    re.IGNORECASE,
)
_ANALYSIS = re.compile(
    r"\b(?:correlat\w*|regression|standard deviation|std|variance|outliers?|distribution of|skew\w*|"
    r"kurtosis|percentile|quantile|z-?score|normali[sz]e|pivot|clean|deduplicate|duplicates|cluster\w*|"
    r"statistically|significan\w*|t-?test|covariance|moving average|rolling|cumulative|rank(?:ing)? of)\b",
    re.IGNORECASE,
)


class RouteChoice(BaseModel):
    """The router model's answer."""

    route: Literal["sql", "analyst", "visualiser", "timeseries", "retrieval"]
    reason: str = Field(max_length=200)


def route_by_rules(
    question: str, parsed: ParseResult | None, *, has_documents: bool
) -> tuple[str, str] | None:
    """Return (route, reason) when a rule decides, else None."""
    if _SQL.match(question):
        return "sql", "the question is SQL"
    if _PICTURE.search(question):
        return "visualiser", "the question asks for a picture"
    if _FORECAST.search(question):
        return "timeseries", "the question asks about the future or seasonality"
    document_word = _DOCUMENT.search(question) if has_documents else None
    if document_word and not _in_plan(document_word.group(0), parsed):
        return "retrieval", "the question is about documents"
    if parsed is not None and parsed.spec is not None and parsed.confidence >= CONFIDENT:
        if not _ANALYSIS.search(question):
            return "sql", f"the query engine placed the question (confidence {parsed.confidence:.2f})"
    if _ANALYSIS.search(question):
        return "analyst", "the question needs analysis beyond one query"
    return None


def _in_plan(word: str, parsed: ParseResult | None) -> bool:
    """Whether a confident plan uses the word as data ("premium by policy type": a column, not a document)."""
    if parsed is None or parsed.spec is None or parsed.confidence < CONFIDENT:
        return False
    return word.lower() in parsed.spec.model_dump_json().lower()


_EXAMPLES = [
    ("total sales by region", "sql"),
    ("what is the correlation between price and quantity?", "analyst"),
    ("draw a bar chart of revenue per month", "visualiser"),
    ("forecast revenue for the next 6 months", "timeseries"),
    ("what does the refund policy document say about late returns?", "retrieval"),
    ("which customers bought more than 3 times last year?", "sql"),
]


def route_by_model(question: str, models: Models, available: list[str]) -> tuple[str, str]:
    """Ask the router model to choose among the available routes."""
    lines = "\n".join(f'- "{q}" -> {r}' for q, r in _EXAMPLES if r in available)
    described = "\n".join(f"- {name}: {AGENTS[name].description}" for name in available if name in AGENTS)
    messages = [
        Message(
            "system",
            "You route questions about the user's data to one agent. Agents:\n"
            f"{described}\nExamples:\n{lines}\nReply with JSON: the route and a short reason.",
        ),
        Message("user", question),
    ]
    choice = models.structured("router", messages, RouteChoice, max_tokens=80)
    if choice.route not in available:
        return "sql", f"the router chose {choice.route}, which is not available yet"
    return choice.route, choice.reason


def available_routes() -> list[str]:
    """Return the routes whose agents are registered, in ROUTES order."""
    return [name for name in ROUTES if name in AGENTS]
