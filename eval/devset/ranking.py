"""Questions over groups: rankings, breakdowns, shares, and filters on a category named in words."""

from __future__ import annotations

import pandas as pd  # type: ignore[import-untyped]  # pandas ships no type stubs

from eval.devset.common import SetBuilder, month_start, percent, ranked
from eval.devset.data import Tables


def _sums(frame: pd.DataFrame, by: str, measure: str) -> pd.DataFrame:
    return frame.groupby(by, as_index=False)[measure].sum()


def add_top(b: SetBuilder, t: Tables) -> None:
    """The first N groups or rows by a measure, label and measure, in rank order."""
    inv, tracks, election = t.invoices.frame, t.tracks.frame, t.election.frame
    ordered = {"order_matters": True}
    revenue = _sums(inv, "BillingCountry", "Total")
    b.rows(
        "top_n",
        "Which 5 countries brought in the most revenue?",
        [t.invoices],
        ranked(revenue, ["BillingCountry"], "Total", 5),
        **ordered,
    )
    b.rows(
        "top_n",
        "Which five counties had the most votes cast?",
        [t.election],
        ranked(election, ["county_name"], "total_votes", 5),
        **ordered,
    )
    b.rows(
        "top_n",
        "What are the 5 longest tracks?",
        [t.tracks],
        ranked(tracks, ["Name"], "Milliseconds", 5),
        **ordered,
    )
    per_genre = tracks.groupby("Genre", as_index=False).size()
    b.rows(
        "top_n",
        "Which 3 genres have the most tracks?",
        [t.tracks],
        ranked(per_genre, ["Genre"], "size", 3),
        **ordered,
    )
    b.rows(
        "top_n",
        "Show me the 5 days with the highest Apple trading volume.",
        [t.aapl],
        ranked(t.aapl.frame, ["Date"], "Volume", 5),
        **ordered,
    )
    invest = _sums(t.grunfeld.frame, "firm", "invest")
    b.rows(
        "top_n",
        "Which 3 firms invested the most overall?",
        [t.grunfeld],
        ranked(invest, ["firm"], "invest", 3),
        **ordered,
    )
    per_artist = tracks.groupby("Artist", as_index=False).size()
    b.rows(
        "top_n",
        "Which four artists have the most tracks in the catalogue?",
        [t.tracks],
        ranked(per_artist, ["Artist"], "size", 4),
        **ordered,
    )
    counties = election.groupby("state_abbr", as_index=False).size()
    b.rows(
        "top_n",
        "Top 5 states by number of counties",
        [t.election],
        ranked(counties, ["state_abbr"], "size", 5),
        **ordered,
    )


def add_bottom(b: SetBuilder, t: Tables) -> None:
    """The last N groups or rows by a measure."""
    tracks, election, cars = t.tracks.frame, t.election.frame, t.cars.frame
    ordered = {"order_matters": True}
    b.rows(
        "bottom_n",
        "What are the 5 shortest tracks?",
        [t.tracks],
        ranked(tracks, ["Name"], "Milliseconds", 5, ascending=True),
        **ordered,
    )
    per_year = cars.groupby("model_year", as_index=False)["mpg"].mean()
    b.rows(
        "bottom_n",
        "Which 3 model years had the lowest average mpg?",
        [t.cars],
        ranked(per_year, ["model_year"], "mpg", 3, ascending=True),
        **ordered,
    )
    b.rows(
        "bottom_n",
        "Which 5 counties had the fewest voters?",
        [t.election],
        ranked(election, ["county_name"], "total_votes", 5, ascending=True),
        **ordered,
    )
    capital = t.grunfeld.frame.groupby("firm", as_index=False)["capital"].mean()
    b.rows(
        "bottom_n",
        "Which 3 firms had the lowest average capital stock?",
        [t.grunfeld],
        ranked(capital, ["firm"], "capital", 3, ascending=True),
        **ordered,
    )
    b.rows(
        "bottom_n",
        "List the 5 days when Apple closed lowest.",
        [t.aapl],
        ranked(t.aapl.frame, ["Date"], "Close", 5, ascending=True),
        **ordered,
    )
    weather = t.weather.frame.assign(month=month_start(t.weather.frame["time"].dt.tz_convert(None)))
    monthly = weather.groupby("month", as_index=False)["temperature"].mean()
    b.rows(
        "bottom_n",
        "Which 2 months were the coldest on average?",
        [t.weather],
        ranked(monthly, ["month"], "temperature", 2, ascending=True),
        **ordered,
    )
    dem = election.groupby("state_abbr", as_index=False)["per_dem"].mean()
    b.rows(
        "bottom_n",
        "Which 3 states had the lowest average Democratic vote share across their counties?",
        [t.election],
        ranked(dem, ["state_abbr"], "per_dem", 3, ascending=True),
        **ordered,
    )
    media = tracks.groupby("MediaType", as_index=False).size()
    b.rows(
        "bottom_n",
        "Which 2 media types have the fewest tracks?",
        [t.tracks],
        ranked(media, ["MediaType"], "size", 2, ascending=True),
        **ordered,
    )


def add_groups(b: SetBuilder, t: Tables) -> None:
    """A measure for every value of a category."""
    titanic, cars, credit = t.titanic.frame, t.cars.frame, t.credit.frame
    b.rows(
        "group_by",
        "How many passengers were there in each class?",
        [t.titanic],
        titanic.groupby("Pclass").size(),
    )
    b.rows(
        "group_by",
        "What's the average mpg by number of cylinders?",
        [t.cars],
        cars.groupby("cylinders")["mpg"].mean(),
    )
    b.rows(
        "group_by",
        "Total sales by country",
        [t.invoices],
        t.invoices.frame.groupby("BillingCountry")["Total"].sum(),
    )
    b.rows(
        "group_by",
        "Average balance per ethnicity?",
        [t.credit],
        credit.groupby("Ethnicity")["Balance"].mean(),
    )
    b.rows(
        "group_by",
        "How many counties does each state have?",
        [t.election],
        t.election.frame.groupby("state_abbr").size(),
    )
    b.rows(
        "group_by",
        "What was the average fare for each port of embarkation?",
        [t.titanic],
        titanic.groupby("Embarked")["Fare"].mean(),
    )
    b.rows(
        "group_by",
        "For each firm, what was the average yearly investment?",
        [t.grunfeld],
        t.grunfeld.frame.groupby("firm")["invest"].mean(),
    )
    b.rows(
        "group_by", "Number of tracks per media type", [t.tracks], t.tracks.frame.groupby("MediaType").size()
    )
    b.rows(
        "group_by",
        "Show the average horsepower by origin.",
        [t.cars],
        cars.groupby("origin")["horsepower"].mean(),
    )
    b.rows(
        "group_by",
        "How many male and how many female passengers were there?",
        [t.titanic],
        titanic.groupby("Sex").size(),
    )


def add_shares(b: SetBuilder, t: Tables) -> None:
    """Percentages of a whole (a fraction of one counts too: ``percent`` is set on every line)."""
    titanic, inv, credit, cars = t.titanic.frame, t.invoices.frame, t.credit.frame, t.cars.frame
    pct = {"percent": True}
    b.value(
        "share",
        "What percentage of passengers were female?",
        [t.titanic],
        percent((titanic["Sex"] == "female").sum(), len(titanic)),
        **pct,
    )
    usa = inv.loc[inv["BillingCountry"] == "USA", "Total"].sum()
    b.value(
        "share",
        "What share of our revenue came from the USA?",
        [t.invoices],
        percent(usa, inv["Total"].sum()),
        **pct,
    )
    b.value(
        "share",
        "What percentage of card holders are students?",
        [t.credit],
        percent((credit["Student"] == "Yes").sum(), len(credit)),
        **pct,
    )
    b.value(
        "share",
        "What proportion of the cars have 4 cylinders, in percent?",
        [t.cars],
        percent((cars["cylinders"] == 4).sum(), len(cars)),
        **pct,
    )
    tracks = t.tracks.frame
    b.value(
        "share",
        "What percent of our tracks are Rock?",
        [t.tracks],
        percent((tracks["Genre"] == "Rock").sum(), len(tracks)),
        **pct,
    )
    b.value(
        "share",
        "What share of passengers travelled in 3rd class?",
        [t.titanic],
        percent((titanic["Pclass"] == 3).sum(), len(titanic)),
        **pct,
    )
    election = t.election.frame
    b.value(
        "share",
        "In what percentage of counties did the Republicans get more votes than the Democrats?",
        [t.election],
        percent((election["votes_gop"] > election["votes_dem"]).sum(), len(election)),
        **pct,
    )
    by_country = inv.groupby("BillingCountry")["Total"].sum()
    b.rows(
        "share",
        "What share of total sales does each country account for?",
        [t.invoices],
        100 * by_country / by_country.sum(),
        **pct,
    )
    aapl = t.aapl.frame
    b.value(
        "share",
        "On what percentage of trading days did Apple close higher than it opened?",
        [t.aapl],
        percent((aapl["Close"] > aapl["Open"]).sum(), len(aapl)),
        **pct,
    )


def add_value_filters(b: SetBuilder, t: Tables) -> None:
    """A measure over the rows whose category is named in the question's words."""
    titanic, inv, tracks, credit, cars = (
        t.titanic.frame,
        t.invoices.frame,
        t.tracks.frame,
        t.credit.frame,
        t.cars.frame,
    )
    b.value(
        "value_filter",
        "What's the average age of female passengers?",
        [t.titanic],
        titanic.loc[titanic["Sex"] == "female", "Age"].mean(),
    )
    b.value(
        "value_filter",
        "How much did customers in Germany spend?",
        [t.invoices],
        inv.loc[inv["BillingCountry"] == "Germany", "Total"].sum(),
    )
    b.value("value_filter", "How many Rock tracks are there?", [t.tracks], (tracks["Genre"] == "Rock").sum())
    b.value(
        "value_filter",
        "What is the average balance of Asian card holders?",
        [t.credit],
        credit.loc[credit["Ethnicity"] == "Asian", "Balance"].mean(),
    )
    b.value(
        "value_filter",
        "What's the average mpg of cars made in Japan?",
        [t.cars],
        cars.loc[cars["origin"] == "Japan", "mpg"].mean(),
    )
    b.value(
        "value_filter",
        "How many counties are listed for TX?",
        [t.election],
        (t.election.frame["state_abbr"] == "TX").sum(),
    )
    grunfeld = t.grunfeld.frame
    b.value(
        "value_filter",
        "What was IBM's total investment?",
        [t.grunfeld],
        grunfeld.loc[grunfeld["firm"] == "IBM", "invest"].sum(),
    )
    b.value(
        "value_filter",
        "How many male passengers were in first class?",
        [t.titanic],
        ((titanic["Sex"] == "male") & (titanic["Pclass"] == 1)).sum(),
    )
    b.value(
        "value_filter",
        "What's the average income of married customers?",
        [t.credit],
        credit.loc[credit["Married"] == "Yes", "Income"].mean(),
    )
    b.value(
        "value_filter",
        "What's the total playing time of all AC/DC tracks in milliseconds?",
        [t.tracks],
        tracks.loc[tracks["Artist"] == "AC/DC", "Milliseconds"].sum(),
    )
    b.value(
        "value_filter",
        "How many European cars are there?",
        [t.cars],
        (cars["origin"] == "Europe").sum(),
    )
