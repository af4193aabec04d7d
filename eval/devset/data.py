"""The tables of the dev set: public files read in place, and small CSVs derived into eval/sets/data/.

Derived files (all deterministic, see eval/README.md):
- Chinook (lerocha/chinook-database, MIT): invoices, customers (with the support rep's name),
  invoice_lines, tracks (with album, artist, genre and media type names).
- payments.csv: one payment per Chinook invoice except those with InvoiceId % 17 == 5 (never paid);
  invoices with InvoiceId % 29 == 11 were paid half their total. Paid 3 + InvoiceId % 11 days later.
- credit_customers.csv / credit_accounts.csv: DABench's Credit.csv split by column into a customer
  register (rows with id % 11 != 4) and card accounts (rows with id % 13 != 6): overlapping key sets.
- auto_mpg.csv: DABench's auto-mpg.csv with the UCI origin codes named (1 USA, 2 Europe, 3 Japan) and
  four-digit model years.
- macrodata.csv, grunfeld.csv, co2.csv: statsmodels' bundled public-domain data sets.
"""

from __future__ import annotations

import sqlite3
import warnings
from dataclasses import dataclass
from pathlib import Path

import pandas as pd  # type: ignore[import-untyped]  # pandas ships no type stubs

from eval.sets import EVALDATA_PREFIX, SETS_DIR, evaldata_dir

DATA_DIR = SETS_DIR / "data"
DABENCH = "dabench/tables/"


@dataclass(frozen=True)
class Table:
    """A file of the set: how questions name it, and its rows as pandas reads them."""

    ref: str
    frame: pd.DataFrame


def _ref(path: Path) -> str:
    return f"data/{path.name}"


def _chinook(connection: sqlite3.Connection, sql: str) -> pd.DataFrame:
    return pd.read_sql_query(sql, connection)


def write_chinook() -> None:
    """Write invoices, customers, invoice_lines, tracks and payments from the Chinook database."""
    with sqlite3.connect(evaldata_dir() / "text2sql" / "chinook.sqlite") as connection:
        invoices = _chinook(
            connection,
            "SELECT InvoiceId, CustomerId, date(InvoiceDate) AS InvoiceDate, BillingCity, BillingState,"
            " BillingCountry, Total FROM Invoice ORDER BY InvoiceId",
        )
        customers = _chinook(
            connection,
            "SELECT c.CustomerId, c.FirstName, c.LastName, c.Company, c.City, c.State, c.Country, c.Email,"
            " e.FirstName || ' ' || e.LastName AS SupportRep"
            " FROM Customer c LEFT JOIN Employee e ON e.EmployeeId = c.SupportRepId ORDER BY c.CustomerId",
        )
        lines = _chinook(
            connection,
            "SELECT InvoiceLineId, InvoiceId, TrackId, UnitPrice, Quantity FROM InvoiceLine ORDER BY 1",
        )
        tracks = _chinook(
            connection,
            "SELECT t.TrackId, t.Name, al.Title AS Album, ar.Name AS Artist, g.Name AS Genre,"
            " m.Name AS MediaType, t.Composer, t.Milliseconds, t.UnitPrice FROM Track t"
            " JOIN Album al ON al.AlbumId = t.AlbumId JOIN Artist ar ON ar.ArtistId = al.ArtistId"
            " LEFT JOIN Genre g ON g.GenreId = t.GenreId JOIN MediaType m ON m.MediaTypeId = t.MediaTypeId"
            " ORDER BY t.TrackId",
        )
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for name, frame in [
        ("invoices", invoices),
        ("customers", customers),
        ("invoice_lines", lines),
        ("tracks", tracks),
        ("payments", _payments(invoices)),
    ]:
        frame.to_csv(DATA_DIR / f"{name}.csv", index=False)


def _payments(invoices: pd.DataFrame) -> pd.DataFrame:
    paid = invoices[invoices["InvoiceId"] % 17 != 5].copy()
    partial = paid["InvoiceId"] % 29 == 11
    paid["Amount"] = paid["Total"].where(~partial, (paid["Total"] / 2).round(2))
    days = pd.to_timedelta(3 + paid["InvoiceId"] % 11, unit="D")
    paid["PaidOn"] = (pd.to_datetime(paid["InvoiceDate"]) + days).dt.strftime("%Y-%m-%d")
    paid = paid.sort_values(["PaidOn", "InvoiceId"]).reset_index(drop=True)
    paid["PaymentId"] = range(5001, 5001 + len(paid))
    return paid[["PaymentId", "InvoiceId", "PaidOn", "Amount"]]


def write_credit_split() -> None:
    """Split DABench's Credit.csv into a customer register and card accounts with overlapping ids."""
    credit = pd.read_csv(evaldata_dir() / DABENCH / "Credit.csv").rename(columns={"Unnamed: 0": "CustomerID"})
    customers = credit[credit["CustomerID"] % 11 != 4]
    customers = customers[
        ["CustomerID", "Gender", "Age", "Education", "Student", "Married", "Ethnicity", "Income"]
    ]
    accounts = credit[credit["CustomerID"] % 13 != 6][["CustomerID", "Limit", "Rating", "Cards", "Balance"]]
    customers.to_csv(DATA_DIR / "credit_customers.csv", index=False)
    accounts.to_csv(DATA_DIR / "credit_accounts.csv", index=False)


def write_auto_mpg() -> None:
    """Write auto-mpg with named origins and four-digit model years."""
    cars = pd.read_csv(evaldata_dir() / DABENCH / "auto-mpg.csv")
    cars["origin"] = cars["origin"].map({1: "USA", 2: "Europe", 3: "Japan"})
    cars["modelyear"] = cars["modelyear"] + 1900
    cars["weight"] = cars["weight"].astype(int)
    cars = cars.rename(columns={"modelyear": "model_year"})
    cars.to_csv(DATA_DIR / "auto_mpg.csv", index=False)


def write_statsmodels() -> None:
    """Write macrodata (with a quarter-start date), grunfeld and co2 from statsmodels."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from statsmodels.datasets import co2, grunfeld, macrodata  # type: ignore[import-untyped]

        macro = macrodata.load_pandas().data
        firms = grunfeld.load_pandas().data
        carbon = co2.load_pandas().data
    macro = macro.astype({"year": int, "quarter": int})
    starts = pd.to_datetime({"year": macro["year"], "month": 3 * macro["quarter"] - 2, "day": 1})
    macro.insert(0, "date", starts.dt.strftime("%Y-%m-%d"))
    macro.to_csv(DATA_DIR / "macrodata.csv", index=False)
    firms = firms.astype({"year": int})[["firm", "year", "invest", "value", "capital"]]
    firms.to_csv(DATA_DIR / "grunfeld.csv", index=False)
    carbon = carbon.rename_axis("date").reset_index()
    carbon["date"] = carbon["date"].dt.strftime("%Y-%m-%d")
    carbon.to_csv(DATA_DIR / "co2.csv", index=False)


def write_all() -> None:
    """Write every derived file."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    write_chinook()
    write_credit_split()
    write_auto_mpg()
    write_statsmodels()


def _derived(name: str, dates: tuple[str, ...] = ()) -> Table:
    path = DATA_DIR / name
    frame = pd.read_csv(path)
    for column in dates:
        frame[column] = pd.to_datetime(frame[column])
    return Table(_ref(path), frame)


def _dabench(name: str) -> Table:
    return Table(f"{EVALDATA_PREFIX}{DABENCH}{name}", pd.read_csv(evaldata_dir() / DABENCH / name))


@dataclass(frozen=True)
class Tables:
    """Every table the dev set asks about, read back from the files the harness uploads."""

    invoices: Table
    customers: Table
    lines: Table
    tracks: Table
    payments: Table
    credit_customers: Table
    credit_accounts: Table
    cars: Table
    macro: Table
    grunfeld: Table
    co2: Table
    titanic: Table
    credit: Table
    aapl: Table
    election: Table
    weather: Table


def load_tables() -> Tables:
    """Read every table of the set (write the derived ones first)."""
    aapl = _dabench("e5_aapl.csv")
    aapl.frame["Date"] = pd.to_datetime(aapl.frame["Date"])
    weather = _dabench("weather_train.csv")
    weather.frame["time"] = pd.to_datetime(weather.frame["time"])
    return Tables(
        invoices=_derived("invoices.csv", ("InvoiceDate",)),
        customers=_derived("customers.csv"),
        lines=_derived("invoice_lines.csv"),
        tracks=_derived("tracks.csv"),
        payments=_derived("payments.csv", ("PaidOn",)),
        credit_customers=_derived("credit_customers.csv"),
        credit_accounts=_derived("credit_accounts.csv"),
        cars=_derived("auto_mpg.csv"),
        macro=_derived("macrodata.csv", ("date",)),
        grunfeld=_derived("grunfeld.csv"),
        co2=_derived("co2.csv", ("date",)),
        titanic=_dabench("titanic_test.csv"),
        credit=_dabench("Credit.csv"),
        aapl=aapl,
        election=_dabench("election2016.csv"),
        weather=weather,
    )
