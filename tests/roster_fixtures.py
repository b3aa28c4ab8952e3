"""Builders of roster files for the roster tests, and a generator of large demo rosters.

``write_demo_roster_xlsx`` also serves the 50,000-student measurement: create the classes of
``demo_unit_codes(n // 50, 8)`` under a school, write the file, then time ``import_roster`` on it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from collections.abc import Iterable, Sequence
from typing import Any

from openpyxl import Workbook

STUDENT_HEAD = ["学号", "姓名", "性别", "出生日期", "班级代码", "宿舍代码", "入学年份", "学籍状态", "特殊群体"]
STAFF_HEAD = ["工号", "姓名", "部门代码", "职务", "电话"]
POST_HEAD = ["工号或学号", "岗位", "单位代码", "任期开始", "任期结束"]
GUARDIAN_HEAD = ["学号", "监护人姓名", "关系", "电话", "是否主要联系人"]


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]], encoding: str = "utf-8") -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else v for v in row])
    return buf.getvalue().encode(encoding)


def xlsx_bytes(sheets: dict[str, tuple[Sequence[str], Iterable[Sequence[Any]]]]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    for title, (header, rows) in sheets.items():
        ws = wb.create_sheet(title)
        ws.append(list(header))
        for row in rows:
            ws.append(list(row))
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰红梅兵辉鹏飞宇浩然子涵欣怡思雨晨轩博文"


def demo_unit_codes(n_classes: int, dorms_per_class: int) -> list[tuple[str, list[str]]]:
    """[(class code, [dorm codes])] used by :func:`write_demo_roster_xlsx` and the bench setup."""
    return [(f"K{c:04d}", [f"K{c:04d}-D{d:02d}" for d in range(dorms_per_class)]) for c in range(n_classes)]


def write_demo_roster_xlsx(path: str, n_students: int, seed: int = 1, *, n_classes: int | None = None,
                           dorms_per_class: int = 8, guardians: bool = False, streaming: bool = True) -> None:
    """A realistic roster of ``n_students`` (50 per class by default).

    ``streaming`` writes in write-only mode (inline strings, no <dimension>: openpyxl's slowest
    case to read back); ``streaming=False`` writes shared strings and a dimension, as Excel does."""
    rng = random.Random(seed)
    n_classes = n_classes or max(1, n_students // 50)
    units = demo_unit_codes(n_classes, dorms_per_class)
    groups = ["", "", "", "", "", "", "", "留守儿童", "经济困难", "单亲家庭、经济困难"]
    wb = Workbook(write_only=streaming)
    if not streaming:
        wb.remove(wb.active)
    ws = wb.create_sheet("学生")
    ws.append(STUDENT_HEAD)
    gs = wb.create_sheet("监护人") if guardians else None
    if gs is not None:
        gs.append(GUARDIAN_HEAD)
    for i in range(n_students):
        klass, dorms = units[i % n_classes]
        number = f"2023{i:06d}"
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
        ws.append([number, name, rng.choice("男女"),
                   dt.datetime(2004, 1, 1) + dt.timedelta(days=rng.randint(0, 1000)),
                   klass, rng.choice(dorms), 2023, "在读", rng.choice(groups)])
        if gs is not None:
            gs.append([number, name[0] + "建国", "父亲", f"13{rng.randint(100000000, 999999999)}", "是"])
    wb.save(path)
