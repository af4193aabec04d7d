"""The SQL validator: what it accepts, how it rewrites names, and each rule that refuses."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from sqlglot import exp

from nexus.query.catalog import Catalog, CatalogTable, Column
from nexus.query.validate import SQLRejected, ValidatedSQL, validate_sql


def _table(name: str, alias: str, columns: list[str], *, table: str | None = None) -> CatalogTable:
    return CatalogTable(
        name=name,
        alias=alias,
        table=table or name,
        dataset_id=uuid.uuid5(uuid.NAMESPACE_DNS, alias),
        dataset_name=f"dataset {alias}",
        version=1,
        row_count=10,
        columns=tuple(Column(column, column, "text", "text") for column in columns),
    )


CATALOG = Catalog(
    tables=(
        _table(
            "sales",
            "d1",
            ["id", "region", "amount", "Total_Amount", "order_date", "customer_id", "tags", "meta"],
        ),
        _table("customers", "d2", ["id", "name", "region"]),
        # Renamed because two datasets both had an `orders` table.
        _table("shop_orders", "d2", ["id", "placed_on"], table="orders"),
    ),
    attachments=(("d1", Path("/data/one.duckdb")), ("d2", Path("/data/two.duckdb"))),
)


def validate(sql: str) -> ValidatedSQL:
    return validate_sql(sql, CATALOG, max_chars=20_000)


def rejected(sql: str, *, max_chars: int = 20_000) -> SQLRejected:
    with pytest.raises(SQLRejected) as caught:
        validate_sql(sql, CATALOG, max_chars=max_chars)
    assert caught.value.status == 422
    assert caught.value.type_slug == "sql-rejected"
    return caught.value


VALID = [
    "SELECT region, sum(amount) AS total FROM sales GROUP BY region ORDER BY total DESC",
    "SELECT * FROM sales s WHERE amount > (SELECT avg(amount) FROM sales s2 WHERE s2.region = s.region)",
    "SELECT * FROM sales WHERE EXISTS (SELECT 1 FROM customers c WHERE c.id = sales.customer_id)",
    "SELECT s.id, c.name FROM sales AS s JOIN customers AS c ON s.customer_id = c.id",
    "SELECT * FROM sales JOIN customers USING (id)",
    "SELECT amount, row_number() OVER (PARTITION BY region ORDER BY amount) AS rn FROM sales QUALIFY rn = 1",
    "SELECT region, sum(amount) FROM sales GROUP BY ALL ORDER BY ALL",
    "SELECT * EXCLUDE (amount, tags) FROM sales",
    "SELECT * REPLACE (amount * 2 AS amount) FROM sales",
    "SELECT date_trunc('month', order_date) AS month, strftime(order_date, '%Y') FROM sales",
    "SELECT extract(year FROM order_date), date_part('dow', order_date) FROM sales",
    "SELECT CASE WHEN amount > 10 THEN 'big' ELSE 'small' END AS size FROM sales",
    "SELECT CAST(amount AS INTEGER), amount::DOUBLE, TRY_CAST(region AS INTEGER) FROM sales",
    "SELECT sales.amount FROM sales",
    'SELECT Sales.Amount, "REGION" FROM SALES',
    "WITH t AS (SELECT region, sum(amount) AS total FROM sales GROUP BY 1) SELECT * FROM t WHERE total > 1",
    "WITH a AS (SELECT id FROM sales), b AS (SELECT id FROM a) SELECT b.id FROM b",
    "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 5) SELECT sum(n) FROM r",
    "WITH sales AS (SELECT 1 AS x) SELECT x FROM sales",
    "SELECT list_transform(tags, x -> upper(x)), [t || '!' FOR t IN tags IF t <> ''] FROM sales",
    "SELECT list_filter(tags, lambda t: t LIKE 'a%') FROM sales",
    "SELECT amount * 2 AS twice, twice + 1 FROM sales WHERE twice > 3",
    "SELECT region, count(*) FILTER (WHERE amount > 1) FROM sales GROUP BY 1 HAVING count(*) > 1",
    "SELECT DISTINCT ON (region) region, amount FROM sales ORDER BY region, amount DESC",
    "SELECT region FROM sales UNION SELECT region FROM customers ORDER BY region",
    "SELECT id FROM sales INTERSECT SELECT id FROM customers",
    "SELECT id FROM sales EXCEPT SELECT id FROM customers",
    "SELECT tag FROM sales, unnest(tags) AS u(tag)",
    "SELECT unnest(tags) AS tag FROM sales",
    "SELECT a FROM (VALUES (1), (2)) AS v(a)",
    "VALUES (1, 'one'), (2, 'two')",
    "SELECT * FROM sales s, LATERAL (SELECT s.amount * 2 AS twice) l WHERE l.twice > 1",
    "FROM sales SELECT region",
    "FROM sales",
    "SELECT s.region FROM (SELECT * FROM sales) AS s",
    "SELECT x.total FROM (SELECT sum(amount) AS total FROM sales) x",
    "SELECT * FROM sales PIVOT (sum(amount) FOR region IN ('north', 'south'))",
    "SELECT meta.kind, sales.meta.kind FROM sales",
    "SELECT sales FROM sales",
    "SELECT COLUMNS('reg.*') FROM sales",
    "SELECT rowid FROM sales",
    "SELECT p.placed_on FROM shop_orders p",
    "SELECT current_date, now(), INTERVAL 1 DAY, 'a;b' AS semicolon",
    "SELECT count(*) FROM sales a, sales b, sales c",
    "(SELECT 1) UNION ALL (SELECT 2)",
    "SELECT 1;",
    "SELECT 1; -- done",
]


class TestAccepts:
    @pytest.mark.parametrize("sql", VALID)
    def test_valid_queries_pass(self, sql: str) -> None:
        validated = validate(sql)
        assert validated.executable


class TestRewrite:
    def test_catalog_tables_point_at_storage_under_the_friendly_name(self) -> None:
        validated = validate("SELECT sales.amount FROM sales")
        assert validated.executable == 'SELECT sales.amount FROM "d1"."main"."sales" AS "sales"'
        assert validated.sql == "SELECT sales.amount FROM sales"
        assert validated.tables == ("sales",)

    def test_the_callers_alias_is_kept(self) -> None:
        validated = validate("SELECT s.id FROM sales s JOIN shop_orders o ON o.id = s.id")
        assert validated.executable == (
            'SELECT s.id FROM "d1"."main"."sales" AS s JOIN "d2"."main"."orders" AS o ON o.id = s.id'
        )
        assert validated.tables == ("sales", "shop_orders")

    def test_a_renamed_table_keeps_the_name_the_query_uses(self) -> None:
        validated = validate("SELECT shop_orders.placed_on FROM shop_orders")
        assert 'FROM "d2"."main"."orders" AS "shop_orders"' in validated.executable

    def test_every_reference_is_rewritten_and_ctes_are_not(self) -> None:
        validated = validate(
            "WITH customers AS (SELECT id FROM sales) "
            "SELECT * FROM customers WHERE id IN (SELECT id FROM sales)"
        )
        assert validated.executable.count('"d1"."main"."sales"') == 2
        assert "d2" not in validated.executable
        assert validated.tables == ("sales",)

    def test_the_friendly_expression_is_left_untouched(self) -> None:
        validated = validate("SELECT amount FROM sales")
        assert isinstance(validated.expression, exp.Select)
        assert validated.expression.sql(dialect="duckdb") == "SELECT amount FROM sales"

    def test_comments_do_not_reach_what_runs(self) -> None:
        validated = validate("SELECT amount -- the money */ ; DROP TABLE sales\nFROM sales")
        assert "DROP" not in validated.executable and "/*" not in validated.executable

    def test_lambdas_come_out_in_the_syntax_duckdb_accepts(self) -> None:
        assert (
            "LAMBDA x : UPPER(x)"
            in validate("SELECT list_transform(tags, x -> upper(x)) FROM sales").executable
        )


class TestRules:
    def test_too_long(self) -> None:
        error = rejected("SELECT 1" + " " * 200, max_chars=100)
        assert error.extra["rule"] == "too-long"
        assert "NEXUS_MAX_SQL_CHARS" in error.detail

    @pytest.mark.parametrize("sql", ["", "   ", ";", ";;", "-- nothing here", "/* nor here */"])
    def test_empty(self, sql: str) -> None:
        assert rejected(sql).extra["rule"] == "empty"

    @pytest.mark.parametrize("sql", ["SELECT FROM WHERE (", "SELECT 'unclosed", "SELECT (1", "SELECT 1 +"])
    def test_parse_errors_are_friendly(self, sql: str) -> None:
        error = rejected(sql)
        assert error.extra["rule"] == "parse-error"
        assert "Token" not in error.detail and "\x1b" not in error.detail

    def test_a_parse_error_says_where(self) -> None:
        assert "line 1, column 17" in rejected("SELECT FROM WHERE (").detail

    @pytest.mark.parametrize(
        "sql",
        [
            "SELECT 1; SELECT 2",
            "SELECT 1 -- a comment\n; DROP TABLE sales",
            "SELECT 1 /* ; */ ; SELECT 2",
            "SELECT ';' AS a; SELECT 2",
        ],
    )
    def test_multiple_statements(self, sql: str) -> None:
        error = rejected(sql)
        assert error.extra["rule"] == "multiple-statements"
        assert "exactly one" in error.detail

    @pytest.mark.parametrize(
        ("sql", "word"),
        [
            ("DROP TABLE sales", "DROP"),
            ("PIVOT sales ON region USING sum(amount)", "PIVOT"),
            ("DESCRIBE sales", "DESCRIBE"),
            ("EXPLAIN SELECT 1", "EXPLAIN"),
        ],
    )
    def test_not_a_query(self, sql: str, word: str) -> None:
        error = rejected(sql)
        assert error.extra["rule"] == "not-a-query"
        assert f"`{word}`" in error.detail

    @pytest.mark.parametrize(
        "sql",
        [
            "SELECT * FROM (DESCRIBE sales)",
            "WITH x AS (SELECT 1) INSERT INTO sales SELECT * FROM x",
            "(SELECT 1) UNION (DELETE FROM sales)",
        ],
    )
    def test_statements_inside_a_query(self, sql: str) -> None:
        assert rejected(sql).extra["rule"] in {"forbidden-statement", "not-a-query", "parse-error"}

    def test_a_table_function_is_named(self) -> None:
        error = rejected("SELECT * FROM sales JOIN read_csv('x.csv') r ON true")
        assert (error.extra["rule"], error.extra["function"]) == ("table-function", "read_csv")

    def test_a_forbidden_function_is_named(self) -> None:
        error = rejected("SELECT upper(getenv('HOME')) FROM sales")
        assert (error.extra["rule"], error.extra["function"]) == ("forbidden-function", "getenv")

    @pytest.mark.parametrize("sql", ["SELECT range(10)", "SELECT unnest(generate_series(1, 10))"])
    def test_unbounded_generators_are_refused(self, sql: str) -> None:
        error = rejected(sql)
        assert error.extra["rule"] == "forbidden-function"
        assert "any size" in error.detail


class TestUnknownNames:
    def test_an_unknown_table_gets_suggestions_and_the_list(self) -> None:
        error = rejected("SELECT * FROM sale")
        assert error.extra["rule"] == "unknown-table"
        assert error.extra["suggestions"] == ["sales"]
        assert error.extra["available_tables"] == ["sales", "customers", "shop_orders"]
        assert "did you mean `sales`?" in error.detail

    @pytest.mark.parametrize(
        "sql",
        [
            "SELECT * FROM d1.main.sales",
            'SELECT * FROM "d1"."main"."sales"',
            "SELECT * FROM main.sales",
            "SELECT * FROM information_schema.tables",
            "SELECT * FROM system.main.duckdb_settings",
        ],
    )
    def test_qualified_names_are_no_such_table(self, sql: str) -> None:
        error = rejected(sql)
        assert error.extra["rule"] == "unknown-table"
        assert error.extra["suggestions"] == []

    def test_a_cte_is_only_visible_after_its_definition(self) -> None:
        error = rejected("WITH a AS (SELECT * FROM b), b AS (SELECT 1 AS x) SELECT * FROM a")
        assert error.extra["rule"] == "unknown-table"

    def test_a_cte_is_not_visible_outside_its_query(self) -> None:
        error = rejected("SELECT * FROM (WITH x AS (SELECT 1 AS y) SELECT * FROM x) AS inner_x, x")
        assert error.extra["rule"] == "unknown-table"

    def test_an_unknown_column_gets_the_closest_real_name(self) -> None:
        error = rejected("SELECT total_amt FROM sales")
        assert error.detail == "No column `total_amt` in the tables you named; did you mean `Total_Amount`?"
        assert (error.extra["rule"], error.extra["suggestions"]) == ("unknown-column", ["Total_Amount"])

    def test_a_qualified_unknown_column_names_its_table(self) -> None:
        error = rejected("SELECT c.amount FROM sales s JOIN customers c ON s.id = c.id")
        assert error.extra["rule"] == "unknown-column"
        assert "`c`" in error.detail

    def test_with_nothing_close_the_columns_are_listed(self) -> None:
        error = rejected("SELECT zzz FROM customers")
        assert error.extra["suggestions"] == []
        assert "customers: id, name, region" in error.detail

    def test_columns_of_a_subquery_are_known(self) -> None:
        error = rejected("SELECT s.amount FROM (SELECT region FROM sales) s")
        assert error.extra["rule"] == "unknown-column"

    def test_an_unknown_qualifier(self) -> None:
        error = rejected("SELECT x.amount FROM sales")
        assert error.extra["rule"] == "unknown-table"
        assert "`x`" in error.detail

    def test_a_column_of_an_aliased_table_needs_the_alias(self) -> None:
        assert rejected("SELECT sales.amount FROM sales s").extra["rule"] == "unknown-table"
