"""The linkage hub (联动): concerns, alerts that climb the network, the risk register, crisis
cases and the student's chronology.

Every state change is a verb on a model and writes, in the same transaction, its chronology
entry and its outbox deliveries — so a signal is never recorded without its notification,
and never notified without being recorded."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, gettext, gettext_noop
from django.utils.translation import gettext_lazy as _

from xinlian.lib import hotsql
from xinlian.lib.actions import Conflict
from xinlian.lib.crypto import EncryptedTextField
from xinlian.network.models import Student, User

from . import network as ladder


class CareError(Conflict):
    """A refused action (second acknowledgement, edit of a closed case ...) with a clear reason.

    It is a :class:`~xinlian.lib.actions.Conflict`: the page shows the message by its form and the
    API answers 409 with it, through the same adapters."""

    def __init__(self, message: Any, code: str | None = None,
                 params: dict[str, Any] | None = None, *, obj: Any = None) -> None:
        super().__init__(message % params if params else message, obj=obj)
        self.code = code

    @property
    def messages(self) -> list[str]:
        return [self.text]


# --- levels -----------------------------------------------------------------------------------


class Level(models.TextChoices):
    RED = "red", _("Red (level 1)")
    ORANGE = "orange", _("Orange (level 2)")
    YELLOW = "yellow", _("Yellow (level 3)")


LEVEL_ORDER = {Level.RED: 3, Level.ORANGE: 2, Level.YELLOW: 1}
DEFAULT_LEVELS: dict[str, dict[str, Any]] = {
    Level.RED: {"name": "一级（红色）", "name_en": "Level 1 (red)", "colour": "#d63031",
                "ack_minutes": 30, "follow_up_days": 1},
    Level.ORANGE: {"name": "二级（橙色）", "name_en": "Level 2 (orange)", "colour": "#e17055",
                   "ack_minutes": 24 * 60, "follow_up_days": 7},
    Level.YELLOW: {"name": "三级（黄色）", "name_en": "Level 3 (yellow)", "colour": "#fdcb6e",
                   "ack_minutes": 72 * 60, "follow_up_days": 30},
}


class LevelSetting(models.Model):
    """The centre's names, colours and deadlines for each alert level (defaults in DEFAULT_LEVELS)."""

    level = models.CharField(_("level"), max_length=8, choices=Level.choices, unique=True)
    name = models.CharField(_("name"), max_length=32)
    name_en = models.CharField(_("English name"), max_length=32)
    colour = models.CharField(_("colour"), max_length=16)
    ack_minutes = models.PositiveIntegerField(_("minutes to acknowledge"))
    follow_up_days = models.PositiveIntegerField(_("days between follow-ups"))

    class Meta:
        verbose_name = _("level setting")
        verbose_name_plural = _("level settings")

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") else self.name

    @classmethod
    def for_level(cls, level: str) -> LevelSetting:
        found = cls.objects.filter(level=level).first()
        return found or cls(level=level, **DEFAULT_LEVELS[level])

    @classmethod
    def all_levels(cls) -> dict[str, LevelSetting]:
        """The centre's names and colours for each level, in one query."""
        found = {s.level: s for s in cls.objects.all()}
        return {lv: found.get(lv) or cls.for_level(lv) for lv in (Level.RED, Level.ORANGE, Level.YELLOW)}

    @property
    def ack_delta(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.ack_minutes)


# --- chronology -------------------------------------------------------------------------------


class Tier(models.IntegerChoices):
    ROSTER = 1, _("Roster")
    RISK = 2, _("Risk level")
    SCORES = 3, _("Screening results")
    CASE = 4, _("Case details")
    NOTES = 5, _("Counselling notes")


class TimelineEntry(models.Model):
    """One line of a student's chronology (一生一档). ``text`` is a short, non-clinical summary;
    detail stays on the record it points to, behind its own tier."""

    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(default=timezone.now, db_index=True)
    kind = models.CharField(max_length=32)
    tier = models.PositiveSmallIntegerField(choices=Tier.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                              blank=True, related_name="+")
    # msgid + params, rendered in the reader's language.
    text = models.CharField(max_length=200)
    params = models.JSONField(default=dict, blank=True)
    link = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["student", "-at"])]
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")

    def __str__(self) -> str:
        return f"{self.kind} @ {self.at:%Y-%m-%d %H:%M}"

    def render(self, levels: dict[str, LevelSetting] | None = None) -> str:
        """The line in the reader's language, its code parameters shown with their labels."""
        levels = levels if levels is not None else LevelSetting.all_levels()
        params = {k: _param_label(k, v, levels) for k, v in (self.params or {}).items()}
        text = gettext(self.text)
        try:
            return text % params if params else text
        except (KeyError, TypeError, ValueError):
            return text

    @classmethod
    def add(cls, student: Student | int, kind: str, tier: int, text: str, *, actor: User | None = None,
            link: str = "", at: dt.datetime | None = None, **params: Any) -> TimelineEntry:
        """``student`` may be a primary key: hot paths (a screening submit) need not load the row.
        Every event of the network writes one of these, so the INSERT is built once per process
        (xinlian/lib/hotsql.py) rather than compiled each time."""
        who = {"student_id": student} if isinstance(student, int) else {"student": student}
        entry = cls(**who, kind=kind, tier=tier, text=text, params=params, actor=actor, link=link,
                    at=at or timezone.now())
        hotsql.insert([entry])
        return entry


# The chronology's msgids live as plain strings on the rows (rendered in the reader's language at
# read time); listing them here puts them in the catalogue.
CHRONOLOGY_MSGIDS = (
    gettext_noop("Concern reported"),
    gettext_noop("%(level)s alert raised (%(source)s)"),
    gettext_noop("Alert acknowledged"),
    gettext_noop("Alert triaged: %(decision)s"),
    gettext_noop("Alert resolved"),
    gettext_noop("Alert not acknowledged in time: escalated to step %(step)s"),
    gettext_noop("Out of hours: alert sent to the duty chain (step %(step)s)"),
    gettext_noop("Risk level: %(old)s → %(new)s"),
    gettext_noop("Follow-up contact recorded"),
    gettext_noop("Crisis case opened"),
    gettext_noop("Case record: %(record)s"),
    gettext_noop("Case team changed"),
    gettext_noop("Crisis case closed"),
    gettext_noop("Crisis case reopened"),
    gettext_noop("Closure sent back to the case team"),
)


def _param_label(key: str, value: Any, levels: dict[str, LevelSetting]) -> Any:
    """Codes in a chronology line's parameters, shown with their labels (the choices classes
    are defined further down this module; they are looked up at call time)."""
    if key == "level" and value in levels:
        return levels[value].display_name
    if key in ("old", "new"):
        if value in levels:
            return levels[value].display_name
        return dict(RiskLevel.choices).get(value, value)
    table = {"source": AlertSource, "decision": Triage, "record": RecordKind}.get(key)
    if table is not None:
        return dict(table.choices).get(value, value)
    return value


# --- concerns ---------------------------------------------------------------------------------


class Category(models.TextChoices):
    EMOTIONAL = "emotional", _("Emotional change")
    SELF_HARM = "self_harm", _("Self-harm or suicide talk")
    HARM_OTHERS = "harm_others", _("Harm to others")
    FAMILY = "family", _("Family change")
    ACADEMIC = "academic", _("Academic pressure")
    RELATIONSHIP = "relationship", _("Relationship")
    BULLYING = "bullying", _("Bullying")
    SLEEP_EATING = "sleep_eating", _("Sleep or eating")
    OTHER = "other", _("Other")


class Urgency(models.TextChoices):
    NOW = "now", _("Urgent — now")
    SOON = "soon", _("Soon")
    ROUTINE = "routine", _("Routine")


class HeardFrom(models.TextChoices):
    """Where the reporter's information came from: a guardian's call is reported through staff."""

    SELF = "self", _("I saw or heard it myself")
    GUARDIAN = "guardian", _("A guardian told me")
    STUDENT = "student", _("A student told me")
    OTHER = "other", _("Someone else told me")


URGENCY_LEVEL = {Urgency.NOW: Level.RED, Urgency.SOON: Level.ORANGE, Urgency.ROUTINE: Level.YELLOW}


class Concern(models.Model):
    """A report (报告) about a student. ``seen`` is sensitive: encrypted, never in a message."""

    key = models.UUIDField(_("submission key"), default=uuid.uuid4, unique=True)
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="concerns")
    reporter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                 related_name="concerns_reported")
    category = models.CharField(_("category"), max_length=16, choices=Category.choices)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices)
    seen = EncryptedTextField(_("what was seen"))
    seen_at = models.DateTimeField(_("when"), default=timezone.now)
    heard_from = models.CharField(_("heard from"), max_length=8, choices=HeardFrom.choices,
                                  default=HeardFrom.SELF)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("concern")
        verbose_name_plural = _("concerns")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"concern #{self.pk}"

    @property
    def level(self) -> str:
        """Self-harm/suicide talk or "urgent now" is always red."""
        if self.category == Category.SELF_HARM:
            return Level.RED
        return URGENCY_LEVEL[self.urgency]

    @classmethod
    def submit(cls, *, key: uuid.UUID | None, reporter: User, student: Student, category: str,
               urgency: str, seen: str, seen_at: dt.datetime | None = None,
               heard_from: str = HeardFrom.SELF) -> tuple[Concern, bool]:
        """File a concern and raise its alert in one transaction. Idempotent by ``key``:
        a replay returns the first concern and ``created=False``."""
        key = key or uuid.uuid4()
        with transaction.atomic():
            existing = cls.objects.filter(key=key).first()
            if existing is not None:
                if existing.reporter_id != reporter.pk:
                    raise CareError(_("This submission key belongs to another report."))
                return existing, False
            concern = cls.objects.create(key=key, reporter=reporter, student=student,
                                         category=category, urgency=urgency, seen=seen,
                                         seen_at=seen_at or timezone.now(), heard_from=heard_from)
            TimelineEntry.add(student, "concern", Tier.RISK, "Concern reported", actor=reporter,
                              at=concern.created_at)
            Alert.raise_for(student, concern.level, AlertSource.CONCERN, concern=concern)
        return concern, True

    def status_for_reporter(self) -> str:
        """What the reporter may know: that someone has picked it up — nothing more."""
        # Read through ``.all()`` so that a list of reports can prefetch the alerts.
        alert = max(self.alerts.all(), key=lambda a: (a.created_at, a.pk), default=None)
        if alert is None or alert.status == AlertStatus.OPEN:
            return str(_("Received — waiting for a responsible person"))
        if alert.status == AlertStatus.RESOLVED:
            return str(_("Handled"))
        return str(_("Being followed up"))


# --- alerts -----------------------------------------------------------------------------------


class AlertSource(models.TextChoices):
    CONCERN = "concern", _("Concern report")
    SCREENING = "screening", _("Screening")
    COUNSELLOR = "counsellor", _("Counsellor")
    IMPORT = "import", _("Import")
    FOLLOW_UP = "follow_up", _("Overdue follow-up")


class AlertStatus(models.TextChoices):
    OPEN = "open", _("Waiting for acknowledgement")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")
    TRIAGED = "triaged", _("Triaged")
    RESOLVED = "resolved", _("Resolved")


class Triage(models.TextChoices):
    NO_ACTION = "no_action", _("No action needed")
    MONITOR = "monitor", _("Monitor")
    CASE = "case", _("Open a crisis case")
    REFER = "refer", _("Refer")


class AlertQuerySet(models.QuerySet["Alert"]):
    def open(self) -> AlertQuerySet:
        return self.filter(status=AlertStatus.OPEN)

    def overdue(self, now: dt.datetime | None = None) -> AlertQuerySet:
        return self.open().filter(due_at__lte=now or timezone.now())

    def for_responsible(self, user: User) -> AlertQuerySet:
        return self.filter(ladder.inbox_filter(user))

    def inbox_order(self) -> AlertQuerySet:
        """Unacknowledged first, overdue before the rest, then the most severe and oldest."""
        now = timezone.now()
        # Annotation names must not shadow the ``is_overdue`` property (it has no setter).
        return self.annotate(
            open_rank=models.Case(models.When(status=AlertStatus.OPEN, then=0), default=1),
            overdue_rank=models.Case(models.When(status=AlertStatus.OPEN, due_at__lte=now, then=0),
                                     default=1),
            severity=models.Case(*[models.When(level=lv, then=-o) for lv, o in LEVEL_ORDER.items()]),
        ).order_by("overdue_rank", "open_rank", "severity", "due_at", "pk")


class Alert(models.Model):
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="alerts")
    level = models.CharField(_("level"), max_length=8, choices=Level.choices)
    source = models.CharField(_("source"), max_length=12, choices=AlertSource.choices)
    concern = models.ForeignKey(Concern, on_delete=models.PROTECT, null=True, blank=True,
                                related_name="alerts")
    status = models.CharField(_("status"), max_length=12, choices=AlertStatus.choices,
                              default=AlertStatus.OPEN)
    step = models.PositiveSmallIntegerField(_("escalation step"), default=0)
    escalations = models.PositiveSmallIntegerField(_("escalations"), default=0)
    # The rung of the duty chain (DUTY_CHAIN) an out-of-hours alert has reached; None in hours.
    duty_step = models.PositiveSmallIntegerField(_("duty chain step"), null=True, blank=True)
    due_at = models.DateTimeField(_("acknowledge by"), db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                        null=True, blank=True, related_name="+")
    triage = models.CharField(_("triage"), max_length=12, choices=Triage.choices, blank=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    triaged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    # Why a screening raised it (the instrument, the critical items and their text, the band,
    # the result's assignment): JSON with both languages, encrypted — it is screening detail.
    reason = EncryptedTextField(_("why it was raised"), blank=True, default="")

    objects = AlertQuerySet.as_manager()

    class Meta:
        verbose_name = _("alert")
        verbose_name_plural = _("alerts")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"alert #{self.pk} ({self.level})"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("alert-detail", args=[self.pk])

    @property
    def setting(self) -> LevelSetting:
        return LevelSetting.for_level(self.level)

    @property
    def is_overdue(self) -> bool:
        return self.status == AlertStatus.OPEN and self.due_at <= timezone.now()

    def reason_shown(self) -> dict[str, Any] | None:
        """Why a screening raised this alert, in the reader's language: ``instrument``,
        ``critical`` [(label, item text)], ``band``, ``assignment`` (the result's id)."""
        if not self.reason:
            return None
        data = json.loads(self.reason)
        en = (get_language() or "").startswith("en")

        def pick(text: Any) -> str:
            if isinstance(text, dict):
                return str(text.get("en") if en else text.get("zh-Hans") or text.get("en") or "")
            return str(text or "")

        return {"instrument": pick(data.get("instrument")),
                "critical": [(pick(c.get("label")), pick(c.get("item_text"))) for c in data.get("critical", [])],
                "band": pick(data.get("band")),
                "assignment": data.get("assignment")}

    # -- verbs ---------------------------------------------------------------------------------

    @classmethod
    def raise_for(cls, student: Student, level: str, source: str, *,
                  concern: Concern | None = None, now: dt.datetime | None = None,
                  reason: dict[str, Any] | None = None) -> Alert:
        """Raise an alert to the first staffed rung; a red one also reaches the centre at once.
        ``reason``: why a screening raised it (see :meth:`reason_shown`)."""
        from xinlian.notify import services as notify

        now = now or timezone.now()
        step, people = ladder.first_staffed_step(student, 0)
        setting = LevelSetting.for_level(level)
        with transaction.atomic():
            alert = cls.objects.create(student=student, level=level, source=source, concern=concern,
                                       step=step, due_at=now + setting.ack_delta, created_at=now,
                                       reason=json.dumps(reason, ensure_ascii=False) if reason else "")
            TimelineEntry.add(student, "alert", Tier.RISK, "%(level)s alert raised (%(source)s)",
                              at=now, link=alert.get_absolute_url(),
                              level=level, source=source)
            recipients = list(people)
            recipients += [u for u in ladder.told_at_once(student, level) if u not in recipients]
            recipients += [u for u in alert._call_duty(0, now) if u not in recipients]
            notify.alert_raised(alert, recipients)
        return alert

    def _call_duty(self, start: int, now: dt.datetime) -> list[User]:
        """Out of hours, a red or orange alert reaches the first staffed rung of the duty chain
        at or above ``start`` on the rota of the student's college and school; in hours, or with
        nobody on duty, nobody more. Records who was reached (they read the alert) and the rung."""
        from xinlian.notify.hours import is_out_of_hours

        from . import rota

        if self.level not in (Level.RED, Level.ORANGE) or not is_out_of_hours(now):
            return []
        found = rota.first_staffed_duty_step(rota.duty_chain_for(self.student, now), start)
        if found is None:
            return []
        step, people = found
        self.duty_step = step
        Alert.objects.filter(pk=self.pk).update(duty_step=step)
        role = DUTY_CHAIN[step]
        AlertDuty.objects.bulk_create([AlertDuty(alert=self, person=p, role=role, at=now) for p in people],
                                      ignore_conflicts=True)
        TimelineEntry.add(self.student, "alert.duty", Tier.RISK,
                          "Out of hours: alert sent to the duty chain (step %(step)s)",
                          at=now, link=self.get_absolute_url(), step=step + 1)
        return people

    def _refuse_unless(self, *statuses: str) -> None:
        if self.status not in statuses:
            raise CareError(_("This alert is already %(status)s."),
                            params={"status": self.get_status_display()}, code="state")

    def acknowledge(self, by: User, note: str = "") -> None:
        with transaction.atomic():
            locked = Alert.objects.select_for_update().get(pk=self.pk)
            locked._refuse_unless(AlertStatus.OPEN)
            now = timezone.now()
            Alert.objects.filter(pk=self.pk).update(status=AlertStatus.ACKNOWLEDGED,
                                                    acknowledged_at=now, acknowledged_by=by)
            AlertNote.objects.create(alert=self, author=by, action="acknowledge", text=note)
            TimelineEntry.add(self.student, "alert.ack", Tier.RISK, "Alert acknowledged",
                              actor=by, at=now, link=self.get_absolute_url())
        self.refresh_from_db()

    def triage_as(self, by: User, decision: str, note: str = "") -> Case | None:
        """Record the triage decision; "open a case" opens it with ``by`` as lead."""
        case = None
        with transaction.atomic():
            locked = Alert.objects.select_for_update().get(pk=self.pk)
            locked._refuse_unless(AlertStatus.ACKNOWLEDGED, AlertStatus.OPEN)
            now = timezone.now()
            Alert.objects.filter(pk=self.pk).update(
                status=AlertStatus.TRIAGED, triage=decision, triaged_at=now, triaged_by=by,
                acknowledged_at=locked.acknowledged_at or now,
                acknowledged_by=locked.acknowledged_by or by)
            AlertNote.objects.create(alert=self, author=by, action="triage", text=note)
            TimelineEntry.add(self.student, "alert.triage", Tier.RISK, "Alert triaged: %(decision)s",
                              actor=by, at=now, link=self.get_absolute_url(), decision=decision)
            if decision == Triage.CASE:
                case = Case.open_for(self.student, by=by, alert=self)
        self.refresh_from_db()
        return case

    def resolve(self, by: User, note: str = "") -> None:
        with transaction.atomic():
            locked = Alert.objects.select_for_update().get(pk=self.pk)
            locked._refuse_unless(AlertStatus.ACKNOWLEDGED, AlertStatus.TRIAGED)
            now = timezone.now()
            Alert.objects.filter(pk=self.pk).update(status=AlertStatus.RESOLVED, resolved_at=now,
                                                    resolved_by=by)
            AlertNote.objects.create(alert=self, author=by, action="resolve", text=note)
            TimelineEntry.add(self.student, "alert.resolve", Tier.RISK, "Alert resolved",
                              actor=by, at=now, link=self.get_absolute_url())
        self.refresh_from_db()

    def resolve_for_case(self, by: User, case: Case) -> None:
        """A crisis case opened from this alert takes it over: the alert is resolved (whatever
        step it had reached), its triage recorded as "open a case" if none was."""
        with transaction.atomic():
            locked = Alert.objects.select_for_update().get(pk=self.pk)
            if locked.status == AlertStatus.RESOLVED:
                return
            now = timezone.now()
            Alert.objects.filter(pk=self.pk).update(
                status=AlertStatus.RESOLVED, resolved_at=now, resolved_by=by,
                acknowledged_at=locked.acknowledged_at or now,
                acknowledged_by=locked.acknowledged_by or by,
                triage=locked.triage or Triage.CASE, triaged_at=locked.triaged_at or now,
                triaged_by=locked.triaged_by or by)
            TimelineEntry.add(self.student, "alert.resolve", Tier.RISK, "Alert resolved",
                              actor=by, at=now, link=self.get_absolute_url())
        self.refresh_from_db()

    def escalate(self, now: dt.datetime | None = None) -> None:
        """Climb one staffed rung, notify it, set the next deadline. Call with the row locked.
        At the top rung the leadership is reminded again with a fresh deadline."""
        from xinlian.notify import services as notify

        now = now or timezone.now()
        start = min(self.step + 1, ladder.TOP_STEP)
        step, people = ladder.first_staffed_step(self.student, start)
        self.step = step
        self.escalations += 1
        self.due_at = now + self.setting.ack_delta
        self.save(update_fields=["step", "escalations", "due_at"])
        TimelineEntry.add(self.student, "alert.escalate", Tier.RISK,
                          "Alert not acknowledged in time: escalated to step %(step)s",
                          at=now, link=self.get_absolute_url(), step=step + 1)
        # Out of hours the duty chain climbs alongside the ladder: the next rung on duty.
        duty_start = 0 if self.duty_step is None else self.duty_step + 1
        people = list(people) + [u for u in self._call_duty(duty_start, now) if u not in people]
        notify.alert_escalated(self, people)


class AlertNote(models.Model):
    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=16)
    text = EncryptedTextField(blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at"]

    def __str__(self) -> str:
        return f"{self.action} on alert #{self.alert_id}"


def fire_due_escalations(now: dt.datetime | None = None, batch: int = 1000) -> int:
    """Escalate every open alert past its deadline, each exactly once even with several
    workers: the row is locked with SKIP LOCKED and its deadline re-checked under the lock
    (on SQLite the write lock of BEGIN IMMEDIATE serialises the claims). The batch is large so
    that a burst of deadlines is escalated — and its inbox messages written — before the worker
    turns to sending (bench/linkage.py: 1,000 deadlines on one instant)."""
    fired = 0
    for _claim in range(batch):
        with transaction.atomic():
            # Each claim takes the most overdue alert nobody else holds, so several workers
            # share the work instead of queueing behind each other's locks; only the alert row
            # is locked (``of``), not its student.
            at = now or timezone.now()
            alert = (Alert.objects.select_for_update(skip_locked=True, of=("self",))
                     .overdue(at).order_by("due_at", "pk")
                     .select_related("student__klass", "student__dorm").first())
            if alert is None:
                break
            alert.escalate(at)
            fired += 1
    return fired


# --- risk register ----------------------------------------------------------------------------


class RiskLevel(models.TextChoices):
    NONE = "none", _("None")
    YELLOW = "yellow", _("Yellow")
    ORANGE = "orange", _("Orange")
    RED = "red", _("Red")


GUIDANCE = {
    RiskLevel.RED: _("Contact the student every day; keep the guardian informed; never leave the "
                     "student alone in a crisis."),
    RiskLevel.ORANGE: _("Talk with the student every week; watch for changes and report them at once."),
    RiskLevel.YELLOW: _("Check in with the student every month; report any change."),
    RiskLevel.NONE: _("No special follow-up."),
}


class RiskEntryQuerySet(models.QuerySet["RiskEntry"]):
    def current(self) -> RiskEntryQuerySet:
        return self.filter(is_current=True)

    def watched(self) -> RiskEntryQuerySet:
        return self.current().exclude(level=RiskLevel.NONE)

    def follow_up_overdue(self, now: dt.datetime | None = None) -> RiskEntryQuerySet:
        return self.watched().filter(follow_up_due_at__lte=now or timezone.now(),
                                     overdue_alert__isnull=True)


class RiskEntry(models.Model):
    """One line of the risk register (重点关注名单); the current line has ``is_current``."""

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="risk_entries")
    level = models.CharField(_("level"), max_length=8, choices=RiskLevel.choices)
    reason = EncryptedTextField(_("reason"), blank=True)
    set_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField(default=timezone.now)
    review_on = models.DateField(_("next review"), null=True, blank=True)
    is_current = models.BooleanField(default=True)
    follow_up_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    overdue_alert = models.ForeignKey(Alert, on_delete=models.SET_NULL, null=True, blank=True,
                                      related_name="+")

    objects = RiskEntryQuerySet.as_manager()

    class Meta:
        verbose_name = _("risk register entry")
        verbose_name_plural = _("risk register")
        ordering = ["-set_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["student"], condition=Q(is_current=True),
                                               name="one_current_risk_entry")]

    def __str__(self) -> str:
        return f"{self.level} since {self.set_at:%Y-%m-%d}"

    @property
    def guidance(self) -> str:
        return str(GUIDANCE[self.level])

    @classmethod
    def current_for(cls, student: Student) -> RiskEntry | None:
        return cls.objects.current().filter(student=student).first()

    @classmethod
    def set_level(cls, student: Student, level: str, *, by: User, reason: str = "",
                  review_on: dt.date | None = None) -> RiskEntry:
        with transaction.atomic():
            Student.objects.select_for_update().filter(pk=student.pk).first()  # serialise per student
            previous = cls.objects.current().filter(student=student).first()
            cls.objects.filter(student=student, is_current=True).update(is_current=False)
            now = timezone.now()
            due = None
            if level != RiskLevel.NONE:
                due = now + dt.timedelta(days=LevelSetting.for_level(level).follow_up_days)
            entry = cls.objects.create(student=student, level=level, reason=reason, set_by=by,
                                       set_at=now, review_on=review_on, follow_up_due_at=due)
            TimelineEntry.add(student, "risk", Tier.RISK, "Risk level: %(old)s → %(new)s",
                              actor=by, at=now, old=previous.level if previous else RiskLevel.NONE,
                              new=level)
        return entry


class FollowUp(models.Model):
    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="follow_ups")
    case = models.ForeignKey("Case", on_delete=models.PROTECT, null=True, blank=True,
                             related_name="follow_ups")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    note = EncryptedTextField(_("note"), blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"follow-up #{self.pk}"

    @classmethod
    def record(cls, student: Student, *, by: User, note: str = "", case: Case | None = None) -> FollowUp:
        """Log a contact and push the register's next follow-up date forward."""
        with transaction.atomic():
            fu = cls.objects.create(student=student, by=by, note=note, case=case)
            entry = RiskEntry.objects.current().filter(student=student).select_for_update().first()
            if entry and entry.level != RiskLevel.NONE:
                days = LevelSetting.for_level(entry.level).follow_up_days
                entry.follow_up_due_at = fu.at + dt.timedelta(days=days)
                entry.overdue_alert = None
                entry.save(update_fields=["follow_up_due_at", "overdue_alert"])
            TimelineEntry.add(student, "follow_up", Tier.RISK, "Follow-up contact recorded",
                              actor=by, at=fu.at)
        return fu


def raise_overdue_follow_ups(now: dt.datetime | None = None) -> int:
    """An overdue follow-up becomes an alert of the register's level, which then escalates."""
    now = now or timezone.now()
    raised = 0
    for pk in list(RiskEntry.objects.follow_up_overdue(now).values_list("pk", flat=True)[:200]):
        with transaction.atomic():
            entry = (RiskEntry.objects.select_for_update(skip_locked=True)
                     .filter(pk=pk, is_current=True, overdue_alert__isnull=True).first())
            if entry is None:
                continue
            alert = Alert.raise_for(entry.student, entry.level, AlertSource.FOLLOW_UP, now=now)
            entry.overdue_alert = alert
            entry.save(update_fields=["overdue_alert"])
            raised += 1
    return raised


# --- crisis cases -----------------------------------------------------------------------------


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    REVIEW = "review", _("Closure requested")
    CLOSED = "closed", _("Closed")


class Case(models.Model):
    """A crisis case (危机干预). Details live in encrypted records; tier 4."""

    student = models.ForeignKey(Student, on_delete=models.PROTECT, related_name="cases")
    alert = models.ForeignKey(Alert, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="cases")
    status = models.CharField(_("status"), max_length=8, choices=CaseStatus.choices,
                              default=CaseStatus.OPEN)
    lead = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                             related_name="cases_led", verbose_name=_("case lead"))
    members = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="case_teams",
                                     verbose_name=_("case team"))
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("crisis case")
        verbose_name_plural = _("crisis cases")
        ordering = ["-opened_at"]
        # One crisis case at a time per student: a second "open" (page, API, triage, or a race
        # between them) meets this constraint and ends as a Conflict naming the open case.
        constraints = [models.UniqueConstraint(fields=["student"], condition=~Q(status="closed"),
                                               name="one_open_case_per_student")]

    def __str__(self) -> str:
        return f"case #{self.pk}"

    def get_absolute_url(self) -> str:
        from django.urls import reverse

        return reverse("case-detail", args=[self.pk])

    def on_team(self, user: User) -> bool:
        return user.pk == self.lead_id or self.members.filter(pk=user.pk).exists()

    @classmethod
    def open_case_of(cls, student: Student | int) -> Case | None:
        pk = student if isinstance(student, int) else student.pk
        return cls.objects.filter(student_id=pk).exclude(status=CaseStatus.CLOSED).first()

    @classmethod
    def open_for(cls, student: Student, *, by: User, alert: Alert | None = None,
                 lead: User | None = None) -> Case:
        """Open a case; a student who already has one open gets a :class:`CareError` (a
        Conflict) whose ``obj`` is that case — checked by the database, so a race ends the same."""
        with transaction.atomic():
            try:
                with transaction.atomic():
                    case = cls.objects.create(student=student, alert=alert, lead=lead or by,
                                              opened_by=by)
            except IntegrityError:
                raise CareError(_("This student already has an open crisis case."),
                                code="open_case", obj=cls.open_case_of(student)) from None
            TimelineEntry.add(student, "case.open", Tier.RISK, "Crisis case opened", actor=by,
                              at=case.opened_at, link=case.get_absolute_url())
            case._raise_register_level(by)
            if alert is not None:
                alert.resolve_for_case(by, case)
        return case

    # A crisis case means at least this level on the register (issue 10).
    CASE_LEVEL = "orange"

    def _raise_register_level(self, by: User) -> None:
        """Opening a case puts the student on the register at orange at least (red stays red)."""
        entry = RiskEntry.objects.current().filter(student_id=self.student_id).first()
        if entry is not None and entry.level in (RiskLevel.ORANGE, RiskLevel.RED):
            return
        # The stored reason is a plain label in both languages: it is read as written.
        RiskEntry.set_level(self.student, RiskLevel.ORANGE, by=by, reason=CASE_LEVEL_REASON)

    def closure_missing(self) -> list[str]:
        """What closing this case still needs: a safety plan, and — when the student was
        referred — a return-to-school assessment (a referral record with it filled in); and when
        an app above care knows the student came back from a leave of absence without a return
        assessment (``RETURN_CHECKS``), that assessment. Codes: "safety_plan",
        "return_assessment", "return_after_leave"."""
        kinds = list(self.records.filter(kind__in=[RecordKind.SAFETY_PLAN, RecordKind.REFERRAL]))
        missing = []
        if not any(r.kind == RecordKind.SAFETY_PLAN for r in kinds):
            missing.append("safety_plan")
        referrals = [r for r in kinds if r.kind == RecordKind.REFERRAL]
        if referrals and not any(str(r.content.get("return_assessment") or "").strip() for r in referrals):
            missing.append("return_assessment")
        if any(check(self) for check in RETURN_CHECKS):
            missing.append("return_after_leave")
        return missing

    def closure_requester_id(self) -> int | None:
        """Who asked for the closure under review (the reviewer must be someone else)."""
        last = self.records.filter(kind=RecordKind.CLOSURE_REQUEST).order_by("-at", "-id").first()
        return last.author_id if last is not None else None

    def _refuse_if_closed(self) -> None:
        if self.status == CaseStatus.CLOSED:
            raise CareError(_("This case is closed; reopen it before changing it."), code="closed")

    def add_record(self, kind: str, *, author: User, data: dict[str, Any]) -> CaseRecord:
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=self.pk)
            locked._refuse_if_closed()
            record = CaseRecord.objects.create(case=self, kind=kind, author=author,
                                               data=json.dumps(data, ensure_ascii=False))
            TimelineEntry.add(self.student, f"case.{kind}", Tier.CASE, "Case record: %(record)s",
                              actor=author, at=record.at, link=self.get_absolute_url(), record=kind)
        return record

    def set_team(self, by: User, *, lead: User, members: list[User]) -> None:
        """Name the case lead and members (the lead is never also listed as a member)."""
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=self.pk)
            locked._refuse_if_closed()
            Case.objects.filter(pk=self.pk).update(lead=lead)
            self.members.set([m for m in members if m.pk != lead.pk])
            TimelineEntry.add(self.student, "case.team", Tier.CASE, "Case team changed", actor=by,
                              link=self.get_absolute_url())
        self.refresh_from_db()

    def request_closure(self, by: User, summary: str) -> None:
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=self.pk)
            if locked.status != CaseStatus.OPEN:
                raise CareError(_("Only an open case can be put up for closure."), code="state")
            missing = self.closure_missing()
            if missing:
                raise CareError(CLOSURE_NEEDS[missing[0]], code=missing[0])
            CaseRecord.objects.create(case=self, kind=RecordKind.CLOSURE_REQUEST, author=by,
                                      data=json.dumps({"summary": summary}, ensure_ascii=False))
            Case.objects.filter(pk=self.pk).update(status=CaseStatus.REVIEW)
        self.refresh_from_db()

    def close(self, reviewer: User, review: str) -> None:
        """Closure needs the centre director's review (checked by the caller's policy)."""
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=self.pk)
            if locked.status != CaseStatus.REVIEW:
                raise CareError(_("Request closure before the review."), code="state")
            if self.closure_requester_id() == reviewer.pk:
                raise CareError(SELF_REVIEW, code="self_review")
            now = timezone.now()
            CaseRecord.objects.create(case=self, kind=RecordKind.CLOSURE_REVIEW, author=reviewer,
                                      data=json.dumps({"review": review}, ensure_ascii=False))
            Case.objects.filter(pk=self.pk).update(status=CaseStatus.CLOSED, closed_at=now)
            TimelineEntry.add(self.student, "case.close", Tier.RISK, "Crisis case closed",
                              actor=reviewer, at=now, link=self.get_absolute_url())
        self.refresh_from_db()

    def send_back(self, reviewer: User, comment: str) -> None:
        """The reviewer does not close the case yet: back to the team, open, with the comment."""
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=self.pk)
            if locked.status != CaseStatus.REVIEW:
                raise CareError(_("Only a closure under review can be sent back."), code="state")
            if self.closure_requester_id() == reviewer.pk:
                raise CareError(SELF_REVIEW, code="self_review")
            CaseRecord.objects.create(case=self, kind=RecordKind.CLOSURE_RETURNED, author=reviewer,
                                      data=json.dumps({"comment": comment}, ensure_ascii=False))
            Case.objects.filter(pk=self.pk).update(status=CaseStatus.OPEN)
            TimelineEntry.add(self.student, "case.closure_returned", Tier.RISK,
                              "Closure sent back to the case team", actor=reviewer,
                              link=self.get_absolute_url())
        self.refresh_from_db()

    def reopen(self, by: User, reason: str) -> None:
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=self.pk)
            if locked.status != CaseStatus.CLOSED:
                raise CareError(_("Only a closed case can be reopened."), code="state")
            CaseRecord.objects.create(case=self, kind=RecordKind.REOPEN, author=by,
                                      data=json.dumps({"reason": reason}, ensure_ascii=False))
            Case.objects.filter(pk=self.pk).update(status=CaseStatus.OPEN, closed_at=None)
            TimelineEntry.add(self.student, "case.reopen", Tier.RISK, "Crisis case reopened",
                              actor=by, link=self.get_absolute_url())
        self.refresh_from_db()


class RecordKind(models.TextChoices):
    ASSESSMENT = "assessment", _("Risk assessment")
    SAFETY_PLAN = "safety_plan", _("Safety plan")
    GUARDIAN = "guardian", _("Guardian notification")
    REFERRAL = "referral", _("Referral")
    MEASURE = "measure", _("Measure")
    FOLLOW_UP = "follow_up", _("Follow-up")
    NOTE = "note", _("Note")
    CLOSURE_REQUEST = "closure_request", _("Closure requested")
    CLOSURE_REVIEW = "closure_review", _("Closure review")
    CLOSURE_RETURNED = "closure_returned", _("Closure sent back")
    REOPEN = "reopen", _("Reopened")


# Checks registered by apps above care (which care cannot import): each takes a case and says
# whether its student came back from a leave of absence (休学 → 复学) with no return-to-school
# assessment since. Counselling, which records leaves and assessments, registers one at start.
RETURN_CHECKS: list[Callable[[Case], bool]] = []

CLOSURE_NEEDS = {
    "safety_plan": _("Add a safety plan before asking to close the case."),
    "return_assessment": _("The student was referred: record the return-to-school assessment (in a "
                           "referral record) before asking to close the case."),
    "return_after_leave": _("The student came back from a leave of absence: a counsellor records the "
                            "return-to-school assessment (counselling, leave and return) before the "
                            "case can be closed."),
}
SELF_REVIEW = _("Someone other than the person who asked for the closure reviews it.")
CASE_LEVEL_REASON = "危机个案已开案 · crisis case opened"


class CaseRecord(models.Model):
    """A timestamped, attributed record of a case; its content is encrypted JSON."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="records")
    kind = models.CharField(_("kind"), max_length=16, choices=RecordKind.choices)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(default=timezone.now)
    data = EncryptedTextField()

    class Meta:
        ordering = ["at", "id"]
        verbose_name = _("case record")
        verbose_name_plural = _("case records")

    def __str__(self) -> str:
        return f"{self.kind} on case #{self.case_id}"

    @property
    def content(self) -> dict[str, Any]:
        return json.loads(self.data)


class BreakGlass(models.Model):
    """Emergency access to a case by someone outside its team: a typed reason, a short window,
    the centre director notified, and every read marked in the audit trail."""

    WINDOW = dt.timedelta(minutes=30)
    MIN_REASON = 15  # characters: a reason someone could act on, not "look"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="break_glass")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = EncryptedTextField(_("reason"))
    at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()

    class Meta:
        ordering = ["-at"]
        verbose_name = _("break-glass access")
        verbose_name_plural = _("break-glass accesses")

    def __str__(self) -> str:
        return f"break-glass #{self.pk} on case #{self.case_id}"

    @classmethod
    def active_for(cls, case: Case, user: User) -> BreakGlass | None:
        return cls.objects.filter(case=case, user=user, expires_at__gt=timezone.now()).first()


# --- duty rota (值班) -------------------------------------------------------------------------


class ShiftKind(models.TextChoices):
    """A night runs from the end of office hours on ``date`` to their start the next morning;
    a weekend (or holiday) day and the counselling centre's daytime duty are the office-hours
    span of ``date``."""

    NIGHT = "night", _("Night")
    WEEKEND_DAY = "weekend_day", _("Weekend or holiday day")
    DAY = "day", _("Daytime duty counsellor")


class DutyRole(models.TextChoices):
    """The rungs of the duty chain, in the order an unanswered alert climbs them."""

    FIRST_LINE = "first_line", _("First line (辅导员 on rotation)")
    CENTRE = "centre", _("Centre counsellor on duty")
    LEADER = "leader", _("Leader on call")


DUTY_CHAIN = [DutyRole.FIRST_LINE, DutyRole.CENTRE, DutyRole.LEADER]


class DutyShift(models.Model):
    """One person on duty at a school or a college for one shift. The same rota holds the night
    and weekend duty and the counselling centre's daytime duty counsellor."""

    unit = models.ForeignKey("network.Unit", on_delete=models.CASCADE, related_name="duty_shifts",
                             verbose_name=_("school or college"))
    date = models.DateField(_("date"))
    kind = models.CharField(_("shift"), max_length=12, choices=ShiftKind.choices)
    role = models.CharField(_("duty role"), max_length=12, choices=DutyRole.choices)
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="duty_shifts", verbose_name=_("person on duty"))
    # Often the duty person's own mobile: encrypted at rest like every phone number.
    phone = EncryptedTextField(_("duty line"), blank=True,
                               help_text=_("The number to call for this shift, if it has its own."))
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")

    class Meta:
        verbose_name = _("duty shift")
        verbose_name_plural = _("duty shifts")
        ordering = ["date", "kind", "unit_id", "role", "person_id"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "date", "kind", "person"],
                                    name="care_duty_one_person_once_per_shift"),
            models.CheckConstraint(condition=Q(kind__in=ShiftKind.values), name="care_duty_kind_known"),
            models.CheckConstraint(condition=Q(role__in=DutyRole.values), name="care_duty_role_known"),
        ]
        indexes = [models.Index(fields=["date", "kind"])]

    def __str__(self) -> str:
        return f"{self.date} {self.kind} {self.role} at unit #{self.unit_id}"


class DutyLine(models.Model):
    """A school's numbers for the urgent path: the duty line at night (when a shift has no line
    of its own) and the counselling centre's phone in office hours."""

    school = models.OneToOneField("network.Unit", on_delete=models.CASCADE, related_name="duty_line")
    night_phone = EncryptedTextField(_("night duty line"), blank=True)
    centre_phone = EncryptedTextField(_("counselling centre phone (office hours)"), blank=True)

    class Meta:
        verbose_name = _("duty line")
        verbose_name_plural = _("duty lines")

    def __str__(self) -> str:
        return f"duty line of unit #{self.school_id}"


class AlertDuty(models.Model):
    """A duty person an out-of-hours alert reached, and on which rung of the duty chain: while
    the alert is theirs to act on they read it like its responsible people."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="duty_calls")
    person = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(max_length=12, choices=DutyRole.choices)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["alert", "person"],
                                               name="care_alert_duty_once")]

    def __str__(self) -> str:
        return f"duty call on alert #{self.alert_id}"
