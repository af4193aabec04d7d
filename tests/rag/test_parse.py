"""Parsing real files of every format into blocks, and refusing the ones that cannot be read."""

from __future__ import annotations

import zipfile
from pathlib import Path

import docx
import pytest
from fpdf import FPDF

from nexus.errors import UnprocessableContent
from nexus.rag.parse import FORMATS, Block, Parsed, detect_format, parse_document

PAGES = [
    "Alpha page. The warehouse in Lisbon opened in March and ships to Portugal and Spain.",
    "Bravo page. Refunds for damaged goods are paid within fourteen days of the claim.",
    "Charlie page. The night shift counts the inventory of the cold store every Sunday.",
]


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def parse(tmp_path: Path, name: str, content: str | bytes, **kwargs: int) -> Parsed:
    return parse_document(write(tmp_path, name, content), name, **kwargs)


def texts(parsed: Parsed, kind: str | None = None) -> list[str]:
    return [block.text for block in parsed.blocks if kind is None or block.kind == kind]


def pdf_bytes(pages: list[str], *, title: str | None = None, password: str | None = None) -> bytes:
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        pdf.set_font("Helvetica", size=12)
        pdf.multi_cell(0, 8, text)
    if password is not None:
        pdf.set_encryption(owner_password="o", user_password=password)
    return bytes(pdf.output())


def xlsx_bytes(sheets: dict[str, list[list[str | float]]]) -> bytes:
    """Build a minimal OOXML workbook by hand, with inline strings (no writer library needed)."""
    import io

    def cell(ref: str, value: str | float) -> str:
        if isinstance(value, str):
            return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'
        return f'<c r="{ref}"><v>{value}</v></c>'

    def sheet_xml(rows: list[list[str | float]]) -> str:
        body = "".join(
            f'<row r="{r}">' + "".join(cell(f"{chr(65 + c)}{r}", v) for c, v in enumerate(row)) + "</row>"
            for r, row in enumerate(rows, 1)
        )
        return f'<worksheet xmlns="{MAIN}"><sheetData>{body}</sheetData></worksheet>'

    MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
    names = list(sheets)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            + "".join(
                f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
                'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
                for i in range(1, len(names) + 1)
            )
            + "</Types>",
        )
        archive.writestr(
            "_rels/.rels",
            f'<Relationships xmlns="{PKG}"><Relationship Id="rId1" '
            f'Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{MAIN}" xmlns:r="{REL}"><sheets>'
            + "".join(
                f'<sheet name="{name}" sheetId="{i}" r:id="rId{i}"/>' for i, name in enumerate(names, 1)
            )
            + "</sheets></workbook>",
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<Relationships xmlns="{PKG}">'
            + "".join(
                f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                for i in range(1, len(names) + 1)
            )
            + "</Relationships>",
        )
        for i, name in enumerate(names, 1):
            archive.writestr(f"xl/worksheets/sheet{i}.xml", sheet_xml(sheets[name]))
    return buffer.getvalue()


class TestPdf:
    def test_blocks_carry_their_page(self, tmp_path: Path) -> None:
        parsed = parse(tmp_path, "report.pdf", pdf_bytes(PAGES, title="Operations report"))
        assert parsed.format == "pdf"
        assert parsed.pages == 3
        assert parsed.title == "Operations report"
        assert {block.kind for block in parsed.blocks} == {"paragraph"}
        assert all(block.headings == () for block in parsed.blocks)
        for number, sentence in [(1, "ships to Portugal"), (2, "fourteen days"), (3, "cold store")]:
            pages = {block.page for block in parsed.blocks if sentence in block.text}
            assert pages == {number}, sentence

    def test_wrapped_lines_are_joined_into_a_paragraph(self, tmp_path: Path) -> None:
        long = " ".join(f"Sentence number {i} about the refund policy." for i in range(30))
        parsed = parse(tmp_path, "long.pdf", pdf_bytes([long]))
        assert len(parsed.blocks) == 1
        assert parsed.blocks[0].text == long
        assert parsed.title is None

    def test_short_lines_before_text_are_headings(self, tmp_path: Path) -> None:
        body = "Refunds are paid within fourteen days of the claim being approved by support. " * 3
        pages = [f"Refund policy\n\n{body}\n\nShipping options\n\nWe ship worldwide.", "Parcels are tracked."]
        parsed = parse(tmp_path, "policy.pdf", pdf_bytes(pages))
        assert [(b.kind, b.page, b.headings, b.level) for b in parsed.blocks] == [
            ("heading", 1, (), 1),
            ("paragraph", 1, ("Refund policy",), 0),
            ("paragraph", 1, ("Refund policy",), 0),  # "Shipping options": too little text after it
            ("paragraph", 1, ("Refund policy",), 0),
            ("paragraph", 2, ("Refund policy",), 0),
        ]
        assert parsed.blocks[1].text == body.strip()
        assert parsed.title == "Refund policy"  # no /Title in the metadata: the first heading

    def test_encrypted(self, tmp_path: Path) -> None:
        with pytest.raises(UnprocessableContent, match="The PDF is encrypted"):
            parse(tmp_path, "secret.pdf", pdf_bytes(PAGES, password="secret"))

    def test_encrypted_with_an_empty_user_password_opens(self, tmp_path: Path) -> None:
        parsed = parse(tmp_path, "owner-only.pdf", pdf_bytes(PAGES, password=""))
        assert "fourteen days" in " ".join(texts(parsed))

    def test_no_text(self, tmp_path: Path) -> None:
        pdf = FPDF()
        pdf.add_page()
        pdf.rect(20, 20, 100, 60, style="F")
        with pytest.raises(UnprocessableContent, match=r"no extractable text \(is it a scanned image\?\)"):
            parse(tmp_path, "scan.pdf", bytes(pdf.output()))

    @pytest.mark.parametrize(
        "content",
        [
            pytest.param(b"%PDF-1.7\n" + b"\x8f\x01garbage" * 50, id="garbage"),
            pytest.param(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R", id="truncated"),
        ],
    )
    def test_malformed(self, tmp_path: Path, content: bytes) -> None:
        with pytest.raises(UnprocessableContent, match="^The PDF"):
            parse(tmp_path, "broken.pdf", content)


class TestDocx:
    def write_docx(self, tmp_path: Path) -> Path:
        document = docx.Document()
        document.core_properties.title = ""
        document.add_heading("Staff handbook", level=0)
        document.add_paragraph("Welcome to the team.")
        document.add_heading("Refund policy", level=1)
        document.add_paragraph("Refunds are paid   within 14 days.")
        document.add_paragraph("")
        document.add_heading("Late returns", level=2)
        document.add_paragraph("Late returns get store credit.", style="List Bullet")
        table = document.add_table(rows=3, cols=2)
        for row, cells in zip(table.rows, [("Item", "Days"), ("Shoes", "30"), ("Food", "")], strict=True):
            for cell, value in zip(row.cells, cells, strict=True):
                cell.text = value
        document.add_paragraph("After the table.")
        document.add_heading("Shipping", level=1)
        document.add_paragraph("We ship worldwide.")
        path = tmp_path / "handbook.docx"
        document.save(str(path))
        return path

    def test_headings_rows_and_body_order(self, tmp_path: Path) -> None:
        parsed = parse_document(self.write_docx(tmp_path), "handbook.docx")
        assert parsed.format == "docx"
        assert parsed.pages is None
        assert parsed.title == "Staff handbook"
        assert [(b.kind, b.text, b.headings, b.level) for b in parsed.blocks] == [
            ("heading", "Staff handbook", (), 1),
            ("paragraph", "Welcome to the team.", ("Staff handbook",), 0),
            ("heading", "Refund policy", (), 1),
            ("paragraph", "Refunds are paid within 14 days.", ("Refund policy",), 0),
            ("heading", "Late returns", ("Refund policy",), 2),
            ("paragraph", "Late returns get store credit.", ("Refund policy", "Late returns"), 0),
            ("row", "Item: Shoes; Days: 30", ("Refund policy", "Late returns"), 0),
            ("row", "Item: Food", ("Refund policy", "Late returns"), 0),
            ("paragraph", "After the table.", ("Refund policy", "Late returns"), 0),
            ("heading", "Shipping", (), 1),
            ("paragraph", "We ship worldwide.", ("Shipping",), 0),
        ]
        assert all(block.page is None for block in parsed.blocks)

    def test_core_properties_title_wins(self, tmp_path: Path) -> None:
        document = docx.Document()
        document.core_properties.title = "The handbook"
        document.add_heading("Chapter one", level=1)
        document.add_paragraph("Text.")
        document.save(str(tmp_path / "titled.docx"))
        assert parse_document(tmp_path / "titled.docx", "titled.docx").title == "The handbook"

    def test_damaged_document(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.docx"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("word/document.xml", "<not really xml")
        with pytest.raises(UnprocessableContent, match="The Word document cannot be read"):
            parse_document(path, "broken.docx")


class TestMarkdown:
    SOURCE = """---
title: front matter is skipped
---
# Returns guide

Items can be returned
within **30 days** of delivery, see [the form](https://example.com/form).

## Conditions

- Unused items only
- Keep the `receipt`
  and the box
1. Pack the item

```python
def refund(order):
    return order.total
```

| Item | Window |
|------|-------:|
| Shoes | 30 days |
| Food | *none* |

Exceptions
----------

Final sale items ### are final.
### Notes ###
"""

    def test_structure(self, tmp_path: Path) -> None:
        parsed = parse(tmp_path, "guide.md", self.SOURCE)
        assert parsed.format == "markdown"
        assert parsed.title == "Returns guide"
        assert [(b.kind, b.text, b.headings) for b in parsed.blocks] == [
            ("heading", "Returns guide", ()),
            (
                "paragraph",
                "Items can be returned within 30 days of delivery, see the form.",
                ("Returns guide",),
            ),
            ("heading", "Conditions", ("Returns guide",)),
            ("paragraph", "Unused items only", ("Returns guide", "Conditions")),
            ("paragraph", "Keep the receipt and the box", ("Returns guide", "Conditions")),
            ("paragraph", "Pack the item", ("Returns guide", "Conditions")),
            ("paragraph", "def refund(order):\nreturn order.total", ("Returns guide", "Conditions")),
            ("row", "Item: Shoes; Window: 30 days", ("Returns guide", "Conditions")),
            ("row", "Item: Food; Window: none", ("Returns guide", "Conditions")),
            ("heading", "Exceptions", ("Returns guide",)),
            ("paragraph", "Final sale items ### are final.", ("Returns guide", "Exceptions")),
            ("heading", "Notes", ("Returns guide", "Exceptions")),
        ]
        assert [b.level for b in parsed.blocks if b.kind == "heading"] == [1, 2, 2, 3]

    def test_no_heading_no_title(self, tmp_path: Path) -> None:
        parsed = parse(tmp_path, "notes.markdown", "just *some* notes\n")
        assert parsed.title is None
        assert texts(parsed) == ["just some notes"]


class TestText:
    def test_paragraphs_on_blank_lines(self, tmp_path: Path) -> None:
        content = "First line\nwrapped   here.\n\n\n  Second\tparagraph.  \r\n \r\nThird.\n"
        parsed = parse(tmp_path, "notes.txt", content)
        assert parsed.format == "text"
        assert parsed.title is None
        assert parsed.pages is None
        assert [(b.kind, b.text, b.headings) for b in parsed.blocks] == [
            ("paragraph", "First line wrapped here.", ()),
            ("paragraph", "Second paragraph.", ()),
            ("paragraph", "Third.", ()),
        ]

    def test_cp1252_and_bom(self, tmp_path: Path) -> None:
        assert texts(parse(tmp_path, "a.txt", "Caf\xe9 cr\xe8me \u20ac5".encode("cp1252"))) == [
            "Café crème €5"
        ]
        assert texts(parse(tmp_path, "b.txt", "\ufeffHello".encode())) == ["Hello"]
        assert texts(parse(tmp_path, "c.txt", "Hello UTF-16".encode("utf-16"))) == ["Hello UTF-16"]


class TestHtml:
    SOURCE = """<!DOCTYPE html>
<html><head><title>Support  centre</title><style>body { color: red }</style>
<script>var secret = "do not index";</script></head>
<body>
<nav>Home | Help</nav>
<script>alert("also secret")</script>
<h1>Shipping</h1>
<p>We ship <b>worldwide</b> within<br>five days.</p>
<!-- a comment that must not appear -->
<div>Loose text in a div <span>with a span</span></div>
<h2>Rates</h2>
<table>
  <tr><th>Zone</th><th>Price</th></tr>
  <tr><td>EU</td><td>5 EUR</td></tr>
  <tr><td>World</td><td>20 EUR</td></tr>
</table>
<ul><li>Tracked parcels</li><li>Signed delivery</li></ul>
<pre>line one
   line two</pre>
<noscript>enable javascript</noscript>
</body></html>"""

    def test_structure_and_no_script(self, tmp_path: Path) -> None:
        parsed = parse(tmp_path, "help.html", self.SOURCE)
        assert parsed.format == "html"
        assert parsed.title == "Support centre"
        assert [(b.kind, b.text, b.headings) for b in parsed.blocks] == [
            ("paragraph", "Home | Help", ()),
            ("heading", "Shipping", ()),
            ("paragraph", "We ship worldwide within five days.", ("Shipping",)),
            ("paragraph", "Loose text in a div with a span", ("Shipping",)),
            ("heading", "Rates", ("Shipping",)),
            ("row", "Zone: EU; Price: 5 EUR", ("Shipping", "Rates")),
            ("row", "Zone: World; Price: 20 EUR", ("Shipping", "Rates")),
            ("paragraph", "Tracked parcels", ("Shipping", "Rates")),
            ("paragraph", "Signed delivery", ("Shipping", "Rates")),
            ("paragraph", "line one\nline two", ("Shipping", "Rates")),
        ]
        everything = " ".join(texts(parsed))
        for absent in ("secret", "color", "comment", "javascript", "<", ">"):
            assert absent not in everything

    def test_detected_by_content_and_title_from_h1(self, tmp_path: Path) -> None:
        parsed = parse(tmp_path, "page.txt", "<html><body><h1>Main</h1><p>Body text.</p></body></html>")
        assert parsed.format == "html"
        assert parsed.title == "Main"


class TestCsv:
    def test_data_dictionary(self, tmp_path: Path) -> None:
        content = (
            "column,type,description\n"
            'order_id,integer,"Unique id of the order, never reused"\n'
            "\n"
            "amount,decimal,\n"
        )
        parsed = parse(tmp_path, "orders_dictionary.csv", content)
        assert parsed.format == "csv"
        assert parsed.title is None
        assert [(b.kind, b.text, b.headings) for b in parsed.blocks] == [
            (
                "row",
                "column: order_id; type: integer; description: Unique id of the order, never reused",
                ("orders_dictionary",),
            ),
            ("row", "column: amount; type: decimal", ("orders_dictionary",)),
        ]

    @pytest.mark.parametrize("delimiter", [";", "\t", "|"])
    def test_delimiters(self, tmp_path: Path, delimiter: str) -> None:
        rows = [["name", "city"], ["Ana, Jr.", "Lisbon"], ["Bo", "Oslo"]]
        content = "\n".join(delimiter.join(row) for row in rows)
        parsed = parse(tmp_path, "people.csv", content)
        assert texts(parsed) == ["name: Ana, Jr.; city: Lisbon", "name: Bo; city: Oslo"]

    def test_extra_cells_and_blank_header(self, tmp_path: Path) -> None:
        parsed = parse(tmp_path, "t.csv", "a,,c\n1,2,3,4\n")
        assert texts(parsed) == ["a: 1; column 2: 2; c: 3; column 4: 4"]


class TestXlsx:
    def test_sheets_and_rows(self, tmp_path: Path) -> None:
        content = xlsx_bytes(
            {
                "Products": [["sku", "price", "name"], ["A-1", 9.5, "Lamp"], ["B-2", 12, "Desk"]],
                "Empty": [],
                "Notes": [["note"], ["Prices exclude VAT"]],
            }
        )
        parsed = parse(tmp_path, "catalog.xlsx", content)
        assert parsed.format == "xlsx"
        assert parsed.title is None
        assert [(b.kind, b.text, b.headings, b.level) for b in parsed.blocks] == [
            ("heading", "Products", (), 1),
            ("row", "sku: A-1; price: 9.5; name: Lamp", ("Products",), 0),
            ("row", "sku: B-2; price: 12; name: Desk", ("Products",), 0),
            ("heading", "Notes", (), 1),
            ("row", "note: Prices exclude VAT", ("Notes",), 0),
        ]

    def test_detected_by_content(self, tmp_path: Path) -> None:
        path = write(tmp_path, "upload.bin", xlsx_bytes({"S": [["a"], ["b"]]}))
        assert detect_format(path, "upload.bin") == "xlsx"


class TestDetectFormat:
    def test_content_before_extension(self, tmp_path: Path) -> None:
        assert detect_format(write(tmp_path, "x.txt", pdf_bytes(["Hi."])), "x.txt") == "pdf"
        assert detect_format(write(tmp_path, "x.csv", "<!doctype html><p>hi</p>"), "x.csv") == "html"
        document = docx.Document()
        document.add_paragraph("hi")
        document.save(str(tmp_path / "noext"))
        assert detect_format(tmp_path / "noext", "noext") == "docx"

    @pytest.mark.parametrize(
        ("filename", "expected"),
        [
            ("a.md", "markdown"),
            ("a.MARKDOWN", "markdown"),
            ("a.txt", "text"),
            ("README", "text"),
            ("a.htm", "html"),
            ("a.tsv", "csv"),
            ("a.csv", "csv"),
        ],
    )
    def test_extension(self, tmp_path: Path, filename: str, expected: str) -> None:
        assert detect_format(write(tmp_path, "file", "some text, here\n"), filename) == expected
        assert expected in FORMATS


def zip_of(name: str) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(name, "hello")
    return buffer.getvalue()


HOSTILE = [
    pytest.param("empty.txt", b"", "The file is empty.", id="empty"),
    pytest.param("nul.txt", b"hello\x00world", "binary data", id="nul-bytes"),
    pytest.param("image.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary data", id="png"),
    pytest.param("text.pdf", b"I am not a PDF at all.", "named .pdf but is not a PDF", id="text-as-pdf"),
    pytest.param("note.docx", b"plain words", "not a Word document", id="docx-not-zip"),
    pytest.param("sheet.xlsx", b"a,b\n1,2\n", "not an Excel workbook", id="xlsx-not-zip"),
    pytest.param(
        "archive.docx", zip_of("hello.txt"), "zip archive but not a Word or Excel", id="zip-not-docx"
    ),
    pytest.param("broken.docx", b"PK\x03\x04" + b"\x00" * 40, "damaged zip", id="damaged-zip"),
    pytest.param("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), "old-style", id="ole"),
    pytest.param("junk.txt", bytes(range(1, 256)) * 4, "neither UTF-8 nor Windows-1252", id="not-utf8"),
    pytest.param("junk.txt", bytes(range(1, 32)) * 20 + b"abc", "binary data", id="control-characters"),
    pytest.param("data.json", b'{"a": 1}', "none of them", id="unsupported-extension"),
    pytest.param("blank.md", b"   \n\n\t\n", "has no text", id="whitespace-only"),
    pytest.param("garbage.pdf", b"%PDF-1.5\n\x00\xff" * 30, "The PDF cannot be read", id="garbage-pdf"),
]


@pytest.mark.parametrize(("filename", "content", "message"), HOSTILE)
def test_hostile_inputs_are_refused(tmp_path: Path, filename: str, content: bytes, message: str) -> None:
    with pytest.raises(UnprocessableContent) as caught:
        parse(tmp_path, filename, content)
    assert caught.value.status == 422
    assert message in caught.value.detail
    assert caught.value.detail.endswith(".")


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("big.txt", "word " * 60),
        ("big.md", "# Title\n\n" + "word " * 60),
        ("big.csv", "a,b\n" + "1,2\n" * 30),
        ("big.html", "<p>" + "word " * 60 + "</p>"),
    ],
)
def test_over_max_chars(tmp_path: Path, filename: str, content: str) -> None:
    with pytest.raises(UnprocessableContent, match="the limit is 100"):
        parse(tmp_path, filename, content, max_chars=100)
    assert parse(tmp_path, filename, content, max_chars=10_000).blocks


def test_over_max_chars_pdf(tmp_path: Path) -> None:
    with pytest.raises(UnprocessableContent, match="the limit is 50"):
        parse(tmp_path, "r.pdf", pdf_bytes(PAGES), max_chars=50)


def test_blocks_are_never_empty_and_normalised(tmp_path: Path) -> None:
    parsed = parse(tmp_path, "n.md", "#   Spaced    heading  \n\n  a \t b  \n c\n")
    assert parsed.blocks == (
        Block("Spaced heading", "heading", None, (), 1),
        Block("a b c", "paragraph", None, ("Spaced heading",), 0),
    )
