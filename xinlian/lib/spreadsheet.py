"""Spreadsheet I/O without models: read .xlsx/.csv rows as the user sees them, write .xlsx safely.

Reading returns each sheet's header and its rows as dicts keyed by the header text, with the
1-based row number that Excel shows, so that errors can point at the exact cell. CSV files are
decoded the way Chinese Excel installations write them (UTF-8 with BOM, UTF-8, GBK/GB18030).

Writing goes through :func:`safe_cell`, which neutralises cells that a spreadsheet would run as
a formula (OWASP CSV-injection advice), and openpyxl's write-only mode so that memory stays flat
however many rows are written."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import os
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

# A worksheet longer than this is refused: no school has 200,000 students in one sheet,
# and a compressed .xlsx can otherwise expand to an arbitrary number of rows.
MAX_ROWS = 200_000
MAX_COLUMNS = 64
# Reading stops at this many blank rows in a row: a 27 KB .xlsx can declare millions of empty
# rows (a cell at row 3,000,000, or rows of empty strings), and reading them all took 21 s and
# 400 MB. Rows below such a gap are not read (the template's notes say so).
BLANK_RUN = 1000
# Rows read from one file, blank ones included, before it is refused: bounds the work whatever the
# sheets hold. The 50,000-student roster (students, guardians, staff, posts) reads about 153,000.
MAX_ROWS_READ = 500_000
# Sum of the uncompressed sizes the zip directory declares (zipfile never inflates a part beyond
# its declared size): refuses a compression bomb before any XML is parsed. The 50,000-student
# roster declares about 40 MB.
MAX_XLSX_UNCOMPRESSED = 256 * 1024 * 1024
XLSX_PARTS = ("[Content_Types].xml", "xl/workbook.xml")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# What may start with + or - in an imported text and still not be a formula: a number alone
# (-2, +3.5) or an international phone number of digits and spaces (+86 138 0013 8000). Anything
# with an operator, a letter, a quote, a bar or a bracket after the sign is refused
# (-2+3+cmd|' /C calc'!A0, +1-1, -A1).
SIGNED_NUMBER_RE = re.compile(r"[+-]?\d+(?:\.\d+)?\Z")
PHONE_LIKE_RE = re.compile(r"\+\d[\d ]*\Z")

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .et

Cell = str | dt.date | dt.datetime | bool


class SpreadsheetError(Exception):
    """The file as a whole cannot be read; ``str(exc)`` is a translated, user-facing message."""


def _not_a_spreadsheet() -> SpreadsheetError:
    return SpreadsheetError(_("This file is neither an Excel .xlsx workbook nor a CSV text file; save it "
                              "as .xlsx or as CSV (UTF-8) and upload it again."))


@dataclass
class SheetData:
    name: str
    header: list[str]
    header_row: int  # 1-based row number of the header as Excel shows it
    rows: list[tuple[int, dict[str, Cell]]] = field(default_factory=list)


def source_size(source: str | os.PathLike[str] | IO[bytes]) -> int:
    """Size in bytes of a path or a seekable binary file object, without reading it."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.getsize(source)
    size = getattr(source, "size", None)  # Django's UploadedFile knows its size
    if isinstance(size, int):
        return size
    pos = source.tell()
    source.seek(0, io.SEEK_END)
    end = source.tell()
    source.seek(pos)
    return end - pos


def _read_bytes(source: str | os.PathLike[str] | IO[bytes]) -> bytes:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            return fh.read()
    if hasattr(source, "seek"):
        source.seek(0)
    return source.read()


def normalise_cell(value: Any) -> Cell:
    """Cells as import code wants them: text stripped, whole numbers without “.0”, dates kept.

    Student numbers and phones typed into Excel often become numbers (20230001.0)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return value
    if isinstance(value, (dt.datetime, dt.date)):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.time):
        return value.isoformat()
    return str(value).strip()


def _is_blank(values: Sequence[Any]) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


class RowBudget:
    """Rows read from one file so far, blank ones included (``read``: for tests and callers)."""

    def __init__(self, limit: int = MAX_ROWS_READ) -> None:
        self.limit = limit
        self.read = 0

    def take(self) -> None:
        self.read += 1
        if self.read > self.limit:
            raise SpreadsheetError(_("The file has more than %(max)d rows (blank rows included); delete the "
                                     "empty rows below the data or split the file.")
                                   % {"max": self.limit})


def _build_sheet(name: str, rows: Iterable[Sequence[Any]], budget: RowBudget | None = None) -> SheetData | None:
    """Turn raw rows into a :class:`SheetData`; ``None`` for a sheet with no content at all.

    Stops at :data:`BLANK_RUN` blank rows in a row; every row pulled from ``rows`` counts
    against ``budget``, so the work is bounded however many rows the file declares."""
    budget = budget or RowBudget()
    sheet: SheetData | None = None
    width = 0
    blank_run = 0
    for number, raw in enumerate(rows, start=1):
        budget.take()
        if _is_blank(raw):
            blank_run += 1
            if blank_run >= BLANK_RUN:
                break
            continue
        blank_run = 0
        if sheet is None:
            header = [str(normalise_cell(v)) for v in raw[:MAX_COLUMNS]]
            while header and not header[-1]:
                header.pop()
            sheet = SheetData(name=name, header=header, header_row=number)
            width = len(header)
            seen: set[str] = set()
            for text in header:
                if text and text in seen:
                    raise SpreadsheetError(_("Sheet “%(sheet)s”: the column “%(column)s” appears twice in the header.")
                                           % {"sheet": name, "column": text})
                seen.add(text)
            continue
        if len(sheet.rows) >= MAX_ROWS:
            raise SpreadsheetError(_("Sheet “%(sheet)s” has more than %(max)d rows; split the file.")
                                   % {"sheet": name, "max": MAX_ROWS})
        values = {sheet.header[i]: normalise_cell(raw[i])
                  for i in range(min(width, len(raw))) if sheet.header[i]}
        sheet.rows.append((number, values))
    return sheet


def read_xlsx(source: str | os.PathLike[str] | IO[bytes], budget: RowBudget | None = None) -> list[SheetData]:
    """Every non-empty worksheet of an .xlsx file (cached formula values, not formulas).

    A path is opened here and handed to openpyxl as a file: given a path, openpyxl refuses any
    name not ending in .xlsx — and the web import keeps its upload under a random name, and a
    browser may save the downloaded template without an extension."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            return read_xlsx(fh, budget)
    import openpyxl

    budget = budget or RowBudget()
    if hasattr(source, "seek"):
        source.seek(0)
    try:
        wb = openpyxl.load_workbook(source, read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors: all mean “not a readable workbook”
        raise SpreadsheetError(_("The file could not be read as an Excel .xlsx workbook.")) from exc
    try:
        sheets = []
        for ws in wb.worksheets:
            # Some writers store a wrong <dimension>; without it openpyxl reads every row present.
            ws.reset_dimensions()
            rows = ws.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True)
            sheet = _build_sheet(ws.title, rows, budget)
            if sheet is not None:
                sheets.append(sheet)
        return sheets
    except SpreadsheetError:
        raise
    except Exception as exc:
        raise SpreadsheetError(_("The file could not be read as an Excel .xlsx workbook.")) from exc
    finally:
        wb.close()


def decode_text(data: bytes) -> str:
    """Decode CSV bytes: UTF-8 with BOM, UTF-16 with BOM, UTF-8, then GB18030 (a superset of GBK).

    Binary content (NUL bytes, control characters) is refused instead of decoded into garbage."""
    if data.startswith(codecs.BOM_UTF8):
        candidates = ["utf-8-sig"]
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        candidates = ["utf-16"]  # Excel's “Unicode text”
    else:
        if b"\x00" in data:
            raise _not_a_spreadsheet()
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text[:65536]) or "\x00" in text:
            raise _not_a_spreadsheet()
        return text
    raise SpreadsheetError(_("The file's text encoding was not recognised; save it as CSV UTF-8 or as .xlsx."))


def read_csv(source: str | os.PathLike[str] | IO[bytes], name: str = "CSV",
             budget: RowBudget | None = None) -> list[SheetData]:
    """The one sheet of a CSV file; the delimiter is a comma unless the header says tab or semicolon."""
    text = decode_text(_read_bytes(source))
    first = text.split("\n", 1)[0]
    delimiter = ","
    if "," not in first:
        if "\t" in first:
            delimiter = "\t"
        elif ";" in first:
            delimiter = ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        sheet = _build_sheet(name, reader, budget)
    except csv.Error as exc:
        raise SpreadsheetError(_("The CSV file is malformed near line %(line)d (check the quotes).")
                               % {"line": reader.line_num}) from exc
    return [sheet] if sheet is not None else []


def _check_xlsx_archive(source: str | os.PathLike[str] | IO[bytes]) -> None:
    """A zip file is a workbook only with the .xlsx parts; a .docx or any other zip is not."""
    try:
        with zipfile.ZipFile(source) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise SpreadsheetError(_("The file could not be read as an Excel .xlsx workbook.")) from exc
    names = {info.filename for info in infos}
    if not all(part in names for part in XLSX_PARTS):
        raise _not_a_spreadsheet()
    if sum(info.file_size for info in infos) > MAX_XLSX_UNCOMPRESSED:
        raise SpreadsheetError(_("The workbook expands to more than %(size)s; split the file.")
                               % {"size": filesizeformat(MAX_XLSX_UNCOMPRESSED)})


def sniff_format(source: str | os.PathLike[str] | IO[bytes]) -> str:
    """``"xlsx"`` or ``"csv"`` by the file's content — never by its name, which a browser may
    have dropped or changed. Anything else raises :class:`SpreadsheetError` with a message for
    the user (an old .xls, another zip such as a .docx, a binary file)."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            head = fh.read(8)
    else:
        source.seek(0)
        head = source.read(8)
        source.seek(0)
    if head.startswith(XLSX_MAGIC):
        _check_xlsx_archive(source)
        if not isinstance(source, (str, os.PathLike)):
            source.seek(0)
        return "xlsx"
    if head.startswith(OLE_MAGIC):
        raise SpreadsheetError(_("The old Excel .xls format is not supported; save the file as .xlsx or CSV."))
    return "csv"


def read_spreadsheet(source: str | os.PathLike[str] | IO[bytes], filename: str,
                     budget: RowBudget | None = None) -> list[SheetData]:
    """Read an .xlsx or a .csv file, told apart by content (:func:`sniff_format`); ``filename``
    only names the sheet of a CSV file."""
    if sniff_format(source) == "xlsx":
        return read_xlsx(source, budget)
    stem = os.path.splitext(os.path.basename(filename))[0] or "CSV"
    return read_csv(source, name=stem, budget=budget)


def safe_cell(value: Any) -> Any:
    """A value that a spreadsheet shows as text rather than running as a formula.

    Strings starting with = + - @ TAB or CR get a leading apostrophe (OWASP CSV injection);
    numbers, dates and None pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def looks_like_formula(value: str) -> bool:
    """Whether an imported text would run as a formula once exported to a spreadsheet.

    Anything starting with = + - @ TAB or CR (the DDE forms ``=cmd|…``, ``@SUM(…)``,
    ``-2+3+cmd|' /C calc'!A0``) — except a number alone (``-2``) or a phone number
    (``+86 138 0013 8000``), which a spreadsheet cannot run."""
    if not value.startswith(FORMULA_PREFIXES):
        return False
    return not (SIGNED_NUMBER_RE.match(value) or PHONE_LIKE_RE.match(value))


def write_xlsx(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]],
               *, widths: dict[str, Sequence[int]] | None = None) -> bytes:
    """An .xlsx file written in streaming mode (:mod:`xinlian.lib.xlsx`: a row is one string,
    where openpyxl's write-only mode built and serialised an element per cell); every cell goes
    through :func:`safe_cell`. A bold header row, frozen; ``widths`` per sheet title.

    ``sheets`` yields (title, header, rows); rows may be a generator, so a large export is never
    held in memory as cell objects."""
    from xinlian.lib import xlsx

    return xlsx.write(((title, [safe_cell(v) for v in header], ([safe_cell(v) for v in row] for row in rows))
                       for title, header, rows in sheets), widths)
