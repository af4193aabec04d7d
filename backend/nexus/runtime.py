"""What a running app holds: settings, the database, password hashing and token keys."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from nexus.auth.keys import load_signing_keys
from nexus.auth.passwords import Passwords
from nexus.auth.tokens import AccessTokens
from nexus.config import Settings
from nexus.db import make_engine, make_session_factory
from nexus.llm.models import Models


@dataclass
class Runtime:
    """Long-lived objects shared by every request of one app."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    passwords: Passwords
    access_tokens: AccessTokens
    models: Models
    _graph: Any = field(default=None, repr=False)
    _checkpointer: Any = field(default=None, repr=False)
    _sandbox: Any = field(default=None, repr=False)
    _rag: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def graph(self) -> Any:
        """Return the orchestration graph with its checkpointer, built on first use."""
        with self._lock:
            if self._graph is None:
                from nexus.graph.checkpoint import make_checkpointer
                from nexus.graph.orchestrator import build_graph

                self._checkpointer = make_checkpointer(self.settings)
                self._graph = build_graph(self._checkpointer)
            return self._graph

    @property
    def checkpointer(self) -> Any:
        """Return the graph's checkpointer (building the graph if needed)."""
        _ = self.graph
        return self._checkpointer

    @property
    def sandbox(self) -> Any:
        """Return the analyst's sandbox (``nexus.sandbox.service.Sandbox``); workers start on first run."""
        with self._lock:
            if self._sandbox is None:
                from nexus.sandbox.service import Sandbox

                self._sandbox = Sandbox(self.settings.sandbox)
            return self._sandbox

    @property
    def rag(self) -> Any:
        """Return the documents' store, embedder and retriever (``nexus.rag.index.Rag``), built once."""
        with self._lock:
            if self._rag is None:
                from nexus.rag.index import build_rag

                self._rag = build_rag(self.settings)
            return self._rag

    def close(self) -> None:
        """Release database connections, the vector store's client and sandbox workers."""
        if self._sandbox is not None:
            self._sandbox.close()
        if self._rag is not None:
            self._rag.close()
        self.engine.dispose()
        self.models.close()
        if self._checkpointer is not None:
            connection = getattr(self._checkpointer, "conn", None)
            if connection is not None:
                connection.close()


def build_runtime(settings: Settings) -> Runtime:
    """Create the runtime; raises ConfigurationError when the settings cannot be served."""
    keys = load_signing_keys(settings)
    settings.storage.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.storage.resolved_database_url())
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=make_session_factory(engine),
        passwords=Passwords(settings.auth),
        access_tokens=AccessTokens(keys, settings.auth),
        models=Models(settings.llm, settings.storage.data_dir),
    )
