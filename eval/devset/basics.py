"""Single-number questions: totals, averages, medians, counts, distinct counts, extremes."""

from __future__ import annotations

from eval.devset.common import SetBuilder
from eval.devset.data import Tables


def add_totals(b: SetBuilder, t: Tables) -> None:
    """Sums of a column over the whole table."""
    inv, pay, lines = t.invoices, t.payments, t.lines
    b.value("total", "How much did we sell in total?", [inv], inv.frame["Total"].sum())
    b.value(
        "total",
        "What's the total balance across all credit card holders?",
        [t.credit],
        t.credit.frame["Balance"].sum(),
    )
    b.value("total", "How many tracks have been sold altogether?", [lines], lines.frame["Quantity"].sum())
    b.value(
        "total", "What do all the passengers' fares add up to?", [t.titanic], t.titanic.frame["Fare"].sum()
    )
    b.value(
        "total",
        "What is the total investment of all firms over the whole period?",
        [t.grunfeld],
        t.grunfeld.frame["invest"].sum(),
    )
    b.value("total", "How much money have we received in payments?", [pay], pay.frame["Amount"].sum())
    b.value("total", "What was Apple's total trading volume?", [t.aapl], t.aapl.frame["Volume"].sum())
    b.value(
        "total",
        "Sum up the playing time of every track in the catalogue, in milliseconds.",
        [t.tracks],
        t.tracks.frame["Milliseconds"].sum(),
    )


def add_averages(b: SetBuilder, t: Tables) -> None:
    """Means; pandas skips empty cells, as SQL's avg does."""
    b.value("average", "What's the average age of passengers?", [t.titanic], t.titanic.frame["Age"].mean())
    b.value("average", "What is the average invoice amount?", [t.invoices], t.invoices.frame["Total"].mean())
    b.value(
        "average",
        "On average, how many miles per gallon do the cars get?",
        [t.cars],
        t.cars.frame["mpg"].mean(),
    )
    b.value("average", "What's the mean credit limit?", [t.credit], t.credit.frame["Limit"].mean())
    b.value(
        "average", "What was the average temperature?", [t.weather], t.weather.frame["temperature"].mean()
    )
    b.value("average", "What was Apple's average closing price?", [t.aapl], t.aapl.frame["Close"].mean())
    b.value(
        "average",
        "What's the unemployment rate on average across the macro data?",
        [t.macro],
        t.macro.frame["unemp"].mean(),
    )
    b.value(
        "average",
        "How long is a track on average, in milliseconds?",
        [t.tracks],
        t.tracks.frame["Milliseconds"].mean(),
    )
    b.value("average", "Average horsepower of the cars?", [t.cars], t.cars.frame["horsepower"].mean())


def add_medians(b: SetBuilder, t: Tables) -> None:
    """Medians; with an even count, the mean of the middle two (SQL's median / quantile_cont)."""
    b.value("median", "What's the median fare?", [t.titanic], t.titanic.frame["Fare"].median())
    b.value(
        "median",
        "What is the median income of the credit card customers?",
        [t.credit],
        t.credit.frame["Income"].median(),
    )
    b.value(
        "median", "What's the median horsepower of the cars?", [t.cars], t.cars.frame["horsepower"].median()
    )
    b.value("median", "What is the median invoice total?", [t.invoices], t.invoices.frame["Total"].median())
    b.value(
        "median", "What's Apple's median daily trading volume?", [t.aapl], t.aapl.frame["Volume"].median()
    )
    b.value(
        "median",
        "What is the typical humidity in the weather data, taking the median?",
        [t.weather],
        t.weather.frame["humidity"].median(),
    )
    b.value(
        "median",
        "Give me the median track length in milliseconds.",
        [t.tracks],
        t.tracks.frame["Milliseconds"].median(),
    )
    b.value("median", "What's the median age of passengers?", [t.titanic], t.titanic.frame["Age"].median())


def add_counts(b: SetBuilder, t: Tables) -> None:
    """Row counts, some under a numeric condition."""
    titanic, cars, credit = t.titanic.frame, t.cars.frame, t.credit.frame
    b.value("count", "How many passengers are on the list?", [t.titanic], len(titanic))
    b.value("count", "How many invoices have we issued?", [t.invoices], len(t.invoices.frame))
    b.value("count", "How many customers do we have?", [t.customers], len(t.customers.frame))
    b.value("count", "How many cars have 8 cylinders?", [t.cars], (cars["cylinders"] == 8).sum())
    b.value(
        "count", "How many counties are there in the election results?", [t.election], len(t.election.frame)
    )
    b.value("count", "How many passengers were older than 60?", [t.titanic], (titanic["Age"] > 60).sum())
    b.value("count", "How many trading days does the Apple file cover?", [t.aapl], len(t.aapl.frame))
    b.value("count", "How many card holders have a zero balance?", [t.credit], (credit["Balance"] == 0).sum())
    b.value(
        "count",
        "Count the cars that weigh more than 4000 pounds.",
        [t.cars],
        (cars["weight"] > 4000).sum(),
    )


def add_distinct_counts(b: SetBuilder, t: Tables) -> None:
    """Numbers of different values."""
    b.value(
        "count_distinct",
        "How many different countries do our customers come from?",
        [t.customers],
        t.customers.frame["Country"].nunique(),
    )
    b.value(
        "count_distinct", "How many distinct genres are there?", [t.tracks], t.tracks.frame["Genre"].nunique()
    )
    b.value(
        "count_distinct",
        "How many different states appear in the election data?",
        [t.election],
        t.election.frame["state_abbr"].nunique(),
    )
    b.value(
        "count_distinct",
        "How many unique ticket numbers are there?",
        [t.titanic],
        t.titanic.frame["Ticket"].nunique(),
    )
    b.value(
        "count_distinct",
        "How many artists do we have tracks from?",
        [t.tracks],
        t.tracks.frame["Artist"].nunique(),
    )
    b.value(
        "count_distinct",
        "How many firms are in the Grunfeld data?",
        [t.grunfeld],
        t.grunfeld.frame["firm"].nunique(),
    )
    b.value(
        "count_distinct",
        "In how many different cities did we bill customers?",
        [t.invoices],
        t.invoices.frame["BillingCity"].nunique(),
    )
    b.value(
        "count_distinct",
        "How many distinct ethnicities are in the credit data?",
        [t.credit],
        t.credit.frame["Ethnicity"].nunique(),
    )


def add_extremes(b: SetBuilder, t: Tables) -> None:
    """Smallest and largest values, and the row holding one."""
    aapl = t.aapl.frame
    b.value("min_max", "What's the highest fare anyone paid?", [t.titanic], t.titanic.frame["Fare"].max())
    b.value("min_max", "How old was the oldest passenger?", [t.titanic], t.titanic.frame["Age"].max())
    b.value(
        "min_max",
        "What was the coldest temperature recorded?",
        [t.weather],
        t.weather.frame["temperature"].min(),
    )
    b.value("min_max", "What was Apple's highest closing price?", [t.aapl], aapl["Close"].max())
    b.value(
        "min_max", "What's the biggest invoice we ever sent?", [t.invoices], t.invoices.frame["Total"].max()
    )
    b.value(
        "min_max", "What's the worst fuel economy of any car, in mpg?", [t.cars], t.cars.frame["mpg"].min()
    )
    b.value("min_max", "What was the peak unemployment rate?", [t.macro], t.macro.frame["unemp"].max())
    if (aapl["Close"] == aapl["Close"].max()).sum() != 1:
        raise ValueError("Apple's highest close is not on one day")
    b.value(
        "min_max",
        "On which day did Apple close at its highest price?",
        [t.aapl],
        aapl.loc[aapl["Close"].idxmax(), "Date"],
    )
    b.value(
        "min_max", "What is the lowest credit rating in the data?", [t.credit], t.credit.frame["Rating"].min()
    )
