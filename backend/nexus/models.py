"""Import every table module so the metadata is complete (for Alembic and tests)."""

from __future__ import annotations


def load_all_models() -> None:
    """Import all model modules; each registers its tables on ``Base.metadata``."""
    import nexus.audit.models
    import nexus.auth.models
    import nexus.conversations.models
    import nexus.datasets.models
    import nexus.documents.models
    import nexus.users.models  # noqa: F401
