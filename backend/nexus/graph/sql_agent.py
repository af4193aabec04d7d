"""The SQL agent: a plan (parser, memory or planner model) -> validated SQL -> DuckDB -> answer.

Plans come from, in order: the previous plan with a follow-up laid over it; the rule-based parser
when it is confident; the planner model under a JSON schema. A reviewer's findings come back as
``feedback``: an aggregate the question's words contradict is corrected in the plan, anything else
goes to the planner model with the findings. Every plan goes through the same compiler, validator
and executor as ``POST /sql``.
"""

from __future__ import annotations

import re
import time
from typing import Any

import structlog

from nexus.errors import NexusError
from nexus.graph import followup
from nexus.graph.planner import model_plan
from nexus.graph.registry import register
from nexus.graph.state import Deps, RunState
from nexus.llm.base import ModelUnavailable
from nexus.query.answer import Answerer, unresolved_answer
from nexus.query.compiler import PlanError, compile_spec
from nexus.query.executor import QueryResult, execute
from nexus.query.parser import Parser, ParseResult
from nexus.query.spec import Aggregate, Measure, QuerySpec
from nexus.query.validate import SQLRejected, validate_sql

log = structlog.get_logger(__name__)

_RAW_SQL = re.compile(r"^\s*(?:select|with)\b", re.IGNORECASE)
AGG_HINT = re.compile(r"aggregate=(\w+)")


def result_dict(result: QueryResult) -> dict[str, Any]:
    """Return a result as the state and the API carry it."""
    return {
        "columns": result.columns,
        "rows": result.rows,
        "row_count": result.row_count,
        "truncated": result.truncated,
    }


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


def _with_aggregate(spec: QuerySpec, wanted: str) -> QuerySpec:
    """Return the plan with its first measure using the aggregate the question asks for."""
    if not spec.measures:
        return spec
    first = spec.measures[0]
    agg = Aggregate(wanted)
    if first.column is None and agg not in {Aggregate.COUNT}:
        return spec
    fixed = Measure(agg=agg, column=first.column, table=first.table, where=first.where)
    order = [o.model_copy(update={"by": fixed.name}) if o.by == first.name else o for o in spec.order]
    return spec.model_copy(update={"measures": [fixed, *spec.measures[1:]], "order": order})


def _plan(state: RunState, deps: Deps, parsed: ParseResult) -> tuple[QuerySpec | None, str]:
    question = state["question"]
    feedback = state.get("feedback") or []
    previous = next((turn["plan"] for turn in reversed(state.get("history") or []) if turn.get("plan")), None)
    spec: QuerySpec | None = None
    source = "parser"
    if previous is not None and followup.is_followup(question):
        spec = followup.merge(previous, parsed, question)
        source = "memory"
    if spec is None and parsed.spec is not None:
        spec, source = parsed.spec, "parser"
    plan_before = state.get("plan")
    if feedback and plan_before:
        hints = [m.group(1) for f in feedback for m in [AGG_HINT.search(f)] if m]
        try:
            current = QuerySpec.model_validate(plan_before)
        except ValueError:
            current = None
        if hints and current is not None:
            return _with_aggregate(current, hints[0]), "reviewer"
        if deps.models is not None:
            return model_plan(question, deps.catalog, deps.values, deps.models, feedback=feedback), "model"
    if spec is None and deps.models is not None:
        spec, source = model_plan(question, deps.catalog, deps.values, deps.models), "model"
    return spec, source


def _unresolved(
    parsed: ParseResult,
    deps: Deps,
    timings: dict[str, float],
    started: float,
    reason: str | None,
    *,
    source: str,
    plan: QuerySpec | None = None,
    sql: str | None = None,
) -> dict[str, Any]:
    """Return the state updates of a question left unanswered, saying why and what exists."""
    timings["agent_ms"] = _ms(started)
    return {
        "agent": "sql",
        "plan": plan.describe() if plan is not None else None,
        "sql": sql,
        "result": None,
        "answer": unresolved_answer(parsed.unresolved, deps.catalog, reason),
        "status": "unresolved",
        "pattern": parsed.pattern,
        # a plan that was made but could not run is worth less than none at all
        "confidence": parsed.confidence if plan is None else min(parsed.confidence, 0.3),
        "unresolved": parsed.unresolved,
        "notes": parsed.notes,
        "planned_by": source,
        "timings": timings,
    }


@register(
    "sql",
    "answers with one read-only SQL query: totals, averages, counts, group-bys, top-N, periods, "
    "period comparisons, growth, shares and rows missing from another table",
)
def sql_agent(state: RunState, deps: Deps) -> dict[str, Any]:
    """Plan, compile, validate, run and answer one question."""
    started = time.perf_counter()
    question = state["question"]
    timings = dict(state.get("timings") or {})
    if _RAW_SQL.match(question):
        checked = validate_sql(question, deps.catalog, max_chars=deps.query_settings.max_sql_chars)
        result = execute(deps.catalog, checked.executable, deps.query_settings)
        timings["agent_ms"] = _ms(started)
        return {
            "agent": "sql",
            "sql": checked.sql,
            "plan": None,
            "planned_by": "user",
            "result": result_dict(result),
            "answer": f"The query returned {result.row_count:,} row(s).",
            "status": "answered",
            "pattern": "sql",
            "confidence": 1.0,
            "timings": timings,
        }
    parsed = Parser(deps.catalog, deps.values).parse(question)
    timings["parse_ms"] = _ms(started)
    model_problem: str | None = None
    try:
        spec, source = _plan(state, deps, parsed)
    except ModelUnavailable:
        if parsed.spec is None:
            raise  # the question needs the model, and it is not there: 503 says what to do
        spec, source = parsed.spec, "parser"
    except NexusError as error:
        # The model's plan did not fit (or was about something else): answer as the parser can.
        log.info("planner_declined", error=type(error).__name__)
        spec, source = (parsed.spec, "parser") if parsed.spec is not None else (None, "none")
        model_problem = error.detail
    if spec is None:
        return _unresolved(parsed, deps, timings, started, model_problem or parsed.missing, source="none")
    try:
        shown = compile_spec(spec, deps.catalog).sql(dialect="duckdb", pretty=True)
    except PlanError as error:
        return _unresolved(parsed, deps, timings, started, error.detail, source=source, plan=spec)
    checked = validate_sql(shown, deps.catalog, max_chars=1_000_000)
    try:
        result = execute(deps.catalog, checked.executable, deps.query_settings)
    except SQLRejected as error:
        if source != "model":
            raise
        # A model's plan that does not run (a value of the wrong type...) is declined, not answered.
        reason = f"The planner model's query failed: {error.detail}"
        return _unresolved(parsed, deps, timings, started, reason, source=source, plan=spec, sql=shown)
    names = [column["name"] for column in result.columns]
    answer = Answerer(spec, deps.catalog).write(names, result.rows, result.row_count)
    notes = list(parsed.notes) if source in {"parser", "memory", "reviewer"} else []
    if source == "memory":
        notes.append("This builds on the previous question's plan.")
    if source == "model":
        notes.append("The plan was written by the planner model and checked like any other.")
    if notes:
        answer += " " + " ".join(notes)
    if result.truncated:
        answer += f" The result has {result.row_count:,} rows; the first {len(result.rows):,} are returned."
    timings.update(result.timings)
    timings["agent_ms"] = _ms(started)
    return {
        "agent": "sql",
        "plan": spec.describe(),
        "planned_by": source,
        "sql": shown,
        "result": result_dict(result),
        "answer": answer,
        "status": "answered",
        "pattern": parsed.pattern,
        "confidence": parsed.confidence if source == "parser" else max(parsed.confidence, 0.5),
        "unresolved": parsed.unresolved if source == "parser" else [],
        "notes": notes,
        "timings": timings,
    }
