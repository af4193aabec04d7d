"""What one query may read: the caller's chosen datasets, their tables, columns and profiles.

A query runs on a fresh in-memory DuckDB connection that attaches each dataset version's file
read-only under an alias (``d1``, ``d2``...). Users and plans name tables by their *friendly* name
(the table's own name, made unique across the chosen datasets); the SQL validator rewrites those
names to ``"d1"."main"."table"`` so that nothing outside the catalog can be named at all.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from nexus.datasets.models import Dataset, DatasetVersion, VersionStatus
from nexus.datasets.storage import DatasetStore
from nexus.errors import NotFound, UnprocessableContent
from nexus.users.models import User

NUMERIC_TYPES = frozenset({"integer", "number"})
TEMPORAL_TYPES = frozenset({"date", "datetime"})


@dataclass(frozen=True)
class Column:
    """A column as ingestion decided it."""

    name: str
    label: str
    type: str
    role: str
    profile: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def numeric(self) -> bool:
        """Return whether the column holds numbers."""
        return self.type in NUMERIC_TYPES

    @property
    def temporal(self) -> bool:
        """Return whether the column holds dates or timestamps."""
        return self.type in TEMPORAL_TYPES

    @property
    def top_values(self) -> list[Any]:
        """Return the profile's most frequent values (most frequent first)."""
        return [item.get("value") for item in self.profile.get("top_values") or [] if isinstance(item, dict)]


@dataclass(frozen=True)
class ForeignKey:
    """A declared link from columns of one table to columns of another (friendly names)."""

    columns: tuple[str, ...]
    references_table: str
    references_columns: tuple[str, ...]


@dataclass(frozen=True)
class CatalogTable:
    """A table a query may read."""

    name: str
    alias: str
    table: str
    dataset_id: uuid.UUID
    dataset_name: str
    version: int
    row_count: int
    columns: tuple[Column, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()

    def column(self, name: str) -> Column | None:
        """Return a column by name or label, ignoring case."""
        wanted = name.casefold()
        for column in self.columns:
            if column.name.casefold() == wanted:
                return column
        for column in self.columns:
            if column.label.casefold() == wanted:
                return column
        return None

    @property
    def storage(self) -> tuple[str, str, str]:
        """Return (catalog, schema, table) of the table on the query connection."""
        return (self.alias, "main", self.table)


@dataclass(frozen=True)
class Catalog:
    """The tables of the datasets a query names, and the files to attach for them."""

    tables: tuple[CatalogTable, ...]
    attachments: tuple[tuple[str, Path], ...]

    def table(self, name: str) -> CatalogTable | None:
        """Return a table by friendly name (or, failing that, by its own name), ignoring case."""
        wanted = name.casefold()
        for table in self.tables:
            if table.name.casefold() == wanted:
                return table
        matches = [table for table in self.tables if table.table.casefold() == wanted]
        return matches[0] if len(matches) == 1 else None

    def describe(self) -> str:
        """Return the tables and their columns in a line each, for messages."""
        return "; ".join(f"{t.name}({', '.join(c.name for c in t.columns)})" for t in self.tables)


def _slug(text: str) -> str:
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", text).strip("_").lower()
    return slug or "dataset"


def _unique(wanted: str, taken: set[str]) -> str:
    name, number = wanted, 2
    while name.casefold() in taken:
        name = f"{wanted}_{number}"
        number += 1
    taken.add(name.casefold())
    return name


def _columns(raw: Iterable[dict[str, Any]]) -> tuple[Column, ...]:
    return tuple(
        Column(
            name=str(item["name"]),
            label=str(item.get("label") or item["name"]),
            type=str(item.get("type") or "text"),
            role=str(item.get("role") or "text"),
            profile=dict(item),
        )
        for item in raw
    )


def catalog_from_versions(versions: Sequence[tuple[Dataset, DatasetVersion]], store: DatasetStore) -> Catalog:
    """Build the catalog of ready versions (one per dataset), naming tables uniquely."""
    taken: set[str] = set()
    tables: list[CatalogTable] = []
    attachments: list[tuple[str, Path]] = []
    clashing = _clashing_names(version for _, version in versions)
    for position, (dataset, version) in enumerate(versions, start=1):
        alias = f"d{position}"
        attachments.append((alias, store.version_path(dataset.id, version.id)))
        renamed: dict[str, str] = {}
        for table in version.tables:
            wanted = table.name
            if table.name.casefold() in clashing:
                wanted = f"{_slug(dataset.name)}_{table.name}"
            renamed[table.name] = _unique(wanted, taken)
        for table in version.tables:
            keys = tuple(
                ForeignKey(
                    columns=tuple(fk["columns"]),
                    references_table=renamed.get(fk["references_table"], fk["references_table"]),
                    references_columns=tuple(fk["references_columns"]),
                )
                for fk in (table.details or {}).get("foreign_keys", [])
            )
            tables.append(
                CatalogTable(
                    name=renamed[table.name],
                    alias=alias,
                    table=table.name,
                    dataset_id=dataset.id,
                    dataset_name=dataset.name,
                    version=version.version,
                    row_count=table.row_count,
                    columns=_columns(table.columns),
                    foreign_keys=keys,
                )
            )
    return Catalog(tables=tuple(tables), attachments=tuple(attachments))


def _clashing_names(versions: Iterable[DatasetVersion]) -> set[str]:
    seen: dict[str, int] = {}
    for version in versions:
        for name in {table.name.casefold() for table in version.tables}:
            seen[name] = seen.get(name, 0) + 1
    return {name for name, count in seen.items() if count > 1}


def load_catalog(
    session: Session,
    store: DatasetStore,
    user: User,
    dataset_ids: Sequence[uuid.UUID],
    *,
    max_datasets: int,
) -> Catalog:
    """Return the catalog of the user's own datasets (current versions); others' are not found.

    Admins get no exception here: like previews, queries read only the caller's own rows.
    """
    unique_ids = list(dict.fromkeys(dataset_ids))
    if not unique_ids:
        raise UnprocessableContent("Name at least one dataset in `dataset_ids`.")
    if len(unique_ids) > max_datasets:
        raise UnprocessableContent(f"A query may name at most {max_datasets} datasets.")
    chosen: list[tuple[Dataset, DatasetVersion]] = []
    for dataset_id in unique_ids:
        dataset = session.get(Dataset, dataset_id)
        if dataset is None or dataset.owner_id != user.id:
            raise NotFound(f"No such dataset: {dataset_id}.")
        version = next(
            (
                v
                for v in dataset.versions
                if v.version == dataset.current_version and v.status is VersionStatus.READY
            ),
            None,
        )
        if version is None:
            raise NotFound(f"Dataset {dataset_id} has no ready version yet.")
        chosen.append((dataset, version))
    return catalog_from_versions(chosen, store)
