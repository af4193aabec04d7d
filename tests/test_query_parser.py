"""The rule-based parser, end to end below the API: question -> plan -> SQL -> DuckDB -> value.

The files are written by the test, ingested by the real pipeline, and every expected answer is
computed here in plain Python from the rows the test wrote, not by the engine.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import statistics
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any

import duckdb
import pytest

from nexus.datasets.ingest.base import IngestLimits
from nexus.datasets.ingest.pipeline import IngestOptions, ingest_file
from nexus.query.catalog import Catalog, CatalogTable, _columns
from nexus.query.compiler import to_sql
from nexus.query.parser import Parser

REGIONS = ["Europe", "Asia", "North America", "Africa"]
CATEGORIES = ["Electronics", "Books", "Toys", "Garden"]
CARDS = ["Visa", "Mastercard", "Amex"]


def _sales_rows() -> list[dict[str, Any]]:
    rng = random.Random(7)
    rows = []
    for i in range(3000):
        rows.append(
            {
                "order_id": 1000 + i,
                "date": dt.date(2022, 1, 1) + dt.timedelta(days=rng.randrange(0, 1095)),
                "customer": f"C{rng.randrange(300):03d}",
                "region": rng.choice(REGIONS),
                "category": rng.choice(CATEGORIES),
                "card": rng.choice(CARDS),
                "amount": round(rng.uniform(5, 2000), 2),
                "quantity": rng.randint(1, 9),
            }
        )
    return rows


SALES = _sales_rows()
CUSTOMERS = [(f"C{i:03d}", "Retail" if i % 3 else "Corporate") for i in range(250)]


class Engine:
    """The parser over a catalog of ingested files, and a DuckDB connection to run its SQL."""

    def __init__(self, catalog: Catalog, con: duckdb.DuckDBPyConnection) -> None:
        self.catalog = catalog
        self.con = con
        values: dict[tuple[str, str], list[str]] = {}
        for table in catalog.tables:
            for column in table.columns:
                if column.type == "text" and int(column.profile.get("distinct_count") or 0) <= 2000:
                    rows = con.execute(f'SELECT DISTINCT "{column.name}" FROM "{table.name}"').fetchall()
                    values[(table.name, column.name)] = [str(r[0]) for r in rows if r[0] is not None]
        self.parser = Parser(catalog, values)

    def ask(self, question: str) -> list[tuple[Any, ...]]:
        parsed = self.parser.parse(question)
        assert parsed.spec is not None, (question, parsed.missing, parsed.unresolved)
        return self.con.execute(to_sql(parsed.spec, self.catalog)).fetchall()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    root = tmp_path_factory.mktemp("parser")
    sales_csv = root / "sales.csv"
    with sales_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["Order ID", "Order Date", "Customer", "Region", "Category", "Card Type", "Amount", "Quantity"]
        )
        for r in SALES:
            writer.writerow(
                [
                    r["order_id"],
                    r["date"].strftime("%d/%m/%Y"),
                    r["customer"],
                    r["region"],
                    r["category"],
                    r["card"],
                    f"RM {r['amount']:,.2f}",
                    r["quantity"],
                ]
            )
    customers_csv = root / "customers.csv"
    with customers_csv.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Customer", "Segment"])
        writer.writerows(CUSTOMERS)
    options = IngestOptions(limits=IngestLimits(max_columns=100, max_tables=10, junk_tolerance=0.02))
    con = duckdb.connect()
    tables = []
    for alias, (name, source) in enumerate((("sales", sales_csv), ("customers", customers_csv)), start=1):
        target = root / f"{name}.duckdb"
        result = ingest_file(source, target, options)
        con.execute(f"ATTACH '{target}' AS f{alias} (READ_ONLY)")
        stored = result.tables[0]
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM f{alias}.main."{stored.name}"')
        tables.append(
            CatalogTable(
                name,
                f"d{alias}",
                stored.name,
                uuid.uuid4(),
                name,
                1,
                stored.row_count,
                _columns(stored.columns),
            )
        )
    yield Engine(Catalog(tuple(tables), ()), con)
    con.close()


def _total(rows: list[dict[str, Any]]) -> float:
    return sum(r["amount"] for r in rows)


def _where(**conditions: Callable[[Any], bool]) -> list[dict[str, Any]]:
    return [r for r in SALES if all(test(r[key]) for key, test in conditions.items())]


def _in_year(year: int) -> Callable[[dt.date], bool]:
    return lambda d: d.year == year


def _by(key: str) -> dict[Any, float]:
    totals: dict[Any, float] = defaultdict(float)
    for r in SALES:
        totals[r[key]] += r["amount"]
    return totals


SCALARS: list[tuple[str, float]] = [
    ("how much did we sell in total?", _total(SALES)),
    ("What were total sales in 2023?", _total(_where(date=_in_year(2023)))),
    ("revenue in Q1 2024", _total(_where(date=lambda d: d.year == 2024 and d.month <= 3))),
    (
        "what was the average order value between March and June 2024?",
        statistics.mean(r["amount"] for r in _where(date=lambda d: d.year == 2024 and 3 <= d.month <= 6)),
    ),
    ("how many orders were paid with Visa cards?", len(_where(card=lambda c: c == "Visa"))),
    (
        "how many distinct customers bought Electronics?",
        len({r["customer"] for r in _where(category=lambda c: c == "Electronics")}),
    ),
    ("what's the median amount?", statistics.median(r["amount"] for r in SALES)),
    ("smallest order amount", min(r["amount"] for r in SALES)),
    ("what is the largest quantity ordered?", max(r["quantity"] for r in SALES)),
    ("how many orders had a quantity above 5?", len(_where(quantity=lambda q: q > 5))),
    (
        "what share of sales came from Europe?",
        100 * _total(_where(region=lambda x: x == "Europe")) / _total(SALES),
    ),
    (
        "total amount for Asia excluding Toys",
        _total(_where(region=lambda x: x == "Asia", category=lambda c: c != "Toys")),
    ),
    (
        "average quantity in Africa in 2022",
        statistics.mean(r["quantity"] for r in _where(region=lambda x: x == "Africa", date=_in_year(2022))),
    ),
]


@pytest.mark.parametrize(("question", "expected"), SCALARS, ids=[q for q, _ in SCALARS])
def test_scalar_questions(engine: Engine, question: str, expected: float) -> None:
    rows = engine.ask(question)
    assert len(rows) == 1
    assert float(rows[0][-1]) == pytest.approx(expected, rel=1e-9)


def test_group_by(engine: Engine) -> None:
    rows = engine.ask("total sales by region")
    assert {r[0]: float(r[1]) for r in rows} == pytest.approx(dict(_by("region")))
    assert [r[0] for r in rows] == sorted(_by("region"), key=lambda k: -_by("region")[k])


def test_top_n(engine: Engine) -> None:
    totals = _by("customer")
    expected = sorted(totals.items(), key=lambda kv: -kv[1])[:5]
    rows = engine.ask("top 5 customers by revenue")
    assert [(r[0], pytest.approx(float(r[1]))) for r in rows] == expected


def test_which_region_sold_the_most(engine: Engine) -> None:
    totals = _by("region")
    rows = engine.ask("which region sold the most?")
    assert rows[0][0] == max(totals, key=lambda k: totals[k]) and len(rows) == 1


def test_per_month(engine: Engine) -> None:
    expected: dict[dt.date, float] = defaultdict(float)
    for r in _where(date=_in_year(2024)):
        expected[r["date"].replace(day=1)] += r["amount"]
    rows = engine.ask("sales per month in 2024")
    assert [r[0] for r in rows] == sorted(expected)
    assert [float(r[1]) for r in rows] == pytest.approx([expected[k] for k in sorted(expected)])


def test_compare_years(engine: Engine) -> None:
    rows = engine.ask("compare sales in 2023 and 2024")
    first, second = _total(_where(date=_in_year(2023))), _total(_where(date=_in_year(2024)))
    assert [float(v) for v in rows[0][:3]] == pytest.approx([first, second, second - first])


def test_last_three_months_counts_back_from_the_latest_date(engine: Engine) -> None:
    latest = max(r["date"] for r in SALES)
    start = dt.date(latest.year, latest.month, 1)
    for _ in range(2):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    parsed = engine.parser.parse("sales in the last 3 months")
    assert parsed.notes and latest.isoformat() in parsed.notes[0]
    rows = engine.ask("sales in the last 3 months")
    assert float(rows[0][0]) == pytest.approx(_total(_where(date=lambda d: start <= d <= latest)))


def test_month_over_month_growth(engine: Engine) -> None:
    monthly: dict[dt.date, float] = defaultdict(float)
    for r in SALES:
        monthly[r["date"].replace(day=1)] += r["amount"]
    months = sorted(monthly)
    rows = engine.ask("month over month growth of sales")
    assert len(rows) == len(months)
    last, before = monthly[months[-1]], monthly[months[-2]]
    assert float(rows[-1][-1]) == pytest.approx(100 * (last / before - 1))


def test_missing_customers_and_their_amount(engine: Engine) -> None:
    known = {c for c, _ in CUSTOMERS}
    missing = [r for r in SALES if r["customer"] not in known]
    rows = engine.ask("which customers in sales are missing from customers, and what is their total amount?")
    assert sorted(r[0] for r in rows) == sorted({r["customer"] for r in missing})
    assert float(rows[0][-1]) == pytest.approx(_total(missing))
    summary = engine.ask("how many customers in sales are not in customers?")
    assert summary[0][0] == len({r["customer"] for r in missing})


def test_join_through_a_shared_key(engine: Engine) -> None:
    segment = dict(CUSTOMERS)
    expected: Counter[str] = Counter()
    for r in SALES:
        if r["customer"] in segment:
            expected[segment[r["customer"]]] += r["amount"]  # type: ignore[assignment]
    rows = engine.ask("total sales by segment")
    assert {r[0]: float(r[1]) for r in rows} == pytest.approx(dict(expected))


@pytest.mark.parametrize(
    "question",
    ["what is the weather like on Mars?", "xyzzy plugh", "give me the flux capacitor readings"],
)
def test_questions_it_cannot_place_are_not_guessed(engine: Engine, question: str) -> None:
    parsed = engine.parser.parse(question)
    assert parsed.spec is None
    assert parsed.unresolved


def test_tables_join_on_values_that_overlap_when_names_differ(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    root = tmp_path_factory.mktemp("overlap")
    orders = root / "orders.csv"
    orders.write_text("client,amount\n" + "".join(f"K{i % 40:02d},{i}\n" for i in range(200)))
    accounts = root / "accounts.csv"
    accounts.write_text(
        "account_code,tier\n" + "".join(f"K{i:02d},{'gold' if i < 10 else 'basic'}\n" for i in range(40))
    )
    options = IngestOptions(limits=IngestLimits(max_columns=10, max_tables=2, junk_tolerance=0.02))
    con = duckdb.connect()
    tables = []
    for alias, (name, source) in enumerate((("orders", orders), ("accounts", accounts)), start=1):
        target = root / f"{name}.duckdb"
        stored = ingest_file(source, target, options).tables[0]
        con.execute(f"ATTACH '{target}' AS f{alias} (READ_ONLY)")
        con.execute(f'CREATE VIEW "{name}" AS SELECT * FROM f{alias}.main."{stored.name}"')
        tables.append(
            CatalogTable(
                name,
                f"d{alias}",
                stored.name,
                uuid.uuid4(),
                name,
                1,
                stored.row_count,
                _columns(stored.columns),
            )
        )
    engine = Engine(Catalog(tuple(tables), ()), con)
    rows = engine.ask("total amount by tier")
    expected = {
        "gold": sum(i for i in range(200) if i % 40 < 10),
        "basic": sum(i for i in range(200) if i % 40 >= 10),
    }
    assert {r[0]: float(r[1]) for r in rows} == expected
