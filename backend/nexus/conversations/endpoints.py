"""Conversations: start one, list yours, read one with its questions and answers, delete it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel, ConfigDict, Field

from nexus.auth.deps import CurrentUser
from nexus.conversations.models import Conversation
from nexus.conversations.service import Asker
from nexus.datasets.storage import DatasetStore
from nexus.deps import RuntimeDep, SessionDep
from nexus.errors import problem
from nexus.query.service import QueryService
from nexus.routing import NexusRoute

router = APIRouter(prefix="/conversations", tags=["conversations"], route_class=NexusRoute)
_NOT_FOUND = problem(404, "No such conversation (or not yours).")


class ConversationCreate(BaseModel):
    """A new conversation over some of your datasets."""

    model_config = ConfigDict(extra="forbid")

    dataset_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    title: str | None = Field(None, max_length=200)


class ConversationSummary(BaseModel):
    """A conversation in a list."""

    id: uuid.UUID
    title: str
    dataset_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class Message(BaseModel):
    """One question of a conversation and the answer it got."""

    run_id: uuid.UUID
    question: str
    answer: str
    status: str
    route: str
    agent: str
    plan: dict[str, Any] | None
    sql: str | None
    code: str | None = Field(None, description="The analyst's code, as it ran in the sandbox.")
    result: dict[str, Any] | None = Field(description="The result as answered (at most 200 rows kept).")
    review: dict[str, Any] | None
    created_at: datetime


class ConversationRead(ConversationSummary):
    """A conversation with its messages, oldest first."""

    messages: list[Message]


class ConversationPage(BaseModel):
    """A page of conversations."""

    items: list[ConversationSummary]
    total: int
    limit: int
    offset: int


def _asker(session: SessionDep, runtime: RuntimeDep) -> Asker:
    return Asker(session=session, runtime=runtime)


AskerDep = Annotated[Asker, Depends(_asker)]


def _summary(conversation: Conversation) -> ConversationSummary:
    return ConversationSummary(
        id=conversation.id,
        title=conversation.title,
        dataset_ids=[uuid.UUID(d) for d in conversation.dataset_ids],
        created_at=conversation.created_at,
        updated_at=conversation.updated_at,
    )


@router.post(
    "", response_model=ConversationSummary, status_code=status.HTTP_201_CREATED, responses=problem(404)
)
def create_conversation(
    body: ConversationCreate, user: CurrentUser, asker: AskerDep, runtime: RuntimeDep, session: SessionDep
) -> ConversationSummary:
    """Start a conversation; its questions may leave out `dataset_ids`."""
    settings = runtime.settings
    QueryService(session, DatasetStore(settings.storage.data_dir), settings.query).catalog(
        user, body.dataset_ids
    )
    return _summary(asker.start(user, body.dataset_ids, body.title))


@router.get("", response_model=ConversationPage)
def list_conversations(
    user: CurrentUser,
    asker: AskerDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ConversationPage:
    """List your conversations, most recent first."""
    items, total = asker.page(user, limit=limit, offset=offset)
    return ConversationPage(items=[_summary(c) for c in items], total=total, limit=limit, offset=offset)


@router.get("/{conversation_id}", response_model=ConversationRead, responses=_NOT_FOUND)
def read_conversation(conversation_id: uuid.UUID, user: CurrentUser, asker: AskerDep) -> ConversationRead:
    """Return a conversation with every question, answer, plan, SQL and result."""
    conversation = asker.conversation(user, conversation_id)
    messages = [
        Message(
            run_id=run.id,
            question=run.question,
            answer=run.answer,
            status=run.status,
            route=run.route,
            agent=run.agent,
            plan=run.plan,
            sql=run.sql,
            code=(run.details or {}).get("code"),
            result=run.result,
            review=run.review,
            created_at=run.created_at,
        )
        for run in conversation.runs
    ]
    return ConversationRead(**_summary(conversation).model_dump(), messages=messages)


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=_NOT_FOUND)
def delete_conversation(conversation_id: uuid.UUID, user: CurrentUser, asker: AskerDep) -> None:
    """Delete a conversation, its messages and the orchestrator's memory of it."""
    asker.delete(user, conversation_id)
