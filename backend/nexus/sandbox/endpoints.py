"""POST /code: pandas code over your datasets, run in the sandbox (analysts and admins)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from nexus.datasets.storage import DatasetStore
from nexus.deps import RuntimeDep, SessionDep, client_ip
from nexus.errors import problem
from nexus.query.endpoints import AnalystUser, ResultColumn
from nexus.routing import NexusRoute
from nexus.sandbox.code import CodeService

router = APIRouter(tags=["code"], route_class=NexusRoute)


_ERRORS = {
    **problem(400, "The code was refused (`code-rejected`); `rule` and `line` say why and where."),
    **problem(404, "A dataset does not exist, is not yours, or has no ready version."),
    **problem(408, "The code ran past NEXUS_SANDBOX_TIMEOUT_S or NEXUS_SANDBOX_CPU_S and was stopped."),
    **problem(
        413,
        "The code needed more than NEXUS_SANDBOX_MEMORY_MB (`sandbox-memory`), its result was larger than "
        "NEXUS_SANDBOX_MAX_OUTPUT_KB, or a table has more rows than NEXUS_SANDBOX_MAX_INPUT_ROWS.",
    ),
    **problem(422, "The code raised an error (`code-error`: `error_type`, `line`, `stdout`)."),
    **problem(503, "Every sandbox worker stayed busy."),
}


class CodeRequest(BaseModel):
    """Python (pandas) code over your datasets; it sets `result`."""

    model_config = ConfigDict(extra="forbid")

    dataset_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    code: str = Field(
        min_length=1,
        max_length=1_000_000,
        description="Sees `df` (one table) or `tables['name']`, and `pd`, `np`, `math`, `statistics`, "
        "`datetime`; sets `result` to a DataFrame, Series, number, text, dict or list.",
    )


class CodeResult(BaseModel):
    """What `result` held: a table (`columns`, `rows`), or a `value` (scalar, dict or list)."""

    kind: Literal["table", "scalar", "dict", "list", "none"]
    columns: list[ResultColumn] | None = None
    rows: list[list[Any]] | None = None
    row_count: int | None = None
    truncated: bool | None = None
    value: Any = None


class CodeResponse(BaseModel):
    """The result, what the code printed, and where the time went."""

    result: CodeResult
    stdout: str
    stdout_truncated: bool
    timings: dict[str, float]


def _service(session: SessionDep, runtime: RuntimeDep) -> CodeService:
    return CodeService(
        session=session,
        store=DatasetStore(runtime.settings.storage.data_dir),
        settings=runtime.settings,
        sandbox=runtime.sandbox,
    )


CodeServiceDep = Annotated[CodeService, Depends(_service)]


@router.post("/code", response_model=CodeResponse, responses=_ERRORS)
async def run_code(
    body: CodeRequest, request: Request, user: AnalystUser, service: CodeServiceDep
) -> CodeResponse:
    """Run pandas code over your datasets in the sandbox; every run is audited with the code's hash."""
    run = await run_in_threadpool(
        service.run, user, body.dataset_ids, body.code, client_ip=client_ip(request)
    )
    return CodeResponse(
        result=CodeResult.model_validate(run.result),
        stdout=run.stdout,
        stdout_truncated=run.stdout_truncated,
        timings=run.timings,
    )
