"""What a running app holds: settings, the database, password hashing and token keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from nexus.auth.keys import load_signing_keys
from nexus.auth.passwords import Passwords
from nexus.auth.tokens import AccessTokens
from nexus.config import Settings
from nexus.db import make_engine, make_session_factory


@dataclass
class Runtime:
    """Long-lived objects shared by every request of one app."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    passwords: Passwords
    access_tokens: AccessTokens

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()


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
    )
