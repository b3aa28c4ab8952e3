"""Periodic peer reports at ``/api/v1/duties/``: submit, list, read, sign off or send back, and
the completeness table. A thin adapter over :mod:`xinlian.duties.actions`, the verbs the pages
call: refusals become 404 / 403 / 409 / 400 through the project's exception handler."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from xinlian.care.api import CONFLICT, FORBIDDEN, NOT_FOUND, DetailSerializer
from xinlian.lib.actions import Invalid
from xinlian.network.api import PersonRefSerializer, UnitRefSerializer

from . import actions
from .models import Flag, Report, ReportPeriod

BAD_INPUT = OpenApiResponse(DetailSerializer, description=_("Invalid input: the messages by field."))


class PeriodSerializer(serializers.ModelSerializer):
    role = serializers.CharField(source="cycle.role", read_only=True)
    cadence = serializers.CharField(source="cycle.cadence", read_only=True)

    class Meta:
        model = ReportPeriod
        fields = ["id", "role", "cadence", "starts_on", "ends_on", "due_on", "closes_on"]


class FlagSerializer(serializers.ModelSerializer):
    student = serializers.IntegerField(source="student_id", read_only=True)
    student_name = serializers.CharField(source="student.user.full_name", read_only=True)
    concern = serializers.IntegerField(source="concern_id", read_only=True, allow_null=True,
                                       help_text=_("The concern an urgent flag became."))

    class Meta:
        model = Flag
        fields = ["student", "student_name", "category", "urgency", "seen", "concern"]


class ReportSerializer(serializers.ModelSerializer):
    period = PeriodSerializer(read_only=True)
    unit = UnitRefSerializer(read_only=True)
    reporter = PersonRefSerializer(read_only=True)
    n_flags = serializers.IntegerField(read_only=True, help_text=_("How many students it flags."))

    class Meta:
        model = Report
        fields = ["id", "period", "unit", "reporter", "state", "is_zero", "status", "submitted_at",
                  "reviewed_at", "n_flags"]


class ReportDetailSerializer(ReportSerializer):
    note = serializers.SerializerMethodField()
    review_comment = serializers.CharField(read_only=True)
    flags = serializers.SerializerMethodField()

    class Meta(ReportSerializer.Meta):
        fields = [*ReportSerializer.Meta.fields, "note", "review_comment", "flags"]

    def get_note(self, report: Report) -> str:
        return report.note if self.context.get("reads_flags") else ""

    def get_flags(self, report: Report) -> list[dict[str, Any]]:
        return FlagSerializer(self.context.get("flags", []), many=True).data  # type: ignore[return-value]


def _detail(view: actions.ReportView) -> dict[str, Any]:
    view.report.n_flags = len(view.flags) if view.reads_flags else view.report.flags.count()
    return ReportDetailSerializer(view.report, context={"reads_flags": view.reads_flags,
                                                         "flags": view.flags}).data


class FlagInputSerializer(serializers.Serializer):
    student = serializers.CharField(help_text=_("The student's id, from your class or dormitory roster."))
    seen = serializers.CharField(help_text=_("What you saw or heard."), allow_blank=True)
    category = serializers.CharField(help_text=_("A concern category, e.g. emotional, self_harm."))
    urgency = serializers.CharField(help_text=_("now (becomes a concern at once), soon or routine."))


class ReportInputSerializer(serializers.Serializer):
    unit = serializers.CharField(required=False, help_text=_("The id of your post's class or dormitory (or college)."))
    post = serializers.CharField(required=False, help_text=_("Or the id of your post (as the report page's address)."))
    period = serializers.CharField(required=False, allow_blank=True,
                                   help_text=_("The period's id; default the open period due first."))
    zero = serializers.BooleanField(required=False, default=False,
                                    help_text=_("Nothing unusual: a complete zero report."))
    state = serializers.CharField(required=False, default="calm", help_text=_("calm or concerns."))
    note = serializers.CharField(required=False, allow_blank=True, default="")
    flags = FlagInputSerializer(many=True, required=False)
    draft = serializers.BooleanField(required=False, default=False)


class CommentSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True)


class TallySerializer(serializers.Serializer):
    expected = serializers.IntegerField()
    on_time = serializers.IntegerField()
    late = serializers.IntegerField()
    missing = serializers.IntegerField()
    zero = serializers.IntegerField()
    signed_off = serializers.IntegerField()


class RowSerializer(serializers.Serializer):
    label = serializers.CharField()
    unit = serializers.IntegerField(source="unit.pk", allow_null=True, default=None)
    report = serializers.IntegerField(source="report_id", allow_null=True)
    status = serializers.CharField()
    tally = TallySerializer()


class CompletenessSerializer(serializers.Serializer):
    unit = UnitRefSerializer()
    period = PeriodSerializer()
    total = TallySerializer()
    rows = RowSerializer(many=True)


def _body(request: Request) -> dict[str, Any]:
    return request.data if isinstance(request.data, dict) else {}


def _input(body: dict[str, Any]) -> actions.ReportInput:
    flags = body.get("flags") or []
    if not isinstance(flags, list) or not all(isinstance(f, dict) for f in flags):
        raise Invalid(errors={"flags": [_("A list of students, each with student, seen, category and urgency.")]})
    return actions.ReportInput(
        zero=body.get("zero") is True, state=str(body.get("state") or ("concerns" if flags else "calm")),
        note=str(body.get("note") or ""), draft=body.get("draft") is True,
        flags=[actions.FlagInput(student=f.get("student"), seen=f.get("seen"), category=f.get("category"),
                                 urgency=f.get("urgency")) for f in flags])


@extend_schema(methods=["GET"], summary="Reports you may open (your own; your units' if you review them)",
               parameters=[OpenApiParameter("status", str, description=_("draft, submitted, signed_off or sent_back.")),
                           OpenApiParameter("to_review", bool, description=_("Only those waiting for your sign-off."))],
               responses={200: ReportSerializer(many=True), 400: BAD_INPUT})
@extend_schema(methods=["POST"], summary="File (or edit until sign-off) your post's report for a period",
               request=ReportInputSerializer,
               responses={201: ReportDetailSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND,
                          409: CONFLICT})
@api_view(["GET", "POST"])
def reports(request: Request) -> Response:
    if request.method == "GET":
        qs = actions.list_reports(request, status=request.query_params.get("status", ""),
                                  to_review=request.query_params.get("to_review") in ("1", "true"))
        return Response(ReportSerializer(qs[:200], many=True).data)
    body = _body(request)
    report = actions.submit_report(request, post_id=body.get("post"), unit_id=body.get("unit"),
                                   period_id=body.get("period"), data=_input(body))
    flags = list(report.flags.select_related("student__user"))
    report = Report.objects.select_related("period__cycle", "unit", "reporter").get(pk=report.pk)
    return Response(_detail(actions.ReportView(report, flags, True, False)), status=status.HTTP_201_CREATED)


@extend_schema(summary="One report, with what its flags say where you may read it",
               responses={200: ReportDetailSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def report_detail(request: Request, pk: int) -> Response:
    return Response(_detail(actions.read_report(request, pk)))


@extend_schema(summary="Sign off a submitted report (a college summary: approve it)", request=CommentSerializer,
               responses={200: ReportSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def report_sign_off(request: Request, pk: int) -> Response:
    report = actions.sign_off_report(request, pk, str(_body(request).get("comment") or ""))
    report.n_flags = report.flags.count()
    return Response(ReportSerializer(report).data)


@extend_schema(summary="Send a submitted report back to its reporter with a comment", request=CommentSerializer,
               responses={200: ReportSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def report_send_back(request: Request, pk: int) -> Response:
    report = actions.send_back_report(request, pk, str(_body(request).get("comment") or ""))
    report.n_flags = report.flags.count()
    return Response(ReportSerializer(report).data)


@extend_schema(summary="Completeness of one period under one unit (counts only)",
               parameters=[OpenApiParameter("unit", str), OpenApiParameter("cycle", str),
                           OpenApiParameter("period", str)],
               responses={200: CompletenessSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["GET"])
def completeness(request: Request) -> Response:
    q = request.query_params
    table = actions.completeness(request, unit_id=q.get("unit"), cycle_id=q.get("cycle"), period_id=q.get("period"))
    return Response(CompletenessSerializer(table).data)
