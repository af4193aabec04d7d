"""Judge one answer against the expected one: a scalar, or rows compared as a multiset.

Cells are first brought to the expected column's kind (number, date, boolean, text), so that
``"12.50"`` matches ``12.5``, ``"2023-01-01T00:00:00"`` matches ``"2023-01-01"`` and a year
``2023`` matches the period start ``"2023-01-01"``. Numbers match within a relative tolerance.
A result may carry extra columns (a label beside the measure): each expected column is matched to
some result column, trying every assignment of columns whose values fit.
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["num", "date", "bool", "text", "null"]
Cell = float | str | bool | None

DEFAULT_TOLERANCE = 1e-6
_ABS_TOLERANCE = 1e-9
_MAX_ASSIGNMENTS = 5_000
_GREEDY_LIMIT = 2_000

_DATE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?\s*(?:Z|[+-]00(?::?00)?)?$"
)
_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})[- ]?Q([1-4])$", re.IGNORECASE)
_TRUE = {"true", "t", "yes", "y", "1"}
_FALSE = {"false", "f", "no", "n", "0"}


@dataclass(frozen=True)
class Expected:
    """What a question's answer must be: ``value`` (one scalar) or ``rows``."""

    value: Any = None
    rows: Sequence[Sequence[Any]] | None = None
    tolerance: float = DEFAULT_TOLERANCE
    order_matters: bool = False
    percent: bool = False
    """The (last) measure is a percentage: 12.5 and 0.125 both count."""
    extra_columns: bool = True
    """Whether the result may hold columns beyond the expected ones."""
    subanswers: Sequence[tuple[str, str]] | None = None
    """DABench style: ``@name[value]`` pairs the answer text must contain (judged as upstream)."""


_SUBANSWER = re.compile(r"@(\w+)\[([^\]]*)\]")


def subanswers_right(expected: Sequence[tuple[str, str]], answer: str) -> list[bool]:
    """Judge ``@name[value]`` sub-answers as InfiAgent-DABench does.

    A sub-answer is right when the answer holds ``@name[...]`` whose value equals the label as a
    string, or as a number within 1e-6.
    """
    given: dict[str, str] = {}
    for name, value in _SUBANSWER.findall(answer):
        given.setdefault(name, value.strip())
    right = []
    for name, label in expected:
        value = given.get(name)
        if value is None:
            right.append(False)
            continue
        if value == str(label).strip():
            right.append(True)
            continue
        try:
            right.append(abs(float(value) - float(label)) < 1e-6)
        except ValueError:
            right.append(False)
    return right


@dataclass(frozen=True)
class Verdict:
    """Whether an answer is right, and if not, why."""

    correct: bool
    reason: str = ""


def canonical_date(text: str) -> str | None:
    """Return ``YYYY-MM-DD`` (or ``YYYY-MM-DD HH:MM:SS`` when the time is not midnight), or None."""
    match = _DATE.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute, second = match.groups()
    clock = (hour or "00", minute or "00", second or "00")
    if clock == ("00", "00", "00"):
        return f"{year}-{month}-{day}"
    return f"{year}-{month}-{day} {clock[0]}:{clock[1]}:{clock[2]}"


def kind_of(values: Sequence[Any]) -> Kind:
    """Return the kind of an expected column from its non-null values."""
    kinds = {_kind_of_value(v) for v in values if v is not None}
    if not kinds:
        return "null"
    if len(kinds) == 1:
        return kinds.pop()
    return "num" if kinds <= {"num", "bool"} else "text"


def _kind_of_value(value: Any) -> Kind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "num"
    if isinstance(value, str) and canonical_date(value) is not None:
        return "date"
    return "text"


def convert(value: Any, kind: Kind) -> Cell:
    """Bring a cell to ``kind``; a value that cannot be read so becomes its text form."""
    if value is None:
        return None
    if kind == "num":
        return _to_number(value)
    if kind == "date":
        return _to_date(value)
    if kind == "bool":
        return _to_bool(value)
    return _to_text(value)


def _to_number(value: Any) -> Cell:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    text = str(value).strip().replace(",", "")
    try:
        number = float(text.rstrip("%"))
    except ValueError:
        date = canonical_date(text)
        # A year asked for as a number may come back as the period's start date.
        if date is not None and date.endswith("-01-01"):
            return float(date[:4])
        return _to_text(value)
    return number if math.isfinite(number) else _to_text(value)


def _to_date(value: Any) -> Cell:
    if isinstance(value, int) and not isinstance(value, bool) and 1000 <= value <= 9999:
        return f"{value}-01-01"
    if isinstance(value, float) and value.is_integer() and 1000 <= value <= 9999:
        return f"{int(value)}-01-01"
    text = str(value).strip()
    date = canonical_date(text)
    if date is not None:
        return date
    if _YEAR.match(text):
        return f"{text}-01-01"
    if match := _MONTH.match(text):
        return f"{match.group(1)}-{match.group(2)}-01"
    if match := _QUARTER.match(text):
        return f"{match.group(1)}-{3 * int(match.group(2)) - 2:02d}-01"
    return _to_text(value)


def _to_bool(value: Any) -> Cell:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    return _to_text(value)


def _to_text(value: Any) -> Cell:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return canonical_date(text) or text.casefold()


def cells_match(expected: Cell, actual: Cell, tolerance: float) -> bool:
    """Compare two converted cells: numbers within ``tolerance`` (relative), others equal."""
    if isinstance(expected, float) and isinstance(actual, float):
        return math.isclose(expected, actual, rel_tol=tolerance, abs_tol=_ABS_TOLERANCE)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return expected == actual


def score(expected: Expected, result: dict[str, Any] | None) -> Verdict:
    """Judge a query result (the API's ``result`` object) against ``expected``."""
    if not result or not isinstance(result.get("rows"), list):
        return Verdict(False, "no result rows")
    rows: list[list[Any]] = [list(row) for row in result["rows"]]
    if expected.rows is None:
        return _score_value(expected, rows)
    variants = [expected.rows]
    if expected.percent:
        variants.append([[*row[:-1], _scaled(row[-1])] for row in expected.rows])
    for variant in variants:
        if rows_match(variant, rows, expected.tolerance, expected.order_matters, expected.extra_columns):
            return Verdict(True)
        if len(rows) == 1 and len(variant) > 1 and not expected.order_matters:
            if _wide_match([row[-1] for row in variant], rows[0], expected.tolerance):
                return Verdict(True)
    return Verdict(False, f"rows differ ({len(rows)} rows, expected {len(expected.rows)})")


def _scaled(value: Any) -> Any:
    return value / 100 if isinstance(value, int | float) and not isinstance(value, bool) else value


def _score_value(expected: Expected, rows: list[list[Any]]) -> Verdict:
    if len(rows) != 1:
        return Verdict(False, f"expected one value, got {len(rows)} rows")
    targets = [expected.value, _scaled(expected.value)] if expected.percent else [expected.value]
    for target in targets:
        kind = kind_of([target])
        want = convert(target, kind)
        if any(cells_match(want, convert(cell, kind), expected.tolerance) for cell in rows[0]):
            return Verdict(True)
    return Verdict(False, "no cell of the one row matches the expected value")


def _wide_match(values: Sequence[Any], row: Sequence[Any], tolerance: float) -> bool:
    """Whether every expected value sits in a distinct cell of one wide row (a pivoted answer)."""
    free = list(range(len(row)))
    for value in values:
        kind = kind_of([value])
        want = convert(value, kind)
        hit = next((i for i in free if cells_match(want, convert(row[i], kind), tolerance)), None)
        if hit is None:
            return False
        free.remove(hit)
    return True


def rows_match(
    expected: Sequence[Sequence[Any]],
    actual: Sequence[Sequence[Any]],
    tolerance: float = DEFAULT_TOLERANCE,
    order_matters: bool = False,
    extra_columns: bool = True,
) -> bool:
    """Whether ``actual`` holds ``expected``'s rows on some choice of its columns.

    Result rows whose cell in the last expected column is null are ignored when no expected row has a
    null there: a growth answer may carry its first period with no growth.
    """
    width = len(expected[0]) if expected else 0
    if any(len(row) != width for row in expected) or any(len(row) != len(actual[0]) for row in actual[1:]):
        return False
    if not expected or not actual:
        return not expected and not actual
    columns = len(actual[0])
    if columns < width or (not extra_columns and columns != width):
        return False
    kinds = [kind_of([row[j] for row in expected]) for j in range(width)]
    want = [[convert(row[j], kinds[j]) for j in range(width)] for row in expected]
    drop_null = width > 0 and all(row[-1] is not None for row in want)
    tried = 0
    for last in range(columns):
        got_last = [convert(row[last], kinds[-1]) for row in actual]
        keep = [i for i, cell in enumerate(got_last) if not (drop_null and cell is None)]
        if len(keep) != len(want):
            continue
        converted = {
            (j, c): [convert(actual[i][c], kinds[j]) for i in keep]
            for j in range(width - 1)
            for c in range(columns)
        }
        converted[(width - 1, last)] = [got_last[i] for i in keep]
        candidates = [
            [
                c
                for c in range(columns)
                if _column_fits([r[j] for r in want], converted[(j, c)], tolerance, order_matters)
            ]
            for j in range(width - 1)
        ]
        if not _column_fits([r[-1] for r in want], converted[(width - 1, last)], tolerance, order_matters):
            continue
        for choice in itertools.product(*candidates):
            chosen = (*choice, last)
            if len(set(chosen)) != width:
                continue
            tried += 1
            if tried > _MAX_ASSIGNMENTS:
                return False
            got = [[converted[(j, c)][i] for j, c in enumerate(chosen)] for i in range(len(keep))]
            if _rows_equal(want, got, tolerance, order_matters):
                return True
    return False


def _column_fits(want: list[Cell], got: list[Cell], tolerance: float, ordered: bool) -> bool:
    return len(want) == len(got) and _rows_equal([[c] for c in want], [[c] for c in got], tolerance, ordered)


def _rows_equal(want: list[list[Cell]], got: list[list[Cell]], tolerance: float, ordered: bool) -> bool:
    if len(want) != len(got):
        return False
    if ordered:
        return all(_row_equal(w, g, tolerance) for w, g in zip(want, got, strict=True))
    # Bucket by the exact (non-number) cells; numbers are then paired within a bucket.
    buckets: dict[tuple[Any, ...], list[list[Cell]]] = defaultdict(list)
    for row in got:
        buckets[_exact_key(row)].append(row)
    wanted: dict[tuple[Any, ...], list[list[Cell]]] = defaultdict(list)
    for row in want:
        wanted[_exact_key(row)].append(row)
    if Counter({k: len(v) for k, v in wanted.items()}) != Counter({k: len(v) for k, v in buckets.items()}):
        return False
    return all(_bucket_equal(rows, buckets[key], tolerance) for key, rows in wanted.items())


def _exact_key(row: list[Cell]) -> tuple[Any, ...]:
    return tuple("<num>" if isinstance(c, float) else (type(c).__name__, c) for c in row)


def _bucket_equal(want: list[list[Cell]], got: list[list[Cell]], tolerance: float) -> bool:
    if len(want) == 1:
        return _row_equal(want[0], got[0], tolerance)
    order = sorted(want, key=_number_key), sorted(got, key=_number_key)
    if all(_row_equal(w, g, tolerance) for w, g in zip(*order, strict=True)):
        return True
    if len(want) > _GREEDY_LIMIT:
        return False
    free = list(got)
    for row in want:
        hit = next((i for i, other in enumerate(free) if _row_equal(row, other, tolerance)), None)
        if hit is None:
            return False
        free.pop(hit)
    return True


def _number_key(row: list[Cell]) -> tuple[float, ...]:
    return tuple(c for c in row if isinstance(c, float))


def _row_equal(want: Sequence[Cell], got: Sequence[Cell], tolerance: float) -> bool:
    return all(cells_match(w, g, tolerance) for w, g in zip(want, got, strict=True))
