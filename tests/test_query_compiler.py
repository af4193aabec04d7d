"""The plan compiler: every plan shape runs on DuckDB, and the same plan runs on PostgreSQL.

The PostgreSQL run uses the plan transpiled by sqlglot and must give the same rows.
"""

from __future__ import annotations

import datetime as dt
import math
import uuid
from collections.abc import Iterator
from typing import Any

import duckdb
import pytest
from sqlalchemy import create_engine, text

from nexus.query.catalog import Catalog, CatalogTable, Column
from nexus.query.compiler import PlanError, compile_spec, to_sql
from nexus.query.spec import (
    Aggregate,
    Dimension,
    Filter,
    Grain,
    Growth,
    Join,
    Measure,
    Op,
    Order,
    Period,
    PeriodComparison,
    QuerySpec,
    Reconciliation,
    TimeFilter,
)

SALES_COLUMNS = (
    Column("order_date", "Order Date", "date", "date"),
    Column("region", "Region", "text", "category"),
    Column("amount", "Amount", "number", "amount"),
    Column("customer", "Customer", "text", "id"),
)
CUSTOMER_COLUMNS = (
    Column("customer", "Customer", "text", "id"),
    Column("segment", "Segment", "text", "category"),
)


def _catalog() -> Catalog:
    sales = CatalogTable("sales", "d1", "sales", uuid.uuid4(), "sales", 1, 600, SALES_COLUMNS)
    customers = CatalogTable(
        "customers", "d2", "customers", uuid.uuid4(), "customers", 1, 15, CUSTOMER_COLUMNS
    )
    return Catalog((sales, customers), ())


def _rows() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    regions = ["Europe", "Asia", "O'Brien's; DROP TABLE x"]  # a hostile value is only ever a literal
    sales = [
        (
            dt.date(2023, 1, 1) + dt.timedelta(days=(i * 7) % 700),
            regions[i % 3],
            round(i * 1.25, 2),
            f"c{i % 20}",
        )
        for i in range(600)
    ]
    customers = [(f"c{i}", "Retail" if i % 2 else "Corporate") for i in range(15)]
    return sales, customers


@pytest.fixture(scope="module")
def duck() -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect()
    con.execute("CREATE TABLE sales (order_date DATE, region VARCHAR, amount DOUBLE, customer VARCHAR)")
    con.execute("CREATE TABLE customers (customer VARCHAR, segment VARCHAR)")
    sales, customers = _rows()
    con.executemany("INSERT INTO sales VALUES (?, ?, ?, ?)", sales)
    con.executemany("INSERT INTO customers VALUES (?, ?)", customers)
    yield con
    con.close()


@pytest.fixture(scope="module")
def postgres() -> Iterator[Any]:
    from tests.fixtures.database import POSTGRES_URL, postgres_unreachable_reason

    reason = postgres_unreachable_reason()
    if reason:
        pytest.skip(reason)
    schema = f"q_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        connection.execute(text(f'SET search_path TO "{schema}"'))
        connection.execute(
            text("CREATE TABLE sales (order_date DATE, region TEXT, amount DOUBLE PRECISION, customer TEXT)")
        )
        connection.execute(text("CREATE TABLE customers (customer TEXT, segment TEXT)"))
        sales, customers = _rows()
        connection.execute(
            text("INSERT INTO sales VALUES (:d, :r, :a, :c)"),
            [{"d": d, "r": r, "a": a, "c": c} for d, r, a, c in sales],
        )
        connection.execute(
            text("INSERT INTO customers VALUES (:c, :s)"), [{"c": c, "s": s} for c, s in customers]
        )
        yield connection
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


YEAR_2023 = Period(start=dt.date(2023, 1, 1), end=dt.date(2024, 1, 1), label="2023")
YEAR_2024 = Period(start=dt.date(2024, 1, 1), end=dt.date(2025, 1, 1), label="2024")

PLANS: dict[str, QuerySpec] = {
    "total": QuerySpec(tables=["sales"], measures=[Measure(agg=Aggregate.SUM, column="amount")]),
    "every aggregate": QuerySpec(
        tables=["sales"],
        measures=[
            Measure(agg=a, column="amount")
            for a in (Aggregate.AVG, Aggregate.MEDIAN, Aggregate.MIN, Aggregate.MAX, Aggregate.COUNT)
        ]
        + [Measure(agg=Aggregate.COUNT_DISTINCT, column="customer"), Measure(agg=Aggregate.COUNT)],
    ),
    "group by with order and limit": QuerySpec(
        tables=["sales"],
        measures=[Measure(agg=Aggregate.SUM, column="amount")],
        dimensions=[Dimension(column="region")],
        order=[Order(by="amount_sum", descending=False)],
        limit=2,
    ),
    "share across groups": QuerySpec(
        tables=["sales"],
        measures=[Measure(agg=Aggregate.SHARE, column="amount")],
        dimensions=[Dimension(column="region")],
    ),
    "share of a part": QuerySpec(
        tables=["sales"],
        measures=[Measure(agg=Aggregate.SHARE, where=[Filter(column="region", op=Op.EQ, value="Europe")])],
    ),
    "filters of every kind": QuerySpec(
        tables=["sales"],
        measures=[Measure(agg=Aggregate.COUNT)],
        filters=[
            Filter(column="region", op=Op.IN, values=["Europe", "O'Brien's; DROP TABLE x"]),
            Filter(column="amount", op=Op.RANGE, low=10, high=500),
            Filter(column="customer", op=Op.CONTAINS, value="1"),
            Filter(column="region", op=Op.NE, value="Asia"),
            Filter(column="amount", op=Op.NOT_NULL),
        ],
    ),
    "month grain in a year": QuerySpec(
        tables=["sales"],
        measures=[Measure(agg=Aggregate.SUM, column="amount")],
        dimensions=[Dimension(column="order_date", grain=Grain.MONTH)],
        time=TimeFilter(column="order_date", period=YEAR_2023),
    ),
    "quarter grain": QuerySpec(
        tables=["sales"],
        measures=[Measure(agg=Aggregate.COUNT)],
        dimensions=[Dimension(column="order_date", grain=Grain.QUARTER)],
    ),
    "growth": QuerySpec(
        tables=["sales"],
        measures=[Measure(agg=Aggregate.SUM, column="amount")],
        dimensions=[Dimension(column="order_date", grain=Grain.MONTH)],
        growth=Growth(grain=Grain.MONTH),
    ),
    "compare two years by region": QuerySpec(
        tables=["sales"],
        measures=[Measure(agg=Aggregate.SUM, column="amount")],
        dimensions=[Dimension(column="region")],
        compare=PeriodComparison(column="order_date", periods=[YEAR_2023, YEAR_2024]),
    ),
    "join": QuerySpec(
        tables=["sales", "customers"],
        joins=[Join(table="sales", to_table="customers", columns=["customer"], to_columns=["customer"])],
        measures=[Measure(agg=Aggregate.SUM, column="amount", table="sales")],
        dimensions=[Dimension(column="segment", table="customers")],
    ),
    "missing rows": QuerySpec(
        tables=["sales"],
        reconcile=Reconciliation(
            table="sales", other="customers", keys=["customer"], other_keys=["customer"], amount="amount"
        ),
    ),
    "missing summary": QuerySpec(
        tables=["sales"],
        reconcile=Reconciliation(
            table="sales",
            other="customers",
            keys=["customer"],
            other_keys=["customer"],
            amount="amount",
            summary_only=True,
        ),
    ),
}


def _normal(rows: list[tuple[Any, ...]] | list[Any]) -> list[tuple[Any, ...]]:
    def cell(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, (int, float)) or hasattr(value, "is_finite"):
            return round(float(value), 6)
        if isinstance(value, dt.datetime):
            return value.date()
        return value

    return sorted((tuple(cell(v) for v in row) for row in rows), key=repr)


@pytest.mark.parametrize("name", list(PLANS))
def test_plan_runs_the_same_on_duckdb_and_postgres(
    name: str, duck: duckdb.DuckDBPyConnection, postgres: Any
) -> None:
    spec = PLANS[name]
    catalog = _catalog()
    on_duck = duck.execute(to_sql(spec, catalog)).fetchall()
    assert on_duck, name
    on_postgres = postgres.execute(text(to_sql(spec, catalog, "postgres"))).fetchall()
    assert _normal(on_duck) == _normal([tuple(row) for row in on_postgres])


def test_total_is_right(duck: duckdb.DuckDBPyConnection) -> None:
    row = duck.execute(to_sql(PLANS["total"], _catalog())).fetchone()
    assert row is not None
    assert math.isclose(float(row[0]), sum(round(i * 1.25, 2) for i in range(600)))


def test_missing_rows_are_the_customers_without_a_record(duck: duckdb.DuckDBPyConnection) -> None:
    rows = duck.execute(to_sql(PLANS["missing rows"], _catalog())).fetchall()
    assert [row[0] for row in rows] == sorted(f"c{i}" for i in range(15, 20))
    summary = duck.execute(to_sql(PLANS["missing summary"], _catalog())).fetchone()
    assert summary is not None and summary[0] == 5 and summary[1] == 150


def test_hostile_values_stay_literals() -> None:
    sql = to_sql(PLANS["filters of every kind"], _catalog())
    assert "'O''Brien''s; DROP TABLE x'" in sql
    assert sql.count(";") == 1  # the one inside the quoted literal


def test_identifiers_are_quoted() -> None:
    sql = compile_spec(PLANS["join"], _catalog()).sql(dialect="duckdb")
    assert '"sales"."amount"' in sql and '"customers"."segment"' in sql


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (QuerySpec(tables=["nope"], measures=[Measure(agg=Aggregate.COUNT)]), "No table named 'nope'"),
        (QuerySpec(tables=["sales"], measures=[Measure(agg=Aggregate.SUM, column="amt")]), "no column 'amt'"),
        (QuerySpec(tables=["sales"], measures=[Measure(agg=Aggregate.SUM, column="region")]), "not numbers"),
        (
            QuerySpec(
                tables=["sales"],
                measures=[Measure(agg=Aggregate.COUNT)],
                dimensions=[Dimension(column="region", grain=Grain.MONTH)],
            ),
            "not a date",
        ),
    ],
)
def test_plans_that_do_not_fit_the_catalog_are_refused(spec: QuerySpec, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        compile_spec(spec, _catalog())


def test_the_plan_schema_is_fillable_json_schema() -> None:
    schema = QuerySpec.model_json_schema()
    assert schema["type"] == "object" and "measures" in schema["properties"]
    assert "count_distinct" in str(schema)
