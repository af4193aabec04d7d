"""JSON and JSON Lines files, read by DuckDB's read_json.

Accepted shapes: an array of objects, one object per line, or one object holding exactly one array of
objects (``{"data": [...]}``). The file is read twice by DuckDB, never by Python: once to infer the
columns, then with those columns declared, so that strings stay VARCHAR (DuckDB would otherwise turn
ISO dates and UUIDs into typed columns) and nested values come back as their JSON text. Nested
objects are flattened one level into ``parent_child`` columns; deeper values and lists stay JSON text.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
from duckdb.sqltypes import DuckDBPyType

from nexus.datasets.ingest.base import IngestError, IngestLimits, ReadResult, StagedTable
from nexus.datasets.ingest.names import quote, unique_names

SAMPLE_BYTES = 1024 * 1024
FLATTEN_MAX_FIELDS = 100
"""Nested objects with more fields than this stay JSON text rather than becoming columns."""
_NESTED = {"struct", "list", "map", "array", "union", "variant"}
_AS_TEXT = {"date", "time", "time with time zone", "timestamp", "timestamp with time zone", "uuid", "null"}
_AS_TEXT |= {"timestamp_s", "timestamp_ms", "timestamp_ns", "interval"}
_NOT_TABLE = "The JSON is not a table: "
_RECORD = "__nexus_record"


@dataclass(frozen=True)
class _Field:
    label: str
    type: DuckDBPyType
    expr: str


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _reason(error: duckdb.Error, source: Path) -> str:
    """Return DuckDB's message for the user: its first line, without the server's path."""
    return str(error).split("\n")[0].replace(str(source), "the file")[:300]


def _children(kind: DuckDBPyType) -> list[tuple[str, DuckDBPyType]]:
    """Return the named member types of a STRUCT (or the element of a LIST, named "child")."""
    return [(name, child) for name, child in kind.children if isinstance(child, DuckDBPyType)]


def _is_json(kind: DuckDBPyType) -> bool:
    return str(kind) == "JSON"


def _flattens(kind: DuckDBPyType) -> bool:
    return kind.id == "struct" and 0 < len(_children(kind)) <= FLATTEN_MAX_FIELDS


def _declared_leaf(kind: DuckDBPyType) -> str:
    if kind.id in _NESTED or _is_json(kind):
        return "JSON"
    return "VARCHAR" if kind.id in _AS_TEXT else str(kind)


def _declared(kind: DuckDBPyType) -> str:
    """Return the type to declare for a record field: one struct level kept, text for the rest."""
    if not _flattens(kind):
        return _declared_leaf(kind)
    return (
        "STRUCT("
        + ", ".join(f"{quote(name)} {_declared_leaf(child)}" for name, child in _children(kind))
        + ")"
    )


def _leaf(kind: DuckDBPyType, expr: str) -> str:
    if _is_json(kind):
        return f"json_extract_string({expr}, '$')"  # strings without their quotes, the rest as JSON text
    if kind.id in _NESTED:
        return f"CAST(to_json({expr}) AS VARCHAR)"
    return f"CAST({expr} AS VARCHAR)" if kind.id in _AS_TEXT else expr


def _columns(fields: list[_Field]) -> list[tuple[str, str]]:
    """Return (label, select expression) for every staged column, flattening one struct level."""
    columns: list[tuple[str, str]] = []
    for field in fields:
        if _flattens(field.type):
            for name, child in _children(field.type):
                expr = f"struct_extract({field.expr}, {_literal(name)})"
                columns.append((f"{field.label}.{name}", _leaf(child, expr)))
        else:
            columns.append((field.label, _leaf(field.type, field.expr)))
    return columns


def _shape(source: Path) -> tuple[str, str]:
    """Return (shape, DuckDB format): shape is "array", "lines" or "object"; refuse other JSON."""
    with source.open("rb") as handle:
        head = handle.read(SAMPLE_BYTES)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")
    if text.startswith("["):
        return "array", "array"
    if not text.startswith("{"):
        kind = "text" if text.startswith('"') else "value"
        raise IngestError(f"{_NOT_TABLE}it is a single {kind}, not a list of records.")
    first, _, rest = text.partition("\n")
    try:
        lines = isinstance(json.loads(first), dict) and rest.lstrip().startswith("{")
    except ValueError:
        lines = False
    if not lines:
        return "object", "unstructured"
    # DuckDB's newline_delimited reader refuses a byte-order mark; its "auto" format skips it.
    return "lines", "auto" if head.startswith(codecs.BOM_UTF8) else "newline_delimited"


def _describe_array(source: Path) -> str:
    """Say what a top-level array holds instead of objects, for the error message."""
    with source.open("rb") as handle:
        text = handle.read(SAMPLE_BYTES).decode("utf-8", errors="replace").lstrip("\ufeff \t\r\n")[1:]
    text = text.lstrip()
    if text.startswith("]"):
        return "the array is empty"
    try:
        first, _ = json.JSONDecoder().raw_decode(text)
    except ValueError:
        return "the array does not hold objects"
    if isinstance(first, dict):
        return "not every item of the array is an object with named fields"
    kinds = {bool: "true/false values", str: "strings", list: "arrays", type(None): "nulls"}
    return f"it is an array of {kinds.get(type(first), 'numbers')}, not of objects"


class _Reader:
    def __init__(self, source: Path, con: duckdb.DuckDBPyConnection, fmt: str) -> None:
        self.source, self.con, self.format = source, con, fmt
        size = source.stat().st_size + 1  # a wrapping object is one value as long as the file
        self.object_size = min(max(size, 16 * 1024**2), 2**32 - 1) if fmt == "unstructured" else None

    def sql(self, sample: int, columns: dict[str, str] | None = None) -> str:
        options = [
            f"format := {_literal(self.format)}",
            "records := 'true'",
            "map_inference_threshold := -1",
            f"sample_size := {sample}",
        ]
        if self.object_size is not None:
            options.append(f"maximum_object_size := {self.object_size}")
        if columns is not None:
            declared = ", ".join(f"{_literal(name)}: {_literal(kind)}" for name, kind in columns.items())
            options.append(f"columns := {{{declared}}}")
        return f"SELECT * FROM read_json({_literal(str(self.source))}, {', '.join(options)})"

    def relation(self, sql: str) -> duckdb.DuckDBPyRelation:
        """Bind a query (this is when read_json infers the schema, reading a sample); nothing runs yet."""
        return self.con.sql(sql)


def _plan(reader: _Reader, shape: str, sample: int) -> tuple[str, list[_Field], list[str]]:
    """Return the SQL of the records, their fields and notes; raise IngestError when not tabular."""
    inferred = reader.relation(reader.sql(sample))
    fields = list(zip(inferred.columns, inferred.types, strict=True))
    notes: list[str] = []
    unwrap: str | None = None
    if shape == "object":
        rows = reader.con.execute(f"SELECT count(*) FROM ({reader.sql(sample)} LIMIT 2)").fetchone()
        if rows is not None and rows[0] == 1:
            unwrap = _wrapped_list(fields)
            others = ", ".join(repr(name) for name, _ in fields if name != unwrap)
            if others:
                notes.append(f"Only the list '{unwrap}' was read; the other members were ignored: {others}.")
    if unwrap is None:
        declared = {name: _declared(kind) for name, kind in fields}
        record_fields = fields
    else:
        record_fields = list(_children(_children(dict(fields)[unwrap])[0][1]))
        members = ", ".join(f"{quote(name)} {_declared(kind)}" for name, kind in record_fields)
        declared = {unwrap: f"STRUCT({members})[]"}
    # Keys that differ only in case were renamed by DuckDB ("A_1") and cannot be declared: keep its types.
    sql = reader.sql(sample) if _renamed(record_fields) else reader.sql(sample, declared)
    if unwrap is None:
        relation = reader.relation(sql)
        record = [
            _Field(name, kind, quote(name))
            for name, kind in zip(relation.columns, relation.types, strict=True)
        ]
        return sql, record, notes
    sql = f"SELECT unnest({quote(unwrap)}) AS {_RECORD} FROM ({sql})"
    element = reader.relation(sql).types[0]
    record = [
        _Field(name, kind, f"struct_extract({_RECORD}, {_literal(name)})")
        for name, kind in _children(element)
    ]
    return sql, record, notes


def _renamed(fields: list[tuple[str, DuckDBPyType]]) -> bool:
    """Whether DuckDB renamed keys that differ only in case (it suffixes the later ones "_1", "_2"...)."""
    levels = [[name for name, _ in fields]]
    levels += [[name for name, _ in _children(kind)] for _, kind in fields if _flattens(kind)]
    for names in levels:
        lowered = {name.lower() for name in names}
        if any(
            re.fullmatch(r"(.+)_\d+", name) and name.rsplit("_", 1)[0].lower() in lowered for name in names
        ):
            return True
    return False


def _wrapped_list(fields: list[tuple[str, DuckDBPyType]]) -> str:
    """Return the one member of a single object that is a list of objects, or refuse the object."""
    lists = [name for name, kind in fields if kind.id == "list" and _children(kind)[0][1].id == "struct"]
    if len(lists) == 1:
        return lists[0]
    if lists:
        raise IngestError(f"{_NOT_TABLE}the object holds several lists of records ({', '.join(lists)}).")
    if fields and all(kind.id in {"struct", "map"} for _, kind in fields):
        raise IngestError(f"{_NOT_TABLE}it is an object of objects; expected an array of objects.")
    raise IngestError(f"{_NOT_TABLE}it is a single object without a list of records in it.")


def read(source: Path, con: duckdb.DuckDBPyConnection, limits: IngestLimits) -> ReadResult:
    """Stage a JSON or JSON Lines file as one table named "data"."""
    shape, fmt = _shape(source)
    reader = _Reader(source, con, fmt)
    staging = "__nexus_stage_1"
    for sample in (20_480, -1):  # if later records disagree with the sample, infer from all of them
        try:
            sql, fields, notes = _plan(reader, shape, sample)
        except duckdb.BinderException as error:
            if "expected records" not in str(error):
                raise IngestError(f"The JSON could not be read: {_reason(error, source)}") from error
            detail = _describe_array(source) if shape == "array" else "its values are not objects"
            raise IngestError(_NOT_TABLE + detail + ".") from error
        except duckdb.Error as error:
            raise IngestError(f"The JSON could not be read: {_reason(error, source)}") from error
        columns = _columns(fields)
        if len(columns) > limits.max_columns:
            raise IngestError(f"The JSON has {len(columns):,} columns; the limit is {limits.max_columns:,}.")
        names = unique_names(label for label, _ in columns)
        select = ", ".join(f"{expr} AS {quote(name)}" for name, (_, expr) in zip(names, columns, strict=True))
        try:
            con.execute(f"CREATE OR REPLACE TABLE {quote(staging)} AS SELECT {select} FROM ({sql})")
            break
        except duckdb.Error as error:
            if sample == -1:
                raise IngestError(f"The JSON could not be read: {_reason(error, source)}") from error
    labels = {name: label for name, (label, _) in zip(names, columns, strict=True)}
    kind = "jsonl" if shape == "lines" else "json"
    return ReadResult(
        format=kind, tables=[StagedTable(name="data", staging=staging, labels=labels, notes=notes)]
    )
