"""Turn what sandboxed code left in ``result`` into JSON-safe data, with size limits."""

from __future__ import annotations

import datetime as dt
import decimal
import math
from typing import Any

import numpy as np
import pandas as pd

MAX_DEPTH = 6
MAX_ITEMS = 10_000


class ResultError(Exception):
    """``result`` holds something that cannot be returned."""


def _type_name(dtype: Any) -> str:
    if pd.api.types.is_bool_dtype(dtype):
        return "boolean"
    if pd.api.types.is_integer_dtype(dtype):
        return "integer"
    if pd.api.types.is_float_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        return "number"
    if isinstance(dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "duration"
    return "text"


def scalar(value: Any) -> Any:
    """Return one value as JSON-safe data (numbers stay numbers, dates become ISO strings)."""
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, (complex, np.complexfloating)):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, (pd.Timedelta, dt.timedelta, np.timedelta64)):
        return str(pd.Timedelta(value))
    if isinstance(value, (pd.Period, pd.Interval)):
        return str(value)
    if isinstance(value, bytes):
        raise ResultError("bytes cannot be returned; decode them to text first")
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    raise ResultError(f"a {type(value).__name__} cannot be returned; return numbers, text, dates or tables")


def _label(value: Any) -> str:
    if isinstance(value, tuple):
        return " / ".join(str(part) for part in value if str(part) != "")
    return str(value)


def table(frame: pd.DataFrame, max_rows: int) -> dict[str, Any]:
    """Return a DataFrame as columns and rows; a meaningful index becomes leading columns."""
    if not isinstance(frame.index, pd.RangeIndex) or frame.index.name is not None:
        names = [
            name if name is not None else ("index" if frame.index.nlevels == 1 else f"level_{i}")
            for i, name in enumerate(frame.index.names)
        ]
        taken = {_label(c) for c in frame.columns}
        if not any(str(n) in taken for n in names):
            frame = frame.reset_index(names=names)
    columns = [{"name": _label(name), "type": _type_name(dtype)} for name, dtype in frame.dtypes.items()]
    head = frame.head(max_rows)
    rows = [[scalar(value) for value in row] for row in head.itertuples(index=False, name=None)]
    return {"columns": columns, "rows": rows, "row_count": len(frame), "truncated": len(frame) > max_rows}


def _plain(value: Any, depth: int, budget: list[int]) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise ResultError(f"the result holds more than {MAX_ITEMS:,} values; return a table instead")
    if depth > MAX_DEPTH:
        raise ResultError(f"the result is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        return {_label(key): _plain(item, depth + 1, budget) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset, np.ndarray, pd.Index)):
        items = value.tolist() if isinstance(value, (np.ndarray, pd.Index)) else list(value)
        return [_plain(item, depth + 1, budget) for item in items]
    if isinstance(value, pd.Series):
        return {_label(key): _plain(item, depth + 1, budget) for key, item in value.items()}
    if isinstance(value, pd.DataFrame):
        raise ResultError("tables inside a dict or list cannot be returned; return the table itself")
    return scalar(value)


def payload(value: Any, max_rows: int) -> dict[str, Any]:
    """Return ``result`` as ``{kind, ...}``: a table, a scalar value, a dict or a list."""
    if isinstance(value, pd.DataFrame):
        return {"kind": "table", **table(value, max_rows)}
    if isinstance(value, pd.Series):
        name = value.name if value.name is not None else "value"
        return {"kind": "table", **table(value.to_frame(name=name), max_rows)}
    if isinstance(value, (pd.Index, np.ndarray)) and getattr(value, "ndim", 1) == 1:
        return {"kind": "list", "value": _plain(value[: MAX_ITEMS + 1], 0, [MAX_ITEMS])}
    if isinstance(value, np.ndarray):
        return {"kind": "table", **table(pd.DataFrame(value), max_rows)}
    if isinstance(value, dict):
        return {"kind": "dict", "value": _plain(value, 0, [MAX_ITEMS])}
    if isinstance(value, (list, tuple, set, frozenset)):
        return {"kind": "list", "value": _plain(value, 0, [MAX_ITEMS])}
    if value is None:
        return {"kind": "none", "value": None}
    return {"kind": "scalar", "value": scalar(value)}
