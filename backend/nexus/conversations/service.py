"""Asking through the orchestrator: a conversation, a run of the graph, and the run kept on record.

Every question belongs to a conversation (a new one is started when none is named); the graph's
memory of it lives in the checkpointer under the conversation's id, and each answered question is
stored as a Run (question, route, plan, SQL, a bounded copy of the result, review, timings,
outcome) for history and audit.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nexus.conversations.models import Conversation, Run
from nexus.datasets.storage import DatasetStore
from nexus.db import utcnow
from nexus.documents.service import DocumentService
from nexus.errors import NexusError, NotFound, UnprocessableContent
from nexus.graph import orchestrator
from nexus.graph.state import Deps, RunState, fresh
from nexus.query.catalog import Catalog
from nexus.query.service import QueryService, column_values
from nexus.runtime import Runtime
from nexus.sandbox.service import code_hash
from nexus.users.models import User

log = structlog.get_logger(__name__)

STORED_ROWS = 200
"""Rows of a result kept with the run (the full result is in the answer the client received)."""


def _title(question: str) -> str:
    return question.strip().splitlines()[0][:200] if question.strip() else "Untitled"


def answer_body(state: RunState, conversation_id: uuid.UUID) -> dict[str, Any]:
    """Return the API's answer object for a finished run."""
    return {
        "answer": state.get("answer") or "",
        "status": state.get("status") or "unresolved",
        "agent": state.get("agent") or "sql",
        "route": state.get("route") or "sql",
        "route_reason": state.get("route_reason") or "",
        "routed_by": state.get("routed_by") or "rules",
        "pattern": state.get("pattern") or "unknown",
        "plan": state.get("plan"),
        "planned_by": state.get("planned_by") or "",
        "sql": state.get("sql"),
        "code": state.get("code"),
        "stdout": state.get("stdout"),
        "chart": state.get("chart"),
        "forecast": state.get("forecast"),
        "citations": list(state.get("citations") or []),
        "result": state.get("result"),
        "confidence": float(state.get("confidence") or 0.0),
        "unresolved": list(state.get("unresolved") or []),
        "notes": list(state.get("notes") or []),
        "review": state.get("review"),
        "timings": dict(state.get("timings") or {}),
        "conversation_id": str(conversation_id),
        "run_id": state.get("run_id"),
    }


@dataclass
class Asker:
    """Runs questions for one request."""

    session: Session
    runtime: Runtime

    # --- conversations -------------------------------------------------------------------------

    def conversation(self, user: User, conversation_id: uuid.UUID) -> Conversation:
        """Return the user's conversation; anyone else's is not found."""
        found = self.session.get(Conversation, conversation_id)
        if found is None or found.owner_id != user.id:
            raise NotFound("No such conversation.")
        return found

    def start(self, user: User, dataset_ids: Sequence[uuid.UUID], title: str | None = None) -> Conversation:
        """Start a conversation over some datasets."""
        conversation = Conversation(
            owner_id=user.id,
            title=(title or "New conversation")[:200],
            dataset_ids=[str(d) for d in dataset_ids],
        )
        self.session.add(conversation)
        self.session.commit()
        return conversation

    def page(self, user: User, *, limit: int, offset: int) -> tuple[list[Conversation], int]:
        """Return the user's conversations, most recent first."""
        query = select(Conversation).where(Conversation.owner_id == user.id)
        total = self.session.scalar(select(func.count()).select_from(query.subquery())) or 0
        items = self.session.scalars(
            query.order_by(Conversation.updated_at.desc(), Conversation.id).limit(limit).offset(offset)
        )
        return list(items), total

    def delete(self, user: User, conversation_id: uuid.UUID) -> None:
        """Delete a conversation, its runs and the graph's memory of it."""
        conversation = self.conversation(user, conversation_id)
        self.session.delete(conversation)
        self.session.commit()
        self.runtime.checkpointer.delete_thread(str(conversation_id))

    # --- asking --------------------------------------------------------------------------------

    def prepare(
        self,
        user: User,
        question: str,
        dataset_ids: Sequence[uuid.UUID],
        conversation_id: uuid.UUID | None,
    ) -> tuple[Conversation, Deps, RunState]:
        """Check the request and build what the run needs."""
        settings = self.runtime.settings
        if len(question) > settings.query.max_question_chars:
            raise UnprocessableContent(
                f"The question is over {settings.query.max_question_chars:,} characters "
                "(NEXUS_MAX_QUESTION_CHARS)."
            )
        documents = DocumentService(self.session, self.runtime.sessions, self.runtime.rag, settings.documents)
        has_documents = bool(documents.ready_ids(user))
        if conversation_id is not None:
            conversation = self.conversation(user, conversation_id)
            ids = list(dataset_ids) or [uuid.UUID(d) for d in conversation.dataset_ids]
        else:
            ids = list(dataset_ids)
            conversation = None
        if not ids and not has_documents:
            raise UnprocessableContent(
                "Name at least one dataset in `dataset_ids` (or a conversation), or upload documents to ask "
                "about."
            )
        store = DatasetStore(settings.storage.data_dir)
        catalog = (
            QueryService(self.session, store, settings.query).catalog(user, ids)
            if ids
            else Catalog(tables=(), attachments=())
        )
        if conversation is None:
            conversation = self.start(user, ids, _title(question))
        elif [str(d) for d in ids] != conversation.dataset_ids:
            conversation.dataset_ids = [str(d) for d in ids]
        deps = Deps(
            catalog=catalog,
            values=column_values(catalog, store),
            store=store,
            query_settings=settings.query,
            models=self.runtime.models if settings.llm.llm_enabled else None,
            max_review_loops=settings.llm.max_review_loops,
            sandbox=self.runtime.sandbox,
            analyst_max_retries=settings.sandbox.analyst_max_retries,
            chart_settings=settings.charts,
            has_documents=has_documents,
            search_documents=(lambda query, k: documents.search(user, query, k)[0])
            if has_documents
            else None,
            retrieval_k=settings.documents.retrieval_k,
            retrieval_min_similarity=settings.documents.retrieval_min_similarity,
        )
        state = fresh(question, [str(d) for d in ids], str(uuid.uuid4()))
        return conversation, deps, state

    def record(self, user: User, conversation: Conversation, final: RunState) -> None:
        """Keep the run on record."""
        result = final.get("result")
        stored = None
        if result is not None:
            stored = {**result, "rows": list(result.get("rows") or [])[:STORED_ROWS]}
        run = Run(
            id=uuid.UUID(final["run_id"]),
            conversation_id=conversation.id,
            owner_id=user.id,
            question=final["question"],
            route=final.get("route") or "sql",
            agent=final.get("agent") or "sql",
            status=final.get("status") or "unresolved",
            answer=final.get("answer") or "",
            plan=final.get("plan"),
            sql=final.get("sql"),
            result=stored,
            review=dict(review) if (review := final.get("review")) else None,
            details={
                "route_reason": final.get("route_reason"),
                "routed_by": final.get("routed_by"),
                "planned_by": final.get("planned_by"),
                "timings": final.get("timings"),
                "notes": final.get("notes"),
                "code": final.get("code"),
                "chart": final.get("chart"),
                "forecast": final.get("forecast"),
                "citations": final.get("citations") or [],
                "code_sha256": code_hash(code) if (code := final.get("code")) else None,
            },
        )
        self.session.add(run)
        conversation.updated_at = utcnow()
        self.session.commit()

    def ask(
        self, user: User, question: str, dataset_ids: Sequence[uuid.UUID], conversation_id: uuid.UUID | None
    ) -> dict[str, Any]:
        """Answer a question through the graph and keep the run."""
        conversation, deps, state = self.prepare(user, question, dataset_ids, conversation_id)
        final = orchestrator.run(self.runtime.graph, state, deps, str(conversation.id))
        self.record(user, conversation, final)
        return answer_body(final, conversation.id)

    def stream(
        self,
        user: User,
        question: str,
        dataset_ids: Sequence[uuid.UUID],
        conversation_id: uuid.UUID | None,
        cancelled: threading.Event,
        events: queue.Queue[tuple[str, Any] | None],
    ) -> None:
        """Run the graph, putting (event, data) pairs on ``events``; stop when ``cancelled`` is set."""
        try:
            conversation, deps, state = self.prepare(user, question, dataset_ids, conversation_id)
            events.put(("run", {"run_id": state["run_id"], "conversation_id": str(conversation.id)}))
            steps = orchestrator.stream(self.runtime.graph, state, deps, str(conversation.id))
            try:
                for mode, chunk in steps:
                    if cancelled.is_set():
                        log.info("run_cancelled", run_id=state["run_id"])
                        return
                    if mode == "tasks":
                        phase = "finished" if "result" in chunk or "error" in chunk else "started"
                        events.put(
                            ("node", {"node": chunk.get("name"), "phase": phase, "run_id": state["run_id"]})
                        )
                    elif mode == "custom" and isinstance(chunk, dict) and chunk.get("event") == "token":
                        events.put(("token", {"text": chunk.get("text", "")}))
            finally:
                close = getattr(steps, "close", None)
                if close is not None:
                    close()
            snapshot = self.runtime.graph.get_state({"configurable": {"thread_id": str(conversation.id)}})
            final: RunState = snapshot.values
            self.record(user, conversation, final)
            events.put(("answer", answer_body(final, conversation.id)))
        except NexusError as error:
            events.put(("error", {"status": error.status, "type": error.type_slug, "detail": error.detail}))
        except Exception:  # noqa: BLE001 - the stream must end with an event, not a dropped connection
            log.exception("run_failed")
            events.put(("error", {"status": 500, "type": "internal-error", "detail": "The run failed."}))
        finally:
            events.put(None)
