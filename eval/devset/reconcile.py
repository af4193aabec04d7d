"""Questions over two files: what one lacks of the other, and measures across a key."""

from __future__ import annotations

from eval.devset.common import SetBuilder, ranked
from eval.devset.data import Tables


def add_missing(b: SetBuilder, t: Tables) -> None:
    """Reconciliation: keys of one file absent from another, their count and amount."""
    inv, pay = t.invoices.frame, t.payments.frame
    unpaid = inv[~inv["InvoiceId"].isin(pay["InvoiceId"])]
    files = [t.invoices, t.payments]
    b.value("missing_from", "How many invoices have no matching payment?", files, len(unpaid))
    b.rows(
        "missing_from",
        "Which invoices in invoices.csv are missing from payments.csv?",
        files,
        unpaid[["InvoiceId"]],
    )
    b.value(
        "missing_from",
        "What's the total amount of the invoices that were never paid?",
        files,
        unpaid["Total"].sum(),
    )
    b.rows(
        "missing_from",
        "How many invoices are unpaid, and what is their total value?",
        files,
        [[len(unpaid), unpaid["Total"].sum()]],
    )
    tracks, lines = t.tracks.frame, t.lines.frame
    unsold = tracks[~tracks["TrackId"].isin(lines["TrackId"])]
    b.value(
        "missing_from",
        "How many tracks in the catalogue have never been sold?",
        [t.tracks, t.lines],
        len(unsold),
    )
    b.value(
        "missing_from",
        "How many Rock tracks have never been bought?",
        [t.tracks, t.lines],
        (unsold["Genre"] == "Rock").sum(),
    )
    people, accounts = t.credit_customers.frame, t.credit_accounts.frame
    no_account = people[~people["CustomerID"].isin(accounts["CustomerID"])]
    b.rows(
        "missing_from",
        "Which customers in credit_customers.csv have no account in credit_accounts.csv?",
        [t.credit_customers, t.credit_accounts],
        no_account[["CustomerID"]],
    )
    orphans = accounts[~accounts["CustomerID"].isin(people["CustomerID"])]
    b.rows(
        "missing_from",
        "How many card accounts have no customer in the customer file, and what is their total balance?",
        [t.credit_accounts, t.credit_customers],
        [[len(orphans), orphans["Balance"].sum()]],
    )
    b.value(
        "missing_from",
        "What's the combined credit limit of the accounts whose customer is missing from the customer list?",
        [t.credit_accounts, t.credit_customers],
        orphans["Limit"].sum(),
    )
    customers = t.customers.frame
    bought_2025 = inv.loc[inv["InvoiceDate"].dt.year == 2025, "CustomerId"]
    idle = customers[~customers["CustomerId"].isin(bought_2025)]
    b.rows(
        "missing_from",
        "Which customers didn't buy anything in 2025?",
        [t.customers, t.invoices],
        idle[["FirstName", "LastName"]],
    )


def add_joins(b: SetBuilder, t: Tables) -> None:
    """Measures that need two files matched on a key."""
    lines, tracks = t.lines.frame, t.tracks.frame
    sold = lines.merge(tracks[["TrackId", "Artist", "Genre"]], on="TrackId")
    sold["revenue"] = sold["UnitPrice"] * sold["Quantity"]
    by_genre = sold.groupby("Genre", as_index=False)["revenue"].sum()
    best = ranked(by_genre, ["Genre"], "revenue", 1)
    b.value("join", "Which genre brought in the most revenue?", [t.lines, t.tracks], best["Genre"].item())
    b.rows("join", "How much revenue did each genre bring in?", [t.lines, t.tracks], by_genre)
    inv, customers = t.invoices.frame, t.customers.frame
    spend = (
        inv.merge(customers, on="CustomerId")
        .groupby(["FirstName", "LastName"], as_index=False)["Total"]
        .sum()
    )
    b.rows(
        "join",
        "Who are our top 3 customers by total spend?",
        [t.invoices, t.customers],
        ranked(spend, ["FirstName", "LastName"], "Total", 3),
        order_matters=True,
    )
    with_rep = inv.merge(customers[["CustomerId", "SupportRep"]], on="CustomerId")
    b.value(
        "join",
        "How much revenue came from customers looked after by Jane Peacock?",
        [t.invoices, t.customers],
        with_rep.loc[with_rep["SupportRep"] == "Jane Peacock", "Total"].sum(),
    )
    b.rows(
        "join",
        "Total sales per support rep",
        [t.invoices, t.customers],
        with_rep.groupby("SupportRep")["Total"].sum(),
    )
    people, accounts = t.credit_customers.frame, t.credit_accounts.frame
    matched = people.merge(accounts, on="CustomerID")
    b.value(
        "join",
        "What's the average card balance of students?",
        [t.credit_customers, t.credit_accounts],
        matched.loc[matched["Student"] == "Yes", "Balance"].mean(),
    )
    b.rows(
        "join",
        "What is the average credit limit by gender?",
        [t.credit_customers, t.credit_accounts],
        matched.groupby("Gender")["Limit"].mean(),
    )
    pay = t.payments.frame
    billed = inv.merge(pay, on="InvoiceId")
    short = billed[billed["Amount"] < billed["Total"]]
    b.rows(
        "join",
        "Compare invoices.csv with payments.csv: which invoices were paid less than the amount billed?",
        [t.invoices, t.payments],
        short[["InvoiceId"]],
    )
    b.value(
        "join",
        "How much is still outstanding on invoices that were only partly paid?",
        [t.invoices, t.payments],
        (short["Total"] - short["Amount"]).sum(),
    )
    b.value(
        "join",
        "How many Iron Maiden tracks have we sold?",
        [t.lines, t.tracks],
        sold.loc[sold["Artist"] == "Iron Maiden", "Quantity"].sum(),
    )
