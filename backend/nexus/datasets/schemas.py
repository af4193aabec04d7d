"""Request and response bodies of the dataset routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TopValue(BaseModel):
    """A frequent value and how often it occurs."""

    value: Any
    count: int


class ColumnProfile(BaseModel):
    """What a column holds, as decided at ingestion."""

    model_config = ConfigDict(extra="allow")

    name: str = Field(description="Unique, SQL-safe name.")
    label: str = Field(description="The header as written in the file.")
    type: str = Field(description="integer, number, boolean, date, datetime, time or text.")
    role: str = Field(description="id, date, datetime, amount, measure, category, text, email or boolean.")
    null_fraction: float
    distinct_count: int
    min: Any = None
    max: Any = None
    top_values: list[TopValue] = Field(default_factory=list)
    dropped: int = Field(0, description="Cells that did not fit the type and were left empty.")
    format: dict[str, Any] | None = Field(
        None, description="How values were written: date format, currency..."
    )


class TableRead(BaseModel):
    """A table of a dataset version."""

    model_config = ConfigDict(from_attributes=True)

    name: str
    row_count: int
    columns: list[ColumnProfile]
    notes: list[str] = Field(default_factory=list)
    details: dict[str, Any] = Field(default_factory=dict)


class VersionSummary(BaseModel):
    """One version of a dataset."""

    model_config = ConfigDict(from_attributes=True)

    version: int
    status: Literal["ingesting", "ready"]
    progress: float
    source_filename: str
    source_format: str | None
    source_bytes: int
    created_at: datetime


class DatasetSummary(BaseModel):
    """A dataset in a list."""

    id: uuid.UUID
    name: str
    owner_id: uuid.UUID
    version: int | None = Field(description="The current version; null until the first one is ready.")
    status: Literal["ingesting", "ready"]
    progress: float = Field(description="Progress of the version being ingested, from 0 to 1.")
    created_at: datetime
    updated_at: datetime


class DatasetRead(DatasetSummary):
    """A dataset with the tables of its current version."""

    tables: list[TableRead]
    notes: list[str]
    versions: list[VersionSummary]


class DatasetPage(BaseModel):
    """One page of datasets."""

    items: list[DatasetSummary]
    total: int
    limit: int
    offset: int


class RowsPage(BaseModel):
    """Rows of a table, for a preview."""

    dataset_id: uuid.UUID
    version: int
    table: str
    columns: list[str]
    rows: list[list[Any]]
    offset: int
    limit: int
    total: int
