"""What the document routes accept and return."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class DocumentRead(BaseModel):
    """A document: where it came from and what it became."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    title: str
    status: Literal["ingesting", "ready"]
    source_filename: str
    source_format: str | None = Field(description="pdf, docx, markdown, text, html, csv or xlsx.")
    source_bytes: int
    pages: int | None = Field(description="Pages of a PDF; null for formats without pages.")
    characters: int = Field(description="Characters of text extracted.")
    chunk_count: int = Field(description="Passages stored for search.")
    embedder: str
    created_at: datetime
    updated_at: datetime


class DocumentPage(BaseModel):
    """A page of documents."""

    items: list[DocumentRead]
    total: int
    limit: int
    offset: int


class SearchRequest(BaseModel):
    """A search over your documents, without an answer written from it."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2_000)
    k: int = Field(5, ge=1, le=500, description="Passages to return (at most NEXUS_SEARCH_MAX_K).")
    mode: Literal["hybrid", "vector", "bm25"] = "hybrid"
    mmr: bool | None = Field(
        None, description="Diversify with maximal marginal relevance; defaults to NEXUS_RETRIEVAL_MMR."
    )


class Passage(BaseModel):
    """A passage found, with its scores and where it sits in its document."""

    chunk_id: str
    document_id: uuid.UUID
    title: str
    page: int | None
    headings: list[str]
    start: int = Field(description="Character offset of the passage in the document's text.")
    end: int
    text: str
    score: float = Field(description="Reciprocal-rank fusion score (higher is better).")
    similarity: float = Field(description="Cosine similarity of the passage to the query.")
    vector_rank: int | None
    bm25_rank: int | None


class SearchResponse(BaseModel):
    """Passages, best first, and where the time went."""

    query: str
    hits: list[Passage]
    timings: dict[str, float]
