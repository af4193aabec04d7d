"""Where the graph keeps conversation memory: SQLite in the data dir, or PostgreSQL by setting.

The checkpointer follows the metadata database: with ``NEXUS_DATABASE_URL`` on PostgreSQL the
checkpoints go to the same database (LangGraph's own tables, created by ``setup()``); otherwise to
``<data dir>/graph.sqlite``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.sqlite import SqliteSaver

from nexus.config import Settings


def make_checkpointer(settings: Settings) -> BaseCheckpointSaver[Any]:
    """Return the checkpointer the settings ask for, with its tables created."""
    url = settings.storage.resolved_database_url()
    if url.startswith("postgresql"):
        import psycopg
        from langgraph.checkpoint.postgres import PostgresSaver
        from psycopg.rows import dict_row

        conninfo = url.replace("postgresql+psycopg://", "postgresql://", 1)
        postgres = psycopg.connect(conninfo, autocommit=True, prepare_threshold=0, row_factory=dict_row)
        saver = PostgresSaver(postgres)
        saver.setup()
        return saver
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    local = sqlite3.connect(settings.storage.data_dir / "graph.sqlite", check_same_thread=False)
    saver_sqlite = SqliteSaver(local)
    saver_sqlite.setup()
    return saver_sqlite
