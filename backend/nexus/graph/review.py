"""The reviewer: checks the work before it is answered, and sends it back with its findings.

Checks (deterministic; a second model can be added for judgement calls later):

- ``ran``: the agent produced a result (an honest "I could not place these words" is not a failure).
- ``non_empty``: an unfiltered query returned rows.
- ``columns``: every column the plan names exists in the catalog.
- ``aggregate``: the plan's aggregate matches the question's words (total vs average vs count...).
- ``grounded``: every number in the draft answer appears in the result.

A failed check becomes feedback for the agent (``aggregate=sum`` style hints it can act on) and the
run loops, at most ``NEXUS_MAX_REVIEW_LOOPS`` times; then the run ends with an honest failure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from nexus.graph.state import Check, Deps, Review, RunState
from nexus.query.catalog import Catalog

_DATES = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?|\bQ[1-4][ _]\d{4}\b|\b[HQ][1-4]\b")
_NUMBER = re.compile(r"(?<![\w.])-?\d[\d,]*(?:\.\d+)?")
_WORDS: dict[str, tuple[str, ...]] = {
    "avg": ("average", "mean", "avg"),
    "median": ("median",),
    "sum": ("total", "sum", "how much", "altogether"),
    "count": ("how many", "number of", "count"),
}
_COUNTING = {"count", "count_distinct"}


def expected_aggregate(question: str) -> str | None:
    """Return the one aggregate the question's words ask for, if they ask for exactly one."""
    text = question.lower()
    found = [agg for agg, words in _WORDS.items() if any(re.search(r"\b" + w + r"\b", text) for w in words)]
    if "avg" in found and "count" in found:
        found.remove("count")  # "on average, how many miles per gallon"
    if "sum" in found and "count" in found:
        found.remove("sum")  # "total number of orders"
    return found[0] if len(found) == 1 else None


def _numbers(text: str, *, years: bool = False) -> list[str]:
    stripped = _DATES.sub(" ", text)
    if not years:
        stripped = re.sub(r"\b(?:19|20)\d{2}\b", " ", stripped)  # years are periods, not figures
    return [n.replace(",", "") for n in _NUMBER.findall(stripped)]


def _cells(result: dict[str, Any]) -> list[Any]:
    rows = result.get("rows") or []
    return [cell for row in rows for cell in row] + [result.get("row_count"), len(rows)]


def grounded(answer: str, result: dict[str, Any], *, given: str = "") -> list[str]:
    """Return the numbers in an answer that no cell of the result accounts for.

    Numbers in ``given`` (the question and the plan: "older than 60", "the last 3 months") are the
    user's own and may be repeated.
    """
    cells = _cells(result) + [float(n) for n in _numbers(given, years=True) if _is_float(n)]
    missing = []
    for token in _numbers(answer):
        try:
            number = float(token)
        except ValueError:
            continue
        decimals = len(token.split(".")[1]) if "." in token else 0
        if not any(_matches(number, decimals, cell) for cell in cells):
            missing.append(token)
    return missing


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _matches(number: float, decimals: int, cell: Any) -> bool:
    if isinstance(cell, bool) or cell is None:
        return False
    if isinstance(cell, (int, float)):
        value = float(cell)
        return (
            round(value, decimals) == number
            or round(value, 4) == number
            or (abs(value) < 1 and round(value, decimals + 4) == round(number, decimals + 4))
        )
    return isinstance(cell, str) and str(number).rstrip("0").rstrip(".") in cell.replace(",", "")


def _plan_columns(plan: dict[str, Any]) -> list[tuple[str | None, str]]:
    found: list[tuple[str | None, str]] = []
    for key in ("measures", "dimensions", "columns", "filters"):
        for item in plan.get(key) or []:
            if item.get("column"):
                found.append((item.get("table"), item["column"]))
    return found


def _columns_exist(plan: dict[str, Any], catalog: Catalog) -> list[str]:
    missing = []
    first = plan.get("tables", [None])[0]
    for table_name, column in _plan_columns(plan):
        table = catalog.table(table_name or first or "")
        if table is None or table.column(column) is None:
            missing.append(column)
    return missing


def review(state: RunState, deps: Deps) -> Review:
    """Check an agent's work; ``passed`` is False when it should be sent back."""
    checks: list[Check] = []
    status = state.get("status")
    result = state.get("result")
    plan = state.get("plan") or {}
    if status != "answered" or result is None:
        honest = status == "unresolved"
        checks.append(
            Check(name="ran", passed=honest, detail="no plan; the answer says why" if honest else "no result")
        )
        return Review(passed=honest, checks=checks, loops=state.get("loops", 0))
    checks.append(Check(name="ran", passed=True, detail="the query ran"))
    if plan:
        filtered = bool(plan.get("filters") or plan.get("time") or plan.get("reconcile"))
        empty = result.get("row_count") == 0
        checks.append(
            Check(
                name="non_empty",
                passed=not (empty and not filtered),
                detail="no rows from an unfiltered query" if empty and not filtered else "rows as expected",
            )
        )
        missing = _columns_exist(plan, deps.catalog)
        checks.append(
            Check(
                name="columns",
                passed=not missing,
                detail=f"unknown: {', '.join(missing)}" if missing else "all exist",
            )
        )
        wanted = expected_aggregate(state["question"])
        measures = [m.get("agg") for m in plan.get("measures") or []]
        if wanted and measures and not plan.get("compare") and not plan.get("growth"):
            ok = (
                wanted in measures
                or (wanted == "count" and bool(set(measures) & _COUNTING))
                or (wanted == "sum" and bool(set(measures) & {"share"}))
            )
            checks.append(
                Check(
                    name="aggregate",
                    passed=ok,
                    detail=f"the question asks for {wanted}"
                    + ("" if ok else f"; the plan computes {measures[0]}")
                    + ("" if ok else f" (aggregate={wanted})"),
                )
            )
    # Figures the question, the plan or the code states ("z-scores above 3") are given, not claimed.
    given = state["question"] + " " + json.dumps(plan, default=str) + " " + (state.get("code") or "")
    ungrounded = grounded(state.get("answer") or "", result, given=given)
    checks.append(
        Check(
            name="grounded",
            passed=not ungrounded,
            detail="every number is in the result"
            if not ungrounded
            else f"not in the result: {', '.join(ungrounded[:5])}",
        )
    )
    return Review(passed=all(c["passed"] for c in checks), checks=checks, loops=state.get("loops", 0))
