"""Ingestion of real files: encodings, dialects, preambles, headers, types, junk, nulls, ragged rows."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from nexus.datasets.ingest.base import IngestError, IngestLimits
from nexus.datasets.ingest.names import quote
from nexus.datasets.ingest.pipeline import IngestOptions, IngestResult, TableResult, ingest_file

EVALDATA = Path(__file__).parents[2].parent / "shared" / "evaldata"
DABENCH_TABLES = EVALDATA / "dabench" / "tables"
STORAGE = {
    "integer": "BIGINT",
    "number": "DOUBLE",
    "boolean": "BOOLEAN",
    "date": "DATE",
    "datetime": "TIMESTAMP",
    "text": "VARCHAR",
}


@dataclass
class Ingested:
    """What one ingestion stored, read back once from its DuckDB file."""

    result: IngestResult
    storage: dict[str, str]
    stored_rows: list[tuple[Any, ...]]

    @property
    def table(self) -> TableResult:
        assert len(self.result.tables) == 1
        return self.result.tables[0]

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        return {column["name"]: column for column in self.table.columns}

    def storage_types(self) -> dict[str, str]:
        return self.storage

    def rows(self) -> list[tuple[Any, ...]]:
        return self.stored_rows

    def values(self, column: str) -> list[Any]:
        index = list(self.storage).index(column)
        return [row[index] for row in self.stored_rows]


def ingest(tmp_path: Path, data: bytes | str, name: str = "upload.csv", **options: Any) -> Ingested:
    """Write ``data`` to a file, ingest it with default options (unless overridden), read it back."""
    source = tmp_path / name
    source.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    target = tmp_path / f"{name}.duckdb"
    result = ingest_file(source, target, IngestOptions(**options))
    assert [t.name for t in result.tables] == ["data"]
    with duckdb.connect(str(target), read_only=True) as con:
        described = con.execute("DESCRIBE data").fetchall()
        rows = con.execute("SELECT * FROM data").fetchall()
    return Ingested(result, {str(row[0]): str(row[1]) for row in described}, rows)


def approx(values: tuple[Any, ...]) -> Any:
    """Compare floats approximately, everything else exactly."""
    return [pytest.approx(v) if isinstance(v, float) else v for v in values]


def assert_typed(ingested: Ingested, column: str, type_name: str) -> None:
    """The profile's type and the stored DuckDB type agree with ``type_name``."""
    assert ingested.columns[column]["type"] == type_name, ingested.columns[column]
    assert ingested.storage_types()[column] == STORAGE[type_name]


# --- encodings -----------------------------------------------------------------------------------

ACCENTED = "Café,Ünits\nJosé,1\nRenée,2\nZoë Ñúñez,3\n"
ENCODINGS = [
    pytest.param(ACCENTED.encode("utf-8"), None, id="utf-8"),
    pytest.param(b"\xef\xbb\xbf" + ACCENTED.encode("utf-8"), "UTF-8 with a byte-order mark", id="utf-8-bom"),
    pytest.param(ACCENTED.encode("cp1252"), "CP1252", id="cp1252"),
    pytest.param(ACCENTED.encode("latin-1"), "CP1252", id="latin-1"),
    pytest.param(
        b"\xff\xfe" + ACCENTED.encode("utf-16-le"), "UTF-16-LE with a byte-order mark", id="utf-16-le-bom"
    ),
    pytest.param(ACCENTED.encode("utf-16-le"), "UTF-16-LE", id="utf-16-le-no-bom"),
]


class TestEncodings:
    @pytest.mark.parametrize(("data", "note"), ENCODINGS)
    def test_accented_text_survives(self, tmp_path: Path, data: bytes, note: str | None) -> None:
        ingested = ingest(tmp_path, data)
        assert list(ingested.columns) == ["café", "ünits"]
        assert [c["label"] for c in ingested.table.columns] == ["Café", "Ünits"]
        assert ingested.values("café") == ["José", "Renée", "Zoë Ñúñez"]
        assert_typed(ingested, "ünits", "integer")
        assert ingested.values("ünits") == [1, 2, 3]
        if note is None:
            assert not any(n.startswith("Read as") for n in ingested.result.notes)
        else:
            assert f"Read as {note}." in ingested.result.notes

    def test_transcoded_copy_is_removed(self, tmp_path: Path) -> None:
        ingest(tmp_path, ACCENTED.encode("cp1252"), name="latin.csv")
        assert sorted(p.name for p in tmp_path.iterdir()) == ["latin.csv", "latin.csv.duckdb"]


# --- dialects ------------------------------------------------------------------------------------


class TestDelimiters:
    @pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "pipe"])
    def test_delimiter_is_detected(self, tmp_path: Path, delimiter: str) -> None:
        lines = [
            ["id", "city", "count"],
            ["1", "Kuala Lumpur", "10"],
            ["2", "New York", "20"],
            ["3", "Oslo", "30"],
        ]
        ingested = ingest(tmp_path, "\n".join(delimiter.join(line) for line in lines) + "\n")
        assert list(ingested.columns) == ["id", "city", "count"]
        assert ingested.rows() == [(1, "Kuala Lumpur", 10), (2, "New York", 20), (3, "Oslo", 30)]

    def test_semicolons_with_decimal_commas(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, "item;weight\na;1,5\nb;2,25\nc;10,0\n")
        assert_typed(ingested, "weight", "number")
        assert ingested.values("weight") == [1.5, 2.25, 10.0]
        assert ingested.columns["weight"]["format"]["number_format"]["decimal"] == ","


class TestQuotes:
    def test_embedded_delimiters(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, 'id,comment,n\n1,"hello, world",2\n2,"a|b;c",3\n3,plain,4\n')
        assert ingested.values("comment") == ["hello, world", "a|b;c", "plain"]
        assert ingested.table.row_count == 3

    def test_doubled_quotes(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, 'id,comment\n1,"say ""hi"""\n2,"x"\n')
        assert ingested.values("comment") == ['say "hi"', "x"]

    @pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
    def test_embedded_newlines(self, tmp_path: Path, newline: str) -> None:
        data = newline.join(
            ["id,comment,n", '1,"first line' + newline + 'second, line",2', '2,"one line",3', "3,plain,4", ""]
        )
        ingested = ingest(tmp_path, data)
        assert ingested.table.row_count == 3
        assert ingested.values("comment") == [f"first line{newline}second, line", "one line", "plain"]
        assert ingested.values("n") == [2, 3, 4]
        assert ingested.table.ragged == {"short": 0, "long": 0}


class TestPreamble:
    def test_title_date_and_blank_lines_are_skipped(self, tmp_path: Path) -> None:
        data = (
            "Payments export\n"
            "Generated 2024-01-05 09:00\n"
            "\n"
            "\n"
            "payment_id,paid_on,amount,status\n"
            '1,2024-01-01,"RM 1,234.50",settled\n'
            "2,2024-01-02,RM 20.00,pending\n"
            "3,2024-01-03,RM 5.25,settled\n"
        )
        ingested = ingest(tmp_path, data)
        assert list(ingested.columns) == ["payment_id", "paid_on", "amount", "status"]
        assert ingested.table.row_count == 3
        assert ingested.rows()[0] == (1, dt.date(2024, 1, 1), 1234.5, "settled")
        assert "Skipped 4 line(s) above the header row." in ingested.result.notes

    @pytest.mark.parametrize("preamble", ["", "TEAM REPORT,,,,\n"], ids=["no-preamble", "title-row"])
    def test_header_kept_when_only_the_first_row_fills_optional_columns(
        self, tmp_path: Path, preamble: str
    ) -> None:
        # Like dabench's Current_Logan.csv: trailing columns filled on the first data row only.
        data = preamble + (
            "wins,name,school,rounds,weight\n5,Gatlin,Mitty,5,0.8\n"
            + "".join(f"{i},Team {i},Mitty,,\n" for i in range(4, 0, -1))
        )
        ingested = ingest(tmp_path, data)
        assert list(ingested.columns) == ["wins", "name", "school", "rounds", "weight"]
        assert ingested.table.row_count == 5
        assert ingested.rows()[0] == (5, "Gatlin", "Mitty", 5, 0.8)

    def test_no_preamble_no_note(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, "a,b\nx,1\ny,2\n")
        assert not any("Skipped" in note for note in ingested.result.notes)
        assert ingested.table.row_count == 2


class TestHeaders:
    def test_duplicate_and_empty_names_are_made_unique(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, "Amount,Amount,,Region, ,amount\n1,2,3,x,5,6\n7,8,9,y,11,12\n")
        assert list(ingested.columns) == ["amount", "amount_2", "column_3", "region", "column_5", "amount_3"]
        labels = [c["label"] for c in ingested.table.columns]
        assert labels == ["Amount", "Amount", "", "Region", " ", "amount"]
        assert ingested.rows() == [(1, 2, 3, "x", 5, 6), (7, 8, 9, "y", 11, 12)]

    def test_unsafe_header_becomes_clean_name_with_label(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, 'Total (USD) %,"2024 Sales",__nexus_x\n1,2,3\n4,5,6\n')
        names = list(ingested.columns)
        assert names == ["total_usd", "c_2024_sales", "nexus_x"]  # never a reserved __nexus name
        assert [c["label"] for c in ingested.table.columns] == ["Total (USD) %", "2024 Sales", "__nexus_x"]


# --- types ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypeCase:
    cells: tuple[str, ...]
    type: str
    values: tuple[Any, ...]
    format: dict[str, Any] | None = None
    options: tuple[tuple[str, Any], ...] = ()


D = dt.date
T = dt.datetime
TYPE_CASES = {
    # dates
    "iso-date": TypeCase(
        ("2024-01-05", "2024-02-29", "2024-12-31"),
        "date",
        (D(2024, 1, 5), D(2024, 2, 29), D(2024, 12, 31)),
        {"date_format": "%Y-%m-%d"},
    ),
    "dmy-decided-by-day-over-12": TypeCase(
        ("13/01/2024", "01/02/2024", "05/06/2024"),
        "date",
        (D(2024, 1, 13), D(2024, 2, 1), D(2024, 6, 5)),
        {"date_format": "%d/%m/%Y"},
    ),
    "mdy-decided-by-day-over-12": TypeCase(
        ("01/13/2024", "02/01/2024", "06/05/2024"),
        "date",
        (D(2024, 1, 13), D(2024, 2, 1), D(2024, 6, 5)),
        {"date_format": "%m/%d/%Y"},
    ),
    "mdy-wins-over-dmy-setting": TypeCase(
        ("12/25/2023", "01/02/2024"),
        "date",
        (D(2023, 12, 25), D(2024, 1, 2)),
        {"date_format": "%m/%d/%Y"},
        (("ambiguous_date_order", "dmy"),),
    ),
    "ambiguous-follows-dmy-setting": TypeCase(
        ("01/02/2024", "03/04/2024", "05/06/2024"),
        "date",
        (D(2024, 2, 1), D(2024, 4, 3), D(2024, 6, 5)),
        {"date_format": "%d/%m/%Y", "ambiguous_day_month": True},
        (("ambiguous_date_order", "dmy"),),
    ),
    "ambiguous-follows-mdy-setting": TypeCase(
        ("01/02/2024", "03/04/2024", "05/06/2024"),
        "date",
        (D(2024, 1, 2), D(2024, 3, 4), D(2024, 5, 6)),
        {"date_format": "%m/%d/%Y", "ambiguous_day_month": True},
        (("ambiguous_date_order", "mdy"),),
    ),
    "dotted-dmy": TypeCase(
        ("31.12.2023", "01.02.2024"), "date", (D(2023, 12, 31), D(2024, 2, 1)), {"date_format": "%d.%m.%Y"}
    ),
    "named-month": TypeCase(("5 Jan 2024", "17 March 2023"), "date", (D(2024, 1, 5), D(2023, 3, 17))),
    "iso-datetime": TypeCase(
        ("2024-01-05 10:30:00", "2024-01-06T11:00:00", "2024-01-07 12:00"),
        "datetime",
        (T(2024, 1, 5, 10, 30), T(2024, 1, 6, 11), T(2024, 1, 7, 12)),
    ),
    "dmy-datetime": TypeCase(
        ("05/01/2024 10:30", "13/01/2024 23:59:59"),
        "datetime",
        (T(2024, 1, 5, 10, 30), T(2024, 1, 13, 23, 59, 59)),
        {"date_format": "%d/%m/%Y"},
    ),
    # numbers
    "plain-integers": TypeCase(("1", "-2", "30"), "integer", (1, -2, 30)),
    "plain-decimals": TypeCase(("1.5", "-2", "3e2"), "number", (1.5, -2.0, 300.0)),
    "thousands-comma": TypeCase(
        ("1,234", "12,345,678", "5,000"),
        "integer",
        (1234, 12345678, 5000),
        {"number_format": {"decimal": ".", "group": ","}},
    ),
    "thousands-and-decimals": TypeCase(
        ("1,234.56", "999.5", "1,000,000.25"), "number", (1234.56, 999.5, 1000000.25)
    ),
    "currency-prefix-rm": TypeCase(
        ("RM 1,234.50", "RM 99.99", "RM0.50"), "number", (1234.5, 99.99, 0.5), {"currency": "RM"}
    ),
    "currency-prefix-dollar": TypeCase(
        ("$1,234", "$5", "$10,000"), "integer", (1234, 5, 10000), {"currency": "$"}
    ),
    "currency-suffix-eur-decimal-comma": TypeCase(
        ("1.234,50 EUR", "10,00 EUR", "2.000.000,00 EUR"),
        "number",
        (1234.5, 10.0, 2000000.0),
        {"currency": "EUR", "number_format": {"decimal": ",", "group": "."}},
    ),
    "negative-in-parentheses": TypeCase(("(1,200.00)", "300.00", "(5.00)"), "number", (-1200.0, 300.0, -5.0)),
    "negative-currency-in-parentheses": TypeCase(
        ("($5.00)", "-$20", "$7.25"), "number", (-5.0, -20.0, 7.25), {"currency": "$"}
    ),
    "percentages-as-fractions": TypeCase(
        ("12.5%", "100%", "0.5%", "-4%"), "number", (0.125, 1.0, 0.005, -0.04), {"percent": True}
    ),
    # booleans
    "yes-no": TypeCase(("yes", "no", "Yes", "NO"), "boolean", (True, False, True, False)),
    "true-false": TypeCase(("true", "false", "TRUE", "False"), "boolean", (True, False, True, False)),
    # identifiers and text
    "leading-zeros-stay-text": TypeCase(("00123", "00456", "01000"), "text", ("00123", "00456", "01000")),
    "mixed-words": TypeCase(("alpha", "12", "beta"), "text", ("alpha", "12", "beta")),
}


class TestTypes:
    @pytest.mark.parametrize("case", TYPE_CASES.values(), ids=TYPE_CASES.keys())
    def test_type_is_decided_from_the_data(self, tmp_path: Path, case: TypeCase) -> None:
        data = "row,value\n" + "".join(f'{i},"{cell}"\n' for i, cell in enumerate(case.cells))
        ingested = ingest(tmp_path, data, **dict(case.options))
        assert_typed(ingested, "value", case.type)
        assert ingested.values("value") == approx(case.values)
        column = ingested.columns["value"]
        assert column["dropped"] == 0
        if case.format is not None:
            assert {k: column["format"][k] for k in case.format} == case.format
            if "ambiguous_day_month" not in case.format and column["format"]:
                assert "ambiguous_day_month" not in column["format"]

    def test_min_and_max_are_typed(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, 'v,d\n"1,500",2024-03-01\n"20",2023-01-31\n')
        v, d = ingested.columns["v"], ingested.columns["d"]
        assert (v["min"], v["max"]) == (20, 1500)
        assert (d["min"], d["max"]) == ("2023-01-31", "2024-03-01")


class TestJunkAndNulls:
    def test_a_few_junk_cells_are_dropped(self, tmp_path: Path) -> None:
        cells = [f"{i * 1.5}" for i in range(300)] + ["oops", "#REF!", "n/a"]
        ingested = ingest(tmp_path, "value\n" + "\n".join(cells) + "\n")
        assert_typed(ingested, "value", "number")
        values = ingested.values("value")
        assert len(values) == 303
        assert values[:300] == [i * 1.5 for i in range(300)]
        assert values[300:] == [None, None, None]
        column = ingested.columns["value"]
        assert column["dropped"] == 2  # n/a is a null, not junk
        assert "Column 'value': 2 value(s) did not fit its type and were left empty." in ingested.table.notes

    def test_many_junk_cells_keep_the_column_text(self, tmp_path: Path) -> None:
        cells = [str(i) if i % 5 else f"bad{i}" for i in range(300)]
        ingested = ingest(tmp_path, "value\n" + "\n".join(cells) + "\n")
        assert_typed(ingested, "value", "text")
        assert ingested.values("value") == cells
        assert ingested.columns["value"]["dropped"] == 0
        assert not any("did not fit" in note for note in ingested.table.notes)

    def test_junk_beyond_the_tolerance_keeps_text(self, tmp_path: Path) -> None:
        cells = [str(i) for i in range(95)] + ["x1", "x2", "x3", "x4", "x5"]
        strict = ingest(tmp_path, "value\n" + "\n".join(cells) + "\n", name="strict.csv")
        assert_typed(strict, "value", "text")
        lenient = ingest(
            tmp_path,
            "value\n" + "\n".join(cells) + "\n",
            name="lenient.csv",
            limits=IngestLimits(junk_tolerance=0.1),
        )
        assert_typed(lenient, "value", "integer")
        assert lenient.columns["value"]["dropped"] == 5

    @pytest.mark.parametrize("token", ["NA", "N/A", "-", "", "null", "NULL", "n/a", "NaN", "#N/A", "none"])
    def test_null_tokens_are_nulls_not_junk(self, tmp_path: Path, token: str) -> None:
        ingested = ingest(tmp_path, f"v,w\n1,a\n{token},b\n3,c\n{token},d\n5,e\n")
        assert_typed(ingested, "v", "integer")
        assert ingested.values("v") == [1, None, 3, None, 5]
        column = ingested.columns["v"]
        assert column["dropped"] == 0
        assert column["null_fraction"] == pytest.approx(0.4)

    def test_empty_text_cells_are_null(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, "v,w\n1,a\n2,\n3,c\n")
        assert ingested.values("w") == ["a", None, "c"]


class TestRagged:
    def test_short_and_long_rows_are_kept_and_counted(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, "a,b,c\n1,2,3\n4,5\n6,7,8,9\n10\n11,12,13\n")
        assert ingested.table.row_count == 5
        assert ingested.table.ragged == {"short": 2, "long": 1}
        assert ingested.rows() == [(1, 2, 3), (4, 5, None), (6, 7, 8), (10, None, None), (11, 12, 13)]
        assert any("3 ragged row(s) kept" in note for note in ingested.result.notes)

    def test_regular_file_is_not_ragged(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, "a,b\n1,2\n3,4\n")
        assert ingested.table.ragged == {"short": 0, "long": 0}
        assert not any("ragged" in note for note in ingested.result.notes)

    def test_blank_lines_are_not_rows(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, "a,b\n1,2\n\n3,4\n\n\n")
        assert ingested.rows() == [(1, 2), (3, 4)]


# --- roles ---------------------------------------------------------------------------------------


def roles_csv(rows: int = 60) -> str:
    regions = ["north", "south", "east", "west"]
    lines = ["customer_id,order_date,amount,quantity,region,notes,email,active,updated_at"]
    for i in range(rows):
        lines.append(
            ",".join(
                [
                    str(1000 + i),
                    f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    f"{10 + i * 2.5:.2f}",
                    str(i % 7),
                    regions[i % 4],
                    f"Customer {i} wrote a long free-text remark about delivery number {i * 7919}",
                    f"user{i}@example.com",
                    "yes" if i % 3 else "no",
                    f"2024-01-{1 + i % 28:02d} {i % 24:02d}:15:00",
                ]
            )
        )
    return "\n".join(lines) + "\n"


ROLES = {
    "customer_id": ("integer", "id"),
    "order_date": ("date", "date"),
    "amount": ("number", "amount"),
    "quantity": ("integer", "measure"),
    "region": ("text", "category"),
    "notes": ("text", "text"),
    "email": ("text", "email"),
    "active": ("boolean", "boolean"),
    "updated_at": ("datetime", "datetime"),
}


@pytest.fixture(scope="module")
def roles(tmp_path_factory: pytest.TempPathFactory) -> Ingested:
    return ingest(tmp_path_factory.mktemp("roles"), roles_csv())


class TestRoles:
    @pytest.mark.parametrize(("column", "expected"), ROLES.items(), ids=ROLES.keys())
    def test_role(self, roles: Ingested, column: str, expected: tuple[str, str]) -> None:
        type_name, role = expected
        assert_typed(roles, column, type_name)
        assert roles.columns[column]["role"] == role

    def test_currency_makes_an_amount_whatever_the_name(self, tmp_path: Path) -> None:
        ingested = ingest(tmp_path, 'x,y\n"$1,200",3\n$5,4\n$7,5\n')
        assert ingested.columns["x"]["role"] == "amount"
        assert ingested.columns["y"]["role"] == "measure"

    def test_category_has_top_values(self, roles: Ingested) -> None:
        top = roles.columns["region"]["top_values"]
        assert {t["value"] for t in top} == {"north", "south", "east", "west"}
        assert sum(t["count"] for t in top) == 60

    def test_profile_counts(self, roles: Ingested) -> None:
        column = roles.columns["quantity"]
        assert column["distinct_count"] == 7
        assert (column["min"], column["max"]) == (0, 6)
        assert column["null_fraction"] == 0.0
        assert roles.table.row_count == 60


class TestUnreadable:
    @pytest.mark.parametrize(
        ("data", "message"),
        [
            (b"", "The file is empty."),
            (b"  \n\n \n", "The file is empty."),
            (b"a,b,c\n", "The file has a header but no rows."),
            (bytes(range(256)) * 8, "The file is not text"),
            (b"PK\x03\x04" + b"\x00garbage" * 50, "damaged"),
            (b"\xd0\xcf\x11\xe0" + b"\x00" * 100, "Old Excel files (.xls) are not supported"),
        ],
        ids=["empty", "blank", "header-only", "binary", "broken-zip", "xls"],
    )
    def test_clear_error(self, tmp_path: Path, data: bytes, message: str) -> None:
        with pytest.raises(IngestError, match=message.replace("(", r"\(").replace(")", r"\)")):
            ingest(tmp_path, data)

    def test_too_many_columns(self, tmp_path: Path) -> None:
        header = ",".join(f"c{i}" for i in range(50))
        row = ",".join(str(i) for i in range(50))
        with pytest.raises(IngestError, match="The file has 50 columns; the limit is 10"):
            ingest(tmp_path, f"{header}\n{row}\n", limits=IngestLimits(max_columns=10))


# --- real files ----------------------------------------------------------------------------------

DABENCH_FILES = sorted(DABENCH_TABLES.glob("*.csv")) if DABENCH_TABLES.is_dir() else []
# Lines above the header row that a reader should skip (pandas would take them as the header).
PREAMBLE_LINES = {"Current_Logan.csv": 1}


def _pandas_frame(path: Path) -> pd.DataFrame | None:
    try:
        return pd.read_csv(path, skiprows=PREAMBLE_LINES.get(path.name, 0), low_memory=False)
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError):
        return None


@pytest.mark.skipif(not DABENCH_FILES, reason=f"no public eval data at {DABENCH_TABLES}")
class TestDabenchTables:
    @pytest.mark.parametrize("path", DABENCH_FILES, ids=[p.name for p in DABENCH_FILES])
    def test_ingests_like_pandas(self, tmp_path: Path, path: Path) -> None:
        target = tmp_path / "out.duckdb"
        result = ingest_file(path, target, IngestOptions())
        assert result.format == "csv"
        (table,) = result.tables
        with duckdb.connect(str(target), read_only=True) as con:
            stored = con.execute(f"SELECT count(*) FROM {quote(table.name)}").fetchone()
        assert stored is not None and stored[0] == table.row_count
        frame = _pandas_frame(path)
        if frame is not None:
            assert table.row_count == len(frame)
            assert len(table.columns) == frame.shape[1]
            header = [str(c) for c in frame.columns if not str(c).startswith("Unnamed: ")]
            assert [c["label"] for c in table.columns if c["label"].strip()] == header


class TestHeaderlessTables:
    """A table without a header row, also below a title, keeps every row as data."""

    @pytest.mark.parametrize("preamble", ["", "Report for June\n\n"], ids=["plain", "after-title"])
    def test_rows_that_read_like_data_are_data(self, tmp_path: Path, preamble: str) -> None:
        source = tmp_path / "headerless.csv"
        source.write_text(preamble + "1,2.5,x\n3,4.5,y\n5,6,z\n")
        result = ingest_file(source, tmp_path / "out.duckdb", IngestOptions())
        table = result.tables[0]
        assert table.row_count == 3
        assert [c["name"] for c in table.columns] == ["column_1", "column_2", "column_3"]
        assert [c["type"] for c in table.columns] == ["integer", "number", "text"]
        assert any("No header row" in note for note in result.notes)

    def test_all_text_table_takes_its_first_row_as_header(self, tmp_path: Path) -> None:
        source = tmp_path / "people.csv"
        source.write_text("name,city\nAnn,Paris\nBob,Lima\n")
        table = ingest_file(source, tmp_path / "out.duckdb", IngestOptions()).tables[0]
        assert [c["name"] for c in table.columns] == ["name", "city"] and table.row_count == 2


class TestDayMonthDecidedByTheWholeColumn:
    def test_a_month_first_column_whose_sample_is_ambiguous(self, tmp_path: Path) -> None:
        """Rows that decide month-first sit where the type sample does not look; the data still wins."""
        padding = "x" * 180  # long rows: the sample's chunks further into the file hold few rows
        rows = [f"{(i % 12) + 1:02d}/{(i % 11) + 1:02d}/2024,{i},{padding}" for i in range(10_000)]
        for i in range(8_500, 8_900):
            rows[i] = f"01/{13 + i % 15:02d}/2025,{i},{padding}"
        source = tmp_path / "sorted.csv"
        source.write_text("day,n,note\n" + "\n".join(rows) + "\n")
        result = ingest_file(source, tmp_path / "out.duckdb", IngestOptions())
        day = result.tables[0].columns[0]
        assert day["type"] == "date"
        assert day["format"]["date_format"] == "%m/%d/%Y"
        assert day["dropped"] == 0
        assert day["max"] == "2025-01-27"
