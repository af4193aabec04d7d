"""POST /sql (validated, read-only SQL) and POST /query (a question answered by the query engine)."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from nexus.auth.deps import CurrentUser, require_role
from nexus.conversations.service import Asker
from nexus.datasets.storage import DatasetStore
from nexus.deps import RuntimeDep, SessionDep
from nexus.errors import problem
from nexus.query.executor import QueryResult
from nexus.query.service import QueryService
from nexus.routing import NexusRoute
from nexus.users.models import Role, User

router = APIRouter(tags=["query"], route_class=NexusRoute)

AnalystUser = Annotated[User, Depends(require_role(Role.ADMIN, Role.ANALYST))]
_ERRORS = {
    **problem(404, "A dataset does not exist, is not yours, or has no ready version."),
    **problem(422, "The SQL or plan was rejected; `rule` says which check, `suggestions` may help."),
    **problem(504, "The query ran past NEXUS_QUERY_TIMEOUT_S and was stopped."),
}


class SQLRequest(BaseModel):
    """SQL over your datasets; tables are named as in the datasets' `tables` list."""

    model_config = ConfigDict(extra="forbid")

    dataset_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    sql: str = Field(min_length=1, max_length=1_000_000)


class QuestionRequest(BaseModel):
    """A question in plain words about one or more of your datasets."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=100_000)
    dataset_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=100, description="May be left out when continuing a conversation."
    )
    conversation_id: uuid.UUID | None = Field(
        None, description="Continue this conversation (follow-ups reuse its plans); a new one otherwise."
    )


class ResultColumn(BaseModel):
    """A column of a result."""

    name: str
    type: str


class Result(BaseModel):
    """Rows of a result; `row_count` is the true count even when `truncated`."""

    columns: list[ResultColumn]
    rows: list[list[Any]]
    row_count: int
    truncated: bool


class SQLResponse(Result):
    """A result with the SQL as run (friendly table names) and where the time went."""

    sql: str
    timings: dict[str, float]


class ReviewCheck(BaseModel):
    """One check the reviewer made."""

    name: str
    passed: bool
    detail: str


class ReviewReport(BaseModel):
    """What the reviewer checked before the answer went out."""

    passed: bool
    checks: list[ReviewCheck]
    loops: int


class ChartOut(BaseModel):
    """A chart: its kind, a Vega-Lite v5 spec with the data inlined, and why this kind."""

    kind: str
    spec: dict[str, Any]
    reason: str
    notes: list[str] = Field(default_factory=list)


class ForecastPoint(BaseModel):
    """One forecast period with its 80% and 95% intervals."""

    date: str
    forecast: float
    lo80: float
    hi80: float
    lo95: float
    hi95: float


class ForecastOut(BaseModel):
    """The chosen model, how it did in the backtest against seasonal naive, and the forecast."""

    model: str
    grain: str
    season: int
    backtest_mase: float | None
    naive_mase: float | None
    beats_naive: bool
    points: list[ForecastPoint]
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    trend_strength: float | None = None
    seasonal_strength: float | None = None
    anomalies: list[dict[str, Any]] = Field(default_factory=list)
    filled: int = 0
    fill_method: str = ""


class Citation(BaseModel):
    """A passage an answer cites: its number in the answer, the document, the page and the text."""

    n: int
    document_id: uuid.UUID
    title: str
    page: int | None
    headings: list[str]
    start: int = Field(description="Character offset of the passage in the document's text.")
    end: int
    excerpt: str
    similarity: float
    score: float


class QueryResponse(BaseModel):
    """An answer, with the plan, the SQL and the result it was written from."""

    answer: str
    status: Literal["answered", "unresolved", "failed"]
    agent: str = Field(
        description="The agent that did the work: sql, analyst, visualiser, timeseries or retrieval."
    )
    route: str = Field(description="Where the router sent the question (may be an agent still to come).")
    route_reason: str
    routed_by: Literal["rules", "model"]
    pattern: str = Field(description="The kind of question the parser recognised.")
    plan: dict[str, Any] | None
    planned_by: str = Field(description="parser, memory (a follow-up), model, reviewer, user or none.")
    sql: str | None
    code: str | None = Field(None, description="The analyst's code, as run in the sandbox.")
    stdout: str | None = Field(None, description="What the analyst's code printed.")
    chart: ChartOut | None = Field(
        None,
        description="A Vega-Lite v5 chart of the result, when the question asked for a picture or forecast.",
    )
    forecast: ForecastOut | None = Field(
        None, description="The forecast, when the question asked about the future."
    )
    citations: list[Citation] = Field(
        default_factory=list, description="The passages a documents answer cites, numbered as in the answer."
    )
    result: Result | None
    confidence: float
    unresolved: list[str] = Field(description="Words of the question that the parser did not place.")
    notes: list[str]
    review: ReviewReport | None
    timings: dict[str, float]
    conversation_id: uuid.UUID
    run_id: uuid.UUID


def _service(session: SessionDep, runtime: RuntimeDep) -> QueryService:
    return QueryService(
        session=session,
        store=DatasetStore(runtime.settings.storage.data_dir),
        settings=runtime.settings.query,
    )


QueryServiceDep = Annotated[QueryService, Depends(_service)]


def result_model(result: QueryResult) -> Result:
    """Return an executed query's result as the API shows it."""
    return Result(
        columns=[ResultColumn(**column) for column in result.columns],
        rows=result.rows,
        row_count=result.row_count,
        truncated=result.truncated,
    )


@router.post("/sql", response_model=SQLResponse, responses=_ERRORS)
async def run_sql(body: SQLRequest, user: AnalystUser, service: QueryServiceDep) -> SQLResponse:
    """Run one read-only SELECT over your datasets (analysts and admins)."""
    sql, result, timings = await run_in_threadpool(service.run_sql, user, body.dataset_ids, body.sql)
    return SQLResponse(**result_model(result).model_dump(), sql=sql, timings=timings)


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The answer; or, with `Accept: text/event-stream`, Server-Sent Events: `run`, "
        "`node` (started/finished per step), `token` (narrator model text), then `answer` or `error`.",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


def _asker(session: SessionDep, runtime: RuntimeDep) -> Asker:
    return Asker(session=session, runtime=runtime)


AskerDep = Annotated[Asker, Depends(_asker)]


@router.post("/query", response_model=QueryResponse, responses={**_ERRORS, **_STREAM_DOC})
async def ask(body: QuestionRequest, request: Request, user: CurrentUser, asker: AskerDep) -> Any:
    """Answer a question about your datasets, with the plan, SQL, result and review behind it."""
    if "text/event-stream" in request.headers.get("accept", ""):
        return StreamingResponse(
            _events(asker, user, body),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    answer = await run_in_threadpool(asker.ask, user, body.question, body.dataset_ids, body.conversation_id)
    return QueryResponse.model_validate(answer)


async def _events(asker: Asker, user: User, body: QuestionRequest) -> AsyncIterator[str]:
    """Run the graph in a worker thread and relay its events; a client that leaves cancels the run."""
    events: queue.Queue[tuple[str, Any] | None] = queue.Queue()
    cancelled = threading.Event()
    worker = threading.Thread(
        target=asker.stream,
        args=(user, body.question, body.dataset_ids, body.conversation_id, cancelled, events),
        name="run-stream",
        daemon=True,
    )
    worker.start()
    try:
        while True:
            item = await asyncio.to_thread(events.get)
            if item is None:
                return
            name, data = item
            if name == "answer":
                data = QueryResponse.model_validate(data).model_dump(mode="json")
            yield f"event: {name}\ndata: {json.dumps(data, default=str)}\n\n"
    finally:
        cancelled.set()
