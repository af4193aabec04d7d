"""Questions that set periods side by side: comparisons of two periods, and growth between periods."""

from __future__ import annotations

import pandas as pd  # type: ignore[import-untyped]  # pandas ships no type stubs

from eval.devset.common import SetBuilder, growth, month_start, quarter_start
from eval.devset.data import Tables
from eval.devset.periods import weather_time

_PCT = {"percent": True}


def add_comparisons(b: SetBuilder, t: Tables) -> None:
    """A measure in two periods; the answer is the two values (a long or a wide result)."""
    inv, aapl, macro, co2 = t.invoices.frame, t.aapl.frame, t.macro.frame, t.co2.frame
    year = inv["InvoiceDate"].dt.year

    def pair(a: float, c: float) -> list[list[float]]:
        return [[a], [c]]

    total = inv.groupby(year)["Total"].sum()
    b.rows(
        "compare_periods", "Compare our sales in 2023 and 2024.", [t.invoices], pair(total[2023], total[2024])
    )
    count = inv.groupby(year).size()
    b.rows(
        "compare_periods",
        "How did the number of invoices in 2025 compare with 2024?",
        [t.invoices],
        pair(count[2025], count[2024]),
    )
    close = aapl.groupby(aapl["Date"].dt.year)["Close"].mean()
    b.rows(
        "compare_periods",
        "Compare Apple's average closing price in 2015 versus 2016.",
        [t.aapl],
        pair(close[2015], close[2016]),
    )
    weather, time = weather_time(t)
    monthly = weather.groupby(time.dt.month)["temperature"].mean()
    b.rows(
        "compare_periods",
        "Compare the average temperature in January and April 2017.",
        [t.weather],
        pair(monthly[1], monthly[4]),
    )
    unemp = macro.groupby("year")["unemp"].mean()
    b.rows(
        "compare_periods",
        "How did average unemployment in 2007 compare with 2009?",
        [t.macro],
        pair(unemp[2007], unemp[2009]),
    )
    invest = t.grunfeld.frame.groupby("year")["invest"].sum()
    b.rows(
        "compare_periods",
        "Compare total investment in 1940 and 1950.",
        [t.grunfeld],
        pair(invest[1940], invest[1950]),
    )
    quarterly = inv.groupby(quarter_start(inv["InvoiceDate"]))["Total"].sum()
    b.rows(
        "compare_periods",
        "Revenue in Q1 2024 vs Q3 2024?",
        [t.invoices],
        pair(quarterly[pd.Timestamp("2024-01-01")], quarterly[pd.Timestamp("2024-07-01")]),
    )
    yearly_co2 = co2.groupby(co2["date"].dt.year)["co2"].mean()
    b.rows(
        "compare_periods",
        "How did the average CO2 level in 1980 compare to 2000?",
        [t.co2],
        pair(yearly_co2[1980], yearly_co2[2000]),
    )


def add_growth(b: SetBuilder, t: Tables) -> None:
    """Growth in percent between consecutive or named periods."""
    inv, aapl, macro = t.invoices.frame, t.aapl.frame, t.macro.frame
    yearly = inv.groupby(inv["InvoiceDate"].dt.year)["Total"].sum()
    b.value(
        "growth",
        "By what percentage did revenue grow from 2023 to 2024?",
        [t.invoices],
        growth(yearly[2024], yearly[2023]),
        **_PCT,
    )
    monthly = inv.groupby(month_start(inv["InvoiceDate"]))["Total"].sum()
    b.value(
        "growth",
        "What was the month-over-month growth in sales in August 2024?",
        [t.invoices],
        growth(monthly[pd.Timestamp("2024-08-01")], monthly[pd.Timestamp("2024-07-01")]),
        **_PCT,
    )
    close = aapl.groupby(aapl["Date"].dt.year)["Close"].mean()
    b.value(
        "growth",
        "How much did Apple's average closing price grow from 2014 to 2015, in percent?",
        [t.aapl],
        growth(close[2015], close[2014]),
        **_PCT,
    )
    gdp = macro.set_index("date")["realgdp"]
    b.value(
        "growth",
        "What was the quarter-over-quarter growth in real GDP in Q3 2009?",
        [t.macro],
        growth(gdp[pd.Timestamp("2009-07-01")], gdp[pd.Timestamp("2009-04-01")]),
        **_PCT,
    )
    yearly_rows = yearly.pct_change().mul(100).dropna()
    yearly_rows.index = pd.to_datetime(yearly_rows.index.astype(str))
    b.rows("growth", "Show year-over-year revenue growth for each year.", [t.invoices], yearly_rows, **_PCT)
    volume = aapl.groupby(month_start(aapl["Date"]))["Volume"].sum()
    b.rows(
        "growth",
        "Month over month growth of Apple's trading volume",
        [t.aapl],
        volume.pct_change().mul(100).dropna(),
        **_PCT,
    )
    quarterly = aapl.groupby(quarter_start(aapl["Date"]))["Volume"].sum()
    b.rows(
        "growth",
        "What was the quarter-on-quarter growth in Apple's total trading volume?",
        [t.aapl],
        quarterly.pct_change().mul(100).dropna(),
        **_PCT,
    )
    grunfeld = t.grunfeld.frame
    invest = grunfeld.groupby("year")["invest"].sum()
    invest_rows = invest.pct_change().mul(100).dropna()
    b.rows(
        "growth",
        "Year-over-year growth of total investment across all firms",
        [t.grunfeld],
        invest_rows,
        **_PCT,
    )
    co2 = t.co2.frame
    level = co2.groupby(co2["date"].dt.year)["co2"].mean()
    b.value(
        "growth",
        "By how many percent did the average CO2 level rise between 1960 and 2000?",
        [t.co2],
        growth(level[2000], level[1960]),
        **_PCT,
    )
