"""Running validated SQL: results, the row cap, limits, errors and the sealed connection.

``make_catalog`` builds the two small datasets every query test uses (real DuckDB files, one per
dataset, attached as ``d1`` and ``d2``); the SQL tests import it from here.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from nexus.config import QuerySettings
from nexus.errors import QueryTimeout
from nexus.query.catalog import Catalog, CatalogTable, Column
from nexus.query.executor import execute
from nexus.query.validate import SQLRejected, validate_sql

SALES_SQL = """
CREATE TABLE sales (id INTEGER, region VARCHAR, amount DECIMAL(10, 2), Total_Amount DOUBLE,
                    order_date DATE, customer_id INTEGER, tags VARCHAR[]);
INSERT INTO sales VALUES
  (1, 'north', 10.00, 11.0, DATE '2024-01-05', 1, ['a', 'b']),
  (2, 'north', 20.00, 22.0, DATE '2024-01-20', 2, ['b']),
  (3, 'south',  5.00,  5.5, DATE '2024-02-02', 1, []),
  (4, 'east',  40.00, 44.0, DATE '2024-02-14', 3, ['a']),
  (5, 'south', 15.00, 16.5, DATE '2024-03-01', 2, NULL),
  (6, 'east',  10.00, 11.0, DATE '2024-03-09', 3, ['c']);
CREATE TABLE numbers AS SELECT range AS n FROM range(1000000);
"""
CUSTOMERS_SQL = """
CREATE TABLE customers (id INTEGER, name VARCHAR, region VARCHAR);
INSERT INTO customers VALUES (1, 'Ada', 'north'), (2, 'Bo', 'south'), (3, 'Cy', 'east');
"""
# Another user's dataset: on disk beside the others, never in this catalog.
PAYROLL_SQL = "CREATE TABLE payroll (name VARCHAR, salary INTEGER); INSERT INTO payroll VALUES ('Ada', 1);"

COLUMNS = {
    "sales": [
        ("id", "integer"),
        ("region", "text"),
        ("amount", "number"),
        ("Total_Amount", "number"),
        ("order_date", "date"),
        ("customer_id", "integer"),
        ("tags", "text"),
    ],
    "numbers": [("n", "integer")],
    "customers": [("id", "integer"), ("name", "text"), ("region", "text")],
}


def _write(path: Path, sql: str) -> Path:
    connection = duckdb.connect(str(path))
    try:
        connection.execute(sql)
    finally:
        connection.close()
    return path


def _table(name: str, alias: str, rows: int) -> CatalogTable:
    return CatalogTable(
        name=name,
        alias=alias,
        table=name,
        dataset_id=uuid.uuid5(uuid.NAMESPACE_DNS, alias),
        dataset_name=f"dataset {alias}",
        version=1,
        row_count=rows,
        columns=tuple(Column(column, column.replace("_", " "), kind, kind) for column, kind in COLUMNS[name]),
    )


def make_catalog(directory: Path) -> Catalog:
    """Write the datasets under ``directory`` and return the catalog of a query naming two of them."""
    datasets = directory / "datasets"
    datasets.mkdir(parents=True)
    first = _write(datasets / "first.duckdb", SALES_SQL)
    second = _write(datasets / "second.duckdb", CUSTOMERS_SQL)
    _write(datasets / "someone-elses.duckdb", PAYROLL_SQL)
    return Catalog(
        tables=(_table("sales", "d1", 6), _table("numbers", "d1", 1_000_000), _table("customers", "d2", 3)),
        attachments=(("d1", first), ("d2", second)),
    )


def run(sql: str, catalog: Catalog, settings: QuerySettings) -> list[list[object]]:
    """Validate and execute, returning the rows."""
    validated = validate_sql(sql, catalog, max_chars=settings.max_sql_chars)
    return execute(catalog, validated.executable, settings).rows


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return make_catalog(tmp_path_factory.mktemp("query-data"))


@pytest.fixture
def settings() -> QuerySettings:
    return QuerySettings(query_timeout_s=10, max_result_rows=1000, query_memory_mb=256, query_threads=2)


class TestResults:
    @pytest.mark.parametrize(
        ("sql", "expected"),
        [
            (
                "SELECT region, sum(amount) AS total FROM sales GROUP BY region ORDER BY total DESC",
                [["east", 50.0], ["north", 30.0], ["south", 20.0]],
            ),
            (
                "SELECT s.id FROM sales s WHERE amount > "
                "(SELECT avg(amount) FROM sales s2 WHERE s2.region = s.region) ORDER BY 1",
                [[2], [4], [5]],
            ),
            (
                "SELECT id FROM sales QUALIFY rank() OVER (PARTITION BY region ORDER BY amount DESC) = 1 "
                "ORDER BY id",
                [[2], [4], [5]],
            ),
            (
                "SELECT region, count(*) FROM sales GROUP BY ALL ORDER BY ALL",
                [["east", 2], ["north", 2], ["south", 2]],
            ),
            (
                "SELECT date_trunc('month', order_date) AS m, sum(amount) FROM sales GROUP BY m ORDER BY m",
                [["2024-01-01T00:00:00", 30.0], ["2024-02-01T00:00:00", 45.0], ["2024-03-01T00:00:00", 25.0]],
            ),
            (
                "SELECT strftime(order_date, '%Y-%m'), extract(year FROM order_date) FROM sales WHERE id = 1",
                [["2024-01", 2024]],
            ),
            (
                "SELECT CASE WHEN amount >= 20 THEN 'big' ELSE 'small' END AS size, count(*) FROM sales "
                "GROUP BY size ORDER BY size",
                [["big", 2], ["small", 4]],
            ),
            ("SELECT CAST(amount AS INTEGER) + 1, amount::VARCHAR FROM sales WHERE id = 3", [[6, "5.00"]]),
            (
                "SELECT * EXCLUDE (tags, order_date, Total_Amount) FROM sales WHERE id = 1",
                [[1, "north", 10.0, 1]],
            ),
            ("SELECT sales.amount FROM sales WHERE sales.id = 4", [[40.0]]),
            (
                "SELECT c.name, sum(s.amount) FROM sales s JOIN customers c ON s.customer_id = c.id "
                "GROUP BY c.name ORDER BY 2 DESC",
                [["Cy", 50.0], ["Bo", 35.0], ["Ada", 15.0]],
            ),
            ("SELECT count(*) FROM sales JOIN customers USING (region)", [[6]]),
            (
                "WITH t AS (SELECT region, sum(amount) AS total FROM sales GROUP BY region) "
                "SELECT region FROM t WHERE total > 25 ORDER BY region",
                [["east"], ["north"]],
            ),
            (
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 4) "
                "SELECT sum(n) FROM r",
                [[10]],
            ),
            ("SELECT list_transform(tags, x -> upper(x)) FROM sales WHERE id = 1", [[["A", "B"]]]),
            ("SELECT amount * 2 AS twice FROM sales WHERE twice > 50", [[80.0]]),
            ("FROM sales SELECT max(order_date)", [["2024-03-09"]]),
            ("SELECT count(*) FROM sales a, sales b", [[36]]),
        ],
    )
    def test_valid_queries_give_the_right_numbers(
        self, sql: str, expected: list[list[object]], catalog: Catalog, settings: QuerySettings
    ) -> None:
        assert run(sql, catalog, settings) == expected

    def test_columns_carry_names_and_duckdb_types(self, catalog: Catalog, settings: QuerySettings) -> None:
        validated = validate_sql(
            "SELECT region, sum(id) AS ids, avg(amount) FROM sales GROUP BY 1", catalog, max_chars=1000
        )
        result = execute(catalog, validated.executable, settings)
        assert result.columns == [
            {"name": "region", "type": "VARCHAR"},
            {"name": "ids", "type": "HUGEINT"},
            {"name": "avg(amount)", "type": "DOUBLE"},
        ]
        assert set(result.timings) == {"connect_ms", "execute_ms", "fetch_ms"}
        assert all(value >= 0 for value in result.timings.values())

    def test_values_are_json_safe(self, catalog: Catalog, settings: QuerySettings) -> None:
        sql = (
            "SELECT sum(id) AS big, amount, order_date, tags, {'a': 1, 'b': [1, 2]} AS s, "
            "INTERVAL 1 DAY + INTERVAL 30 MINUTE AS i, 'ab'::BLOB AS b, '101'::BIT AS bits, "
            "MAP {'k': 1} AS m, 'nan'::DOUBLE AS nan, TIMESTAMP '2024-01-02 03:04:05' AS ts "
            "FROM sales WHERE id = 1 GROUP BY ALL"
        )
        (row,) = run(sql, catalog, settings)
        assert row == [
            1,
            10.0,
            "2024-01-05",
            ["a", "b"],
            {"a": 1, "b": [1, 2]},
            88_200.0,
            "6162",
            "101",
            [["k", 1]],
            None,
            "2024-01-02T03:04:05",
        ]
        json.dumps(row, allow_nan=False)

    def test_an_empty_result_still_has_its_columns(self, catalog: Catalog, settings: QuerySettings) -> None:
        validated = validate_sql("SELECT id FROM sales WHERE false", catalog, max_chars=1000)
        result = execute(catalog, validated.executable, settings)
        assert (result.columns, result.rows, result.row_count, result.truncated) == (
            [{"name": "id", "type": "INTEGER"}],
            [],
            0,
            False,
        )


class TestRowCap:
    def test_rows_are_capped_and_the_true_count_reported(self, catalog: Catalog) -> None:
        settings = QuerySettings(max_result_rows=100)
        validated = validate_sql("SELECT n FROM numbers ORDER BY n", catalog, max_chars=1000)
        result = execute(catalog, validated.executable, settings)
        assert result.rows == [[n] for n in range(100)]
        assert (result.row_count, result.truncated) == (1_000_000, True)

    def test_a_result_of_exactly_the_cap_is_not_truncated(self, catalog: Catalog) -> None:
        settings = QuerySettings(max_result_rows=100)
        validated = validate_sql("SELECT n FROM numbers WHERE n < 100", catalog, max_chars=1000)
        result = execute(catalog, validated.executable, settings)
        assert (len(result.rows), result.row_count, result.truncated) == (100, 100, False)


class TestLimits:
    def test_a_runaway_query_is_stopped_at_the_time_limit(self, catalog: Catalog) -> None:
        settings = QuerySettings(query_timeout_s=0.5)
        started = time.monotonic()
        with pytest.raises(QueryTimeout) as caught:
            run(
                "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
                catalog,
                settings,
            )
        assert time.monotonic() - started < 5
        assert caught.value.status == 504
        assert "0.5 s" in caught.value.detail and "NEXUS_QUERY_TIMEOUT_S" in caught.value.detail

    def test_the_time_limit_covers_counting_the_rows_left_out(self, catalog: Catalog) -> None:
        settings = QuerySettings(query_timeout_s=0.5, max_result_rows=10)
        started = time.monotonic()
        with pytest.raises(QueryTimeout):
            run("SELECT a.n FROM numbers a, numbers b", catalog, settings)
        assert time.monotonic() - started < 5

    def test_running_out_of_memory_names_the_setting(self, catalog: Catalog) -> None:
        settings = QuerySettings(query_memory_mb=64)
        with pytest.raises(SQLRejected) as caught:
            run("SELECT string_agg(n::VARCHAR, ',' ORDER BY n DESC) FROM numbers", catalog, settings)
        assert caught.value.extra["rule"] == "execution-error"
        assert "NEXUS_QUERY_MEMORY_MB" in caught.value.detail and "64 MB" in caught.value.detail


class TestErrors:
    def test_a_duckdb_error_is_a_422_with_its_first_line(
        self, catalog: Catalog, settings: QuerySettings
    ) -> None:
        with pytest.raises(SQLRejected) as caught:
            run("SELECT amount / 'x' FROM sales", catalog, settings)
        assert caught.value.status == 422
        assert caught.value.extra["rule"] == "execution-error"
        assert caught.value.detail == "Conversion Error: Could not convert string 'x' to DOUBLE"

    def test_an_error_part_way_through_the_rows_is_reported(self, catalog: Catalog) -> None:
        settings = QuerySettings(max_result_rows=10)
        with pytest.raises(SQLRejected) as caught:
            run("SELECT CASE WHEN n = 900000 THEN error('boom') ELSE n END FROM numbers", catalog, settings)
        assert caught.value.detail == "Invalid Input Error: boom"

    def test_messages_use_the_callers_names_and_no_paths(
        self, catalog: Catalog, settings: QuerySettings
    ) -> None:
        data_dir = catalog.attachments[0][1].parent
        with pytest.raises(SQLRejected) as caught:
            run(f"SELECT CAST('{data_dir}/secret.csv' AS INTEGER)", catalog, settings)
        assert str(data_dir) not in caught.value.detail
        assert "<data>" in caught.value.detail
        with pytest.raises(SQLRejected) as caught:
            execute(catalog, 'SELECT nope FROM "d1"."main"."sales"', settings)
        assert "d1" not in caught.value.detail


class TestSealedConnection:
    """What the connection refuses even when SQL skips the validator (the second wall)."""

    @pytest.mark.parametrize(
        "sql",
        [
            "SELECT * FROM read_csv('/etc/passwd')",
            "SELECT * FROM '/etc/hostname'",
            "COPY (SELECT 1) TO 'copied.csv'",
            "ATTACH '{data}/someone-elses.duckdb' AS other",
            "SELECT * FROM read_blob('{data}/first.duckdb')",
            "COPY (SELECT 1) TO '{data}/first.duckdb' (USE_TMP_FILE false)",
            "COPY (SELECT 1) TO '{data}/first.duckdb.wal' (USE_TMP_FILE false)",
            "SET enable_external_access = true",
            "INSTALL httpfs",
            "LOAD httpfs",
            "CREATE TABLE d1.main.extra AS SELECT 1",
            "INSERT INTO d1.main.sales (id) VALUES (7)",
        ],
    )
    def test_the_connection_refuses_reaching_out_and_writing(
        self,
        sql: str,
        catalog: Catalog,
        settings: QuerySettings,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.chdir(tmp_path)
        data_dir = catalog.attachments[0][1].parent
        with pytest.raises(SQLRejected) as caught:
            execute(catalog, sql.format(data=data_dir), settings)
        assert caught.value.extra["rule"] == "execution-error"
        assert list(tmp_path.iterdir()) == []
        assert sorted(path.name for path in data_dir.iterdir()) == [
            "first.duckdb",
            "second.duckdb",
            "someone-elses.duckdb",
        ]
        assert run("SELECT count(*) FROM sales", catalog, settings) == [[6]]

    def test_a_connection_that_failed_or_timed_out_is_closed(
        self, catalog: Catalog, settings: QuerySettings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from nexus.query import executor

        executor._POOL.clear()
        opened: list[duckdb.DuckDBPyConnection] = []
        connect = duckdb.connect

        def spy(*args: Any, **kwargs: Any) -> duckdb.DuckDBPyConnection:
            opened.append(connect(*args, **kwargs))
            return opened[-1]

        monkeypatch.setattr(duckdb, "connect", spy)
        run("SELECT count(*) FROM sales", catalog, settings)  # kept for reuse
        with pytest.raises(SQLRejected):
            run("SELECT amount / 'x' FROM sales", catalog, settings)  # reuses it, then closes it
        with pytest.raises(QueryTimeout):
            run(
                "SELECT count(*) FROM numbers a, numbers b, numbers c",
                catalog,
                QuerySettings(query_timeout_s=0.3),
            )
        assert len(opened) == 2
        for connection in opened:
            with pytest.raises(duckdb.ConnectionException):
                connection.execute("SELECT 1")
        assert not executor._POOL._idle
