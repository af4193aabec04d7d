"""Compile a QuerySpec into SQL, built as a sqlglot expression tree (never by pasting strings).

Identifiers are always quoted and values are literal nodes, so a table, column or value from a
question cannot change the shape of the query. The tree is generated in DuckDB's dialect for our
own engine and can be transpiled to PostgreSQL (or any dialect sqlglot writes) for data that lives
elsewhere. The SQL uses friendly table names; the validator maps them to storage names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlglot import exp

from nexus.errors import UnprocessableContent
from nexus.query.catalog import Catalog, CatalogTable, Column
from nexus.query.spec import (
    Aggregate,
    Dimension,
    Filter,
    Measure,
    Op,
    Period,
    QuerySpec,
    Reconciliation,
    Scalar,
)


class PlanError(UnprocessableContent):
    """A plan names something that is not in the catalog, or combines parts that do not fit."""

    type_slug = "invalid-plan"


def _ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


class _Scope:
    """Resolves plan column references against the plan's tables."""

    def __init__(self, spec_tables: Sequence[str], catalog: Catalog, *, qualify: bool) -> None:
        self.catalog = catalog
        self.tables: list[CatalogTable] = []
        for name in spec_tables:
            table = catalog.table(name)
            if table is None:
                raise PlanError(f"No table named {name!r}; the tables are: {catalog.describe()}.")
            self.tables.append(table)
        self.qualify = qualify

    def table(self, name: str | None) -> CatalogTable:
        if name is None:
            return self.tables[0]
        for table in self.tables:
            if table.name.casefold() == name.casefold():
                return table
        found = self.catalog.table(name)
        if found is None:
            raise PlanError(f"No table named {name!r}; the tables are: {self.catalog.describe()}.")
        self.tables.append(found)
        return found

    def resolve(self, column: str, table: str | None = None) -> tuple[CatalogTable, Column]:
        owner = self.table(table)
        found = owner.column(column)
        if found is None and table is None:
            for other in self.tables[1:]:
                found = other.column(column)
                if found is not None:
                    owner = other
                    break
        if found is None:
            names = ", ".join(c.name for c in owner.columns)
            raise PlanError(f"Table {owner.name!r} has no column {column!r}; its columns are: {names}.")
        return owner, found

    def column(self, column: str, table: str | None = None) -> exp.Column:
        owner, found = self.resolve(column, table)
        return exp.Column(this=_ident(found.name), table=_ident(owner.name) if self.qualify else None)


def literal(value: Scalar, column: Column | None = None) -> exp.Expr:
    """Return a value as a literal node of the column's type."""
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float)):
        return exp.Literal.number(value)
    if isinstance(value, dt.datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, dt.date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if column is not None and column.temporal:
        return exp.cast(exp.Literal.string(str(value)), exp.DataType.Type.DATE)
    if column is not None and column.numeric:
        try:
            return exp.Literal.number(float(value) if "." in str(value) else int(value))
        except ValueError:
            pass
    return exp.Literal.string(str(value))


def _condition(scope: _Scope, item: Filter) -> exp.Expr:
    _, column = scope.resolve(item.column, item.table)
    target = scope.column(item.column, item.table)
    match item.op:
        case Op.EQ:
            assert item.value is not None
            return exp.EQ(this=target, expression=literal(item.value, column))
        case Op.NE:
            assert item.value is not None
            return exp.NEQ(this=target, expression=literal(item.value, column))
        case Op.GT | Op.GE | Op.LT | Op.LE:
            assert item.value is not None
            node = {Op.GT: exp.GT, Op.GE: exp.GTE, Op.LT: exp.LT, Op.LE: exp.LTE}[item.op]
            return node(this=target, expression=literal(item.value, column))
        case Op.IN | Op.NOT_IN:
            members = exp.In(this=target, expressions=[literal(v, column) for v in item.values])
            return members if item.op is Op.IN else exp.Not(this=members)
        case Op.RANGE:
            parts: list[exp.Expr] = []
            if item.low is not None:
                parts.append(exp.GTE(this=target, expression=literal(item.low, column)))
            if item.high is not None:
                parts.append(exp.LTE(this=target.copy(), expression=literal(item.high, column)))
            return exp.and_(*parts)
        case Op.CONTAINS:
            pattern = "%" + _escape_like(str(item.value)) + "%"
            return exp.ILike(
                this=exp.cast(target, exp.DataType.Type.VARCHAR), expression=exp.Literal.string(pattern)
            )
        case Op.IS_NULL:
            return exp.Is(this=target, expression=exp.Null())
        case Op.NOT_NULL:
            return exp.Not(this=exp.Is(this=target, expression=exp.Null()))
    raise PlanError(f"Unknown filter operator {item.op!r}.")  # pragma: no cover - the enum is closed


def _escape_like(text: str) -> str:
    # DuckDB's ILIKE has no default escape character; strip the wildcards instead of escaping them.
    return text.replace("%", "").replace("_", " ").strip() if ("%" in text or "_" in text) else text


def _in_period(target: exp.Expr, period: Period) -> exp.Expr:
    parts: list[exp.Expr] = []
    if period.start is not None:
        parts.append(exp.GTE(this=target.copy(), expression=literal(period.start)))
    if period.end is not None:
        parts.append(exp.LT(this=target.copy(), expression=literal(period.end)))
    return exp.and_(*parts) if parts else exp.true()


def _aggregate(scope: _Scope, measure: Measure, condition: exp.Expr | None = None) -> exp.Expr:
    """Return the aggregate of a measure, restricted to rows meeting ``condition`` if one is given."""
    if measure.column is None:
        value: exp.Expr = exp.Count(this=exp.Star())
    else:
        target = scope.column(measure.column, measure.table)
        _, column = scope.resolve(measure.column, measure.table)
        needs_number = measure.agg in {Aggregate.SUM, Aggregate.AVG, Aggregate.MEDIAN, Aggregate.SHARE}
        if needs_number and not column.numeric:
            raise PlanError(
                f"Column {column.name!r} holds {column.type}, not numbers; it cannot be summed or averaged."
            )
        match measure.agg:
            case Aggregate.SUM | Aggregate.SHARE:
                value = exp.Sum(this=target)
            case Aggregate.AVG:
                value = exp.Avg(this=target)
            case Aggregate.MEDIAN:
                value = exp.Median(this=target)
            case Aggregate.MIN:
                value = exp.Min(this=target)
            case Aggregate.MAX:
                value = exp.Max(this=target)
            case Aggregate.COUNT:
                value = exp.Count(this=target)
            case Aggregate.COUNT_DISTINCT:
                value = exp.Count(this=exp.Distinct(expressions=[target]))
    if condition is not None:
        value = exp.Filter(this=value, expression=exp.Where(this=condition))
    return value


def _measure(scope: _Scope, measure: Measure, grouped: bool) -> exp.Expr:
    if measure.agg is not Aggregate.SHARE:
        return _aggregate(scope, measure)
    whole = _aggregate(scope, measure)
    if measure.where:
        part = _aggregate(scope, measure, exp.and_(*(_condition(scope, f) for f in measure.where)))
        denominator: exp.Expr = whole
    else:
        part = whole
        denominator = (
            exp.Window(this=exp.Sum(this=whole.copy()), partition_by=[]) if grouped else whole.copy()
        )
    return _percent(part, denominator)


def _percent(part: exp.Expr, whole: exp.Expr) -> exp.Expr:
    ratio = exp.Div(
        this=exp.Mul(this=exp.Literal.number("100.0"), expression=part),
        expression=exp.Nullif(this=whole, expression=exp.Literal.number(0)),
    )
    return ratio


def _dimension(scope: _Scope, dimension: Dimension) -> exp.Expr:
    target = scope.column(dimension.column, dimension.table)
    if dimension.grain is None:
        return target
    _, column = scope.resolve(dimension.column, dimension.table)
    if not column.temporal:
        raise PlanError(
            f"Column {column.name!r} is not a date; it cannot be grouped by {dimension.grain.value}."
        )
    truncated = exp.DateTrunc(unit=exp.Literal.string(dimension.grain.value), this=target)  # type: ignore[no-untyped-call]
    return exp.cast(truncated, exp.DataType.Type.DATE)


def _alias(node: exp.Expr, name: str) -> exp.Alias:
    return exp.Alias(this=node, alias=_ident(name))


def _join_condition(
    scope: _Scope, left: str, right: str, lcols: Sequence[str], rcols: Sequence[str]
) -> exp.Expr:
    if len(lcols) != len(rcols) or not lcols:
        raise PlanError("A join needs the same number of key columns on both sides.")
    return exp.and_(
        *(
            exp.EQ(this=scope.column(lc, left), expression=scope.column(rc, right))
            for lc, rc in zip(lcols, rcols, strict=True)
        )
    )


def compile_spec(spec: QuerySpec, catalog: Catalog) -> exp.Query:
    """Return the query that answers a plan (friendly table names, DuckDB semantics)."""
    if spec.reconcile is not None:
        return _reconcile(spec.reconcile, catalog, spec.filters)
    scope = _Scope(spec.tables, catalog, qualify=bool(spec.joins) or len(spec.tables) > 1)
    for join in spec.joins:
        scope.table(join.table)
        scope.table(join.to_table)
    if spec.compare is not None:
        return _compare(spec, scope)
    grouped = bool(spec.dimensions)
    select: list[exp.Expr] = []
    group: list[exp.Expr] = []
    for dimension in spec.dimensions:
        node = _dimension(scope, dimension)
        group.append(node.copy())
        select.append(_alias(node, dimension.name))
    for ref in spec.columns:
        _, column = scope.resolve(ref.column, ref.table)
        select.append(_alias(scope.column(ref.column, ref.table), column.name))
    for measure in spec.measures:
        select.append(_alias(_measure(scope, measure, grouped), measure.name))
    if not select:
        select.append(exp.Star())
    query = exp.Select(expressions=select).from_(_table(scope.tables[0]))
    query = _add_joins(query, spec, scope)
    conditions = [_condition(scope, item) for item in spec.filters]
    if spec.time is not None and spec.growth is None:
        conditions.append(_in_period(scope.column(spec.time.column, spec.time.table), spec.time.period))
    if conditions:
        query = query.where(exp.and_(*conditions))
    if group and spec.measures:
        query = query.group_by(*group)
    if spec.growth is not None:
        # Growth is computed over every period, then the asked period is picked: the growth of
        # August needs July.
        return _growth(spec, query)
    order = _order(spec)
    if order:
        query = query.order_by(*order)
    if spec.limit is not None:
        query = query.limit(spec.limit)
    return query


def _table(table: CatalogTable) -> exp.Table:
    return exp.Table(this=_ident(table.name))


def _add_joins(query: exp.Select, spec: QuerySpec, scope: _Scope) -> exp.Select:
    joined = {scope.tables[0].name.casefold()}
    for join in spec.joins:
        new = join.table if join.table.casefold() not in joined else join.to_table
        condition = _join_condition(scope, join.table, join.to_table, join.columns, join.to_columns)
        query = query.join(_table(scope.table(new)), on=condition, join_type=join.kind)
        joined.add(new.casefold())
    for table in scope.tables[1:]:
        if table.name.casefold() not in joined:
            raise PlanError(
                f"Table {table.name!r} is used but not joined;"
                f" say how it relates to {scope.tables[0].name!r}."
            )
    return query


def _order(spec: QuerySpec) -> list[exp.Ordered]:
    if spec.order:
        return [exp.Ordered(this=exp.column(_ident(item.by)), desc=item.descending) for item in spec.order]
    timed = [d for d in spec.dimensions if d.grain is not None]
    if timed:
        return [exp.Ordered(this=exp.column(_ident(d.name)), desc=False) for d in timed]
    if spec.dimensions and spec.measures:
        return [exp.Ordered(this=exp.column(_ident(spec.measures[0].name)), desc=True)]
    return []


def _growth(spec: QuerySpec, grouped: exp.Select) -> exp.Query:
    """Wrap a per-period query: each measure's change and growth against the previous period."""
    timed = [d for d in spec.dimensions if d.grain is not None] or spec.dimensions[:1]
    if not timed or not spec.measures:
        raise PlanError("Growth needs a measure and a time dimension.")
    period = exp.column(_ident(timed[0].name))
    others = [exp.column(_ident(d.name)) for d in spec.dimensions if d is not timed[0]]
    select: list[exp.Expr] = [exp.Star()]
    for measure in spec.measures:
        current = exp.column(_ident(measure.name))
        previous = exp.Window(
            this=exp.Anonymous(this="LAG", expressions=[current.copy()]),
            partition_by=[o.copy() for o in others],
            order=exp.Order(expressions=[exp.Ordered(this=period.copy())]),
        )
        select.append(
            _alias(exp.Sub(this=current.copy(), expression=previous.copy()), f"{measure.name}_change")
        )
        growth = exp.Sub(
            this=exp.Mul(
                this=exp.Literal.number("100.0"),
                expression=exp.Div(
                    this=current.copy(),
                    expression=exp.Nullif(this=previous, expression=exp.Literal.number(0)),
                ),
            ),
            expression=exp.Literal.number(100),
        )
        select.append(_alias(growth, f"{measure.name}_growth_pct"))
    outer = exp.Select(expressions=select).from_(
        exp.Subquery(this=grouped, alias=exp.TableAlias(this=_ident("per_period")))
    )
    if spec.time is not None:
        wrapped = exp.Select(expressions=[exp.Star()]).from_(
            exp.Subquery(this=outer, alias=exp.TableAlias(this=_ident("with_growth")))
        )
        picked = wrapped.where(_in_period(period.copy(), spec.time.period))
        return picked.order_by(*(o.copy() for o in others), period.copy())
    return outer.order_by(*(o.copy() for o in others), period.copy())


def _compare(spec: QuerySpec, scope: _Scope) -> exp.Query:
    """Each measure per period side by side, then the change from the first period to the last."""
    assert spec.compare is not None
    if not spec.measures:
        raise PlanError("A comparison needs at least one measure.")
    time_column = scope.column(spec.compare.column, spec.compare.table)
    _, column = scope.resolve(spec.compare.column, spec.compare.table)
    if not column.temporal:
        raise PlanError(f"Column {column.name!r} is not a date; periods cannot be compared on it.")
    select: list[exp.Expr] = []
    group: list[exp.Expr] = []
    for dimension in spec.dimensions:
        node = _dimension(scope, dimension)
        group.append(node.copy())
        select.append(_alias(node, dimension.name))
    periods = spec.compare.periods
    for measure in spec.measures:
        values = [_aggregate(scope, measure, _in_period(time_column, p)) for p in periods]
        for period, value in zip(periods, values, strict=True):
            select.append(_alias(value, f"{measure.name}_{period.label}"))
        first, last = values[0], values[-1]
        select.append(_alias(exp.Sub(this=last.copy(), expression=first.copy()), f"{measure.name}_change"))
        select.append(
            _alias(
                exp.Sub(
                    this=_percent(last.copy(), first.copy()),
                    expression=exp.Literal.number(100),
                ),
                f"{measure.name}_change_pct",
            )
        )
    query = exp.Select(expressions=select).from_(_table(scope.tables[0]))
    query = _add_joins(query, spec, scope)
    conditions = [_condition(scope, item) for item in spec.filters]
    conditions.append(exp.or_(*(_in_period(time_column, p) for p in periods)))
    query = query.where(exp.and_(*conditions))
    if group:
        query = query.group_by(*group)
        query = query.order_by(
            exp.Ordered(this=exp.column(_ident(f"{spec.measures[0].name}_{periods[-1].label}")), desc=True)
        )
    if spec.limit is not None:
        query = query.limit(spec.limit)
    return query


def _reconcile(plan: Reconciliation, catalog: Catalog, filters: Sequence[Filter] = ()) -> exp.Query:
    scope = _Scope([plan.table, plan.other], catalog, qualify=True)
    left, right = scope.tables[0], scope.tables[1]
    if len(plan.keys) != len(plan.other_keys):
        raise PlanError("Both tables need the same number of key columns.")
    if plan.mode == "differences":
        return _differences(plan, scope, left, right)
    match = _join_condition(scope, right.name, left.name, plan.other_keys, plan.keys)
    unmatched = exp.Not(
        this=exp.Exists(
            this=exp.Select(expressions=[exp.Literal.number(1)]).from_(_table(right)).where(match)
        )
    )
    present = exp.and_(
        *(exp.Not(this=exp.Is(this=scope.column(k, left.name), expression=exp.Null())) for k in plan.keys)
    )
    where = exp.and_(present, unmatched, *(_condition(scope, f) for f in filters))
    key_columns = [scope.column(k, left.name) for k in plan.keys]
    amount = scope.column(plan.amount, left.name) if plan.amount else None
    if plan.summary_only:
        distinct = exp.Count(this=exp.Distinct(expressions=[k.copy() for k in key_columns]))
        select: list[exp.Expr] = [
            _alias(distinct, "missing_keys"),
            _alias(exp.Count(this=exp.Star()), "missing_rows"),
        ]
        if amount is not None:
            select.append(_alias(exp.Sum(this=amount), "missing_amount"))
        return exp.Select(expressions=select).from_(_table(left)).where(where)
    select = [
        _alias(k.copy(), scope.resolve(name, left.name)[1].name)
        for k, name in zip(key_columns, plan.keys, strict=True)
    ]
    select.append(_alias(exp.Count(this=exp.Star()), "rows"))
    if amount is not None:
        select.append(_alias(exp.Sum(this=amount.copy()), "amount"))
    select.append(_alias(exp.Window(this=exp.Count(this=exp.Star()), partition_by=[]), "missing_keys"))
    select.append(
        _alias(exp.Window(this=exp.Sum(this=exp.Count(this=exp.Star())), partition_by=[]), "missing_rows")
    )
    if amount is not None:
        select.append(
            _alias(
                exp.Window(this=exp.Sum(this=exp.Sum(this=amount.copy())), partition_by=[]), "missing_amount"
            )
        )
    return (
        exp.Select(expressions=select)
        .from_(_table(left))
        .where(where)
        .group_by(*(k.copy() for k in key_columns))
        .order_by(*(exp.Ordered(this=k.copy()) for k in key_columns))
    )


def _differences(plan: Reconciliation, scope: _Scope, left: CatalogTable, right: CatalogTable) -> exp.Query:
    """Matched keys whose amounts (summed per key on each side) differ."""
    if plan.amount is None:
        raise PlanError("Comparing amounts needs an amount column.")
    other_amount = plan.other_amount or plan.amount

    def side(table: CatalogTable, keys: Sequence[str], amount: str, name: str) -> exp.Subquery:
        columns = [scope.column(k, table.name) for k in keys]
        select = [_alias(c, f"k{i}") for i, c in enumerate(columns)]
        select.append(_alias(exp.Sum(this=scope.column(amount, table.name)), "amount"))
        inner = exp.Select(expressions=select).from_(_table(table)).group_by(*(c.copy() for c in columns))
        return exp.Subquery(this=inner, alias=exp.TableAlias(this=_ident(name)))

    a = side(left, plan.keys, plan.amount, "a")
    b = side(right, plan.other_keys, other_amount, "b")
    key_names = [scope.resolve(k, left.name)[1].name for k in plan.keys]
    on = exp.and_(
        *(
            exp.EQ(
                this=exp.column(f"k{i}", "a", quoted=True), expression=exp.column(f"k{i}", "b", quoted=True)
            )
            for i in range(len(plan.keys))
        )
    )
    a_amount = exp.column("amount", "a", quoted=True)
    b_amount = exp.column("amount", "b", quoted=True)
    difference = exp.Sub(this=a_amount.copy(), expression=b_amount.copy())
    select: list[exp.Expr] = [
        _alias(exp.column(f"k{i}", "a", quoted=True), n) for i, n in enumerate(key_names)
    ]
    select += [
        _alias(a_amount.copy(), f"amount_{left.name}"),
        _alias(b_amount.copy(), f"amount_{right.name}"),
        _alias(difference, "difference"),
    ]
    return (
        exp.Select(expressions=select)
        .from_(a)
        .join(b, on=on)
        .where(exp.NullSafeNEQ(this=a_amount.copy(), expression=b_amount.copy()))
        .order_by(exp.Ordered(this=exp.Abs(this=difference.copy()), desc=True))
    )


def to_sql(spec: QuerySpec, catalog: Catalog, dialect: str = "duckdb") -> str:
    """Return a plan's SQL in a dialect (DuckDB by default)."""
    return compile_spec(spec, catalog).sql(dialect=dialect, pretty=True)
