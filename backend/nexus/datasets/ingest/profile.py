"""Column profiles and semantic roles: what later agents use to pick time axes, sums and join keys."""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any

import duckdb

from nexus.datasets.ingest.names import quote
from nexus.datasets.ingest.typing import ColumnType

TOP_VALUES = 5
_MAX_TOP_COLUMNS = 200
_EXACT_DISTINCT_ROWS = 200_000
_EMAIL = r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$"
_ID_NAME = re.compile(r"(^|_)(id|key|code|no|number|uuid|ref|reference|sku)$|^(id|uuid|key)_", re.IGNORECASE)
_MONEY_NAME = re.compile(
    r"amount|amt|price|cost|revenue|sales|total|fee|balance|payment|paid|salary|income|spend|charge|"
    r"debit|credit|profit|tax|discount|value_(usd|eur|myr)|gross|net",
    re.IGNORECASE,
)


def _type_name(duckdb_type: str) -> str:
    upper = duckdb_type.upper()
    if upper in {"BOOLEAN"}:
        return "boolean"
    if upper in {
        "TINYINT",
        "SMALLINT",
        "INTEGER",
        "BIGINT",
        "HUGEINT",
        "UTINYINT",
        "USMALLINT",
        "UINTEGER",
        "UBIGINT",
    }:
        return "integer"
    if upper in {"FLOAT", "DOUBLE", "REAL"} or upper.startswith("DECIMAL"):
        return "number"
    if upper == "DATE":
        return "date"
    if upper.startswith("TIMESTAMP"):
        return "datetime"
    if upper.startswith("TIME"):
        return "time"
    return "text"


def json_safe(value: Any) -> Any:
    """Return a value JSON can carry (dates as ISO text, decimals as floats, NaN as null)."""
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, int | str | bool) or value is None:
        return value
    return str(value)


def _role(
    name: str, label: str, type_name: str, stats: dict[str, Any], rows: int, detail: dict[str, Any]
) -> str:
    distinct = stats["distinct_count"]
    non_null = rows - stats["null_count"]
    words = f"{name} {label}"
    # 'PassengerId' and 'customerID' name identifiers as much as 'customer_id' does.
    snake_label = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", label).lower()
    id_named = bool(_ID_NAME.search(name) or _ID_NAME.search(snake_label))
    if type_name == "boolean":
        return "boolean"
    if type_name == "date":
        return "date"
    if type_name == "datetime":
        return "datetime"
    if type_name in {"integer", "number"}:
        if detail.get("percent"):
            return "measure"
        if detail.get("currency") or (_MONEY_NAME.search(words) and not id_named):
            return "amount"
        if id_named and type_name == "integer" and non_null and distinct >= 0.95 * non_null:
            return "id"
        return "measure"
    if stats.get("email_fraction", 0) >= 0.9:
        return "email"
    if non_null and distinct >= 0.95 * non_null and (id_named or stats.get("max_length", 99) <= 40):
        return "id" if id_named or distinct > 50 else "category"
    if distinct <= max(50, int(0.05 * non_null)) and stats.get("max_length", 0) <= 100:
        return "category"
    return "text"


def profile_table(
    con: duckdb.DuckDBPyConnection, table: str, labels: dict[str, str], types: dict[str, ColumnType]
) -> tuple[int, list[dict[str, Any]]]:
    """Return the row count and one profile per column of a typed table."""
    described = con.execute(f"DESCRIBE {quote(table)}").fetchall()
    columns = [(str(row[0]), str(row[1])) for row in described]
    count_row = con.execute(f"SELECT count(*) FROM {quote(table)}").fetchone()
    rows = int(count_row[0]) if count_row else 0
    distinct_fn = "count(DISTINCT {c})" if rows <= _EXACT_DISTINCT_ROWS else "approx_count_distinct({c})"
    parts: list[str] = []
    for name, duckdb_type in columns:
        c = quote(name)
        type_name = _type_name(duckdb_type)
        parts += [f"count({c})", distinct_fn.format(c=c)]
        if type_name == "text" and duckdb_type.upper() != "VARCHAR":
            parts += ["NULL", "NULL", "NULL", "NULL"]  # BLOB, JSON, nested: no length, no order
        elif type_name in {"date", "datetime", "time"}:
            parts += ["NULL", "NULL", f"CAST(min({c}) AS VARCHAR)", f"CAST(max({c}) AS VARCHAR)"]
        elif type_name == "text":
            parts += [
                f"max(length({c}))",
                f"avg(CASE WHEN contains({c}, '@') AND regexp_full_match({c}, '{_EMAIL}') "
                "THEN 1.0 ELSE 0.0 END) "
                f"FILTER (WHERE {c} IS NOT NULL)",
                "NULL",
                "NULL",
            ]
        else:
            parts += ["NULL", "NULL", f"min({c})", f"max({c})"]
    values = con.execute(f"SELECT {', '.join(parts)} FROM {quote(table)}").fetchone() or ()
    profiles: list[dict[str, Any]] = []
    for index, (name, duckdb_type) in enumerate(columns):
        non_null, distinct, max_length, email_fraction, minimum, maximum = values[index * 6 : index * 6 + 6]
        type_name = _type_name(duckdb_type)
        column_type = types.get(name)
        detail = dict(column_type.detail) if column_type else {}
        stats = {
            "null_count": rows - int(non_null or 0),
            "distinct_count": int(distinct or 0),
            "max_length": int(max_length or 0),
            "email_fraction": float(email_fraction or 0),
        }
        label = labels.get(name, name)
        profile: dict[str, Any] = {
            "name": name,
            "label": label,
            "type": type_name,
            "storage_type": duckdb_type,
            "role": _role(name, label, type_name, stats, rows, detail),
            "null_fraction": round(stats["null_count"] / rows, 6) if rows else 0.0,
            "distinct_count": stats["distinct_count"],
            "min": json_safe(minimum),
            "max": json_safe(maximum),
            "top_values": [],
            "dropped": column_type.dropped if column_type else 0,
        }
        if detail:
            profile["format"] = detail
        mostly_unique = stats["distinct_count"] > (rows - stats["null_count"]) // 2
        if index < _MAX_TOP_COLUMNS and profile["role"] in {"category", "boolean"} | (
            set() if mostly_unique else {"email", "text"}
        ):
            profile["top_values"] = _top_values(con, table, name)
        profiles.append(profile)
    return rows, profiles


def _top_values(con: duckdb.DuckDBPyConnection, table: str, name: str) -> list[dict[str, Any]]:
    c = quote(name)
    rows = con.execute(
        f"SELECT {c}, count(*) AS n FROM {quote(table)} WHERE {c} IS NOT NULL "
        f"GROUP BY {c} ORDER BY n DESC, {c} LIMIT {TOP_VALUES}"
    ).fetchall()
    return [{"value": json_safe(value), "count": int(count)} for value, count in rows]
