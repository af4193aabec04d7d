"""Questions about time: grains, calendar filters and relative periods.

Periods are calendar periods; a period in an answer is its first day (``2024-04-01`` is Q2 2024).
Weather timestamps are in UTC, as the file writes them.
"""

from __future__ import annotations

import pandas as pd  # type: ignore[import-untyped]  # pandas ships no type stubs

from eval.devset.common import (
    SetBuilder,
    last_window,
    month_start,
    quarter_start,
    unique_in,
    year_start,
)
from eval.devset.data import Tables

_PCT = {"percent": True}


def _in(dates: pd.Series, start: str, end: str) -> pd.Series:
    """Select dates from ``start`` through the whole day of ``end``."""
    return (dates >= pd.Timestamp(start)) & (dates < pd.Timestamp(end) + pd.Timedelta(days=1))


def weather_time(t: Tables) -> tuple[pd.DataFrame, pd.Series]:
    """Return the weather table and its timestamps as naive UTC."""
    frame = t.weather.frame
    return frame, frame["time"].dt.tz_convert(None)


def add_grains(b: SetBuilder, t: Tables) -> None:
    """A measure per month, quarter or year."""
    inv, aapl = t.invoices.frame, t.aapl.frame
    day = inv["InvoiceDate"]
    in_2024 = inv[day.dt.year == 2024]
    b.rows(
        "time_grain",
        "What was our revenue per month in 2024?",
        [t.invoices],
        in_2024.groupby(month_start(in_2024["InvoiceDate"]))["Total"].sum(),
    )
    b.rows(
        "time_grain",
        "Show total sales by quarter.",
        [t.invoices],
        inv.groupby(quarter_start(day))["Total"].sum(),
    )
    b.rows(
        "time_grain",
        "How much did we sell each year?",
        [t.invoices],
        inv.groupby(year_start(day))["Total"].sum(),
    )
    b.rows(
        "time_grain",
        "Average Apple closing price per month",
        [t.aapl],
        aapl.groupby(month_start(aapl["Date"]))["Close"].mean(),
    )
    weather, time = weather_time(t)
    b.rows(
        "time_grain",
        "What was the average temperature each month?",
        [t.weather],
        weather.groupby(month_start(time))["temperature"].mean(),
    )
    macro = t.macro.frame
    b.rows(
        "time_grain",
        "Average unemployment rate per year",
        [t.macro],
        macro.groupby(year_start(macro["date"]))["unemp"].mean(),
    )
    b.rows(
        "time_grain",
        "How many invoices did we send each year?",
        [t.invoices],
        inv.groupby(year_start(day)).size(),
    )
    b.rows(
        "time_grain",
        "Apple's total trading volume for every quarter, please.",
        [t.aapl],
        aapl.groupby(quarter_start(aapl["Date"]))["Volume"].sum(),
    )
    co2 = t.co2.frame
    b.rows(
        "time_grain", "Yearly average CO2 level", [t.co2], co2.groupby(year_start(co2["date"]))["co2"].mean()
    )
    b.rows(
        "time_grain",
        "How many weather observations were recorded in each month?",
        [t.weather],
        weather.groupby(month_start(time)).size(),
    )


def add_year_filters(b: SetBuilder, t: Tables) -> None:
    """A measure within one calendar year."""
    inv, aapl, macro, co2 = t.invoices.frame, t.aapl.frame, t.macro.frame, t.co2.frame
    year = inv["InvoiceDate"].dt.year
    yearly = inv.groupby(year)["Total"]
    b.value("year_filter", "How much did we sell in 2023?", [t.invoices], unique_in(yearly.sum(), 2023))
    b.value(
        "year_filter", "How many invoices were there in 2025?", [t.invoices], unique_in(yearly.size(), 2025)
    )
    b.value(
        "year_filter",
        "What was Apple's average close in 2015?",
        [t.aapl],
        aapl.loc[aapl["Date"].dt.year == 2015, "Close"].mean(),
    )
    b.value(
        "year_filter",
        "What was the average unemployment rate in 2009?",
        [t.macro],
        macro.loc[macro["date"].dt.year == 2009, "unemp"].mean(),
    )
    grunfeld = t.grunfeld.frame
    b.value(
        "year_filter",
        "How much did the firms invest in total in 1950?",
        [t.grunfeld],
        grunfeld.loc[grunfeld["year"] == 1950, "invest"].sum(),
    )
    b.value(
        "year_filter", "How many cars are from 1980?", [t.cars], (t.cars.frame["model_year"] == 1980).sum()
    )
    b.value(
        "year_filter",
        "What was Apple's highest daily trading volume in 2016?",
        [t.aapl],
        aapl.loc[aapl["Date"].dt.year == 2016, "Volume"].max(),
    )
    b.value(
        "year_filter",
        "What was the average CO2 concentration in 1990?",
        [t.co2],
        co2.loc[co2["date"].dt.year == 1990, "co2"].mean(),
    )


def _quarter(dates: pd.Series, year: int, quarter: int) -> pd.Series:
    return (dates.dt.year == year) & (dates.dt.quarter == quarter)


def add_quarter_filters(b: SetBuilder, t: Tables) -> None:
    """A measure within one calendar quarter."""
    inv, aapl, macro = t.invoices.frame, t.aapl.frame, t.macro.frame
    day = inv["InvoiceDate"]
    quarterly = inv.groupby(quarter_start(day))["Total"]
    revenue, mean = quarterly.sum(), quarterly.mean()
    b.value(
        "quarter_filter",
        "What was revenue in Q3 2024?",
        [t.invoices],
        unique_in(revenue, pd.Timestamp("2024-07-01")),
    )
    b.value(
        "quarter_filter",
        "What was the average invoice value in Q4 2023?",
        [t.invoices],
        unique_in(mean, pd.Timestamp("2023-10-01")),
    )
    b.value(
        "quarter_filter",
        "Average Apple closing price in Q2 2015?",
        [t.aapl],
        aapl.loc[_quarter(aapl["Date"], 2015, 2), "Close"].mean(),
    )
    b.value(
        "quarter_filter",
        "What was the unemployment rate in Q4 2008?",
        [t.macro],
        macro.loc[_quarter(macro["date"], 2008, 4), "unemp"].item(),
    )
    b.value(
        "quarter_filter",
        "What was real GDP in the third quarter of 2007?",
        [t.macro],
        macro.loc[_quarter(macro["date"], 2007, 3), "realgdp"].item(),
    )
    weather, time = weather_time(t)
    b.value(
        "quarter_filter",
        "What was the average temperature in Q1 2017?",
        [t.weather],
        weather.loc[_quarter(time, 2017, 1), "temperature"].mean(),
    )
    b.value(
        "quarter_filter",
        "What was the highest price Apple traded at in Q4 2016?",
        [t.aapl],
        aapl.loc[_quarter(aapl["Date"], 2016, 4), "High"].max(),
    )
    b.value(
        "quarter_filter",
        "How much did we sell in the second quarter of 2025?",
        [t.invoices],
        unique_in(revenue, pd.Timestamp("2025-04-01")),
    )


def add_range_filters(b: SetBuilder, t: Tables) -> None:
    """A measure between two dates or months, both ends included."""
    inv, aapl = t.invoices.frame, t.aapl.frame
    day = inv["InvoiceDate"]
    b.value(
        "range_filter",
        "How much did we sell between March and June 2024?",
        [t.invoices],
        inv.loc[_in(day, "2024-03-01", "2024-06-30"), "Total"].sum(),
    )
    b.value(
        "range_filter",
        "How many invoices were issued between 2023-02-01 and 2023-04-15?",
        [t.invoices],
        _in(day, "2023-02-01", "2023-04-15").sum(),
    )
    b.value(
        "range_filter",
        "What was Apple's average close from June to August 2016?",
        [t.aapl],
        aapl.loc[_in(aapl["Date"], "2016-06-01", "2016-08-31"), "Close"].mean(),
    )
    weather, time = weather_time(t)
    b.value(
        "range_filter",
        "What was the average temperature between 1 March and 15 April 2017?",
        [t.weather],
        weather.loc[_in(time, "2017-03-01", "2017-04-15"), "temperature"].mean(),
    )
    b.value(
        "range_filter",
        "Apple's total volume from October through December 2014?",
        [t.aapl],
        aapl.loc[_in(aapl["Date"], "2014-10-01", "2014-12-31"), "Volume"].sum(),
    )
    macro = t.macro.frame
    b.value(
        "range_filter",
        "What was the average unemployment rate between 2001 and 2003?",
        [t.macro],
        macro.loc[macro["year"].between(2001, 2003), "unemp"].mean(),
    )
    grunfeld = t.grunfeld.frame
    gm = grunfeld[(grunfeld["firm"] == "General Motors") & grunfeld["year"].between(1940, 1945)]
    b.value(
        "range_filter",
        "How much did General Motors invest between 1940 and 1945?",
        [t.grunfeld],
        gm["invest"].sum(),
    )
    b.value(
        "range_filter",
        "What was revenue from September to November 2022?",
        [t.invoices],
        inv.loc[_in(day, "2022-09-01", "2022-11-30"), "Total"].sum(),
    )


def add_relative_periods(b: SetBuilder, t: Tables) -> None:
    """A measure over the last N units before the latest date in the data."""
    inv, aapl, co2, macro = t.invoices.frame, t.aapl.frame, t.co2.frame, t.macro.frame
    day = inv["InvoiceDate"]
    b.value(
        "relative_period",
        "How much did we sell in the last 3 months?",
        [t.invoices],
        inv.loc[last_window(day, 3, "months"), "Total"].sum(),
    )
    b.value(
        "relative_period",
        "How many invoices did we issue in the last 6 months?",
        [t.invoices],
        last_window(day, 6, "months").sum(),
    )
    b.value(
        "relative_period",
        "What was Apple's average closing price over the last 30 days?",
        [t.aapl],
        aapl.loc[last_window(aapl["Date"], 30, "days"), "Close"].mean(),
    )
    weather, time = weather_time(t)
    b.value(
        "relative_period",
        "What was the average temperature over the last 7 days?",
        [t.weather],
        weather.loc[last_window(time, 7, "days"), "temperature"].mean(),
    )
    b.value(
        "relative_period",
        "What was the average CO2 reading over the last 3 months?",
        [t.co2],
        co2.loc[last_window(co2["date"], 3, "months"), "co2"].mean(),
    )
    b.value(
        "relative_period",
        "How many trading days did Apple have in the last 3 months?",
        [t.aapl],
        last_window(aapl["Date"], 3, "months").sum(),
    )
    b.value(
        "relative_period",
        "What was the highest temperature in the last 14 days?",
        [t.weather],
        weather.loc[last_window(time, 14, "days"), "temperature"].max(),
    )
    b.value(
        "relative_period",
        "What was the average unemployment rate over the last 8 quarters?",
        [t.macro],
        macro.loc[last_window(macro["date"], 8, "quarters"), "unemp"].mean(),
    )
    b.value(
        "relative_period",
        "Revenue in the last 60 days?",
        [t.invoices],
        inv.loc[last_window(day, 60, "days"), "Total"].sum(),
    )
