"""Alembic environment: uses the engine handed over by ``nexus.migrate``."""

from alembic import context

from nexus.db import Base
from nexus.models import load_all_models

load_all_models()
target_metadata = Base.metadata
engine = context.config.attributes.get("engine")
if engine is None:
    raise RuntimeError("Run migrations with `nexus migrate`, which supplies the database engine.")

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
