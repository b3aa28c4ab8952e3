"""Screening (心理普查): instruments, campaigns, assignments, responses, results and the path from
a positive screen to an interview.

The verbs live here: ``Campaign.launch``, ``Assignment.consent``, ``Assignment.save_answer``,
``Assignment.submit`` (score, raise red alerts for critical items, put screen-positive students
on the interview list) and ``Interview.record`` (sets the risk register in ``care``). A screening
alone never sets a risk level: only the interview outcome does.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Sequence
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop, pgettext_lazy

from xinlian.care.models import Alert, AlertSource, Level, RiskEntry, RiskLevel, Tier, TimelineEntry
from xinlian.lib import hotsql
from xinlian.lib.crypto import EncryptedTextField
from xinlian.network.models import Post, Role, Staff, Student, StudentStatus, Unit, User

from .engine import AnswerError, Definition, builtin_definitions

GUARDIAN_CONSENT_AGE = 14
NATIONAL_HOTLINE = "12356"  # 全国心理援助热线
# The worker acts on a submission within a second; two minutes means it is not running.
ACTIONS_LATE = dt.timedelta(minutes=2)
_SPECS: dict[int, Definition] = {}
_CAMPAIGN_INSTRUMENTS: dict[tuple[int, dt.datetime], list[tuple[int, Instrument]]] = {}
SETTINGS_TTL = 10.0  # seconds a process may act on a rule set or threshold changed elsewhere
_LOCAL: dict[str, tuple[float, Any]] = {}


def _local_cache(name: str, load: Any) -> Any:
    """A small table kept per process for SETTINGS_TTL seconds (see the post_save receivers)."""
    hit = _LOCAL.get(name)
    now = time.monotonic()
    if hit is None or now - hit[0] > SETTINGS_TTL:
        hit = (now, load())
        _LOCAL[name] = hit
    return hit[1]


def clear_local_cache(**_kwargs: Any) -> None:
    _LOCAL.clear()


class ScreeningError(ValidationError):
    """A refused action with a reason a respondent or staff member can read."""


# --- instruments and rule sets ------------------------------------------------------------------


class Instrument(models.Model):
    """One version of an instrument: the validated file, as shipped or as a centre uploaded it.

    Campaigns point at a row, so a result can always be traced to the exact file it was scored
    with. Official wording loaded by ``xinlian instruments load-text`` lives in ``wording``;
    scoring never reads it."""

    code = models.CharField(_("code"), max_length=24)
    version = models.CharField(_("version"), max_length=16)
    definition = models.JSONField(_("definition"))
    builtin = models.BooleanField(_("shipped with Xinlian"), default=False)
    wording = models.JSONField(_("official wording"), default=dict, blank=True)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["code", "version"]
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="instrument_code_version")]
        verbose_name = _("instrument")
        verbose_name_plural = _("instruments")

    def __str__(self) -> str:
        return f"{self.display_name} v{self.version}"

    @property
    def spec(self) -> Definition:
        # A row's definition is never edited (a changed file is a new version), so the parsed
        # form is shared by every request of the process.
        # Checked once per instance (the same pk can be reused by a test database).
        spec = self.__dict__.get("_spec")
        if spec is None:
            spec = _SPECS.get(self.pk) if self.pk else None
            if spec is None or spec.data != self.definition:
                spec = Definition(self.definition)
                if self.pk:
                    _SPECS[self.pk] = spec
            self.__dict__["_spec"] = spec
        return spec

    @property
    def display_name(self) -> str:
        return self.spec.label(self.spec.name)

    @property
    def short_name(self) -> str:
        return self.definition.get("short_name") or self.code

    @property
    def licence_status(self) -> str:
        return self.spec.licence["status"]

    @property
    def licence_note(self) -> str:
        return self.spec.label(self.spec.licence["note"])

    @property
    def is_restricted(self) -> bool:
        return self.licence_status == "restricted"

    def item_text(self, number: int, lang: str | None = None) -> str:
        """The official wording if the school loaded it, else our own description."""
        from django.utils.translation import get_language

        lang_key = "en" if (lang or get_language() or "").lower().startswith("en") else "zh-Hans"
        loaded = self.wording.get(lang_key, {}).get(str(number))
        if loaded:
            return loaded
        item = self.spec.items[self.spec.column[number]]
        return self.spec.label(item.text, lang)

    @classmethod
    def sync_builtin(cls) -> int:
        """Insert shipped instrument versions that are not in the database yet (idempotent; a
        shipped version is never edited in place: a changed file must bump its version)."""
        made = 0
        for code, spec in builtin_definitions().items():
            _obj, created = cls.objects.get_or_create(
                code=code, version=spec.version, defaults={"definition": spec.data, "builtin": True})
            made += created
        return made

    @classmethod
    def upload(cls, text: str | bytes, *, by: User | None, filename: str = "") -> Instrument:
        """A centre's own instrument, in the same format (validated; every error listed)."""
        spec = Definition.from_text(text, filename)
        if spec.code in builtin_definitions():
            raise ScreeningError(_("%(code)s is the code of a shipped instrument; choose another code."),
                                 params={"code": spec.code}, code="builtin_code")
        if cls.objects.filter(code=spec.code, version=spec.version).exists():
            raise ScreeningError(_("%(code)s version %(version)s is already loaded; raise the version."),
                                 params={"code": spec.code, "version": spec.version}, code="exists")
        return cls.objects.create(code=spec.code, version=spec.version, definition=spec.data,
                                  uploaded_by=by)

    @classmethod
    def latest(cls, code: str) -> Instrument | None:
        rows = list(cls.objects.filter(code=code))
        return max(rows, key=lambda r: [int(p) if p.isdigit() else p for p in r.version.split(".")],
                   default=None)


class RuleSet(models.Model):
    """A centre's choice on the thresholds sources dispute (the instrument file's ``settings``).

    The active rule set of an instrument code scores every new response; its ``version`` is
    stored with each result. Without one, the file's defaults and ``rules_version`` apply."""

    instrument_code = models.CharField(_("instrument"), max_length=24)
    version = models.CharField(_("rule version"), max_length=24)
    overrides = models.JSONField(_("settings"), default=dict)
    note = models.TextField(_("why"), blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["instrument_code", "version"], name="ruleset_version"),
            models.UniqueConstraint(fields=["instrument_code"], condition=Q(active=True),
                                    name="one_active_ruleset"),
        ]
        verbose_name = _("rule set")
        verbose_name_plural = _("rule sets")

    def __str__(self) -> str:
        return f"{self.instrument_code} {self.version}"

    def clean(self) -> None:
        from .engine import SettingsError

        inst = Instrument.latest(self.instrument_code)
        if inst is None:
            raise ValidationError({"instrument_code": _("Unknown instrument.")})
        try:
            inst.spec.effective_settings(self.overrides)
        except SettingsError as exc:
            raise ValidationError({"overrides": exc.errors}) from exc

    @classmethod
    def active_overrides(cls, codes: list[str]) -> dict[str, tuple[dict[str, Any], str]]:
        """code → (overrides, rule version) of the active rule sets. Read at every submit, so
        the whole (small) table is kept per process for a few seconds; a change in this process
        clears it at once, other processes see it within ``SETTINGS_TTL`` seconds."""
        table = _local_cache("rulesets", lambda: {
            code: (overrides, version) for code, overrides, version in
            cls.objects.filter(active=True).values_list("instrument_code", "overrides", "version")})
        return {code: table[code] for code in codes if code in table}

    @classmethod
    def effective(cls, instrument: Instrument, version: str | None = None) -> tuple[dict[str, Any], str]:
        """(settings, rule version) for scoring ``instrument``: the named rule set, else the
        active one, else the file's defaults."""
        qs = cls.objects.filter(instrument_code=instrument.code)
        rs = qs.filter(version=version).first() if version else qs.filter(active=True).first()
        if version and rs is None and version != instrument.spec.rules_version:
            raise ScreeningError(_("No rule version %(v)s for %(code)s."),
                                 params={"v": version, "code": instrument.code}, code="rules")
        if rs is None:
            return instrument.spec.effective_settings(), instrument.spec.rules_version
        return instrument.spec.effective_settings(rs.overrides), rs.version


class CentreSettings(models.Model):
    """Per-school screening settings: help resources shown after submit, quality and interview
    deadlines."""

    school = models.OneToOneField(Unit, on_delete=models.CASCADE, related_name="screening_settings")
    help_phone = models.CharField(_("centre phone"), max_length=64, blank=True)
    help_hours = models.CharField(_("centre opening hours"), max_length=128, blank=True)
    help_place = models.CharField(_("centre location"), max_length=128, blank=True)
    help_text = models.TextField(_("other help (shown after submit)"), blank=True)
    hotline = models.CharField(_("national hotline"), max_length=32, default=NATIONAL_HOTLINE)
    min_median_seconds = models.FloatField(
        _("too fast: median seconds per item below"), default=1.5,
        help_text=_("A response answered faster than this per item gets a quality flag."))
    interview_days = models.PositiveSmallIntegerField(_("days to interview a positive screen"), default=7)
    urgent_interview_days = models.PositiveSmallIntegerField(
        _("days to interview after a critical item"), default=1)

    class Meta:
        verbose_name = _("screening settings")
        verbose_name_plural = _("screening settings")

    def __str__(self) -> str:
        return str(self.school)

    @property
    def hotline_number(self) -> str:
        """The hotline to show: never empty, even when a centre cleared the field."""
        return self.hotline or NATIONAL_HOTLINE

    @classmethod
    def min_median_for(cls, school_id: int) -> float:
        """The too-fast threshold, read at every submit (per-process cache like rule sets)."""
        table = _local_cache("min_median", lambda: dict(
            cls.objects.values_list("school_id", "min_median_seconds")))
        return table.get(school_id, cls._meta.get_field("min_median_seconds").default)

    @classmethod
    def cached_for_school(cls, school_id: int) -> CentreSettings:
        """``for_school`` by the school's pk, read at most every SETTINGS_TTL seconds in this
        process (saving settings clears it here at once): the help shown after every submit."""
        return _local_cache(f"centre:{school_id}", lambda: cls.objects.filter(school_id=school_id).first()
                            or cls(school_id=school_id))

    @classmethod
    def for_school(cls, school: Unit | None) -> CentreSettings:
        """The school's settings, or the defaults (unsaved) when the centre set none: reading
        help resources on a page must not write a row."""
        found = cls.objects.filter(school=school).first() if school is not None else None
        return found or cls(school=school)


# --- campaigns ---------------------------------------------------------------------------------


class Visibility(models.TextChoices):
    CENTRE_AND_FUDAOYUAN = "centre_fudaoyuan", _("Centre staff and the student's 辅导员")
    CENTRE_ONLY = "centre", _("Centre staff only")


class CampaignStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SCHEDULED = "scheduled", _("Not yet open")
    OPEN = "open", pgettext_lazy("campaign", "Open")
    CLOSED = "closed", pgettext_lazy("campaign", "Closed")


class Campaign(models.Model):
    school = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="campaigns",
                               verbose_name=_("school"))
    name = models.CharField(_("name"), max_length=128)
    instruments = models.ManyToManyField(Instrument, through="CampaignInstrument",
                                         verbose_name=_("instruments"))
    units = models.ManyToManyField(Unit, blank=True, related_name="+", verbose_name=_("units"),
                                   help_text=_("Everyone in these units' subtrees is invited."))
    cohort = models.PositiveSmallIntegerField(
        _("cohort (enrolment year)"), null=True, blank=True,
        help_text=_("Only students of this enrolment year, e.g. 2026 for 2026级."))
    include_staff = models.BooleanField(_("staff take it too"), default=False)
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"))
    purpose = models.TextField(_("purpose and who sees the results (consent text)"))
    consent_version = models.PositiveIntegerField(_("consent version"), default=1)
    visibility = models.CharField(_("who sees results"), max_length=16, choices=Visibility.choices,
                                  default=Visibility.CENTRE_AND_FUDAOYUAN)
    extra_critical = models.JSONField(
        _("extra critical items switched on"), default=list, blank=True,
        help_text=_("Optional critical items (e.g. SCL-90 item 15) that raise a red alert too."))
    created_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    launched_at = models.DateTimeField(_("launched"), null=True, blank=True)

    class Meta:
        ordering = ["-opens_at", "-pk"]
        verbose_name = _("screening campaign")
        verbose_name_plural = _("screening campaigns")

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("screening:campaign-detail", args=[self.pk])

    def clean(self) -> None:
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValidationError({"closes_at": _("The window must close after it opens.")})

    def status(self, now: dt.datetime | None = None) -> str:
        now = now or timezone.now()
        if self.launched_at is None:
            return CampaignStatus.DRAFT
        if now < self.opens_at:
            return CampaignStatus.SCHEDULED
        if now >= self.closes_at:
            return CampaignStatus.CLOSED
        return CampaignStatus.OPEN

    def get_status_display(self) -> str:
        return str(CampaignStatus(self.status()).label)

    def is_open(self, now: dt.datetime | None = None) -> bool:
        return self.status(now) == CampaignStatus.OPEN

    def ordered_instruments(self) -> list[Instrument]:
        return [ci.instrument for ci in self.campaign_instruments.select_related("instrument")]

    @classmethod
    def cached(cls, pk: int) -> Campaign:
        """The campaign, read at most every SETTINGS_TTL seconds in this process (saving one
        clears it here at once): for the submit, which needs its name, school and alert policy."""
        return _local_cache(f"campaign:{pk}", lambda: cls.objects.get(pk=pk))

    def scoring_instruments(self) -> list[tuple[int, Instrument]]:
        """(campaign-instrument pk, instrument) in order. The list cannot change once the campaign
        is launched, so launched campaigns share it across requests (keyed with the creation time
        as well: a test database may reuse a pk)."""
        key = (self.pk, self.created_at)
        cached = _CAMPAIGN_INSTRUMENTS.get(key)
        if cached is None:
            cached = [(ci.pk, ci.instrument) for ci in self.campaign_instruments.select_related("instrument")]
            if self.launched_at is not None:
                _CAMPAIGN_INSTRUMENTS[key] = cached
        return cached

    def restricted_instruments(self) -> list[Instrument]:
        return [i for i in self.ordered_instruments() if i.is_restricted]

    def audience_students(self) -> models.QuerySet[Student]:
        units = list(self.units.all()) or [self.school]
        qs = Student.objects.in_units(units).filter(status=StudentStatus.ENROLLED)
        if self.cohort:
            qs = qs.filter(enrolment_year=self.cohort)
        return qs

    def audience_staff(self) -> models.QuerySet[User]:
        if not self.include_staff:
            return User.objects.none()
        units = list(self.units.all()) or [self.school]
        q = Q()
        for u in units:
            q |= Q(unit__path__startswith=u.path)
        posted = Post.objects.active().filter(q).values("person_id")
        departments = Staff.objects.filter(
            department__in=Unit.objects.subtree_of(units)).values("user_id")
        return User.objects.filter(Q(pk__in=posted) | Q(pk__in=departments), kind="staff", is_active=True)

    def launch(self, by: User, now: dt.datetime | None = None) -> int:
        """Invite the audience (again: newcomers are added, nobody is invited twice)."""
        now = now or timezone.now()
        with transaction.atomic():
            if self.launched_at is None:
                Campaign.objects.filter(pk=self.pk).update(launched_at=now)
                self.launched_at = now
            have = set(self.assignments.values_list("user_id", flat=True))
            rows = [Assignment(campaign=self, user_id=s.user_id, student=s, unit_at_invite_id=s.klass_id)
                    for s in self.audience_students().only("pk", "user_id", "klass_id")
                    if s.user_id not in have]
            rows += [Assignment(campaign=self, user=u) for u in self.audience_staff()
                     if u.pk not in have]
            Assignment.objects.bulk_create(rows, batch_size=2000, ignore_conflicts=True)
        return len(rows)

    def optional_critical_on(self, instrument: Instrument) -> dict[str, bool]:
        """Settings overrides that switch on the optional critical items this campaign chose."""
        chosen = set(self.extra_critical or [])
        out = {}
        for c in instrument.spec.optional_critical():
            if f"{instrument.code}:{c['id']}" in chosen:
                out[c["enabled"][1:]] = True
        return out

    def late_actions(self, now: dt.datetime | None = None) -> dict[str, Any] | None:
        """Submissions whose alert or interview the worker has still not made ACTIONS_LATE after
        the submit — a stopped worker — with the oldest one's age in minutes; None when none."""
        now = now or timezone.now()
        late = self.assignments.filter(action_due__in=(SubmitAction.URGENT, SubmitAction.INTERVIEW),
                                       submitted_at__lt=now - ACTIONS_LATE).aggregate(
            n=Count("pk"), oldest=Min("submitted_at"))
        if not late["n"]:
            return None
        return {"count": late["n"], "minutes": int((now - late["oldest"]).total_seconds() // 60)}

    def progress(self, assignments: models.QuerySet[Assignment]) -> dict[str, int]:
        counts = dict(assignments.values_list("status").annotate(n=Count("pk")))
        invited = sum(counts.values())
        return {
            "invited": invited,
            "started": counts.get(AssignmentStatus.IN_PROGRESS, 0),
            "completed": counts.get(AssignmentStatus.SUBMITTED, 0),
            "declined": counts.get(AssignmentStatus.DECLINED, 0),
            "not_started": counts.get(AssignmentStatus.INVITED, 0),
        }


class CampaignInstrument(models.Model):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="campaign_instruments")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "pk"]
        constraints = [models.UniqueConstraint(fields=["campaign", "instrument"], name="campaign_instrument_once")]

    def __str__(self) -> str:
        return f"{self.campaign} #{self.order} {self.instrument.code}"


# --- assignments and responses -----------------------------------------------------------------


class AssignmentStatus(models.TextChoices):
    INVITED = "invited", _("Not started")
    IN_PROGRESS = "in_progress", _("Started")
    SUBMITTED = "submitted", _("Completed")
    DECLINED = "declined", pgettext_lazy("consent", "Declined")


class SubmitAction(models.IntegerChoices):
    """What a submission still asks of the network. The worker does it, most urgent first
    (the lower value), within a second of the submit: see ``act_on_submissions``. Each one
    includes the student's chronology line."""

    URGENT = 1, _("red alert and urgent interview")
    INTERVIEW = 2, _("interview")
    RECORD = 3, _("chronology line")

    @classmethod
    def for_results(cls, results: list[Result]) -> SubmitAction | None:
        if any(r.critical for r in results):
            return cls.URGENT
        if any(r.positive for r in results):
            return cls.INTERVIEW
        return None


class Assignment(models.Model):
    """One person's invitation to a campaign, their consent, and their submission."""

    # No index of its own: the unique (campaign, user) and the (campaign, status) index both
    # lead with it, and every submit's UPDATE writes to each index of the table.
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="assignments", db_index=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="screening_assignments")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="screening_assignments")
    # The class when invited; progress and access follow the student's class *now*.
    unit_at_invite = models.ForeignKey(Unit, on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+")
    status = models.CharField(_("status"), max_length=12, choices=AssignmentStatus.choices,
                              default=AssignmentStatus.INVITED)
    consent_agreed = models.BooleanField(_("agreed"), null=True)
    consent_version = models.PositiveIntegerField(null=True, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)
    guardian_consent_at = models.DateTimeField(_("guardian consent recorded"), null=True, blank=True)
    guardian_consent_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True,
                                            related_name="+")
    guardian_consent_note = models.CharField(_("how the guardian consented"), max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submit_key = models.CharField(max_length=64, blank=True)
    # What the submission still asks of the worker (SubmitAction), set by the claim and raised to
    # URGENT or INTERVIEW by a critical or positive result; cleared in the worker's transaction
    # that does it. An outbox in the row itself: the submit inserts no job row.
    action_due = models.PositiveSmallIntegerField(choices=SubmitAction.choices, null=True, blank=True)
    # Counts the batches of answers saved (under the row lock, ``save_answers``): the submit that
    # reads and scores the answers before it claims (``submit_own``) claims only if no batch
    # landed in between, so it never scores answers older than the ones kept.
    answers_rev = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "user"], name="assignment_once")]
        indexes = [models.Index(fields=["campaign", "status"]),
                   models.Index(fields=["action_due", "submitted_at"], name="assignment_action_due",
                                condition=Q(action_due__isnull=False))]
        verbose_name = _("screening assignment")

    def __str__(self) -> str:
        return f"{self.campaign} — {self.user}"

    def get_absolute_url(self) -> str:
        return reverse("screening:take", args=[self.pk])

    # --- consent --------------------------------------------------------------------------------

    @property
    def needs_guardian_consent(self) -> bool:
        """A student under 14 (on the day the window opens) starts only after staff record the
        guardian's consent."""
        if self.student_id is None or self.guardian_consent_at is not None:
            return False
        age = self.student.age(self.campaign.opens_at.date())
        return age is not None and age < GUARDIAN_CONSENT_AGE

    def record_guardian_consent(self, by: User, note: str) -> None:
        with transaction.atomic():
            Assignment.objects.filter(pk=self.pk).update(
                guardian_consent_at=timezone.now(), guardian_consent_by=by,
                guardian_consent_note=note[:200])
            if self.student_id:
                TimelineEntry.add(self.student, "screening.guardian_consent", Tier.RISK,
                                  "Guardian consent recorded for screening %(campaign)s",
                                  actor=by, campaign=self.campaign.name)
        self.refresh_from_db()

    def consent(self, agree: bool, version: int, now: dt.datetime | None = None) -> None:
        """Agree or decline (recorded with the consent version and time). A decline can be
        changed to an agreement while the window is open; an agreement cannot be withdrawn
        once answers are submitted."""
        now = now or timezone.now()
        self._refuse_unless_open(now)
        if self.needs_guardian_consent:
            raise ScreeningError(_("Your guardian's consent has not been recorded yet. Please ask "
                                   "your head teacher."), code="guardian")
        if version != self.campaign.consent_version:
            raise ScreeningError(_("The consent text has changed; please read it again."), code="version")
        if self.status == AssignmentStatus.SUBMITTED:
            raise ScreeningError(_("You have already completed this screening."), code="submitted")
        status = (AssignmentStatus.IN_PROGRESS if self.responses.exists() else AssignmentStatus.INVITED) \
            if agree else AssignmentStatus.DECLINED
        Assignment.objects.filter(pk=self.pk).update(consent_agreed=agree, consent_version=version,
                                                     consent_at=now, status=status)
        self.refresh_from_db()

    @property
    def may_answer(self) -> bool:
        return self._answerable(self.status, self.consent_agreed, self.consent_version)

    def _answerable(self, status: str, agreed: bool | None, version: int | None) -> bool:
        return (agreed is True and version == self.campaign.consent_version
                and status in (AssignmentStatus.INVITED, AssignmentStatus.IN_PROGRESS))

    def _refuse_unless_answerable_now(self) -> None:
        """Re-read the state under the row lock submit() takes (call inside a transaction): a
        submit from a double tap or another device may have landed since this instance was read."""
        # One UPDATE both locks the row and counts this batch (``answers_rev``); a refusal below
        # rolls the count back with the transaction.
        if connection.features.can_return_columns_from_insert:  # UPDATE … RETURNING (SQLite 3.35+)
            with connection.cursor() as cursor:
                cursor.execute("UPDATE screening_assignment SET answers_rev = answers_rev + 1 WHERE id = %s "
                               "RETURNING status, consent_agreed, consent_version", [self.pk])
                status, agreed, version = cursor.fetchone()
        else:
            status, agreed, version = (Assignment.objects.select_for_update().filter(pk=self.pk)
                                       .values_list("status", "consent_agreed", "consent_version").get())
            Assignment.objects.filter(pk=self.pk).update(answers_rev=models.F("answers_rev") + 1)
        if not self._answerable(status, None if agreed is None else bool(agreed), version):
            raise ScreeningError(_("This screening cannot be answered now."), code="state")

    def _refuse_unless_open(self, now: dt.datetime) -> None:
        status = self.campaign.status(now)
        if status == CampaignStatus.SCHEDULED or status == CampaignStatus.DRAFT:
            raise ScreeningError(_("This screening is not open yet."), code="not_open")
        if status == CampaignStatus.CLOSED:
            raise ScreeningError(_("This screening has closed."), code="closed")

    # --- answering ------------------------------------------------------------------------------

    def save_answer(self, ci_pk: int, item: int, value: int, seconds: float | None = None,
                    now: dt.datetime | None = None) -> None:
        """Keep one answer (and the seconds spent on it) at once: the student can close the page
        and resume on another device. Re-sending the same answer changes nothing."""
        self.save_answers([(ci_pk, item, value, seconds)], now)

    def save_answers(self, entries: list[tuple[int, int, Any, float | None]],
                     now: dt.datetime | None = None) -> dict[int, list[int]]:
        """Keep a batch of answers ``(campaign_instrument pk, item, value, seconds)`` — all or
        none: one bad value refuses the batch with its reason. Returns, per questionnaire, the
        items now shown (skip logic may hide or reveal some)."""
        now = now or timezone.now()
        self._refuse_unless_open(now)
        if not self.may_answer:
            raise ScreeningError(_("This screening cannot be answered now."), code="state")
        instruments = dict(self.campaign.scoring_instruments())
        by_ci: dict[int, list[tuple[int, Any, float | None]]] = {}
        for ci_pk, item, value, seconds in entries:
            inst = instruments.get(ci_pk)
            if inst is None:
                raise ScreeningError(_("Unknown questionnaire."), code="unknown_instrument")
            errors = inst.spec.check_answers({item: value}, complete=False)
            if errors:
                raise ScreeningError(answer_error_message(errors[0]), code=errors[0].code)
            by_ci.setdefault(ci_pk, []).append((item, value, seconds))
        visible: dict[int, list[int]] = {}
        with transaction.atomic():
            self._refuse_unless_answerable_now()
            for ci_pk, rows in by_ci.items():
                resp, _created = Response.objects.get_or_create(assignment=self, campaign_instrument_id=ci_pk)
                data = resp.payload
                for item, value, seconds in rows:
                    data["answers"][str(item)] = value
                    if isinstance(seconds, int | float) and 0 <= seconds < 3600:
                        data["seconds"][str(item)] = round(float(seconds), 2)
                resp.payload = data
                resp.save(update_fields=["data", "updated_at"])
                visible[ci_pk] = instruments[ci_pk].spec.visible_items(resp.answers)
            if self.status == AssignmentStatus.INVITED:
                Assignment.objects.filter(pk=self.pk, status=AssignmentStatus.INVITED).update(
                    status=AssignmentStatus.IN_PROGRESS, started_at=now)
                self.status = AssignmentStatus.IN_PROGRESS
        return visible

    def answers_by_instrument(self) -> dict[int, dict[int, int]]:
        return {r.campaign_instrument_id: r.answers for r in self.responses.all()}

    def submit(self, key: str, now: dt.datetime | None = None) -> SubmitOutcome:
        """Score every questionnaire once, and leave what must follow to the worker.

        ``key`` comes from the client; a double tap, a retry after a timeout or a replay finds the
        assignment already submitted and gets the first outcome back without a second response.
        Everything happens in one transaction: a crash leaves the questionnaire unsubmitted with
        every answer kept.

        The submission is marked ``action_due``; within a second the worker writes the student's
        chronology line and, for a critical or positive result, raises the red alert and opens
        the interview (``act_on_submissions``). A freshman class submitting at once is then not
        slowed by the alert ladder, whose work is five times the scoring's."""
        now = now or timezone.now()
        if not key or len(key) > 64:
            raise ScreeningError(_("Missing submission key."), code="key")
        with transaction.atomic():
            self._refuse_unless_open(now)
            # Claim the submission first: one UPDATE checks the state and takes the row lock that
            # save_answers() takes too, so no answer changes while we score. Anything raised below
            # rolls the claim back with the rest.
            if not self._claim(key, now):
                status = Assignment.objects.filter(pk=self.pk).values_list("status", flat=True).get()
                if status == AssignmentStatus.SUBMITTED:
                    return SubmitOutcome(self, replay=True)
                raise ScreeningError(_("This screening cannot be answered now."), code="state")
            return self._score(key, now)

    @classmethod
    def submit_own(cls, pk: int, user: User, key: str, now: dt.datetime | None = None,
                   found: Sequence[Sequence[Any]] | None = None) -> SubmitOutcome | None:
        """``submit`` for the respondent's own assignment in the fewest statements — the busiest
        request of a freshman week. The saved answers are read (with the assignment's ids, no lock)
        and scored first; then one UPDATE checks the owner, the state, the consent version and the
        window while it claims, and the results go in: on PostgreSQL in that same statement (a
        data-modifying WITH, all or nothing without a transaction of its own: three round trips
        fewer than BEGIN, claim, read, insert, COMMIT), on SQLite in a transaction that holds the
        database's write lock for those two statements only, not for the scoring (the other
        server processes' writes wait on that lock). The claim holds only if no batch of answers
        was saved since the read (``answers_rev``, checked on the claimed row itself, so even a
        save that commits while the claim waits for the lock is seen). None when the claim claims
        nothing or the answers are incomplete: the caller then loads the assignment and
        ``submit`` says why, scoring the answers then kept (or answers a replay).

        ``found``: the answers as read already with the user (``own_answers_rows``), the rows of
        the read this would make; None to read them here."""
        now = now or timezone.now()
        # UPDATE … RETURNING / INSERT … RETURNING: PostgreSQL, and SQLite from 3.35.
        if not key or len(key) > 64 or not connection.features.can_return_columns_from_insert:
            return None
        if found is None:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT {_OWN_ANSWERS_COLUMNS} {_OWN_ANSWERS_FROM} a.id = %s AND a.user_id = %s "
                               f"{_OWN_ANSWERS_OPEN}",
                               [pk, user.pk, *OPEN_STATES])
                found = cursor.fetchall()
        if not found:
            return None
        campaign_id, student_id, rev = found[0][:3]
        data = Response._meta.get_field("data")
        payloads = {ci_pk: (resp_pk, json.loads(data.from_db_value(raw, None, connection) or "{}"))
                    for _c, _s, _r, resp_pk, ci_pk, raw in found if resp_pk is not None}
        assignment = cls(pk=pk, campaign_id=campaign_id, user_id=user.pk, student_id=student_id)
        # The campaign's name, school and alert policy, at most SETTINGS_TTL seconds old (its
        # window and consent version are checked by the claim, in the database).
        cls.campaign.field.set_cached_value(assignment, Campaign.cached(campaign_id))
        try:
            rows, action = assignment._scored(payloads, now)
        except ScreeningError:
            return None
        if not rows:  # nothing to score: the long way says why
            return None
        stamp = Assignment._meta.get_field("submitted_at").get_db_prep_save(now, connection)
        params = [*_claim_params(key, stamp, pk), user.pk, stamp, stamp, rev]
        params[3] = int(action or SubmitAction.RECORD)  # the CASE's mark: with the results at once
        claim = f"{_CLAIM_SQL} AND {_OWN_SQL} AND answers_rev = %s"
        if connection.vendor == "postgresql":
            claimed = hotsql.insert_claimed(rows, f"{claim} RETURNING id", params)
        else:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(claim, params)
                    claimed = cursor.rowcount == 1
                if claimed:
                    hotsql.insert(rows)
        if not claimed:
            return None
        return assignment._submitted(key, now, rows, action)

    def _claim(self, key: str, now: dt.datetime) -> bool:
        """One UPDATE checks the state and claims (SQL by hand: see xinlian/lib/hotsql.py)."""
        stamp = Assignment._meta.get_field("submitted_at").get_db_prep_save(now, connection)
        with connection.cursor() as cursor:
            cursor.execute(f"{_CLAIM_SQL} AND consent_version = %s",
                           [*_claim_params(key, stamp, self.pk), self.campaign.consent_version])
            return cursor.rowcount == 1

    def _score(self, key: str, now: dt.datetime) -> SubmitOutcome:
        """Score the claimed submission (inside the claim's transaction) and mark what follows."""
        payloads = {ci_pk: (resp_pk, json.loads(data or "{}"))
                    for resp_pk, ci_pk, data in Response.rows_of(self.pk)}
        rows, action = self._scored(payloads, now)
        # The claim marked a student's submission RECORD; a critical or positive result asks
        # more: that mark goes with the results (on PostgreSQL in the INSERT's statement).
        hotsql.insert(rows, along=None if action is None else (
            "UPDATE screening_assignment SET action_due = %s WHERE id = %s", [int(action), self.pk]))
        return self._submitted(key, now, rows, action)

    def _scored(self, payloads: dict[int, tuple[int, dict[str, Any]]],
                now: dt.datetime) -> tuple[list[Result], SubmitAction | None]:
        """The unsaved results of the saved answers ``{campaign instrument: (response, payload)}``
        and what the submission asks of the worker beyond its chronology line (a student's
        critical or positive result); ScreeningError ``incomplete`` if any answer is missing."""
        campaign = self.campaign
        instruments = campaign.scoring_instruments()
        rules = RuleSet.active_overrides([inst.code for _ci, inst in instruments])
        min_median = CentreSettings.min_median_for(campaign.school_id)
        incomplete = []
        rows = []
        for ci_pk, inst in instruments:
            resp_pk, payload = payloads.get(ci_pk, (None, {}))
            answers = {int(k): v for k, v in payload.get("answers", {}).items()}
            spec = inst.spec
            if resp_pk is None or spec.check_answers(answers):
                incomplete.append(inst.short_name)
                continue
            overrides, rule_version = rules.get(inst.code, ({}, spec.rules_version))
            settings = spec.effective_settings({**overrides, **campaign.optional_critical_on(inst)})
            result = spec.score_matrix(spec.matrix([answers]), settings).row(0)
            result["rule_version"] = rule_version
            times = sorted(payload.get("seconds", {}).values())
            if times and times[len(times) // 2] < min_median:
                result["flags"].append("too_fast")
            rows.append(Result.build(self, resp_pk, inst, result, now))
        if incomplete:
            raise ScreeningError(_("Some questions are not answered yet: %(names)s."),
                                 params={"names": "、".join(incomplete)}, code="incomplete")
        return rows, SubmitAction.for_results(rows) if self.student_id is not None else None

    def _submitted(self, key: str, now: dt.datetime, rows: list[Result],
                   action: SubmitAction | None) -> SubmitOutcome:
        self.status, self.submitted_at, self.submit_key = AssignmentStatus.SUBMITTED, now, key
        self.action_due = action or (SubmitAction.RECORD if self.student_id is not None else None)
        return SubmitOutcome(self, replay=False, results=rows)

    def act_now(self, now: dt.datetime | None = None) -> SubmitOutcome:
        """Write the chronology line, then raise the red alert and open the interview the
        submission asks for, exactly once: the worker calls it with the row locked; the mark is
        cleared in the same transaction."""
        outcome = SubmitOutcome(self, replay=False, results=list(self.results.all()))
        with transaction.atomic():
            _record_submissions([(self.student_id, self.submitted_at, self.campaign.name)])
            outcome.act(now or timezone.now())
            Assignment.objects.filter(pk=self.pk).update(action_due=None)
            self.action_due = None
        return outcome


# The claim shared by submit() and submit_own(): the state check and the RECORD mark for a
# student's submission (a staff respondent's asks nothing of the worker).
_CLAIM_SQL = ("UPDATE screening_assignment SET status = %s, submitted_at = %s, submit_key = %s, "
              "action_due = CASE WHEN student_id IS NULL THEN NULL ELSE %s END "
              "WHERE id = %s AND status IN (%s, %s) AND consent_agreed = %s")


# submit_own's read: the assignment's ids and revision with each saved response (params: the
# assignment, the owner, the states it may be submitted from).
_OWN_ANSWERS_COLUMNS = "a.campaign_id, a.student_id, a.answers_rev, r.id, r.campaign_instrument_id, r.data"
_OWN_ANSWERS_FROM = "FROM screening_assignment a LEFT JOIN screening_response r ON r.assignment_id = a.id WHERE"
_OWN_ANSWERS_OPEN = "AND a.status IN (%s, %s)"
OPEN_STATES = (AssignmentStatus.INVITED.value, AssignmentStatus.IN_PROGRESS.value)


def own_answers_sql(vendor: str) -> str:
    """submit_own's read as one scalar over the user row ``t`` (params: OPEN_STATES), for the
    submit views to load with the user (``hotsql.user_columns``; one round trip fewer): the rows
    of every assignment the person may submit now, each led by the assignment's id, packed in a
    JSON array, ``[]`` when none (``own_answers_rows`` picks the one submitted). All of them,
    not the one in the path: the user is loaded before Django resolves the path (the two-step
    check asks first), and a person has one or two open at a time."""
    pack, agg, empty = (("json_build_array", "json_agg", "json_build_array()") if vendor == "postgresql"
                        else ("json_array", "json_group_array", "json_array()"))
    return (f"SELECT COALESCE({agg}({pack}(a.id, {_OWN_ANSWERS_COLUMNS})), {empty}) "
            f"{_OWN_ANSWERS_FROM} a.user_id = t.id {_OWN_ANSWERS_OPEN}")


def own_answers_rows(value: Any, pk: int) -> list[list[Any]] | None:
    """The rows of assignment ``pk`` in ``own_answers_sql``'s value (JSON text or, as
    PostgreSQL's driver may return it, already decoded), as ``submit_own`` reads them: ``[]``
    when it is not among them; None when the value was not loaded."""
    if value is None:
        return None
    rows = json.loads(value) if isinstance(value, str | bytes) else value
    return [row[1:] for row in rows if row[0] == pk]


# The respondent's own, in the campaign's window, under the consent text now in force (with
# params user pk, now, now): submit_own's checks, made by the claim itself.
_OWN_SQL = ("user_id = %s AND consent_version = (SELECT c.consent_version FROM screening_campaign c "
            "WHERE c.id = screening_assignment.campaign_id AND c.launched_at IS NOT NULL "
            "AND c.opens_at <= %s AND c.closes_at > %s)")


def _claim_params(key: str, stamp: Any, pk: int) -> list[Any]:
    return [AssignmentStatus.SUBMITTED.value, stamp, key, int(SubmitAction.RECORD), pk,
            AssignmentStatus.INVITED.value, AssignmentStatus.IN_PROGRESS.value, True]


def _record_submissions(rows: list[tuple[int, dt.datetime, str]]) -> None:
    """The chronology line of each submission ``(student pk, submitted at, campaign name)``."""
    hotsql.insert([TimelineEntry(student_id=student, kind="screening.submit", tier=Tier.RISK,
                                 text="Completed screening %(campaign)s", params={"campaign": name}, at=at)
                   for student, at, name in rows])


# How many plain submissions (a chronology line each) one transaction of the worker records.
RECORD_BATCH = 500


def act_on_submissions(batch: int = 200) -> int:
    """The worker's job: act on submissions marked ``action_due``, critical items first, each
    exactly once even with several workers (row locked with SKIP LOCKED, as for escalations;
    on SQLite the write lock of BEGIN IMMEDIATE serialises the claims). Submissions that ask
    only for their chronology line are recorded RECORD_BATCH at a time."""
    done = 0
    for _claim in range(batch):
        with transaction.atomic():
            assignment = (Assignment.objects.select_for_update(skip_locked=True, of=("self",))
                          .filter(action_due__in=(SubmitAction.URGENT, SubmitAction.INTERVIEW))
                          .order_by("action_due", "submitted_at", "pk")
                          .select_related("campaign__school", "student__klass", "student__dorm").first())
            if assignment is None:
                break
            assignment.act_now()
            done += 1
    with transaction.atomic():
        plain = list(Assignment.objects.select_for_update(skip_locked=True, of=("self",))
                     .filter(action_due=SubmitAction.RECORD).order_by("submitted_at", "pk")
                     .values_list("pk", "student_id", "submitted_at", "campaign__name")[:RECORD_BATCH])
        if plain:
            _record_submissions([(student, at, name) for _pk, student, at, name in plain])
            Assignment.objects.filter(pk__in=[row[0] for row in plain]).update(action_due=None)
    return done + len(plain)


class SubmitOutcome:
    """What a submission caused: its results, then (in the worker) the alert for a critical item
    and the interview for a positive screen."""

    def __init__(self, assignment: Assignment, *, replay: bool, results: list[Result] | None = None):
        self.assignment = assignment
        self.replay = replay
        self.results = results or []
        self.alert: Alert | None = None
        self.interview: Interview | None = None

    def act(self, now: dt.datetime) -> None:
        a = self.assignment
        if a.student_id is None:
            return
        critical = any(r.critical for r in self.results)
        if critical:
            self.alert = Alert.raise_for(a.student, Level.RED, AlertSource.SCREENING, now=now,
                                         reason=alert_reason(a, self.results))
        if critical or any(r.positive for r in self.results):
            self.interview = Interview.open_for(a, urgent=critical, now=now)


LANGS = (("zh-Hans", "zh-hans"), ("en", "en"))


def alert_reason(assignment: Assignment, results: list[Result]) -> dict[str, Any]:
    """Why a screening raises an alert, in both languages (the alert is read in either): the
    instrument, each critical item that fired with the text of the question it names, the band
    (the classification, else each score's band) and the assignment whose results explain it."""
    critical_results = [r for r in results if r.critical]
    first = critical_results[0] if critical_results else results[0]
    spec = first.instrument.spec
    items = {it.number: it for it in spec.items}
    labels = {c["id"]: c for c in spec.critical}
    critical = []
    for r in critical_results:
        r_spec = r.instrument.spec
        r_labels = {c["id"]: c for c in r_spec.critical} if r is not first else labels
        r_items = {it.number: it for it in r_spec.items} if r is not first else items
        for cid in r.detail.get("critical", []):
            c = r_labels.get(cid, {"label": {"zh-Hans": cid, "en": cid}, "when": {}})
            item = r_items.get((c.get("when") or {}).get("item"))
            critical.append({"label": dict(c["label"]),
                             "item_text": {k: r_spec.label(item.text, lang) for k, lang in LANGS} if item else {}})
    band: dict[str, str] = {}
    for key, lang in LANGS:
        with translation.override(lang):
            shown = first.labelled()
            bands = " · ".join(f"{label}: {b}" for label, _v, b in shown["scores"] if b)
            band[key] = f"{shown['classification']} ({bands})" if first.positive and bands else \
                bands or shown["classification"]
    return {"instrument": {k: first.instrument.spec.label(spec.name, lang) for k, lang in LANGS},
            "critical": critical, "band": band, "assignment": assignment.pk}


def answer_error_message(error: AnswerError) -> str:
    from django.utils.translation import gettext as _g

    messages = {
        "unknown_item": _g("There is no question %(item)s in this questionnaire."),
        "bad_value": _g("%(value)s is not one of the options of question %(item)s."),
        "missing": _g("Question %(item)s is not answered yet."),
        "not_asked": _g("Question %(item)s is not asked."),
    }
    return messages.get(error.code, _g("Invalid answer.")) % {"item": error.item, "value": error.value}


class Response(models.Model):
    """The answers to one instrument of one assignment, saved item by item (encrypted)."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="responses")
    campaign_instrument = models.ForeignKey(CampaignInstrument, on_delete=models.PROTECT,
                                            related_name="responses")
    data = EncryptedTextField(default='{"answers": {}, "seconds": {}}')
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["assignment", "campaign_instrument"],
                                               name="response_once")]

    def __str__(self) -> str:
        return f"response {self.pk}"

    @property
    def payload(self) -> dict[str, dict[str, Any]]:
        data = json.loads(self.data or "{}")
        data.setdefault("answers", {})
        data.setdefault("seconds", {})
        return data

    @payload.setter
    def payload(self, value: dict[str, Any]) -> None:
        self.data = json.dumps(value, separators=(",", ":"))

    @property
    def answers(self) -> dict[int, int]:
        return {int(k): v for k, v in self.payload["answers"].items()}

    @staticmethod
    def rows_of(assignment_pk: int) -> list[tuple[int, int, str]]:
        """``(pk, campaign_instrument_id, decrypted data)`` of an assignment's responses, for
        submit (SQL by hand: see xinlian/lib/hotsql.py)."""
        data = Response._meta.get_field("data")
        with connection.cursor() as cursor:
            cursor.execute("SELECT id, campaign_instrument_id, data FROM screening_response "
                           "WHERE assignment_id = %s", [assignment_pk])
            return [(pk, ci, data.from_db_value(d, None, connection)) for pk, ci, d in cursor.fetchall()]


class Result(models.Model):
    """A scored response (tier 3). Plain columns carry what aggregates need (classification,
    bands, flags); the scores themselves are encrypted with the rest of the engine's output."""

    response = models.OneToOneField(Response, on_delete=models.CASCADE, related_name="result")
    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="results")
    # No index of its own: the (campaign, instrument) index leads with it (one index fewer to
    # write for every result a submit inserts).
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="results", db_index=False)
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, null=True, blank=True,
                                related_name="screening_results")
    instrument_version = models.CharField(max_length=16)
    rule_version = models.CharField(max_length=24)
    classification = models.CharField(max_length=40, blank=True)
    positive = models.BooleanField(default=False)
    critical = models.BooleanField(default=False)
    bands = models.JSONField(default=dict)
    flags = models.JSONField(default=list)
    data = EncryptedTextField()
    scored_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["campaign", "instrument"])]

    def __str__(self) -> str:
        return f"result {self.pk} ({self.instrument.code})"

    @classmethod
    def build(cls, assignment: Assignment, response_pk: int, instrument: Instrument,
              data: dict[str, Any], now: dt.datetime) -> Result:
        """An unsaved result of the engine's output (``submit`` inserts them in one statement)."""
        return cls(
            response_id=response_pk, assignment=assignment, campaign_id=assignment.campaign_id,
            instrument=instrument, student_id=assignment.student_id,
            instrument_version=data["instrument_version"], rule_version=data["rule_version"],
            classification=data["classification"], positive=data["positive"],
            critical=bool(data["critical"]), bands=data["bands"], flags=data["flags"],
            data=json.dumps(data, ensure_ascii=False), scored_at=now)

    @cached_property
    def detail(self) -> dict[str, Any]:
        return json.loads(self.data)

    def labelled(self) -> dict[str, Any]:
        """The result with labels in the reader's language, for pages and exports."""
        spec = self.instrument.spec
        d = self.detail
        score_labels = {s["id"]: spec.label(s["label"]) for s in spec.scores}
        reported = {s["id"]: s.get("report", True) for s in spec.scores}
        band_labels = {b["score"]: {r["key"]: spec.label(r["label"]) for r in b["ranges"]} for b in spec.bands}
        classes = {c["key"]: c for c in spec.classes}
        cls = classes.get(d["classification"])
        clause_labels = {c["id"]: spec.label(c["label"]) for c in (cls or {}).get("clauses", [])}
        crit = {c["id"]: spec.label(c["label"]) for c in spec.critical}
        qual = flag_labels(spec)
        return {
            "scores": [(score_labels.get(k, k), v, band_labels.get(k, {}).get(d["bands"].get(k, ""), ""))
                       for k, v in d["scores"].items() if reported.get(k, True)],
            "classification": classification_label(spec, cls, bool(d.get("critical"))),
            "clauses": [clause_labels.get(c, c) for c in d["clauses"]],
            "critical": [crit.get(c, c) for c in d["critical"]],
            "flags": [qual.get(f, f) for f in d["flags"]],
        }


CRITICAL_NOT_POSITIVE = _("Critical item — not a negative screen")


def classification_label(spec: Definition, cls: dict[str, Any] | None, critical: bool) -> str:
    """The classification as shown anywhere (pages, exports, reports): a result with a critical
    item is never called negative (issue 10) — a non-positive class reads as the critical item."""
    if critical and not (cls or {}).get("positive"):
        return str(CRITICAL_NOT_POSITIVE)
    return spec.label(cls["label"]) if cls else ""


QUALITY_LABELS = {
    "too_fast": _("Answered too fast"),
    "straight_line": _("Same answer throughout"),
}


def flag_labels(spec: Definition) -> dict[str, str]:
    """Quality flag → label in the reader's language: the instrument's own checks, then the
    engine's (too fast, same answer throughout)."""
    return {**{f: str(label) for f, label in QUALITY_LABELS.items()},
            **{q["id"]: spec.label(q["label"]) for q in spec.quality}}


# --- interviews --------------------------------------------------------------------------------


# Notification text: a date and a link only, never a name or a score.
INTERVIEW_ASSIGNED = gettext_noop("A screening interview has been assigned to you, due %(due)s.")
CHRONOLOGY_MSGIDS = (
    gettext_noop("Guardian consent recorded for screening %(campaign)s"),
    gettext_noop("Completed screening %(campaign)s"),
    gettext_noop("Put on the interview list"),
    gettext_noop("Screening interview done"),
)


class InterviewStatus(models.TextChoices):
    PENDING = "pending", _("Interview pending")
    DONE = "done", _("Interview done")


class Interview(models.Model):
    """复核访谈: a counsellor sees a student after a positive screen or a critical item."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="interview")
    student = models.ForeignKey(Student, on_delete=models.CASCADE, related_name="screening_interviews")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="interviews")
    urgent = models.BooleanField(_("critical item"), default=False)
    assigned_to = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="screening_interviews", verbose_name=_("counsellor"))
    due_on = models.DateField(_("due"))
    status = models.CharField(_("status"), max_length=8, choices=InterviewStatus.choices,
                              default=InterviewStatus.PENDING)
    outcome = models.CharField(_("outcome (risk level)"), max_length=8, choices=RiskLevel.choices,
                               blank=True)
    notes = EncryptedTextField(_("interview notes"), blank=True)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["status", "-urgent", "due_on", "pk"]
        verbose_name = _("screening interview")
        verbose_name_plural = _("screening interviews")

    def __str__(self) -> str:
        return f"{self.student} — {self.campaign}"

    def get_absolute_url(self) -> str:
        return reverse("screening:interview-detail", args=[self.pk])

    @property
    def overdue(self) -> bool:
        return self.status == InterviewStatus.PENDING and self.due_on < timezone.localdate()

    @staticmethod
    def pick_counsellor(student: Student) -> User | None:
        """The school's psychology teacher with the fewest pending interviews; the centre
        director when the school has none."""
        units = student.units()
        for roles in ((Role.COUNSELLOR,), (Role.CENTRE_DIRECTOR,)):
            people = (User.objects.filter(posts__in=Post.objects.active().filter(unit__in=units, role__in=roles),
                                          is_active=True).distinct()
                      .annotate(load=Count("screening_interviews",
                                           filter=Q(screening_interviews__status=InterviewStatus.PENDING)))
                      .order_by("load", "pk"))
            first = people.first()
            if first is not None:
                return first
        return None

    @classmethod
    def open_for(cls, assignment: Assignment, *, urgent: bool, now: dt.datetime | None = None) -> Interview:
        now = now or timezone.now()
        settings = CentreSettings.for_school(assignment.campaign.school)
        days = settings.urgent_interview_days if urgent else settings.interview_days
        due = timezone.localdate(now) + dt.timedelta(days=days)
        existing = cls.objects.filter(assignment=assignment).first()
        if existing is not None:
            if urgent and not existing.urgent:
                cls.objects.filter(pk=existing.pk).update(urgent=True, due_on=min(due, existing.due_on))
                existing.refresh_from_db()
            return existing
        student = assignment.student
        assert student is not None
        try:
            with transaction.atomic():
                interview = cls.objects.create(
                    assignment=assignment, student=student, campaign=assignment.campaign,
                    urgent=urgent, assigned_to=cls.pick_counsellor(student), due_on=due, created_at=now)
        except IntegrityError:
            return cls.objects.get(assignment=assignment)
        # No link: the chronology's tier-2 readers (head teachers) may not open the interview.
        TimelineEntry.add(student, "screening.interview", Tier.RISK, "Put on the interview list", at=now)
        if interview.assigned_to is not None:
            from xinlian.notify import services as notify

            notify.notify_users([interview.assigned_to], INTERVIEW_ASSIGNED,
                                {"due": due.isoformat()}, link=interview.get_absolute_url())
        return interview

    def record(self, by: User, outcome: str, notes: str, *, review_on: dt.date | None = None) -> None:
        """The outcome sets the student's risk level in ``care`` — or clears it (``none``)."""
        if self.status == InterviewStatus.DONE:
            raise ScreeningError(_("This interview is already recorded."), code="done")
        if outcome not in RiskLevel.values:
            raise ScreeningError(_("Choose an outcome."), code="outcome")
        with transaction.atomic():
            now = timezone.now()
            updated = Interview.objects.filter(pk=self.pk, status=InterviewStatus.PENDING).update(
                status=InterviewStatus.DONE, outcome=outcome, notes=notes, done_at=now, done_by=by)
            if not updated:
                raise ScreeningError(_("This interview is already recorded."), code="done")
            current = RiskEntry.current_for(self.student)
            if outcome != RiskLevel.NONE or (current and current.level != RiskLevel.NONE):
                RiskEntry.set_level(self.student, outcome, by=by, review_on=review_on,
                                    reason=str(_("Screening interview")))
            TimelineEntry.add(self.student, "screening.interview.done", Tier.RISK,
                              "Screening interview done", actor=by, at=now)
        self.refresh_from_db()
