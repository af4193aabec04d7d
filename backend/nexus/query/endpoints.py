"""POST /sql (validated, read-only SQL) and POST /query (a question answered by the query engine)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from nexus.auth.deps import CurrentUser, require_role
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
    dataset_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)


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


class QueryResponse(BaseModel):
    """An answer, with the plan, the SQL and the result it was written from."""

    answer: str
    status: Literal["answered", "unresolved"]
    agent: Literal["sql"] = "sql"
    pattern: str = Field(description="The kind of question the parser recognised.")
    plan: dict[str, Any] | None
    sql: str | None
    result: Result | None
    confidence: float
    unresolved: list[str] = Field(description="Words of the question that the parser did not place.")
    notes: list[str]
    timings: dict[str, float]


def _service(session: SessionDep, runtime: RuntimeDep) -> QueryService:
    return QueryService(
        session=session,
        store=DatasetStore(runtime.settings.storage.data_dir),
        settings=runtime.settings.query,
    )


QueryServiceDep = Annotated[QueryService, Depends(_service)]


def _result(result: QueryResult) -> Result:
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
    return SQLResponse(**_result(result).model_dump(), sql=sql, timings=timings)


@router.post("/query", response_model=QueryResponse, responses=_ERRORS)
async def ask(body: QuestionRequest, user: CurrentUser, service: QueryServiceDep) -> QueryResponse:
    """Answer a question about your datasets, with the plan, SQL and result behind the answer."""
    answer = await run_in_threadpool(service.ask, user, body.dataset_ids, body.question)
    return QueryResponse(
        answer=answer.answer,
        status="answered" if answer.status == "answered" else "unresolved",
        pattern=answer.pattern,
        plan=answer.plan,
        sql=answer.sql,
        result=_result(answer.result) if answer.result is not None else None,
        confidence=answer.confidence,
        unresolved=answer.unresolved,
        notes=answer.notes,
        timings=answer.timings,
    )
