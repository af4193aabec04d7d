"""Send a question set through the API and judge every answer."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from eval.client import EvalError, NexusClient, Reply
from eval.scoring import Verdict, score, subanswers_right
from eval.sets import Question, QuestionSet

_KEEP_ROWS = 20


@dataclass(frozen=True)
class Outcome:
    """How one question went."""

    question: Question
    correct: bool
    reason: str
    http_status: int
    status: str
    """answered, unresolved, or error (HTTP or transport failure, failed upload)."""
    latency_s: float | None
    sql: str | None = None
    answer: str = ""
    rows: list[list[Any]] | None = None
    row_count: int | None = None
    subanswers: tuple[int, int] | None = None
    """For DABench: (sub-answers right, sub-answers asked)."""
    correct_extra_columns: bool | None = None
    """For sets judged on exact columns: whether the answer is right once extra columns are allowed."""


def select(question_set: QuestionSet, pattern: str | None, limit: int | None) -> list[Question]:
    """Return the questions to ask: those of one pattern if given, at most ``limit``."""
    questions = [q for q in question_set.questions if pattern is None or q.pattern == pattern]
    return questions[:limit] if limit is not None else questions


def run_questions(
    client: NexusClient,
    questions: list[Question],
    strict_columns: bool = False,
    progress: Callable[[int, int, Outcome], None] | None = None,
) -> list[Outcome]:
    """Upload each distinct file once, ask every question, and judge the answers."""
    datasets: dict[Path, str] = {}
    failed_uploads: dict[Path, str] = {}
    outcomes = []
    for number, question in enumerate(questions, start=1):
        for path in question.files:
            if path not in datasets and path not in failed_uploads:
                try:
                    datasets[path] = str(client.upload(path)["id"])
                except EvalError as error:
                    failed_uploads[path] = str(error)
                    print(f"eval: {error}", file=sys.stderr)
        missing = [failed_uploads[p] for p in question.files if p in failed_uploads]
        if missing:
            outcome = Outcome(question, False, missing[0], 0, "error", None)
        else:
            reply = client.ask(question.question, [datasets[p] for p in question.files])
            outcome = judge(question, reply, strict_columns)
        outcomes.append(outcome)
        if progress is not None:
            progress(number, len(questions), outcome)
    return outcomes


def judge(question: Question, reply: Reply, strict_columns: bool = False) -> Outcome:
    """Turn a reply into an outcome: errors and unresolved answers are wrong."""
    body = reply.body or {}
    if reply.status != 200 or not reply.body:
        reason = f"HTTP {reply.status}: {reply.error or body.get('detail', '')}".strip()
        return Outcome(question, False, reason[:300], reply.status, "error", reply.latency_s)
    status = str(body.get("status", ""))
    result = body.get("result") if isinstance(body.get("result"), dict) else None
    if question.expected.subanswers is not None:
        right = subanswers_right(question.expected.subanswers, str(body.get("answer", "")))
        return Outcome(
            question,
            all(right),
            f"{sum(right)}/{len(right)} sub-answers right",
            reply.status,
            "answered" if status == "answered" else "unresolved",
            reply.latency_s,
            sql=body.get("sql"),
            answer=str(body.get("answer", "")),
            subanswers=(sum(right), len(right)),
        )
    verdict = (
        Verdict(False, "unresolved: " + "; ".join(map(str, body.get("unresolved") or [])))
        if status != "answered"
        else score(question.expected, result)
    )
    lenient = None
    if strict_columns:
        lenient = verdict.correct or (
            status == "answered" and score(replace(question.expected, extra_columns=True), result).correct
        )
    return Outcome(
        question,
        verdict.correct,
        verdict.reason,
        reply.status,
        "answered" if status == "answered" else "unresolved",
        reply.latency_s,
        sql=body.get("sql"),
        answer=str(body.get("answer", "")),
        rows=[list(r) for r in (result or {}).get("rows", [])[:_KEEP_ROWS]] if result else None,
        row_count=(result or {}).get("row_count"),
        correct_extra_columns=lenient,
    )
