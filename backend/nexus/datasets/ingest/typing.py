"""Types for VARCHAR columns, decided from the data: numbers, money, percentages, dates, booleans.

A sample of each column is classified in Python (cheap regexes); the decision becomes one DuckDB
SQL expression per column, applied to every row in a single ``CREATE TABLE ... AS SELECT``. Cells
that do not fit the decided type become NULL and are counted as ``dropped``; when more than the
tolerance would be dropped the column stays text. Values like "NA", "-" or "" are nulls, not junk.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from nexus.datasets.ingest.names import quote

Kind = Literal["integer", "number", "boolean", "date", "datetime", "text", "kept"]

NULL_TOKENS = ("", "na", "n/a", "null", "none", "nan", "-", "--", "—", "#n/a", "nil", "?", "(blank)")
_TRUE = {"true", "yes", "y", "t"}
_FALSE = {"false", "no", "n", "f"}

_CURRENCY = (
    r"(?:US\$|S\$|A\$|C\$|R\$|RM|Rp|USD|EUR|GBP|MYR|SGD|JPY|CNY|INR|AUD|CAD|CHF|IDR|THB|PHP|HKD|NZD"
    r"|\$|€|£|¥|₹|₩|₽)"
)
_CURRENCY_RE = re.compile(_CURRENCY, re.IGNORECASE)
# (prefix currency)(sign)(digits with optional grouping)(decimals)(suffix currency or %)
_NUMBER_SHAPE = re.compile(
    rf"^\s*(?P<cur0>{_CURRENCY})?\s*(?P<open>\()?\s*(?P<sign1>[-+])?\s*(?P<cur1>{_CURRENCY})?\s*(?P<sign2>[-+])?\s*"
    r"(?P<body>\d[\d.,' \u00a0]*)"
    rf"\s*(?P<cur2>{_CURRENCY})?\s*(?P<pct>%)?\s*(?P<close>\))?\s*$",
    re.IGNORECASE,
)
_PLAIN_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_ISO_DATE = re.compile(r"^\s*\d{4}-\d{1,2}-\d{1,2}\s*$")
_ISO_DATETIME = re.compile(
    r"^\s*\d{4}-\d{1,2}-\d{1,2}[ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?\s*$"
)
_NUMERIC_DATE = re.compile(
    r"^\s*(?P<a>\d{1,4})(?P<sep>[-/.])(?P<b>\d{1,2})(?P=sep)(?P<c>\d{1,4})"
    r"(?P<time>[ T]\d{1,2}:\d{2}(:\d{2})?)?\s*$"
)
_MONTH_NAMES = "jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec"
_NAMED_DATE_DMY = re.compile(rf"^\s*\d{{1,2}}[ -]({_MONTH_NAMES})[a-z]*[ -,]+\d{{4}}\s*$", re.IGNORECASE)
_NAMED_DATE_MDY = re.compile(rf"^\s*({_MONTH_NAMES})[a-z]*\.? \d{{1,2}},? \d{{4}}\s*$", re.IGNORECASE)


@dataclass
class ColumnType:
    """The decided type of one column and how to compute it."""

    name: str
    kind: Kind
    expression: str
    detail: dict[str, Any] = field(default_factory=dict)
    dropped: int = 0

    @property
    def needs_null_guard(self) -> bool:
        """Whether null tokens must be caught before converting (a plain cast reads 'nan' as NaN)."""
        return (
            self.converts and "AS DOUBLE)" in self.expression and "regexp_full_match" not in self.expression
        )

    @property
    def converts(self) -> bool:
        """Whether values can be refused (so dropped cells must be counted)."""
        return self.kind in {"integer", "number", "boolean", "date", "datetime"}


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def is_null_token(value: str) -> bool:
    """Whether a cell means 'no value'."""
    return value.strip().lower() in NULL_TOKENS


def _null_guard(column: str) -> str:
    tokens = ", ".join(_sql_string(t) for t in NULL_TOKENS)
    # The length test first: DuckDB evaluates the costly lower(trim()) only for the short cells.
    longest = max(len(t) for t in NULL_TOKENS)
    return f"(length({column}) <= {longest} AND lower(trim({column})) IN ({tokens}))"


# --- numbers -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberStyle:
    """How the numbers of a column are written."""

    decimal: str  # "." or ","
    group: str  # "", ",", ".", " ", "'"
    currency: str | None
    percent: bool
    integral: bool


def _split_body(body: str) -> tuple[str, str | None]:
    """Return (group separator or '', decimal mark or None) of one number body like 1.234,50."""
    body = body.strip().replace("\u00a0", " ")
    marks = [c for c in body if c in ".,' "]
    if not marks:
        return "", None
    last = marks[-1]
    tail = body.rsplit(last, 1)[1]
    if len(set(marks)) > 1:
        return marks[0], last  # 1,234.50 or 1.234,50 or 1 234,50
    if marks.count(last) > 1:
        return last, None  # 1,234,567
    if last in " '":
        return last, None
    if len(tail) == 3 and body.split(last)[0] not in {"0", ""}:
        return "?" + last, None  # 1,234 or 1.234: grouping or decimals; decided by the column
    return "", last


def _number_style(values: Sequence[str]) -> tuple[NumberStyle | None, int]:
    """Return the column's number style and how many sample values fit it."""
    if sum(1 for v in values if _PLAIN_NUMBER.match(v)) == len(values):
        integral = all(re.match(r"^\s*[-+]?\d+\s*$", v) for v in values)
        return NumberStyle(".", "", None, False, integral), len(values)
    shapes = [_NUMBER_SHAPE.match(v) for v in values]
    matched = [m for m in shapes if m and bool(m.group("open")) == bool(m.group("close"))]
    if not matched:
        return None, 0
    groups: Counter[str] = Counter()
    decimals: Counter[str] = Counter()
    currencies: Counter[str] = Counter()
    percents = 0
    for match in matched:
        group, decimal = _split_body(match.group("body"))
        groups[group] += 1
        if decimal:
            decimals[decimal] += 1
        currency = match.group("cur0") or match.group("cur1") or match.group("cur2")
        if currency:
            currencies[currency.upper()] += 1
        percents += bool(match.group("pct"))
    decimal = decimals.most_common(1)[0][0] if decimals else None
    sure_groups = [g for g in groups if g and not g.startswith("?")]
    group = sure_groups[0] if sure_groups else ""
    if decimal is None and not group and any(g.startswith("?") for g in groups):
        # Only bodies like 1,234: commas group thousands (1,234 = 1234) unless a decimal comma shows up.
        ambiguous = next(g for g in groups if g.startswith("?"))[1]
        group = ambiguous
        decimal = "." if ambiguous == "," else ","
    decimal = decimal or ("," if group == "." else ".")
    if decimal == group:
        return None, 0
    integral = all(not _split_body(m.group("body"))[1] for m in matched)
    currency = currencies.most_common(1)[0][0] if currencies else None
    style = NumberStyle(decimal, group, currency, percents > len(matched) // 2, integral and not percents)
    return style, len(matched)


def _number_expression(column: str, style: NumberStyle) -> tuple[str, str]:
    """Return (SQL value expression, SQL validity pattern) for a formatted number column."""
    if not style.group and style.decimal == "." and not style.currency and not style.percent:
        target = "BIGINT" if style.integral else "DOUBLE"
        return f"TRY_CAST({column} AS {target})", ""  # DuckDB's casts allow surrounding spaces
    # The validity pattern has already checked the shape, so plain replace() calls (several times
    # cheaper than a regexp_replace over every cell) can strip what is not part of the number. A
    # currency other than the column's is not stripped, so its cells fail the cast and count as dropped.
    digits = column
    if style.currency:
        for token in dict.fromkeys([style.currency, style.currency.lower(), style.currency.title()]):
            digits = f"replace({digits}, {_sql_string(token)}, '')"
    strip = [" ", "\u00a0", "(", ")", "%", "+"] + (
        [style.group] if style.group and style.group != " " else []
    )
    for token in strip:
        digits = f"replace({digits}, {_sql_string(token)}, '')"
    if style.decimal == ",":
        digits = f"replace({digits}, ',', '.')"
    negative = f"contains({column}, '(')"
    value = f"TRY_CAST({digits} AS DOUBLE)"
    if style.percent:
        value = f"({value} / 100.0)"
    elif style.integral:
        value = f"TRY_CAST({digits} AS BIGINT)"
    group = re.escape(style.group) if style.group else ""
    grouped = rf"\d{{1,3}}({group}\d{{3}})+" if group else r"\d+"
    body = rf"({grouped}|\d+)({re.escape(style.decimal)}\d+)?"
    prefix = rf"\s*{_CURRENCY}?\s*\(?\s*[-+]?\s*{_CURRENCY}?\s*[-+]?\s*"
    pattern = rf"(?i)^{prefix}{body}\s*{_CURRENCY}?\s*%?\s*\)?\s*$"
    expression = f"CASE WHEN {negative} THEN -{value} ELSE {value} END"
    return expression, pattern


# --- dates ---------------------------------------------------------------------------------------


def _date_formats(
    values: Sequence[str], ambiguous_order: str
) -> tuple[list[str], Kind, dict[str, Any], int] | None:
    """Return (strptime formats, date or datetime, details, fitting count) when the sample is dates."""
    if all(_ISO_DATE.match(v) for v in values):
        return ["ISO"], "date", {"date_format": "%Y-%m-%d"}, len(values)
    if all(_ISO_DATE.match(v) or _ISO_DATETIME.match(v) for v in values):
        return ["ISO"], "datetime", {"date_format": "ISO 8601"}, len(values)
    matches = [_NUMERIC_DATE.match(v) for v in values]
    numeric = [m for m in matches if m]
    if len(numeric) >= len(values) * 0.5:
        separators = Counter(m.group("sep") for m in numeric)
        sep = separators.most_common(1)[0][0]
        first_big = any(int(m.group("a")) > 12 for m in numeric if len(m.group("a")) <= 2)
        second_big = any(int(m.group("b")) > 12 for m in numeric)
        year_first = all(len(m.group("a")) == 4 for m in numeric)
        if year_first:
            order, ambiguous = "%Y{s}%m{s}%d", False
        elif first_big and second_big:
            return None
        elif first_big or (not second_big and ambiguous_order == "dmy"):
            order, ambiguous = "%d{s}%m{s}%Y", not first_big
        else:
            order, ambiguous = "%m{s}%d{s}%Y", not second_big
        base = order.format(s=sep)
        short_year = not year_first and all(len(m.group("c")) == 2 for m in numeric)
        if short_year:
            base = base.replace("%Y", "%y")
        has_time = any(m.group("time") for m in numeric)
        formats = [base + " %H:%M:%S", base + " %H:%M", base] if has_time else [base]
        detail: dict[str, Any] = {"date_format": base}
        if ambiguous:
            detail["ambiguous_day_month"] = True
        fitting = sum(1 for m in numeric if m.group("sep") == sep)
        return formats, "datetime" if has_time else "date", detail, fitting
    if all(_NAMED_DATE_DMY.match(v) or _NAMED_DATE_MDY.match(v) for v in values):
        formats = ["%d %b %Y", "%d-%b-%Y", "%d %B %Y", "%d-%B-%Y", "%b %d, %Y", "%B %d, %Y", "%b %d %Y"]
        return formats, "date", {"date_format": "named month"}, len(values)
    return None


def _date_expression(column: str, formats: list[str], kind: Kind) -> str:
    target = "DATE" if kind == "date" else "TIMESTAMP"
    if formats == ["ISO"]:
        return f"TRY_CAST({column} AS {target})"
    listed = "[" + ", ".join(_sql_string(f) for f in formats) + "]"
    return f"TRY_CAST(TRY_STRPTIME(trim({column}), {listed}) AS {target})"


# --- the decision --------------------------------------------------------------------------------


def _has_leading_zeros(values: Sequence[str]) -> bool:
    return any(len(v.strip()) > 1 and v.strip()[0] == "0" and v.strip()[1].isdigit() for v in values)


def infer_column(
    name: str, sample: Sequence[str | None], *, tolerance: float, ambiguous_order: str = "dmy"
) -> ColumnType:
    """Decide the type of one VARCHAR column from a sample of its cells."""
    column = quote(name)
    values = [v for v in sample if v is not None and not is_null_token(v)]
    text = ColumnType(name, "text", f"NULLIF({column}, '')")
    if not values:
        return text
    needed = len(values) * (1 - tolerance)
    lowered = {v.strip().lower() for v in values}
    if lowered <= _TRUE | _FALSE:
        true_list = ", ".join(_sql_string(t) for t in sorted(_TRUE))
        false_list = ", ".join(_sql_string(t) for t in sorted(_FALSE))
        expression = (
            f"CASE WHEN lower(trim({column})) IN ({true_list}) THEN true "
            f"WHEN lower(trim({column})) IN ({false_list}) THEN false END"
        )
        return ColumnType(name, "boolean", expression)
    dates = _date_formats(values, ambiguous_order)
    if dates is not None and dates[3] >= needed:
        formats, kind, detail, _ = dates
        return ColumnType(name, kind, _date_expression(column, formats, kind), detail)
    if _has_leading_zeros(values) and all(v.strip().isdigit() for v in values):
        return ColumnType(
            name, "text", text.expression, {"reason": "leading zeros: an identifier, not a number"}
        )
    style, fitting = _number_style(values)
    if style is not None and fitting >= needed:
        expression, pattern = _number_expression(column, style)
        if pattern:
            expression = (
                f"CASE WHEN regexp_full_match({column}, {_sql_string(pattern)}) THEN {expression} END"
            )
        number_detail: dict[str, Any] = {}
        if style.currency:
            number_detail["currency"] = style.currency
        if style.percent:
            number_detail["percent"] = True
        if style.group or style.decimal != ".":
            number_detail["number_format"] = {"decimal": style.decimal, "group": style.group}
        return ColumnType(name, "integer" if style.integral else "number", expression, number_detail)
    return text


def swap_day_month(column_type: ColumnType) -> bool:
    """Turn an ambiguous day-first date column month-first (or back), once; return whether it did."""
    detail = column_type.detail
    if not detail.get("ambiguous_day_month") or detail.get("swapped"):
        return False
    swap = {"%d": "%m", "%m": "%d"}
    column_type.expression = re.sub(r"%[dm]", lambda m: swap[m.group(0)], column_type.expression)
    detail["date_format"] = re.sub(r"%[dm]", lambda m: swap[m.group(0)], str(detail["date_format"]))
    detail["swapped"] = True
    return True


def present_condition(column: str) -> str:
    """Return the SQL condition that a (quoted) column's cell holds a value, not a null token."""
    return f"{column} IS NOT NULL AND NOT {_null_guard(column)}"


def present_count_sql(staging: str, types: Sequence[ColumnType]) -> str | None:
    """Return one query counting, per column, the cells that hold a value (not a null token)."""
    counted = list(types)
    if not counted:
        return None
    parts = [
        f"count(*) FILTER (WHERE {quote(t.name)} IS NOT NULL AND NOT {_null_guard(quote(t.name))})"
        for t in counted
    ]
    return f"SELECT {', '.join(parts)} FROM {quote(staging)}"


def typed_value_sql(column_type: ColumnType) -> str:
    """Return the SQL expression of a column's typed value (null tokens become NULL)."""
    column = quote(column_type.name)
    if column_type.kind == "kept":
        return column
    if column_type.needs_null_guard:
        return f"CASE WHEN {_null_guard(column)} THEN NULL ELSE {column_type.expression} END"
    return column_type.expression


def typed_select_sql(staging: str, types: Sequence[ColumnType]) -> str:
    """Return the SELECT that turns the staging table into the typed table."""
    columns = [f"{typed_value_sql(t)} AS {quote(t.name)}" for t in types]
    return f"SELECT {', '.join(columns)} FROM {quote(staging)}"
