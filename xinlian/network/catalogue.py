"""The duty catalogue of every role, and the special groups the policies ask the network to
watch with care.

The catalogue lives in ``data/duties.json`` (zh-Hans and English, with a frequency) so that it
can be read and reviewed without Python. ``seed_duties`` copies it into a school's own Duty
rows once; from then on the school edits its copy in admin and re-seeding never overwrites it.
A school added in admin is seeded there, the demo seeds its own, and ``xinlian seed-duties``
seeds any school still without rows (all idempotent: ``seed_duties`` is the one verb).

Each item names what fulfils it (``fulfilled_by``: a ``WorkItem.kind`` of the apps' ``work.py``,
or "" for a duty that stays text): "my duties" and the home page list the person's items of that
kind under the duty. A bureau is no school and has no rows of its own: its viewers read the
catalogue itself (``catalogue_duties``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from django.db import transaction

from .models import Duty, DutyWork, Frequency, Role, SpecialGroup, Unit, UnitKind

CATALOGUE_FILE = Path(__file__).resolve().parent / "data" / "duties.json"

# (code, name, English name). The roster importer may create the first four on its own;
# everything here goes through get_or_create by code so the two never collide.
SPECIAL_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("left_behind", "留守儿童", "Left-behind child"),
    ("single_parent", "单亲家庭", "Single-parent family"),
    ("financial_hardship", "经济困难", "Financial hardship"),
    ("disability", "残疾", "Disability"),
    ("migrant", "随迁子女", "Migrant child"),
    ("orphan", "孤儿", "Orphan"),
)


@dataclass(frozen=True)
class DutySpec:
    role: str
    title: str      # zh-Hans
    title_en: str
    frequency: str
    order: int
    fulfilled_by: str = ""


@lru_cache(maxsize=1)
def load_catalogue() -> dict[str, tuple[DutySpec, ...]]:
    """The catalogue by role, validated: every Role present, every frequency and every kind of
    work that fulfils a duty known."""
    raw = json.loads(CATALOGUE_FILE.read_text(encoding="utf-8"))["roles"]
    known_roles = set(Role.values)
    known_freq = set(Frequency.values)
    known_work = set(DutyWork.values)
    unknown = set(raw) - known_roles
    missing = known_roles - set(raw)
    if unknown or missing:
        raise ValueError(f"duties.json roles mismatch: unknown {sorted(unknown)}, missing {sorted(missing)}")
    catalogue: dict[str, tuple[DutySpec, ...]] = {}
    for role in Role.values:
        specs = []
        for i, item in enumerate(raw[role]):
            if item["frequency"] not in known_freq:
                raise ValueError(f"duties.json: unknown frequency {item['frequency']!r} for {role}")
            work = item.get("fulfilled_by", "")
            if work not in known_work:
                raise ValueError(f"duties.json: unknown fulfilled_by {work!r} for {role}")
            specs.append(DutySpec(role=role, title=item["zh"], title_en=item["en"],
                                  frequency=item["frequency"], order=(i + 1) * 10, fulfilled_by=work))
        catalogue[role] = tuple(specs)
    return catalogue


def seed_duties(school: Unit) -> int:
    """Copy the catalogue into ``school``'s Duty rows for each role that has none yet.

    Returns the number of rows created; a second call creates nothing, and a role whose
    duties the school has already edited (or emptied and re-added) is left alone."""
    if school.kind != UnitKind.SCHOOL:
        raise ValueError("Duties belong to a school unit.")
    catalogue = load_catalogue()
    with transaction.atomic():
        have = set(Duty.objects.filter(school=school).values_list("role", flat=True).distinct())
        rows = [
            Duty(school=school, role=spec.role, title=spec.title, title_en=spec.title_en,
                 frequency=spec.frequency, order=spec.order, fulfilled_by=spec.fulfilled_by)
            for role, specs in catalogue.items() if role not in have
            for spec in specs
        ]
        Duty.objects.bulk_create(rows)
    return len(rows)


def catalogue_duties(role: str) -> list[Duty]:
    """The catalogue's duties of ``role`` as unsaved Duty objects: what a post outside any school
    (a bureau viewer's) owes, read from the file since a bureau keeps no rows of its own."""
    return [Duty(role=spec.role, title=spec.title, title_en=spec.title_en, frequency=spec.frequency,
                 order=spec.order, fulfilled_by=spec.fulfilled_by)
            for spec in load_catalogue().get(role, ())]


def ensure_special_groups() -> dict[str, SpecialGroup]:
    """The special groups by code, created if missing (the data migration normally has)."""
    groups: dict[str, SpecialGroup] = {}
    for code, name, name_en in SPECIAL_GROUPS:
        group, _ = SpecialGroup.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
        groups[code] = group
    return groups
