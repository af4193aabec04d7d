"""The file readers: real files in, staging tables (text or kept types), labels, notes and errors out."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import sqlite3
import struct
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from nexus.datasets.ingest import excel, jsonfile, parquet, sqlite
from nexus.datasets.ingest.base import ForeignKey, IngestError, IngestLimits, ReadResult

# --- helpers -------------------------------------------------------------------------------------

_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def _column_letters(index: int) -> str:
    letters, index = "", index + 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _cell(ref: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.datetime):
        serial = (value - dt.datetime(1899, 12, 30)).total_seconds() / 86400
        return f'<c r="{ref}" s="2"><v>{serial!r}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="1"><v>{(value - dt.date(1899, 12, 30)).days}</v></c>'
    if isinstance(value, int | float):
        return f'<c r="{ref}"><v>{value!r}</v></c>'
    text = escape(str(value))
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def write_xlsx(path: Path, sheets: dict[str, Sequence[Sequence[Any]]]) -> Path:
    """Write a minimal but valid .xlsx (inline strings; styles 1 = date, 2 = date-time)."""
    overrides = [
        f'<Override PartName="/xl/workbook.xml" ContentType="{_CT}.sheet.main+xml"/>',
        f'<Override PartName="/xl/styles.xml" ContentType="{_CT}.styles+xml"/>',
    ]
    entries, relations = [], []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for number, (name, rows) in enumerate(sheets.items(), start=1):
            overrides.append(
                f'<Override PartName="/xl/worksheets/sheet{number}.xml" ContentType="{_CT}.worksheet+xml"/>'
            )
            entries.append(f'<sheet name="{escape(name)}" sheetId="{number}" r:id="rId{number}"/>')
            target = f"worksheets/sheet{number}.xml"
            relations.append(f'<Relationship Id="rId{number}" Type="{_REL}/worksheet" Target="{target}"/>')
            body = "".join(
                f'<row r="{r}">'
                + "".join(_cell(f"{_column_letters(c)}{r}", v) for c, v in enumerate(row))
                + "</row>"
                for r, row in enumerate(rows, start=1)
            )
            archive.writestr(
                f"xl/worksheets/sheet{number}.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{_MAIN}"><sheetData>{body}'
                "</sheetData></worksheet>",
            )
        relations.append(
            f'<Relationship Id="rId{len(sheets) + 1}" Type="{_REL}/styles" Target="styles.xml"/>'
        )
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>' + "".join(overrides) + "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">'
            f'<Relationship Id="rId1" Type="{_REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{_MAIN}" xmlns:r="{_REL}">'
            f"<sheets>{''.join(entries)}</sheets></workbook>",
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{_PKG}">{"".join(relations)}'
            "</Relationships>",
        )
        archive.writestr(
            "xl/styles.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><styleSheet xmlns="{_MAIN}">'
            '<fonts count="1"><font/></fonts><fills count="1"><fill/></fills>'
            '<borders count="1"><border/></borders><cellStyleXfs count="1"><xf/></cellStyleXfs>'
            '<cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="14" applyNumberFormat="1"/>'
            '<xf numFmtId="22" applyNumberFormat="1"/></cellXfs></styleSheet>',
        )
    return path


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def rows(con: duckdb.DuckDBPyConnection, table: str) -> list[tuple[Any, ...]]:
    return con.execute(f'SELECT * FROM "{table}"').fetchall()


def types(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return {str(row[0]): str(row[1]) for row in con.execute(f'DESCRIBE "{table}"').fetchall()}


def tables_in(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {str(row[0]) for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}


# --- Excel ---------------------------------------------------------------------------------------


def test_excel_sheets_become_text_tables(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = write_xlsx(
        tmp_path / "book.xlsx",
        {
            "Sales 2024": [
                ["Quarterly sales report"],
                [],
                ["ID", "Amount", "Day", "Paid", "At", "Amount"],
                [1, 2.5, dt.date(2024, 1, 5), True, dt.datetime(2024, 1, 5, 13, 4, 5), "1,200.50"],
                [2, 3.0, None, False, None, None],
                [],
                [3, 0.1 + 0.2, dt.date(2023, 12, 31), None, None, "€5"],
            ],
            "Empty": [],
            "Notes": [["Topic", "Text"], ["a", "first"]],
        },
    )
    result = excel.read(source, con, IngestLimits())
    assert result.format == "xlsx"
    assert [(t.name, t.staging) for t in result.tables] == [
        ("sales_2024", "__nexus_stage_1"),
        ("notes", "__nexus_stage_2"),
    ]
    sales = result.tables[0]
    assert sales.labels == {
        "id": "ID",
        "amount": "Amount",
        "day": "Day",
        "paid": "Paid",
        "at": "At",
        "amount_2": "Amount",
    }
    assert set(types(con, sales.staging).values()) == {"VARCHAR"}
    assert rows(con, sales.staging) == [
        ("1", "2.5", "2024-01-05", "true", "2024-01-05 13:04:05", "1,200.50"),
        ("2", "3", None, "false", None, None),
        ("3", "0.3", "2023-12-31", None, None, "€5"),
    ]
    assert any("2 row(s) above the header" in note for note in sales.notes)
    assert any("1 empty row(s)" in note for note in sales.notes)
    assert "Sheet 'Empty' has no rows and was skipped." in result.notes
    assert rows(con, "__nexus_stage_2") == [("a", "first")]


def test_excel_sheet_names_are_made_unique_and_batches_stream(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(excel, "BATCH_ROWS", 2)
    data = [["name", "n"], *[[f"row {i}", i] for i in range(7)]]
    source = write_xlsx(tmp_path / "book.xlsx", {"Data!": data, "data": data, "Header only": [["a", "b"]]})
    result = excel.read(source, con, IngestLimits())
    assert [t.name for t in result.tables] == ["data", "data_2"]
    assert con.execute("SELECT count(*), max(n) FROM __nexus_stage_2").fetchone() == (7, "6")
    assert "Sheet 'Header only' has no rows and was skipped." in result.notes
    assert "__nexus_stage_3" not in tables_in(con)


def test_excel_without_header_row_gets_generic_names(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = write_xlsx(tmp_path / "book.xlsx", {"S": [[1, 2], [3, 4], [5, 6]]})
    table = excel.read(source, con, IngestLimits()).tables[0]
    assert list(table.labels) == ["column_1", "column_2"]
    assert rows(con, table.staging) == [("1", "2"), ("3", "4"), ("5", "6")]
    assert any("no header row" in note for note in table.notes)


def test_excel_all_sheets_empty(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = write_xlsx(tmp_path / "book.xlsx", {"A": [], "B": [[None, None]]})
    with pytest.raises(IngestError, match="every sheet is empty"):
        excel.read(source, con, IngestLimits())


def test_excel_too_many_columns(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = write_xlsx(tmp_path / "wide.xlsx", {"Wide": [[f"c{i}" for i in range(6)], list(range(6))]})
    with pytest.raises(IngestError, match=r"Sheet 'Wide' has 6 columns; the limit is 5\."):
        excel.read(source, con, IngestLimits(max_columns=5))


def test_excel_too_many_sheets(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = write_xlsx(tmp_path / "book.xlsx", {"A": [["x"], [1]], "B": [["x"], [1]]})
    with pytest.raises(IngestError, match="2 sheets; the limit is 1"):
        excel.read(source, con, IngestLimits(max_tables=1))


def test_excel_not_a_zip(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "fake.xlsx"
    source.write_text("id,name\n1,a\n")
    with pytest.raises(IngestError, match="not a valid .xlsx"):
        excel.read(source, con, IngestLimits())


def test_excel_truncated_zip(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    whole = write_xlsx(tmp_path / "book.xlsx", {"S": [["a"], [1]]}).read_bytes()
    source = tmp_path / "cut.xlsx"
    source.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(IngestError, match="not a valid .xlsx"):
        excel.read(source, con, IngestLimits())


def _bomb(path: Path, size: int) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * size)
    return path


def test_excel_zip_bomb_over_uncompressed_limit(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = _bomb(tmp_path / "bomb.xlsx", 2_000_000)
    assert source.stat().st_size < 10_000
    with pytest.raises(IngestError, match=r"expands to 2,000,008 bytes .* limit is 1,000,000 bytes"):
        excel.read(source, con, IngestLimits(max_uncompressed_bytes=1_000_000))


def test_excel_zip_bomb_over_compression_ratio(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = _bomb(tmp_path / "bomb.xlsx", 20_000_000)
    with pytest.raises(IngestError, match="zip bomb"):
        excel.read(source, con, IngestLimits())


def test_excel_zip_that_lies_about_its_size(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * 5_000_000)
    data = bytearray(buffer.getvalue())
    struct.pack_into("<I", data, 22, 1000)  # local header: uncompressed size
    struct.pack_into("<I", data, data.rfind(b"PK\x01\x02") + 24, 1000)  # central directory
    source = tmp_path / "liar.xlsx"
    source.write_bytes(bytes(data))
    with pytest.raises(IngestError, match="damaged"):
        excel.read(source, con, IngestLimits(max_uncompressed_bytes=1_000_000))


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, None),
        ("", None),
        ("  x ", "  x "),
        (True, "true"),
        (False, "false"),
        (3.0, "3"),
        (-0.0, "0"),
        (1e20, "100000000000000000000"),
        (2.5, "2.5"),
        (0.1 + 0.2, "0.3"),
        (7, "7"),
        (dt.date(2024, 2, 29), "2024-02-29"),
        (dt.datetime(2024, 2, 29, 8, 5, 0), "2024-02-29 08:05:00"),
        (dt.datetime(2024, 2, 29, 8, 5, 0, 250_000), "2024-02-29 08:05:00.250"),
        (dt.time(12, 30), "12:30:00"),
        (dt.timedelta(hours=26, minutes=3, seconds=4), "26:03:04"),
    ],
)
def test_excel_cell_text(value: Any, text: str | None) -> None:
    assert excel.cell_text(value) == text


# --- JSON ----------------------------------------------------------------------------------------

RECORDS = [
    {
        "id": 1,
        "name": "Ann",
        "day": "2024-01-05",
        "at": "2024-01-05T10:00:00Z",
        "uid": "3B241101-E2BB-4255-8CAF-4136C566A962",
        "address": {"city": "Oslo", "geo": {"lat": 59.9}},
        "tags": ["a", "b"],
        "ok": True,
        "amount": 1.5,
        "mixed": 1,
        "code": "007",
    },
    {
        "id": 2,
        "name": None,
        "day": "2024-02-05",
        "at": "2024-01-06T10:00:00Z",
        "uid": None,
        "address": {"city": "Rome"},
        "tags": [],
        "ok": False,
        "amount": 2,
        "mixed": "x",
        "code": "010",
    },
]


def test_json_array_of_objects(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps(RECORDS, indent=2))
    result = jsonfile.read(source, con, IngestLimits())
    assert result.format == "json"
    (table,) = result.tables
    assert (table.name, table.staging) == ("data", "__nexus_stage_1")
    assert table.labels["address_city"] == "address.city"
    assert table.labels["address_geo"] == "address.geo"
    assert types(con, table.staging) == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "day": "VARCHAR",
        "at": "VARCHAR",
        "uid": "VARCHAR",
        "address_city": "VARCHAR",
        "address_geo": "VARCHAR",
        "tags": "VARCHAR",
        "ok": "BOOLEAN",
        "amount": "DOUBLE",
        "mixed": "VARCHAR",
        "code": "VARCHAR",
    }
    assert rows(con, table.staging) == [
        (1, "Ann", "2024-01-05", "2024-01-05T10:00:00Z", "3B241101-E2BB-4255-8CAF-4136C566A962", "Oslo",
         '{"lat":59.9}', '["a","b"]', True, 1.5, "1", "007"),
        (2, None, "2024-02-05", "2024-01-06T10:00:00Z", None, "Rome", None, "[]", False, 2.0, "x", "010"),
    ]  # fmt: skip


def test_json_lines(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "data.jsonl"
    source.write_text('{"a": 1, "b": "x"}\n{"a": 2, "b": "y", "c": [1, 2]}\n\n{"a": 3}\n')
    result = jsonfile.read(source, con, IngestLimits())
    assert result.format == "jsonl"
    assert rows(con, result.tables[0].staging) == [(1, "x", None), (2, "y", "[1,2]"), (3, None, None)]


def test_json_lines_with_byte_order_mark(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "data.jsonl"
    source.write_bytes(b'\xef\xbb\xbf{"a": 1}\r\n{"a": 2}\r\n')
    result = jsonfile.read(source, con, IngestLimits())
    assert result.format == "jsonl"
    assert rows(con, result.tables[0].staging) == [(1,), (2,)]


def test_json_object_wrapping_one_list(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "api.json"
    payload = {
        "count": 2,
        "data": [{"a": 1, "d": "2024-01-01"}, {"a": 2, "b": {"c": True}}],
        "meta": {"p": 1},
    }
    source.write_text(json.dumps(payload, indent=1))
    (table,) = jsonfile.read(source, con, IngestLimits()).tables
    assert table.labels == {"a": "a", "d": "d", "b_c": "b.c"}
    assert rows(con, table.staging) == [(1, "2024-01-01", None), (2, None, True)]
    assert table.notes == ["Only the list 'data' was read; the other members were ignored: 'count', 'meta'."]


def test_json_keys_differing_only_in_case_are_kept(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "data.json"
    source.write_text('[{"Total": 1, "total": 2, "day": "2024-01-01"}]')
    (table,) = jsonfile.read(source, con, IngestLimits()).tables
    assert rows(con, table.staging) == [(1, 2, "2024-01-01")]


def test_json_types_disagreeing_after_the_sample(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "data.jsonl"
    lines = [json.dumps({"n": i}) for i in range(25_000)] + ['{"n": "not a number"}']
    source.write_text("\n".join(lines) + "\n")
    (table,) = jsonfile.read(source, con, IngestLimits()).tables
    assert types(con, table.staging) == {"n": "VARCHAR"}
    assert con.execute("SELECT count(*), max_by(n, rowid) FROM __nexus_stage_1").fetchone() == (
        25_001,
        "not a number",
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("42", "it is a single value"),
        ('"text"', "it is a single text"),
        ("[1, 2, 3]", "it is an array of numbers"),
        ('["a", "b"]', "it is an array of strings"),
        ("[]", "the array is empty"),
        ('[{"a": 1}, 5]', "not every item of the array is an object"),
        ('{"alice": {"age": 3}, "bob": {"age": 4}}', "it is an object of objects"),
        ('{"a": 1, "b": [1, 2]}', "a single object without a list of records"),
        ('{"a": [{"x": 1}], "b": [{"y": 2}]}', r"several lists of records \(a, b\)"),
    ],
)
def test_json_not_a_table(tmp_path: Path, con: duckdb.DuckDBPyConnection, content: str, message: str) -> None:
    source = tmp_path / "data.json"
    source.write_text(content)
    with pytest.raises(IngestError, match=f"The JSON is not a table: .*{message}"):
        jsonfile.read(source, con, IngestLimits())


def test_json_malformed(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "data.json"
    source.write_text('[{"a": 1}, {"a": ')
    with pytest.raises(IngestError, match="The JSON could not be read") as caught:
        jsonfile.read(source, con, IngestLimits())
    assert str(tmp_path) not in str(caught.value)


def test_json_too_many_columns_counts_flattened_ones(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "data.json"
    source.write_text(json.dumps([{"a": 1, "nested": {"x": 1, "y": 2, "z": 3}}]))
    with pytest.raises(IngestError, match=r"4 columns; the limit is 3\."):
        jsonfile.read(source, con, IngestLimits(max_columns=3))


# --- Parquet -------------------------------------------------------------------------------------


def test_parquet_keeps_types_and_nested_becomes_json(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "data.parquet"
    table = pa.table(
        {
            "ID": [1, 2],
            "Name": ["a", None],
            "day": [dt.date(2024, 1, 1), None],
            "point": [{"x": 1, "y": "q"}, None],
            "items": [[1, 2], []],
        }
    )
    pq.write_table(table, source)
    result = parquet.read(source, con, IngestLimits())
    (staged,) = result.tables
    assert (result.format, staged.name, staged.staging) == ("parquet", "data", "__nexus_stage_1")
    assert staged.labels == {"id": "ID", "name": "Name", "day": "day", "point": "point", "items": "items"}
    assert types(con, staged.staging) == {
        "id": "BIGINT",
        "name": "VARCHAR",
        "day": "DATE",
        "point": "VARCHAR",
        "items": "VARCHAR",
    }
    assert rows(con, staged.staging) == [
        (1, "a", dt.date(2024, 1, 1), '{"x":1,"y":"q"}', "[1,2]"),
        (2, None, None, None, "[]"),
    ]
    assert len(staged.notes) == 2


def test_parquet_duplicate_names_keep_their_labels(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "dup.parquet"
    arrays = [pa.array([1]), pa.array([2]), pa.array([3])]
    pq.write_table(pa.Table.from_arrays(arrays, names=["a", "a", "A"]), source)
    (staged,) = parquet.read(source, con, IngestLimits()).tables
    assert staged.labels == {"a": "a", "a_2": "a", "a_3": "A"}
    assert rows(con, staged.staging) == [(1, 2, 3)]


def test_parquet_too_many_columns(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "wide.parquet"
    pq.write_table(pa.table({f"c{i}": [i] for i in range(4)}), source)
    with pytest.raises(IngestError, match=r"4 columns; the limit is 3\."):
        parquet.read(source, con, IngestLimits(max_columns=3))


def test_parquet_corrupt(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = tmp_path / "bad.parquet"
    source.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    with pytest.raises(IngestError, match="The Parquet file could not be read") as caught:
        parquet.read(source, con, IngestLimits())
    assert str(tmp_path) not in str(caught.value)


# --- SQLite --------------------------------------------------------------------------------------


def _database(path: Path, script: str) -> Path:
    db = sqlite3.connect(path)
    try:
        db.executescript(script)
        db.commit()
    finally:
        db.close()
    return path


SHOP = """
CREATE TABLE "Customers" ("Customer ID" INTEGER PRIMARY KEY, name TEXT, photo BLOB);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer INTEGER REFERENCES Customers,
    total REAL,
    placed TEXT,
    FOREIGN KEY (customer, placed) REFERENCES pairs (a, b)
);
CREATE TABLE lines (order_id INTEGER, n INTEGER, FOREIGN KEY (order_id) REFERENCES orders (id));
CREATE TABLE pairs (a, b, PRIMARY KEY (a, b));
CREATE TABLE dangling (x INTEGER REFERENCES nowhere (id));
CREATE TABLE gone (z);
CREATE VIEW broken_view AS SELECT * FROM gone;
CREATE TRIGGER broken_trigger AFTER INSERT ON orders BEGIN INSERT INTO gone VALUES (1); END;
INSERT INTO "Customers" VALUES (1, 'Ann', x'00ff'), (2, 'Bob', NULL);
INSERT INTO orders VALUES (10, 1, 12.5, '2024-01-05'), (11, 2, 3.0, '2024-01-06'), (12, 1, 0.1, NULL);
INSERT INTO lines VALUES (10, 1), (10, 2), (11, 1);
DROP TABLE gone;
"""


def test_sqlite_tables_text_values_and_foreign_keys(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = _database(tmp_path / "shop.db", SHOP)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    result: ReadResult = sqlite.read(source, con, IngestLimits())
    assert result.format == "sqlite"
    assert [(t.name, t.staging) for t in result.tables] == [
        ("customers", "__nexus_stage_1"),
        ("orders", "__nexus_stage_2"),
        ("lines", "__nexus_stage_3"),
        ("pairs", "__nexus_stage_4"),
        ("dangling", "__nexus_stage_5"),
    ]
    customers, orders, lines, pairs, dangling = result.tables
    assert customers.labels == {"customer_id": "Customer ID", "name": "name", "photo": "photo"}
    assert rows(con, customers.staging) == [("1", "Ann", None), ("2", "Bob", None)]
    assert any("1 binary (BLOB) value(s) were left empty" in note for note in customers.notes)
    assert set(types(con, orders.staging).values()) == {"VARCHAR"}
    assert rows(con, orders.staging) == [
        ("10", "1", "12.5", "2024-01-05"),
        ("11", "2", "3.0", "2024-01-06"),
        ("12", "1", "0.1", None),
    ]
    assert orders.foreign_keys == [  # in declaration order; an implicit target is the parent's key
        ForeignKey(["customer"], "customers", ["customer_id"]),
        ForeignKey(["customer", "placed"], "pairs", ["a", "b"]),
    ]
    assert lines.foreign_keys == [ForeignKey(["order_id"], "orders", ["id"])]
    assert pairs.foreign_keys == [] and "Table 'pairs' has no rows." in pairs.notes
    assert dangling.foreign_keys == []
    assert any("'nowhere', which is not in the file" in note for note in dangling.notes)
    # strictly read-only: the file is untouched and no journal appears
    assert hashlib.sha256(source.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shop.db"]


def test_sqlite_streams_in_batches(
    tmp_path: Path, con: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite, "BATCH_ROWS", 3)
    values = ", ".join(f"({i}, 'v{i}')" for i in range(10))
    source = _database(
        tmp_path / "n.db", f"CREATE TABLE t (n INTEGER, v TEXT); INSERT INTO t VALUES {values};"
    )
    (table,) = sqlite.read(source, con, IngestLimits()).tables
    assert con.execute(f"SELECT count(*), min(v), max(v) FROM {table.staging}").fetchone() == (10, "v0", "v9")


def test_sqlite_cuts_values_over_the_cell_limit(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = _database(
        tmp_path / "long.db", "CREATE TABLE t (s TEXT); INSERT INTO t VALUES ('abcdef'), ('ab');"
    )
    (table,) = sqlite.read(source, con, IngestLimits(max_cell_chars=4)).tables
    assert rows(con, table.staging) == [("abcd",), ("ab",)]
    assert any("1 value(s) were cut to 4 characters" in note for note in table.notes)


def test_sqlite_skips_virtual_tables(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    try:
        source = _database(
            tmp_path / "fts.db",
            "CREATE TABLE t (a); INSERT INTO t VALUES (1); CREATE VIRTUAL TABLE docs USING fts5(body);",
        )
    except sqlite3.OperationalError:
        pytest.skip("this SQLite has no FTS5")
    result = sqlite.read(source, con, IngestLimits())
    assert [t.name for t in result.tables] == ["t"]
    assert any("Virtual table 'docs'" in note for note in result.notes)


@pytest.mark.parametrize(
    "content", [b"this is not a database at all" * 10, b"SQLite format 3\x00" + b"\xff" * 4000]
)
def test_sqlite_not_a_database(tmp_path: Path, con: duckdb.DuckDBPyConnection, content: bytes) -> None:
    source = tmp_path / "bad.db"
    source.write_bytes(content)
    with pytest.raises(IngestError, match="SQLite"):
        sqlite.read(source, con, IngestLimits())


def test_sqlite_truncated_database(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    values = ", ".join(f"({i}, '{'x' * 200}')" for i in range(2000))
    whole = _database(tmp_path / "whole.db", f"CREATE TABLE t (n, s); INSERT INTO t VALUES {values};")
    source = tmp_path / "cut.db"
    source.write_bytes(whole.read_bytes()[:20_000])
    with pytest.raises(IngestError, match="not a readable SQLite database"):
        sqlite.read(source, con, IngestLimits())


def test_sqlite_without_tables(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = _database(
        tmp_path / "views.db", "CREATE TABLE t (a); CREATE VIEW v AS SELECT * FROM t; DROP TABLE t;"
    )
    with pytest.raises(IngestError, match="has no tables"):
        sqlite.read(source, con, IngestLimits())


def test_sqlite_limits(tmp_path: Path, con: duckdb.DuckDBPyConnection) -> None:
    source = _database(tmp_path / "two.db", "CREATE TABLE a (x, y, z); CREATE TABLE b (x);")
    with pytest.raises(IngestError, match="2 tables; the limit is 1"):
        sqlite.read(source, con, IngestLimits(max_tables=1))
    with pytest.raises(IngestError, match=r"Table 'a' has 3 columns; the limit is 2\."):
        sqlite.read(source, con, IngestLimits(max_columns=2))
