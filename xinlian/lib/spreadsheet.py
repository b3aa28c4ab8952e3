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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils.translation import gettext as _

# A worksheet longer than this is refused: no school has 200,000 students in one sheet,
# and a compressed .xlsx can otherwise expand to an arbitrary number of rows.
MAX_ROWS = 200_000
MAX_COLUMNS = 64
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

XLSX_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .et

Cell = str | dt.date | dt.datetime | bool


class SpreadsheetError(Exception):
    """The file as a whole cannot be read; ``str(exc)`` is a translated, user-facing message."""


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


def _build_sheet(name: str, rows: Iterable[Sequence[Any]]) -> SheetData | None:
    """Turn raw rows into a :class:`SheetData`; ``None`` for a sheet with no content at all."""
    sheet: SheetData | None = None
    width = 0
    for number, raw in enumerate(rows, start=1):
        if _is_blank(raw):
            continue
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


def read_xlsx(source: str | os.PathLike[str] | IO[bytes]) -> list[SheetData]:
    """Every non-empty worksheet of an .xlsx file (cached formula values, not formulas)."""
    import openpyxl

    if not isinstance(source, (str, os.PathLike)) and hasattr(source, "seek"):
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
            sheet = _build_sheet(ws.title, ws.iter_rows(min_row=1, values_only=True))
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
            raise SpreadsheetError(_("The file is not a text (CSV) file: it contains binary data."))
        candidates = ["utf-8", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if any(ord(ch) < 32 and ch not in "\t\r\n" for ch in text[:65536]) or "\x00" in text:
            raise SpreadsheetError(_("The file is not a text (CSV) file: it contains binary data."))
        return text
    raise SpreadsheetError(_("The file's text encoding was not recognised; save it as CSV UTF-8 or as .xlsx."))


def read_csv(source: str | os.PathLike[str] | IO[bytes], name: str = "CSV") -> list[SheetData]:
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
        sheet = _build_sheet(name, reader)
    except csv.Error as exc:
        raise SpreadsheetError(_("The CSV file is malformed near line %(line)d (check the quotes).")
                               % {"line": reader.line_num}) from exc
    return [sheet] if sheet is not None else []


def read_spreadsheet(source: str | os.PathLike[str] | IO[bytes], filename: str) -> list[SheetData]:
    """Read a .xlsx or .csv file, telling them apart by content first and by name second."""
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            head = fh.read(8)
    else:
        source.seek(0)
        head = source.read(8)
        source.seek(0)
    ext = os.path.splitext(filename.lower())[1]
    if head.startswith(XLSX_MAGIC):
        return read_xlsx(source)
    if head.startswith(OLE_MAGIC) or ext in (".xls", ".et"):
        raise SpreadsheetError(_("The old Excel .xls format is not supported; save the file as .xlsx or CSV."))
    if ext in (".xlsx", ".xlsm"):
        raise SpreadsheetError(_("The file could not be read as an Excel .xlsx workbook."))
    if ext not in (".csv", ".txt", ".tsv", ""):
        raise SpreadsheetError(_("Only .xlsx and .csv files can be imported."))
    stem = os.path.splitext(os.path.basename(filename))[0] or "CSV"
    return read_csv(source, name=stem)


def safe_cell(value: Any) -> Any:
    """A value that a spreadsheet shows as text rather than running as a formula.

    Strings starting with = + - @ TAB or CR get a leading apostrophe (OWASP CSV injection);
    numbers, dates and None pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def looks_like_formula(value: str) -> bool:
    return value.startswith(("=", "+", "@")) or (value.startswith("-") and not value[1:2].isdigit())


def write_xlsx(sheets: Iterable[tuple[str, Sequence[str], Iterable[Sequence[Any]]]],
               *, widths: dict[str, Sequence[int]] | None = None) -> bytes:
    """An .xlsx file written in streaming (write-only) mode; every cell goes through :func:`safe_cell`.

    ``sheets`` yields (title, header, rows); rows may be a generator, so a large export is never
    held in memory as cell objects."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    for title, header, rows in sheets:
        ws = wb.create_sheet(title=title)
        for i, width in enumerate((widths or {}).get(title, ())):
            ws.column_dimensions[get_column_letter(i + 1)].width = width
        ws.freeze_panes = "A2"
        head_cells = []
        for text in header:
            cell = WriteOnlyCell(ws, value=safe_cell(text))
            cell.font = bold
            head_cells.append(cell)
        ws.append(head_cells)
        for row in rows:
            ws.append([safe_cell(v) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
