"""Regularising rows into one value per period, and finding the season."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nexus.forecast import ForecastError, Grain, RegularSeries, regularise, seasonal_period
from nexus.forecast.series import LINEAR_FILL, NO_FILL, ZERO_FILL


def _series(values: np.ndarray, grain: Grain = "month", start: str = "2000-01-01") -> RegularSeries:
    freq = {"day": "D", "week": "W-MON", "month": "MS", "quarter": "QS", "year": "YS"}[grain]
    return regularise(pd.date_range(start, periods=len(values), freq=freq), values, grain=grain)


class TestGrainInference:
    @pytest.mark.parametrize(
        ("dates", "grain", "first"),
        [
            (pd.date_range("2024-01-01", periods=40, freq="D"), "day", "2024-01-01"),
            (pd.date_range("2024-01-07", periods=30, freq="W-SUN"), "week", "2024-01-01"),
            (pd.date_range("2020-01-31", periods=30, freq="ME"), "month", "2020-01-01"),
            (pd.date_range("2000-03-31", periods=20, freq="QE"), "quarter", "2000-01-01"),
            (pd.date_range("1990-06-30", periods=25, freq="YE-JUN"), "year", "1990-01-01"),
        ],
    )
    def test_spacing_gives_the_grain_and_period_starts(
        self, dates: pd.DatetimeIndex, grain: str, first: str
    ) -> None:
        series = regularise(dates, np.arange(len(dates), dtype=float))
        assert series.grain == grain
        assert series.values.index[0] == pd.Timestamp(first)
        assert len(series.values) == len(dates)
        assert series.values.index.freq is not None
        assert series.filled == 0
        assert series.fill_method == NO_FILL

    def test_whole_numbers_that_look_like_years_are_years(self) -> None:
        series = regularise(list(range(1990, 2020)), np.arange(30.0))
        assert series.grain == "year"
        assert series.values.index[0] == pd.Timestamp("1990-01-01")

    def test_iso_strings_dates_and_time_zones(self) -> None:
        strings = regularise([f"2024-01-{d:02d}" for d in range(1, 29)], np.ones(28))
        objects = regularise([dt.date(2024, 1, d) for d in range(1, 29)], np.ones(28))
        zoned = regularise(pd.date_range("2024-01-01", periods=28, freq="D", tz="Europe/Berlin"), np.ones(28))
        for series in (strings, objects, zoned):
            assert series.grain == "day"
            assert series.values.index[0] == pd.Timestamp("2024-01-01")

    def test_sparse_days_become_a_coarser_grain(self) -> None:
        rng = np.random.default_rng(3)
        days = pd.date_range("2022-01-01", "2023-12-31", freq="D")
        picked = pd.DatetimeIndex(np.sort(rng.choice(days, 150, replace=False)))
        picked = picked[pd.Series(picked.day_of_week).to_numpy() < 3]  # spacing of about 1.5-7 days
        series = regularise(picked, np.ones(len(picked)))
        assert series.grain in {"week", "month"}


class TestAggregation:
    def test_several_rows_per_period_are_summed_or_averaged(self) -> None:
        dates = ["2024-01-03", "2024-01-20", "2024-02-11", "2024-03-05", "2024-03-06", "2024-03-31"]
        values = [1.0, 2.0, 10.0, 3.0, 4.0, 5.0]
        summed = regularise(dates, values, grain="month")
        averaged = regularise(dates, values, grain="month", how="mean")
        assert summed.values.tolist() == [3.0, 10.0, 12.0]
        assert averaged.values.tolist() == [1.5, 10.0, 4.0]

    def test_unordered_rows_and_rows_without_a_value_or_date(self) -> None:
        dates = ["2024-03-01", "2024-01-01", None, "2024-02-01", "2024-04-01"]
        values = [3.0, 1.0, 9.0, None, 4.0]
        series = regularise(dates, values, grain="month")
        assert series.values.index[0] == pd.Timestamp("2024-01-01")
        assert series.values.tolist() == [1.0, 2.0, 3.0, 4.0]  # February had no value: interpolated
        assert series.filled == 1

    def test_text_numbers_are_read(self) -> None:
        series = regularise(["2024-01-01", "2024-02-01", "2024-03-01"], ["1.5", "2", "3"], grain="month")
        assert series.values.tolist() == [1.5, 2.0, 3.0]


class TestGaps:
    def test_a_missing_month_of_a_monthly_table_is_interpolated(self) -> None:
        dates = pd.date_range("2020-01-01", periods=24, freq="MS").delete([5, 6, 15])
        series = regularise(dates, np.arange(24.0)[np.r_[0:5, 7:15, 16:24]])
        assert series.grain == "month"
        assert len(series.values) == 24
        assert series.filled == 3
        assert series.fill_method == LINEAR_FILL
        assert series.values.iloc[5] == pytest.approx(5.0)
        assert series.values.iloc[15] == pytest.approx(15.0)

    def test_summed_events_are_zero_in_a_period_without_rows(self) -> None:
        dates = [
            "2024-01-02",
            "2024-01-09",
            "2024-01-30",
            "2024-03-04",
            "2024-03-20",
            "2024-04-10",
            "2024-04-28",
        ]
        series = regularise(dates, np.ones(len(dates)), grain="month")
        assert series.values.tolist() == [3.0, 0.0, 2.0, 2.0]
        assert series.filled == 1
        assert series.fill_method == ZERO_FILL

    def test_a_day_without_rows_in_a_daily_sum_is_zero_and_in_a_daily_mean_interpolated(self) -> None:
        days = pd.date_range("2024-03-01", periods=28, freq="D").delete([6, 13, 20])
        summed = regularise(days, np.full(25, 4.0))
        averaged = regularise(days, np.full(25, 4.0), how="mean")
        assert summed.grain == averaged.grain == "day"
        assert summed.values.iloc[[6, 13, 20]].tolist() == [0.0, 0.0, 0.0]
        assert averaged.values.iloc[[6, 13, 20]].tolist() == [4.0, 4.0, 4.0]
        assert (summed.filled, averaged.filled) == (3, 3)

    def test_the_fill_can_be_chosen(self) -> None:
        dates = pd.date_range("2020-01-01", periods=12, freq="MS").delete([4])
        zero = regularise(dates, np.full(11, 5.0), fill="zero")
        assert zero.values.iloc[4] == 0.0
        assert zero.fill_method == ZERO_FILL
        days = pd.date_range("2024-03-01", periods=10, freq="D").delete([4])
        linear = regularise(days, np.arange(9.0), fill="interpolate")
        assert linear.values.iloc[4] == pytest.approx(3.5)
        assert linear.fill_method == LINEAR_FILL

    def test_partial_first_and_last_periods_of_summed_rows_are_left_out(self) -> None:
        days = pd.date_range("2023-01-20", "2023-06-10", freq="D")
        series = regularise(days, np.ones(len(days)), grain="month")
        assert series.values.index[0] == pd.Timestamp("2023-02-01")
        assert series.values.index[-1] == pd.Timestamp("2023-05-01")
        assert series.partial_dropped == 2
        assert series.values.tolist() == [28.0, 31.0, 30.0, 31.0]

    def test_a_mostly_empty_series_at_the_asked_grain_is_refused(self) -> None:
        dates = pd.date_range("2020-01-01", periods=10, freq="MS")
        with pytest.raises(ForecastError, match="coarser grain"):
            regularise(dates, np.arange(10.0), grain="day", how="mean")


class TestHostileInput:
    @pytest.mark.parametrize(
        ("dates", "values", "message"),
        [
            (["2024-01-01", "2024-02-01", "2024-03-01"], ["a", "b", "c"], "not numeric"),
            (["x", "y", "z"], [1, 2, 3], "dates"),
            ([True, False, True], [1, 2, 3], "true/false"),
            ([1.5, 2.5, 3.5], [1, 2, 3], "not years"),
            (["2024-01-01", "2024-01-01"], [1, 2], "two dates"),
            ([], [], "two dates"),
            (["2024-01-01", None, "2024-02-01"], [None, 1.0, None], "two dates"),
            (["2024-01-01", "2024-02-01"], [float("inf"), float("nan")], "two dates"),
        ],
    )
    def test_refused_with_a_reason(self, dates: list[Any], values: list[Any], message: str) -> None:
        with pytest.raises(ForecastError, match=message) as caught:
            regularise(dates, values)
        assert caught.value.type_slug == "forecast-not-possible"
        assert caught.value.status == 422


class TestSeasonalPeriod:
    def test_monthly_seasonality_gives_twelve(self) -> None:
        t = np.arange(96)
        rng = np.random.default_rng(0)
        y = 100 + 0.5 * t + 10 * np.sin(2 * np.pi * t / 12) + rng.normal(0, 1, 96)
        assert seasonal_period(_series(y)) == 12

    def test_quarterly_seasonality_gives_four(self) -> None:
        t = np.arange(40)
        y = 50 + t + np.tile([5.0, -3.0, 8.0, -10.0], 10)
        assert seasonal_period(_series(y, "quarter")) == 4

    def test_no_seasonality_gives_one(self) -> None:
        rng = np.random.default_rng(1)
        assert seasonal_period(_series(100 + rng.normal(0, 1, 120))) == 1
        assert seasonal_period(_series(np.cumsum(rng.normal(0, 1, 120)))) == 1

    def test_too_short_for_two_seasons_gives_one(self) -> None:
        y = np.tile([1.0, 5.0, 9.0, 4.0, 2.0, 7.0, 3.0, 8.0, 6.0, 1.0, 2.0, 9.0], 2)[:20]
        assert seasonal_period(_series(y)) == 1

    def test_a_clear_cycle_in_yearly_data_is_found(self) -> None:
        t = np.arange(150)
        rng = np.random.default_rng(2)
        y = 50 + 40 * np.sin(2 * np.pi * t / 11) + rng.normal(0, 5, 150)
        assert seasonal_period(_series(y, "year", "1800-01-01")) in {10, 11, 12}

    def test_yearly_noise_has_no_cycle(self) -> None:
        rng = np.random.default_rng(4)
        assert seasonal_period(_series(rng.normal(0, 1, 80), "year", "1900-01-01")) == 1
