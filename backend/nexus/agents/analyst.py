"""The analyst agent: the model writes pandas code, the sandbox runs it, errors go back to the model.

For questions one query cannot answer (correlations, outliers, rolling windows, regressions), the
analyst role's model gets the question, the tables' schemas and a few sample rows, and replies under
a JSON schema with ``code`` and ``explanation``. The code runs in the sandbox; a refusal or an
exception goes back to the model with the error, at most ``NEXUS_ANALYST_MAX_RETRIES`` times. The
answer's figures come from the result (the reviewer checks that every number in the answer appears in
the result or in the code), and the code is shown beside it.
"""

from __future__ import annotations

import re
import time
from typing import Any

import structlog
from pydantic import BaseModel, Field

from nexus.errors import NexusError
from nexus.graph.planner import describe_table
from nexus.graph.registry import register
from nexus.graph.review import grounded
from nexus.graph.state import Deps, RunState
from nexus.llm.base import Message, ModelOutputInvalid
from nexus.sandbox.code import check_sizes, first_rows, table_keys, table_loader
from nexus.sandbox.errors import (
    CodeFailed,
    CodeRejected,
    SandboxMemoryExceeded,
    SandboxOutputTooLarge,
    SandboxTimeout,
)
from nexus.sandbox.service import CodeRun, code_hash

log = structlog.get_logger(__name__)

RETRYABLE = (CodeRejected, CodeFailed, SandboxTimeout, SandboxMemoryExceeded, SandboxOutputTooLarge)
"""Problems the model can fix by writing different code."""

MAX_SHOWN = 8


class AnalystReply(BaseModel):
    """What the analyst model returns."""

    code: str = Field(description="Python using df / tables, pd and np; it must set result.")
    explanation: str = Field(description="One or two sentences on the method, without any figures.")


RULES = (
    "You write Python (pandas) code that answers a question about the tables below.\n"
    "- The data is already loaded: {access}. pd (pandas), np (numpy), math, statistics and datetime "
    "are provided; do not import anything else.\n"
    "- Set the variable result to the answer: a number, a small DataFrame or Series, a dict or a list.\n"
    "- No files, no network, no plotting, no classes, no names that start with an underscore, no "
    "eval/exec/getattr, no df.query or df.eval, no .format (use f-strings).\n"
    "- Column names are exactly as listed below, even where the question spells them differently.\n"
    "- Keep result small: aggregate, or take the rows that matter.\n"
    "- When the question names its answers as @name[...], set result to a dict with those names as keys.\n"
    "- explanation says how the code answers the question, in words, without stating any figures."
)


def _access(deps: Deps) -> str:
    names = [table.name for table in deps.catalog.tables]
    if len(names) == 1:
        return f"the table is the DataFrame df (also tables[{names[0]!r}])"
    return "the tables are DataFrames in the dict tables: " + ", ".join(f"tables[{n!r}]" for n in names)


def _samples(deps: Deps) -> str:
    frames = first_rows(deps.catalog, deps.store, 3)
    return "\n\n".join(
        f"First rows of {name}:\n{frame.to_string(max_colwidth=30)}" for name, frame in frames.items()
    )


def prompt(state: RunState, deps: Deps) -> list[Message]:
    """Return the messages that ask the model for code."""
    schemas = "\n\n".join(describe_table(table, deps.values) for table in deps.catalog.tables)
    system = RULES.format(access=_access(deps)) + "\n\n" + schemas + "\n\n" + _samples(deps)
    question = state["question"]
    feedback = state.get("feedback") or []
    if feedback:
        question += "\n\nA reviewer found problems with the earlier answer: " + "; ".join(feedback)
    return [Message("system", system), Message("user", question)]


def as_table(result: dict[str, Any]) -> dict[str, Any]:
    """Return a sandbox result in the result-table shape answers carry."""
    kind = result.get("kind")
    if kind == "table":
        return {key: result[key] for key in ("columns", "rows", "row_count", "truncated")}
    value = result.get("value")
    if (
        kind == "dict"
        and isinstance(value, dict)
        and all(not isinstance(v, (dict, list)) for v in value.values())
    ):
        rows = [[key, item] for key, item in value.items()]
        columns = [{"name": "key", "type": "text"}, {"name": "value", "type": _type(list(value.values()))}]
    elif kind == "list" and isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        rows = [[item] for item in value]
        columns = [{"name": "value", "type": _type(value)}]
    elif kind in ("dict", "list"):
        rows = [[str(value)]]
        columns = [{"name": "value", "type": "text"}]
    else:
        rows = [[value]]
        columns = [{"name": "result", "type": _type([value])}]
    return {"columns": columns, "rows": rows, "row_count": len(rows), "truncated": False}


def _type(values: list[Any]) -> str:
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, bool) for v in present):
        return "boolean"
    if present and all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return "integer"
    if present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return "number"
    return "text"


def _figure(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e-3 or abs(value) >= 1e6 else f"{round(value, 4):,}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def summarise(result: dict[str, Any]) -> str:
    """Return the result in words: the figures, taken from the result itself."""
    kind = result.get("kind")
    if kind in ("scalar", "none"):
        return f"The result is {_figure(result.get('value'))}."
    table = as_table(result)
    rows, names = table["rows"], [c["name"] for c in table["columns"]]
    if not rows:
        return "The result is empty."
    if len(rows) <= MAX_SHOWN and len(names) <= 4:
        if len(names) == 1:
            shown = ", ".join(_figure(row[0]) for row in rows)
        else:
            shown = "; ".join(
                f"{_figure(row[0])}: " + ", ".join(_figure(cell) for cell in row[1:]) for row in rows
            )
        return f"The result ({', '.join(names)}): {shown}."
    return f"The result has {table['row_count']:,} rows with columns {', '.join(names)}."


def stated_method(explanation: str, table: dict[str, Any], *, given: str) -> str:
    """Return the model's explanation without the sentences whose figures the work does not show.

    The model explains the method; figures come from the result. A sentence stating a number that is
    neither in the result nor in the question or the code ("the correlation is about 0.93", "values
    range from -1 to 1") is dropped rather than shown.
    """
    kept = []
    for sentence in re.split(r"(?<=[.!?])\s+", explanation.strip()):
        if sentence and not grounded(sentence, table, given=given):
            kept.append(sentence if sentence.endswith((".", "!", "?")) else sentence + ".")
    return " ".join(kept)


def _unanswered(reason: str, code: str | None, timings: dict[str, float]) -> dict[str, Any]:
    return {
        "agent": "analyst",
        "plan": None,
        "planned_by": "model" if code else "none",
        "sql": None,
        "code": code,
        "result": None,
        "answer": reason,
        "status": "unresolved",
        "pattern": "analysis",
        "confidence": 0.0,
        "unresolved": [],
        "notes": [],
        "timings": timings,
    }


@register(
    "analyst",
    "writes and runs pandas code in a sandbox: correlations, distributions, outliers, rolling windows, "
    "regressions and other analyses beyond one query",
)
def analyst_agent(state: RunState, deps: Deps) -> dict[str, Any]:
    """Ask the model for code, run it in the sandbox, retry with the error; answer from the result."""
    started = time.perf_counter()
    timings = dict(state.get("timings") or {})
    if deps.models is None or deps.sandbox is None:
        why = "models are switched off (NEXUS_LLM_ENABLED)" if deps.models is None else "no sandbox"
        return _unanswered(
            f"This question needs the analyst, which writes code with a model; {why}.", None, timings
        )
    try:
        check_sizes(deps.catalog, deps.sandbox.settings.sandbox_max_input_rows)
    except NexusError as error:
        return _unanswered(error.detail, None, timings)
    messages = prompt(state, deps)
    keys, load = table_keys(deps.catalog), table_loader(deps.catalog, deps.store)
    code: str | None = None
    run: CodeRun | None = None
    explanation = ""
    attempts = 0
    problem = ""
    for attempts in range(1, deps.analyst_max_retries + 2):
        try:
            reply = deps.models.structured("analyst", messages, AnalystReply)
        except ModelOutputInvalid as error:
            problem = error.detail  # the model could not fill the schema: another attempt, not a 502
            continue
        code, explanation = reply.code.strip(), reply.explanation.strip()
        try:
            ran = deps.sandbox.run(code, keys, load)
        except RETRYABLE as error:
            problem = error.detail
            feedback = f"That code failed: {problem}"
            log.info("analyst.retry", attempt=attempts, problem=error.type_slug, sha256=code_hash(code))
        else:
            code = ran.code
            if ran.result.get("kind") != "none":
                run = ran
                break
            problem = "the code ran but did not set result."
            feedback = "That code ran but did not set result; assign the answer to result."
        messages = [
            *messages,
            Message("assistant", reply.model_dump_json()),
            Message("user", f"{feedback} Fix it and reply again with the whole code."),
        ]
    timings["agent_ms"] = round((time.perf_counter() - started) * 1000, 3)
    if run is None:
        return _unanswered(
            f"The analyst's code did not run after {attempts} attempt(s); the last error: {problem}",
            code,
            timings,
        )
    timings.update({f"sandbox_{key}": value for key, value in run.timings.items()})
    notes = ["The code was written by the analyst model and run in the sandbox."]
    if attempts > 1:
        notes.append(
            f"It took {attempts} attempts; earlier code failed and the errors went back to the model."
        )
    if run.result.get("truncated"):
        notes.append(
            f"The result has {run.result['row_count']:,} rows; "
            f"the first {len(run.result['rows']):,} are shown."
        )
    table = as_table(run.result)
    method = stated_method(explanation, table, given=state["question"] + " " + (code or ""))
    answer = (method + " " if method else "") + summarise(run.result)
    return {
        "agent": "analyst",
        "plan": None,
        "planned_by": "model",
        "sql": None,
        "code": code,
        "stdout": run.stdout,
        "result": table,
        "answer": answer,
        "status": "answered",
        "pattern": "analysis",
        "confidence": 0.6,
        "unresolved": [],
        "notes": notes,
        "timings": timings,
    }
