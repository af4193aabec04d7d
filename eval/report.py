"""Accuracy and latency per pattern, printed and as JSON."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from eval.harness import Outcome


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the ``q`` quantile (0..1) by linear interpolation, or None without values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _group(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    latencies = [o.latency_s for o in outcomes if o.latency_s is not None and o.status != "error"]
    correct = sum(o.correct for o in outcomes)
    group: dict[str, Any] = {
        "n": len(outcomes),
        "correct": correct,
        "accuracy": correct / len(outcomes) if outcomes else 0.0,
        "unresolved": sum(o.status == "unresolved" for o in outcomes),
        "errors": sum(o.status == "error" for o in outcomes),
        "latency_p50_s": percentile(latencies, 0.5),
        "latency_p95_s": percentile(latencies, 0.95),
    }
    parts = [o.subanswers for o in outcomes if o.subanswers is not None]
    if parts:
        group["subanswer_accuracy"] = sum(r for r, _ in parts) / max(sum(t for _, t in parts), 1)
    lenient = [o.correct_extra_columns for o in outcomes if o.correct_extra_columns is not None]
    if lenient:
        group["accuracy_extra_columns_allowed"] = sum(lenient) / len(outcomes)
    return group


def summarise(set_name: str, outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Return the machine-readable report: overall, per pattern, and per question."""
    by_pattern: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_pattern[outcome.question.pattern].append(outcome)
    return {
        "set": set_name,
        "overall": _group(outcomes),
        "patterns": {name: _group(group) for name, group in by_pattern.items()},
        "questions": [_question(o) for o in outcomes],
    }


def _question(outcome: Outcome) -> dict[str, Any]:
    question = outcome.question
    expected = question.expected
    return {
        "id": question.id,
        "pattern": question.pattern,
        "question": question.question,
        "correct": outcome.correct,
        "reason": outcome.reason,
        "status": outcome.status,
        "http_status": outcome.http_status,
        "latency_s": outcome.latency_s,
        "expected": {"rows": expected.rows} if expected.rows is not None else {"value": expected.value},
        "answer": outcome.answer,
        "sql": outcome.sql,
        "rows": outcome.rows,
        "row_count": outcome.row_count,
    }


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def print_report(report: dict[str, Any], out: TextIO) -> None:
    """Print the per-pattern table and the overall figures."""
    print(f"\nset {report['set']}", file=out)
    print(f"{'pattern':<18}{'n':>5}{'correct':>9}{'accuracy':>10}{'p50 ms':>9}{'p95 ms':>9}", file=out)
    for name, group in sorted(report["patterns"].items()):
        print(
            f"{name:<18}{group['n']:>5}{group['correct']:>9}{group['accuracy']:>10.1%}"
            f"{_ms(group['latency_p50_s']):>9}{_ms(group['latency_p95_s']):>9}",
            file=out,
        )
    overall = report["overall"]
    print(
        f"{'overall':<18}{overall['n']:>5}{overall['correct']:>9}{overall['accuracy']:>10.1%}"
        f"{_ms(overall['latency_p50_s']):>9}{_ms(overall['latency_p95_s']):>9}",
        file=out,
    )
    if "subanswer_accuracy" in overall:
        print(f"accuracy by sub-answer: {overall['subanswer_accuracy']:.1%}", file=out)
    if "accuracy_extra_columns_allowed" in overall:
        print(
            f"accuracy with extra columns allowed: {overall['accuracy_extra_columns_allowed']:.1%}", file=out
        )
    print(f"unresolved: {overall['unresolved']}   HTTP/transport errors: {overall['errors']}", file=out)


def print_failures(outcomes: Sequence[Outcome], out: TextIO) -> None:
    """Print every wrong answer: question, expected, got, SQL."""
    for outcome in outcomes:
        if outcome.correct:
            continue
        question = outcome.question
        expected = question.expected
        want = expected.rows if expected.rows is not None else expected.value
        print(f"\n✗ {question.id} [{question.pattern}] {question.question}", file=out)
        print(f"  expected: {_short(want)}", file=out)
        print(f"  got ({outcome.status}, {outcome.reason}): {_short(outcome.rows)}", file=out)
        if outcome.answer:
            print(f"  answer: {_short(outcome.answer)}", file=out)
        if outcome.sql:
            print(f"  sql: {' '.join(outcome.sql.split())}", file=out)


def _short(value: Any, limit: int = 400) -> str:
    text = json.dumps(value, default=str, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "..."


def write_json(report: dict[str, Any], path: Path) -> None:
    """Write the report as JSON."""
    path.write_text(json.dumps(report, indent=2, default=str, ensure_ascii=False) + "\n", encoding="utf-8")
