"""The orchestrator: a LangGraph StateGraph of context -> route -> agent -> review -> respond.

    context  the question, the datasets, the conversation's history (from the checkpointer)
    route    rules first, the router model only when they are unsure (see route.py)
    agent    the registered agent for the route (sql now; analyst, visualiser, timeseries and
             retrieval register themselves as they arrive); a route whose agent has not arrived
             falls back to sql, and the answer says so
    review   deterministic checks; failures go back to the agent with findings, at most
             NEXUS_MAX_REVIEW_LOOPS times
    respond  the final answer: template text, or the narrator model's when one is configured
             (its text must be grounded in the result, else the template stands); one turn is
             appended to the conversation's history

State is checkpointed per conversation (thread id = conversation id), so follow-ups see the plans
before them. Dependencies that must not be checkpointed (catalog, connections, models) travel in
the run's context (``Deps``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import structlog
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from nexus.agents import analyst, retrieval, timeseries, visualiser  # noqa: F401 - they register themselves
from nexus.errors import NexusError
from nexus.graph import formats, sql_agent  # noqa: F401 - sql_agent registers the sql agent
from nexus.graph.registry import AGENTS
from nexus.graph.review import grounded, review
from nexus.graph.route import available_routes, route_by_model, route_by_rules
from nexus.graph.state import Deps, RunState, Turn
from nexus.llm.base import Message
from nexus.llm.models import assignment
from nexus.observability.metrics import AGENT_DURATION, AGENT_RUNS, REVIEW_LOOPS
from nexus.query.parser import Parser

log = structlog.get_logger(__name__)


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 3)


def context_node(state: RunState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Note what the run starts from; the catalog and history are already at hand."""
    timings = dict(state.get("timings") or {})
    timings["history_turns"] = float(len(state.get("history") or []))
    return {"timings": timings}


def route_node(state: RunState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Choose the agent."""
    deps = runtime.context
    started = time.perf_counter()
    question = state["question"]
    parsed = Parser(deps.catalog, deps.values).parse(question) if deps.catalog.tables else None
    decided = route_by_rules(question, parsed, has_documents=deps.has_documents)
    routed_by = "rules"
    if not deps.catalog.tables and deps.has_documents:
        decided = ("retrieval", "no dataset was named; the answer can only come from documents")
    if decided is None:
        # Without documents there is nothing for the retrieval agent to read.
        available = [name for name in available_routes() if name != "retrieval" or deps.has_documents]
        if deps.models is not None and len(available) > 1:
            decided = route_by_model(question, deps.models, available)
            routed_by = "model"
        else:
            decided = ("sql", "no rule decided; the sql agent says what it could not place")
    route, reason = decided
    if (
        route == "timeseries"
        and "analyst" in AGENTS
        and not _has_dates(deps)
        and not _TIME_WORDS.search(question)
    ):
        # "predict whether a passenger survived": a prediction, but not over time
        route, reason = "analyst", "the question asks for a prediction, and no table has a date column"
    agent = route if route in AGENTS else "sql"
    notes = list(state.get("notes") or [])
    if agent != route:
        notes.append(
            f"This question is for the {route} agent, which is not available yet; "
            "here is what the sql agent found."
        )
    timings = dict(state.get("timings") or {})
    timings["route_ms"] = _ms(started)
    return {
        "route": route,
        "route_reason": reason,
        "routed_by": routed_by,
        "agent": agent,
        "notes": notes,
        "timings": timings,
    }


_TIME_WORDS = re.compile(
    r"\b(?:forecast\w*|next \w+|seasonal\w*|trend\w*|over time|per (?:day|week|month|quarter|year))\b",
    re.IGNORECASE,
)


def _has_dates(deps: Deps) -> bool:
    return any(column.temporal for table in deps.catalog.tables for column in table.columns)


def agent_node(state: RunState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Run the chosen agent."""
    name = state.get("agent") or "sql"
    started = time.perf_counter()
    outcome = "error"
    try:
        updates = AGENTS[name].run(state, runtime.context)
        outcome = str(updates.get("status") or "answered")
        notes = [*(state.get("notes") or [])]
        for note in updates.get("notes") or []:
            if note not in notes:
                notes.append(note)
        updates["notes"] = notes
        return updates
    finally:
        AGENT_RUNS.labels(name, outcome).inc()
        AGENT_DURATION.labels(name).observe(time.perf_counter() - started)


def review_node(state: RunState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Check the work; on failure, hand the findings back for another loop."""
    found = review(state, runtime.context)
    loops = state.get("loops", 0)
    if found["passed"] or loops >= runtime.context.max_review_loops:
        return {"review": found}
    REVIEW_LOOPS.inc()
    feedback = [check["detail"] for check in found["checks"] if not check["passed"]]
    return {"review": found, "feedback": feedback, "loops": loops + 1}


def after_review(state: RunState) -> str:
    """Loop back to the agent while the reviewer has findings and loops remain."""
    found = state.get("review")
    if found is None or found["passed"]:
        return "respond"
    if found["loops"] < state.get("loops", 0):
        return "agent"  # the review node counted a new loop: try again
    return "respond"


def respond_node(state: RunState, runtime: Runtime[Deps]) -> dict[str, Any]:
    """Write the final answer and remember the turn."""
    deps = runtime.context
    answer = state.get("answer") or ""
    status = state.get("status") or "unresolved"
    found = state.get("review")
    if found is not None and not found["passed"] and status == "answered":
        findings = "; ".join(check["detail"] for check in found["checks"] if not check["passed"])
        answer = (
            "I could not produce an answer I can stand behind: the reviewer found "
            f"{findings}. The query and its result are below for you to check."
        )
        status = "failed"
    elif (
        status == "answered"
        and state.get("result") is not None
        and deps.models is not None
        and state.get("agent") != "retrieval"  # it words its own answer, citations and all
    ):
        answer = _narrate(state, deps, answer, runtime)
    for note in state.get("notes") or []:
        if note not in answer:
            answer += " " + note
    if status == "answered":
        formatted = formats.fill(state["question"], state.get("result"))
        if formatted:
            answer += "\n" + formatted
    turn = Turn(
        run_id=state["run_id"],
        question=state["question"],
        agent=state.get("agent") or "sql",
        plan=state.get("plan"),
        sql=state.get("sql"),
        answer=answer,
        status=status,
    )
    return {"answer": answer, "status": status, "history": [turn]}


def _narrate(state: RunState, deps: Deps, template: str, runtime: Runtime[Deps]) -> str:
    """Let a capable narrator model word the answer; keep the template unless every number checks out."""
    assert deps.models is not None
    if assignment(deps.models.settings, "narrator").provider != "ollama":
        return template  # the embedded model is too small to improve on the template
    result = state.get("result") or {}
    rows = (result.get("rows") or [])[:20]
    messages = [
        Message(
            "system",
            "Write a short answer to the question from the result below. Use only numbers that appear "
            "in the result, written as they appear. No preamble.",
        ),
        Message(
            "user",
            f"Question: {state['question']}\n"
            f"Columns: {[c['name'] for c in result.get('columns', [])]}\n"
            f"Rows: {rows}\nDraft: {template}",
        ),
    ]
    pieces = []
    try:
        for piece in deps.models.stream("narrator", messages, max_tokens=200):
            pieces.append(piece)
            runtime.stream_writer({"event": "token", "text": piece})
    except NexusError as error:
        # The narrative is a nicety: the template answer stands when the narrator cannot be reached.
        log.warning("narrator_unavailable", error=error.detail)
        return template
    text = "".join(pieces).strip()
    given = state["question"] + " " + str(state.get("plan"))
    if not text or grounded(text, result, given=given):
        return template
    return text


def build_graph(checkpointer: BaseCheckpointSaver[Any] | None = None) -> Any:
    """Return the compiled orchestration graph."""
    graph = StateGraph(RunState, context_schema=Deps)
    graph.add_node("context", context_node)
    graph.add_node("route", route_node)
    graph.add_node("agent", agent_node)
    graph.add_node("review", review_node)
    graph.add_node("respond", respond_node)
    graph.add_edge(START, "context")
    graph.add_edge("context", "route")
    graph.add_edge("route", "agent")
    graph.add_edge("agent", "review")
    graph.add_conditional_edges("review", after_review, {"agent": "agent", "respond": "respond"})
    graph.add_edge("respond", END)
    return graph.compile(checkpointer=checkpointer)


def run(graph: Any, state: RunState, deps: Deps, thread_id: str) -> RunState:
    """Run a question to its answer."""
    final: RunState = graph.invoke(state, {"configurable": {"thread_id": thread_id}}, context=deps)
    return final


def stream(graph: Any, state: RunState, deps: Deps, thread_id: str) -> Iterator[tuple[str, Any]]:
    """Yield ("task", ...) when nodes start and finish, ("custom", ...) for model tokens."""
    config = {"configurable": {"thread_id": thread_id}}
    for mode, chunk in graph.stream(state, config, context=deps, stream_mode=["tasks", "custom"]):
        yield str(mode), chunk
