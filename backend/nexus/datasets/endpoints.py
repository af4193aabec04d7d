"""Upload, list, read, preview and delete datasets."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from nexus.auth.deps import CurrentUser, require_role
from nexus.datasets.models import Dataset, VersionStatus
from nexus.datasets.schemas import (
    DatasetPage,
    DatasetRead,
    DatasetSummary,
    RowsPage,
    TableRead,
    VersionSummary,
)
from nexus.datasets.service import DatasetService, dataset_name, remove_upload
from nexus.datasets.storage import DatasetStore
from nexus.datasets.upload import Upload, receive_into_uploads, upload_openapi
from nexus.deps import RuntimeDep, SessionDep
from nexus.errors import problem
from nexus.routing import NexusRoute
from nexus.users.models import Role, User

router = APIRouter(prefix="/datasets", tags=["datasets"], route_class=NexusRoute)

UPLOAD_PATH_PREFIX = "/api/v1/datasets"
UploaderUser = Annotated[User, Depends(require_role(Role.ADMIN, Role.ANALYST))]
_NOT_FOUND = problem(404, "No such dataset (or not yours).")
_UPLOAD_DOC = upload_openapi("CSV, TSV, XLSX, JSON, Parquet or SQLite.", "name", "Defaults to the file name.")
_UPLOAD_ERRORS = {
    **problem(400, "The upload was cut off or malformed."),
    **problem(403, "Viewers cannot upload."),
    **problem(413, "The file is over NEXUS_MAX_UPLOAD_MB."),
    **problem(415, "Not multipart/form-data."),
    **problem(422, "The file cannot become a dataset; `detail` says why."),
}


def _service(session: SessionDep, runtime: RuntimeDep) -> DatasetService:
    return DatasetService(
        session=session,
        sessions=runtime.sessions,
        store=DatasetStore(runtime.settings.storage.data_dir),
        settings=runtime.settings.datasets,
    )


DatasetServiceDep = Annotated[DatasetService, Depends(_service)]


def _summary(dataset: Dataset) -> DatasetSummary:
    return DatasetSummary.model_validate(_summary_fields(dataset))


def _summary_fields(dataset: Dataset) -> dict[str, Any]:
    ingesting = [v for v in dataset.versions if v.status is VersionStatus.INGESTING]
    return {
        "id": dataset.id,
        "name": dataset.name,
        "owner_id": dataset.owner_id,
        "version": dataset.current_version,
        "status": "ready" if dataset.current_version is not None else "ingesting",
        "progress": ingesting[-1].progress if ingesting else 1.0,
        "created_at": dataset.created_at,
        "updated_at": dataset.updated_at,
    }


def _read(dataset: Dataset) -> DatasetRead:
    current = next((v for v in dataset.versions if v.version == dataset.current_version), None)
    return DatasetRead(
        **_summary_fields(dataset),
        tables=[TableRead.model_validate(t) for t in current.tables] if current else [],
        notes=list(current.notes) if current else [],
        versions=[VersionSummary.model_validate(v) for v in dataset.versions],
    )


async def _receive(request: Request, runtime: RuntimeDep) -> Upload:
    return await receive_into_uploads(
        request, runtime.settings.storage.data_dir, runtime.settings.datasets.max_upload_mb * 1_048_576
    )


@router.post(
    "",
    response_model=DatasetRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_DOC,
    responses=_UPLOAD_ERRORS,
)
async def upload_dataset(
    request: Request, user: UploaderUser, runtime: RuntimeDep, service: DatasetServiceDep
) -> DatasetRead:
    """Upload a file as a new dataset: it is sniffed, typed, profiled and stored."""
    upload = await _receive(request, runtime)
    try:
        name = dataset_name(upload.fields.get("name"), upload.filename)
        return await run_in_threadpool(lambda: _read(service.create(user, upload, name)))
    finally:
        remove_upload(upload.path)


@router.post(
    "/{dataset_id}/versions",
    response_model=DatasetRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_DOC,
    responses={**_UPLOAD_ERRORS, **_NOT_FOUND},
)
async def upload_version(
    dataset_id: uuid.UUID,
    request: Request,
    user: UploaderUser,
    runtime: RuntimeDep,
    service: DatasetServiceDep,
) -> DatasetRead:
    """Upload a new version of a dataset; earlier versions stay as they were."""
    await run_in_threadpool(service.get, user, dataset_id, admin_may=False)
    upload = await _receive(request, runtime)
    try:
        return await run_in_threadpool(lambda: _read(service.add_version(user, dataset_id, upload)))
    finally:
        remove_upload(upload.path)


@router.get("", response_model=DatasetPage)
def list_datasets(
    user: CurrentUser,
    service: DatasetServiceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DatasetPage:
    """List your datasets, newest first (admins see everyone's)."""
    datasets, total = service.page(user, limit=limit, offset=offset)
    return DatasetPage(items=[_summary(d) for d in datasets], total=total, limit=limit, offset=offset)


@router.get("/{dataset_id}", response_model=DatasetRead, responses=_NOT_FOUND)
def read_dataset(dataset_id: uuid.UUID, user: CurrentUser, service: DatasetServiceDep) -> DatasetRead:
    """Return a dataset with its tables and their column profiles."""
    return _read(service.get(user, dataset_id))


@router.get("/{dataset_id}/tables/{table}/rows", response_model=RowsPage, responses=_NOT_FOUND)
def preview_rows(
    dataset_id: uuid.UUID,
    table: str,
    user: CurrentUser,
    service: DatasetServiceDep,
    offset: Annotated[int, Query(ge=0, le=10**12)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
    version: Annotated[int | None, Query(ge=1, le=1_000_000)] = None,
) -> RowsPage:
    """Return rows of a table (a preview; at most NEXUS_MAX_PREVIEW_ROWS a page)."""
    return RowsPage.model_validate(
        service.rows(user, dataset_id, table, offset=offset, limit=limit, version=version)
    )


@router.delete(
    "/{dataset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_NOT_FOUND, **problem(403, "Viewers cannot delete.")},
)
def delete_dataset(dataset_id: uuid.UUID, user: UploaderUser, service: DatasetServiceDep) -> None:
    """Delete a dataset: its versions, tables and files."""
    service.delete(user, dataset_id)
