"""Question sets: the JSONL format of ``eval/sets/``, its checks, and the text-to-SQL sets of evaldata."""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.scoring import Expected

EVAL_DIR = Path(__file__).resolve().parent
REPO_ROOT = EVAL_DIR.parent
SETS_DIR = EVAL_DIR / "sets"
EVALDATA_PREFIX = "evaldata:"

PATTERNS = (
    "total",
    "average",
    "median",
    "count",
    "count_distinct",
    "min_max",
    "top_n",
    "bottom_n",
    "group_by",
    "time_grain",
    "year_filter",
    "quarter_filter",
    "range_filter",
    "relative_period",
    "compare_periods",
    "growth",
    "share",
    "value_filter",
    "missing_from",
    "join",
)

# Text-to-SQL sets judged by execution: name -> (questions, database) under evaldata/text2sql/.
TEXT2SQL_SETS = {
    "spider-chinook": ("chinook.jsonl", "chinook.sqlite"),
    "geoquery": ("geoquery.jsonl", "geography.sqlite"),
}

_REQUIRED = {"id", "pattern", "question", "files", "expected"}
_OPTIONAL = {"tolerance", "order_matters", "percent", "note"}
_JOIN = re.compile(r"\bJOIN\b", re.IGNORECASE)


def evaldata_dir() -> Path:
    """Return the shared public evaluation data (``NEXUS_EVALDATA_DIR`` or ``../shared/evaldata``)."""
    configured = os.environ.get("NEXUS_EVALDATA_DIR")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "evaldata"


def resolve_file(name: str, base: Path) -> Path:
    """Return the path a question's file names: ``evaldata:...``, absolute, or relative to ``base``."""
    if name.startswith(EVALDATA_PREFIX):
        return evaldata_dir() / name[len(EVALDATA_PREFIX) :]
    path = Path(name)
    return path if path.is_absolute() else base / path


@dataclass(frozen=True)
class Question:
    """One question of a set, with the files it is asked over and its expected answer."""

    id: str
    pattern: str
    question: str
    files: tuple[Path, ...]
    expected: Expected
    note: str = ""


@dataclass
class QuestionSet:
    """A named list of questions."""

    name: str
    questions: list[Question] = field(default_factory=list)
    strict_columns: bool = False


def set_path(name: str) -> Path:
    """Return the JSONL file of a set given by name (``dev``) or path."""
    path = Path(name)
    if path.suffix == ".jsonl" and path.exists():
        return path
    return SETS_DIR / f"{name}.jsonl"


def load_set(name: str) -> QuestionSet:
    """Load a set by name: dabench, a text-to-SQL set of evaldata, or a JSONL file of ``eval/sets``."""
    if name == "dabench":
        return load_dabench()
    if name in TEXT2SQL_SETS:
        return load_text2sql(name)
    path = set_path(name)
    lines = read_lines(path)
    problems = validate_lines(lines, path.parent)
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems[:10]))
    return QuestionSet(name, [question_from_line(line, path.parent) for line in lines])


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Read a JSONL file, skipping blank lines."""
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def question_from_line(line: dict[str, Any], base: Path) -> Question:
    """Build a question from one (valid) JSONL line."""
    expected = line["expected"]
    return Question(
        id=line["id"],
        pattern=line["pattern"],
        question=line["question"],
        files=tuple(resolve_file(name, base) for name in line["files"]),
        expected=Expected(
            value=expected.get("value"),
            rows=expected.get("rows"),
            tolerance=float(line.get("tolerance", 1e-6)),
            order_matters=bool(line.get("order_matters", False)),
            percent=bool(line.get("percent", False)),
        ),
        note=line.get("note", ""),
    )


def validate_lines(lines: list[dict[str, Any]], base: Path) -> list[str]:
    """Return what is wrong with the lines of a set, one message per problem."""
    problems: list[str] = []
    seen: Counter[str] = Counter(str(line.get("id")) for line in lines)
    problems += [f"duplicate id {qid}" for qid, n in seen.items() if n > 1]
    for number, line in enumerate(lines, start=1):
        problems += [f"line {number} ({line.get('id')}): {p}" for p in _line_problems(line, base)]
    return problems


def _line_problems(line: dict[str, Any], base: Path) -> list[str]:
    keys = set(line)
    problems = [f"missing {k}" for k in sorted(_REQUIRED - keys)]
    problems += [f"unknown key {k}" for k in sorted(keys - _REQUIRED - _OPTIONAL)]
    if problems:
        return problems
    if line["pattern"] not in PATTERNS:
        problems.append(f"unknown pattern {line['pattern']!r}")
    if not isinstance(line["question"], str) or len(line["question"].strip()) < 8:
        problems.append("question is not a sentence")
    files = line["files"]
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        problems.append("files must be a non-empty list of names")
    else:
        problems += [f"no file {f}" for f in files if not resolve_file(f, base).is_file()]
    problems += _expected_problems(line["expected"])
    tolerance = line.get("tolerance", 1e-6)
    if not isinstance(tolerance, int | float) or not 0 <= tolerance < 1:
        problems.append("tolerance must be a number in [0, 1)")
    for flag in ("order_matters", "percent"):
        if not isinstance(line.get(flag, False), bool):
            problems.append(f"{flag} must be true or false")
    return problems


def _expected_problems(expected: Any) -> list[str]:
    if not isinstance(expected, dict) or len(expected) != 1 or not ({"value", "rows"} & set(expected)):
        return ["expected must be {'value': scalar} or {'rows': [[...], ...]}"]
    if "value" in expected:
        value = expected["value"]
        ok = value is not None and isinstance(value, str | int | float | bool)
        return [] if ok else ["expected value must be a number, string or boolean"]
    rows = expected["rows"]
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) and r for r in rows):
        return ["expected rows must be a non-empty list of non-empty lists"]
    if len({len(r) for r in rows}) != 1:
        return ["expected rows differ in width"]
    if any(isinstance(c, list | dict) for r in rows for c in r):
        return ["expected cells must be scalars"]
    return []


def load_text2sql(name: str) -> QuestionSet:
    """Load a text-to-SQL set of evaldata; its pattern says whether the gold SQL joins tables."""
    questions_file, database = TEXT2SQL_SETS[name]
    folder = evaldata_dir() / "text2sql"
    questions = []
    for line in read_lines(folder / questions_file):
        questions.append(
            Question(
                id=line["id"],
                pattern="join" if _JOIN.search(line["gold_sql"]) else "no_join",
                question=line["question"],
                files=(folder / database,),
                expected=Expected(
                    rows=line["gold_result"], order_matters=bool(line["order_matters"]), extra_columns=False
                ),
                note=line["gold_sql"],
            )
        )
    return QuestionSet(name, questions, strict_columns=True)


def load_dabench() -> QuestionSet:
    """Load the InfiAgent-DABench questions: question, constraints and format sent as one text.

    The pattern is the question's level (easy, medium, hard); answers are judged on their
    ``@name[value]`` sub-answers, as upstream.
    """
    folder = evaldata_dir() / "dabench"
    labels = {line["id"]: line["common_answers"] for line in read_lines(folder / "labels.jsonl")}
    questions = []
    for line in read_lines(folder / "questions.jsonl"):
        text = "\n".join(
            part for part in (line["question"], line.get("constraints"), line.get("format")) if part
        )
        questions.append(
            Question(
                id=f"dabench-{line['id']}",
                pattern=str(line.get("level") or "unknown"),
                question=text,
                files=(folder / "tables" / line["file_name"],),
                expected=Expected(subanswers=[(str(n), str(v)) for n, v in labels[line["id"]]]),
                note=", ".join(line.get("concepts") or []),
            )
        )
    return QuestionSet("dabench", questions)
