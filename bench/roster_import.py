"""roster_import — wall time and peak memory of ``xinlian import-roster`` on 50,000 students.

A skeleton of the demo university (bureau, school, colleges, classes, dormitories; no people)
is seeded into a fresh database, and the people of the same deterministic plan are written to
an .xlsx roster in the documented file format (sheets 学生, 监护人, 教职工, 岗位 with their
Chinese headers). The import then runs through the CLI only, as an administrator would, in a
process of its own whose peak RSS is read with getrusage (bench/measure.py).

Target: under 30 s and under 500 MB.

Run as a child by bench/run.py: ``python bench/roster_import.py prepare|verify ...``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import database_info, django_setup

TARGET_SECONDS = 30
TARGET_MB = 500

GENDER_ZH = {"M": "男", "F": "女"}
STATUS_ZH = {"enrolled": "在读", "on_leave": "休学", "suspended": "停学", "graduated": "毕业"}
RELATION_ZH = {"father": "父亲", "mother": "母亲", "grandparent": "祖父母", "sibling": "兄弟姐妹",
               "other": "其他"}
ROLE_ZH = {
    "leader": "组长", "deputy_leader": "副组长", "leadership_member": "领导小组成员",
    "centre_director": "心理辅导中心主任", "counsellor": "专兼职心理教师",
    "college_lead": "院系心理健康负责人", "fudaoyuan": "辅导员", "head_teacher": "班主任",
    "committee_member": "心理委员", "dorm_liaison": "宿舍心理联络员", "parent_rep": "家长代表",
    "student_rep": "学生代表", "bureau_viewer": "教育局查看员",
}
STUDENT_HEADER = ("学号", "姓名", "性别", "出生日期", "班级代码", "宿舍代码", "入学年份", "学籍状态", "特殊群体")
GUARDIAN_HEADER = ("学号", "监护人姓名", "关系", "电话", "是否主要联系人")
STAFF_HEADER = ("工号", "姓名", "部门代码", "职务")
POST_HEADER = ("工号或学号", "岗位", "单位代码", "任期开始")


def write_roster(plan, path: Path) -> dict[str, int]:  # noqa: ANN001 — a DemoPlan
    """The plan's people as an .xlsx roster; openpyxl's write-only mode keeps memory flat."""
    from openpyxl import Workbook

    from xinlian.network.catalogue import SPECIAL_GROUPS

    group_zh = {code: name for code, name, _ in SPECIAL_GROUPS}
    members = {s.number for s in plan.staff if s.is_staff_member}
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("学生")
    ws.append(STUDENT_HEADER)
    for s in plan.students:
        ws.append((s.number, s.name, GENDER_ZH[s.gender], s.birth_date, s.class_code, s.dorm_code,
                   s.enrolment_year, STATUS_ZH[s.status], "、".join(group_zh[g] for g in s.groups)))
    ws = wb.create_sheet("监护人")
    ws.append(GUARDIAN_HEADER)
    guardians = 0
    for s in plan.students:
        for g in s.guardians:
            ws.append((s.number, g.name, RELATION_ZH[g.relation], g.phone, "是" if g.is_primary else "否"))
            guardians += 1
    ws = wb.create_sheet("教职工")
    ws.append(STAFF_HEADER)
    for st in plan.staff:
        if st.is_staff_member:  # parent representatives are not employees
            ws.append((st.number, st.name, st.department_code or "", st.title))
    ws = wb.create_sheet("岗位")
    ws.append(POST_HEADER)
    students = {s.number for s in plan.students}
    posts = 0
    for p in plan.posts:
        if p.number in members or p.number in students:
            ws.append((p.number, ROLE_ZH[p.role], p.unit_code, p.starts_on))
            posts += 1
    wb.save(path)
    return {"students": len(plan.students), "guardians": guardians, "staff": len(members), "posts": posts}


def prepare(students: int, out: Path) -> dict:
    django_setup()
    from django.core.management import call_command

    from xinlian.network.demo import build_plan, write_plan

    call_command("migrate", interactive=False, verbosity=0)
    started = time.perf_counter()
    plan = build_plan(students)
    skeleton = write_plan(plan, people=False)
    counts = write_roster(plan, out)
    return {"units": skeleton.units, "rows": counts, "xlsx_mb": round(out.stat().st_size / 2**20, 2),
            "prepare_seconds": round(time.perf_counter() - started, 2), "database": database_info()}


def verify() -> dict:
    django_setup()
    from xinlian.network.models import Guardian, Post, Student

    return {"students": Student.objects.count(), "guardians": Guardian.objects.count(),
            "posts": Post.objects.count()}


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--students", type=int, required=True)
    p.add_argument("--out", type=Path, required=True)
    sub.add_parser("verify")
    args = parser.parse_args()
    result = prepare(args.students, args.out) if args.step == "prepare" else verify()
    print(json.dumps(result, ensure_ascii=False, default=str))


if __name__ == "__main__":
    main()
