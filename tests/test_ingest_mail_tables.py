"""E-mail (.eml), RTF, CSV/TSV and XLSX loading: headers and attachments as citable
sections, RTF escapes decoded, and table rows that carry their column names."""

from __future__ import annotations

import datetime as dt
import zipfile
from email.message import EmailMessage
from pathlib import Path

import openpyxl
import pytest

from ragkit import Assistant, Config, TextEncoder
from ragkit.ingest import Section, load
from ragkit.ingest import _table as table_module

from .helpers import assert_load_error

CITIES = [
    ("Austin", 3.9), ("Boston", 4.1), ("Chicago", 4.0), ("Dallas", 3.7), ("Denver", 4.5),
    ("Detroit", 3.2), ("El Paso", 3.3), ("Fresno", 3.8), ("Houston", 3.6), ("Miami", 4.4),
    ("Nashville", 3.5), ("Omaha", 3.1), ("Phoenix", 3.4), ("Portland", 4.2), ("Reno", 3.0),
    ("Salem", 2.9), ("Seattle", 4.3), ("Tampa", 3.65), ("Tucson", 3.35), ("Wichita", 2.8),
]  # fmt: skip


# --------------------------------------------------------------------------- e-mail


def write_mail(path: Path) -> Path:
    message = EmailMessage()
    message["From"] = "Anna Keller <anna@example.com>"
    message["To"] = "Ben Ortiz <ben@example.com>"
    message["Cc"] = "office@example.com"
    message["Date"] = "Mon, 02 Mar 2026 10:00:00 +0100"
    message["Subject"] = "Lease renewal for the Denver office"
    message.set_content("The lease ends on 31 May.\nPlease confirm the renewal.\n")
    message.add_alternative("<p>The lease ends on <b>31 May</b>.</p>", subtype="html")
    message.add_attachment("Keys are with the caretaker.\n", filename="notes.txt")
    # Bytes are sent base64-encoded.
    message.add_attachment(
        b"Minutes: the board approved the renewal.\n",
        maintype="text",
        subtype="plain",
        filename="minutes.txt",
    )
    message.add_attachment(
        b"City,Rate\nDenver,4.5\n", maintype="text", subtype="csv", filename="rates.csv"
    )
    message.add_attachment(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", filename="x.png")
    forwarded = EmailMessage()
    forwarded["From"] = "landlord@example.com"
    forwarded["Subject"] = "Rent from June"
    forwarded.set_content("The rent rises by 3% from June.\n")
    message.add_attachment(forwarded)
    path.write_bytes(bytes(message))
    return path


def test_an_email_reads_its_headers_body_and_text_attachments(tmp_path: Path) -> None:
    path = write_mail(tmp_path / "lease.eml")
    assert "Content-Transfer-Encoding: base64" in path.read_text()
    doc = load(path)
    assert doc.title == "Lease renewal for the Denver office"
    assert [s.heading for s in doc.sections] == [
        "Message",
        "Attachment: notes.txt",
        "Attachment: minutes.txt",
        "Attachment: rates.csv",
        "Attachment: Rent from June",
    ]
    assert doc.sections[0].text == (
        "From: Anna Keller <anna@example.com>\n"
        "To: Ben Ortiz <ben@example.com>\n"
        "Cc: office@example.com\n"
        "Date: Mon, 02 Mar 2026 10:00:00 +0100\n"
        "Subject: Lease renewal for the Denver office\n\n"
        # the text/plain alternative, not the HTML one
        "The lease ends on 31 May.\nPlease confirm the renewal."
    )
    texts = [s.text for s in doc.sections[1:]]
    assert texts[:3] == [
        "Keys are with the caretaker.",
        "Minutes: the board approved the renewal.",
        "Columns: City, Rate\n\nCity: Denver; Rate: 4.5",
    ]
    assert texts[3] == (
        "From: landlord@example.com\nSubject: Rent from June\n\nThe rent rises by 3% from June."
    )


def test_an_html_only_email_reads_the_text_of_its_html(tmp_path: Path) -> None:
    path = tmp_path / "news.eml"
    path.write_bytes(
        b"From: news@example.com\r\nSubject: Office news\r\nMIME-Version: 1.0\r\n"
        b'Content-Type: text/html; charset="utf-8"\r\n\r\n'
        b"<html><head><style>p {color: red}</style><script>track()</script></head>"
        b"<body><h1>Move</h1><p>We move to the <b>second</b> floor.</p></body></html>\r\n"
    )
    assert load(path).sections == (
        Section(
            "From: news@example.com\nSubject: Office news\n\nMove\n\nWe move to the second floor.",
            heading="Message",
        ),
    )


@pytest.mark.parametrize(
    ("declared", "body"),
    [
        ("iso-8859-1", "Caf\u00e9 costs \u20ac3".encode("cp1252")),  # latin-1 read as cp1252
        ("windows-1252", "Caf\u00e9 costs \u20ac3".encode("cp1252")),
        ("utf-8", "Caf\u00e9 costs \u20ac3".encode("cp1252")),  # declared wrong: detected
        ("x-no-such-charset", "Caf\u00e9 costs \u20ac3".encode()),
        ("rot13", "Caf\u00e9 costs \u20ac3".encode()),  # a Python codec, not a mail charset
    ],
)
def test_a_mail_charset_is_used_when_it_fits_and_detected_when_not(
    tmp_path: Path, declared: str, body: bytes
) -> None:
    path = tmp_path / "cafe.eml"
    path.write_bytes(
        b"Subject: Coffee\r\nContent-Type: text/plain; charset="
        + declared.encode()
        + b"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + body
        + b"\r\n"
    )
    assert load(path).sections[0].text.endswith("Caf\u00e9 costs \u20ac3")


# --------------------------------------------------------------------------- RTF


def test_rtf_text_with_escapes_and_its_title(tmp_path: Path) -> None:
    path = tmp_path / "memo.rtf"
    path.write_text(
        r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0\fswiss\fcharset0 Arial;}}"
        r"{\info{\title Caf\'e9 memo}}"
        r"\f0 The caf\'e9 serves a na\u239?ve {\b pie}.\par"
        r'{\field{\*\fldinst{HYPERLINK "https://example.com"}}{\fldrslt{Menu}}} online.\par}'
    )
    doc = load(path)
    assert doc.title == "Caf\u00e9 memo"
    assert [s.text for s in doc.sections] == [
        "The caf\u00e9 serves a na\u00efve pie.\nMenu online."
    ]


def test_rtf_in_a_cyrillic_code_page(tmp_path: Path) -> None:
    path = tmp_path / "ru.rtf"
    path.write_text(
        r"{\rtf1\ansi\ansicpg1251{\fonttbl{\f0\fnil\fcharset204 Arial;}}"
        r"\f0 \'cf\'f0\'e8\'e2\'e5\'f2}"
    )
    assert load(path).sections[0].text == "\u041f\u0440\u0438\u0432\u0435\u0442"


def test_what_is_not_rtf_or_is_damaged_is_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.rtf"
    plain.write_text("Just text saved with the wrong name.")
    assert_load_error(plain, "not an RTF file")
    deep = tmp_path / "deep.rtf"
    deep.write_text("{\\rtf1 " + "{" * 100_000 + "text")
    assert_load_error(deep, "nested over 1,000 deep")
    broken = tmp_path / "broken.rtf"
    broken.write_text(r"{\rtf1 \u99999999999 x}")
    assert_load_error(broken, "not a readable RTF file")


# --------------------------------------------------------------------------- CSV


def test_csv_rows_carry_their_column_names(tmp_path: Path) -> None:
    path = tmp_path / "rates.csv"
    path.write_text(
        'City,Rate,Valid from\nDenver,4.5%,2026-01-01\n"Salt Lake City, UT",,2026-02-01\n'
    )
    doc = load(path)
    assert doc.title == "rates"
    assert doc.sections == (
        Section(
            "Columns: City, Rate, Valid from\n\n"
            "City: Denver; Rate: 4.5%; Valid from: 2026-01-01\n\n"
            "City: Salt Lake City, UT; Valid from: 2026-02-01"
        ),
    )


def test_a_semicolon_csv_in_cp1250_and_a_tsv(tmp_path: Path) -> None:
    polish = tmp_path / "biura.csv"
    rows = [
        "Miasto;Stawka;Uwagi",
        "Łódź;4,5;Zażółć gęślą jaźń. "
        "Wczoraj po południu zebranie zarządu przeniesiono do małej sali.",
        "Kraków;3,9;",
        "Gdańsk;4,1;Księgowość prosi o przesłanie faktur do "
        "piątku. Urlopy należy zgłaszać kierownikowi działu z "
        "dwutygodniowym wyprzedzeniem.",
    ]
    polish.write_bytes("\n".join(rows).encode("cp1250"))
    doc = load(polish)
    assert not doc.warnings
    assert doc.sections[0].text.split("\n\n")[1:3] == [
        "Miasto: Łódź; Stawka: 4,5; Uwagi: " + rows[1].split(";")[2],
        "Miasto: Kraków; Stawka: 3,9",
    ]
    tabs = tmp_path / "rates.tsv"
    tabs.write_text("City\tRate\nDenver, CO\t4.5\n")
    assert load(tabs).sections[0].text.endswith("City: Denver, CO; Rate: 4.5")


def test_a_csv_without_a_header_numbers_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("Denver,4.5,2026-01-01\nBoston,4.1,2026-02-01\n")
    assert load(path).sections[0].text == (
        "column 1: Denver; column 2: 4.5; column 3: 2026-01-01\n\n"
        "column 1: Boston; column 2: 4.1; column 3: 2026-02-01"
    )


def test_a_title_line_above_a_csv_table_is_not_its_header(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_text("Rates exported on 1 March 2026\n\nCity,Rate\nDenver,4.5\nBoston,4.1\n")
    assert load(path).sections[0].text == (
        "Rates exported on 1 March 2026\n\nColumns: City, Rate\n\n"
        "City: Denver; Rate: 4.5\n\nCity: Boston; Rate: 4.1"
    )


def test_a_csv_the_csv_module_cannot_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "huge-field.csv"
    path.write_text("a,b\n" + '"' + "x" * 200_000 + '",1\n')
    assert_load_error(path, "not a readable CSV file: field larger than field limit")


# --------------------------------------------------------------------------- XLSX


def write_workbook(path: Path) -> Path:
    workbook = openpyxl.Workbook()
    rates = workbook.active
    assert rates is not None
    rates.title = "Rates"
    rates.append(["City", "Rate", "Valid from", "Note", "Count"])
    rates.append(["Denver", 4.5, dt.date(2026, 1, 1), None, 3])
    rates.append(["Boston", 4.25, dt.datetime(2026, 2, 1, 9, 30), "new office", 12.0])
    staff = workbook.create_sheet("Staff")
    staff.append(["Staff list 2026"])
    staff.append(["Name", "Role"])
    staff.append(["Anna Keller", "Office manager"])
    workbook.create_sheet("Empty")
    hidden = workbook.create_sheet("Lists")
    hidden.append(["Yes", "No"])
    hidden.sheet_state = "hidden"
    workbook.properties.title = "Office rates 2026"
    workbook.save(path)
    return path


def test_xlsx_sheets_become_sections_of_labelled_rows(tmp_path: Path) -> None:
    doc = load(write_workbook(tmp_path / "rates.xlsx"))
    assert doc.title == "Office rates 2026"
    assert doc.sections == (
        Section(
            "Columns: City, Rate, Valid from, Note, Count\n\n"
            "City: Denver; Rate: 4.5; Valid from: 2026-01-01; Count: 3\n\n"
            "City: Boston; Rate: 4.25; Valid from: 2026-02-01 09:30; Note: new office; "
            "Count: 12",
            heading="Rates",
        ),
        Section(
            "Staff list 2026\n\nColumns: Name, Role\n\nName: Anna Keller; Role: Office manager",
            heading="Staff",
        ),
    )


def test_a_sheet_past_the_row_cap_is_cut_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_module, "_MAX_ROWS", 1)
    doc = load(write_workbook(tmp_path / "rates.xlsx"))
    assert "Boston" not in doc.sections[0].text and "Denver" in doc.sections[0].text
    assert doc.warnings == (
        "sheet Rates: only the first 1 rows were read; split the table into smaller ones to "
        "index the rest",
    )


def test_workbooks_that_cannot_be_read_are_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xlsx"
    openpyxl.Workbook().save(empty)
    assert_load_error(empty, "no text found")

    far = tmp_path / "far.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet["A1"], sheet["XFD1048576"] = "start", "end"
    workbook.save(far)
    # calamine would try to allocate 550 GB for the cells between, and abort the process.
    assert_load_error(far, "xl/worksheets/sheet1.xml spans 1,048,576 rows x 16,384 columns")

    encrypted = tmp_path / "locked.xlsx"
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(4000))
    assert_load_error(encrypted, "encrypted (password-protected)")

    truncated = tmp_path / "truncated.xlsx"
    truncated.write_bytes(write_workbook(tmp_path / "whole.xlsx").read_bytes()[:3000])
    assert_load_error(truncated, "not a readable .xlsx file")

    no_workbook = tmp_path / "bare.xlsx"
    with zipfile.ZipFile(no_workbook, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    assert_load_error(no_workbook, "not a readable .xlsx file")


def test_a_sheet_in_another_namespace_prefix_is_measured_too(tmp_path: Path) -> None:
    """The bound on a sheet's extent must not depend on how its XML spells element names."""
    source = write_workbook(tmp_path / "rates.xlsx")
    sheet = (
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<x:sheetData><x:row r="1"><x:c r="a1"><x:v>1</x:v></x:c></x:row>'
        "<x:row r=\"1048576\"><x:c r = 'xfd1048576'><x:v>2</x:v></x:c></x:row>"
        "</x:sheetData></x:worksheet>"
    )
    path = tmp_path / "prefixed.xlsx"
    with zipfile.ZipFile(source) as old, zipfile.ZipFile(path, "w") as new:
        for info in old.infolist():
            data = old.read(info)
            new.writestr(info, sheet if info.filename == "xl/worksheets/sheet1.xml" else data)
    assert_load_error(path, "spans 1,048,576 rows x 16,384 columns")


# --------------------------------------------------------------------------- end to end


def test_search_finds_the_row_for_a_city_with_its_column_names(
    tmp_path: Path, config: Config, encoder: TextEncoder
) -> None:
    folder = tmp_path / "office"
    folder.mkdir()
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = "Rates"
    sheet.append(["City", "Rate", "Valid from"])
    for city, rate in CITIES:
        sheet.append([city, rate, dt.date(2026, 1, 1)])
    workbook.save(folder / "rates.xlsx")
    (folder / "travel.md").write_text(
        "# Travel\n\nDenver is a city in Colorado. Staff who travel there book trains early "
        "and keep their receipts for the office.\n"
    )
    with Assistant(tmp_path / "i.db", config, encoder=encoder) as kb:
        report = kb.add(folder)
        assert not report.failed, report.failed
        best = kb.search("rate for Denver", k=1)[0]
    assert best.location == "rates.xlsx > Rates"
    assert "City: Denver; Rate: 4.5; Valid from: 2026-01-01" in best.text.splitlines()
