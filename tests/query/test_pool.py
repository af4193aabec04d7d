"""Pooled query connections: reused for the same files, never after a failure, let go on delete."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus.config import QuerySettings
from nexus.errors import QueryTimeout
from nexus.query import executor
from nexus.query.catalog import Catalog
from nexus.query.validate import SQLRejected
from tests.query.test_executor import make_catalog, run


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    executor._POOL.clear()
    return make_catalog(tmp_path)


def _idle(catalog: Catalog, settings: QuerySettings) -> int:
    return len(executor._POOL._idle.get(executor._key(catalog, settings), []))


def test_a_connection_is_reused_for_the_same_files(catalog: Catalog) -> None:
    settings = QuerySettings(_env_file=None)  # type: ignore[call-arg]
    assert run("SELECT count(*) FROM sales", catalog, settings) == [[6]]
    assert _idle(catalog, settings) == 1
    assert run("SELECT count(*) FROM customers", catalog, settings) == [[3]]
    assert _idle(catalog, settings) == 1
    other = QuerySettings(_env_file=None, query_memory_mb=128)  # type: ignore[call-arg]
    run("SELECT 1", catalog, other)
    assert _idle(catalog, other) == 1 and _idle(catalog, settings) == 1


def test_a_failed_or_interrupted_connection_is_not_kept(catalog: Catalog) -> None:
    settings = QuerySettings(_env_file=None, query_timeout_s=0.3)  # type: ignore[call-arg]
    with pytest.raises(SQLRejected):
        run("SELECT CAST('x' AS INTEGER) FROM sales", catalog, settings)
    assert _idle(catalog, settings) == 0
    with pytest.raises(QueryTimeout):
        run("SELECT count(*) FROM numbers a, numbers b", catalog, settings)
    assert _idle(catalog, settings) == 0


def test_deleting_a_dataset_closes_the_connections_holding_it(catalog: Catalog) -> None:
    settings = QuerySettings(_env_file=None)  # type: ignore[call-arg]
    run("SELECT count(*) FROM sales", catalog, settings)
    assert _idle(catalog, settings) == 1
    executor.forget([catalog.attachments[0][1]])
    assert _idle(catalog, settings) == 0


def test_the_pool_is_bounded(catalog: Catalog, tmp_path: Path) -> None:
    settings = QuerySettings(_env_file=None)  # type: ignore[call-arg]
    for threads in range(1, executor._POOL.size + 5):
        run("SELECT 1", catalog, QuerySettings(_env_file=None, query_threads=threads))  # type: ignore[call-arg]
    assert sum(len(v) for v in executor._POOL._idle.values()) == executor._POOL.size
    assert _idle(catalog, settings) == 0
