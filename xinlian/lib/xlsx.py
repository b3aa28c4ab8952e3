"""A streaming .xlsx writer for large exports: the XML of each sheet written straight into the zip.

openpyxl's write-only mode builds an element and serialises it for every cell: about 10 µs a
cell, so a 30,000-student campaign export (half a million cells) took seconds of the request
(bench/school_size.py). Here a row is one string join. The file holds what the exports need
and nothing more: one or more sheets, inline strings, numbers, booleans, dates, a bold header
row, a frozen first row and column widths. Readers (Excel, WPS, LibreOffice, openpyxl) read it
as any workbook. Values must already be safe (``spreadsheet.safe_cell``)."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any
from xml.sax.saxutils import escape, quoteattr

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
# Characters XML 1.0 does not allow; openpyxl refuses them, here they are dropped.
ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
EPOCH = dt.datetime(1899, 12, 30)
# Cell styles (styles.xml's cellXfs): 0 normal, 1 bold (the header), 2 date, 3 date and time.
BOLD, DATE, DATETIME = 1, 2, 3

STYLES = (
    f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<styleSheet xmlns="{MAIN}">'
    '<fonts count="2"><font><sz val="11"/><name val="Calibri"/><family val="2"/></font>'
    '<font><b/><sz val="11"/><name val="Calibri"/><family val="2"/></font></fonts>'
    '<fills count="2"><fill><patternFill patternType="none"/></fill>'
    '<fill><patternFill patternType="gray125"/></fill></fills>'
    '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>'
    '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>'
    '<cellXfs count="4"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
    '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>'
    '<xf numFmtId="14" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>'
    '<xf numFmtId="22" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>'
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>'
    "</styleSheet>"
)


def column_letter(n: int) -> str:
    """1 → A, 27 → AA."""
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def _serial(value: dt.date | dt.datetime) -> float:
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            raise TypeError("Excel does not support time zones: convert the datetime to local time first")
        delta = value - EPOCH
        return delta.days + delta.seconds / 86400 + delta.microseconds / 86_400_000_000
    return float((value - EPOCH.date()).days)


def _cell(ref: str, value: Any, style: int = 0) -> str:
    s = f' s="{style}"' if style else ""
    if value is None:
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, int | float | Decimal):
        return f'<c r="{ref}"{s}><v>{value}</v></c>'
    if isinstance(value, dt.datetime):
        return f'<c r="{ref}" s="{style or DATETIME}"><v>{_serial(value)}</v></c>'
    if isinstance(value, dt.date):
        return f'<c r="{ref}" s="{style or DATE}"><v>{_serial(value)}</v></c>'
    text = escape(ILLEGAL.sub("", str(value)))
    return f'<c r="{ref}"{s} t="inlineStr"><is><t xml:space="preserve">{text}</t></is></c>'


def _sheet_xml(out: Any, header: Sequence[Any], rows: Iterable[Sequence[Any]], widths: Sequence[int]) -> None:
    letters: list[str] = []

    def refs(n: int) -> list[str]:
        while len(letters) < n:
            letters.append(column_letter(len(letters) + 1))
        return letters

    out.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet xmlns="{MAIN}" '
              f'xmlns:r="{REL}"><sheetViews><sheetView workbookViewId="0"><pane ySplit="1" '
              'topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
              '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
              '<sheetFormatPr defaultRowHeight="15"/>'.encode())
    if widths:
        out.write(("<cols>" + "".join(f'<col min="{i}" max="{i}" width="{w}" customWidth="1"/>'
                                      for i, w in enumerate(widths, 1)) + "</cols>").encode())
    out.write(b"<sheetData>")
    cols = refs(len(header))
    out.write(('<row r="1">' + "".join(_cell(f"{cols[i]}1", v, BOLD) for i, v in enumerate(header))
               + "</row>").encode())
    chunk: list[str] = []
    for r, row in enumerate(rows, 2):
        cols = refs(len(row))
        chunk.append(f'<row r="{r}">' + "".join(_cell(f"{cols[i]}{r}", v) for i, v in enumerate(row)) + "</row>")
        if len(chunk) >= 500:
            out.write("".join(chunk).encode())
            chunk.clear()
    out.write("".join(chunk).encode())
    out.write(b"</sheetData></worksheet>")


def write(sheets: Iterable[tuple[str, Sequence[Any], Iterable[Sequence[Any]]]],
          widths: dict[str, Sequence[int]] | None = None) -> bytes:
    """The workbook as bytes: ``sheets`` yields (title, header, rows); rows may be a generator."""
    buf = io.BytesIO()
    titles: list[str] = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for title, header, rows in sheets:
            titles.append(title)
            with zf.open(f"xl/worksheets/sheet{len(titles)}.xml", "w", force_zip64=True) as out:
                _sheet_xml(out, header, rows, (widths or {}).get(title, ()))
        if not titles:  # a workbook needs a sheet
            titles.append("Sheet")
            with zf.open("xl/worksheets/sheet1.xml", "w") as out:
                _sheet_xml(out, [], [], ())
        n = len(titles)
        zf.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.'
            'openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="'
            'application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" '
            'ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="'
            'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.spreadsheetml.styles+xml"/>'
            + "".join(f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="application/'
                      'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' for i in range(1, n + 1))
            + "</Types>"))
        zf.writestr("_rels/.rels", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_REL}">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>'))
        zf.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="{MAIN}" '
            f'xmlns:r="{REL}"><bookViews><workbookView activeTab="0"/></bookViews><sheets>'
            + "".join(f'<sheet name={quoteattr(ILLEGAL.sub("", t))} sheetId="{i}" r:id="rId{i}"/>'
                      for i, t in enumerate(titles, 1))
            + "</sheets></workbook>"))
        zf.writestr("xl/_rels/workbook.xml.rels", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="{PKG_REL}">'
            + "".join(f'<Relationship Id="rId{i}" Type="{REL}/worksheet" Target="worksheets/sheet{i}.xml"/>'
                      for i in range(1, n + 1))
            + f'<Relationship Id="rId{n + 1}" Type="{REL}/styles" Target="styles.xml"/></Relationships>'))
        zf.writestr("xl/styles.xml", STYLES)
    return buf.getvalue()
