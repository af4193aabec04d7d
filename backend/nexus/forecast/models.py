"""The candidate models: seasonal naive, ETS (Holt-Winters) and STL + ETS; ARIMA is in ``arima``.

Every candidate does two things. ``backtest`` forecasts ``h`` steps from every origin, each forecast
seeing only the data before its origin; ETS and ARIMA fit once, before the first origin, and filter
on with those parameters (a rolling origin without re-estimation: the fits are the cost, filtering is
cheap), STL + ETS refits at every origin (both are cheap). ``predict`` refits on the whole history
and returns the forecast with 80% and 95% intervals.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from scipy.stats import norm  # type: ignore[import-untyped]
from statsmodels.tsa.exponential_smoothing.ets import ETSModel  # type: ignore[import-untyped]
from statsmodels.tsa.forecasting.stl import STLForecast  # type: ignore[import-untyped]

LEVELS = (80, 95)
SEED = 20261125
"""Simulated intervals (multiplicative ETS) are drawn from a fixed seed: the same answer every time."""


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Keep statsmodels' convergence and start-value warnings (and numpy's overflows) out of the caller."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield


@dataclass
class Prediction:
    """A forecast: the point forecast and, where the model gives them, its intervals."""

    mean: np.ndarray
    bounds: dict[int, tuple[np.ndarray, np.ndarray]] | None = None
    """Level (80, 95) -> (lower, upper)."""


class Candidate(Protocol):
    """A model the backtest can compare and the forecast can use."""

    name: str

    def backtest(self, y: np.ndarray, origins: Sequence[int], h: int) -> np.ndarray:
        """Return forecasts (one row of ``h`` per origin) fitted before the first origin."""
        ...

    def predict(self, y: np.ndarray, h: int) -> Prediction:
        """Fit on all of y and forecast ``h`` steps with intervals."""
        ...


def normal_bounds(mean: np.ndarray, sd: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Return normal intervals around ``mean`` at every level."""
    bounds = {}
    for level in LEVELS:
        z = float(norm.ppf(0.5 + level / 200))
        bounds[level] = (mean - z * sd, mean + z * sd)
    return bounds


class SeasonalNaive:
    """Repeat the last season (the last value when the season is one period)."""

    def __init__(self, season: int) -> None:
        self.season = season
        self.name = "seasonal naive" if season > 1 else "naive"

    def _repeat(self, y: np.ndarray, origin: int, h: int) -> np.ndarray:
        s = self.season
        return np.asarray(y[origin - s + np.arange(h) % s], dtype=float)

    def backtest(self, y: np.ndarray, origins: Sequence[int], h: int) -> np.ndarray:
        """Return the last season before each origin, repeated."""
        return np.array([self._repeat(y, origin, h) for origin in origins])

    def predict(self, y: np.ndarray, h: int) -> Prediction:
        """Repeat the last season; intervals widen with every full season ahead (Hyndman, fpp3 5.5)."""
        s = self.season
        mean = self._repeat(y, len(y), h)
        residuals = y[s:] - y[:-s]
        sigma = float(np.sqrt(np.mean(residuals**2))) if len(residuals) else 0.0
        sd = sigma * np.sqrt(np.arange(h) // s + 1)
        return Prediction(mean, normal_bounds(mean, sd))


_TREND_WORDS = {None: "no trend", "add": "additive trend", "damped": "damped additive trend"}
_SEASON_WORDS = {None: "no season", "add": "additive season", "mul": "multiplicative season"}


class ETS:
    """Exponential smoothing (statsmodels ``ETSModel``): level, optional trend, optional season."""

    def __init__(self, season: int, trend: str | None, seasonal: str | None) -> None:
        self.season = season
        self.trend = trend
        self.seasonal = seasonal
        self.name = f"ETS ({_TREND_WORDS[trend]}, {_SEASON_WORDS[seasonal]})"
        self.params: np.ndarray | None = None

    def _model(self, y: np.ndarray) -> Any:
        return ETSModel(
            pd.Series(y),
            error="mul" if self.seasonal == "mul" else "add",
            trend="add" if self.trend else None,
            damped_trend=self.trend == "damped",
            seasonal=self.seasonal,
            seasonal_periods=self.season if self.seasonal else None,
        )

    def backtest(self, y: np.ndarray, origins: Sequence[int], h: int) -> np.ndarray:
        """Fit before the first origin, then smooth all of y with those parameters and forecast."""
        with quiet():
            self.params = np.asarray(self._model(y[: origins[0]]).fit(disp=False).params)
            smoothed = self._model(y).smooth(self.params)
            rows = [smoothed.predict(start=o, end=o + h - 1, dynamic=True) for o in origins]
        return np.array([np.asarray(row, dtype=float) for row in rows])

    def predict(self, y: np.ndarray, h: int) -> Prediction:
        """Refit on all of y; intervals exact for additive models, simulated for multiplicative ones."""
        n = len(y)
        with quiet():
            fitted = self._model(y).fit(disp=False, start_params=self.params)
            prediction = fitted.get_prediction(start=n, end=n + h - 1, rng=np.random.default_rng(SEED))
            mean = np.asarray(prediction.predicted_mean, dtype=float)
            bounds = {}
            for level in LEVELS:
                interval = np.asarray(prediction.pred_int(alpha=1 - level / 100), dtype=float)
                bounds[level] = (interval[:, 0], interval[:, 1])
        return Prediction(mean, bounds)


class STLETS:
    """Robust STL, damped-trend ETS on the seasonally adjusted series, the last season's pattern on top."""

    def __init__(self, season: int) -> None:
        self.season = season
        self.name = "STL + ETS (damped additive trend)"

    def _fit(self, y: np.ndarray) -> Any:
        model = STLForecast(
            pd.Series(y),
            ETSModel,
            model_kwargs={"error": "add", "trend": "add", "damped_trend": True},
            period=self.season,
            robust=True,
        )
        return model.fit(fit_kwargs={"disp": False})

    def backtest(self, y: np.ndarray, origins: Sequence[int], h: int) -> np.ndarray:
        """Decompose and fit again at every origin (both are cheap here)."""
        with quiet():
            rows = [np.asarray(self._fit(y[:origin]).forecast(h), dtype=float) for origin in origins]
        return np.array(rows)

    def predict(self, y: np.ndarray, h: int) -> Prediction:
        """Fit on all of y; the intervals are the ETS model's on the adjusted series."""
        n = len(y)
        with quiet():
            prediction = self._fit(y).get_prediction(start=n, end=n + h - 1)
            mean = np.asarray(prediction.predicted_mean, dtype=float)
            bounds = {}
            for level in LEVELS:
                frame = prediction.summary_frame(alpha=1 - level / 100)
                bounds[level] = (
                    frame["mean_ci_lower"].to_numpy(float),
                    frame["mean_ci_upper"].to_numpy(float),
                )
        return Prediction(mean, bounds)


MAX_ETS_SEASON = 24
"""Longer seasons (52 weeks) would give ETS a parameter per period; STL + ETS handles them instead."""


def ets_candidates(y: np.ndarray, season: int) -> list[ETS]:
    """Return the ETS variants worth trying.

    Non-seasonal ones always; seasonal ones when there is a season of at most ``MAX_ETS_SEASON``
    periods, multiplicative only for strictly positive data.
    """
    variants: list[tuple[str | None, str | None]] = [(None, None), ("add", None), ("damped", None)]
    if 1 < season <= MAX_ETS_SEASON:
        seasons = ["add", "mul"] if float(np.min(y)) > 0 else ["add"]
        variants += [(trend, seasonal) for seasonal in seasons for trend in (None, "add", "damped")]
    return [ETS(season, trend, seasonal) for trend, seasonal in variants]
