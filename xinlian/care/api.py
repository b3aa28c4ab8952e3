"""The linkage (联动) REST API at ``/api/v1/care/``.

A thin adapter over :mod:`xinlian.care.actions`, the same actions the care pages call: each
endpoint parses JSON with a serializer, calls the action and serializes its result. Nothing
here decides who sees or does what, and no audit row is written here: the action does both.
Its refusals become 404 (out of scope), 403 (not yours to do), 409 (refused in the record's
state, with the action's reason) and 400 through the project's exception handler
(:mod:`xinlian.access.adapters`). When the input does not parse, the action's own lookup is
asked first, so that a 404 or 403 is never hidden behind a 400.

The record kinds of a case are defined once (:mod:`xinlian.care.records`); their serializers
here are derived from those definitions, with the same field names as the page's forms.

Clinical detail — what a reporter saw, the reason for a register level, alert notes — is
returned only to holders of the screening or case tier over *that* student (the centre and
the 辅导员), never to a head teacher or a peer reporter."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.core.paginator import Page
from django.db.models import Prefetch, QuerySet
from django.urls import reverse
from django.utils import timezone
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
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.urls import remove_query_param, replace_query_param

from xinlian.lib.actions import Conflict
from xinlian.network.api import GuardianSerializer, PersonRefSerializer, UnitRefSerializer
from xinlian.network.models import Guardian, Student, User

from . import actions, records
from .access import NeedsBreakGlass, my_concerns
from .models import (
    DEFAULT_LEVELS,
    Alert,
    AlertNote,
    AlertStatus,
    BreakGlass,
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


def _parse(serializer_class: type[serializers.Serializer], data: Any,
           check: Callable[[], Any] | None = None, **kw: Any) -> dict[str, Any]:
    """The validated input; when it does not parse, ``check`` (the action's own lookup and
    capability check) speaks first, then the 400."""
    parsed = serializer_class(data=data, **kw)
    if not parsed.is_valid():
        if check is not None:
            check()
        raise ValidationError(parsed.errors)
    return dict(parsed.validated_data)


def _page_number(request: Request) -> str | None:
    return request.query_params.get("page")


def _paged(request: Request, page: Page, results: Any) -> Response:
    """The API's page shape (count, next, previous, results) for a page an action returned."""
    url = request.build_absolute_uri()
    nxt = replace_query_param(url, "page", page.next_page_number()) if page.has_next() else None
    prev = None
    if page.has_previous():
        number = page.previous_page_number()
        prev = remove_query_param(url, "page") if number == 1 else replace_query_param(url, "page", number)
    return Response({"count": page.paginator.count, "next": nxt, "previous": prev, "results": results})


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
        v = _parse(ConcernInputSerializer, request.data)
        concern, created = actions.report_concern(
            request, v["student"], key=v["key"], category=v["category"], urgency=v["urgency"],
            seen=v["seen"], seen_at=v.get("seen_at"), heard_from=v["heard_from"])
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
    """The report behind an alert: for the screening/case tier, and whoever the alert is routed to
    while it is theirs (without the reporter's name)."""

    category = serializers.CharField(read_only=True)
    category_label = _label("category")
    urgency = serializers.CharField(read_only=True)
    urgency_label = _label("urgency")
    reporter = PersonRefSerializer(read_only=True)

    class Meta:
        model = Concern
        fields = ["id", "category", "category_label", "urgency", "urgency_label", "seen", "seen_at",
                  "reporter", "created_at"]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        if self.context.get("clinical") is False:
            # Routed without a clinical tier: what was reported, not who reported it.
            fields.pop("reporter")
        return fields


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
                                      help_text=_("Only with the screening or case tier over the "
                                                  "student, or while the alert is routed to you."))
    notes = AlertNoteSerializer(many=True, read_only=True)
    cases = serializers.PrimaryKeyRelatedField(many=True, read_only=True,
                                               help_text=_("Crisis cases opened from this alert."))

    screening_reason = serializers.SerializerMethodField(help_text=_(
        "Why a screening raised the alert: the instrument, the critical items with their question, "
        "the band and (with the screening tier) the id of the result. Present with the report."))
    can_dismiss = serializers.SerializerMethodField(help_text=_(
        "Whether you may triage this alert as \"no action needed\" (the counselling centre and the "
        "student's 辅导员)."))

    class Meta(CareAlertSerializer.Meta):
        fields = [*CareAlertSerializer.Meta.fields, "can_act", "can_dismiss", "concern", "screening_reason",
                  "notes", "cases"]

    def get_can_act(self, alert: Alert) -> bool:
        return bool(self.context.get("can_act"))

    def get_can_dismiss(self, alert: Alert) -> bool:
        return bool(self.context.get("may_dismiss"))

    def get_screening_reason(self, alert: Alert) -> dict[str, Any] | None:
        shown = alert.reason_shown()
        if shown is None:
            return None
        return {"instrument": shown["instrument"], "band": shown["band"],
                "critical": [{"label": label, "question": text} for label, text in shown["critical"]],
                "result": shown["assignment"] if self.context.get("reads_results") else None}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        report = self.context.get("report")
        if report is False:  # None during schema generation: describe every field
            fields.pop("concern")
            fields.pop("screening_reason")
        return fields


class NoteInputSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=actions.NOTE_MAX, default="")


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

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = actions.list_alerts(request, status=request.query_params.get("status", "").strip(),
                                   page=_page_number(request), per_page=api_settings.PAGE_SIZE)
        context = {**self.get_serializer_context(), "levels": _level_settings()}
        return _paged(request, page, CareAlertSerializer(page.object_list, many=True, context=context).data)

    def _detail(self, request: Request, view: actions.AlertView) -> Response:
        alert = (Alert.objects.select_related(*STUDENT_SELECT, "acknowledged_by", "concern__reporter")
                 .prefetch_related(Prefetch("notes", AlertNote.objects.select_related("author")),
                                   "cases")
                 .get(pk=view.alert.pk))
        context = {**self.get_serializer_context(), "clinical": view.clinical, "report": view.report,
                   "can_act": view.can_act, "may_dismiss": view.may_dismiss,
                   "reads_results": view.reads_results, "user_id": request.user.pk}
        return Response(CareAlertDetailSerializer(alert, context=context).data)

    def _after(self, request: Request, alert: Alert) -> Response:
        """The alert as its actor now sees it (the action wrote the audit row; this is no new read)."""
        return self._detail(request, actions.alert_view(_user(request), alert))

    @extend_schema(summary="One alert", responses={200: CareAlertDetailSerializer, 404: NOT_FOUND})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._detail(request, actions.read_alert(request, pk))

    @extend_schema(summary="Acknowledge an alert", request=NoteInputSerializer,
                   responses={200: CareAlertDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None) -> Response:
        v = _parse(NoteInputSerializer, request.data, lambda: actions.alert_for(request, pk, "alert.acknowledge"))
        return self._after(request, actions.acknowledge_alert(request, pk, v["note"]))

    @extend_schema(summary="Triage an alert (no action, monitor, open a case, refer)",
                   request=TriageInputSerializer,
                   responses={200: CareAlertDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def triage(self, request: Request, pk: str | None = None) -> Response:
        v = _parse(TriageInputSerializer, request.data, lambda: actions.alert_for(request, pk, "alert.triage"))
        alert, _case = actions.triage_alert(request, pk, v["decision"], v["note"])
        return self._after(request, alert)

    @extend_schema(summary="Resolve an alert", request=NoteInputSerializer,
                   responses={200: CareAlertDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None) -> Response:
        v = _parse(NoteInputSerializer, request.data, lambda: actions.alert_for(request, pk, "alert.resolve"))
        return self._after(request, actions.resolve_alert(request, pk, v["note"]))


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
    """Parsed here; the rules (a reason unless the level is none, a review date not past) are
    the action's, the same for the page."""

    student = serializers.IntegerField(min_value=1)
    level = _choice(RiskLevel)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    review_on = serializers.DateField(required=False, allow_null=True, default=None)


class FollowUpInputSerializer(serializers.Serializer):
    student = serializers.IntegerField(min_value=1)
    note = serializers.CharField(required=False, allow_blank=True, max_length=actions.NOTE_MAX, default="")


class FollowUpSerializer(serializers.ModelSerializer):
    student = CareStudentRefSerializer(read_only=True)
    next_due_at = serializers.DateTimeField(read_only=True, allow_null=True,
                                            help_text=_("When the next follow-up is due on the register."))

    class Meta:
        model = FollowUp
        fields = ["id", "student", "at", "next_due_at"]


@extend_schema_view(
    list=extend_schema(
        summary="The risk register (重点关注名单): current levels of students in your risk scope",
        parameters=[OpenApiParameter("level", str, enum=[str(v) for v in actions.WATCHED],
                                     description=_("Only this level.")),
                    OpenApiParameter("due", str, enum=["overdue"],
                                     description=_("Only students whose follow-up is overdue."))],
    ),
)
class RegisterViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Students with a level other than none, the most severe first, then by follow-up date."""

    queryset = RiskEntry.objects.none()
    serializer_class = RiskEntrySerializer

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        result = actions.list_register(request, level=request.query_params.get("level", "").strip(),
                                       overdue=request.query_params.get("due") == "overdue",
                                       page=_page_number(request), per_page=api_settings.PAGE_SIZE)
        context = {**self.get_serializer_context(), "clinical_ids": result.clinical}
        return _paged(request, result.page,
                      RiskEntrySerializer(result.page.object_list, many=True, context=context).data)

    @extend_schema(summary="Set a student's level on the register",
                   request=RiskEntryInputSerializer,
                   responses={201: RiskEntrySerializer, 403: FORBIDDEN, 404: NOT_FOUND})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        v = _parse(RiskEntryInputSerializer, request.data, _student_check(request, "risk.set"))
        entry = actions.set_risk_level(request, v["student"], level=v["level"], reason=v["reason"],
                                       review_on=v["review_on"])
        entry = RiskEntry.objects.select_related(*STUDENT_SELECT, "set_by").get(pk=entry.pk)
        context = {**self.get_serializer_context(), "clinical_ids": {entry.student_id}}
        return Response(RiskEntrySerializer(entry, context=context).data, status=status.HTTP_201_CREATED)


def _student_check(request: Request, action: str) -> Callable[[], Any]:
    """The action's lookup of the student named in the body, when it names one."""
    def check() -> None:
        pk = actions.parse_id(request.data.get("student") if hasattr(request.data, "get") else None)
        if pk is not None:
            actions.student_for(request, pk, action)
    return check


class FollowUpViewSet(viewsets.GenericViewSet):
    """Record a follow-up contact with a student on the register; it moves the next due date."""

    queryset = FollowUp.objects.none()
    serializer_class = FollowUpSerializer

    @extend_schema(summary="Record a follow-up contact", request=FollowUpInputSerializer,
                   responses={201: FollowUpSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        v = _parse(FollowUpInputSerializer, request.data, _student_check(request, "followup.record"))
        fu = actions.record_follow_up(request, v["student"], v["note"])
        fu = FollowUp.objects.select_related(*STUDENT_SELECT).get(pk=fu.pk)
        entry = RiskEntry.current_for(fu.student)
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
    data = serializers.SerializerMethodField(
        help_text=_("The record's fields, named as in the input of its kind."))

    class Meta:
        model = CaseRecord
        fields = ["id", "kind", "kind_label", "author", "at", "data"]

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_data(self, record: CaseRecord) -> dict[str, Any]:
        return records.read_back(record.kind, record.content)


class CareCaseDetailSerializer(CareCaseSerializer):
    members = PersonRefSerializer(many=True, read_only=True)
    records = CaseRecordSerializer(many=True, read_only=True)
    can_write = serializers.SerializerMethodField(
        help_text=_("Whether you may add every kind of record, change the team and ask for closure "
                    "(the case team and the centre director). Break-glass access: false."))
    can_add_note = serializers.SerializerMethodField(
        help_text=_("Whether you may add a note: the case team, and break-glass access."))
    can_edit_team = serializers.SerializerMethodField(
        help_text=_("The case lead and the centre director change the team."))
    can_close = serializers.SerializerMethodField(help_text=_("Closure needs the centre director's review."))
    break_glass_until = serializers.SerializerMethodField(
        help_text=_("Set when you read this case through break-glass access: when it ends."))

    class Meta(CareCaseSerializer.Meta):
        fields = [*CareCaseSerializer.Meta.fields, "members", "can_write", "can_add_note",
                  "can_edit_team", "can_close", "break_glass_until", "records"]

    def _view(self) -> actions.CaseView | None:
        return self.context.get("view")

    def get_can_write(self, case: Case) -> bool:
        view = self._view()
        return bool(view and view.can_write)

    def get_can_add_note(self, case: Case) -> bool:
        view = self._view()
        return bool(view and view.can_add_note)

    def get_can_edit_team(self, case: Case) -> bool:
        view = self._view()
        return bool(view and view.can_edit_team)

    def get_can_close(self, case: Case) -> bool:
        view = self._view()
        return bool(view and view.can_close)

    def get_break_glass_until(self, case: Case) -> dt.datetime | None:
        view = self._view()
        return view.grant.expires_at if view and view.grant else None


# Record content: one serializer per kind, derived from xinlian/care/records.py (the page's
# forms are derived from the same definitions). Free text is tier 4 and stored encrypted.


def record_field(f: records.Field) -> serializers.Field:
    """The API's field for one field of a record kind."""
    common: dict[str, Any] = {"help_text": f.label}
    if not f.required:
        common["required"] = False
    if f.type == "yesno":
        return serializers.BooleanField(**common)
    if f.type == "flag":
        return serializers.BooleanField(default=False, **common)
    if f.type in ("date", "datetime"):
        cls = serializers.DateField if f.type == "date" else serializers.DateTimeField
        if not f.required:
            return cls(allow_null=True, default=None, **common)
        return cls(**common)
    if f.type == "choice":
        if not f.required:
            return serializers.ChoiceField(choices=list(f.choices), allow_blank=True, default="", **common)
        return serializers.ChoiceField(choices=list(f.choices), **common)
    if f.type == "guardian":
        common["help_text"] = _("The id of one of the student's guardians, or \"other\" (then "
                                "name them in who_other).")
    if not f.required:
        return serializers.CharField(max_length=f.max_length, allow_blank=True, default="", **common)
    return serializers.CharField(max_length=f.max_length, **common)


def record_serializer(spec: records.RecordSpec) -> type[serializers.Serializer]:
    def validate(self: serializers.Serializer, attrs: dict[str, Any]) -> dict[str, Any]:
        errors = records.field_errors(spec, attrs)
        if errors:
            raise ValidationError({("non_field_errors" if k == "__all__" else k): v for k, v in errors.items()})
        return attrs

    name = "".join(part.title() for part in spec.kind.split("_")) + "Data"
    attrs: dict[str, Any] = {f.name: record_field(f) for f in spec.fields}
    attrs.update(validate=validate, __module__=__name__,
                 __doc__=f"The fields of a {spec.kind} record (the page's form has the same names).")
    return type(name, (serializers.Serializer,), attrs)


RECORD_SERIALIZERS: dict[str, type[serializers.Serializer]] = {
    k: record_serializer(spec) for k, spec in records.SPECS.items()}
RECORD_DATA: dict[str, type[serializers.Serializer]] = {k: RECORD_SERIALIZERS[k] for k in records.ADDABLE}
SummaryInputSerializer = RECORD_SERIALIZERS[RecordKind.CLOSURE_REQUEST]
ReviewInputSerializer = RECORD_SERIALIZERS[RecordKind.CLOSURE_REVIEW]
ReopenInputSerializer = RECORD_SERIALIZERS[RecordKind.REOPEN]
SendBackInputSerializer = RECORD_SERIALIZERS[RecordKind.CLOSURE_RETURNED]


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
        attrs["data"] = dict(content.validated_data)
        return attrs


class OpenCaseInputSerializer(serializers.Serializer):
    student = serializers.IntegerField(min_value=1)
    alert = serializers.IntegerField(min_value=1, required=False, allow_null=True, default=None,
                                     help_text=_("The alert the case is opened from, if any."))


class ReasonInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=1000, help_text=_(
        "Why you need the case now (at least %(n)s characters).") % {"n": BreakGlass.MIN_REASON})


class TeamInputSerializer(serializers.Serializer):
    lead = serializers.IntegerField(min_value=1)
    members = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False,
                                    default=list)


class BreakGlassSerializer(serializers.ModelSerializer):
    class Meta:
        model = BreakGlass
        fields = ["case", "at", "expires_at"]


class OpenCaseConflictSerializer(serializers.Serializer):
    detail = serializers.CharField()
    case = serializers.IntegerField(help_text=_("The student's open case."))


CASE_RESPONSES = {403: OpenApiResponse(BreakGlassNeededSerializer,
                                       description=_("Outside the case team: break-glass is possible; "
                                                     "or not yours to do.")),
                  404: NOT_FOUND, 409: CONFLICT}


@extend_schema_view(
    list=extend_schema(
        summary="Crisis cases of your team, or of students under your case tier",
        parameters=[OpenApiParameter("status", str, enum=["open", "closed"],
                                     description=_("open: open or under review; closed."))],
    ),
)
class CaseViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Crisis cases (危机干预). Details are tier 4: every read is audited. A staff member who can
    see the student's level but is outside the case team gets a 403 that says break-glass is
    possible, and may open the case for a short window by giving a reason: then they read it
    and may add a note (``can_add_note``), nothing else (``can_write`` is false)."""

    queryset = Case.objects.none()
    serializer_class = CareCaseSerializer
    lookup_value_regex = r"\d+"

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, NeedsBreakGlass):
            url = reverse("care-api:case-break-glass", args=[exc.case.pk])
            return Response({"detail": exc.text, "break_glass": True, "break_glass_url": url},
                            status=status.HTTP_403_FORBIDDEN)
        return super().handle_exception(exc)

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = actions.list_cases(request, status=request.query_params.get("status", "").strip(),
                                  page=_page_number(request), per_page=api_settings.PAGE_SIZE)
        return _paged(request, page, CareCaseSerializer(page.object_list, many=True,
                                                        context=self.get_serializer_context()).data)

    def _detail(self, view: actions.CaseView, code: int = status.HTTP_200_OK) -> Response:
        case = (Case.objects.select_related(*STUDENT_SELECT, "lead")
                .prefetch_related("members", Prefetch("records", CaseRecord.objects.select_related("author")))
                .get(pk=view.case.pk))
        context = {**self.get_serializer_context(), "view": view}
        return Response(CareCaseDetailSerializer(case, context=context).data, status=code)

    def _after(self, request: Request, case: Case, code: int = status.HTTP_200_OK) -> Response:
        return self._detail(actions.case_view(_user(request), case), code)

    @extend_schema(summary="Open a crisis case (centre staff); you become its lead",
                   request=OpenCaseInputSerializer,
                   responses={201: CareCaseDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND,
                              409: OpenApiResponse(OpenCaseConflictSerializer,
                                                   description=_("The student already has an open case."))})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        v = _parse(OpenCaseInputSerializer, request.data)
        try:
            case = actions.open_case(request, v["student"], v["alert"])
        except Conflict as exc:
            body: dict[str, Any] = {"detail": exc.text}
            if isinstance(exc.obj, Case):
                body["case"] = exc.obj.pk
            return Response(body, status=status.HTTP_409_CONFLICT)
        return self._after(request, case, status.HTTP_201_CREATED)

    @extend_schema(summary="One crisis case with its records",
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    def retrieve(self, request: Request, pk: str | None = None) -> Response:
        return self._detail(actions.read_case(request, pk))

    @extend_schema(summary="Add a record to a case (break-glass access: a note only)",
                   request=CaseRecordInputSerializer,
                   responses={201: CaseRecordSerializer, 400: OpenApiResponse(description=_("Invalid input.")),
                              **CASE_RESPONSES})
    @action(detail=True, methods=["post"])
    def records(self, request: Request, pk: str | None = None) -> Response:
        kind = request.data.get("kind") if hasattr(request.data, "get") else None
        v = _parse(CaseRecordInputSerializer, request.data,
                   lambda: actions.case_for(request, pk, "case.record",
                                            kind=kind if isinstance(kind, str) else ""))
        record = actions.add_case_record(request, pk, v["kind"], v["data"])
        record = CaseRecord.objects.select_related("author").get(pk=record.pk)
        return Response(CaseRecordSerializer(record).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Name the case lead and members (the lead or the centre director)",
                   request=TeamInputSerializer,
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"])
    def team(self, request: Request, pk: str | None = None) -> Response:
        v = _parse(TeamInputSerializer, request.data, lambda: actions.case_for(request, pk, "case.team"))
        return self._after(request, actions.set_case_team(request, pk, lead=v["lead"], members=v["members"]))

    @extend_schema(summary="Break the glass: open a case outside your team, with a reason",
                   request=ReasonInputSerializer,
                   responses={201: BreakGlassSerializer, 404: NOT_FOUND, 409: CONFLICT})
    @action(detail=True, methods=["post"], url_path="break-glass", url_name="break-glass")
    def break_glass(self, request: Request, pk: str | None = None) -> Response:
        reason = request.data.get("reason", "") if hasattr(request.data, "get") else ""
        grant = actions.break_glass(request, pk, reason if isinstance(reason, str) else "")
        return Response(BreakGlassSerializer(grant).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Put a case up for the director's closure review",
                   request=SummaryInputSerializer,
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"], url_path="request-closure", url_name="request-closure")
    def request_closure(self, request: Request, pk: str | None = None) -> Response:
        v = _parse(SummaryInputSerializer, request.data,
                   lambda: actions.case_for(request, pk, "case.request_closure"))
        return self._after(request, actions.request_closure(request, pk, v["summary"]))

    @extend_schema(summary="Close a case after review (centre director)", request=ReviewInputSerializer,
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None) -> Response:
        v = _parse(ReviewInputSerializer, request.data, lambda: actions.case_for(request, pk, "case.close"))
        return self._after(request, actions.close_case(request, pk, v["review"]))

    @extend_schema(summary="Send a closure back to the case team with a comment (the reviewer)",
                   request=SendBackInputSerializer,
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"], url_path="send-back", url_name="send-back")
    def send_back(self, request: Request, pk: str | None = None) -> Response:
        v = _parse(SendBackInputSerializer, request.data,
                   lambda: actions.case_for(request, pk, "case.send_back"))
        return self._after(request, actions.send_back_closure(request, pk, v["comment"]))

    @extend_schema(summary="Reopen a closed case", request=ReopenInputSerializer,
                   responses={200: CareCaseDetailSerializer, **CASE_RESPONSES})
    @action(detail=True, methods=["post"])
    def reopen(self, request: Request, pk: str | None = None) -> Response:
        v = _parse(ReopenInputSerializer, request.data, lambda: actions.case_for(request, pk, "case.reopen"))
        return self._after(request, actions.reopen_case(request, pk, v["reason"]))


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
        # The action: 404 out of scope, and an audit row for a tier-2+ reader.
        return actions.read_chronology(self.request, self.kwargs["pk"])


student_timeline = StudentTimelineView.as_view()


class StudentGuardiansView(generics.ListAPIView):
    """A student's guardian contacts: the 辅导员, the head teacher and the case team (audited)."""

    serializer_class = GuardianSerializer
    queryset = Guardian.objects.none()
    pagination_class = None

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return Guardian.objects.none()
        return actions.read_guardians(self.request, self.kwargs["pk"])


student_guardians = StudentGuardiansView.as_view()
