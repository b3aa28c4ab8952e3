"""Training at ``/api/v1/training/``: sessions (list, plan, read), invitations, one-tap
attendance, the not-yet-trained list and the hours table. A thin adapter over
:mod:`xinlian.training.actions`, the verbs the pages call: refusals become 404 / 403 / 409 /
400 through the project's exception handler."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from xinlian.care.api import CONFLICT, FORBIDDEN, NOT_FOUND, DetailSerializer
from xinlian.network.api import PersonRefSerializer, UnitRefSerializer
from xinlian.network.models import Post

from . import actions
from .models import Attendance, TrainingSession

BAD_INPUT = OpenApiResponse(DetailSerializer, description=_("Invalid input: the messages by field."))


class SessionSerializer(serializers.ModelSerializer):
    organiser = UnitRefSerializer(read_only=True)
    n_invited = serializers.IntegerField(read_only=True, required=False)
    n_attended = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = TrainingSession
        fields = ["id", "title", "audience", "is_pre_service", "organiser", "starts_at", "hours", "place",
                  "parents_count", "n_invited", "n_attended"]


class AttendanceSerializer(serializers.ModelSerializer):
    person = PersonRefSerializer(read_only=True)

    class Meta:
        model = Attendance
        fields = ["person", "status", "hours", "recorded_at"]


class SessionDetailSerializer(SessionSerializer):
    attendance = serializers.SerializerMethodField(help_text=_("The attendance list: for the session's organisers."))
    mine = serializers.SerializerMethodField(help_text=_("Your own invitation, if you are invited."))

    class Meta(SessionSerializer.Meta):
        fields = [*SessionSerializer.Meta.fields, "attendance", "mine"]

    def get_attendance(self, session: TrainingSession) -> list[dict[str, Any]]:
        return AttendanceSerializer(self.context.get("rows", []), many=True).data  # type: ignore[return-value]

    def get_mine(self, session: TrainingSession) -> dict[str, Any] | None:
        mine = self.context.get("mine")
        return AttendanceSerializer(mine).data if mine else None


class SessionInputSerializer(serializers.Serializer):
    title = serializers.CharField()
    audience = serializers.CharField(help_text=_("committee, dorm_liaison, fudaoyuan, head_teacher, parents, "
                                                 "supervision or other."))
    is_pre_service = serializers.BooleanField(required=False, default=False)
    organiser = serializers.CharField(required=False, help_text=_("Your school's or college's unit id."))
    starts_at = serializers.DateTimeField()
    hours = serializers.DecimalField(max_digits=4, decimal_places=1)
    place = serializers.CharField(required=False, allow_blank=True)


class InviteSerializer(serializers.Serializer):
    role = serializers.CharField(help_text=_("The post role to invite, e.g. committee_member."))
    unit = serializers.CharField(required=False, help_text=_("A unit under the organiser; default the organiser."))
    only_untrained = serializers.BooleanField(required=False, default=False)


class InvitedSerializer(serializers.Serializer):
    invited = serializers.IntegerField(help_text=_("How many were added."))


class AttendanceInputSerializer(serializers.Serializer):
    person = serializers.CharField(help_text=_("The invited person's id."))
    status = serializers.CharField(help_text=_("attended or absent."))
    hours = serializers.DecimalField(max_digits=4, decimal_places=1, required=False,
                                     help_text=_("Hours credited; default the session's."))


class AttendanceResultSerializer(AttendanceSerializer):
    changed = serializers.BooleanField(read_only=True)

    class Meta(AttendanceSerializer.Meta):
        fields = [*AttendanceSerializer.Meta.fields, "changed"]


class UntrainedPostSerializer(serializers.ModelSerializer):
    person = PersonRefSerializer(read_only=True)
    unit = UnitRefSerializer(read_only=True)

    class Meta:
        model = Post
        fields = ["id", "person", "unit", "role"]


class UntrainedSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    posts = UntrainedPostSerializer(many=True)


class HoursRowSerializer(serializers.Serializer):
    label = serializers.CharField()
    unit = serializers.IntegerField(source="unit.pk", allow_null=True, default=None)
    person = serializers.IntegerField(source="person.pk", allow_null=True, default=None)
    people = serializers.IntegerField()
    trained_people = serializers.IntegerField()
    sessions = serializers.IntegerField()
    hours = serializers.DecimalField(max_digits=8, decimal_places=1)
    organised = serializers.IntegerField()
    parents = serializers.IntegerField()


class HoursSerializer(serializers.Serializer):
    unit = UnitRefSerializer()
    term = serializers.CharField(source="term.code")
    rows = HoursRowSerializer(many=True)
    total = HoursRowSerializer()


def _body(request: Request) -> dict[str, Any]:
    return request.data if isinstance(request.data, dict) else {}


@extend_schema(methods=["GET"], summary="Training sessions you organise or are invited to",
               parameters=[OpenApiParameter("upcoming", bool)], responses={200: SessionSerializer(many=True)})
@extend_schema(methods=["POST"], summary="Plan a session at your school (centre) or college",
               request=SessionInputSerializer, responses={201: SessionSerializer, 400: BAD_INPUT, 403: FORBIDDEN})
@api_view(["GET", "POST"])
def sessions(request: Request) -> Response:
    if request.method == "GET":
        flag = request.query_params.get("upcoming")
        upcoming = True if flag in ("1", "true") else False if flag in ("0", "false") else None
        return Response(SessionSerializer(actions.list_sessions(request, upcoming=upcoming)[:200], many=True).data)
    b = _body(request)
    session = actions.create_session(request, actions.SessionInput(
        title=b.get("title"), audience=b.get("audience"), organiser=b.get("organiser"), starts_at=b.get("starts_at"),
        hours=b.get("hours"), place=b.get("place"), is_pre_service=b.get("is_pre_service") is True))
    return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="One session; its organisers get the attendance list", responses={200: SessionDetailSerializer,
                                                                                      404: NOT_FOUND})
@api_view(["GET"])
def session_detail(request: Request, pk: int) -> Response:
    view = actions.read_session(request, pk)
    return Response(SessionDetailSerializer(view.session, context={"rows": view.rows, "mine": view.mine}).data)


@extend_schema(summary="Invite the holders of a post under a unit to an upcoming session", request=InviteSerializer,
               responses={200: InvitedSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def session_invite(request: Request, pk: int) -> Response:
    b = _body(request)
    n = actions.invite(request, pk, role=b.get("role"), unit_id=b.get("unit"), only_untrained=b.get("only_untrained") is True)
    return Response({"invited": n})


@extend_schema(summary="Record one invited person attended or absent (idempotent)", request=AttendanceInputSerializer,
               responses={200: AttendanceResultSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND,
                          409: CONFLICT})
@api_view(["POST"])
def attendance(request: Request, pk: int) -> Response:
    b = _body(request)
    row, changed = actions.record_attendance(request, pk, person=b.get("person"), status=b.get("status"),
                                             hours=b.get("hours"))
    row = Attendance.objects.select_related("person").get(pk=row.pk)
    row.changed = changed
    return Response(AttendanceResultSerializer(row).data)


@extend_schema(summary="Post holders in your units not yet trained", parameters=[OpenApiParameter("unit", str)],
               responses={200: UntrainedSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["GET"])
def untrained(request: Request) -> Response:
    result = actions.untrained(request, unit_id=request.query_params.get("unit"))
    return Response(UntrainedSerializer(result).data)


@extend_schema(summary="Training hours per unit (or per person in a college) for a term",
               parameters=[OpenApiParameter("unit", str), OpenApiParameter("term", str, description=_("e.g. 2026-2."))],
               responses={200: HoursSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["GET"])
def hours(request: Request) -> Response:
    q = request.query_params
    return Response(HoursSerializer(actions.hours(request, unit_id=q.get("unit"), term=q.get("term"))).data)
