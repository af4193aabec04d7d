"""Answer text from a template: every number in it is read from the result, never made up.

The parser's plan says what was computed; the result says what came out. The sentence names the
measure, the filters and the periods in words, then quotes values from the result rows (rounded for
reading; the exact values are in the result beside it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from typing import Any

from nexus.query.catalog import Catalog
from nexus.query.spec import Aggregate, Filter, Measure, Op, QuerySpec

MAX_LISTED = 5

_AGG_WORDS = {
    Aggregate.SUM: "total",
    Aggregate.AVG: "average",
    Aggregate.MEDIAN: "median",
    Aggregate.MIN: "lowest",
    Aggregate.MAX: "highest",
    Aggregate.COUNT: "number",
    Aggregate.COUNT_DISTINCT: "number of distinct",
    Aggregate.SHARE: "share",
}


def fmt(value: Any) -> str:
    """Format a value for reading: thousands separators, at most 2 decimals (4 for small numbers)."""
    if value is None:
        return "no value"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value.is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        if abs(value) < 1:
            return f"{value:.4g}"
        return f"{value:,.2f}"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


class Answerer:
    """Writes the sentence for one plan and its result."""

    def __init__(self, spec: QuerySpec, catalog: Catalog) -> None:
        self.spec = spec
        self.catalog = catalog

    def label(self, column: str | None, table: str | None = None) -> str:
        """Return a column's label as written in the file ('rows' for no column)."""
        if column is None:
            return "rows"
        owner = self.catalog.table(table or self.spec.tables[0])
        found = owner.column(column) if owner else None
        return found.label if found else column

    def measure_words(self, measure: Measure) -> str:
        """Return a measure in words: 'total Amount', 'number of rows'."""
        if measure.agg is Aggregate.COUNT and measure.column is None:
            return "number of rows"
        if measure.agg is Aggregate.SHARE:
            return "share of " + (
                f"total {self.label(measure.column, measure.table)}" if measure.column else "rows"
            )
        return f"{_AGG_WORDS[measure.agg]} {self.label(measure.column, measure.table)}"

    def conditions(self) -> str:
        """Return the filters and the period in words, as ' where ...' (or nothing)."""
        parts = [self.filter_words(f) for f in self.spec.filters]
        if self.spec.time is not None:
            period = self.spec.time.period
            parts.append(
                f"{self.label(self.spec.time.column)}"
                f" in {_period_words(period.label, period.start, period.end)}"
            )
        return (" where " + " and ".join(parts)) if parts else ""

    def filter_words(self, item: Filter) -> str:
        """Return one filter in words."""
        name = self.label(item.column, item.table)
        match item.op:
            case Op.IN | Op.NOT_IN:
                listed = ", ".join(fmt(v) for v in item.values)
                return f"{name} {'is one of' if item.op is Op.IN else 'is none of'} {listed}"
            case Op.RANGE:
                return f"{name} is between {item.low} and {item.high}"
            case Op.IS_NULL:
                return f"{name} is empty"
            case Op.NOT_NULL:
                return f"{name} is not empty"
            case Op.CONTAINS:
                return f"{name} contains {item.value!r}"
        value = str(item.value) if isinstance(item.value, int) else fmt(item.value)  # the user's own value
        return f"{name} {item.op.value} {value}"

    def write(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], row_count: int) -> str:
        """Return the answer for a result: its columns, the rows returned and the true row count."""
        spec = self.spec
        if spec.reconcile is not None:
            return self._reconciliation(columns, rows, row_count)
        if row_count == 0:
            return f"No rows match{self.conditions() or ' the question'}."
        if spec.compare is not None:
            return self._comparison(columns, rows, row_count)
        if spec.growth is not None:
            return self._growth(columns, rows, row_count)
        if not spec.measures and spec.order and spec.limit is not None and spec.columns:
            ranked = spec.order[0].by
            direction = "highest" if spec.order[0].descending else "lowest"
            index = {name: i for i, name in enumerate(columns)}
            label_at = 0 if columns and columns[0] != ranked else None
            value_at = index.get(ranked, len(columns) - 1)
            listed = [
                (
                    f"{fmt(row[label_at])} ({fmt(row[value_at])})"
                    if label_at is not None
                    else fmt(row[value_at])
                )
                for row in rows[:MAX_LISTED]
            ]
            head = f"The {row_count:,} row(s) with the {direction} {self.label(ranked)}{self.conditions()}"
            return f"{head}: {', '.join(listed)}."
        if not spec.measures:
            return (
                f"{row_count:,} row(s){self.conditions()}; the first {min(row_count, len(rows)):,} are shown."
            )
        if not spec.dimensions:
            return self._single(columns, rows)
        return self._grouped(columns, rows, row_count)

    def _single(self, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
        row = dict(zip(columns, rows[0], strict=False))
        parts = []
        for measure in self.spec.measures:
            value = row.get(measure.name)
            if measure.agg is Aggregate.SHARE:
                subject = " and ".join(self.filter_words(f) for f in measure.where) or "each group"
                base = f" of total {self.label(measure.column)}" if measure.column else " of rows"
                parts.append(f"Rows where {subject} make up {fmt(value)}%{base}{self.conditions()}")
            else:
                parts.append(f"The {self.measure_words(measure)}{self.conditions()} is {fmt(value)}")
        return "; ".join(parts) + "."

    def _grouped(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], row_count: int) -> str:
        spec = self.spec
        measure = spec.measures[0]
        by = " and ".join(
            d.grain.value if d.grain else self.label(d.column, d.table) for d in spec.dimensions
        )
        index = {name: i for i, name in enumerate(columns)}
        keys_at = [index.get(d.name, 0) for d in spec.dimensions]
        value_at = index.get(measure.name, len(columns) - 1)
        unit = "%" if measure.agg is Aggregate.SHARE else ""
        listed = [
            f"{', '.join(fmt(row[k]) for k in keys_at)} ({fmt(row[value_at])}{unit})"
            for row in rows[:MAX_LISTED]
        ]
        more = ", ..." if row_count > MAX_LISTED else ""
        if spec.limit is not None and spec.order:
            direction = "highest" if spec.order[0].descending else "lowest"
            head = (
                f"The {row_count:,} {by} value(s)"
                f" with the {direction} {self.measure_words(measure)}{self.conditions()}"
            )
            return f"{head}: {', '.join(listed)}."
        head = f"The {self.measure_words(measure)} by {by}{self.conditions()} ({row_count:,} group(s))"
        return f"{head}: {', '.join(listed)}{more}."

    def _comparison(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], row_count: int) -> str:
        spec = self.spec
        assert spec.compare is not None
        row = dict(zip(columns, rows[0], strict=False))
        measure = spec.measures[0]
        periods = spec.compare.periods
        values = [
            f"{fmt(row.get(f'{measure.name}_{p.label}'))} in {_period_words(p.label, p.start, p.end)}"
            for p in periods
        ]
        change = row.get(f"{measure.name}_change")
        pct = row.get(f"{measure.name}_change_pct")
        prefix = f"For {fmt(rows[0][0])} (of {row_count:,} groups), the" if spec.dimensions else "The"
        sentence = f"{prefix} {self.measure_words(measure)}{self.conditions()} was {' and '.join(values)}"
        if change is not None:
            sentence += f": a change of {fmt(change)}"
            if pct is not None:
                sentence += f" ({fmt(pct)}%)"
        return sentence + "."

    def _growth(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], row_count: int) -> str:
        spec = self.spec
        measure = spec.measures[0]
        index = {name: i for i, name in enumerate(columns)}
        grain = spec.growth.grain.value if spec.growth else "period"
        last = rows[-1]
        period = last[index.get(grain, 0)]
        value = last[index[measure.name]] if measure.name in index else None
        change = last[index[f"{measure.name}_change"]] if f"{measure.name}_change" in index else None
        pct = last[index[f"{measure.name}_growth_pct"]] if f"{measure.name}_growth_pct" in index else None
        shown = "" if len(rows) == row_count else f" (the first {len(rows):,} are shown)"
        sentence = (
            f"The {self.measure_words(measure)} per {grain}{self.conditions()}"
            f" over {row_count:,} {grain}(s){shown}; "
            f"in {fmt(period)} it was {fmt(value)}"
        )
        if change is not None:
            sentence += f", a change of {fmt(change)} ({fmt(pct)}%) from the {grain} before"
        return sentence + "."

    def _reconciliation(self, columns: Sequence[str], rows: Sequence[Sequence[Any]], row_count: int) -> str:
        plan = self.spec.reconcile
        assert plan is not None
        key = self.label(plan.keys[0], plan.table)
        if plan.mode == "differences":
            if not rows:
                return f"Every {key} found in both {plan.table} and {plan.other} has the same amount."
            return (
                f"{row_count:,} {key} value(s) appear in both {plan.table} and {plan.other}"
                f" with different amounts; "
                f"the largest difference is {fmt(rows[0][columns.index('difference')])}"
                f" for {fmt(rows[0][0])}."
            )
        if not rows:
            return f"Every {key} in {plan.table} is also in {plan.other}."
        row = dict(zip(columns, rows[0], strict=False))
        keys = row.get("missing_keys")
        count_rows = row.get("missing_rows")
        amount = row.get("missing_amount")
        if keys == 0 or keys is None and row_count == 0:
            return f"Every {key} in {plan.table} is also in {plan.other}."
        sentence = (
            f"{fmt(keys)} {key} value(s) in {plan.table}"
            f" are missing from {plan.other} ({fmt(count_rows)} row(s))"
        )
        if plan.amount is not None:
            sentence += f"; their total {self.label(plan.amount, plan.table)} is {fmt(amount)}"
        if not plan.summary_only:
            listed = ", ".join(fmt(r[0]) for r in rows[:MAX_LISTED])
            sentence += f". They include {listed}" if row_count > MAX_LISTED else f": {listed}"
        return sentence + "."


def _period_words(label: str, start: dt.date | None, end: dt.date | None) -> str:
    if start and end:
        return (
            f"{label.replace('_', ' ')} ({start.isoformat()} to {(end - dt.timedelta(days=1)).isoformat()})"
        )
    if start:
        return f"or after {start.isoformat()}"
    if end:
        return f"before {end.isoformat()}"
    return label


def unresolved_answer(words: Sequence[str], catalog: Catalog, reason: str | None) -> str:
    """The reply when the parser has no plan: what it could not place and what there is."""
    parts = []
    if reason:
        parts.append(reason)
    if words:
        parts.append("I could not place these words: " + ", ".join(f"'{w}'" for w in words) + ".")
    described = []
    for table in catalog.tables:
        names = ", ".join(column.label for column in table.columns)
        described.append(f"{table.name} has {names}")
    parts.append("The columns are: " + "; ".join(described) + ".")
    return " ".join(parts)
