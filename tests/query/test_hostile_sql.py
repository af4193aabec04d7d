"""Hostile SQL, through the validator and the executor as a caller's SQL goes.

Every case must end in a clear 4xx (or the 504 of the time limit) with a rule saying why, and leave
no file behind: each case runs in an empty working directory that must stay empty, and the
dataset files must be byte-for-byte what they were.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from nexus.config import QuerySettings
from nexus.errors import NexusError
from nexus.query.catalog import Catalog
from nexus.query.executor import execute
from nexus.query.validate import validate_sql
from tests.query.test_executor import make_catalog

# (SQL, expected status, expected rule); {data} is the datasets directory, {cwd} the working one.
HOSTILE: list[tuple[str, int, str]] = [
    # Reading files and the network
    ("SELECT * FROM read_csv('/etc/passwd')", 422, "table-function"),
    ("SELECT * FROM read_csv_auto('{data}/first.duckdb')", 422, "table-function"),
    ("SELECT * FROM read_text('/etc/passwd')", 422, "table-function"),
    ("SELECT read_text('/etc/passwd')", 422, "forbidden-function"),
    ("SELECT content FROM read_blob('{data}/someone-elses.duckdb')", 422, "table-function"),
    ("SELECT * FROM glob('{data}/*')", 422, "table-function"),
    ("SELECT * FROM read_parquet('http://example.com/x.parquet')", 422, "table-function"),
    ("SELECT * FROM read_json('https://example.com/x.json')", 422, "table-function"),
    ("SELECT * FROM sales JOIN read_csv('/etc/passwd') p ON true", 422, "table-function"),
    ("WITH x AS (SELECT * FROM read_csv('/etc/passwd')) SELECT * FROM x", 422, "table-function"),
    ("SELECT * FROM '/etc/passwd'", 422, "unknown-table"),
    ("SELECT * FROM 'data.csv'", 422, "unknown-table"),
    ("SELECT '/etc/passwd'.read_text()", 422, "forbidden-function"),
    ("SELECT * FROM sqlite_scan('{data}/x.db', 't')", 422, "table-function"),
    ("SELECT * FROM query('SELECT * FROM d1.main.sales')", 422, "table-function"),
    # Attaching, copying, exporting
    ("ATTACH '{data}/someone-elses.duckdb' AS other", 422, "not-a-query"),
    ("DETACH d1", 422, "not-a-query"),
    ("COPY sales TO '{cwd}/out.csv'", 422, "not-a-query"),
    ("COPY (SELECT * FROM sales) TO '{data}/first.duckdb' (USE_TMP_FILE false)", 422, "not-a-query"),
    ("EXPORT DATABASE '{cwd}/exported'", 422, "not-a-query"),
    ("IMPORT DATABASE '{cwd}/exported'", 422, "not-a-query"),
    # More than one statement, some hidden by comments
    ("SELECT 1; SELECT 2", 422, "multiple-statements"),
    ("SELECT 1 -- \n; DROP TABLE sales", 422, "multiple-statements"),
    ("SELECT 1 /* a comment */ ; DELETE FROM sales", 422, "multiple-statements"),
    ("SELECT 1 /* ; */ ; DROP TABLE sales", 422, "multiple-statements"),
    ("SELECT '; DROP TABLE sales' AS x; DROP TABLE sales", 422, "multiple-statements"),
    # DDL and DML
    ("CREATE TABLE copied AS SELECT * FROM sales", 422, "not-a-query"),
    ("DROP TABLE sales", 422, "not-a-query"),
    ("INSERT INTO sales (id) VALUES (99)", 422, "not-a-query"),
    ("UPDATE sales SET amount = 0", 422, "not-a-query"),
    ("DELETE FROM sales", 422, "not-a-query"),
    ("ALTER TABLE sales ADD COLUMN x INTEGER", 422, "not-a-query"),
    ("CREATE MACRO steal(x) AS x", 422, "not-a-query"),
    ("CREATE SECRET s (TYPE S3, KEY_ID 'k', SECRET 's')", 422, "not-a-query"),
    ("SELECT * FROM (DESCRIBE sales)", 422, "forbidden-statement"),
    # Settings, extensions, the session
    ("PRAGMA database_list", 422, "not-a-query"),
    ("SET enable_external_access = true", 422, "not-a-query"),
    ("RESET lock_configuration", 422, "not-a-query"),
    ("INSTALL httpfs", 422, "not-a-query"),
    ("LOAD httpfs", 422, "not-a-query"),
    ("CALL duckdb_settings()", 422, "not-a-query"),
    ("USE d2", 422, "not-a-query"),
    ("BEGIN TRANSACTION", 422, "not-a-query"),
    ("CHECKPOINT", 422, "not-a-query"),
    ("VACUUM", 422, "not-a-query"),
    ("SELECT getenv('HOME')", 422, "forbidden-function"),
    ("SELECT current_setting('memory_limit')", 422, "forbidden-function"),
    ("SELECT json_execute_serialized_sql('{{}}')", 422, "forbidden-function"),
    ("SELECT pg_sleep(60)", 422, "forbidden-function"),
    # Storage names, system catalogs, other users' tables
    ("SELECT * FROM d1.main.sales", 422, "unknown-table"),
    ('SELECT * FROM "d2"."main"."customers"', 422, "unknown-table"),
    ("SELECT * FROM information_schema.tables", 422, "unknown-table"),
    ("SELECT * FROM duckdb_tables()", 422, "table-function"),
    ("SELECT * FROM duckdb_settings", 422, "unknown-table"),
    ("SELECT * FROM sqlite_master", 422, "unknown-table"),
    ("SELECT * FROM pg_catalog.pg_tables", 422, "unknown-table"),
    ("SELECT * FROM payroll", 422, "unknown-table"),
    ("SELECT * FROM sales WHERE id IN (SELECT id FROM payroll)", 422, "unknown-table"),
    (
        "WITH a AS (SELECT * FROM duckdb_settings), duckdb_settings AS (SELECT 1) SELECT * FROM a",
        422,
        "unknown-table",
    ),
    # Resource exhaustion
    ("SELECT len(range(1000000000))", 422, "forbidden-function"),
    ("SELECT * FROM range(1000000000000)", 422, "table-function"),
    (
        "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
        504,
        "query-timeout",
    ),
    ("SELECT count(*) FROM numbers a, numbers b, numbers c", 504, "query-timeout"),
    ("SELECT a.n, b.n FROM numbers a, numbers b", 504, "query-timeout"),
]


def _snapshot(directory: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(directory.iterdir())}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    return make_catalog(tmp_path_factory.mktemp("hostile-data"))


@pytest.mark.parametrize(("sql", "status", "rule"), HOSTILE)
def test_hostile_sql_is_refused_and_writes_nothing(
    sql: str, status: int, rule: str, catalog: Catalog, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = catalog.attachments[0][1].parent
    before = _snapshot(data_dir)
    monkeypatch.chdir(tmp_path)
    settings = QuerySettings(query_timeout_s=0.5, max_result_rows=100, query_memory_mb=256)
    with pytest.raises(NexusError) as caught:
        validated = validate_sql(
            sql.format(data=data_dir, cwd=tmp_path), catalog, max_chars=settings.max_sql_chars
        )
        execute(catalog, validated.executable, settings)
    error = caught.value
    assert (error.status, error.extra.get("rule", error.type_slug)) == (status, rule), error.detail
    assert error.detail.endswith((".", "?")) and len(error.detail) > 30
    assert list(tmp_path.iterdir()) == []
    assert _snapshot(data_dir) == before


def test_the_table_has_enough_cases() -> None:
    assert len(HOSTILE) >= 35
    assert len({sql for sql, _, _ in HOSTILE}) == len(HOSTILE)
