"""Migrations: they build exactly the models' schema, and go down again, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from nexus.db import Base, make_engine
from nexus.migrate import alembic_config, current_revisions, head_revisions, is_current, upgrade
from nexus.models import load_all_models


class TestMigrations:
    def test_upgrade_matches_models(self, database_url: str) -> None:
        engine = make_engine(database_url)
        upgrade(engine)
        load_all_models()
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        engine.dispose()
        assert diff == [], f"models and migrations differ: {diff}"

    def test_upgrade_is_idempotent_and_current(self, database_url: str) -> None:
        engine = make_engine(database_url)
        assert not is_current(engine)
        upgrade(engine)
        upgrade(engine)
        assert current_revisions(engine) == head_revisions()
        assert is_current(engine)
        engine.dispose()

    def test_downgrade_to_base(self, database_url: str) -> None:
        engine = make_engine(database_url)
        upgrade(engine)
        command.downgrade(alembic_config(engine), "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()

    def test_every_migration_ships_in_the_package(self) -> None:
        assert head_revisions(), "no migration found inside the package"

    @pytest.mark.parametrize("table", ["users", "refresh_tokens", "audit_events"])
    def test_tables_exist(self, database_url: str, table: str) -> None:
        engine = make_engine(database_url)
        upgrade(engine)
        assert table in inspect(engine).get_table_names()
        engine.dispose()
