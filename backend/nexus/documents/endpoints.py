"""Upload, list, read, search and delete documents."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.concurrency import run_in_threadpool

from nexus.auth.deps import CurrentUser
from nexus.datasets.endpoints import UploaderUser
from nexus.datasets.service import remove_upload
from nexus.datasets.upload import receive_into_uploads, upload_openapi
from nexus.deps import RuntimeDep, SessionDep
from nexus.documents.models import Document
from nexus.documents.schemas import DocumentPage, DocumentRead, Passage, SearchRequest, SearchResponse
from nexus.documents.service import DocumentService
from nexus.errors import problem
from nexus.rag.retrieve import Hit
from nexus.routing import NexusRoute

router = APIRouter(prefix="/documents", tags=["documents"], route_class=NexusRoute)

UPLOAD_PATH = "/api/v1/documents"
SEARCH_PATH = "/api/v1/documents/search"
_NOT_FOUND = problem(404, "No such document (or not yours).")
_UPLOAD_DOC = upload_openapi(
    "PDF, DOCX, Markdown, text, HTML, or a CSV/Excel data dictionary.",
    "title",
    "Defaults to the document's own title, else the file name.",
)
_UPLOAD_ERRORS = {
    **problem(400, "The upload was cut off or malformed."),
    **problem(403, "Viewers cannot upload."),
    **problem(413, "The file is over NEXUS_MAX_DOCUMENT_MB."),
    **problem(409, "You already have this file (same SHA-256); `document_id` names it."),
    **problem(415, "Not multipart/form-data."),
    **problem(422, "The file cannot become a document; `detail` says why."),
    **problem(503, "The embedder (Ollama) or the Chroma server is not answering."),
}


def _service(session: SessionDep, runtime: RuntimeDep) -> DocumentService:
    return DocumentService(
        session=session, sessions=runtime.sessions, rag=runtime.rag, settings=runtime.settings.documents
    )


DocumentServiceDep = Annotated[DocumentService, Depends(_service)]


def _read(document: Document) -> DocumentRead:
    return DocumentRead.model_validate(document)


def passage(hit: Hit) -> Passage:
    """Return a search hit as the API shows it."""
    chunk = hit.chunk
    return Passage(
        chunk_id=chunk.id,
        document_id=uuid.UUID(chunk.document_id),
        title=chunk.title,
        page=chunk.page,
        headings=list(chunk.headings),
        start=chunk.start,
        end=chunk.end,
        text=chunk.text,
        score=hit.score,
        similarity=hit.similarity,
        vector_rank=hit.vector_rank,
        bm25_rank=hit.bm25_rank,
    )


@router.post(
    "",
    response_model=DocumentRead,
    status_code=status.HTTP_201_CREATED,
    openapi_extra=_UPLOAD_DOC,
    responses=_UPLOAD_ERRORS,
)
async def upload_document(
    request: Request, user: UploaderUser, runtime: RuntimeDep, service: DocumentServiceDep
) -> DocumentRead:
    """Upload a document: it is parsed, chunked, embedded and stored for search."""
    limit = runtime.settings.documents.max_document_mb * 1_048_576
    upload = await receive_into_uploads(request, runtime.settings.storage.data_dir, limit)
    try:
        return await run_in_threadpool(
            lambda: _read(service.create(user, upload, upload.fields.get("title")))
        )
    finally:
        remove_upload(upload.path)


@router.get("", response_model=DocumentPage)
def list_documents(
    user: CurrentUser,
    service: DocumentServiceDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> DocumentPage:
    """List your documents, newest first."""
    documents, total = service.page(user, limit=limit, offset=offset)
    return DocumentPage(items=[_read(d) for d in documents], total=total, limit=limit, offset=offset)


@router.post(
    "/search",
    response_model=SearchResponse,
    responses={
        **problem(422, "k is over NEXUS_SEARCH_MAX_K."),
        **problem(503, "The embedder is not answering."),
    },
)
def search_documents(body: SearchRequest, user: CurrentUser, service: DocumentServiceDep) -> SearchResponse:
    """Find the passages of your documents that best match a query (no answer is written)."""
    hits, timings = service.search(user, body.query, body.k, mode=body.mode, mmr=body.mmr)
    return SearchResponse(query=body.query, hits=[passage(hit) for hit in hits], timings=timings)


@router.get("/{document_id}", response_model=DocumentRead, responses=_NOT_FOUND)
def read_document(document_id: uuid.UUID, user: CurrentUser, service: DocumentServiceDep) -> DocumentRead:
    """Return one of your documents."""
    return _read(service.get(user, document_id))


@router.delete(
    "/{document_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**_NOT_FOUND, **problem(403, "Viewers cannot delete.")},
)
def delete_document(document_id: uuid.UUID, user: UploaderUser, service: DocumentServiceDep) -> None:
    """Delete a document and its passages."""
    service.delete(user, document_id)
