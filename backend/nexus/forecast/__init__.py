"""Forecasts of a measure over time: regularise, find the season, backtest candidates, forecast.

``regularise(dates, values)`` gives a ``RegularSeries``: one value per period, gaps filled and counted.
``seasonal_period(series)`` is the grain's season when the data shows it, else a clear cycle, else 1.
``forecast(series, horizon)`` gives a ``ForecastResult``: the backtest's winner against seasonal naive,
its 80% and 95% intervals, the trend and seasonal strengths and the unusual points.
``parse_horizon(text, grain)`` reads "next 6 months" as 6 periods at the month grain.
"""

from nexus.forecast.engine import ForecastResult, default_horizon, forecast
from nexus.forecast.errors import ForecastError
from nexus.forecast.horizon import parse_horizon
from nexus.forecast.series import Grain, RegularSeries, regularise, seasonal_period

__all__ = [
    "ForecastError",
    "ForecastResult",
    "Grain",
    "RegularSeries",
    "default_horizon",
    "forecast",
    "parse_horizon",
    "regularise",
    "seasonal_period",
]
