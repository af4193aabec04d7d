"""Charts over HTTP: ``POST /charts`` for explicit use, ``GET /charts/{run_id}.png|svg`` to render one.

A chart answered by ``POST /query`` is kept with its run; the image routes draw it server-side with
vl-convert (no browser), for the run's owner only.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, model_validator

from nexus.agents.visualiser import chart_dict, draw
from nexus.auth.deps import CurrentUser
from nexus.charts.model import CHART_KINDS
from nexus.charts.schema import render
from nexus.conversations.models import Run
from nexus.deps import RuntimeDep, SessionDep
from nexus.errors import NotFound, UnprocessableContent, problem
from nexus.graph.sql_agent import result_dict
from nexus.query.compiler import PlanError, compile_spec
from nexus.query.endpoints import AnalystUser, ChartOut, QueryServiceDep, Result, result_model
from nexus.query.executor import execute
from nexus.query.spec import QuerySpec
from nexus.query.validate import validate_sql
from nexus.routing import NexusRoute
from nexus.users.models import User

router = APIRouter(tags=["charts"], route_class=NexusRoute)

MEDIA = {"png": "image/png", "svg": "image/svg+xml"}


class ChartRequest(BaseModel):
    """Data (SQL, or a plan as `POST /query` shows it) over your datasets, and the chart you want."""

    model_config = ConfigDict(extra="forbid")

    dataset_ids: list[uuid.UUID] = Field(min_length=1, max_length=100)
    sql: str | None = Field(None, min_length=1, max_length=1_000_000, description="A read-only SELECT.")
    plan: QuerySpec | None = Field(None, description="A query plan over the datasets' tables.")
    hint: str | None = Field(
        None, description=f"The kind wanted, used when the data fits it: {', '.join(CHART_KINDS)}."
    )
    title: str | None = Field(None, max_length=200, description="Words for the title; else from the columns.")

    @model_validator(mode="after")
    def _one_source(self) -> ChartRequest:
        if (self.sql is None) == (self.plan is None):
            raise ValueError("give exactly one of sql and plan")
        if self.hint is not None and self.hint not in CHART_KINDS:
            raise ValueError(f"hint must be one of {', '.join(CHART_KINDS)}")
        return self


class ChartResponse(BaseModel):
    """The chart, the rows it was drawn from, and the SQL that read them."""

    chart: ChartOut
    result: Result
    sql: str


@router.post(
    "/charts",
    response_model=ChartResponse,
    responses={
        **problem(404, "A dataset does not exist, is not yours, or has no ready version."),
        **problem(422, "The SQL or plan was rejected, or no chart fits its result (`chart-not-possible`)."),
        **problem(504, "The query ran past NEXUS_QUERY_TIMEOUT_S."),
    },
)
async def make_chart(
    body: ChartRequest, user: AnalystUser, service: QueryServiceDep, runtime: RuntimeDep
) -> ChartResponse:
    """Run SQL or a plan over your datasets and return its chart (Vega-Lite v5, validated)."""

    def work() -> ChartResponse:
        catalog = service.catalog(user, body.dataset_ids)
        if body.plan is not None:
            try:
                text = compile_spec(body.plan, catalog).sql(dialect="duckdb", pretty=True)
            except PlanError as error:
                raise UnprocessableContent(error.detail) from None
        else:
            text = body.sql or ""
        checked = validate_sql(text, catalog, max_chars=service.settings.max_sql_chars)
        executed = execute(catalog, checked.executable, service.settings)
        chart = draw(result_dict(executed), body.title or "", catalog, runtime.settings.charts, body.hint)
        return ChartResponse(
            chart=ChartOut.model_validate(chart_dict(chart)), result=result_model(executed), sql=checked.sql
        )

    return await run_in_threadpool(work)


async def _image(run_id: uuid.UUID, fmt: Literal["png", "svg"], user: User, session: Any) -> Response:
    run = session.get(Run, run_id)
    if run is None or run.owner_id != user.id:
        raise NotFound("No such run.")
    chart = (run.details or {}).get("chart")
    if not chart:
        raise NotFound("This run has no chart.")
    image = await run_in_threadpool(render, chart["spec"], fmt)
    return Response(image, media_type=MEDIA[fmt], headers={"Cache-Control": "private, max-age=3600"})


_IMAGE_DOC: dict[int | str, dict[str, Any]] = {
    **problem(404, "No such run of yours, or the run has no chart."),
}


@router.get(
    "/charts/{run_id}.png",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The chart as PNG."}, **_IMAGE_DOC},
)
async def chart_png(run_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Draw a run's chart as PNG."""
    return await _image(run_id, "png", user, session)


@router.get(
    "/charts/{run_id}.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "The chart as SVG."}, **_IMAGE_DOC},
)
async def chart_svg(run_id: uuid.UUID, user: CurrentUser, session: SessionDep) -> Response:
    """Draw a run's chart as SVG."""
    return await _image(run_id, "svg", user, session)
