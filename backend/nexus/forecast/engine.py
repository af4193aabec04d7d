"""Forecast a regular series: candidates compared by a rolling-origin backtest, the winner refitted.

MASE is Hyndman's: the mean absolute error of the forecasts from an origin, divided by the mean
absolute error of the seasonal naive forecast one season ahead inside the history before that
origin. Seasonal naive is itself a candidate, so ``beats_naive`` is an honest statement: a model won
the backtest against repeating the last season, or nothing did and the answer is that repetition.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nexus.forecast.arima import AutoARIMA
from nexus.forecast.decompose import prefers_log, shape
from nexus.forecast.errors import ForecastError
from nexus.forecast.models import (
    STLETS,
    Candidate,
    Prediction,
    SeasonalNaive,
    ets_candidates,
    normal_bounds,
)
from nexus.forecast.series import DEFAULT_SEASON, FREQ, Grain, RegularSeries, seasonal_period

MIN_POINTS = 8
MAX_ORIGINS = 8
"""Backtest origins, spread evenly over the evaluation window."""
FIT_SEASONS, FIT_POINTS, MAX_FIT_POINTS = 16, 200, 730
"""The models see only the latest max(16 seasons, 200 periods), at most 730: older history costs fitting
time and seldom helps the next season. The history is still reported, and decomposed, whole."""


@dataclass
class ForecastResult:
    """A forecast with its backtest, the series' shape and where the time went."""

    model: str
    grain: Grain
    season: int
    backtest_mase: float
    """The winner's mean MASE over the backtest origins."""
    naive_mase: float
    """Seasonal naive's (naive's when the season is 1), computed the same way."""
    beats_naive: bool
    points: list[dict[str, Any]]
    """``{"date", "forecast", "lo80", "hi80", "lo95", "hi95"}`` per period ahead."""
    history: list[dict[str, Any]]
    """``{"date", "value"}`` per period of the regular series."""
    candidates: list[dict[str, Any]]
    """``{"model", "mase", "ms"}`` for every candidate in the order tried; ``mase`` None and an
    ``error`` for one that failed or was skipped."""
    trend_strength: float | None
    seasonal_strength: float | None
    anomalies: list[dict[str, Any]]
    """``{"date", "value", "expected"}`` for points outside the robust bounds of the STL remainder."""
    filled: int
    fill_method: str
    timings: dict[str, float] = field(default_factory=dict)


def default_horizon(grain: Grain, season: int) -> int:
    """Return one season (the grain's, or the data's when longer), or 4 periods without one."""
    longest = max(season, DEFAULT_SEASON[grain])
    return longest if longest > 1 else 4


def backtest_plan(n: int, season: int, horizon: int) -> tuple[int, list[int]]:
    """Return the backtest's steps ahead and its origins (positions where a forecast starts).

    The evaluation window is the last ``max(2 seasons, 2 horizons, 20% of history)`` periods, leaving at
    least two seasons and two periods before it to fit on; at most ``MAX_ORIGINS`` origins, the last
    one a full horizon before the end.
    """
    least_fit = max(2 * season + 2, 6)
    steps = max(1, min(horizon, max(season, 6), n // 5))
    window = min(max(2 * season, 2 * steps, steps + 4, n // 5), n - least_fit)
    if window < 1:
        raise ForecastError(f"{n} periods are too few to test a forecast on; it needs {least_fit + 1}.")
    steps = min(steps, window)
    last, first = n - steps, n - window
    stride = math.ceil((last - first + 1) / MAX_ORIGINS)
    return steps, sorted(range(last, first - 1, -stride))


def mase_scale(y: np.ndarray, season: int) -> float:
    """Return the in-sample MAE of seasonal naive (naive when there is too little for a season)."""
    lag = season if len(y) > season else 1
    scale = float(np.mean(np.abs(y[lag:] - y[:-lag]))) if len(y) > lag else 0.0
    return max(scale, 1e-9 * max(1.0, float(np.mean(np.abs(y)))))


@dataclass
class _Tried:
    """One candidate's backtest: its MASE, or why it has none."""

    candidate: Candidate
    mase: float | None
    ms: float
    forecasts: np.ndarray | None = None
    """The backtest's forecasts, a row per origin; with ``actual``, the errors intervals fall back on."""
    actual: np.ndarray | None = None
    error: str | None = None

    def row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "model": self.candidate.name,
            "mase": None if self.mase is None else round(self.mase, 4),
            "ms": round(self.ms, 1),
        }
        if self.error:
            row["error"] = self.error
        return row


def _backtest(
    candidate: Candidate, y: np.ndarray, origins: list[int], steps: int, scales: np.ndarray
) -> _Tried:
    """Run one candidate's backtest and score it; a candidate that fails is kept with its error."""
    started = time.perf_counter()
    try:
        forecasts = np.asarray(candidate.backtest(y, origins, steps), dtype=float)
        if forecasts.shape != (len(origins), steps) or not np.all(np.isfinite(forecasts)):
            raise ValueError("its forecasts are not finite numbers")
    except Exception as error:  # noqa: BLE001 - a model that fails to fit is reported, not fatal
        return _Tried(candidate, None, _ms(started), error=f"{type(error).__name__}: {error}"[:300])
    actual = np.array([y[o : o + steps] for o in origins])
    mase = float(np.mean(np.mean(np.abs(actual - forecasts), axis=1) / scales))
    return _Tried(candidate, mase, _ms(started), forecasts, actual)


def _candidates(y: np.ndarray, season: int, deadline: float) -> list[Candidate]:
    found: list[Candidate] = [SeasonalNaive(season), *ets_candidates(y, season), AutoARIMA(season, deadline)]
    if season > 1:
        found.append(STLETS(season))
    return found


def _fallback_bounds(mean: np.ndarray, tried: _Tried) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Intervals from the backtest's errors per step ahead, widening past the tested steps."""
    assert tried.forecasts is not None and tried.actual is not None
    steps = tried.forecasts.shape[1]
    errors = tried.actual - tried.forecasts
    rms = np.maximum.accumulate(np.sqrt(np.mean(errors**2, axis=0)))
    ahead = np.arange(len(mean))
    sd = rms[np.minimum(ahead, steps - 1)] * np.sqrt(np.maximum(1.0, (ahead + 1) / steps))
    return normal_bounds(mean, sd)


def _points(
    series: RegularSeries, prediction: Prediction, bounds: dict[int, tuple[np.ndarray, np.ndarray]]
) -> list[dict[str, Any]]:
    last = series.values.index[-1]
    dates = pd.date_range(last, periods=len(prediction.mean) + 1, freq=FREQ[series.grain])[1:]
    mean = prediction.mean
    lo80, hi80 = np.minimum(bounds[80][0], mean), np.maximum(bounds[80][1], mean)
    lo95, hi95 = np.minimum(bounds[95][0], lo80), np.maximum(bounds[95][1], hi80)
    if float(series.values.min()) >= 0:
        # Counts and amounts that were never negative are not forecast below zero.
        mean, lo80, hi80, lo95, hi95 = (np.maximum(a, 0.0) for a in (mean, lo80, hi80, lo95, hi95))
    return [
        {
            "date": date.strftime("%Y-%m-%d"),
            "forecast": float(mean[i]),
            "lo80": float(lo80[i]),
            "hi80": float(hi80[i]),
            "lo95": float(lo95[i]),
            "hi95": float(hi95[i]),
        }
        for i, date in enumerate(dates)
    ]


def _refit(
    ranked: list[_Tried], y: np.ndarray, horizon: int
) -> tuple[_Tried, Prediction, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Refit the best candidate on the whole history; the next best when a refit fails."""
    for tried in ranked:
        try:
            prediction = tried.candidate.predict(y, horizon)
        except Exception as error:  # noqa: BLE001 - fall back to the next best candidate
            tried.error = f"refit failed: {type(error).__name__}: {error}"[:300]
            continue
        if len(prediction.mean) != horizon or not np.all(np.isfinite(prediction.mean)):
            tried.error = "refit failed: its forecasts are not finite numbers"
            continue
        bounds = prediction.bounds
        if bounds is None or not all(
            np.all(np.isfinite(lo)) and np.all(np.isfinite(hi)) for lo, hi in bounds.values()
        ):
            bounds = _fallback_bounds(prediction.mean, tried)
        return tried, prediction, bounds
    raise ForecastError("No model could be fitted to this series.")


def _shape_period(series: RegularSeries, season: int, n: int) -> int:
    """Return the period to decompose at: the season, else the grain's when there are two of them."""
    if season > 1:
        return season
    default = DEFAULT_SEASON[series.grain]
    return default if default > 1 and n >= 2 * default + 1 else 1


def _history(series: RegularSeries, horizon: int | None, season: int | None) -> np.ndarray:
    """Return the series' values, refusing what cannot be forecast."""
    history: np.ndarray = series.values.to_numpy(dtype=float)
    if len(history) < MIN_POINTS:
        raise ForecastError(
            f"A forecast needs at least {MIN_POINTS} {series.grain}s of history; there are {len(history)}."
        )
    if not np.all(np.isfinite(history)):
        raise ForecastError("The series has missing or infinite values; regularise it first.")
    if horizon is not None and horizon < 1:
        raise ForecastError("The horizon must be at least one period.")
    if season is not None and season < 1:
        raise ForecastError("The season must be at least one period.")
    return history


def _compare(y: np.ndarray, season: int, horizon: int, max_seconds: float, deadline: float) -> list[_Tried]:
    """Backtest every candidate in turn; those not started by the deadline are listed as skipped."""
    steps, origins = backtest_plan(len(y), season, horizon)
    scales = np.array([mase_scale(y[:o], season) for o in origins])
    tried: list[_Tried] = []
    for index, candidate in enumerate(_candidates(y, season, deadline)):
        if index > 0 and time.perf_counter() > deadline:
            tried.append(_Tried(candidate, None, 0.0, error=f"skipped: over the {max_seconds:g} s budget"))
            continue
        tried.append(_backtest(candidate, y, origins, steps, scales))
    return tried


def forecast(
    series: RegularSeries, horizon: int | None = None, *, season: int | None = None, max_seconds: float = 10.0
) -> ForecastResult:
    """Backtest the candidates, refit the best on the whole history and forecast ``horizon`` periods.

    ``horizon`` defaults to a season (``default_horizon``); ``season`` to ``seasonal_period``, and to 1
    when the history is shorter than two seasons and four periods. Models not started within
    ``max_seconds`` are skipped (seasonal naive always runs).
    """
    started = time.perf_counter()
    deadline = started + max_seconds
    history = _history(series, horizon, season)
    s = season if season is not None else seasonal_period(series)
    if s > 1 and len(history) < 2 * s + 4:
        s = 1  # too short for two seasons and a test: no seasonal models
    y = history[-min(MAX_FIT_POINTS, max(FIT_SEASONS * s, FIT_POINTS)) :]
    h = horizon or default_horizon(series.grain, s)
    timings = {"season_ms": (time.perf_counter() - started) * 1000}

    mark = time.perf_counter()
    period = _shape_period(series, s, len(history))
    found = shape(history, period, log=prefers_log(history, period))
    timings["shape_ms"] = (time.perf_counter() - mark) * 1000

    mark = time.perf_counter()
    tried = _compare(y, s, h, max_seconds, deadline)
    timings["backtest_ms"] = (time.perf_counter() - mark) * 1000

    mark = time.perf_counter()
    naive = tried[0]
    if naive.mase is None:
        raise ForecastError(f"Seasonal naive could not be tested on this series: {naive.error}")
    ranked = sorted((t for t in tried if t.mase is not None), key=lambda t: (t.mase, t is not naive))
    winner, prediction, bounds = _refit(ranked, y, h)
    timings["refit_ms"] = (time.perf_counter() - mark) * 1000
    assert winner.mase is not None
    index = series.values.index
    return ForecastResult(
        model=winner.candidate.name,
        grain=series.grain,
        season=s,
        backtest_mase=round(winner.mase, 4),
        naive_mase=round(naive.mase, 4),
        beats_naive=winner is not naive and winner.mase < naive.mase,
        points=_points(series, prediction, bounds),
        history=[
            {"date": date.strftime("%Y-%m-%d"), "value": float(value)}
            for date, value in zip(index, history, strict=True)
        ],
        candidates=[t.row() for t in tried],
        trend_strength=found.trend_strength,
        seasonal_strength=found.seasonal_strength,
        anomalies=[
            {"date": index[i].strftime("%Y-%m-%d"), "value": float(history[i]), "expected": expected}
            for i, expected in found.anomalies
        ],
        filled=series.filled,
        fill_method=series.fill_method,
        timings={key: round(value, 3) for key, value in {**timings, "total_ms": _ms(started)}.items()},
    )


def _ms(since: float) -> float:
    return (time.perf_counter() - since) * 1000
