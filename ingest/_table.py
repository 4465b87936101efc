"""Tables: .xlsx workbooks and .csv/.tsv files, each row as a line that names its columns,
so a question about one row ("the rate for Denver") finds that row with its column names."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import itertools
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from xml.parsers import expat

from python_calamine import CalamineError, CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

from ragkit._errors import LoadError

from ._normalize import error_cause
from ._text import decode_text, warn
from ._types import Section
from ._zipxml import Part, core_title, open_package

Cell = str | int | float | bool | dt.date | dt.time | dt.timedelta

# Every row is kept in memory as text until the sheet is done; past this a sheet is a data
# dump, not a document, and its remaining rows are left out with a warning.
_MAX_ROWS = 200_000
# calamine allocates every position of the rectangle a sheet's cells span, empty or not (32
# bytes each): one cell at A1 and one at XFD1048576 make 550 GB, and the failed allocation
# aborts the process (tafia/calamine#693). This many is 160 MB.
_MAX_CELLS = 5_000_000
# Title and note rows above a table that are kept apart from it (see _table_text).
_MAX_TITLE_ROWS = 5
# csv.Sniffer's quote guessing is quadratic in the sample; its header test reads 20 rows.
_SNIFF_LINES = 20
_SNIFF_CHARS = 8192
_DELIMITERS = ",;\t|"
_CELL_REF = re.compile(r"([A-Za-z]+)([0-9]+)")
_ROW_NUMBER = re.compile(r"[0-9]+")
# Far past any sheet (XFD1048576). calamine wraps longer numbers around 2**32 to anything up
# to billions, so they count as this, and int() never reads thousands of digits.
_MAX_INDEX_DIGITS = 12
_VALUE_TAGS = frozenset({"v", "is", "f"})
_ENCRYPTED = (
    "encrypted (password-protected) or legacy .xls workbook; save it as .xlsx without a password"
)


def load_csv(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load a ``.csv`` or ``.tsv`` file as one section of labelled rows (see
    :func:`csv_text`); a ``.csv`` file's delimiter is detected among , ; tab and |."""
    text = decode_text(path, data)
    try:
        return None, (Section(csv_text(text, tabs=path.suffix.lower() == ".tsv")),)
    except csv.Error as error:  # a field over the csv module's size limit, say
        raise LoadError(path, f"not a readable CSV file: {error_cause(error)}") from error


def csv_text(text: str, *, tabs: bool = False) -> str:
    """Delimited text as rows of ``name: value`` pairs (see :func:`load_workbook`).

    The first row is the header when :class:`csv.Sniffer` finds one or when it looks like
    one, as in a workbook. Raises :class:`csv.Error` for what the csv module cannot read.
    """
    sample = "\n".join(text[:_SNIFF_CHARS].split("\n")[:_SNIFF_LINES])
    sniffer = csv.Sniffer()
    dialect: type[csv.Dialect] = csv.excel_tab if tabs else csv.excel
    if not tabs:
        try:
            dialect = sniffer.sniff(sample, delimiters=_DELIMITERS)
        except csv.Error:
            pass  # one column, or too little to tell: any delimiter reads it
    try:
        header = sniffer.has_header(sample)
    except csv.Error:
        header = False
    return _table_text(csv.reader(io.StringIO(text), dialect), header=header, where="")


def load_workbook(path: Path, data: bytes) -> tuple[str | None, tuple[Section, ...]]:
    """Load an ``.xlsx`` workbook: each visible worksheet with cells is a section headed by
    the sheet's name.

    Each row is a line of ``name: value`` pairs joined by "; ", named by the header row
    ("City: Denver; Rate: 4.5; Valid from: 2026-01-01") so every row carries its column
    names; empty cells are left out, and columns without a name are "column 3". The first
    row is the header when every cell of it is filled and none is a number or a date; the
    section then starts with "Columns: ..." listing them. Title rows above the table (up to
    five rows that fill one cell each) come first as plain lines, and the header is looked
    for after them. Numbers read as written (3, not 3.0), dates and times in ISO form. Only
    the first 200,000 rows of a sheet are read, with a warning. Hidden sheets are not read.
    The title is the document properties' title.

    Raises :class:`LoadError` for encrypted or legacy ``.xls`` files, files that are not a
    readable workbook, parts that would expand too far (a zip bomb), and a sheet whose cells
    span over 5 million positions (one stray cell far from the data can do that).
    """
    with open_package(path, data, ".xlsx", ole_reason=_ENCRYPTED) as package:
        for name in sorted(package.names):
            # Every XML part, not only the sheets the workbook lists: calamine finds its
            # sheets through relationships this would have to follow exactly as it does.
            if name.endswith((".xml", ".rels")):
                _check_extent(path, package.read(name))
        title = core_title(package)
    sections = []
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        for sheet in workbook.sheets_metadata:
            if sheet.typ != SheetTypeEnum.WorkSheet or sheet.visible != SheetVisibleEnum.Visible:
                continue
            rows = workbook.get_sheet_by_name(sheet.name).iter_rows()
            text = _table_text(rows, header=False, where=f"sheet {sheet.name}: ")
            if text:
                sections.append(Section(text, heading=sheet.name))
    except CalamineError as error:
        raise LoadError(path, f"not a readable .xlsx file: {error_cause(error)}") from error
    return title, tuple(sections)


def _table_text(rows: Iterator[Sequence[Cell]], *, header: bool, where: str) -> str:
    """``rows`` as text, separated by blank lines so that chunks end between rows.

    A title or a note above a table ("Rates 2026", "Exported on 1 March") fills one cell of
    its row: up to five leading rows that fill at most one cell are kept as plain lines, and
    the header is the next row if ``header`` says so (and no such row came first) or if it
    looks like one.
    """
    head = list(itertools.islice(rows, _MAX_TITLE_ROWS + 1))
    start = next((i for i, row in enumerate(head) if _filled(row) > 1), 0)
    if not head:
        return ""
    lines = [text for row in head[:start] for text in map(_cell_text, row) if text]
    names: list[str] = []
    if (header and not start) or _looks_like_header(head[start]):
        names = [_cell_text(cell) for cell in head[start]]
        lines.append("Columns: " + ", ".join(name for name in names if name))
        start += 1
    rows = itertools.chain(head[start:], rows)
    for count, row in enumerate(rows):
        if count == _MAX_ROWS:
            warn(
                f"{where}only the first {_MAX_ROWS:,} rows were read; split the table into "
                "smaller ones to index the rest"
            )
            break
        pairs = (
            f"{_column_name(names, index)}: {text}"
            for index, cell in enumerate(row)
            if (text := _cell_text(cell))
        )
        line = "; ".join(pairs)
        if line:
            lines.append(line)
    return "\n\n".join(lines)


def _filled(row: Sequence[Cell]) -> int:
    return sum(1 for cell in row if _cell_text(cell))


def _looks_like_header(row: Sequence[Cell]) -> bool:
    cells = list(row)
    while cells and not _cell_text(cells[-1]):
        cells.pop()
    return bool(cells) and all(
        isinstance(cell, str) and cell.strip() and not _is_figure(cell) for cell in cells
    )


def _is_figure(text: str) -> bool:
    """Whether ``text`` is a number, amount or date as written ("4.5%", "$1,200",
    "2026-01-01"): digits, and no letters."""
    return any(c.isdigit() for c in text) and not any(c.isalpha() for c in text)


def _column_name(names: list[str], index: int) -> str:
    return names[index] if index < len(names) and names[index] else f"column {index + 1}"


def _cell_text(cell: Cell) -> str:
    if isinstance(cell, bool):  # before the numbers: bool is an int
        return "TRUE" if cell else "FALSE"
    if isinstance(cell, float):
        # Spreadsheets store every number as a float; 3.0 was typed as 3. Beyond 2**53 a
        # float holds no exact integer, and int() would print digits nobody typed.
        if cell.is_integer() and abs(cell) < 2**53:
            return str(int(cell))
        return format(cell, ".15g")  # 0.1 + 0.2 as 0.3, as the sheet shows it
    if isinstance(cell, dt.datetime):
        if cell.time() == dt.time():
            return cell.date().isoformat()
        return cell.isoformat(sep=" ", timespec=_timespec(cell.second, cell.microsecond))
    if isinstance(cell, dt.time):
        return cell.isoformat(timespec=_timespec(cell.second, cell.microsecond))
    if isinstance(cell, dt.date | dt.timedelta | int):
        return str(cell)
    return " ".join(cell.split())


def _timespec(second: int, microsecond: int) -> str:
    return "minutes" if not second and not microsecond else "seconds"


class _Extent:
    """The rectangle that the cells with a value in a worksheet part span, found as calamine
    finds cells: by ``r`` references, else by position after the previous row and cell.

    Element names are compared without their namespace prefix, so a sheet in any namespace
    (Strict Open XML, say) is measured too; in a part that is no sheet, nothing matches.
    """

    def __init__(self) -> None:
        self.row = self.column = -1  # the position of the last row and cell begun
        self.in_cell = False  # a cell has begun, and no value of it is counted yet
        self.top = self.left = sys.maxsize
        self.bottom = self.right = -1
        self.columns: dict[str, int] = {}  # column index by letters, as most cells repeat them

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        """expat's handler for an element's start; called for every element, so kept lean."""
        if ":" in tag:
            tag = tag.rpartition(":")[2]
        if tag == "c":
            reference = _CELL_REF.fullmatch(attributes.get("r", ""))
            if reference is None:
                self.column += 1
            else:
                self.row = _index(reference[2]) - 1
                letters = reference[1]
                column = self.columns.get(letters)
                self.column = column if column is not None else self._column(letters)
            self.in_cell = True
        elif tag in _VALUE_TAGS:
            if self.in_cell:
                self.in_cell = False
                self.top, self.bottom = min(self.top, self.row), max(self.bottom, self.row)
                self.left, self.right = min(self.left, self.column), max(self.right, self.column)
        elif tag == "row":
            number = _ROW_NUMBER.fullmatch(attributes.get("r", ""))
            self.row = _index(number[0]) - 1 if number else self.row + 1
            self.column = -1
            self.in_cell = False

    def size(self) -> tuple[int, int]:
        """The rectangle's rows and columns (0 and 0 for a part without cells)."""
        if self.bottom < 0:
            return 0, 0
        return self.bottom - self.top + 1, self.right - self.left + 1

    def _column(self, letters: str) -> int:
        index = 0
        for letter in letters[:_MAX_INDEX_DIGITS].upper():
            index = index * 26 + ord(letter) - ord("A") + 1
        self.columns[letters] = index - 1
        return index - 1


def _index(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_INDEX_DIGITS else 10**_MAX_INDEX_DIGITS


def _check_extent(path: Path, part: Part) -> None:
    """Raise :class:`LoadError` when the cells of ``part`` (if it is a sheet) span more
    positions than calamine may allocate, or when it is not well-formed XML."""
    extent = _Extent()
    # Office parts are UTF-8 or UTF-16 by the standard. Named here, so that expat ignores
    # the part's own declaration rather than hand it to Python's codecs ("rot13" raises
    # LookupError, "unicode_escape" decodes with a DeprecationWarning).
    wide = part.data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    parser = expat.ParserCreate("UTF-16" if wide else "UTF-8")
    parser.StartElementHandler = extent.start
    try:
        parser.Parse(part.data, True)
    except expat.ExpatError as error:
        raise LoadError(
            path, f"not a readable .xlsx file: invalid XML in {part.name}: {error_cause(error)}"
        ) from error
    rows, columns = extent.size()
    if rows * columns > _MAX_CELLS:
        raise LoadError(
            path,
            f"{part.name} spans {rows:,} rows x {columns:,} columns, over the "
            f"{_MAX_CELLS:,} cells ragkit reads from a sheet; delete stray cells far from the "
            "data, or split the sheet",
        )
