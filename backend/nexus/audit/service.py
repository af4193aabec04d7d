"""Write audit events in the caller's transaction."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy.orm import Session

from nexus.audit.models import AuditEvent
from nexus.observability.context import current_request_id


class AuditAction(StrEnum):
    """Every kind of audited event."""

    LOGIN_SUCCEEDED = "login.succeeded"
    LOGIN_FAILED = "login.failed"
    TOKEN_REFRESHED = "token.refreshed"
    REFRESH_REUSE_DETECTED = "token.refresh_reuse_detected"
    TOKENS_REVOKED = "token.revoked"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_DELETED = "user.deleted"
    PASSWORD_CHANGED = "user.password_changed"
    CODE_RUN = "code.run"


def record(
    session: Session,
    action: AuditAction,
    *,
    actor_id: uuid.UUID | None = None,
    subject: str | None = None,
    client_ip: str | None = None,
    **details: Any,
) -> AuditEvent:
    """Add an audit event to the session; the caller commits it with its own change."""
    event = AuditEvent(
        event=action.value,
        actor_id=actor_id,
        subject=subject.replace("\x00", "")[:128] if subject else None,
        client_ip=client_ip,
        request_id=current_request_id(),
        details=details,
    )
    session.add(event)
    return event
