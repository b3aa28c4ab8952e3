"""Roster import and export: students, staff, posts and guardians from .xlsx/.csv, all or nothing.

The import reads the whole file, validates every row in memory against a few bulk lookups
(never a query per row), and only when no row has an error writes everything with
bulk_create / bulk_update inside one transaction. People are keyed by their number, so
importing the same file twice changes nothing and a changed row updates that person.
Columns that a file leaves out are left alone; a column that is present but blank clears
an optional field.

Students get an unusable password: hashing 50,000 Argon2 passwords would take minutes, and
accounts are activated later (password reset / SSO), not by the roster.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.hashers import UNUSABLE_PASSWORD_PREFIX
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from xinlian.lib.spreadsheet import (
    BLANK_RUN,
    MAX_ROWS_READ,
    Cell,
    SheetData,
    SpreadsheetError,
    looks_like_formula,
    read_spreadsheet,
    source_size,
    write_xlsx,
)

from .models import (
    ROLE_UNIT_KINDS,
    STUDENT_ROLES,
    Gender,
    Guardian,
    GuardianRelation,
    PersonKind,
    Post,
    Role,
    SpecialGroup,
    Staff,
    Student,
    StudentStatus,
    Unit,
    UnitKind,
    User,
    validate_phone,
)

STUDENTS, STAFF, POSTS, GUARDIANS = "students", "staff", "posts", "guardians"
# A staff member's ids on the school's WeCom / DingTalk (personal alert messages).
CHANNEL_ID_KEYS = ("wecom_userid", "dingtalk_userid")
KINDS = (STUDENTS, STAFF, POSTS, GUARDIANS)
KIND_LABELS = {
    STUDENTS: gettext_lazy("Students"),
    STAFF: gettext_lazy("Staff"),
    POSTS: gettext_lazy("Posts"),
    GUARDIANS: gettext_lazy("Guardians"),
}
# SQLite builds before 3.32 allow 999 parameters per statement; stay below for IN lists.
CHUNK = 900
BATCH = 1000
# Errors listed by the page and the API (each names its sheet, row and column); the count is whole.
MAX_ERRORS_SHOWN = 500

# Created (by code) on first use when the database has no special group at all; a data
# migration may also create them, hence get_or_create by code.
DEFAULT_SPECIAL_GROUPS = (
    ("left_behind", "留守儿童", "Left-behind child"),
    ("single_parent", "单亲家庭", "Single-parent family"),
    ("financial_hardship", "经济困难", "Financial hardship"),
    ("disability", "残疾", "Disability"),
)


# ---------------------------------------------------------------------------------------------
# Sheet and column specifications
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str
    required: bool = False
    aliases: tuple[str, ...] = ()
    help_zh: str = ""
    help_en: str = ""

    def label(self) -> str:
        """The header name in the user's language (the file's own header is preferred in errors)."""
        return self.en if (translation.get_language() or "").startswith("en") else self.zh


@dataclass(frozen=True)
class SheetSpec:
    kind: str
    zh: str
    en: str
    names: tuple[str, ...]
    columns: tuple[Column, ...]
    example: tuple[Any, ...]

    def column(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)


SPECS: tuple[SheetSpec, ...] = (
    SheetSpec(
        STUDENTS, "学生", "Students", ("学生", "学生名单", "学生信息", "students", "student"),
        (
            Column("number", "学号", "Student number", True, ("student no", "student id", "number"),
                   "学生的学号，全校唯一；作为登录账号。", "Unique student number; also the login name."),
            Column("name", "姓名", "Name", True, ("full name",), "学生姓名。", "Full name."),
            Column("gender", "性别", "Gender", True, ("sex",), "男 / 女（或 M / F）。", "男/女 or M/F."),
            Column("birth_date", "出生日期", "Date of birth", False, ("birth date", "birthday", "dob"),
                   "如 2005-03-07、2005/3/7、20050307 或 Excel 日期。",
                   "e.g. 2005-03-07, 2005/3/7, 20050307 or an Excel date."),
            Column("class_code", "班级代码", "Class code", True, ("class",),
                   "学生所在班级的单位代码（须已在系统中建立）。", "Code of the student's class (must exist)."),
            Column("dorm_code", "宿舍代码", "Dormitory code", False, ("dorm code", "dorm", "dormitory"),
                   "宿舍的单位代码，须在该班级之下；可留空。", "Code of a dormitory inside that class; may be blank."),
            Column("enrolment_year", "入学年份", "Enrolment year", True, ("enrollment year", "year of entry"),
                   "四位年份，如 2023。", "Four-digit year, e.g. 2023."),
            Column("status", "学籍状态", "Status", False, ("student status",),
                   "在读 / 休学 / 停学 / 毕业；留空为在读。", "在读/休学/停学/毕业 (enrolled, on leave, suspended, graduated); blank = enrolled."),
            Column("special_groups", "特殊群体", "Special groups", False, ("special group",),
                   "可填多个，用 、 , ; 分隔，如 留守儿童、经济困难。",
                   "Several allowed, separated by 、 , or ; e.g. 留守儿童、经济困难."),
            Column("phone", "电话", "Phone", False, ("手机", "手机号", "mobile"),
                   "学生本人手机，可留空。", "Student's own mobile; optional."),
        ),
        ("20230101", "张三", "男", dt.date(2005, 3, 7), "CS-2023-1", "CS-2023-1-101", 2023, "在读", "留守儿童、经济困难", ""),
    ),
    SheetSpec(
        STAFF, "教职工", "Staff", ("教职工", "教师", "职工", "staff", "teachers"),
        (
            Column("number", "工号", "Staff number", True, ("staff no", "staff id", "employee number"),
                   "教职工工号，全校唯一；作为登录账号。", "Unique staff number; also the login name."),
            Column("name", "姓名", "Name", True, ("full name",), "姓名。", "Full name."),
            Column("department_code", "部门代码", "Department code", False, ("department", "unit code"),
                   "所属部门/学院的单位代码，可留空。", "Code of the staff member's unit; optional."),
            Column("title", "职务", "Job title", False, ("title", "position"), "职务或职称，可留空。", "Job title; optional."),
            Column("phone", "电话", "Phone", False, ("手机", "手机号", "mobile"),
                   "手机或座机，可留空；手机号用于短信预警（加密保存）。",
                   "Mobile or landline; optional. A mobile receives alert SMS (stored encrypted)."),
            Column("wecom_userid", "企业微信账号", "WeCom user id", False,
                   ("企业微信", "企业微信userid", "企业微信id", "wecom", "wecom id", "wecom userid"),
                   "企业微信通讯录中的账号（UserID），用于个人预警消息；可留空。",
                   "The person's UserID in the school's WeCom, for personal alert messages; optional."),
            Column("dingtalk_userid", "钉钉账号", "DingTalk user id", False,
                   ("钉钉", "钉钉userid", "钉钉id", "dingtalk", "dingtalk id", "dingtalk userid"),
                   "钉钉通讯录中的 userid，用于个人工作通知；可留空。",
                   "The person's userid in the school's DingTalk, for personal work notifications; optional."),
        ),
        ("T2023001", "李老师", "CS", "辅导员", "13800138000", "LiLaoShi", ""),
    ),
    SheetSpec(
        POSTS, "岗位", "Posts", ("岗位", "任职", "posts", "post", "roles"),
        (
            Column("number", "工号或学号", "Number", True, ("工号", "学号", "person number", "staff or student number"),
                   "担任岗位者的工号或学号（本文件或系统中已有）。", "Staff or student number of the post holder."),
            Column("role", "岗位", "Role", True, ("post",),
                   "岗位名称，如 辅导员、班主任、心理委员、宿舍心理联络员、心理辅导中心主任、专兼职心理教师。",
                   "Role name (Chinese or English) or role code, e.g. head_teacher."),
            Column("unit_code", "单位代码", "Unit code", True, ("unit",),
                   "岗位所在单位的代码；岗位须与单位类型相符（如班主任在班级）。",
                   "Code of the unit; the role must suit the unit's kind (a head teacher at a class)."),
            Column("starts_on", "任期开始", "Term starts", False, ("start date", "starts on"),
                   "任期开始日期；留空为今天（已有相同岗位时沿用）。", "Start of term; blank = today (or the existing post)."),
            Column("ends_on", "任期结束", "Term ends", False, ("end date", "ends on"),
                   "任期结束日期，可留空。", "End of term; optional."),
        ),
        ("T2023001", "班主任", "CS-2023-1", dt.date(2024, 9, 1), None),
    ),
    SheetSpec(
        GUARDIANS, "监护人", "Guardians", ("监护人", "家长", "guardians", "guardian", "parents"),
        (
            Column("student_number", "学号", "Student number", True, ("student no", "student id"),
                   "学生学号（本文件或系统中已有）。", "Number of the student."),
            Column("name", "监护人姓名", "Guardian name", True, ("guardian", "家长姓名"), "监护人姓名。", "Guardian's name."),
            Column("relation", "关系", "Relation", True, ("relationship", "与学生关系"),
                   "父亲 / 母亲 / 祖父母 / 兄弟姐妹 / 其他。", "父亲/母亲/祖父母/兄弟姐妹/其他 (father, mother, grandparent, sibling, other)."),
            Column("phone", "电话", "Phone", True, ("手机", "手机号", "mobile"),
                   "手机或座机（加密保存）。", "Mobile or landline (stored encrypted)."),
            Column("is_primary", "是否主要联系人", "Primary contact", False, ("主要联系人", "primary"),
                   "是 / 否；留空为否。", "是/否 (yes/no); blank = no."),
        ),
        ("20230101", "张建国", "父亲", "13800138000", "是"),
    ),
)
SPEC_BY_KIND = {s.kind: s for s in SPECS}
IGNORED_SHEETS = {"说明", "填写说明", "readme", "instructions", "help"}

ROLE_NAMES_ZH: dict[str, tuple[str, ...]] = {
    Role.LEADER: ("组长", "领导小组组长"),
    Role.DEPUTY_LEADER: ("副组长", "领导小组副组长"),
    Role.LEADERSHIP_MEMBER: ("领导小组成员",),
    Role.CENTRE_DIRECTOR: ("心理辅导中心主任", "中心主任"),
    Role.COUNSELLOR: ("专兼职心理教师", "心理教师", "专职心理教师", "兼职心理教师", "心理咨询师"),
    Role.COLLEGE_LEAD: ("院系心理健康负责人", "院系负责人", "学院负责人", "年级负责人"),
    Role.FUDAOYUAN: ("辅导员",),
    Role.HEAD_TEACHER: ("班主任",),
    Role.COMMITTEE_MEMBER: ("心理委员", "班级心理委员"),
    Role.DORM_LIAISON: ("宿舍心理联络员", "宿舍联络员"),
    Role.PARENT_REP: ("家长代表",),
    Role.STUDENT_REP: ("学生代表",),
    Role.BUREAU_VIEWER: ("教育局查看员", "教育局"),
}
GENDER_VALUES = {"男": Gender.MALE, "女": Gender.FEMALE, "m": Gender.MALE, "f": Gender.FEMALE,
                 "male": Gender.MALE, "female": Gender.FEMALE}
GENDER_ZH = {Gender.MALE: "男", Gender.FEMALE: "女"}
STATUS_ZH = {StudentStatus.ENROLLED: "在读", StudentStatus.ON_LEAVE: "休学",
             StudentStatus.SUSPENDED: "停学", StudentStatus.GRADUATED: "毕业"}
STATUS_VALUES = {"在读": StudentStatus.ENROLLED, "在校": StudentStatus.ENROLLED, "在籍": StudentStatus.ENROLLED,
                 "休学": StudentStatus.ON_LEAVE, "停学": StudentStatus.SUSPENDED,
                 "毕业": StudentStatus.GRADUATED, "已毕业": StudentStatus.GRADUATED}
RELATION_VALUES = {
    "父亲": GuardianRelation.FATHER, "父": GuardianRelation.FATHER, "爸爸": GuardianRelation.FATHER,
    "母亲": GuardianRelation.MOTHER, "母": GuardianRelation.MOTHER, "妈妈": GuardianRelation.MOTHER,
    "祖父母": GuardianRelation.GRANDPARENT, "外祖父母": GuardianRelation.GRANDPARENT,
    "祖父": GuardianRelation.GRANDPARENT, "祖母": GuardianRelation.GRANDPARENT,
    "外祖父": GuardianRelation.GRANDPARENT, "外祖母": GuardianRelation.GRANDPARENT,
    "爷爷": GuardianRelation.GRANDPARENT, "奶奶": GuardianRelation.GRANDPARENT,
    "外公": GuardianRelation.GRANDPARENT, "外婆": GuardianRelation.GRANDPARENT,
    "兄弟姐妹": GuardianRelation.SIBLING, "哥哥": GuardianRelation.SIBLING, "姐姐": GuardianRelation.SIBLING,
    "弟弟": GuardianRelation.SIBLING, "妹妹": GuardianRelation.SIBLING,
    "其他": GuardianRelation.OTHER, "其他监护人": GuardianRelation.OTHER,
}
YES = {"是", "y", "yes", "true", "1", "√", "✓", "主要"}
NO = {"否", "n", "no", "false", "0", "", "×"}
NUMBER_RE = re.compile(r"^[\w.@+-]+\Z")
DATE_RE = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?$")
SPLIT_RE = re.compile(r"[、,，;；/]+")
PAREN_RE = re.compile(r"[(（][^)）]*[)）]")


@lru_cache(maxsize=8192)  # the same few values (男, 在读, 父亲 ...) repeat on every row
def _norm(text: str) -> str:
    """Loose form for matching headers and enum values: case, spaces, _ and - and notes in () ignored."""
    text = PAREN_RE.sub("", str(text)).strip().lower()
    return re.sub(r"[\s_\-*＊:：]+", "", text)


def _enum_map(choices: type, extra: dict[str, str]) -> dict[str, str]:
    """Chinese words, codes and English labels of a TextChoices, all normalised."""
    mapping = {_norm(k): v for k, v in extra.items()}
    with translation.override("en"):
        for value, label in choices.choices:  # type: ignore[attr-defined]
            mapping.setdefault(_norm(value), value)
            mapping.setdefault(_norm(str(label)), value)
    return mapping


def _role_map() -> dict[str, str]:
    mapping: dict[str, str] = {}
    for role, names in ROLE_NAMES_ZH.items():
        for name in names:
            mapping[_norm(name)] = role
    # Codes and English labels; “Fudaoyuan (辅导员)” matches as “fudaoyuan” (notes in () ignored).
    mapping.update(_enum_map(Role, {}))
    return mapping


# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    """One problem, located the way the user sees the file: sheet, Excel row number, column header."""

    sheet: str
    row: int          # 0 when the problem concerns the whole file
    column: str       # the header as written in the file; "" for a whole row or the file
    message: str      # already translated into the language active during the import

    def location(self) -> str:
        if not self.row:
            return self.sheet
        if self.column:
            return _("%(sheet)s, row %(row)d, column “%(column)s”") % {
                "sheet": self.sheet, "row": self.row, "column": self.column}
        return _("%(sheet)s, row %(row)d") % {"sheet": self.sheet, "row": self.row}

    def __str__(self) -> str:
        where = self.location()
        return f"{where}: {self.message}" if where else self.message


@dataclass
class Counts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged


@dataclass
class ImportReport:
    filename: str
    dry_run: bool
    counts: dict[str, Counts] = field(default_factory=lambda: {k: Counts() for k in KINDS})
    errors: list[RowError] = field(default_factory=list)
    written: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def changes(self) -> int:
        return sum(c.created + c.updated for c in self.counts.values())

    def rows(self) -> list[tuple[str, str, Counts]]:
        """(kind, translated label, counts) for display."""
        return [(k, str(KIND_LABELS[k]), self.counts[k]) for k in KINDS]

    def summary(self) -> str:
        parts = [_("%(kind)s: %(created)d new, %(updated)d updated, %(unchanged)d unchanged") % {
            "kind": label, "created": c.created, "updated": c.updated, "unchanged": c.unchanged}
            for _k, label, c in self.rows()]
        return "; ".join(parts)

    def error_summary(self) -> str:
        return ngettext("%(count)d error: nothing was written.", "%(count)d errors: nothing was written.",
                        len(self.errors)) % {"count": len(self.errors)}

    def shown_errors(self) -> list[RowError]:
        """The errors a page or an API answer lists: a file of 50,000 bad rows is not echoed whole."""
        return self.errors[:MAX_ERRORS_SHOWN]

    def audit_detail(self) -> str:
        """Counts only — never names or numbers — for the audit trail."""
        return " ".join(f"{k}={c.created}/{c.updated}/{c.unchanged}" for k, c in self.counts.items())


# ---------------------------------------------------------------------------------------------
# Value parsing helpers (raise ValueError with a translated message)
# ---------------------------------------------------------------------------------------------

def parse_date(value: Cell) -> dt.date | None:
    """2005-03-07, 2005/3/7, 2005.3.7, 2005年3月7日, 20050307, or a real Excel date; blank → None."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = str(value).strip()
    if not text:
        return None
    # “2005-03-07 00:00:00” is what a CSV saved from an Excel date column often holds.
    head, _sep, tail = text.partition(" ")
    if tail and re.fullmatch(r"\d{1,2}:\d{2}(:\d{2})?", tail.strip()):
        text = head
    try:
        if re.fullmatch(r"\d{8}", text):
            return dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))
        m = DATE_RE.match(text)
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        pass
    raise ValueError(_("“%(value)s” is not a valid date; write it like 2005-03-07.") % {"value": text})


def parse_bool(value: Cell) -> bool:
    if isinstance(value, bool):
        return value
    text = _norm(str(value))
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueError(_("“%(value)s” is not yes or no (是/否).") % {"value": value})


def _chunks(seq: Sequence[Any], size: int | None = None) -> Iterator[Sequence[Any]]:
    """Slices for IN lists: small enough for SQLite's parameter limit, larger on PostgreSQL."""
    if size is None:
        size = CHUNK if connection.features.max_query_params else 10 * CHUNK
    for i in range(0, len(seq), size):
        yield seq[i:i + size]


def _text(value: Cell) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, bool):
        return "1" if value else "0"
    return value


# ---------------------------------------------------------------------------------------------
# The importer
# ---------------------------------------------------------------------------------------------

@dataclass
class _UnitInfo:
    id: int
    code: str
    kind: str
    path: str


@dataclass
class _UserInfo:
    id: int
    username: str
    full_name: str
    phone: str
    kind: str
    student_id: int | None
    staff_id: int | None
    wecom_userid: str = ""
    dingtalk_userid: str = ""


@dataclass
class _Sheet:
    spec: SheetSpec
    data: SheetData
    headers: dict[str, str]  # column key → header text as written in the file


@dataclass
class _StudentPlan:
    row: int
    number: str
    user: dict[str, Any]       # User fields from the file
    student: dict[str, Any]    # Student fields from the file
    groups: frozenset[str] | None  # special-group codes; None when the column is absent
    klass_id: int = 0
    klass_path: str = ""
    dorm_id: int | None = None
    has_dorm_column: bool = False


class _Importer:
    def __init__(self, filename: str, dry_run: bool, scope: list[Unit] | None,
                 on_write: Callable[[ImportReport], None] | None = None) -> None:
        self.report = ImportReport(filename=filename, dry_run=dry_run)
        self.on_write = on_write
        self.scope_paths: list[str] | None = None if scope is None else [u.path for u in scope]
        self.units: dict[str, _UnitInfo] = {}
        self.users: dict[str, _UserInfo] = {}
        self.numbers_seen: dict[str, tuple[str, int]] = {}
        self.file_students: dict[str, _StudentPlan] = {}
        self.file_staff: dict[str, int] = {}
        # Numbers claimed by a students/staff row even when that row has errors, so that posts
        # and guardians naming them do not pile up “unknown person” errors on top.
        self.file_student_numbers: set[str] = set()
        self.file_staff_numbers: set[str] = set()
        self._db_homes: dict[int, tuple[int | None, int | None]] = {}
        self.role_map = _role_map()
        self.gender_map = _enum_map(Gender, GENDER_VALUES)
        self.status_map = _enum_map(StudentStatus, STATUS_VALUES)
        self.relation_map = _enum_map(GuardianRelation, RELATION_VALUES)
        # Plans filled by validation, executed by write().
        self.new_users: list[User] = []
        self.changed_users: list[tuple[int, dict[str, Any]]] = []
        self.new_students: list[tuple[str, dict[str, Any]]] = []
        self.changed_students: list[tuple[int, dict[str, Any]]] = []
        self.group_sets: list[tuple[str, frozenset[str]]] = []  # number → full set of codes
        self.new_staff: list[tuple[str, dict[str, Any]]] = []
        self.changed_staff: list[tuple[int, dict[str, Any]]] = []
        self.new_posts: list[tuple[str, dict[str, Any]]] = []
        self.changed_posts: list[tuple[int, dict[str, Any]]] = []
        self.new_guardians: list[tuple[str, dict[str, Any]]] = []
        self.changed_guardians: list[tuple[int, dict[str, Any]]] = []
        self.default_groups_needed = False

    # -- errors ---------------------------------------------------------------------------
    def error(self, sheet: _Sheet | str, row: int, column: str, message: str) -> None:
        name = sheet.data.name if isinstance(sheet, _Sheet) else sheet
        if isinstance(sheet, _Sheet) and column in sheet.headers:
            column = sheet.headers[column]
        self.report.errors.append(RowError(name, row, column, message))

    def in_scope(self, path: str | None) -> bool:
        if self.scope_paths is None or path is None:
            return True
        return any(path.startswith(p) for p in self.scope_paths)

    # -- reading and classifying ------------------------------------------------------------
    def classify(self, sheets: list[SheetData]) -> dict[str, _Sheet]:
        found: dict[str, _Sheet] = {}
        for data in sheets:
            if _norm(data.name) in IGNORED_SHEETS:
                continue
            spec = self._spec_for(data)
            if spec is None:
                self.error(data.name, data.header_row, "", _(
                    "The columns of this sheet were not recognised; use the headers of the template "
                    "(学生 / 教职工 / 岗位 / 监护人)."))
                continue
            if spec.kind in found:
                self.error(data.name, 0, "", _("Sheets “%(first)s” and “%(second)s” both hold %(kind)s; "
                                              "put them in one sheet.") % {
                    "first": found[spec.kind].data.name, "second": data.name,
                    "kind": KIND_LABELS[spec.kind]})
                continue
            aliases = {}
            for col in spec.columns:
                for name in (col.zh, col.en, col.key, *col.aliases):
                    aliases.setdefault(_norm(name), col.key)
            headers: dict[str, str] = {}
            for text in data.header:
                key = aliases.get(_norm(text))
                if key and key not in headers:
                    headers[key] = text
            sheet = _Sheet(spec, data, headers)
            missing = [c for c in spec.columns if c.required and c.key not in headers]
            for col in missing:
                self.error(data.name, data.header_row, col.label(),
                           _("The required column “%(column)s” is missing.") % {"column": col.label()})
            if not missing:
                found[spec.kind] = sheet
        return found

    @staticmethod
    def _spec_for(data: SheetData) -> SheetSpec | None:
        name = _norm(data.name)
        for spec in SPECS:
            if name in {_norm(n) for n in spec.names}:
                return spec
        heads = {_norm(h) for h in data.header}
        # Most specific first: a posts sheet also has 学号/工号, a guardian sheet also has 学号.
        if heads & {_norm(x) for x in ("岗位", "role", "post")}:
            return SPEC_BY_KIND[POSTS]
        if heads & {_norm(x) for x in ("监护人姓名", "guardian name", "关系", "relation")}:
            return SPEC_BY_KIND[GUARDIANS]
        if heads & {_norm(x) for x in ("班级代码", "class code", "学号", "student number")}:
            return SPEC_BY_KIND[STUDENTS]
        if heads & {_norm(x) for x in ("工号", "staff number")}:
            return SPEC_BY_KIND[STAFF]
        return None

    # -- bulk lookups ---------------------------------------------------------------------
    def lookup(self, sheets: dict[str, _Sheet]) -> None:
        codes: set[str] = set()
        numbers: set[str] = set()
        for sheet in sheets.values():
            h = sheet.headers
            for _row, values in sheet.data.rows:
                for key in ("class_code", "dorm_code", "department_code", "unit_code"):
                    if key in h:
                        code = _text(values.get(h[key], ""))
                        if code:
                            codes.add(code)
                for key in ("number", "student_number"):
                    if key in h:
                        number = _text(values.get(h[key], ""))
                        if number:
                            numbers.add(number)
        for chunk in _chunks(sorted(codes)):
            for pk, code, kind, path in Unit.objects.filter(code__in=chunk).values_list(
                    "id", "code", "kind", "path"):
                if self.in_scope(path):
                    self.units[code] = _UnitInfo(pk, code, kind, path)
        for chunk in _chunks(sorted(numbers)):
            rows = User.objects.filter(username__in=chunk).values_list(
                "id", "username", "full_name", "phone", "kind", "student__id", "staff__id",
                "wecom_userid", "dingtalk_userid")
            for row in rows:
                self.users[row[1]] = _UserInfo(*row)

    # -- field helpers --------------------------------------------------------------------
    def cell(self, sheet: _Sheet, values: dict[str, Cell], key: str) -> Cell:
        header = sheet.headers.get(key)
        return values.get(header, "") if header else ""

    def required_text(self, sheet: _Sheet, row: int, values: dict[str, Cell], key: str,
                      max_len: int = 64) -> str | None:
        text = _text(self.cell(sheet, values, key))
        if not text:
            self.error(sheet, row, key, _("This field is required."))
            return None
        if len(text) > max_len:
            self.error(sheet, row, key, _("Too long (at most %(max)d characters).") % {"max": max_len})
            return None
        return text

    def number(self, sheet: _Sheet, row: int, values: dict[str, Cell], key: str = "number") -> str | None:
        number = self.required_text(sheet, row, values, key, max_len=150)
        if number is not None and not NUMBER_RE.match(number):
            self.error(sheet, row, key, _("“%(value)s” is not a valid number: use only letters, digits "
                                          "and @ . + - _.") % {"value": number})
            return None
        if number is not None and looks_like_formula(number):
            self.formula_error(sheet, row, key, number)
            return None
        return number

    def formula_error(self, sheet: _Sheet, row: int, key: str, value: str) -> None:
        # Stored as typed, the text would run as a formula in whichever spreadsheet exports it.
        self.error(sheet, row, key, _("“%(value)s” looks like a spreadsheet formula: it may not start with "
                                      "= + - or @ unless it is a number.") % {"value": value})

    def person_name(self, sheet: _Sheet, row: int, values: dict[str, Cell], key: str = "name") -> str | None:
        name = self.required_text(sheet, row, values, key)
        if name is not None and looks_like_formula(name):
            self.formula_error(sheet, row, key, name)
            return None
        return name

    def optional_text(self, sheet: _Sheet, row: int, values: dict[str, Cell], key: str,
                      max_len: int = 64) -> str | None:
        text = _text(self.cell(sheet, values, key))
        if len(text) > max_len:
            self.error(sheet, row, key, _("Too long (at most %(max)d characters).") % {"max": max_len})
            return None
        if text and looks_like_formula(text):
            self.formula_error(sheet, row, key, text)
            return None
        return text

    def phone(self, sheet: _Sheet, row: int, values: dict[str, Cell], required: bool) -> str | None:
        text = _text(self.cell(sheet, values, "phone")).replace(" ", "")
        if not text:
            if required:
                self.error(sheet, row, "phone", _("This field is required."))
                return None
            return ""
        try:
            validate_phone(text)
        except ValidationError:
            # The value itself is never echoed: guardian phones are tier-4 data.
            self.error(sheet, row, "phone", _("Not a valid phone number (mobile 1xxxxxxxxxx or "
                                              "landline 0xx-xxxxxxxx)."))
            return None
        return text

    def date(self, sheet: _Sheet, row: int, values: dict[str, Cell], key: str,
             lo: int = 1900, hi: int = 2100) -> tuple[bool, dt.date | None]:
        try:
            value = parse_date(self.cell(sheet, values, key))
        except ValueError as exc:
            self.error(sheet, row, key, str(exc))
            return False, None
        if value is not None and not (lo <= value.year <= hi):
            self.error(sheet, row, key, _("The date %(value)s is out of range.") % {"value": value.isoformat()})
            return False, None
        return True, value

    def unit(self, sheet: _Sheet, row: int, values: dict[str, Cell], key: str,
             kind: str | None, required: bool) -> tuple[bool, _UnitInfo | None]:
        code = _text(self.cell(sheet, values, key))
        if not code:
            if required:
                self.error(sheet, row, key, _("This field is required."))
                return False, None
            return True, None
        unit = self.units.get(code)
        if unit is None:
            msg = {
                UnitKind.CLASS: _("Unknown class code “%(code)s”."),
                UnitKind.DORMITORY: _("Unknown dormitory code “%(code)s”."),
            }.get(kind or "", _("Unknown unit code “%(code)s”."))
            self.error(sheet, row, key, msg % {"code": code})
            return False, None
        if kind and unit.kind != kind:
            self.error(sheet, row, key, _("“%(code)s” is a %(actual)s, not a %(expected)s.") % {
                "code": code, "actual": UnitKind(unit.kind).label, "expected": UnitKind(kind).label})
            return False, None
        return True, unit

    def claim_number(self, sheet: _Sheet, row: int, number: str, key: str = "number") -> bool:
        first = self.numbers_seen.get(number)
        if first is not None:
            self.error(sheet, row, key, _("The number “%(number)s” appears more than once in the file "
                                          "(first in %(sheet)s, row %(row)d).") % {
                "number": number, "sheet": first[0], "row": first[1]})
            return False
        self.numbers_seen[number] = (sheet.data.name, row)
        return True

    # -- students -------------------------------------------------------------------------
    def students(self, sheet: _Sheet) -> None:
        h = sheet.headers
        group_map, self.default_groups_needed = self._group_lookup() if "special_groups" in h else ({}, False)
        parsed: list[_StudentPlan] = []
        for row, values in sheet.data.rows:
            errors_before = len(self.report.errors)
            number = self.number(sheet, row, values)
            name = self.person_name(sheet, row, values)
            gender_raw = _text(self.cell(sheet, values, "gender"))
            gender = self.gender_map.get(_norm(gender_raw))
            if not gender_raw:
                self.error(sheet, row, "gender", _("This field is required."))
            elif gender is None:
                self.error(sheet, row, "gender", _("Unknown gender “%(value)s”; use 男 or 女 (M or F).")
                           % {"value": gender_raw})
            _ok, klass = self.unit(sheet, row, values, "class_code", UnitKind.CLASS, required=True)
            _ok, dorm = self.unit(sheet, row, values, "dorm_code", UnitKind.DORMITORY, required=False)
            if klass and dorm and not dorm.path.startswith(klass.path):
                self.error(sheet, row, "dorm_code", _("The dormitory “%(dorm)s” is not inside the class "
                                                      "“%(klass)s”.") % {"dorm": dorm.code, "klass": klass.code})
            year = self._year(sheet, row, values)
            fields_user: dict[str, Any] = {"full_name": name}
            fields_student: dict[str, Any] = {"gender": gender, "enrolment_year": year}
            if "birth_date" in h:
                _ok, birth = self.date(sheet, row, values, "birth_date", hi=self.today.year)
                if birth and birth > self.today:
                    self.error(sheet, row, "birth_date", _("The date of birth is in the future."))
                fields_student["birth_date"] = birth
            if "status" in h:
                raw = _text(self.cell(sheet, values, "status"))
                status = self.status_map.get(_norm(raw)) if raw else StudentStatus.ENROLLED
                if status is None:
                    self.error(sheet, row, "status", _("Unknown status “%(value)s”; use 在读, 休学, 停学 or "
                                                       "毕业.") % {"value": raw})
                fields_student["status"] = status
            if "phone" in h:
                fields_user["phone"] = self.phone(sheet, row, values, required=False)
            groups: frozenset[str] | None = None
            if "special_groups" in h:
                raw = _text(self.cell(sheet, values, "special_groups"))
                codes = set()
                for chunk in filter(None, (p.strip() for p in SPLIT_RE.split(raw))):
                    # “Left-behind child” has a space; “留守儿童 经济困难” uses it as a separator.
                    parts = [chunk] if _norm(chunk) in group_map else chunk.split()
                    for part in parts:
                        code = group_map.get(_norm(part))
                        if code is None:
                            self.error(sheet, row, "special_groups", _("Unknown special group “%(value)s”.")
                                       % {"value": part})
                        else:
                            codes.add(code)
                groups = frozenset(codes)
            if number is not None and not self.claim_number(sheet, row, number):
                number = None
            if number is not None:
                self.file_student_numbers.add(number)
                existing = self.users.get(number)
                if existing is not None and existing.student_id is None:
                    if existing.staff_id is not None:
                        msg = _("The number “%(number)s” already belongs to a staff member, not a student.")
                    else:
                        msg = _("The number “%(number)s” already belongs to another account, not a student.")
                    self.error(sheet, row, "number", msg % {"number": number})
            if len(self.report.errors) > errors_before or number is None:
                continue
            plan = _StudentPlan(row, number, fields_user, fields_student, groups,
                                klass_id=klass.id, klass_path=klass.path, dorm_id=dorm.id if dorm else None,
                                has_dorm_column="dorm_code" in h)
            fields_student["klass_id"] = klass.id
            if "dorm_code" in h:
                fields_student["dorm_id"] = plan.dorm_id
            self.file_students[number] = plan
            parsed.append(plan)
        if self.report.errors:
            return
        self._plan_students(sheet, parsed)

    def _year(self, sheet: _Sheet, row: int, values: dict[str, Cell]) -> int | None:
        value = self.cell(sheet, values, "enrolment_year")
        if isinstance(value, (dt.date, dt.datetime)):  # a year typed into a date-formatted cell
            return value.year
        raw = _text(value)
        if not raw:
            self.error(sheet, row, "enrolment_year", _("This field is required."))
            return None
        text = raw.rstrip("级年").strip()  # “2023级” is how classes name their cohort
        if not re.fullmatch(r"\d{4}", text) or not (1950 <= int(text) <= 2100):
            self.error(sheet, row, "enrolment_year", _("“%(value)s” is not a year (e.g. 2023).") % {"value": raw})
            return None
        return int(text)

    def _group_lookup(self) -> tuple[dict[str, str], bool]:
        rows = list(SpecialGroup.objects.values_list("code", "name", "name_en"))
        use_defaults = not rows
        if use_defaults:
            rows = list(DEFAULT_SPECIAL_GROUPS)
        mapping: dict[str, str] = {}
        for code, name, name_en in rows:
            for text in (code, name, name_en):
                if text:
                    mapping.setdefault(_norm(text), code)
        return mapping, use_defaults

    def _plan_students(self, sheet: _Sheet, parsed: list[_StudentPlan]) -> None:
        counts = self.report.counts[STUDENTS]
        existing_ids = [self.users[p.number].student_id for p in parsed if p.number in self.users]
        current: dict[int, tuple] = {}
        for chunk in _chunks(existing_ids):
            for row in Student.objects.filter(id__in=chunk).values_list(
                    "id", "gender", "birth_date", "klass_id", "dorm_id", "enrolment_year", "status",
                    "klass__path", "dorm__path", "dorm__code"):
                current[row[0]] = row
        current_groups: dict[int, set[str]] = {}
        if any(p.groups is not None for p in parsed) and existing_ids:
            codes = dict(SpecialGroup.objects.values_list("id", "code"))
            through = Student.special_groups.through
            for chunk in _chunks(existing_ids):
                for sid, gid in through.objects.filter(student_id__in=chunk).values_list(
                        "student_id", "specialgroup_id"):
                    current_groups.setdefault(sid, set()).add(codes[gid])
        fields = ("gender", "birth_date", "klass_id", "dorm_id", "enrolment_year", "status")
        for plan in parsed:
            info = self.users.get(plan.number)
            if info is None:
                self.new_users.append(self._new_user(plan.number, PersonKind.STUDENT, plan.user))
                self.new_students.append((plan.number, plan.student))
                if plan.groups:
                    self.group_sets.append((plan.number, plan.groups))
                counts.created += 1
                continue
            row = current[info.student_id]  # type: ignore[index]
            if not self.in_scope(row[7]):
                self.error(sheet, plan.row, "number", _("The number “%(number)s” belongs to a person outside "
                                                        "your scope.") % {"number": plan.number})
                continue
            if not plan.has_dorm_column and row[8] and not row[8].startswith(plan.klass_path):
                # Moving a student to another class must not leave them in a dormitory of the old one.
                self.error(sheet, plan.row, "class_code", _(
                    "The student's current dormitory “%(dorm)s” is not inside this class; add a 宿舍代码 "
                    "column with the new dormitory (or a blank cell).") % {"dorm": row[9]})
                continue
            changed = False
            user_changes = self._user_changes(info, plan.user, PersonKind.STUDENT)
            if user_changes is not None:
                self.changed_users.append(user_changes)
                changed = True
            old = dict(zip(fields, row[1:7], strict=True))
            diff = {k: v for k, v in plan.student.items() if old[k] != v}
            if diff:
                self.changed_students.append((info.student_id, diff))  # type: ignore[arg-type]
                changed = True
            if plan.groups is not None and plan.groups != current_groups.get(info.student_id, set()):  # type: ignore[arg-type]
                self.group_sets.append((plan.number, plan.groups))
                changed = True
            if changed:
                counts.updated += 1
            else:
                counts.unchanged += 1

    def _new_user(self, number: str, kind: str, fields: dict[str, Any]) -> User:
        # An unusable password without hashing: accounts are activated later, not by the roster.
        return User(username=number, kind=kind, full_name=fields["full_name"],
                    phone=fields.get("phone") or "", wecom_userid=fields.get("wecom_userid") or "",
                    dingtalk_userid=fields.get("dingtalk_userid") or "", is_active=True, date_joined=self.now,
                    password=UNUSABLE_PASSWORD_PREFIX + secrets.token_hex(20))

    @staticmethod
    def _user_changes(info: _UserInfo, fields: dict[str, Any], kind: str) -> tuple[int, dict[str, Any]] | None:
        new = {"full_name": fields["full_name"], "kind": kind}
        for key in ("phone", *CHANNEL_ID_KEYS):
            if key in fields:
                new[key] = fields[key]
        old = {"full_name": info.full_name, "kind": info.kind, "phone": info.phone,
               "wecom_userid": info.wecom_userid, "dingtalk_userid": info.dingtalk_userid}
        diff = {k: v for k, v in new.items() if old[k] != v}
        return (info.id, diff) if diff else None

    # -- staff ----------------------------------------------------------------------------
    def staff(self, sheet: _Sheet) -> None:
        h = sheet.headers
        parsed: list[tuple[int, str, dict[str, Any], dict[str, Any], str | None]] = []
        for row, values in sheet.data.rows:
            errors_before = len(self.report.errors)
            number = self.number(sheet, row, values)
            name = self.person_name(sheet, row, values)
            user_fields: dict[str, Any] = {"full_name": name}
            staff_fields: dict[str, Any] = {}
            dept_path = None
            if "department_code" in h:
                _ok, dept = self.unit(sheet, row, values, "department_code", None, required=False)
                staff_fields["department_id"] = dept.id if dept else None
                dept_path = dept.path if dept else None
            if "title" in h:
                staff_fields["title"] = self.optional_text(sheet, row, values, "title")
            if "phone" in h:
                user_fields["phone"] = self.phone(sheet, row, values, required=False)
            for key in CHANNEL_ID_KEYS:
                if key in h:
                    user_fields[key] = self.optional_text(sheet, row, values, key)
            if number is not None and not self.claim_number(sheet, row, number):
                number = None
            if number is not None:
                self.file_staff_numbers.add(number)
                existing = self.users.get(number)
                if existing is not None and existing.student_id is not None:
                    self.error(sheet, row, "number", _("The number “%(number)s” already belongs to a student, "
                                                       "not a staff member.") % {"number": number})
            if len(self.report.errors) > errors_before or number is None:
                continue
            self.file_staff[number] = row
            parsed.append((row, number, user_fields, staff_fields, dept_path))
        if self.report.errors:
            return
        counts = self.report.counts[STAFF]
        staff_ids = [self.users[p[1]].staff_id for p in parsed
                     if p[1] in self.users and self.users[p[1]].staff_id]
        current: dict[int, tuple] = {}
        for chunk in _chunks(staff_ids):
            for r in Staff.objects.filter(id__in=chunk).values_list("id", "department_id", "title",
                                                                     "department__path"):
                current[r[0]] = r
        for row, number, user_fields, staff_fields, _path in parsed:
            info = self.users.get(number)
            if info is None:
                self.new_users.append(self._new_user(number, PersonKind.STAFF, user_fields))
                self.new_staff.append((number, staff_fields))
                counts.created += 1
                continue
            changed = False
            if info.staff_id is not None:
                cur = current[info.staff_id]
                if not self.in_scope(cur[3]):
                    self.error(sheet, row, "number", _("The number “%(number)s” belongs to a person outside "
                                                       "your scope.") % {"number": number})
                    continue
                old = {"department_id": cur[1], "title": cur[2]}
                diff = {k: v for k, v in staff_fields.items() if old[k] != v}
                if diff:
                    self.changed_staff.append((info.staff_id, diff))
                    changed = True
            else:
                # An account without a staff record (e.g. made by createsuperuser) gets one.
                self.new_staff.append((number, staff_fields))
                changed = True
            user_changes = self._user_changes(info, user_fields, PersonKind.STAFF)
            if user_changes is not None:
                self.changed_users.append(user_changes)
                changed = True
            if changed:
                counts.updated += 1
            else:
                counts.unchanged += 1

    # -- posts ----------------------------------------------------------------------------
    def _home(self, number: str) -> tuple[int | None, int | None]:
        """(class id, dorm id) the student will have after this import."""
        info = self.users.get(number)
        db_home = self._db_homes.get(info.student_id, (None, None)) if info and info.student_id else (None, None)
        plan = self.file_students.get(number)
        if plan is None:
            return db_home
        return plan.klass_id, (plan.dorm_id if plan.has_dorm_column else db_home[1])

    def posts(self, sheet: _Sheet) -> None:
        student_ids = [u.student_id for u in self.users.values() if u.student_id]
        for chunk in _chunks(student_ids):
            for sid, klass_id, dorm_id in Student.objects.filter(id__in=chunk).values_list(
                    "id", "klass_id", "dorm_id"):
                self._db_homes[sid] = (klass_id, dorm_id)
        today = self.today
        seen: dict[tuple, int] = {}
        parsed: list[tuple[int, str, str, _UnitInfo, dt.date | None, dt.date | None]] = []
        for row, values in sheet.data.rows:
            errors_before = len(self.report.errors)
            number = self.number(sheet, row, values)
            role_raw = _text(self.cell(sheet, values, "role"))
            role = self.role_map.get(_norm(role_raw)) if role_raw else None
            if not role_raw:
                self.error(sheet, row, "role", _("This field is required."))
            elif role is None:
                self.error(sheet, row, "role", _("Unknown post “%(value)s”.") % {"value": role_raw})
            _ok, unit = self.unit(sheet, row, values, "unit_code", None, required=True)
            _ok, starts = self.date(sheet, row, values, "starts_on", lo=1980)
            _ok, ends = self.date(sheet, row, values, "ends_on", lo=1980)
            if starts and ends and ends < starts:
                self.error(sheet, row, "ends_on", _("The term ends before it starts."))
            if role and unit and unit.kind not in ROLE_UNIT_KINDS[role]:
                self.error(sheet, row, "unit_code", _("A %(role)s cannot be posted at a %(kind)s (“%(code)s”).") % {
                    "role": Role(role).label, "kind": UnitKind(unit.kind).label, "code": unit.code})
                unit = None
            if number is not None:
                is_student = number in self.file_student_numbers or (
                    number in self.users and self.users[number].student_id is not None)
                is_staff = number in self.file_staff_numbers or (number in self.users and not is_student)
                if not is_student and not is_staff:
                    self.error(sheet, row, "number", _("No student or staff member has the number “%(number)s”.")
                               % {"number": number})
                elif role in STUDENT_ROLES and not is_student:
                    self.error(sheet, row, "number", _("Only a student can hold the post “%(role)s”.")
                               % {"role": Role(role).label})
                elif role and role not in STUDENT_ROLES and role != Role.PARENT_REP and is_student:
                    self.error(sheet, row, "number", _("A student cannot hold the post “%(role)s”.")
                               % {"role": Role(role).label})
                elif (role in (Role.COMMITTEE_MEMBER, Role.DORM_LIAISON) and unit
                      and not (number in self.file_student_numbers and number not in self.file_students)):
                    home = self._home(number)
                    place = home[1] if role == Role.DORM_LIAISON else home[0]
                    if place != unit.id:
                        msg = (_("A dorm liaison must be a student of the dormitory “%(code)s”.")
                               if role == Role.DORM_LIAISON else
                               _("A committee member must be a student of the class “%(code)s”."))
                        self.error(sheet, row, "number", msg % {"code": unit.code})
            if len(self.report.errors) > errors_before or number is None or unit is None or role is None:
                continue
            key = (number, unit.id, role, starts)
            if key in seen:
                self.error(sheet, row, "", _("The same post appears more than once in the file (first on "
                                             "row %(row)d).") % {"row": seen[key]})
                continue
            seen[key] = row
            parsed.append((row, number, role, unit, starts, ends))
        if self.report.errors:
            return
        person_ids = [self.users[p[1]].id for p in parsed if p[1] in self.users]
        existing: dict[tuple[int, int, str], list[tuple[int, dt.date, dt.date | None]]] = {}
        for chunk in _chunks(person_ids):
            for pk, person_id, unit_id, role, s, e in Post.objects.filter(person_id__in=chunk).values_list(
                    "id", "person_id", "unit_id", "role", "starts_on", "ends_on"):
                existing.setdefault((person_id, unit_id, role), []).append((pk, s, e))
        counts = self.report.counts[POSTS]
        has_ends = "ends_on" in sheet.headers
        for row, number, role, unit, starts, ends in parsed:
            info = self.users.get(number)
            candidates = existing.get((info.id, unit.id, role), []) if info else []
            match = None
            if starts is not None:
                match = next((c for c in candidates if c[1] == starts), None)
            elif candidates:
                active = [c for c in candidates if c[1] <= today and (c[2] is None or c[2] >= today)]
                match = max(active or candidates, key=lambda c: c[1])
            if match is None:
                start = starts or today
                if ends and ends < start:
                    self.error(sheet, row, "ends_on", _("The term ends before it starts."))
                    continue
                self.new_posts.append((number, {"unit_id": unit.id, "role": role, "starts_on": start,
                                                "ends_on": ends if has_ends else None}))
                counts.created += 1
            elif has_ends and match[2] != ends:
                if ends and ends < match[1]:
                    self.error(sheet, row, "ends_on", _("The term ends before it starts."))
                    continue
                self.changed_posts.append((match[0], {"ends_on": ends}))
                counts.updated += 1
            else:
                counts.unchanged += 1

    # -- guardians ------------------------------------------------------------------------
    def guardians(self, sheet: _Sheet) -> None:
        h = sheet.headers
        seen: dict[tuple[str, str, str], int] = {}
        primary_row: dict[str, int] = {}
        parsed: list[tuple[int, str, str, str, str, bool | None]] = []
        for row, values in sheet.data.rows:
            errors_before = len(self.report.errors)
            number = self.number(sheet, row, values, "student_number")
            name = self.person_name(sheet, row, values)
            rel_raw = _text(self.cell(sheet, values, "relation"))
            relation = self.relation_map.get(_norm(rel_raw)) if rel_raw else None
            if not rel_raw:
                self.error(sheet, row, "relation", _("This field is required."))
            elif relation is None:
                self.error(sheet, row, "relation", _("Unknown relation “%(value)s”; use 父亲, 母亲, 祖父母, "
                                                     "兄弟姐妹 or 其他.") % {"value": rel_raw})
            phone = self.phone(sheet, row, values, required=True)
            primary: bool | None = None
            if "is_primary" in h:
                try:
                    primary = parse_bool(self.cell(sheet, values, "is_primary"))
                except ValueError as exc:
                    self.error(sheet, row, "is_primary", str(exc))
            if number is not None:
                info = self.users.get(number)
                if number not in self.file_student_numbers and (info is None or info.student_id is None):
                    self.error(sheet, row, "student_number", _("No student has the number “%(number)s”.")
                               % {"number": number})
                    number = None
            if number and primary:
                if number in primary_row:
                    self.error(sheet, row, "is_primary", _("More than one primary contact for this student "
                                                           "(first on row %(row)d).") % {"row": primary_row[number]})
                else:
                    primary_row[number] = row
            if len(self.report.errors) > errors_before or not (number and name and relation):
                continue
            key = (number, name, relation)
            if key in seen:
                self.error(sheet, row, "", _("The same guardian appears more than once for this student "
                                             "(first on row %(row)d).") % {"row": seen[key]})
                continue
            seen[key] = row
            parsed.append((row, number, name, relation, phone, primary))  # type: ignore[arg-type]
        if self.report.errors:
            return
        student_ids = {self.users[p[1]].student_id for p in parsed
                       if p[1] in self.users and self.users[p[1]].student_id}
        paths: dict[int, str] = {}
        existing: dict[tuple[int, str, str], tuple[int, str, bool]] = {}
        for chunk in _chunks(sorted(student_ids)):  # type: ignore[type-var]
            paths.update(Student.objects.filter(id__in=chunk).values_list("id", "klass__path"))
            for pk, sid, name, relation, phone, is_primary in Guardian.objects.filter(
                    student_id__in=chunk).values_list("id", "student_id", "name", "relation", "phone",
                                                      "is_primary"):
                existing[(sid, name, relation)] = (pk, phone, is_primary)
        counts = self.report.counts[GUARDIANS]
        for row, number, name, relation, phone, primary in parsed:
            info = self.users.get(number)
            sid = info.student_id if info else None
            if sid is not None and number not in self.file_students and not self.in_scope(paths.get(sid)):
                self.error(sheet, row, "student_number", _("The number “%(number)s” belongs to a person outside "
                                                           "your scope.") % {"number": number})
                continue
            current = existing.get((sid, name, relation)) if sid else None
            if current is None:
                self.new_guardians.append((number, {"name": name, "relation": relation, "phone": phone,
                                                    "is_primary": bool(primary)}))
                counts.created += 1
                continue
            diff: dict[str, Any] = {}
            if current[1] != phone:
                diff["phone"] = phone
            if primary is not None and current[2] != primary:
                diff["is_primary"] = primary
            if diff:
                self.changed_guardians.append((current[0], diff))
                counts.updated += 1
            else:
                counts.unchanged += 1

    # -- writing --------------------------------------------------------------------------
    def write(self) -> None:
        with transaction.atomic():
            group_ids: dict[str, int] = {}
            if self.group_sets:
                if self.default_groups_needed:
                    for code, name, name_en in DEFAULT_SPECIAL_GROUPS:
                        SpecialGroup.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
                group_ids = dict(SpecialGroup.objects.values_list("code", "id"))
            User.objects.bulk_create(self.new_users, batch_size=BATCH)
            new_numbers = [u.username for u in self.new_users]
            self.new_users = []  # let the instances go: 50,000 of them are not small
            user_ids = {u.username: u.id for u in self.users.values()}
            for chunk in _chunks(new_numbers):
                user_ids.update(User.objects.filter(username__in=chunk).values_list("username", "id"))
            _bulk_update(User, self.changed_users)

            _bulk_create(Student, [{"user_id": user_ids[n], **f} for n, f in self.new_students])
            _bulk_update(Student, self.changed_students)
            student_ids = {n: u.student_id for n, u in self.users.items() if u.student_id}
            new_student_users = [user_ids[n] for n, _f in self.new_students]
            by_user = {}
            for chunk in _chunks(new_student_users):
                by_user.update(Student.objects.filter(user_id__in=chunk).values_list("user_id", "id"))
            for n, _f in self.new_students:
                student_ids[n] = by_user[user_ids[n]]

            if self.group_sets:
                through = Student.special_groups.through
                touched = [student_ids[n] for n, _g in self.group_sets]
                for chunk in _chunks(touched):
                    through.objects.filter(student_id__in=chunk).delete()
                links = (through(student_id=student_ids[n], specialgroup_id=group_ids[c])
                         for n, codes in self.group_sets for c in sorted(codes))
                _bulk_create_objs(through, links)

            _bulk_create(Staff, [{"user_id": user_ids[n], "title": "", **f} for n, f in self.new_staff])
            _bulk_update(Staff, self.changed_staff)
            _bulk_create(Post, [{"person_id": user_ids[n], **f} for n, f in self.new_posts])
            _bulk_update(Post, self.changed_posts)
            _bulk_create(Guardian, [{"student_id": student_ids[n], **f} for n, f in self.new_guardians])
            _bulk_update(Guardian, self.changed_guardians)
            if self.on_write is not None:
                self.on_write(self.report)  # the audit row, in the same transaction as the rows

    def run(self, source: str | os.PathLike[str] | IO[bytes]) -> ImportReport:
        report = self.report
        self.now = timezone.now()
        self.today = timezone.localdate()
        limit = settings.ROSTER_MAX_UPLOAD_BYTES
        size = source_size(source)
        if size > limit:
            self.error(report.filename, 0, "", _("The file is %(size)s; the limit is %(limit)s. Split it into "
                                                 "smaller files.") % {"size": filesizeformat(size),
                                                                      "limit": filesizeformat(limit)})
            return report
        if size == 0:
            self.error(report.filename, 0, "", _("The file is empty."))
            return report
        try:
            data = read_spreadsheet(source, report.filename)
        except SpreadsheetError as exc:
            self.error(report.filename, 0, "", str(exc))
            return report
        sheets = self.classify(data)
        if report.errors:
            return report
        if not any(s.data.rows for s in sheets.values()):
            self.error(report.filename, 0, "", _("The file holds no rows to import."))
            return report
        self.lookup(sheets)
        # Order matters: posts and guardians may name people created earlier in the same file.
        for kind, step in ((STUDENTS, self.students), (STAFF, self.staff),
                           (POSTS, self.posts), (GUARDIANS, self.guardians)):
            if kind in sheets:
                step(sheets[kind])
        if report.errors or report.dry_run:
            return report
        if report.changes == 0:
            return report
        try:
            self.write()
        except IntegrityError:
            # Someone else changed the roster between validation and writing; nothing was kept.
            self.error(report.filename, 0, "", _("The roster changed while importing; nothing was written. "
                                                 "Try again."))
            return report
        report.written = True
        return report


def _bulk_create(model: type, rows: list[dict[str, Any]]) -> None:
    _bulk_create_objs(model, (model(**r) for r in rows))


def _bulk_create_objs(model: type, objs: Iterable[Any]) -> None:
    batch: list[Any] = []
    for obj in objs:
        batch.append(obj)
        if len(batch) >= BATCH:
            model.objects.bulk_create(batch)  # type: ignore[attr-defined]
            batch = []
    if batch:
        model.objects.bulk_create(batch)  # type: ignore[attr-defined]


def _bulk_update(model: type, changes: list[tuple[int, dict[str, Any]]]) -> None:
    """Apply ``(pk, {field: value})`` changes with one prepared UPDATE per set of fields, run by
    executemany in batches.

    Not QuerySet.bulk_update: its CASE WHEN expressions are built in Python per row and took
    40-90 s for 50,000 changed students here, against about a second for executemany (SQLite's
    C loop, psycopg's pipeline). Values go through each field's get_db_prep_save, so encrypted
    fields are encrypted and dates adapted exactly as save() would."""
    meta = model._meta  # type: ignore[attr-defined]
    qn = connection.ops.quote_name
    groups: dict[tuple[str, ...], list[tuple[int, dict[str, Any]]]] = {}
    for pk, diff in changes:
        groups.setdefault(tuple(sorted(diff)), []).append((pk, diff))
    for names, rows in groups.items():
        fields = [meta.get_field(name) for name in names]
        sql = "UPDATE {} SET {} WHERE {} = %s".format(
            qn(meta.db_table), ", ".join(f"{qn(f.column)} = %s" for f in fields), qn(meta.pk.column))
        with connection.cursor() as cursor:
            for batch in _chunks(rows, BATCH):
                cursor.executemany(sql, [
                    [*(f.get_db_prep_save(diff[name], connection) for f, name in zip(fields, names, strict=True)),
                     pk]
                    for pk, diff in batch])


def import_file(source: str | os.PathLike[str] | IO[bytes], filename: str | None = None, *,
                dry_run: bool, scope: list[Unit] | None = None,
                on_write: Callable[[ImportReport], None] | None = None) -> ImportReport:
    """Validate every row of ``source`` and, unless ``dry_run`` or any error, write it all at once.

    The rule only: no capability check and no audit row — call the verb
    :func:`xinlian.network.actions.import_roster`, which does both: it passes the importer's
    IMPORT_ROSTER scope here (None: no limit) and ``on_write``, called inside the writing
    transaction once every row is written (validation runs outside it: on SQLite an open write
    transaction would lock out every other writer for as long as a large file takes to check).
    Error messages are in the language active during the call."""
    if filename is None:
        filename = os.path.basename(str(source)) if isinstance(source, (str, os.PathLike)) else (
            getattr(source, "name", "") or "roster.xlsx")
    return _Importer(filename, dry_run, scope, on_write).run(source)


# ---------------------------------------------------------------------------------------------
# Template and export
# ---------------------------------------------------------------------------------------------

TEXT_KEYS = {"number", "student_number", "phone", "wecom_userid", "dingtalk_userid"}


def build_template() -> bytes:
    """The downloadable .xlsx template: four data sheets with Chinese headers and one example row
    each, and a 说明 sheet describing every column in Chinese and English."""
    import io

    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    bold = Font(bold=True)
    for spec in SPECS:
        ws = wb.create_sheet(spec.zh)
        ws.append([c.zh for c in spec.columns])
        ws.append(list(spec.example))
        for i, col in enumerate(spec.columns, start=1):
            letter = get_column_letter(i)
            ws.column_dimensions[letter].width = max(12, len(col.zh) * 3)
            ws[f"{letter}1"].font = bold
            if col.key in TEXT_KEYS:
                # Text format keeps leading zeros and stops 13800138000 turning into 1.38E+10.
                ws.column_dimensions[letter].number_format = "@"
                ws[f"{letter}2"].number_format = "@"
            elif isinstance(spec.example[i - 1], dt.date):
                ws[f"{letter}2"].number_format = "yyyy-mm-dd"
        ws.freeze_panes = "A2"
    help_ws = wb.create_sheet("说明")
    notes = [
        ("填写说明 / How to fill in", ""),
        ("每个工作表第 2 行是示例，导入前请删除或替换。",
         "Row 2 of each sheet is an example: delete or replace it before importing."),
        ("导入是“全部或全不”：任何一行有错，整个文件都不会写入；错误会按工作表、行、列列出。",
         "The import is all or nothing: one bad row and nothing is written; every error is listed by sheet, row and column."),
        ("以学号/工号识别人员：重复导入同一文件不会改变数据；修改过的行会更新该人员。",
         "People are keyed by their number: importing the same file again changes nothing; a changed row updates the person."),
        ("文件中没有的列保持原值；列存在但单元格为空表示清空该可选项。",
         "Columns left out of the file are left alone; a blank cell in a present column clears that optional field."),
        ("也可导入 CSV（UTF-8、带 BOM 的 UTF-8 或 GBK 编码），每个 CSV 文件一个工作表，按表头识别。",
         "CSV (UTF-8, UTF-8 with BOM or GBK) is accepted too: one sheet per file, recognised by its headers."),
        ("单位（学院、班级、宿舍）须先在系统中建立，文件中填写其单位代码。",
         "Units (colleges, classes, dormitories) must exist first; the file names them by code."),
        (f"连续 {BLANK_RUN} 个空行之后的内容不会被读取；文件（含空行）最多 {MAX_ROWS_READ} 行。",
         f"Nothing below {BLANK_RUN} blank rows in a row is read; a file holds at most {MAX_ROWS_READ} rows, "
         "blank ones included."),
        ("", ""),
    ]
    for zh, en in notes:
        help_ws.append([zh, en])
    help_ws["A1"].font = bold
    help_ws.append(["工作表 Sheet", "列 Column", "必填 Required", "说明", "Description"])
    for cell in help_ws[help_ws.max_row]:
        cell.font = bold
    for spec in SPECS:
        for col in spec.columns:
            help_ws.append([f"{spec.zh} {spec.en}", f"{col.zh} / {col.en}", "是 yes" if col.required else "否 no",
                            col.help_zh, col.help_en])
    help_ws.append(["", "", "", "", ""])
    help_ws.append(["岗位名称 Roles", "", "", "", ""])
    help_ws[f"A{help_ws.max_row}"].font = bold
    with translation.override("en"):
        for role, names in ROLE_NAMES_ZH.items():
            kinds = "、".join(sorted(str(UnitKind(k).label) for k in ROLE_UNIT_KINDS[role]))
            help_ws.append(["", names[0], role, "、".join(names), f"{Role(role).label} — at: {kinds}"])
    for letter, width in zip("ABCDE", (28, 26, 16, 60, 70), strict=True):
        help_ws.column_dimensions[letter].width = width
    for row in help_ws.iter_rows():
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


EXPORT_HEADER = ("学号", "姓名", "性别", "出生日期", "班级代码", "宿舍代码", "入学年份", "学籍状态",
                 "班级名称", "宿舍名称")


def export_roster(students: QuerySet[Student]) -> tuple[bytes, int]:
    """(xlsx bytes, row count) of ``students`` — the caller passes the user's EXPORT_ROSTER scope
    from the access policy, and audits.

    The headers match the import template, so an export can be edited and imported back. Cells
    are formula-safe and rows are streamed from the database into a write-only workbook."""
    qs = (students
          .order_by("klass__path", "user__username")
          .values_list("user__username", "user__full_name", "gender", "birth_date", "klass__code",
                       "dorm__code", "enrolment_year", "status", "klass__name", "dorm__name"))
    count = 0

    def rows() -> Iterator[list[Any]]:
        nonlocal count
        for number, name, gender, birth, klass, dorm, year, status, klass_name, dorm_name in qs.iterator(
                chunk_size=2000):
            count += 1
            yield [number, name, GENDER_ZH.get(gender, gender), birth, klass, dorm or "", year,
                   STATUS_ZH.get(status, status), klass_name, dorm_name or ""]

    data = write_xlsx([("学生", EXPORT_HEADER, rows())],
                      widths={"学生": (14, 12, 6, 12, 16, 18, 10, 10, 18, 14)})
    return data, count
