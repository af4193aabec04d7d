"""QuerySpec: the typed plan of a question, filled by the rule-based parser now and by a model later.

A plan names tables and columns by their friendly names (see ``catalog``), never SQL text, so that
everything a plan can say compiles to one validated, read-only query. The JSON schema of
``QuerySpec`` is what a language model is asked to fill (``QuerySpec.model_json_schema()``).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Scalar = str | int | float | bool | dt.date


class Aggregate(StrEnum):
    """How a measure folds many rows into one value."""

    SUM = "sum"
    AVG = "avg"
    MEDIAN = "median"
    MIN = "min"
    MAX = "max"
    COUNT = "count"
    COUNT_DISTINCT = "count_distinct"
    SHARE = "share"
    """Percentage of the total: of the column's sum (or of the row count without a column) across
    the groups, or, with ``where``, the rows matching it as a percentage of all rows."""


class Grain(StrEnum):
    """A calendar period to group a time column by."""

    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    QUARTER = "quarter"
    YEAR = "year"


class Op(StrEnum):
    """A filter's comparison."""

    EQ = "="
    NE = "!="
    IN = "in"
    NOT_IN = "not_in"
    GT = ">"
    GE = ">="
    LT = "<"
    LE = "<="
    RANGE = "range"
    CONTAINS = "contains"
    IS_NULL = "is_null"
    NOT_NULL = "not_null"


class _Plan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnRef(_Plan):
    """A column of a table in the plan (the first table when ``table`` is left out)."""

    column: str
    table: str | None = None


class Filter(_Plan):
    """A condition on a column; ``range`` uses ``low`` (inclusive) and ``high`` (inclusive)."""

    column: str
    table: str | None = None
    op: Op
    value: Scalar | None = None
    values: list[Scalar] = Field(default_factory=list)
    low: Scalar | None = None
    high: Scalar | None = None

    @model_validator(mode="after")
    def _operands(self) -> Filter:
        needs_value = {Op.EQ, Op.NE, Op.GT, Op.GE, Op.LT, Op.LE, Op.CONTAINS}
        if self.op in needs_value and self.value is None:
            raise ValueError(f"operator {self.op.value!r} needs a value")
        if self.op in {Op.IN, Op.NOT_IN} and not self.values:
            raise ValueError(f"operator {self.op.value!r} needs values")
        if self.op is Op.RANGE and self.low is None and self.high is None:
            raise ValueError("a range needs low, high or both")
        return self


class Measure(_Plan):
    """An aggregate of a column (or of rows, for count without a column)."""

    agg: Aggregate
    column: str | None = None
    table: str | None = None
    where: list[Filter] = Field(
        default_factory=list, description="Only for share: the rows whose share of all rows is wanted."
    )
    alias: str | None = None

    @model_validator(mode="after")
    def _column(self) -> Measure:
        if self.column is None and self.agg not in {Aggregate.COUNT, Aggregate.SHARE}:
            raise ValueError(f"{self.agg.value} needs a column")
        return self

    @property
    def name(self) -> str:
        """Return the result column's name."""
        if self.alias:
            return self.alias
        if self.column is None:
            return "share_pct" if self.agg is Aggregate.SHARE else "count"
        suffix = "share_pct" if self.agg is Aggregate.SHARE else self.agg.value
        return f"{self.column}_{suffix}"


class Dimension(_Plan):
    """A column to group by; a date column may be truncated to a grain."""

    column: str
    table: str | None = None
    grain: Grain | None = None

    @property
    def name(self) -> str:
        """Return the result column's name."""
        return self.grain.value if self.grain else self.column


class Period(_Plan):
    """A half-open date range [start, end) with the words that named it."""

    start: dt.date | None = None
    end: dt.date | None = None
    label: str


class TimeFilter(_Plan):
    """Rows whose time column falls in a period."""

    column: str
    table: str | None = None
    period: Period
    relative: bool = Field(
        False, description="True when the period was counted back from the data's latest date."
    )


class Order(_Plan):
    """Sort by a result column (a measure's or a dimension's name)."""

    by: str
    descending: bool = True


class Join(_Plan):
    """Join another table to the plan's tables on key columns."""

    table: str
    to_table: str
    columns: list[str]
    to_columns: list[str]
    kind: Literal["inner", "left"] = "inner"


class PeriodComparison(_Plan):
    """Each measure in each period side by side, with the change from the first to the last."""

    column: str
    table: str | None = None
    periods: list[Period] = Field(min_length=2, max_length=6)


class Growth(_Plan):
    """Change of each measure from one period of the time dimension to the previous one."""

    grain: Grain


class Reconciliation(_Plan):
    """Two tables set against each other on key columns.

    ``missing``: rows of ``table`` with no match in ``other``, with counts and the total amount.
    ``differences``: keys in both whose amounts (summed per key on each side) differ.
    """

    mode: Literal["missing", "differences"] = "missing"
    table: str
    other: str
    keys: list[str] = Field(min_length=1)
    other_keys: list[str] = Field(min_length=1)
    amount: str | None = None
    other_amount: str | None = None
    summary_only: bool = Field(False, description="Only the count and the total, not the rows.")


class QuerySpec(_Plan):
    """A question as a plan: what to compute, over which rows, grouped and ordered how."""

    tables: list[str] = Field(min_length=1, description="Friendly table names; the first is the base.")
    measures: list[Measure] = Field(default_factory=list)
    dimensions: list[Dimension] = Field(default_factory=list)
    columns: list[ColumnRef] = Field(
        default_factory=list, description="Plain columns to list (no aggregation)."
    )
    filters: list[Filter] = Field(default_factory=list)
    time: TimeFilter | None = None
    joins: list[Join] = Field(default_factory=list)
    order: list[Order] = Field(default_factory=list)
    limit: int | None = Field(None, ge=1, le=1_000_000)
    compare: PeriodComparison | None = None
    growth: Growth | None = None
    reconcile: Reconciliation | None = None

    def describe(self) -> dict[str, Any]:
        """Return the plan as JSON-ready data, leaving out what is empty."""
        return self.model_dump(mode="json", exclude_defaults=True)
