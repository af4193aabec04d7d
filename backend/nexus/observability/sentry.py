"""Sentry, when ``NEXUS_SENTRY_DSN`` is set; every event is scrubbed of tokens and passwords first."""

from __future__ import annotations

from typing import Any

import sentry_sdk

from nexus import __version__
from nexus.config import Settings
from nexus.observability.redaction import redact


def scrub_event(event: Any, _hint: Any) -> Any:
    """Remove secrets from an event before it leaves the process (``before_send``)."""
    return redact(event)


def init_sentry(settings: Settings, *, transport: Any = None) -> bool:
    """Start the Sentry client when a DSN is configured; return whether it started."""
    if settings.observability.sentry_dsn is None:
        return False
    options: dict[str, Any] = {
        "dsn": settings.observability.sentry_dsn.get_secret_value(),
        "environment": settings.env.value,
        "release": f"nexus@{__version__}",
        # No send_default_pii: it is deprecated (a DeprecationWarning) and unset already means False.
        "traces_sample_rate": settings.observability.sentry_traces_sample_rate,
        "before_send": scrub_event,
        "before_send_transaction": scrub_event,
        "max_request_body_size": "never",
    }
    if transport is not None:
        options["transport"] = transport
    sentry_sdk.init(**options)
    return True
