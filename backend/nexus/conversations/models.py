"""A conversation (a thread of questions) and the runs that answered each question in it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from nexus.db import Base, IdMixin, TimestampMixin, UTCDateTime, utcnow


class Conversation(IdMixin, TimestampMixin, Base):
    """A thread of questions owned by one user; the graph's checkpoints are keyed by its id."""

    __tablename__ = "conversations"

    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    dataset_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    runs: Mapped[list[Run]] = relationship(
        back_populates="conversation", cascade="all, delete-orphan", order_by="Run.created_at"
    )


class Run(IdMixin, Base):
    """One question answered: route, plan, SQL, result (bounded), review, timings, outcome."""

    __tablename__ = "runs"

    conversation_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    question: Mapped[str] = mapped_column(Text)
    route: Mapped[str] = mapped_column(String(32))
    agent: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    answer: Mapped[str] = mapped_column(Text)
    plan: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    sql: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    review: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    conversation: Mapped[Conversation] = relationship(back_populates="runs")
