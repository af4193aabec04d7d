"""The state a run carries from node to node, and what it needs but does not store (``Deps``).

State is checkpointed per conversation, so it holds only JSON-like values: the plan as a dict, the
result's columns and rows. ``history`` accumulates one turn per run, which is how a follow-up such
as "and by region?" finds the plan it builds on. Everything else is reset by each new question.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from nexus.config import ChartSettings, QuerySettings
from nexus.datasets.storage import DatasetStore
from nexus.llm.models import Models
from nexus.query.catalog import Catalog
from nexus.rag.retrieve import Hit
from nexus.sandbox.service import Sandbox

MAX_HISTORY = 20


class Turn(TypedDict):
    """One earlier question of the conversation and what answered it."""

    run_id: str
    question: str
    agent: str
    plan: dict[str, Any] | None
    sql: str | None
    answer: str
    status: str


class Check(TypedDict):
    """One review check and its finding."""

    name: str
    passed: bool
    detail: str


class Review(TypedDict):
    """What the reviewer checked, and whether the work passed."""

    passed: bool
    checks: list[Check]
    loops: int


def _keep_recent(left: list[Turn], right: list[Turn]) -> list[Turn]:
    return [*left, *right][-MAX_HISTORY:]


class RunState(TypedDict, total=False):
    """One question's journey: route, plan, work, review, answer."""

    question: str
    dataset_ids: list[str]
    run_id: str
    history: Annotated[list[Turn], _keep_recent]
    route: str
    route_reason: str
    routed_by: str
    agent: str
    plan: dict[str, Any] | None
    planned_by: str
    sql: str | None
    code: str | None
    stdout: str | None
    chart: dict[str, Any] | None
    forecast: dict[str, Any] | None
    citations: list[dict[str, Any]]
    result: dict[str, Any] | None
    answer: str
    status: str
    pattern: str
    confidence: float
    unresolved: list[str]
    notes: list[str]
    feedback: list[str]
    review: Review | None
    loops: int
    timings: dict[str, float]


def fresh(question: str, dataset_ids: list[str], run_id: str) -> RunState:
    """Return the input of a new run: every per-question field reset, the history kept."""
    return RunState(
        question=question,
        dataset_ids=dataset_ids,
        run_id=run_id,
        route="",
        route_reason="",
        routed_by="",
        agent="",
        plan=None,
        planned_by="",
        sql=None,
        code=None,
        stdout=None,
        chart=None,
        forecast=None,
        citations=[],
        result=None,
        answer="",
        status="",
        pattern="unknown",
        confidence=0.0,
        unresolved=[],
        notes=[],
        feedback=[],
        review=None,
        loops=0,
        timings={},
    )


@dataclass
class Deps:
    """What nodes use but the checkpoint must not hold: the catalog, connections, models."""

    catalog: Catalog
    values: dict[tuple[str, str], list[str]]
    store: DatasetStore
    query_settings: QuerySettings
    models: Models | None
    max_review_loops: int = 2
    has_documents: bool = False
    search_documents: Callable[[str, int], list[Hit]] | None = None
    retrieval_k: int = 5
    retrieval_min_similarity: float = 0.35
    sandbox: Sandbox | None = None
    chart_settings: ChartSettings = field(default_factory=ChartSettings)
    analyst_max_retries: int = 2
    extra: dict[str, Any] = field(default_factory=dict)
