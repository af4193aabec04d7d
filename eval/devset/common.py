"""Helpers for writing dev-set questions: expected cells, ranked rows, periods and relative windows."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd  # type: ignore[import-untyped]  # pandas ships no type stubs

from eval.devset.data import Table


class SetBuilder:
    """Collects questions as JSONL lines, numbering ids per pattern."""

    def __init__(self) -> None:
        self.lines: list[dict[str, Any]] = []
        self._numbers: Counter[str] = Counter()

    def _add(
        self, pattern: str, question: str, tables: Sequence[Table], expected: dict[str, Any], **options: Any
    ) -> None:
        self._numbers[pattern] += 1
        line: dict[str, Any] = {
            "id": f"{pattern}-{self._numbers[pattern]:02d}",
            "pattern": pattern,
            "question": question,
            "files": [table.ref for table in tables],
            "expected": expected,
        }
        line.update({key: value for key, value in options.items() if value})
        self.lines.append(line)

    def value(self, pattern: str, question: str, tables: Sequence[Table], value: Any, **options: Any) -> None:
        """Add a question whose answer is one value."""
        answer = cell(value)
        if answer is None:
            raise ValueError(f"no answer for {question!r}")
        self._add(pattern, question, tables, {"value": answer}, **options)

    def rows(self, pattern: str, question: str, tables: Sequence[Table], rows: Any, **options: Any) -> None:
        """Add a question whose answer is rows (a DataFrame, a Series with its index, or lists)."""
        self._add(pattern, question, tables, {"rows": to_rows(rows)}, **options)


def cell(value: Any) -> Any:
    """Return a JSON-ready cell: dates as ISO text, floats to 12 significant digits, NaN as None."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return period_text(value)
    if isinstance(value, pd.Period):
        return period_text(value.start_time)
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else float(f"{value:.12g}")
    return value


def period_text(moment: pd.Timestamp) -> str:
    """Return a timestamp as ``YYYY-MM-DD``, with the time only when it is not midnight."""
    if moment == moment.normalize():
        return str(moment.strftime("%Y-%m-%d"))
    return str(moment.strftime("%Y-%m-%d %H:%M:%S"))


def to_rows(rows: Any) -> list[list[Any]]:
    """Turn a DataFrame, a Series (index, value) or a list of lists into JSON-ready rows."""
    if isinstance(rows, pd.Series):
        rows = rows.reset_index()
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_numpy(dtype=object).tolist()
    result = [[cell(value) for value in row] for row in rows]
    if not result:
        raise ValueError("no expected rows")
    return result


def ranked(
    frame: pd.DataFrame, columns: list[str], measure: str, n: int, ascending: bool = False
) -> pd.DataFrame:
    """Return the first ``n`` rows by ``measure``, refusing ties that would make the answer ambiguous."""
    ordered = frame.sort_values(measure, ascending=ascending, kind="stable").reset_index(drop=True)
    values = ordered[measure].tolist()
    top = values[: n + 1]
    if len(set(top)) != len(top):
        raise ValueError(f"ties among the first {n + 1} values of {measure}: {top}")
    return ordered.loc[: n - 1, [*columns, measure]]


def unique_in(values: pd.Series, key: Any) -> Any:
    """Return ``values[key]``, refusing a value another period shares: a wrong period must not score."""
    value = values[key]
    if (abs(values.drop(index=key) - value) < 1e-9).any():
        raise ValueError(f"{key}: {value} is not unique among {values.to_dict()}")
    return value


def month_start(dates: pd.Series) -> pd.Series:
    """Return the first day of each date's month."""
    return dates.dt.to_period("M").dt.start_time


def quarter_start(dates: pd.Series) -> pd.Series:
    """Return the first day of each date's quarter."""
    return dates.dt.to_period("Q").dt.start_time


def year_start(dates: pd.Series) -> pd.Series:
    """Return the first day of each date's year."""
    return dates.dt.to_period("Y").dt.start_time


def last_window(dates: pd.Series, n: int, unit: str) -> pd.Series:
    """Select the last ``n`` days/months/quarters up to the latest date, insisting the readings agree.

    The rolling reading keeps dates after ``latest - n units``; the calendar one keeps the ``n`` whole
    units (days, months or quarters) that end with the latest one. A question is only asked where both agree.
    """
    latest = dates.max()
    if unit == "months":
        rolling = dates > latest - pd.DateOffset(months=n)
        calendar = dates >= (latest.to_period("M") - (n - 1)).start_time
    elif unit == "quarters":
        rolling = dates > latest - pd.DateOffset(months=3 * n)
        calendar = dates >= (latest.to_period("Q") - (n - 1)).start_time
    elif unit == "days":
        rolling = dates > latest - pd.Timedelta(days=n)
        calendar = dates >= latest.normalize() - pd.Timedelta(days=n - 1)
    else:
        raise ValueError(unit)
    if not rolling.equals(calendar):
        raise ValueError(f"'last {n} {unit}' reads two ways on this data")
    return rolling


def percent(part: float, whole: float) -> float:
    """Return ``part`` as a percentage of ``whole``."""
    return 100.0 * part / whole


def growth(new: float, old: float) -> float:
    """Return the growth from ``old`` to ``new`` in percent."""
    return 100.0 * (new / old - 1.0)
