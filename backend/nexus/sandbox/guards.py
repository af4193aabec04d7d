"""What sandboxed code sees: safe builtins, wrapped helpers and the guards RestrictedPython calls.

RestrictedPython rewrites ``a.b`` to ``_getattr_(a, "b")``, ``a[b]`` to ``_getitem_(a, b)``, for-loops
to ``_getiter_(...)``, assignments to attributes and items through ``_write_`` and ``print`` through
``_print_``. Each guard here refuses what the AST policy refuses (so names built at run time fare no
better than names written out) and, whatever the name, never hands back a module, frame, code object
or traceback.
"""

from __future__ import annotations

import builtins
import datetime as _datetime
import math as _math
import operator
import statistics as _statistics
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as _np
import pandas as _pd
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence, safer_getattr

from nexus.sandbox.policy import FORBIDDEN_NAMES, forbidden_attribute

_MISSING = object()

_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})
"""Modules the interpreter's own C code imports on behalf of the running code, already loaded."""

_UNREACHABLE = (types.ModuleType, types.FrameType, types.CodeType, types.TracebackType)


class SandboxViolation(Exception):
    """The code reached for something the sandbox refuses while it ran."""


class Helper:
    """A read-only stand-in for a module that offers only the names it was given."""

    __slots__ = ("_label", "_members")

    def __init__(self, label: str, members: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "_members", dict(members))

    def __getattr__(self, name: str) -> Any:
        members = object.__getattribute__(self, "_members")
        if name in members:
            return members[name]
        label = object.__getattribute__(self, "_label")
        raise AttributeError(f"{label}.{name} is not available in the sandbox")

    def __setattr__(self, name: str, value: Any) -> None:
        raise SandboxViolation("helpers cannot be changed")

    def __delattr__(self, name: str) -> None:
        raise SandboxViolation("helpers cannot be changed")

    def __dir__(self) -> Iterable[str]:
        return sorted(object.__getattribute__(self, "_members"))

    def __repr__(self) -> str:
        return f"<sandbox helper {object.__getattribute__(self, '_label')}>"


def _pick(module: Any, names: Iterable[str]) -> dict[str, Any]:
    return {name: getattr(module, name) for name in names if hasattr(module, name)}


PANDAS_NAMES = (
    "DataFrame Series Index MultiIndex DatetimeIndex PeriodIndex TimedeltaIndex IntervalIndex RangeIndex "
    "CategoricalIndex Categorical CategoricalDtype Interval Period Timestamp Timedelta DateOffset NamedAgg "
    "Grouper NA NaT concat merge merge_asof merge_ordered pivot pivot_table crosstab melt wide_to_long cut "
    "qcut get_dummies from_dummies factorize unique isna isnull notna notnull to_datetime to_numeric "
    "to_timedelta date_range bdate_range period_range timedelta_range interval_range infer_freq "
    "array Float64Dtype Int64Dtype StringDtype BooleanDtype"
).split()

NUMPY_NAMES = (
    "abs absolute add all allclose any append arange arccos arcsin arctan arctan2 argmax argmin argsort "
    "around array array_equal asarray average bincount bool_ ceil clip column_stack concatenate corrcoef "
    "cos cosh count_nonzero cov cross cumprod cumsum datetime64 deg2rad degrees diag diff digitize divide "
    "dot dtype e empty equal exp exp2 expm1 eye fabs flatnonzero flip float32 float64 floor floor_divide "
    "fmax fmin full full_like gradient greater greater_equal histogram histogram_bin_edges hstack hypot "
    "identity inf int8 int16 int32 int64 interp intersect1d isclose isfinite isin isinf isnan isnat "
    "less less_equal linspace log log10 log1p log2 logical_and logical_not logical_or logical_xor "
    "logspace matmul max maximum mean median meshgrid min minimum mod multiply nan nan_to_num nanargmax "
    "nanargmin nancumsum nanmax nanmean nanmedian nanmin nanpercentile nanprod nanquantile nanstd nansum "
    "nanvar ndarray negative newaxis nonzero not_equal ones ones_like outer percentile pi polyfit polyval "
    "power prod ptp quantile rad2deg radians ravel reciprocal remainder repeat reshape rint round "
    "searchsorted select setdiff1d sign sin sinh sort sqrt square squeeze stack std subtract sum take "
    "tan tanh tile timedelta64 trace transpose trapezoid tril triu true_divide trunc uint8 union1d unique "
    "var vstack where zeros zeros_like str_ object_ cumulative_sum vectorize"
).split()

LINALG_NAMES = "norm inv pinv det eig eigh eigvals svd solve lstsq matrix_rank qr cholesky".split()
RANDOM_NAMES = ("default_rng",)

MATH_NAMES = [name for name in dir(_math) if not name.startswith("_")]
STATISTICS_NAMES = (
    "mean fmean geometric_mean harmonic_mean median median_low median_high median_grouped mode multimode "
    "pstdev pvariance stdev variance quantiles correlation covariance linear_regression NormalDist "
    "StatisticsError"
).split()
DATETIME_NAMES = ("date", "datetime", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR", "UTC")


def helpers() -> dict[str, Helper]:
    """Return the wrapped helpers, keyed by the module name that imports them."""
    numpy_members = _pick(_np, NUMPY_NAMES)
    numpy_members["linalg"] = Helper("numpy.linalg", _pick(_np.linalg, LINALG_NAMES))
    numpy_members["random"] = Helper("numpy.random", _pick(_np.random, RANDOM_NAMES))
    return {
        "pandas": Helper("pandas", _pick(_pd, PANDAS_NAMES)),
        "numpy": Helper("numpy", numpy_members),
        "math": Helper("math", _pick(_math, MATH_NAMES)),
        "statistics": Helper("statistics", _pick(_statistics, STATISTICS_NAMES)),
        "datetime": Helper("datetime", _pick(_datetime, DATETIME_NAMES)),
    }


def _refuse_unreachable(value: Any, what: str) -> Any:
    if isinstance(value, _UNREACHABLE):
        raise SandboxViolation(f"{what} leads to {type(value).__name__} objects, which the sandbox refuses")
    return value


def guarded_getattr(obj: Any, name: str, default: Any = None, *more: Any) -> Any:
    """``obj.name``, refused for private and forbidden names and for module-like results."""
    if not isinstance(name, str):
        raise SandboxViolation("attribute names must be strings")
    if forbidden_attribute(name):
        raise SandboxViolation(f"attribute {name!r} is not available in the sandbox")
    if isinstance(obj, str) and name in ("format", "format_map"):
        raise SandboxViolation("str.format is not available in the sandbox")
    if isinstance(obj, BaseException) and name != "args":
        # AttributeError.obj, KeyError's context... would hand back objects a library was holding
        raise SandboxViolation("exceptions offer only .args in the sandbox")
    value = safer_getattr(obj, name, _MISSING)  # type: ignore[no-untyped-call]  # RestrictedPython's checks too
    if value is _MISSING:
        getattr(obj, name)  # raises the AttributeError the code would have seen
    return _refuse_unreachable(value, f"attribute {name!r}")


def guarded_getitem(obj: Any, key: Any) -> Any:
    """``obj[key]``, never returning a module, frame, code object or traceback."""
    return _refuse_unreachable(obj[key], "this item")


_WRITABLE_REFUSED = (
    type,
    types.ModuleType,
    Helper,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.MethodType,
)


def guarded_write(obj: Any) -> Any:
    """Allow assignments to attributes and items of data, never of classes, functions or helpers."""
    if isinstance(obj, _WRITABLE_REFUSED):
        raise SandboxViolation(f"{type(obj).__name__} objects cannot be changed in the sandbox")
    return obj


_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def inplace(op: str, left: Any, right: Any) -> Any:
    """``x op= y`` for plain names."""
    return _INPLACE[op](left, right)


class Output:
    """Collects what ``print`` writes, up to a limit; what is past it is counted, not kept."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def write(self, text: str) -> None:
        """Keep ``text`` while there is room."""
        room = self.limit - self.size
        if room <= 0:
            self.dropped += len(text)
            return
        kept = text[:room]
        self.parts.append(kept)
        self.size += len(kept)
        self.dropped += len(text) - len(kept)

    def flush(self) -> None:
        """Nothing to flush; here for file-like callers."""

    def text(self) -> str:
        """Return what was kept."""
        return "".join(self.parts)


class _Printer:
    """What RestrictedPython's ``_print_`` factory returns: ``print`` calls land in ``Output``."""

    def __init__(self, output: Output) -> None:
        self.output = output

    def _call_print(self, *objects: Any, sep: str = " ", end: str = "\n", **_: Any) -> None:
        self.output.write(str(sep).join(str(item) for item in objects) + str(end))

    def __call__(self) -> str:
        return self.output.text()


_SAFE_BUILTIN_NAMES = (
    "abs all any ascii bin bool callable chr complex dict divmod enumerate filter float frozenset hash "
    "hex int isinstance issubclass iter len list map max min next oct ord pow range repr reversed round "
    "set slice sorted str sum tuple zip True False None NotImplemented Ellipsis "
    "ArithmeticError AssertionError AttributeError Exception IndexError KeyError LookupError MemoryError "
    "NameError OverflowError RecursionError RuntimeError StopIteration TypeError ValueError "
    "ZeroDivisionError"
).split()


def safe_builtins() -> dict[str, Any]:
    """Return the short list of builtins sandboxed code may call."""
    found = {name: getattr(builtins, name) for name in _SAFE_BUILTIN_NAMES}
    assert not FORBIDDEN_NAMES & found.keys()
    return found


def namespace(
    tables: Mapping[str, _pd.DataFrame], output: Output, modules: Mapping[str, Helper]
) -> dict[str, Any]:
    """Return the globals one run of sandboxed code starts from."""

    def guarded_import(
        name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0
    ) -> Any:
        if not level and name in _INTERNAL_IMPORTS and name in sys.modules:
            # C code imports through the caller's builtins (datetime's strftime imports time); the
            # policy refuses these names in the code itself, so only the interpreter gets here.
            return sys.modules[name]
        if level or name not in modules:
            raise SandboxViolation(f"import of {name!r} is not available in the sandbox")
        helper = modules[name]
        for item in fromlist or ():
            getattr(helper, item)
        return helper

    built = safe_builtins()
    built["__import__"] = guarded_import
    printer = _Printer(output)
    scope: dict[str, Any] = {
        "__builtins__": built,
        "__name__": "analysis",
        "_getattr_": guarded_getattr,
        "_getitem_": guarded_getitem,
        "_getiter_": iter,
        "_write_": guarded_write,
        "_inplacevar_": inplace,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_print_": lambda _getattr=None: printer,
        "_apply_": lambda fn, *args, **kwargs: fn(*args, **kwargs),
        "pd": modules["pandas"],
        "np": modules["numpy"],
        "math": modules["math"],
        "statistics": modules["statistics"],
        "datetime": modules["datetime"],
        "tables": dict(tables),
        "result": None,
    }
    if len(tables) == 1:
        scope["df"] = next(iter(tables.values()))
    return scope
