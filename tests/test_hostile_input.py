"""Hostile files through the paths a user takes: instrument YAML (alias bomb, deep nesting, error
floods) at the command line and the upload page; roster spreadsheets (millions of declared blank
rows, zip bombs, other zip files) and formula injection through the roster import."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path
from unittest import mock

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import translation

from xinlian.lib import spreadsheet
from xinlian.lib.actions import Invalid
from xinlian.lib.spreadsheet import (
    BLANK_RUN,
    RowBudget,
    SpreadsheetError,
    looks_like_formula,
    read_spreadsheet,
)
from xinlian.network.actions import import_roster
from xinlian.network.models import Staff, Student
from xinlian.screening.engine import (
    MAX_DEPTH,
    MAX_ERROR_CHARS,
    MAX_ERRORS,
    Definition,
    DefinitionError,
    parse_text,
)
from xinlian.screening.models import Instrument

from .base import NetworkTestCase
from .roster_fixtures import STAFF_HEAD, STUDENT_HEAD, csv_bytes, xlsx_bytes


def alias_bomb() -> str:
    """“Billion laughs” in about 500 bytes: nine levels of nine aliases, 9**9 strings once expanded,
    hung on a field whose schema error quotes the value."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 9):
        lines.append(f"l{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 9) + "]")
    lines.append("code: *l8")
    return "\n".join(lines) + "\n"


DEEP = "[" * 100_000 + "]" * 100_000
ANCHOR_REFUSED = "anchors and aliases (& and *) are not allowed"
DEPTH_REFUSED = f"nested more than {MAX_DEPTH} levels deep"
# 200 items of the wrong type, and extra keys whose one error message runs to thousands of characters.
ERROR_FLOOD = ("code: X\nitems: [" + ", ".join(str(n) for n in range(200)) + "]\n"
               + "".join(f"extra_{n}_{'x' * 40}: 1\n" for n in range(100)))


class InstrumentParserTests(NetworkTestCase):
    def test_the_bomb_is_small(self) -> None:
        self.assertLess(len(alias_bomb()), 600)

    def test_alias_bomb_refused_while_composing(self) -> None:
        with translation.override("en"), self.assertRaises(DefinitionError) as ctx:
            parse_text(alias_bomb(), "bomb.yaml")
        self.assertEqual(len(ctx.exception.errors), 1)
        self.assertIn(ANCHOR_REFUSED, ctx.exception.errors[0])
        self.assertIn("line 1", ctx.exception.errors[0])

    def test_a_single_anchor_is_refused_too(self) -> None:
        with translation.override("en"), self.assertRaises(DefinitionError) as ctx:
            parse_text("name: &n {zh-Hans: 甲, en: A}\n", "a.yaml")
        self.assertIn(ANCHOR_REFUSED, ctx.exception.errors[0])

    def test_deep_nesting_refused_not_a_crash(self) -> None:
        with translation.override("en"), self.assertRaises(DefinitionError) as ctx:
            parse_text(DEEP, "deep.json")
        self.assertEqual(ctx.exception.errors, [f"(file): line 1: {DEPTH_REFUSED}."])
        block = "a:\n" + "".join("  " * (i + 1) + f"k{i}:\n" for i in range(80)) + "  " * 81 + "x\n"
        with translation.override("en"), self.assertRaises(DefinitionError) as ctx:
            parse_text(block, "deep.yaml")
        self.assertIn(DEPTH_REFUSED, ctx.exception.errors[0])

    def test_nesting_at_the_limit_still_parses(self) -> None:
        text = "a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n"
        self.assertIn("a", parse_text(text))

    def test_messages_in_chinese(self) -> None:
        with translation.override("zh-hans"), self.assertRaises(DefinitionError) as ctx:
            parse_text(alias_bomb())
        self.assertIn("锚点", ctx.exception.errors[0])
        with translation.override("zh-hans"), self.assertRaises(DefinitionError) as ctx:
            parse_text(DEEP)
        self.assertIn("层", ctx.exception.errors[0])

    def test_error_list_and_each_error_are_capped(self) -> None:
        with self.assertRaises(DefinitionError) as ctx:
            Definition.from_text(ERROR_FLOOD)
        exc = ctx.exception
        self.assertGreater(exc.total, MAX_ERRORS)
        self.assertEqual(len(exc.errors), MAX_ERRORS)
        self.assertEqual(exc.hidden, exc.total - MAX_ERRORS)
        self.assertTrue(all(len(e) <= MAX_ERROR_CHARS for e in exc.errors))
        self.assertLess(len(str(exc)), MAX_ERRORS * (MAX_ERROR_CHARS + 2) + 100)

    def test_oversized_text_refused_before_parsing(self) -> None:
        with translation.override("en"), self.assertRaises(DefinitionError) as ctx:
            parse_text("# " + "x" * (600 * 1024))
        self.assertIn("larger than 512 KB", ctx.exception.errors[0])


class InstrumentCommandTests(NetworkTestCase):
    def validate(self, text: str) -> tuple[str, str]:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "hostile.yaml"
            path.write_text(text, encoding="utf-8")
            out = io.StringIO()
            with translation.override("en"), self.assertRaises(CommandError) as ctx:
                call_command("instruments", "validate", str(path), stdout=out)
        return out.getvalue(), str(ctx.exception)

    def test_validate_refuses_the_bomb_in_a_few_lines(self) -> None:
        out, summary = self.validate(alias_bomb())
        self.assertIn("hostile.yaml: 1 errors", out)
        self.assertIn(ANCHOR_REFUSED, out)
        self.assertLess(len(out), 1000)
        self.assertIn("1 of 1 files have errors", summary)

    def test_validate_refuses_deep_nesting(self) -> None:
        out, _summary = self.validate(DEEP)
        self.assertIn(DEPTH_REFUSED, out)
        self.assertLess(len(out), 1000)

    def test_validate_caps_an_error_flood(self) -> None:
        out, _summary = self.validate(ERROR_FLOOD)
        self.assertLess(len(out), 20_000)
        self.assertIn("more.", out.splitlines()[-1])
        self.assertEqual(sum(line.startswith("  - ") for line in out.splitlines()), MAX_ERRORS)

    def test_load_refuses_the_bomb(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bomb.yaml"
            path.write_text(alias_bomb(), encoding="utf-8")
            with translation.override("en"), self.assertRaises(CommandError) as ctx:
                call_command("instruments", "load", str(path), stdout=io.StringIO())
        self.assertIn(ANCHOR_REFUSED, str(ctx.exception))
        self.assertLess(len(str(ctx.exception)), 1000)


class InstrumentUploadPageTests(NetworkTestCase):
    URL = reverse("screening:instrument-upload")

    def post(self, name: str, text: str, lang: str = "en"):  # noqa: ANN201
        self.login("director")
        return self.client.post(self.URL, {"file": SimpleUploadedFile(name, text.encode())},
                                HTTP_ACCEPT_LANGUAGE=lang)

    def test_bomb_gives_a_small_page_with_the_message(self) -> None:
        response = self.post("bomb.yaml", alias_bomb())
        self.assertContains(response, "anchors and aliases (&amp; and *) are not allowed", status_code=400)
        self.assertLess(len(response.content), 100_000)
        self.assertFalse(Instrument.objects.filter(builtin=False).exists())

    def test_deep_nesting_gives_400_not_500(self) -> None:
        response = self.post("deep.json", DEEP)
        self.assertContains(response, DEPTH_REFUSED, status_code=400)
        self.assertLess(len(response.content), 100_000)

    def test_chinese_page(self) -> None:
        response = self.post("bomb.yaml", alias_bomb(), lang="zh-hans")
        self.assertContains(response, "锚点", status_code=400)

    def test_error_flood_is_capped_and_counted(self) -> None:
        response = self.post("flood.yaml", ERROR_FLOOD)
        self.assertEqual(response.status_code, 400)
        errors = response.context["errors"]
        self.assertEqual(len(errors), MAX_ERRORS + 1)
        self.assertIn("more.", errors[-1])
        self.assertContains(response, f"The file has {response.context['error_count']} problems", status_code=400)
        self.assertGreater(response.context["error_count"], MAX_ERRORS)
        self.assertLess(len(response.content), 100_000)


# --- roster spreadsheets ------------------------------------------------------------------------


FIRST_ROW = ["20230001", "陈一", "男", "2005-03-07", "CA-1", "", "2023", "在读", ""]


def xlsx_with_rows_below(rows_xml: bytes) -> bytes:
    """A one-student roster with ``rows_xml`` spliced into its sheet after the data, as a hostile
    writer would (openpyxl refuses rows past 1,048,576 and would take minutes to write millions)."""
    base = io.BytesIO(xlsx_bytes({"学生": (STUDENT_HEAD, [FIRST_ROW])}))
    out = io.BytesIO()
    with zipfile.ZipFile(base) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                assert data.count(b"</sheetData>") == 1
                data = data.replace(b"</sheetData>", rows_xml + b"</sheetData>")
            dst.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def xlsx_with_cell_far_below() -> bytes:
    """One cell at row 3,000,000: the reader would yield three million empty rows to reach it."""
    return xlsx_with_rows_below(b'<row r="3000000"><c r="A3000000" t="inlineStr"><is><t>x</t></is></c></row>')


def xlsx_with_blank_string_rows(n: int) -> bytes:
    """``n`` rows of empty strings below the data (rows without numbers count on from the last)."""
    return xlsx_with_rows_below(b'<row><c t="inlineStr"><is><t></t></is></c></row>' * n)


class BlankRowTests(NetworkTestCase):
    def test_a_cell_at_row_3_million_is_not_reached(self) -> None:
        data = xlsx_with_cell_far_below()
        self.assertLess(len(data), 30_000)
        budget = RowBudget()
        sheets = read_spreadsheet(io.BytesIO(data), "x.xlsx", budget)
        self.assertEqual([r[0] for r in sheets[0].rows], [2])
        self.assertEqual(budget.read, 2 + BLANK_RUN)  # header, one row, then the blank run

    def test_a_million_rows_of_empty_strings_stop_at_the_blank_run(self) -> None:
        data = xlsx_with_blank_string_rows(1_000_000)
        self.assertLess(len(data), 200_000)
        budget = RowBudget()
        sheets = read_spreadsheet(io.BytesIO(data), "x.xlsx", budget)
        self.assertEqual([r[0] for r in sheets[0].rows], [2])
        self.assertEqual(budget.read, 2 + BLANK_RUN)

    def test_the_import_of_such_a_file_answers(self) -> None:
        with translation.override("en"):
            report = import_roster(self.director, io.BytesIO(xlsx_with_cell_far_below()), "x",
                                   dry_run=False)
        self.assertTrue(report.written)
        self.assertTrue(Student.objects.filter(user__username="20230001").exists())

    def test_a_file_over_the_row_budget_is_refused(self) -> None:
        rows = [[f"T{n:04d}", "职工", "", "", ""] for n in range(300)]
        budget = RowBudget(limit=100)
        with translation.override("en"), self.assertRaises(SpreadsheetError) as ctx:
            read_spreadsheet(io.BytesIO(csv_bytes(STAFF_HEAD, rows)), "staff.csv", budget)
        self.assertIn("more than 100 rows (blank rows included)", str(ctx.exception))
        self.assertEqual(budget.read, 101)

    def test_the_budget_spans_the_sheets_of_a_workbook(self) -> None:
        data = xlsx_bytes({"学生": (STUDENT_HEAD, [["x"]] * 60), "教职工": (STAFF_HEAD, [["y"]] * 60)})
        with self.assertRaises(SpreadsheetError):
            read_spreadsheet(io.BytesIO(data), "x.xlsx", RowBudget(limit=100))

    def test_zip_bomb_refused_from_the_directory(self) -> None:
        data = xlsx_bytes({"学生": (STUDENT_HEAD, [["20230001"]])})
        with translation.override("en"), mock.patch.object(spreadsheet, "MAX_XLSX_UNCOMPRESSED", 2000), \
                self.assertRaises(Invalid) as ctx:
            import_roster(self.director, io.BytesIO(data), "bomb.xlsx", dry_run=True)
        self.assertIn("expands to more than", ctx.exception.obj.errors[0].message)


# --- formula injection --------------------------------------------------------------------------


class FormulaTests(NetworkTestCase):
    HOSTILE = ("=cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0", "@SUM(1+9)*cmd|' /C calc'!A0",
               "-A1", "+1-1", "=HYPERLINK(\"http://x\")", "-2-3", "-cmd|' /C calc'!A0")
    HARMLESS = ("-2", "+3", "-2.5", "+86 138 0013 8000", "张三", "O'Brien", "a-b", "1+1")

    def test_the_check(self) -> None:
        for value in self.HOSTILE:
            self.assertTrue(looks_like_formula(value), value)
        for value in self.HARMLESS:
            self.assertFalse(looks_like_formula(value), value)

    def test_import_refuses_every_hostile_name_title_and_number(self) -> None:
        rows = [[f"T9{n:03d}", value, "", "", ""] for n, value in enumerate(self.HOSTILE)]
        rows += [[f"T8{n:03d}", "职工", "", value, ""] for n, value in enumerate(self.HOSTILE)]
        rows += [["-2+3+cmd", "职工", "", "", ""]]
        with translation.override("en"), self.assertRaises(Invalid) as ctx:
            import_roster(self.director, io.BytesIO(csv_bytes(STAFF_HEAD, rows)), "staff.csv", dry_run=False)
        errors = ctx.exception.obj.errors
        self.assertEqual(len(errors), 2 * len(self.HOSTILE) + 1)
        self.assertTrue(all("looks like a spreadsheet formula" in e.message for e in errors), errors)
        self.assertEqual({e.column for e in errors}, {"姓名", "职务", "工号"})
        self.assertFalse(Staff.objects.filter(user__username__startswith="T9").exists())

    def test_import_keeps_harmless_values(self) -> None:
        rows = [[f"T7{n:03d}", "职工", "", value, ""] for n, value in enumerate(self.HARMLESS)]
        report = import_roster(self.director, io.BytesIO(csv_bytes(STAFF_HEAD, rows)), "staff.csv", dry_run=False)
        self.assertTrue(report.written)
        self.assertEqual(sorted(Staff.objects.filter(user__username__startswith="T7").values_list("title", flat=True)),
                         sorted(self.HARMLESS))
