"""A deterministic demo university: same seed, same people.

    示范区教育局 ► 心联示范大学 ► colleges ► classes of 30–45 ► dormitories of 4–6

The work is split in two so that it scales to 100,000 students in minutes:

* ``build_plan`` is pure Python: it draws every unit, person, post and guardian from one
  ``random.Random(seed)`` and computes the unit tree's materialised paths itself, in the
  exact format treebeard uses (``steplen`` characters per level from ``Unit.alphabet``).
* ``write_plan`` inserts the plan with ``bulk_create`` in batches, hashing the demo password
  once and giving every account the same hash string (hashing 100,000 passwords with Argon2
  would take hours; a demo needs every student number to log in, not distinct salts).

The demo logins (``director``, ``fudaoyuan``, ``headteacher``, ``committee``, ``liaison``,
``student`` …) form one coherent chain: the head teacher's class holds the committee member,
the liaison's dormitory and the student, and the 辅导员 looks after that class's college.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import connection, transaction
from django.utils import timezone

from .catalogue import ensure_special_groups, seed_duties
from .models import (
    Gender,
    Guardian,
    GuardianRelation,
    PersonKind,
    Post,
    Role,
    Staff,
    Student,
    StudentStatus,
    Unit,
    UnitKind,
    User,
)

DEFAULT_SEED = 2026
DEFAULT_STUDENTS = 2000
BATCH = 2000

BUREAU = ("BUR", "示范区教育局", "Demo District Education Bureau")
SCHOOL = ("XLU", "心联示范大学", "Xinlian Demo University")

# (code, name, English name, relative size, share of male students). The weights sum to 10,
# so 计算机学院 holds exactly a tenth of the students: 10,000 of a 100,000-student seed.
COLLEGES: tuple[tuple[str, str, str, float, float], ...] = (
    ("CS", "计算机学院", "School of Computer Science", 1.0, 0.72),
    ("FL", "外国语学院", "School of Foreign Languages", 0.9, 0.22),
    ("ME", "机械工程学院", "School of Mechanical Engineering", 1.3, 0.82),
    ("EE", "电气工程学院", "School of Electrical Engineering", 1.2, 0.76),
    ("EM", "经济管理学院", "School of Economics and Management", 1.4, 0.42),
    ("LW", "法学院", "Law School", 0.7, 0.38),
    ("LT", "文学院", "School of Chinese Language and Literature", 0.8, 0.27),
    ("MA", "数学与统计学院", "School of Mathematics and Statistics", 1.0, 0.55),
    ("CH", "化学化工学院", "School of Chemistry and Chemical Engineering", 1.1, 0.58),
    ("AR", "艺术学院", "School of Arts", 0.6, 0.33),
)

# Surnames with their approximate share of the population (per cent): common ones dominate.
SURNAMES: tuple[tuple[str, float], ...] = (
    ("王", 7.1), ("李", 7.0), ("张", 6.7), ("刘", 5.4), ("陈", 4.5), ("杨", 3.1), ("黄", 2.1),
    ("赵", 2.0), ("吴", 1.9), ("周", 1.9), ("徐", 1.5), ("孙", 1.4), ("马", 1.3), ("朱", 1.3),
    ("胡", 1.2), ("郭", 1.1), ("何", 1.0), ("高", 1.0), ("林", 0.95), ("罗", 0.85), ("郑", 0.8),
    ("梁", 0.8), ("谢", 0.7), ("宋", 0.65), ("唐", 0.6), ("许", 0.6), ("韩", 0.57), ("冯", 0.55),
    ("邓", 0.54), ("曹", 0.53), ("彭", 0.5), ("曾", 0.5), ("肖", 0.48), ("田", 0.46), ("董", 0.45),
    ("袁", 0.43), ("潘", 0.42), ("于", 0.42), ("蒋", 0.41), ("蔡", 0.4), ("余", 0.4), ("杜", 0.39),
    ("叶", 0.38), ("程", 0.37), ("苏", 0.35), ("魏", 0.35), ("吕", 0.34), ("丁", 0.33), ("任", 0.33),
    ("沈", 0.32), ("姚", 0.31), ("卢", 0.3), ("姜", 0.3), ("崔", 0.29), ("钟", 0.28), ("谭", 0.28),
    ("陆", 0.27), ("汪", 0.27), ("范", 0.26), ("金", 0.26), ("石", 0.25), ("廖", 0.25), ("贾", 0.24),
    ("夏", 0.24), ("韦", 0.23), ("付", 0.23), ("方", 0.22), ("白", 0.22), ("邹", 0.21), ("孟", 0.21),
    ("熊", 0.2), ("秦", 0.2), ("邱", 0.2), ("江", 0.19), ("尹", 0.19), ("薛", 0.18), ("闫", 0.18),
    ("段", 0.17), ("雷", 0.17), ("侯", 0.16), ("龙", 0.16), ("史", 0.16), ("陶", 0.15), ("黎", 0.15),
    ("贺", 0.15), ("顾", 0.14), ("毛", 0.14), ("郝", 0.14), ("龚", 0.13), ("邵", 0.13), ("万", 0.12),
    ("钱", 0.12), ("严", 0.12), ("覃", 0.11), ("武", 0.11), ("戴", 0.11), ("莫", 0.1), ("孔", 0.1),
    ("向", 0.1), ("汤", 0.1), ("欧阳", 0.03), ("司马", 0.01),
)
# Given-name characters by generation: students born around 2005, parents and staff earlier.
YOUNG_MALE = "浩宇轩子涵博文俊杰睿泽昊然晨阳鹏磊凯航天一诚嘉铭瑞翔志宏家明伟豪晟逸峰健川琛霖梓哲宸远斌锐元煜彬毅涛恒楷辰骏"
YOUNG_FEMALE = "欣怡涵雨萱梓诗佳梦婷思琪悦可馨雅彤妍颖慧婧晴月璐琳蕾倩瑶菲洁薇丹宁莹晓雪露芸依语若心静敏岚"
OLD_MALE = "建国军伟强勇华平明海志刚斌波林峰辉军东亮杰涛磊永春德成新文兵"
OLD_FEMALE = "丽芳敏静霞红燕梅英玲娟秀萍华琴艳玉兰凤桂霞丹洁慧"

# Share of students in each special group (the policies single these out for care).
GROUP_RATES: tuple[tuple[str, float], ...] = (
    ("left_behind", 0.08), ("single_parent", 0.10), ("financial_hardship", 0.15),
    ("disability", 0.01), ("migrant", 0.03), ("orphan", 0.003),
)
STATUS_WEIGHTS = ((StudentStatus.ENROLLED, 0.97), (StudentStatus.ON_LEAVE, 0.02),
                  (StudentStatus.SUSPENDED, 0.01))
LEADERSHIP_MEMBERS = ("学生工作处处长", "教务处处长", "校团委书记", "后勤保障处处长")

# The fixed demo logins, in the order the accounts table prints them.
DEMO_USERNAMES: tuple[str, ...] = (
    "admin", "leader", "deputy", "member", "director", "counsellor", "collegelead", "fudaoyuan",
    "headteacher", "committee", "liaison", "student", "parentrep", "studentrep", "bureau",
)


class DemoError(Exception):
    """The demo cannot be seeded (e.g. the database already holds units)."""


@dataclass(slots=True)
class PlannedUnit:
    kind: str
    code: str
    name: str
    name_en: str
    path: str
    depth: int
    numchild: int = 0


@dataclass(slots=True)
class PlannedGuardian:
    name: str
    relation: str
    phone: str
    is_primary: bool


@dataclass(slots=True)
class PlannedStudent:
    number: str
    name: str
    gender: str
    birth_date: dt.date
    enrolment_year: int
    status: str
    class_code: str
    dorm_code: str
    groups: tuple[str, ...]
    guardians: list[PlannedGuardian]


@dataclass(slots=True)
class PlannedStaff:
    number: str
    name: str
    title: str
    department_code: str | None
    is_staff_member: bool = True  # False for a parent representative: a person, not an employee


@dataclass(slots=True)
class PlannedPost:
    number: str
    role: str
    unit_code: str
    starts_on: dt.date


@dataclass
class DemoPlan:
    seed: int
    academic_year: int
    units: list[PlannedUnit] = field(default_factory=list)
    students: list[PlannedStudent] = field(default_factory=list)
    staff: list[PlannedStaff] = field(default_factory=list)
    posts: list[PlannedPost] = field(default_factory=list)

    @property
    def school_code(self) -> str:
        return SCHOOL[0]


@dataclass
class SeedResult:
    units: int
    students: int
    staff: int
    posts: int
    guardians: int
    duties: int
    seconds: float


def academic_year(today: dt.date | None = None) -> int:
    """The year the current academic year started (it turns over on 1 September)."""
    today = today or timezone.localdate()
    return today.year if today.month >= 9 else today.year - 1


def split_sizes(total: int, rng: random.Random, lo: int, hi: int, target: int) -> list[int]:
    """Split ``total`` into groups of ``lo``–``hi`` near ``target``, shuffled a little.

    The upper bound wins over the lower one when both cannot hold (a room has only so many
    beds; a class of 25 in a tiny demo is fine)."""
    if total <= 0:
        return []
    k = max(1, round(total / target))
    k = min(k, max(1, total // lo))
    k = max(k, math.ceil(total / hi))
    sizes = [total // k + (1 if i < total % k else 0) for i in range(k)]
    for _ in range(2 * k):
        if k < 2:
            break
        i, j = rng.randrange(k), rng.randrange(k)
        delta = rng.randint(1, 4)
        if i != j and sizes[i] - delta >= lo and sizes[j] + delta <= hi:
            sizes[i] -= delta
            sizes[j] += delta
    return sizes


def largest_remainder(total: int, weights: list[float]) -> list[int]:
    """Integer shares of ``total`` proportional to ``weights`` that add up exactly."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    shares = [int(x) for x in raw]
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - shares[i]), i))
    for i in order[: total - sum(shares)]:
        shares[i] += 1
    return shares


class _Names:
    """Realistic Chinese names: weighted common surnames, generation-specific given names."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.surnames = [s for s, _ in SURNAMES]
        self.cum = []
        acc = 0.0
        for _, w in SURNAMES:
            acc += w
            self.cum.append(acc)

    def surname(self) -> str:
        return self.rng.choices(self.surnames, cum_weights=self.cum)[0]

    def given(self, gender: str, young: bool) -> str:
        pool = (YOUNG_MALE if gender == Gender.MALE else YOUNG_FEMALE) if young else (
            OLD_MALE if gender == Gender.MALE else OLD_FEMALE)
        if self.rng.random() < 0.22:
            return self.rng.choice(pool)
        first = self.rng.choice(pool)
        if self.rng.random() < 0.03:
            return first * 2  # 婷婷, 明明
        second = self.rng.choice(pool)
        while second == first:
            second = self.rng.choice(pool)
        return first + second

    def full(self, gender: str, young: bool, surname: str | None = None) -> str:
        return (surname or self.surname()) + self.given(gender, young)


def _mobile(rng: random.Random) -> str:
    # An obviously made-up block (the middle four digits are 0000) in valid mobile format.
    return f"1{rng.choice('3456789')}{rng.randrange(10)}0000{rng.randrange(10000):04d}"


class _TreeBuilder:
    """Materialised paths exactly as treebeard's MP_Node writes them."""

    def __init__(self) -> None:
        self.units: list[PlannedUnit] = []
        self._by_code: dict[str, PlannedUnit] = {}
        self._roots = 0

    @staticmethod
    def _step(n: int) -> str:
        key = Unit._int2str(n)
        if len(key) > Unit.steplen:
            raise DemoError("Too many units under one parent for the tree's path format.")
        return Unit.alphabet[0] * (Unit.steplen - len(key)) + key

    def add(self, parent: PlannedUnit | None, kind: str, code: str, name: str, name_en: str) -> PlannedUnit:
        if parent is None:
            self._roots += 1
            path, depth = self._step(self._roots), 1
        else:
            parent.numchild += 1
            path, depth = parent.path + self._step(parent.numchild), parent.depth + 1
        unit = PlannedUnit(kind=kind, code=code, name=name, name_en=name_en, path=path, depth=depth)
        self.units.append(unit)
        self._by_code[code] = unit
        return unit


def build_plan(students: int = DEFAULT_STUDENTS, seed: int = DEFAULT_SEED,
               year: int | None = None) -> DemoPlan:
    """Every unit, person and post of the demo university, drawn from ``seed`` alone
    (and the academic ``year``, today's by default)."""
    if students < 1:
        raise DemoError("The demo needs at least one student.")
    rng = random.Random(seed)
    names = _Names(rng)
    ay = year if year is not None else academic_year()
    plan = DemoPlan(seed=seed, academic_year=ay)
    tree = _TreeBuilder()
    cohorts = [ay - 3, ay - 2, ay - 1, ay]
    term_start = dt.date(ay, 9, 1)

    bureau = tree.add(None, UnitKind.BUREAU, *BUREAU)
    school = tree.add(bureau, UnitKind.SCHOOL, *SCHOOL)

    # Enough colleges that each one fills a few classes: one college per 160 students, up to 10.
    n_colleges = max(1, min(len(COLLEGES), students // 160))
    colleges = COLLEGES[:n_colleges]
    shares = largest_remainder(students, [c[3] for c in colleges])

    staff_seq = 0

    def staff(name: str, title: str, dept: str | None, member: bool = True) -> PlannedStaff:
        nonlocal staff_seq
        staff_seq += 1
        person = PlannedStaff(number=f"T{staff_seq:05d}", name=name, title=title,
                              department_code=dept, is_staff_member=member)
        plan.staff.append(person)
        return person

    def adult(title: str, dept: str | None, member: bool = True) -> PlannedStaff:
        gender = rng.choice((Gender.MALE, Gender.FEMALE))
        return staff(names.full(gender, young=False), title, dept, member)

    def post(number: str, role: str, unit_code: str, starts_on: dt.date = term_start) -> None:
        plan.posts.append(PlannedPost(number=number, role=role, unit_code=unit_code, starts_on=starts_on))

    # School level: leadership group, counselling centre, representatives; bureau viewer.
    post(adult("教育局心理健康教育科科长", BUREAU[0]).number, Role.BUREAU_VIEWER, BUREAU[0])
    post(adult("校长", SCHOOL[0]).number, Role.LEADER, SCHOOL[0])
    post(adult("分管学生工作副校长", SCHOOL[0]).number, Role.DEPUTY_LEADER, SCHOOL[0])
    for title in LEADERSHIP_MEMBERS:
        post(adult(title, SCHOOL[0]).number, Role.LEADERSHIP_MEMBER, SCHOOL[0])
    post(adult("心理辅导中心主任", SCHOOL[0]).number, Role.CENTRE_DIRECTOR, SCHOOL[0])
    # One full-time psychology teacher per 4,000 students is the usual ratio; at least three.
    for i in range(max(3, math.ceil(students / 4000))):
        title = "专职心理教师" if i % 3 != 2 else "兼职心理教师"
        post(adult(title, SCHOOL[0]).number, Role.COUNSELLOR, SCHOOL[0])
    post(adult("家长委员会代表", None, member=False).number, Role.PARENT_REP, SCHOOL[0])

    dorm_counter = {Gender.MALE: 0, Gender.FEMALE: 0}
    school_rep_candidates: list[PlannedStudent] = []

    for c_index, ((c_code, c_name, c_name_en, _w, male_share), share) in enumerate(
            zip(colleges, shares, strict=True), start=1):
        college = tree.add(school, UnitKind.COLLEGE, c_code, c_name, c_name_en)
        post(adult("学院党委副书记", c_code).number, Role.COLLEGE_LEAD, c_code)
        for y in cohorts:
            post(adult(f"{y}级辅导员", c_code).number, Role.FUDAOYUAN, c_code)
        post(adult("学院家长代表", None, member=False).number, Role.PARENT_REP, c_code)

        sizes = split_sizes(share, rng, lo=30, hi=45, target=38)
        # Spread the classes over the four cohorts, newer cohorts taking any extra class.
        per_year = [len(sizes) // 4 + (1 if i >= 4 - len(sizes) % 4 else 0) for i in range(4)]
        seq_by_year = dict.fromkeys(cohorts, 0)
        size_iter = iter(sizes)
        college_students: list[PlannedStudent] = []
        for y, n_classes in zip(cohorts, per_year, strict=True):
            for k in range(1, n_classes + 1):
                size = next(size_iter)
                k_code = f"{c_code}-{y}-{k}"
                klass = tree.add(college, UnitKind.CLASS, k_code, f"{y}级{k}班",
                                 f"Class {k}, {y} cohort")
                head = adult("班主任", c_code)
                post(head.number, Role.HEAD_TEACHER, k_code, dt.date(y, 9, 1))
                members: list[PlannedStudent] = []
                by_gender: dict[str, list[PlannedStudent]] = {Gender.MALE: [], Gender.FEMALE: []}
                for _ in range(size):
                    seq_by_year[y] += 1
                    gender = Gender.MALE if rng.random() < male_share else Gender.FEMALE
                    s = _plan_student(rng, names, number=f"{y}{c_index:02d}{seq_by_year[y]:04d}",
                                      gender=gender, year=y, class_code=k_code)
                    members.append(s)
                    by_gender[gender].append(s)
                # Dormitories: same class, same gender, 4–6 beds.
                for gender in (Gender.MALE, Gender.FEMALE):
                    group = by_gender[gender]
                    start = 0
                    for room_size in split_sizes(len(group), rng, lo=4, hi=6, target=5):
                        idx = dorm_counter[gender]
                        dorm_counter[gender] += 1
                        building, floor, room = idx // 120 + 1, idx % 120 // 20 + 1, idx % 20 + 1
                        area, area_en, letter = (("东区", "East", "E") if gender == Gender.MALE
                                                 else ("西区", "West", "W"))
                        d_code = f"{letter}{building:02d}-{floor}{room:02d}"
                        tree.add(klass, UnitKind.DORMITORY, d_code,
                                 f"{area}{building}号楼{floor}{room:02d}",
                                 f"{area_en} {building}-{floor}{room:02d}")
                        roomies = group[start:start + room_size]
                        start += room_size
                        for s in roomies:
                            s.dorm_code = d_code
                        liaison = _pick(rng, roomies)
                        post(liaison.number, Role.DORM_LIAISON, d_code)
                committee = _pick(rng, members)
                post(committee.number, Role.COMMITTEE_MEMBER, k_code)
                college_students.extend(members)
        plan.students.extend(college_students)
        if college_students:
            rep = _pick(rng, college_students)
            post(rep.number, Role.STUDENT_REP, c_code)
            school_rep_candidates.append(rep)
    college_reps = {s.number for s in school_rep_candidates}
    rep = _pick(rng, [s for s in plan.students if s.number not in college_reps] or plan.students)
    post(rep.number, Role.STUDENT_REP, SCHOOL[0])

    plan.units = tree.units
    # The demo chain runs through the first class of the first college's second-year cohort
    # (a class that has been together a year), or the first class there is in a tiny demo.
    codes = {u.code for u in tree.units if u.kind == UnitKind.CLASS}
    demo_class = f"{colleges[0][0]}-{ay - 1}-1"
    if demo_class not in codes:
        demo_class = plan.students[0].class_code
    _name_demo_accounts(plan, demo_class, rng)
    return plan


def _plan_student(rng: random.Random, names: _Names, *, number: str, gender: str, year: int,
                  class_code: str) -> PlannedStudent:
    surname = names.surname()
    # Most students start university at 18; a few at 17, 19 or 20.
    age = rng.choices((17, 18, 19, 20), weights=(8, 62, 26, 4))[0]
    birth = dt.date(year - age - 1, 9, 1) + dt.timedelta(days=rng.randrange(365))
    groups = tuple(code for code, rate in GROUP_RATES if rng.random() < rate)
    if "orphan" in groups:
        groups = tuple(g for g in groups if g != "single_parent")
    status = rng.choices([s for s, _ in STATUS_WEIGHTS], weights=[w for _, w in STATUS_WEIGHTS])[0]
    guardians: list[PlannedGuardian] = []
    father = PlannedGuardian(names.full(Gender.MALE, False, surname), GuardianRelation.FATHER, _mobile(rng), False)
    mother = PlannedGuardian(names.full(Gender.FEMALE, False), GuardianRelation.MOTHER, _mobile(rng), False)
    if "orphan" in groups:
        relation = rng.choice((GuardianRelation.GRANDPARENT, GuardianRelation.OTHER))
        guardians = [PlannedGuardian(names.full(rng.choice((Gender.MALE, Gender.FEMALE)), False, surname),
                                     relation, _mobile(rng), True)]
    elif "single_parent" in groups:
        guardians = [mother if rng.random() < 0.7 else father]
    elif "left_behind" in groups:
        # Parents work far away: a grandparent at home is the first contact.
        grandparent = PlannedGuardian(names.full(rng.choice((Gender.MALE, Gender.FEMALE)), False, surname),
                                      GuardianRelation.GRANDPARENT, _mobile(rng), True)
        guardians = [grandparent, father]
    elif rng.random() < 0.85:
        guardians = [mother, father] if rng.random() < 0.55 else [father, mother]
    else:
        guardians = [mother if rng.random() < 0.5 else father]
    guardians[0].is_primary = True
    return PlannedStudent(
        number=number, name=surname + names.given(gender, young=True), gender=gender,
        birth_date=birth, enrolment_year=year, status=status, class_code=class_code, dorm_code="",
        groups=groups, guardians=guardians,
    )


T = TypeVar("T")


def _pick(rng: random.Random, people: list[T]) -> T:
    """A random enrolled student if there is one (a student on leave cannot report weekly)."""
    enrolled = [p for p in people if getattr(p, "status", StudentStatus.ENROLLED) == StudentStatus.ENROLLED]
    return rng.choice(enrolled or people)


def _name_demo_accounts(plan: DemoPlan, demo_class: str, rng: random.Random) -> None:
    """Give the memorable demo usernames to one holder of each role, along one chain:
    headteacher's class ⊃ committee member, liaison's dormitory ⊃ student."""
    rename: dict[str, str] = {}
    first = {}
    for p in plan.posts:
        first.setdefault(p.role, p)
    college_code = demo_class.split("-")[0]
    demo_year = demo_class.split("-")[1]
    by_number = {s.number: s for s in plan.students if s.class_code == demo_class}
    staff_title = {s.number: s.title for s in plan.staff}

    def role_holder(role: str, unit: str, title: str | None = None) -> str:
        return next(p.number for p in plan.posts if p.role == role and p.unit_code == unit
                    and (title is None or staff_title.get(p.number) == title))

    for role, username in ((Role.LEADER, "leader"), (Role.DEPUTY_LEADER, "deputy"),
                           (Role.LEADERSHIP_MEMBER, "member"), (Role.CENTRE_DIRECTOR, "director"),
                           (Role.COUNSELLOR, "counsellor"), (Role.BUREAU_VIEWER, "bureau")):
        rename[first[role].number] = username
    rename[role_holder(Role.PARENT_REP, plan.school_code)] = "parentrep"
    rename[role_holder(Role.STUDENT_REP, plan.school_code)] = "studentrep"
    rename[role_holder(Role.COLLEGE_LEAD, college_code)] = "collegelead"
    rename[role_holder(Role.FUDAOYUAN, college_code, f"{demo_year}级辅导员")] = "fudaoyuan"
    rename[role_holder(Role.HEAD_TEACHER, demo_class)] = "headteacher"

    # The liaison's dormitory: the class's first room with someone besides the liaison.
    dorm_posts = {p.unit_code: p for p in plan.posts if p.role == Role.DORM_LIAISON}
    rooms: dict[str, list[PlannedStudent]] = {}
    for s in by_number.values():
        rooms.setdefault(s.dorm_code, []).append(s)
    dorm = next((d for d, people in rooms.items() if len(people) >= 2), next(iter(rooms)))
    liaison = dorm_posts[dorm].number
    rename[liaison] = "liaison"
    roommates = [s for s in rooms[dorm] if s.number != liaison] or rooms[dorm]
    student = next((s for s in roommates if s.status == StudentStatus.ENROLLED), roommates[0])
    if student.number != liaison:
        rename[student.number] = "student"
    # The committee member lives in another room, so each demo login shows a different person.
    committee_post = next(p for p in plan.posts if p.role == Role.COMMITTEE_MEMBER and p.unit_code == demo_class)
    taken = set(rename)
    if committee_post.number in taken or by_number[committee_post.number].dorm_code == dorm:
        others = [s for s in by_number.values() if s.number not in taken and s.dorm_code != dorm]
        others = others or [s for s in by_number.values() if s.number not in taken]
        if others:
            committee_post.number = _pick(rng, others).number
    if committee_post.number not in taken:
        rename[committee_post.number] = "committee"

    for s in plan.students:
        s.number = rename.get(s.number, s.number)
    for st in plan.staff:
        st.number = rename.get(st.number, st.number)
    for p in plan.posts:
        p.number = rename.get(p.number, p.number)


# --------------------------------------------------------------------------- writing


def _chunks(items: list[T], size: int = BATCH) -> Iterator[list[T]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def write_plan(plan: DemoPlan, *, people: bool = True,
               progress: Callable[[str], None] | None = None) -> SeedResult:
    """Insert ``plan`` into an empty database. ``people=False`` writes the unit tree only (a
    skeleton that a roster file can then fill)."""
    import time

    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    if Unit.objects.exists():
        raise DemoError("The database already holds units; seed-demo only seeds an empty database.")
    with transaction.atomic():
        groups = ensure_special_groups()
        Unit.objects.bulk_create(
            [Unit(kind=u.kind, code=u.code, name=u.name, name_en=u.name_en, path=u.path,
                  depth=u.depth, numchild=u.numchild) for u in plan.units],
            batch_size=BATCH,
        )
        unit_pk = dict(Unit.objects.values_list("code", "pk"))
        say(f"units: {len(unit_pk)}")
        school = Unit.objects.get(code=plan.school_code)
        duties = seed_duties(school)
        n_guardians = 0
        if people:
            password = make_password(settings.DEMO_PASSWORD)  # once: see the module docstring
            now = timezone.now()
            User.objects.create(username="admin", full_name="系统管理员", kind=PersonKind.STAFF,
                                is_staff=True, is_superuser=True, password=password)
            user_pk: dict[str, int] = {}
            for chunk in _chunks(plan.staff):
                users = User.objects.bulk_create([
                    User(username=s.number, full_name=s.name, kind=PersonKind.STAFF,
                         password=password, date_joined=now) for s in chunk])
                user_pk.update((u.username, u.pk) for u in users)
                Staff.objects.bulk_create([
                    Staff(user_id=user_pk[s.number], title=s.title,
                          department_id=unit_pk[s.department_code] if s.department_code else None)
                    for s in chunk if s.is_staff_member])
            say(f"staff: {len(plan.staff)}")
            through = Student.special_groups.through
            for n, chunk in enumerate(_chunks(plan.students), start=1):
                users = User.objects.bulk_create([
                    User(username=s.number, full_name=s.name, kind=PersonKind.STUDENT,
                         password=password, date_joined=now) for s in chunk])
                for u in users:
                    user_pk[u.username] = u.pk
                rows = Student.objects.bulk_create([
                    Student(user_id=user_pk[s.number], gender=s.gender, birth_date=s.birth_date,
                            klass_id=unit_pk[s.class_code], dorm_id=unit_pk.get(s.dorm_code),
                            enrolment_year=s.enrolment_year, status=s.status)
                    for s in chunk])
                through.objects.bulk_create([
                    through(student_id=row.pk, specialgroup_id=groups[g].pk)
                    for s, row in zip(chunk, rows, strict=True) for g in s.groups])
                guardians = [
                    Guardian(student_id=row.pk, name=g.name, relation=g.relation, phone=g.phone,
                             is_primary=g.is_primary)
                    for s, row in zip(chunk, rows, strict=True) for g in s.guardians]
                Guardian.objects.bulk_create(guardians)
                n_guardians += len(guardians)
                if n % 10 == 0:
                    say(f"students: {min(n * BATCH, len(plan.students))}/{len(plan.students)}")
            for chunk in _chunks(plan.posts):
                Post.objects.bulk_create([
                    Post(person_id=user_pk[p.number], unit_id=unit_pk[p.unit_code], role=p.role,
                         starts_on=p.starts_on) for p in chunk])
    return SeedResult(
        units=len(plan.units), students=len(plan.students) if people else 0,
        staff=len(plan.staff) if people else 0, posts=len(plan.posts) if people else 0,
        guardians=n_guardians, duties=duties, seconds=time.perf_counter() - started,
    )


def seed_demo(students: int = DEFAULT_STUDENTS, seed: int = DEFAULT_SEED, *, people: bool = True,
              year: int | None = None, progress: Callable[[str], None] | None = None) -> SeedResult:
    """Build and write the demo university; refuses a database that already has units."""
    if Unit.objects.exists():
        raise DemoError("The database already holds units; seed-demo only seeds an empty database.")
    result = write_plan(build_plan(students, seed, year), people=people, progress=progress)
    # Fresh statistics after a bulk load, so the planner does not guess on empty-table estimates.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return result


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str        # a Role value, "student" or "superuser"
    role_label: str
    unit: str
    unit_code: str

    def as_dict(self) -> dict[str, str]:
        return {"username": self.username, "password": self.password, "role": self.role,
                "role_label": self.role_label, "unit": self.unit, "unit_code": self.unit_code}


def demo_accounts() -> list[DemoAccount]:
    """The demo logins present in the database, read back from their posts."""
    from django.utils.translation import gettext

    users = {u.username: u for u in User.objects.filter(username__in=DEMO_USERNAMES)}
    posts: dict[int, Post] = {}
    for p in Post.objects.active().filter(person__in=users.values()).select_related("unit").order_by("pk"):
        posts.setdefault(p.person_id, p)
    students = {s.user_id: s for s in Student.objects.filter(user__in=users.values()).select_related("klass")}
    accounts = []
    for name in DEMO_USERNAMES:
        user = users.get(name)
        if user is None:
            continue
        post = posts.get(user.pk)
        if post is not None:
            role, label, unit = post.role, post.get_role_display(), post.unit
        elif user.is_superuser:
            role, label, unit = "superuser", gettext("Administrator"), None
        elif user.pk in students:
            role, label, unit = "student", gettext("Student"), students[user.pk].klass
        else:
            continue
        unit_text = (unit.breadcrumb() or unit.display_name) if unit is not None else "—"
        accounts.append(DemoAccount(username=name, password=settings.DEMO_PASSWORD, role=role,
                                    role_label=str(label), unit=unit_text,
                                    unit_code=unit.code if unit is not None else ""))
    return accounts
