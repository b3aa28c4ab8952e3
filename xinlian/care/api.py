"""The linkage (联动) REST API at ``/api/v1/care/``.

Nothing here decides who sees what: every list starts from a helper of
:mod:`xinlian.care.access` or :mod:`xinlian.access.policy`, and every detail goes through the
per-object helper that audits the read. Out of scope is a 404, in scope but not allowed to act
is a 403, a refused state change (second acknowledgement, edit of a closed case) is a 409 with
the model's own reason.

Clinical detail — what a reporter saw, the reason for a register level, alert notes — is
returned only to holders of the screening or case tier over *that* student (the centre and
the 辅导员), never to a head teacher or a peer reporter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Case as CaseWhen
from django.db.models import Prefetch, QuerySet, When
from django.http import Http404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import generics, mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from xinlian.access.policy import (
    Cap,
    audit,
    caps_over_student,
    get_student_for_user,
    has_cap,
    visible_students,
)
from xinlian.network.api import PersonRefSerializer, UnitRefSerializer
from xinlian.network.models import Student, User

from .access import (
    NeedsBreakGlass,
    chronology_for,
    get_alert_for_user,
    get_case_for_user,
    is_centre_staff_for,
    may_review_closure,
    may_set_level,
    my_concerns,
    reportable_students,
    sees_clinical,
    visible_alerts,
    visible_cases,
)
from .access import (
    break_glass as open_break_glass,
)
from .models import (
    DEFAULT_LEVELS,
    LEVEL_ORDER,
    Alert,
    AlertNote,
    AlertStatus,
    BreakGlass,
    CareError,
    Case,
    CaseRecord,
    Category,
    Concern,
    FollowUp,
    HeardFrom,
    Level,
    LevelSetting,
    RecordKind,
    RiskEntry,
    RiskLevel,
    TimelineEntry,
    Triage,
    Urgency,
)

# Clock skew a phone may have when it says when something was seen.
SEEN_AT_SKEW = dt.timedelta(minutes=10)


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def _conflict(exc: CareError) -> Response:
    return Response({"detail": " ".join(exc.messages)}, status=status.HTTP_409_CONFLICT)


def _page_ids(rows: list[Any], attr: str = "student_id") -> list[int]:
    return list({getattr(r, attr) for r in rows})


def clinical_students(user: User, ids: list[int]) -> set[int]:
    """Of the students ``ids``, those over whom ``user`` holds the screening or case tier.
    One query for a whole page (the per-student ``caps_over_student`` would be one per row)."""
    if not ids:
        return set()
    held = visible_students(user, Cap.SCORES) | visible_students(user, Cap.CASE)
    return set(held.filter(pk__in=ids).values_list("pk", flat=True))


def _choice(choices: Any, **kw: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices.choices, **kw)


def _label(name: str) -> serializers.CharField:
    return serializers.CharField(source=f"get_{name}_display", read_only=True)


# --- shared serializers -------------------------------------------------------------------------


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


class BreakGlassNeededSerializer(serializers.Serializer):
    detail = serializers.CharField()
    break_glass = serializers.BooleanField(help_text=_("True: you may open the case by giving a reason."))
    break_glass_url = serializers.CharField()


class CareStudentRefSerializer(serializers.ModelSerializer):
    """Tier 1 only: whom the record is about."""

    number = serializers.CharField(source="user.username", read_only=True)
    name = serializers.CharField(source="user.full_name", read_only=True)
    klass = UnitRefSerializer(read_only=True)

    class Meta:
        model = Student
        fields = ["id", "number", "name", "klass"]


STUDENT_SELECT = ("student__user", "student__klass")

NOT_FOUND = OpenApiResponse(DetailSerializer, description=_("Not in your scope."))
FORBIDDEN = OpenApiResponse(DetailSerializer, description=_("In your scope, but not yours to do."))
CONFLICT = OpenApiResponse(DetailSerializer, description=_("Refused in the record's current state."))


# --- concerns -----------------------------------------------------------------------------------


class ConcernInputSerializer(serializers.Serializer):
    key = serializers.UUIDField(help_text=_("Made by the client once per report; a replay with the "
                                            "same key returns the first report (200) instead of "
                                            "filing a second one."))
    student = serializers.IntegerField(min_value=1, help_text=_("Id of a student you may report about."))
    category = _choice(Category)
    urgency = _choice(Urgency)
    seen = serializers.CharField(max_length=4000, help_text=_("What was seen or heard."))
    seen_at = serializers.DateTimeField(required=False, help_text=_("When; defaults to now."))
    heard_from = serializers.ChoiceField(choices=HeardFrom.choices, default=HeardFrom.SELF,
                                         help_text=_("Where the information came from (a guardian's "
                                                     "call is reported through staff)."))

    def validate_seen_at(self, value: dt.datetime) -> dt.datetime:
        if value > timezone.now() + SEEN_AT_SKEW:
            raise ValidationError(_("This time is in the future."))
        return value


class MyConcernSerializer(serializers.ModelSerializer):
    """What a reporter may read back: their own report's facts and a coarse status."""

    student = CareStudentRefSerializer(read_only=True)
    category = serializers.CharField(read_only=True)
    category_label = _label("category")
    urgency = serializers.CharField(read_only=True)
    urgency_label = _label("urgency")
    status = serializers.CharField(source="status_for_reporter", read_only=True)

    class Meta:
        model = Concern
        fields = ["id", "key", "student", "category", "category_label", "urgency", "urgency_label",
                  "seen_at", "heard_from", "created_at", "status"]


@extend_schema_view(
    list=extend_schema(summary="Your own concern reports and their status"),
)
class ConcernViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Report a concern (报告) about a student in your reporting scope, and follow your reports."""

    queryset = Concern.objects.none()
    serializer_class = MyConcernSerializer

    def get_queryset(self) -> QuerySet[Concern]:
        if getattr(self, "swagger_fake_view", False):
            return Concern.objects.none()
        return (my_concerns(_user(self.request)).select_related(*STUDENT_SELECT)
                .prefetch_related("alerts").order_by("-created_at", "-pk"))

    @extend_schema(
        summary="Report a concern",
        request=ConcernInputSerializer,
        responses={201: MyConcernSerializer,
                   200: OpenApiResponse(MyConcernSerializer, description=_("A replay of an earlier key.")),
                   404: NOT_FOUND, 409: CONFLICT},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ConcernInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = _user(request)
        student = reportable_students(user).filter(pk=v["student"]).select_related("user", "klass").first()
        if student is None:
            raise NotFound
        try:
            concern, created = Concern.submit(key=v["key"], reporter=user, student=student,
                                              category=v["category"], urgency=v["urgency"],
                                              seen=v["seen"], seen_at=v.get("seen_at"),
                                              heard_from=v["heard_from"])
        except CareError as exc:
            return _conflict(exc)
        body = MyConcernSerializer(concern, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


# --- alerts -------------------------------------------------------------------------------------


class CareAlertSerializer(serializers.ModelSerializer):
    student = CareStudentRefSerializer(read_only=True)
    level = serializers.CharField(read_only=True)
    level_label = _label("level")
    level_name = serializers.SerializerMethodField(help_text=_("The centre's name for this level."))
    colour = serializers.SerializerMethodField()
    source = serializers.CharField(read_only=True)
    source_label = _label("source")
    status = serializers.CharField(read_only=True)
    status_label = _label("status")
    is_overdue = serializers.BooleanField(read_only=True)
    acknowledged_by = PersonRefSerializer(read_only=True, allow_null=True)
    triage = serializers.CharField(read_only=True)
    triage_label = _label("triage")

    class Meta:
        model = Alert
        fields = ["id", "student", "level", "level_label", "level_name", "colour", "source",
                  "source_label", "status", "status_label", "step", "escalations", "due_at",
                  "is_overdue", "created_at", "acknowledged_at", "acknowledged_by", "triage",
                  "triage_label", "triaged_at", "resolved_at"]

    def _setting(self, alert: Alert) -> LevelSetting:
        levels: dict[str, LevelSetting] | None = self.context.get("levels")
        if levels is not None and alert.level in levels:
            return levels[alert.level]
        return alert.setting

    def get_level_name(self, alert: Alert) -> str:
        return self._setting(alert).display_name

    def get_colour(self, alert: Alert) -> str:
        return self._setting(alert).colour


class ConcernDetailSerializer(serializers.ModelSerializer):
    """The report behind an alert: clinical detail, for the screening/case tier only."""

    category = serializers.CharField(read_only=True)
    category_label = _label("category")
    urgency = serializers.CharField(read_only=True)
    urgency_label = _label("urgency")
    reporter = PersonRefSerializer(read_only=True)

    class Meta:
        model = Concern
        fields = ["id", "category", "category_label", "urgency", "urgency_label", "seen", "seen_at",
                  "reporter", "created_at"]


class AlertNoteSerializer(serializers.ModelSerializer):
    author = PersonRefSerializer(read_only=True)
    text = serializers.SerializerMethodField(
        help_text=_("Only with the screening or case tier over the student, or for your own notes."))

    class Meta:
        model = AlertNote
        fields = ["action", "author", "at", "text"]

    def get_text(self, note: AlertNote) -> str | None:
        if self.context.get("clinical") or note.author_id == self.context.get("user_id"):
            return note.text
        return None


class CareAlertDetailSerializer(CareAlertSerializer):
    can_act = serializers.SerializerMethodField(help_text=_("Whether you may acknowledge, triage "
                                                            "and resolve this alert."))
    # Not read-only only so that the schema marks it optional: it is present only with the
    # screening or case tier over the student.
    concern = ConcernDetailSerializer(required=False, allow_null=True,
                                      help_text=_("Only with the screening or case tier over the student."))
    notes = AlertNoteSerializer(many=True, read_only=True)
    cases = serializers.PrimaryKeyRelatedField(many=True, read_only=True,
                                               help_text=_("Crisis cases opened from this alert."))

    class Meta(CareAlertSerializer.Meta):
        fields = [*CareAlertSerializer.Meta.fields, "can_act", "concern", "notes", "cases"]

    def get_can_act(self, alert: Alert) -> bool:
        return bool(self.context.get("can_act"))

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        clinical = self.context.get("clinical")
        if clinical is False:  # None during schema generation: describe every field
            fields.pop("concern")
        return fields


class NoteInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class TriageInputSerializer(NoteInputSerializer):
    decision = _choice(Triage)


def _level_settings() -> dict[str, LevelSetting]:
    """Every level's setting in one query (``LevelSetting.for_level`` is one query per call)."""
    found = {s.level: s for s in LevelSetting.objects.all()}
    return {lv: found.get(lv) or LevelSetting(level=lv, **DEFAULT_LEVELS[lv]) for lv in Level.values}


@extend_schema_view(
    list=extend_schema(
        summary="Alerts you answer for or may see; overdue first",
        parameters=[OpenApiParameter("status", str, enum=[str(v) for v in AlertStatus.values],
                                     description=_("Only alerts in this state."))],
    ),
)
class AlertViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Alerts climb the network until someone acknowledges them. The list is the inbox: alerts
    waiting past their deadline first, then unacknowledged ones, the most severe first."""

    queryset = Alert.objects.none()
    serializer_class = CareAlertSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Alert]:
        if getattr(self, "swagger_fake_view", False):
            return Alert.objects.none()
        qs = visible_alerts(_user(self.request))
        wanted = self.request.query_params.get("status", "").strip()
        if wanted:
            if wanted not in AlertStatus.values:
                raise ValidationError({"status": [_("Choose one of: %(choices)s.")
                                                  % {"choices": ", ".join(AlertStatus.values)}]})
            qs = qs.filter(status=wanted)
        return qs.select_related(*STUDENT_SELECT, "acknowledged_by").inbox_order()

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if self.action == "list" and not getattr(self, "swagger_fake_view", False):
            context["levels"] = _level_settings()
        return context

    def _detail(self, request: Request, alert: Alert, can_act: bool,
                code: int = status.HTTP_200_OK) -> Response:
        user = _user(request)
        clinical = sees_clinical(caps_over_student(user, alert.student))
        alert = (Alert.objects.select_related(*STUDENT_SELECT, "acknowledged_by",
                                              "concern__reporter")
                 .prefetch_related(Prefetch("notes", AlertNote.objects.select_related("author")),
                                   "cases")
                 .get(pk=alert.pk))
        if clinical and alert.concern_id:
            audit(request, "concern.view", alert.concern)
        context = {**self.get_serializer_context(), "clinical": clinical, "can_act": can_act,
                   "user_id": user.pk}
        return Response(CareAlertDetailSerializer(alert, context=context).data, status=code)

    @extend_schema(summary="One alert", responses={200: CareAlertDetailSerializer, 404: NOT_FOUND})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        alert, can_act = get_alert_for_user(request, int(pk))  # type: ignore[arg-type]
        return self._detail(request, alert, can_act)

    def _acting(self, request: Request, pk: str | None) -> Alert:
        alert, can_act = get_alert_for_user(request, int(pk))  # type: ignore[arg-type]
        if not can_act:
            raise PermissionDenied(_("This alert is not yours to act on (yet)."))
        return alert

    @extend_schema(summary="Acknowledge an alert", request=NoteInputSerializer,
                   responses={200: CareAlertDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        alert = self._acting(request, pk)
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            alert.acknowledge(_user(request), data.validated_data["note"])
        except CareError as exc:
            return _conflict(exc)
        return self._detail(request, alert, True)

    @extend_schema(summary="Triage an alert (no action, monitor, open a case, refer)",
                   request=TriageInputSerializer,
                   responses={200: CareAlertDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def triage(self, request: Request, pk: str | None = None) -> Response:
        alert = self._acting(request, pk)
        data = TriageInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            alert.triage_as(_user(request), data.validated_data["decision"], data.validated_data["note"])
        except CareError as exc:
            return _conflict(exc)
        return self._detail(request, alert, True)

    @extend_schema(summary="Resolve an alert", request=NoteInputSerializer,
                   responses={200: CareAlertDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        alert = self._acting(request, pk)
        data = NoteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            alert.resolve(_user(request), data.validated_data["note"])
        except CareError as exc:
            return _conflict(exc)
        return self._detail(request, alert, True)


# --- the risk register --------------------------------------------------------------------------


class RiskEntrySerializer(serializers.ModelSerializer):
    """One current line of the register. ``reason`` is clinical: it is present only for holders
    of the screening or case tier over that student; a head teacher gets the level and what to do."""

    student = CareStudentRefSerializer(read_only=True)
    level = serializers.CharField(read_only=True)
    level_label = _label("level")
    guidance = serializers.CharField(read_only=True, help_text=_("What to do at this level."))
    # Not read-only only so that the schema marks it optional (see the class docstring).
    reason = serializers.CharField(required=False,
                                   help_text=_("Only with the screening or case tier over the student."))
    set_by = PersonRefSerializer(read_only=True)
    follow_up_overdue = serializers.SerializerMethodField()

    class Meta:
        model = RiskEntry
        fields = ["id", "student", "level", "level_label", "guidance", "reason", "set_by", "set_at",
                  "review_on", "follow_up_due_at", "follow_up_overdue"]

    def get_follow_up_overdue(self, entry: RiskEntry) -> bool:
        return bool(entry.follow_up_due_at and entry.follow_up_due_at <= timezone.now())

    def to_representation(self, instance: RiskEntry) -> dict[str, Any]:
        data = super().to_representation(instance)
        if instance.student_id not in self.context.get("clinical_ids", set()):
            data.pop("reason", None)
        return data


class RiskEntryInputSerializer(serializers.Serializer):
    student = serializers.IntegerField(min_value=1)
    level = _choice(RiskLevel)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")
    review_on = serializers.DateField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["level"] != RiskLevel.NONE and not attrs["reason"].strip():
            raise ValidationError({"reason": [_("Give the reason for this level.")]})
        return attrs


class FollowUpInputSerializer(serializers.Serializer):
    student = serializers.IntegerField(min_value=1)
    note = serializers.CharField(required=False, allow_blank=True, max_length=4000, default="")


class FollowUpSerializer(serializers.ModelSerializer):
    student = CareStudentRefSerializer(read_only=True)
    next_due_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                            help_text=_("When the next follow-up is due on the register."))

    class Meta:
        model = FollowUp
        fields = ["id", "student", "at", "next_due_at"]


def _severity() -> CaseWhen:
    return CaseWhen(*[When(level=lv, then=-o) for lv, o in LEVEL_ORDER.items()], default=0)


@extend_schema_view(
    list=extend_schema(
        summary="The risk register (重点关注名单): current levels of students in your risk scope",
        parameters=[OpenApiParameter("level", str, enum=[str(v) for v in RiskLevel.values if v != "none"],
                                     description=_("Only this level."))],
    ),
)
class RegisterViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Students with a level other than none, the most severe first, then by follow-up date."""

    queryset = RiskEntry.objects.none()
    serializer_class = RiskEntrySerializer

    def get_queryset(self) -> QuerySet[RiskEntry]:
        if getattr(self, "swagger_fake_view", False):
            return RiskEntry.objects.none()
        qs = RiskEntry.objects.watched().filter(student__in=visible_students(_user(self.request), Cap.RISK))
        wanted = self.request.query_params.get("level", "").strip()
        if wanted:
            if wanted not in RiskLevel.values:
                raise ValidationError({"level": [_("Choose one of: %(choices)s.")
                                                 % {"choices": ", ".join(RiskLevel.values)}]})
            qs = qs.filter(level=wanted)
        return (qs.select_related(*STUDENT_SELECT, "set_by")
                .annotate(severity=_severity()).order_by("severity", "follow_up_due_at", "pk"))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = list(page if page is not None else [])
        clinical_ids = clinical_students(_user(request), _page_ids(rows))
        if any(r.student_id in clinical_ids for r in rows):
            # One row per page read: how many reasons were shown, never what they say.
            audit(request, "register.view", object_type="care.riskentry", object_id="list",
                  detail=f"reasons:{sum(r.student_id in clinical_ids for r in rows)}")
        serializer = self.get_serializer(rows, many=True,
                                         context={**self.get_serializer_context(),
                                                  "clinical_ids": clinical_ids})
        return self.get_paginated_response(serializer.data)

    @extend_schema(summary="Set a student's level on the register",
                   request=RiskEntryInputSerializer,
                   responses={201: RiskEntrySerializer, 403: FORBIDDEN, 404: NOT_FOUND})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = _user(request)
        # Centre staff and 辅导员 set levels: the holders of the screening tier.
        if not has_cap(user, Cap.SCORES):
            raise PermissionDenied(_("Only the counselling centre and 辅导员 set register levels."))
        data = RiskEntryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        student = visible_students(user, Cap.RISK).filter(pk=v["student"]).first()
        if student is None:
            raise NotFound
        if not may_set_level(user, student):
            raise PermissionDenied(_("Only the counselling centre and 辅导员 set register levels."))
        entry = RiskEntry.set_level(student, v["level"], by=user, reason=v["reason"],
                                    review_on=v["review_on"])
        entry = RiskEntry.objects.select_related(*STUDENT_SELECT, "set_by").get(pk=entry.pk)
        context = {**self.get_serializer_context(), "clinical_ids": {student.pk}}
        return Response(RiskEntrySerializer(entry, context=context).data, status=status.HTTP_201_CREATED)


class FollowUpViewSet(viewsets.GenericViewSet):
    """Record a follow-up contact with a student on the register; it moves the next due date."""

    queryset = FollowUp.objects.none()
    serializer_class = FollowUpSerializer

    @extend_schema(summary="Record a follow-up contact", request=FollowUpInputSerializer,
                   responses={201: FollowUpSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = _user(request)
        if not has_cap(user, Cap.RISK):
            raise PermissionDenied(_("Only the people responsible for a student record follow-ups."))
        data = FollowUpInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        student = (visible_students(user, Cap.RISK).select_related("user", "klass")
                   .filter(pk=data.validated_data["student"]).first())
        if student is None:
            raise NotFound
        fu = FollowUp.record(student, by=user, note=data.validated_data["note"])
        entry = RiskEntry.current_for(student)
        fu.next_due_at = entry.follow_up_due_at if entry else None  # type: ignore[attr-defined]
        return Response(FollowUpSerializer(fu).data, status=status.HTTP_201_CREATED)


# --- crisis cases -------------------------------------------------------------------------------


class CareCaseSerializer(serializers.ModelSerializer):
    student = CareStudentRefSerializer(read_only=True)
    status = serializers.CharField(read_only=True)
    status_label = _label("status")
    lead = PersonRefSerializer(read_only=True)

    class Meta:
        model = Case
        fields = ["id", "student", "status", "status_label", "lead", "alert", "opened_at", "closed_at"]


class CaseRecordSerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True)
    kind_label = _label("kind")
    author = PersonRefSerializer(read_only=True)
    data = serializers.DictField(source="content", read_only=True)

    class Meta:
        model = CaseRecord
        fields = ["id", "kind", "kind_label", "author", "at", "data"]


class CareCaseDetailSerializer(CareCaseSerializer):
    members = PersonRefSerializer(many=True, read_only=True)
    records = CaseRecordSerializer(many=True, read_only=True)
    can_write = serializers.SerializerMethodField()
    can_close = serializers.SerializerMethodField(help_text=_("Closure needs the centre director's review."))
    break_glass_until = serializers.SerializerMethodField(
        help_text=_("Set when you read this case through break-glass access: when it ends."))

    class Meta(CareCaseSerializer.Meta):
        fields = [*CareCaseSerializer.Meta.fields, "members", "can_write", "can_close",
                  "break_glass_until", "records"]

    def get_can_write(self, case: Case) -> bool:
        return bool(self.context.get("can_write"))

    def get_can_close(self, case: Case) -> bool:
        return bool(self.context.get("can_close"))

    def get_break_glass_until(self, case: Case) -> dt.datetime | None:
        return self.context.get("break_glass_until")


# Record content, validated per kind. Free text is tier 4 and stored encrypted.
TEXT = {"max_length": 4000}


def _text(required: bool = True, **kw: Any) -> serializers.CharField:
    if required:
        return serializers.CharField(**TEXT, **kw)
    return serializers.CharField(required=False, allow_blank=True, default="", **TEXT, **kw)


class AssessedRisk:
    choices = [("low", _("Low")), ("moderate", _("Moderate")), ("high", _("High")),
               ("imminent", _("Imminent"))]


class AssessmentData(serializers.Serializer):
    ideation = serializers.BooleanField(help_text=_("Suicidal ideation"))
    plan = serializers.BooleanField(help_text=_("A plan"))
    means = serializers.BooleanField(help_text=_("Access to means"))
    past_attempts = serializers.BooleanField(help_text=_("Past attempts"))
    protective_factors = _text(required=False)
    risk = _choice(AssessedRisk, help_text=_("The assessed risk (the register level is set apart)."))
    notes = _text(required=False)


class SafetyPlanData(serializers.Serializer):
    warning_signs = _text()
    coping_strategies = _text()
    support_contacts = _text(help_text=_("People and places to turn to."))
    means_safety = _text(required=False)
    notes = _text(required=False)


class ContactWay:
    choices = [("phone", _("Phone")), ("in_person", _("In person")), ("video", _("Video call")),
               ("message", _("Message")), ("other", _("Other"))]


class MeasureKind:
    choices = [("accompaniment", _("Accompaniment")), ("leave", _("Leave")),
               ("room_change", _("Room change")), ("other", _("Other"))]


class GuardianData(serializers.Serializer):
    guardian = _text(help_text=_("Who was told (name and relation)."))
    at = serializers.DateTimeField()
    how = _choice(ContactWay)
    said = _text(help_text=_("What was said."))
    outcome = _text()


class ReferralData(serializers.Serializer):
    where = _text(help_text=_("Hospital or outside service."))
    on = serializers.DateField()
    outcome = _text(required=False)
    returned_on = serializers.DateField(required=False, allow_null=True, default=None)
    return_assessment = _text(required=False, help_text=_("Return-to-school assessment."))


class MeasureData(serializers.Serializer):
    measure = _choice(MeasureKind)
    description = _text()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField(required=False, allow_null=True, default=None)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs["ends_on"] and attrs["ends_on"] < attrs["starts_on"]:
            raise ValidationError({"ends_on": [_("The end is before the start.")]})
        return attrs


class FollowUpData(serializers.Serializer):
    how = _choice(ContactWay)
    note = _text()


class NoteData(serializers.Serializer):
    text = _text()


RECORD_DATA: dict[str, type[serializers.Serializer]] = {
    RecordKind.ASSESSMENT: AssessmentData,
    RecordKind.SAFETY_PLAN: SafetyPlanData,
    RecordKind.GUARDIAN: GuardianData,
    RecordKind.REFERRAL: ReferralData,
    RecordKind.MEASURE: MeasureData,
    RecordKind.FOLLOW_UP: FollowUpData,
    RecordKind.NOTE: NoteData,
}


class RecordKindChoices:
    choices = [(k, label) for k, label in RecordKind.choices if k in RECORD_DATA]


@extend_schema_field(PolymorphicProxySerializer(component_name="CaseRecordData",
                                                serializers=list(RECORD_DATA.values()),
                                                resource_type_field_name=None))
class RecordDataField(serializers.DictField):
    """The record's content; its shape depends on ``kind``."""


class CaseRecordInputSerializer(serializers.Serializer):
    kind = _choice(RecordKindChoices)
    data = RecordDataField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        content = RECORD_DATA[attrs["kind"]](data=attrs["data"])
        if not content.is_valid():
            raise ValidationError({"data": content.errors})
        attrs["data"] = dict(content.data)  # JSON-ready: dates as ISO strings
        return attrs


class OpenCaseInputSerializer(serializers.Serializer):
    student = serializers.IntegerField(min_value=1)


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(min_length=4, max_length=2000)


class SummaryInputSerializer(serializers.Serializer):
    summary = serializers.CharField(max_length=4000)


class ReviewInputSerializer(serializers.Serializer):
    review = serializers.CharField(max_length=4000)


class BreakGlassSerializer(serializers.ModelSerializer):
    class Meta:
        model = BreakGlass
        fields = ["case", "at", "expires_at"]


class _BreakGlassNeeded(Exception):
    def __init__(self, case: Case) -> None:
        self.case = case


CASE_RESPONSES = {403: OpenApiResponse(BreakGlassNeededSerializer,
                                       description=_("Outside the case team: break-glass is possible; "
                                                     "or not yours to do.")),
                  404: NOT_FOUND, 409: CONFLICT}


@extend_schema_view(
    list=extend_schema(summary="Crisis cases of your team, or of students under your case tier"),
)
class CaseViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Crisis cases (危机干预). Details are tier 4: every read is audited. A staff member who can
    see the student's level but is outside the case team gets a 403 that says break-glass is
    possible, and may open the case for a short window by giving a reason."""

    queryset = Case.objects.none()
    serializer_class = CareCaseSerializer
    lookup_value_regex = r"\d+"

    def get_queryset(self) -> QuerySet[Case]:
        if getattr(self, "swagger_fake_view", False):
            return Case.objects.none()
        return (visible_cases(_user(self.request)).select_related(*STUDENT_SELECT, "lead")
                .order_by("-opened_at", "-pk"))

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, _BreakGlassNeeded):
            url = reverse("care-api:case-break-glass", args=[exc.case.pk])
            return Response({"detail": gettext("You are not on this case's team. You may open it "
                                               "with break-glass access by giving a reason; the "
                                               "centre director is told."),
                             "break_glass": True, "break_glass_url": url},
                            status=status.HTTP_403_FORBIDDEN)
        return super().handle_exception(exc)

    def _case(self, request: Request, pk: str | None) -> Case:
        try:
            case, can_write = get_case_for_user(request, int(pk))  # type: ignore[arg-type]
        except NeedsBreakGlass as exc:
            raise _BreakGlassNeeded(exc.case) from None
        if not can_write:
            raise PermissionDenied
        return case

    def _detail(self, request: Request, case: Case, code: int = status.HTTP_200_OK) -> Response:
        user = _user(request)
        case = (Case.objects.select_related(*STUDENT_SELECT, "lead")
                .prefetch_related("members", Prefetch("records", CaseRecord.objects.select_related("author")))
                .get(pk=case.pk))
        held = caps_over_student(user, case.student)
        grant = None
        if Cap.CASE not in held and not case.on_team(user):
            grant = BreakGlass.active_for(case, user)
        context = {**self.get_serializer_context(), "can_write": True,
                   "can_close": may_review_closure(user, case),
                   "break_glass_until": grant.expires_at if grant else None}
        return Response(CareCaseDetailSerializer(case, context=context).data, status=code)

    @extend_schema(summary="Open a crisis case (centre staff); you become its lead",
                   request=OpenCaseInputSerializer,
                   responses={201: CareCaseDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        user = _user(request)
        if not has_cap(user, Cap.SCORES):
            raise PermissionDenied(_("Crisis cases are opened by the counselling centre."))
        data = OpenCaseInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        student = (visible_students(user, Cap.RISK).select_related("klass")
                   .filter(pk=data.validated_data["student"]).first())
        if student is None:
            raise NotFound
        if not is_centre_staff_for(user, student):
            raise PermissionDenied(_("Crisis cases are opened by the counselling centre."))
        case = Case.open_for(student, by=user)
        audit(request, "case.open", case)
        return self._detail(request, case, status.HTTP_201_CREATED)

    @extend_schema(summary="One crisis case with its records",
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._detail(request, self._case(request, pk))

    @extend_schema(summary="Add a record to a case", request=CaseRecordInputSerializer,
                   responses={201: CaseRecordSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"])
    def records(self, request: Request, pk: str | None = None) -> Response:
        case = self._case(request, pk)
        data = CaseRecordInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        kind, content = data.validated_data["kind"], data.validated_data["data"]
        user = _user(request)
        try:
            with transaction.atomic():
                record = case.add_record(kind, author=user, data=content)
                if kind == RecordKind.GUARDIAN:
                    # Telling a guardian is a disclosure of tier-4 information: audited explicitly.
                    audit(request, "case.guardian_notified", case, detail=f"record:{record.pk}")
                elif kind == RecordKind.FOLLOW_UP:
                    # A case follow-up is a contact: it moves the register's next due date too.
                    FollowUp.record(case.student, by=user, case=case)
        except CareError as exc:
            return _conflict(exc)
        record = CaseRecord.objects.select_related("author").get(pk=record.pk)
        return Response(CaseRecordSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Break the glass: open a case outside your team, with a reason",
                   request=ReasonInputSerializer,
                   responses={201: BreakGlassSerializer, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="break-glass", url_name="break-glass")
    def break_glass(self, request: Request, pk: str | None = None) -> Response:
        user = _user(request)
        case = Case.objects.select_related("student__klass", "student__dorm").filter(pk=int(pk)).first()  # type: ignore[arg-type]
        if case is None:
            raise NotFound
        held = caps_over_student(user, case.student)
        if not (Cap.RISK in held and user.kind == "staff"):
            raise NotFound  # break_glass() would say the same; no reason is validated first
        if case.on_team(user) or Cap.CASE in held:
            return Response({"detail": gettext("You already have access to this case.")},
                            status=status.HTTP_409_CONFLICT)
        data = ReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            grant = open_break_glass(request, case, data.validated_data["reason"])
        except Http404:
            raise NotFound from None
        return Response(BreakGlassSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Put a case up for the director's closure review",
                   request=SummaryInputSerializer,
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"], url_path="request-closure", url_name="request-closure")
    def request_closure(self, request: Request, pk: str | None = None) -> Response:
        case = self._case(request, pk)
        data = SummaryInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            case.request_closure(_user(request), data.validated_data["summary"])
        except CareError as exc:
            return _conflict(exc)
        return self._detail(request, case)

    @extend_schema(summary="Close a case after review (centre director)", request=ReviewInputSerializer,
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        case = self._case(request, pk)
        if not may_review_closure(_user(request), case):
            raise PermissionDenied(_("Closure needs the centre director's review."))
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            case.close(_user(request), data.validated_data["review"])
        except CareError as exc:
            return _conflict(exc)
        return self._detail(request, case)

    @extend_schema(summary="Reopen a closed case", request=ReasonInputSerializer,
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        case = self._case(request, pk)
        data = ReasonInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            case.reopen(_user(request), data.validated_data["reason"])
        except CareError as exc:
            return _conflict(exc)
        return self._detail(request, case)


# --- chronology ---------------------------------------------------------------------------------

class TimelineEntrySerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField()
    actor = PersonRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = TimelineEntry
        fields = ["id", "at", "kind", "tier", "text", "actor", "link"]

    def get_text(self, entry: TimelineEntry) -> str:
        # The centre's level names, read once per response rather than once per line.
        if "levels" not in self.context:
            self.context["levels"] = LevelSetting.all_levels()
        return entry.render(self.context["levels"])


@extend_schema(
    summary="A student's chronology (一生一档), each entry only at a tier you hold",
    parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                                 description=_("The student's id."))],
)
class StudentTimelineView(generics.ListAPIView):
    """Concerns, alerts, escalations, level changes and case records of one student, newest first."""

    serializer_class = TimelineEntrySerializer
    queryset = TimelineEntry.objects.none()

    def get_queryset(self) -> QuerySet[TimelineEntry]:
        if getattr(self, "swagger_fake_view", False):
            return TimelineEntry.objects.none()
        # The policy's helper: 404 out of scope, and an audit row for a tier-2+ reader.
        student, held = get_student_for_user(self.request, int(self.kwargs["pk"]))
        return chronology_for(self.request, student, held)


student_timeline = StudentTimelineView.as_view()
