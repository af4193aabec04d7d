"""What readers hand to the typing step, and the limits and errors they share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nexus.errors import UnprocessableContent

ProgressCallback = Callable[[float, str], None]
"""Called with a fraction in [0, 1] and a short phase name; must be cheap and never raise."""


class IngestError(UnprocessableContent):
    """The file cannot become a dataset; the detail names the problem in the user's words."""

    type_slug = "ingest-error"


@dataclass(frozen=True)
class IngestLimits:
    """Limits a reader must enforce (all from settings)."""

    max_columns: int = 2_000
    max_tables: int = 200
    max_cell_chars: int = 1_000_000
    max_uncompressed_bytes: int = 2 * 1024**3
    max_compression_ratio: int = 200
    junk_tolerance: float = 0.01
    """A column whose values are all of one type but this fraction is typed as that type anyway."""


@dataclass
class RaggedRows:
    """Rows whose number of fields differs from the header's; they are kept, and counted here."""

    short: int = 0
    long: int = 0


@dataclass
class ForeignKey:
    """A declared relation between staged tables (from SQLite files)."""

    columns: list[str]
    references_table: str
    references_columns: list[str]


@dataclass
class StagedTable:
    """A table a reader loaded into the ingest connection, before typing.

    ``staging`` names a table in the ingest connection whose column names are already unique and
    safe (see ``names.unique_names``); ``labels`` maps each column name to the header as written in
    the file. VARCHAR columns go through type inference; columns of other types are kept as they are.
    """

    name: str
    staging: str
    labels: dict[str, str]
    notes: list[str] = field(default_factory=list)
    ragged: RaggedRows | None = None
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadResult:
    """Everything a reader produced from one file."""

    format: str
    tables: list[StagedTable]
    notes: list[str] = field(default_factory=list)
