"""The screening REST API at ``/api/v1/screening/``.

Nothing here decides who sees what: lists start from :mod:`xinlian.screening.access`
(``visible_campaigns``, ``visible_results``) and a respondent's own assignment comes from
``get_own_assignment`` (anybody else's is a 404). The verbs are the models' own
(``Assignment.consent`` / ``save_answers`` / ``submit``); a refusal in the assignment's current
state (closed window, no consent, already submitted, unanswered questions) is a 409 with the
model's reason, malformed input is a 400.

* ``campaigns/`` lists the campaigns of the schools where the caller follows students up or runs
  the centre. A student (or a peer reporter) gets an empty list, not a 403: lists are scoped,
  never forbidden; respondents find their screenings under ``assignments/``.
* ``results/`` is tier 3 (scores): every page read writes one audit row with the number of
  results shown — as the risk register's list does — never their content. Students and head
  teachers get an empty list.
* A respondent never gets scores back: ``submit`` answers ``{"submitted", "replay"}`` and the
  centre's help contacts.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from xinlian.access.policy import audit
from xinlian.network.api import UnitRefSerializer
from xinlian.network.models import User

from .access import get_own_assignment, visible_campaigns, visible_results
from .models import (
    Assignment,
    Campaign,
    CampaignInstrument,
    CentreSettings,
    Instrument,
    Result,
    ScreeningError,
)

# Refusals caused by what the client sent (400); every other ScreeningError code is a refusal
# in the assignment's current state (409): not open, closed, declined, submitted, incomplete.
BAD_INPUT_CODES = frozenset({"key", "unknown_instrument", "unknown_item", "bad_value", "not_asked",
                             "missing"})
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ANSWERS = 500  # one request: more than the longest instrument (SCL-90) twice over


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


def _refused(exc: ScreeningError) -> Response:
    code = status.HTTP_400_BAD_REQUEST if exc.code in BAD_INPUT_CODES else status.HTTP_409_CONFLICT
    return Response({"detail": " ".join(exc.messages), "code": exc.code}, status=code)


# --- serializers ---------------------------------------------------------------------------------


class ScreeningDetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField(required=False, help_text=_("A stable reason code."))


NOT_FOUND = OpenApiResponse(ScreeningDetailSerializer, description=_("Not yours, or not in your scope."))
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
        return UnitRefSerializer(result.student.klass).data

    def get_critical_items(self, result: Result) -> list[str]:
        return list(result.detail.get("critical", []))

    def get_clauses(self, result: Result) -> list[str]:
        return list(result.detail.get("clauses", []))

    def get_scores(self, result: Result) -> dict[str, float]:
        return dict(result.detail.get("scores", {}))


# --- building the respondent's view --------------------------------------------------------------


def _help(assignment: Assignment) -> dict[str, str]:
    s = CentreSettings.for_school(assignment.campaign.school)
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
        return (Assignment.objects.filter(user=_user(self.request)).select_related("campaign")
                .order_by("-campaign__opens_at", "-pk"))


ASSIGNMENT_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH,
                                 description=_("Your assignment's id."))


class AssignmentDetailView(APIView):
    """Your own assignment: consent state, questionnaires with their items, saved answers."""

    @extend_schema(summary="One of your assignments, to take or resume", parameters=[ASSIGNMENT_ID],
                   responses={200: AssignmentDetailSerializer, 404: NOT_FOUND})
    def get(self, request: Request, pk: int) -> Response:
        return _detail_response(get_own_assignment(request, pk))


class ConsentView(APIView):
    @extend_schema(summary="Agree or decline (with the consent version you read)",
                   parameters=[ASSIGNMENT_ID], request=ScreeningConsentInputSerializer,
                   responses={200: AssignmentDetailSerializer, 400: BAD_INPUT, 404: NOT_FOUND,
                              409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        assignment = get_own_assignment(request, pk)
        data = ScreeningConsentInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            assignment.consent(data.validated_data["agree"], data.validated_data["version"])
        except ScreeningError as exc:
            return _refused(exc)
        return _detail_response(assignment)


class AnswersView(APIView):
    @extend_schema(summary="Save a batch of answers — all or none",
                   parameters=[ASSIGNMENT_ID], request=ScreeningAnswersInputSerializer,
                   responses={200: ScreeningAnswersSavedSerializer, 400: BAD_INPUT, 404: NOT_FOUND,
                              409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        assignment = get_own_assignment(request, pk)
        data = ScreeningAnswersInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        entries = [(a["ci"], a["item"], a["value"], a["seconds"]) for a in data.validated_data["answers"]]
        try:
            visible = assignment.save_answers(entries)
        except ScreeningError as exc:
            return _refused(exc)
        return Response({"saved": len(entries), "visible": {str(k): v for k, v in visible.items()}})


class SubmitView(APIView):
    @extend_schema(
        summary="Submit, once: a retry or a double tap answers replay=true; never returns scores",
        parameters=[ASSIGNMENT_ID,
                    OpenApiParameter(IDEMPOTENCY_HEADER, str, OpenApiParameter.HEADER, required=False,
                                     description=_("The submission key, if not in the body."))],
        request=ScreeningSubmitInputSerializer,
        responses={200: ScreeningSubmittedSerializer, 400: BAD_INPUT, 404: NOT_FOUND, 409: CONFLICT})
    def post(self, request: Request, pk: int) -> Response:
        assignment = get_own_assignment(request, pk)
        data = ScreeningSubmitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = (data.validated_data.get("key") or request.headers.get(IDEMPOTENCY_HEADER, "")).strip()
        try:
            outcome = assignment.submit(key)
        except ScreeningError as exc:
            return _refused(exc)
        return Response(ScreeningSubmittedSerializer({"submitted": True, "replay": outcome.replay,
                                             "help": _help(assignment)}).data)


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

    def get_queryset(self) -> QuerySet[Result]:
        if getattr(self, "swagger_fake_view", False):
            return Result.objects.none()
        qs = visible_results(_user(self.request))
        wanted = self.request.query_params.get("campaign", "").strip()
        if wanted:
            if not wanted.isdigit():
                raise ValidationError({"campaign": [gettext("Give a campaign id (a number).")]})
            qs = qs.filter(campaign_id=int(wanted))
        return (qs.select_related("assignment__user", "student__klass", "instrument")
                .order_by("campaign_id", "pk"))

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        rows = list(page if page is not None else [])
        if rows:
            # One row per page read: how many results were shown, never what they say.
            wanted = request.query_params.get("campaign", "").strip()
            audit(request, "screening.result.list",
                  object_type="screening.campaign" if wanted else "screening.result",
                  object_id=wanted or "list", detail=f"results:{len(rows)}")
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)


campaign_list = CampaignListView.as_view()
my_assignments = MyAssignmentsView.as_view()
assignment_detail = AssignmentDetailView.as_view()
consent = ConsentView.as_view()
save_answer = AnswersView.as_view()
submit = SubmitView.as_view()
result_list = ResultListView.as_view()
