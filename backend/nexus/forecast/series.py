"""A measure over time as a regular series: one value per period, its gaps filled and counted.

``regularise`` turns rows (a date and a number each, in any order, several per period or none) into
one value per period at a grain, inferred from the dates' spacing when not given. ``seasonal_period``
says how many periods make a season: the grain's own (12 months, 4 quarters...) when the data shows
it, a cycle the data shows clearly otherwise (yearly sunspots: about 10 years), else 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from nexus.forecast.errors import ForecastError

Grain = Literal["day", "week", "month", "quarter", "year"]
Fill = Literal["auto", "zero", "interpolate"]
GRAINS: tuple[Grain, ...] = get_args(Grain)

FREQ: dict[Grain, str] = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}
_PERIOD: dict[Grain, str] = {"day": "D", "week": "W-SUN", "month": "M", "quarter": "Q", "year": "Y"}
DAYS: dict[Grain, float] = {"day": 1.0, "week": 7.0, "month": 30.44, "quarter": 91.31, "year": 365.25}
DEFAULT_SEASON: dict[Grain, int] = {"day": 7, "week": 52, "month": 12, "quarter": 4, "year": 1}

ZERO_FILL = "zero (no rows in a period means nothing was recorded in it)"
LINEAR_FILL = "linear interpolation between the neighbouring periods"
NO_FILL = "none (no gaps)"

SPARSE_SHARE = 0.5
"""An inferred grain is made coarser while more than this share of its periods would be empty."""
SEASON_ACF = 0.25
"""The grain's season is used when the detrended series' autocorrelation at that lag is above this."""
CYCLE_ACF = 0.3
"""A cycle found in the data must reach this autocorrelation at its peak (more in short series)."""


@dataclass
class RegularSeries:
    """One value per period at a regular grain, with what was done to make it so."""

    values: pd.Series
    """Indexed by period starts: a ``DatetimeIndex`` with a regular ``freq`` (``FREQ[grain]``)."""
    grain: Grain
    filled: int
    """Periods inside the range that had no rows and were filled."""
    fill_method: str
    """How those gaps were filled, in words (``NO_FILL`` when there were none)."""
    partial_dropped: int = 0
    """Incomplete first or last periods left out of a sum (part of a month would read as a fall)."""


def _as_series(data: Sequence[Any] | pd.Series) -> pd.Series:
    if isinstance(data, pd.Series):
        return data.reset_index(drop=True)
    return pd.Series(list(data))


def _parse_dates(dates: Sequence[Any] | pd.Series) -> pd.Series:
    raw = _as_series(dates)
    if not raw.notna().any():
        return pd.Series(pd.NaT, index=raw.index, dtype="datetime64[us]")
    if pd.api.types.is_bool_dtype(raw.dtype):
        raise ForecastError("The time column holds true/false values, not dates.")
    if pd.api.types.is_numeric_dtype(raw.dtype):
        numbers = raw.astype(float)
        present = numbers.dropna()
        if len(present) and bool(((present == present.round()) & present.between(1000, 2999)).all()):
            years = numbers.map(lambda year: f"{int(year)}-01-01" if year == year else None)
            return pd.Series(pd.to_datetime(years, format="%Y-%m-%d", errors="coerce"))
        raise ForecastError("The time column holds numbers that are not years; a forecast needs dates.")
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        return raw
    parsed = pd.Series(pd.to_datetime(raw, errors="coerce", format="ISO8601", utc=False))
    if parsed.notna().sum() < raw.notna().sum() / 2:
        parsed = pd.Series(pd.to_datetime(raw, errors="coerce", format="mixed"))
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        parsed = parsed.dt.tz_localize(None)
    if parsed.notna().sum() < max(1, raw.notna().sum() / 2):
        raise ForecastError("The time column does not hold dates that can be read.")
    return parsed


def _parse_values(values: Sequence[Any] | pd.Series) -> pd.Series:
    raw = _as_series(values)
    if pd.api.types.is_bool_dtype(raw.dtype):
        raw = raw.astype(float)
    numbers = pd.to_numeric(raw, errors="coerce")
    if raw.notna().any() and numbers.notna().sum() < raw.notna().sum() / 2:
        raise ForecastError("The measure is not numeric; a forecast needs numbers over time.")
    floats = numbers.astype(float)
    return floats.where(np.isfinite(floats))


def period_starts(dates: pd.Series, grain: Grain) -> pd.Series:
    """Return the start of the period (at the grain) each date falls in; weeks start on Monday."""
    return dates.dt.to_period(_PERIOD[grain]).dt.start_time


def _median_spacing_days(dates: pd.Series) -> float:
    days = np.unique(dates.to_numpy(dtype="datetime64[s]").astype("datetime64[D]"))
    return float(np.median(np.diff(days).astype(float))) if len(days) > 1 else 1.0


def _empty_share(dates: pd.Series, grain: Grain) -> float:
    starts = period_starts(dates, grain).unique()
    span = len(pd.date_range(starts.min(), starts.max(), freq=FREQ[grain]))
    return 1.0 - len(starts) / span


def infer_grain(dates: pd.Series) -> Grain:
    """Return the grain the dates' median spacing suggests, made coarser while it would be mostly gaps."""
    spacing = _median_spacing_days(dates)
    grain: Grain = next((g for g in GRAINS if spacing <= DAYS[g] * 1.5), "year")
    while grain != "year" and _empty_share(dates, grain) > SPARSE_SHARE:
        grain = GRAINS[GRAINS.index(grain) + 1]
    return grain


def _drop_partial(per_period: pd.Series, dates: pd.Series, grain: Grain) -> tuple[pd.Series, int]:
    """Leave out a first or last period the rows cover only in part (their sum would understate it)."""
    if len(per_period) < 4:
        return per_period, 0
    slack = pd.Timedelta(days=2 * max(_median_spacing_days(dates), 1.0))
    first_day, last_day = dates.min().normalize(), dates.max().normalize()
    dropped = 0
    if first_day - per_period.index[0] > slack:
        per_period, dropped = per_period.iloc[1:], dropped + 1
    next_start = pd.date_range(per_period.index[-1], periods=2, freq=FREQ[grain])[1]
    if next_start - (last_day + pd.Timedelta(days=1)) > slack:
        per_period, dropped = per_period.iloc[:-1], dropped + 1
    return per_period, dropped


def _fill_method(fill: Fill, how: str, grain: Grain, finer_rows: bool) -> str:
    if fill == "zero":
        return ZERO_FILL
    if fill == "interpolate":
        return LINEAR_FILL
    # Summed events (several rows per period, or days: a log summed per day) had none in a period
    # without rows. A table already at a coarser grain (one row a month), or an average, has a
    # missing value there instead.
    return ZERO_FILL if how == "sum" and (finer_rows or grain == "day") else LINEAR_FILL


def regularise(
    dates: Sequence[Any] | pd.Series,
    values: Sequence[Any] | pd.Series,
    *,
    grain: Grain | None = None,
    how: Literal["sum", "mean"] = "sum",
    fill: Fill = "auto",
) -> RegularSeries:
    """Aggregate rows to one value per period at the grain (inferred when None) and fill the gaps.

    ``fill="auto"`` fills a sum with zero when several rows were summed into each period, or at the
    day grain (events: no rows, nothing happened), and interpolates linearly otherwise (a missing
    month of a monthly table, or of an average, is unknown, not zero). Rows without a date or a
    number are left out.
    """
    when, numbers = _parse_dates(dates), _parse_values(values)
    if len(when) != len(numbers):
        raise ValueError(f"{len(when)} dates but {len(numbers)} values")
    keep = when.notna() & numbers.notna()
    when, numbers = when[keep].reset_index(drop=True), numbers[keep].reset_index(drop=True)
    if when.nunique() < 2:
        raise ForecastError(f"A forecast needs values on at least two dates; there are {when.nunique()}.")
    chosen: Grain = grain if grain is not None else infer_grain(when)
    frame = pd.DataFrame({"period": period_starts(when, chosen).to_numpy(), "value": numbers.to_numpy()})
    grouped = frame.groupby("period")["value"]
    per_period = grouped.sum() if how == "sum" else grouped.mean()
    finer_rows = float(grouped.size().median()) > 1
    dropped = 0
    if how == "sum" and finer_rows:
        per_period, dropped = _drop_partial(per_period, when, chosen)
    index = pd.date_range(per_period.index[0], per_period.index[-1], freq=FREQ[chosen], name="period")
    regular = per_period.reindex(index)
    gaps = int(regular.isna().sum())
    method = _fill_method(fill, how, chosen, finer_rows)
    if gaps and method == LINEAR_FILL and gaps > len(regular) / 2:
        raise ForecastError(
            f"{gaps} of {len(regular)} {chosen}s have no value: the data is sparser than one row per "
            f"{chosen}; ask for a coarser grain."
        )
    regular = regular.fillna(0.0) if method == ZERO_FILL else regular.interpolate("linear")
    regular = regular.astype(float).rename("value")
    return RegularSeries(regular, chosen, gaps, method if gaps else NO_FILL, dropped)


def _detrended(y: np.ndarray, period: int) -> np.ndarray:
    """Return y less its centred moving average over one period (a 2 x period average when even)."""
    width = period + (period % 2 == 0)
    weights = np.ones(width)
    if period % 2 == 0:
        weights[0] = weights[-1] = 0.5
    trend = np.convolve(y, weights / weights.sum(), mode="valid")
    edge = (width - 1) // 2
    return y[edge : len(y) - edge] - trend


def autocorrelation(x: np.ndarray, max_lag: int) -> np.ndarray:
    """Return the sample autocorrelation of x at lags 0..max_lag (0 where x does not vary)."""
    centred = x - x.mean()
    denominator = float(centred @ centred)
    if denominator <= 0:
        return np.zeros(max_lag + 1)
    return np.array(
        [float(centred[lag:] @ centred[: len(x) - lag]) / denominator for lag in range(max_lag + 1)]
    )


def _cycle(y: np.ndarray) -> int | None:
    """Return a cycle length the data shows clearly (a trough below zero, then a peak), with 3 cycles."""
    n = len(y)
    if n < 12:
        return None
    steps = np.arange(n, dtype=float)
    residual = y - np.polyval(np.polyfit(steps, y, 1), steps)
    if not _varies(residual, y):
        return None
    acf = autocorrelation(residual, min(n // 3, 400))
    peaks = [lag for lag in range(2, len(acf) - 1) if acf[lag] > acf[lag - 1] and acf[lag] >= acf[lag + 1]]
    # Short series swing by chance: the bar rises to 2.5 standard errors of white noise's autocorrelation.
    bar = max(CYCLE_ACF, 2.5 / np.sqrt(n))
    clear = [lag for lag in peaks if acf[lag] >= bar and acf[1:lag].min() < 0 and n >= 3 * lag]
    return max(clear, key=lambda lag: acf[lag]) if clear else None


def seasonal_period(series: RegularSeries) -> int:
    """Return the periods in a season: the grain's when the data shows it, else a clear cycle, else 1.

    The grain's season (12 months, 4 quarters, 52 weeks, 7 days) needs two full seasons and an
    autocorrelation above ``SEASON_ACF`` at that lag once the trend is taken out. Failing that, a
    cycle is taken from the data only when it is plain (see ``_cycle``): yearly sunspots and lynx.
    """
    y = series.values.to_numpy(dtype=float)
    default = DEFAULT_SEASON[series.grain]
    if default > 1 and len(y) >= 2 * default:
        residual = _detrended(y, default)
        if _varies(residual, y) and autocorrelation(residual, default)[default] > SEASON_ACF:
            return default
    return _cycle(y) or 1


def _varies(residual: np.ndarray, y: np.ndarray) -> bool:
    """Return whether a residual is more than rounding (a straight line leaves none to correlate)."""
    return len(residual) > 2 and float(np.ptp(residual)) > 1e-9 * max(1.0, float(np.max(np.abs(y))))
