"""The screening REST API at ``/api/v1/screening/``.

Nothing here decides who sees what, nor any rule: lists start from
:mod:`xinlian.screening.access` (``visible_campaigns``) and every action is a verb of
:mod:`xinlian.screening.actions`, shared with the pages. Its outcome maps the same way on both
front-ends: not yours or out of scope → 404, not yours to do → 403, refused in the current state
(closed window, no consent, already recorded) → 409, input breaking a rule (a bad value, a
missing key, unanswered questions) → 400; a refusal of a screening rule carries the model's
stable ``code`` next to ``detail``.

* ``campaigns/`` lists the campaigns of the schools where the caller follows students up or runs
  the centre. A student (or a peer reporter) gets an empty list, not a 403: lists are scoped,
  never forbidden; respondents find their screenings under ``assignments/``.
* ``results/`` is tier 3 (scores): every page read writes one audit row with the number of
  results shown — as the risk register's list does — never their content. Students and head
  teachers get an empty list.
* A respondent never gets scores back: ``submit`` answers ``{"submitted", "replay"}`` and the
  centre's help contacts.
* Staff: ``assignments/<id>/results/`` (one respondent's results, tier 3, each read audited),
  ``assignments/<id>/guardian-consent/`` (risk tier over the student) and
  ``interviews/<id>/outcome/`` (the assigned counsellor or the centre; sets the risk level).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Prefetch, QuerySet
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from xinlian.lib.actions import ActionError
from xinlian.network.api import UnitRefSerializer
from xinlian.network.models import User

from . import actions
from .access import visible_campaigns
from .forms import GuardianConsentForm, InterviewForm
from .models import (
    Assignment,
    Campaign,
    CampaignInstrument,
    CentreSettings,
    Instrument,
    Interview,
    Result,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ANSWERS = 500  # one request: more than the longest instrument (SCL-90) twice over


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def _with_code(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The project's mapping of a verb's outcome (xinlian.access.adapters), plus the stable
    ``code`` a screening refusal carries (``closed``, ``version``, ``incomplete``…)."""
    response = api_settings.EXCEPTION_HANDLER(exc, context)
    code = getattr(exc, "code", None)
    if response is not None and isinstance(exc, ActionError) and isinstance(code, str):
        response.data["code"] = code
    return response


class ScreeningAPIView(APIView):
    def get_exception_handler(self) -> Any:
        return _with_code


def form_serializer(form_class: type[forms.Form], name: str) -> type[serializers.Serializer]:
    """A serializer describing a form's fields, for the API schema only: the verb validates the
    request with the form itself, so the page and the API accept exactly the same input."""
    fields: dict[str, serializers.Field] = {}
    for field_name, field in form_class.base_fields.items():
        common = {"required": field.required, "help_text": field.help_text or field.label or ""}
        if isinstance(field, forms.ChoiceField):
            # Plain text with the values named: the choices are another app's enum (the risk
            # levels), which the schema already names once.
            values = ", ".join(str(v) for v, _label in field.choices)
            common["help_text"] = format_lazy("{} ({})", common["help_text"], values)
            fields[field_name] = serializers.CharField(**common)
        elif isinstance(field, forms.DateField):
            fields[field_name] = serializers.DateField(allow_null=not field.required, **common)
        else:
            fields[field_name] = serializers.CharField(max_length=getattr(field, "max_length", None),
                                                       allow_blank=not field.required, **common)
    return type(name, (serializers.Serializer,), fields)


# --- serializers ---------------------------------------------------------------------------------


class ScreeningDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text=_("A stable reason code."))


NOT_FOUND = OpenApiResponse(ScreeningDetailSerializer, description=_("Not yours, or not in your scope."))
NOT_ALLOWED = OpenApiResponse(ScreeningDetailSerializer, description=_("In your scope, but not yours to do."))
BAD_INPUT = OpenApiResponse(OpenApiTypes.OBJECT, description=_("Malformed input; the reason is given."))
CONFLICT = OpenApiResponse(ScreeningDetailSerializer,
                           description=_("Refused in the assignment's current state (closed, no "
                                         "consent, already submitted, unanswered questions)."))


class ScreeningCampaignSerializer(serializers.ModelSerializer):
    school = UnitRefSerializer(read_only=True)
    status = serializers.SerializerMethodField()
    status_label = serializers.SerializerMethodField()
    instruments = serializers.SerializerMethodField(help_text=_("Instrument codes, in order."))
    restricted_licence = serializers.SerializerMethodField(
        help_text=_("True when an instrument's licence is restricted: check before use."))

    class Meta:
        model = Campaign
        fields = ["id", "name", "school", "status", "status_label", "opens_at", "closes_at", "cohort",
                  "instruments", "restricted_licence"]

    def _instruments(self, campaign: Campaign) -> list[Instrument]:
        # From the prefetch of the list view (ordered like CampaignInstrument.Meta.ordering).
        return [ci.instrument for ci in campaign.campaign_instruments.all()]

    def get_status(self, campaign: Campaign) -> str:
        return str(campaign.status())

    def get_status_label(self, campaign: Campaign) -> str:
        return campaign.get_status_display()

    def get_instruments(self, campaign: Campaign) -> list[str]:
        return [i.code for i in self._instruments(campaign)]

    def get_restricted_licence(self, campaign: Campaign) -> bool:
        return any(i.is_restricted for i in self._instruments(campaign))


class ScreeningCampaignRefSerializer(serializers.ModelSerializer):
    status = serializers.SerializerMethodField()
    status_label = serializers.SerializerMethodField()

    class Meta:
        model = Campaign
        fields = ["id", "name", "status", "status_label", "opens_at", "closes_at"]

    def get_status(self, campaign: Campaign) -> str:
        return str(campaign.status())

    def get_status_label(self, campaign: Campaign) -> str:
        return campaign.get_status_display()


class ScreeningAssignmentSerializer(serializers.ModelSerializer):
    campaign = ScreeningCampaignRefSerializer(read_only=True)
    status = serializers.CharField(read_only=True)
    status_label = serializers.CharField(source="get_status_display", read_only=True)
    url = serializers.CharField(source="get_absolute_url", read_only=True,
                                help_text=_("The page that takes this screening."))

    class Meta:
        model = Assignment
        fields = ["id", "campaign", "status", "status_label", "consent_agreed", "submitted_at", "url"]


class ScreeningOptionSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    label = serializers.CharField()


class ScreeningItemSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    text = serializers.CharField()
    options = ScreeningOptionSerializer(many=True)
    visible = serializers.BooleanField(help_text=_("Asked, given the answers so far (skip logic)."))


class ScreeningQuestionnaireSerializer(serializers.Serializer):
    ci = serializers.IntegerField(help_text=_("Send this id with each answer."))
    code = serializers.CharField()
    name = serializers.CharField()
    short_name = serializers.CharField()
    instructions = serializers.CharField(allow_blank=True)
    items_per_page = serializers.IntegerField()
    items = ScreeningItemSerializer(many=True)
    answers = serializers.DictField(child=serializers.IntegerField(),
                                    help_text=_("Saved answers by item number."))


class ScreeningConsentStateSerializer(serializers.Serializer):
    purpose = serializers.CharField(help_text=_("What the screening is for and who sees the results."))
    version = serializers.IntegerField(help_text=_("The consent version to send back when agreeing."))
    agreed = serializers.BooleanField(allow_null=True)
    agreed_version = serializers.IntegerField(allow_null=True)
    at = serializers.DateTimeField(allow_null=True)
    needs_guardian_consent = serializers.BooleanField()


class ScreeningHelpSerializer(serializers.Serializer):
    phone = serializers.CharField(allow_blank=True)
    hours = serializers.CharField(allow_blank=True)
    place = serializers.CharField(allow_blank=True)
    text = serializers.CharField(allow_blank=True)
    hotline = serializers.CharField()


class AssignmentDetailSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = ScreeningCampaignRefSerializer()
    status = serializers.CharField()
    status_label = serializers.CharField()
    may_answer = serializers.BooleanField()
    consent = ScreeningConsentStateSerializer()
    questionnaires = ScreeningQuestionnaireSerializer(many=True)
    help = ScreeningHelpSerializer()


class ScreeningConsentInputSerializer(serializers.Serializer):
    agree = serializers.BooleanField()
    version = serializers.IntegerField(min_value=0, help_text=_("The consent version you read."))


class ScreeningAnswerInputSerializer(serializers.Serializer):
    ci = serializers.IntegerField(help_text=_("The questionnaire id (``ci`` of the assignment)."))
    item = serializers.IntegerField()
    value = serializers.IntegerField()
    seconds = serializers.FloatField(required=False, allow_null=True, min_value=0, default=None,
                                     help_text=_("Seconds spent on the item (quality checks)."))


class ScreeningAnswersInputSerializer(serializers.Serializer):
    answers = ScreeningAnswerInputSerializer(many=True, allow_empty=False, max_length=MAX_ANSWERS)


class ScreeningAnswersSavedSerializer(serializers.Serializer):
    saved = serializers.IntegerField()
    visible = serializers.DictField(child=serializers.ListField(child=serializers.IntegerField()),
                                    help_text=_("Per questionnaire id, the items now asked."))


class ScreeningSubmitInputSerializer(serializers.Serializer):
    key = serializers.CharField(required=False, max_length=64, allow_blank=True,
                                help_text=_("Made by the client once per submission (or sent as the "
                                            "Idempotency-Key header); a retry with any key after a "
                                            "submission answers replay=true."))


class ScreeningSubmittedSerializer(serializers.Serializer):
    submitted = serializers.BooleanField()
    replay = serializers.BooleanField()
    help = ScreeningHelpSerializer()


class ScreeningResultSerializer(serializers.ModelSerializer):
    """A result (tier 3). ``scores`` are decrypted from the stored engine output."""

    number = serializers.SerializerMethodField()
    name = serializers.SerializerMethodField()
    klass = serializers.SerializerMethodField()
    instrument = serializers.CharField(source="instrument.code", read_only=True)
    critical = serializers.BooleanField(read_only=True)
    critical_items = serializers.SerializerMethodField(help_text=_("Ids of the critical items hit."))
    clauses = serializers.SerializerMethodField(help_text=_("Ids of the clauses behind the classification."))
    scores = serializers.SerializerMethodField()

    class Meta:
        model = Result
        fields = ["id", "assignment", "campaign", "number", "name", "klass", "instrument",
                  "instrument_version", "rule_version", "classification", "positive", "clauses",
                  "critical", "critical_items", "bands", "flags", "scores", "scored_at"]

    def get_number(self, result: Result) -> str:
        return result.assignment.user.username

    def get_name(self, result: Result) -> str:
        return result.assignment.user.full_name

    @extend_schema_field(UnitRefSerializer(allow_null=True))
    def get_klass(self, result: Result) -> dict[str, Any] | None:
        if result.student is None:
            return None  # a staff respondent
        # One serializer for every row of the page: building its fields per row cost more
        # than the rest of the row (bench/school_size.py).
        ref = self.__dict__.get("_unit_ref") or self.__dict__.setdefault("_unit_ref", UnitRefSerializer())
        return ref.to_representation(result.student.klass)

    def get_critical_items(self, result: Result) -> list[str]:
        return list(result.detail.get("critical", []))

    def get_clauses(self, result: Result) -> list[str]:
        return list(result.detail.get("clauses", []))

    def get_scores(self, result: Result) -> dict[str, float]:
        return dict(result.detail.get("scores", {}))


GuardianConsentInputSerializer = form_serializer(GuardianConsentForm, "GuardianConsentInputSerializer")
InterviewOutcomeInputSerializer = form_serializer(InterviewForm, "InterviewOutcomeInputSerializer")


class GuardianConsentSerializer(serializers.ModelSerializer):
    needs_guardian_consent = serializers.BooleanField(read_only=True)

    class Meta:
        model = Assignment
        fields = ["id", "guardian_consent_at", "guardian_consent_note", "needs_guardian_consent"]


class InterviewOutcomeSerializer(serializers.ModelSerializer):
    """The interview as recorded. The notes stay out: the recorder wrote them, and a response
    body is no place to repeat tier-3 text."""

    status = serializers.CharField(read_only=True, help_text=_("pending or done"))
    outcome = serializers.CharField(read_only=True, help_text=_("The risk level recorded."))

    class Meta:
        model = Interview
        fields = ["id", "assignment", "student", "campaign", "status", "outcome", "done_at"]


# --- building the respondent's view --------------------------------------------------------------


def _help(assignment: Assignment, cached: bool = False) -> dict[str, str]:
    # After a submit: the settings kept per process (the busiest request of the year); the
    # campaign's school by its pk, not loaded.
    s = (CentreSettings.cached_for_school(assignment.campaign.school_id) if cached
         else CentreSettings.for_school(assignment.campaign.school))
    return {"phone": s.help_phone, "hours": s.help_hours, "place": s.help_place, "text": s.help_text,
            "hotline": s.hotline_number}


def _questionnaire(ci: CampaignInstrument, answers: dict[int, int]) -> dict[str, Any]:
    inst = ci.instrument
    spec = inst.spec
    shown = set(spec.visible_items(answers))
    options = {name: [{"value": o["value"], "label": spec.label(o["label"])} for o in opts]
               for name, opts in spec.option_sets.items()}
    instructions = inst.definition.get("instructions")
    return {
        "ci": ci.pk,
        "code": inst.code,
        "name": inst.display_name,
        "short_name": inst.short_name,
        "instructions": spec.label(instructions) if instructions else "",
        "items_per_page": spec.items_per_page,
        "items": [{"number": it.number, "text": inst.item_text(it.number),
                   "options": options[it.option_set], "visible": it.number in shown}
                  for it in spec.items],
        "answers": {str(k): v for k, v in answers.items()},
    }


def assignment_payload(assignment: Assignment) -> dict[str, Any]:
    """Everything a respondent needs to take (or resume) their screening — never a score."""
    campaign = assignment.campaign
    answers = assignment.answers_by_instrument()
    cis = campaign.campaign_instruments.select_related("instrument")
    return {
        "id": assignment.pk,
        "campaign": campaign,
        "status": assignment.status,
        "status_label": assignment.get_status_display(),
        "may_answer": assignment.may_answer and campaign.is_open(),
        "consent": {
            "purpose": campaign.purpose,
            "version": campaign.consent_version,
            "agreed": assignment.consent_agreed,
            "agreed_version": assignment.consent_version,
            "at": assignment.consent_at,
            "needs_guardian_consent": assignment.needs_guardian_consent,
        },
        "questionnaires": [_questionnaire(ci, answers.get(ci.pk, {})) for ci in cis],
        "help": _help(assignment),
    }


def _detail_response(assignment: Assignment, code: int = status.HTTP_200_OK) -> Response:
    assignment = Assignment.objects.select_related("campaign__school", "student").get(pk=assignment.pk)
    return Response(AssignmentDetailSerializer(assignment_payload(assignment)).data, status=code)


# --- views ---------------------------------------------------------------------------------------


@extend_schema(summary="Screening campaigns of the schools where you follow students up or run the "
                       "centre (empty for students: see your assignments)")
class CampaignListView(generics.ListAPIView):
    serializer_class = ScreeningCampaignSerializer
    queryset = Campaign.objects.none()

    def get_queryset(self) -> QuerySet[Campaign]:
        if getattr(self, "swagger_fake_view", False):
            return Campaign.objects.none()
        return (visible_campaigns(_user(self.request)).select_related("school")
                .prefetch_related(Prefetch("campaign_instruments",
                                           CampaignInstrument.objects.select_related("instrument")))
                .order_by("-opens_at", "-pk"))


@extend_schema(summary="Your screening invitations (assignments), newest first")
class MyAssignmentsView(generics.ListAPIView):
    serializer_class = ScreeningAssignmentSerializer
    queryset = Assignment.objects.none()

    def get_queryset(self) -> QuerySet[Assignment]:
        if getattr(self, "swagger_fake_view", False):
            return Assignment.objects.none()
        return actions.my_assignments(self.request)


ASSIGNMENT_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                                 description=_("Your assignment's id."))


class AssignmentDetailView(ScreeningAPIView):
    """Your own assignment: consent state, questionnaires with their items, saved answers."""

    @extend_schema(summary="One of your assignments, to take or resume", parameters=[ASSIGNMENT_ID],
                   responses={200: AssignmentDetailSerializer, 404: NOT_FOUND})
    def get(self, request: Request, pk: int) -> Response:
        return _detail_response(actions.my_assignment(request, pk))


class ConsentView(ScreeningAPIView):
    @extend_schema(summary="Agree or decline (with the consent version you read)",
                   parameters=[ASSIGNMENT_ID], request=ScreeningConsentInputSerializer,
                   responses={200: AssignmentDetailSerializer, 400: BAD_INPUT, 404: NOT_FOUND,
                              409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        data = ScreeningConsentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        assignment = actions.give_consent(request, pk, data.validated_data["agree"],
                                          data.validated_data["version"])
        return _detail_response(assignment)


class AnswersView(ScreeningAPIView):
    @extend_schema(summary="Save a batch of answers — all or none",
                   parameters=[ASSIGNMENT_ID], request=ScreeningAnswersInputSerializer,
                   responses={200: ScreeningAnswersSavedSerializer, 400: BAD_INPUT, 404: NOT_FOUND,
                              409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        data = ScreeningAnswersInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entries = [(a["ci"], a["item"], a["value"], a["seconds"]) for a in data.validated_data["answers"]]
        _assignment, visible = actions.save_answers(request, pk, entries)
        return Response({"saved": len(entries), "visible": {str(k): v for k, v in visible.items()}})


def submitted_body(outcome: Any) -> dict[str, Any]:
    """What ``ScreeningSubmittedSerializer(...).data`` gives for a submit's outcome."""
    return {"submitted": True, "replay": bool(outcome.replay),
            "help": {name: str(value) for name, value in _help(outcome.assignment, cached=True).items()}}


class SubmitView(ScreeningAPIView):
    @extend_schema(
        summary="Submit, once: a retry or a double tap answers replay=true; never returns scores",
        parameters=[ASSIGNMENT_ID,
                    OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, required=False,
                                     description=_("The submission key, if not in the body."))],
        request=ScreeningSubmitInputSerializer,
        responses={200: ScreeningSubmittedSerializer, 400: BAD_INPUT, 404: NOT_FOUND, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        data = ScreeningSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = (data.validated_data.get("key") or request.headers.get(IDEMPOTENCY_HEADER, "")).strip()
        outcome = actions.submit(request, pk, key)
        # The body ScreeningSubmittedSerializer describes (the schema's), built directly: its
        # fields are plain booleans and strings, and building the serializer's fields cost a
        # tenth of this request (bench/floor.py; tests/test_request_floor.py compares the two).
        return Response(submitted_body(outcome))


@extend_schema(
    summary="Screening results you may read (tier 3, audited per page)",
    parameters=[OpenApiParameter("campaign", int, description=_("Only results of this campaign."))],
)
class ResultListView(generics.ListAPIView):
    """Results of students over whom you hold the scores tier (centre staff; the 辅导员 when the
    campaign's visibility allows), and — for the centre — staff respondents. Every page read is
    one audit row with the number of results shown."""

    serializer_class = ScreeningResultSerializer
    queryset = Result.objects.none()

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        rows = actions.list_results(request, request.query_params.get("campaign", ""), self.paginate_queryset)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


class AssignmentResultsView(ScreeningAPIView):
    @extend_schema(summary="One respondent's results (tier 3; every read audited)",
                   parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                                                description=_("The assignment's id."))],
                   responses={200: ScreeningResultSerializer(many=True), 404: NOT_FOUND})
    def get(self, request: Request, pk: int) -> Response:
        read = actions.read_results(request, pk)
        return Response(ScreeningResultSerializer(read.results, many=True).data)


class GuardianConsentView(ScreeningAPIView):
    @extend_schema(summary="Record how a guardian consented for a student under 14",
                   parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                                                description=_("The student's assignment id."))],
                   request=GuardianConsentInputSerializer,
                   responses={200: GuardianConsentSerializer, 400: BAD_INPUT, 404: NOT_FOUND,
                              409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        assignment = actions.record_guardian_consent(request, pk, request.data)
        return Response(GuardianConsentSerializer(assignment).data)


class InterviewOutcomeView(ScreeningAPIView):
    @extend_schema(summary="Record a screening interview's outcome (sets or clears the risk level)",
                   parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                                                description=_("The interview's id."))],
                   request=InterviewOutcomeInputSerializer,
                   responses={200: InterviewOutcomeSerializer, 400: BAD_INPUT, 403: NOT_ALLOWED,
                              404: NOT_FOUND, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        interview = actions.record_interview(request, pk, request.data)
        return Response(InterviewOutcomeSerializer(interview).data, status=status.HTTP_200_OK)


campaign_list = CampaignListView.as_view()
my_assignments = MyAssignmentsView.as_view()
assignment_detail = AssignmentDetailView.as_view()
consent = ConsentView.as_view()
save_answer = AnswersView.as_view()
# The rate limit's count of the last hour comes with the session's user (as for the page).
submit = actions.with_submit_columns(SubmitView.as_view())
result_list = ResultListView.as_view()
assignment_results = AssignmentResultsView.as_view()
guardian_consent = GuardianConsentView.as_view()
interview_outcome = InterviewOutcomeView.as_view()
