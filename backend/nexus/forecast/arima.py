"""ARIMA with a small automatic order search (statsmodels ``SARIMAX``), as a candidate model.

The search follows Hyndman and Khandakar's auto.arima in miniature: logs when the seasons' spread
grows with their level (Guerrero's criterion between no transform and logs), a seasonal difference
when STL's seasonal strength is above 0.64, ordinary differences until KPSS no longer rejects, then
the ARMA orders by AIC over a small grid, and the drift. The ARMA part is fitted to the differenced
series (several times faster than a state space that integrates, and what the AIC compares);
forecasts are integrated back here, and their variance comes from the MA weights of the whole model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from statsmodels.tsa.arima_process import arma2ma  # type: ignore[import-untyped]
from statsmodels.tsa.statespace.sarimax import SARIMAX  # type: ignore[import-untyped]
from statsmodels.tsa.stattools import kpss  # type: ignore[import-untyped]

from nexus.forecast.decompose import components, prefers_log, strength
from nexus.forecast.models import Prediction, normal_bounds, quiet

ORDERS = ((0, 0), (1, 0), (0, 1), (1, 1), (2, 0), (0, 2), (2, 1), (1, 2), (2, 2))
"""(p, q) tried without a season."""
SEASONAL_ORDERS = {
    1: (((0, 1), (0, 1)), ((1, 0), (0, 1)), ((1, 1), (0, 1)), ((2, 0), (0, 1))),
    0: (((1, 0), (1, 0)), ((0, 1), (0, 1)), ((1, 1), (1, 0)), ((2, 0), (1, 0))),
}
"""((p, q), (P, Q)) tried with a season, by seasonal difference: a seasonal ARMA fit costs ten plain ones."""
MAX_SEASON = 24
"""Longer seasons (52 weeks) make the state space too large to fit quickly: no seasonal part then."""
SEASONAL_DIFFERENCE_STRENGTH = 0.64
KPSS_ALPHA = 0.05


@dataclass(frozen=True)
class Spec:
    """One ARIMA model: orders, a constant in the differenced series or not, logs or not."""

    order: tuple[int, int, int]
    seasonal: tuple[int, int, int, int]
    constant: bool
    log: bool

    @property
    def name(self) -> str:
        """Return the model as people write it, e.g. ``ARIMA(0,1,1)(0,1,1)12 on logs``."""
        p, d, q = self.order
        text = f"ARIMA({p},{d},{q})"
        big_p, big_d, big_q, s = self.seasonal
        if s:
            text += f"({big_p},{big_d},{big_q}){s}"
        if self.constant:
            text += " with drift" if d + big_d else " with mean"
        return text + (" on logs" if self.log else "")

    def differencing(self) -> np.ndarray:
        """Return the lag polynomial (1 - L)^d (1 - L^s)^D, lowest power first."""
        polynomial = np.array([1.0])
        for _ in range(self.order[1]):
            polynomial = np.convolve(polynomial, [1.0, -1.0])
        s = self.seasonal[3]
        for _ in range(self.seasonal[1]):
            polynomial = np.convolve(polynomial, np.r_[1.0, np.zeros(s - 1), -1.0])
        return polynomial


def differences(x: np.ndarray, most: int = 2) -> int:
    """Return how many differences make x stationary by KPSS at 5% (at most ``most``)."""
    for d in range(most + 1):
        if len(x) < 10 or float(np.ptp(x)) == 0 or d == most:
            return d
        with quiet():
            pvalue = kpss(x, regression="c", nlags="auto")[1]
        if pvalue >= KPSS_ALPHA:
            return d
        x = np.diff(x)
    return most


def _arma(z: np.ndarray, spec: Spec) -> Any:
    p, _, q = spec.order
    big_p, _, big_q, s = spec.seasonal
    return SARIMAX(
        z,
        order=(p, 0, q),
        seasonal_order=(big_p, 0, big_q, s),
        trend="c" if spec.constant else "n",
        concentrate_scale=True,  # one parameter fewer to search: the same fit, about a third faster
    )


def _fit(z: np.ndarray, spec: Spec, start: np.ndarray | None = None) -> Any | None:
    try:
        with quiet():
            fitted = _arma(z, spec).fit(disp=False, start_params=start)
    except (ValueError, np.linalg.LinAlgError):
        return None
    return fitted if np.isfinite(fitted.aic) else None


def _integrate(changes: np.ndarray, before: np.ndarray, polynomial: np.ndarray) -> np.ndarray:
    """Turn forecasts of the differenced series back into levels, continuing from ``before``."""
    m = len(polynomial) - 1
    levels = list(before[len(before) - m :]) if m else []
    for change in changes:
        levels.append(float(change) - sum(polynomial[j] * levels[-j] for j in range(1, m + 1)))
    return np.array(levels[m:])


def search(y: np.ndarray, season: int, deadline: float) -> tuple[Spec, Any]:
    """Return the spec with the lowest AIC over the small grid and its fit; stops early at the deadline."""
    log = prefers_log(y, season)
    x = np.log(y) if log else y
    s = season if 1 < season <= MAX_SEASON and len(x) >= 2 * season + 2 else 0
    big_d = 0
    if s:
        parts = components(x, s)
        big_d = int(parts is not None and strength(parts[1], parts[2]) > SEASONAL_DIFFERENCE_STRENGTH)
    d = differences(x[s:] - x[:-s] if big_d else x)
    constant = d + big_d <= 1
    grid = SEASONAL_ORDERS[big_d] if s else tuple((order, (0, 0)) for order in ORDERS)
    best: tuple[float, Spec, Any] | None = None
    z: np.ndarray | None = None
    for (p, q), (big_p, big_q) in grid:
        if best is not None and time.perf_counter() > deadline:
            break
        spec = Spec((p, d, q), (big_p, big_d, big_q, s), constant, log)
        z = np.convolve(x, spec.differencing(), mode="valid") if z is None else z
        fitted = _fit(z, spec)
        if fitted is not None and (best is None or fitted.aic < best[0]):
            best = (float(fitted.aic), spec, fitted)
    if best is None or z is None:
        raise ValueError("no ARIMA order could be fitted")
    if constant and time.perf_counter() <= deadline:
        spec = Spec(best[1].order, best[1].seasonal, False, log)
        fitted = _fit(z, spec)
        if fitted is not None and fitted.aic < best[0]:
            best = (float(fitted.aic), spec, fitted)
    return best[1], best[2]


class AutoARIMA:
    """ARIMA whose orders are searched on the history before the first backtest origin."""

    def __init__(self, season: int, deadline: float) -> None:
        self.season = season
        self.deadline = deadline
        self.name = "ARIMA"
        self.spec: Spec | None = None
        self.params: np.ndarray | None = None

    def backtest(self, y: np.ndarray, origins: Sequence[int], h: int) -> np.ndarray:
        """Search and fit before the first origin; forecast from every origin with those parameters."""
        first = origins[0]
        spec, fitted = search(y[:first], self.season, self.deadline)
        self.spec, self.name, self.params = spec, spec.name, np.asarray(fitted.params)
        x = np.log(y) if spec.log else y
        polynomial = spec.differencing()
        m = len(polynomial) - 1
        z = np.convolve(x, polynomial, mode="valid")
        rows = []
        with quiet():
            extended = fitted.append(z[first - m :])
            for o in origins:
                changes = extended.predict(start=o - m, end=o - m + h - 1, dynamic=True)
                rows.append(_integrate(changes, x[:o], polynomial))
            return np.exp(rows) if spec.log else np.array(rows)

    def predict(self, y: np.ndarray, h: int) -> Prediction:
        """Refit the chosen orders on all of y; intervals from the MA weights (back from logs if used)."""
        spec = self.spec or search(y, self.season, self.deadline)[0]
        x = np.log(y) if spec.log else y
        polynomial = spec.differencing()
        fitted = _fit(np.convolve(x, polynomial, mode="valid"), spec, self.params)
        if fitted is None:
            raise ValueError(f"{spec.name} could not be fitted to the whole history")
        with quiet():
            mean = _integrate(np.asarray(fitted.forecast(h), dtype=float), x, polynomial)
            weights = arma2ma(
                np.convolve(fitted.polynomial_reduced_ar, polynomial), fitted.polynomial_reduced_ma, h
            )
            variance = float(fitted.scale) * np.cumsum(np.asarray(weights, dtype=float) ** 2)
            bounds = normal_bounds(mean, np.sqrt(variance))
            if spec.log:
                # exp of the mean of the logs is the median forecast: what MAE and MASE reward.
                mean = np.exp(mean)
                bounds = {level: (np.exp(lo), np.exp(hi)) for level, (lo, hi) in bounds.items()}
        return Prediction(mean, bounds)
