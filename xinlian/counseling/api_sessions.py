"""Counselling sessions in the REST API (``/api/v1/counseling/sessions/``, ``groups/``): a thin
adapter over :mod:`.actions_sessions`, the verbs the pages call. The record (tier 5) is in a
session's answer only for its readers — the session's counsellor, the centre director, the
named supervisor — and each read is audited. Refusals become 404 / 403 / 409 / 400 through the
project's exception handler."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from . import actions_sessions as verbs
from .api import BAD_INPUT, CONFLICT, FORBIDDEN, NOT_FOUND, CounsellorRefSerializer, _data, _str
from .models import CounselingGroup, GroupAttendance, GroupMember, Session


class CounselingSessionSerializer(serializers.ModelSerializer):
    """A session as the load sees it: who, when, what kind, whether they came — never the record."""

    counsellor = CounsellorRefSerializer(read_only=True)
    client = serializers.SerializerMethodField()
    kind = serializers.CharField(read_only=True, help_text=_("individual, group or family."))
    attendance = serializers.CharField(read_only=True, help_text=_("planned, attended, cancelled or no_show."))
    recorded = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = ["id", "kind", "starts_at", "minutes", "mode", "counsellor", "client", "episode", "group",
                  "booking", "attendance", "recorded"]

    def get_client(self, obj: Session) -> dict[str, Any] | None:
        if obj.episode_id is None:
            return None
        return {"id": obj.episode.client_id, "name": obj.episode.client.full_name}

    def get_recorded(self, obj: Session) -> bool:
        return obj.recorded_at is not None


class CounselingRecordSerializer(serializers.Serializer):
    presenting = serializers.CharField(allow_blank=True)
    assessment = serializers.CharField(allow_blank=True)
    intervention = serializers.CharField(allow_blank=True)
    plan = serializers.CharField(allow_blank=True)
    notes = serializers.CharField(allow_blank=True)
    family_present = serializers.CharField(allow_blank=True)


class CounselingMemberAttendanceSerializer(serializers.ModelSerializer):
    member = serializers.IntegerField(source="member_id")
    client = serializers.CharField(source="member.client.full_name")

    class Meta:
        model = GroupAttendance
        fields = ["member", "client", "attendance"]


class CounselingSessionDetailSerializer(serializers.Serializer):
    session = CounselingSessionSerializer()
    risk = serializers.CharField(allow_null=True, help_text=_("The record's readers only."))
    record = CounselingRecordSerializer(allow_null=True, help_text=_("Tier 5: the session's counsellor, the centre director "
                                                           "and the named supervisor only (each read is audited)."))
    may_write = serializers.BooleanField()
    attendance = CounselingMemberAttendanceSerializer(many=True)


class CounselingSessionInputSerializer(serializers.Serializer):
    booking = serializers.CharField(required=False, allow_blank=True, help_text=_("A booking's id; or give a client."))
    client = serializers.CharField(required=False, allow_blank=True,
                                   help_text=_("A walk-in: the student or staff number."))
    kind = serializers.CharField(required=False, allow_blank=True, help_text=_("individual or family."))
    starts_at = serializers.CharField(required=False, allow_blank=True, help_text=_("Walk-in: default now."))
    minutes = serializers.CharField(required=False, allow_blank=True)
    mode = serializers.CharField(required=False, allow_blank=True)
    room = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    key = serializers.UUIDField(required=False, allow_null=True, help_text=_("Idempotency key."))


class CounselingRecordInputSerializer(serializers.Serializer):
    presenting = serializers.CharField(required=False, allow_blank=True)
    assessment = serializers.CharField(required=False, allow_blank=True)
    intervention = serializers.CharField(required=False, allow_blank=True)
    plan = serializers.CharField(required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True)
    family_present = serializers.CharField(required=False, allow_blank=True)
    risk = serializers.CharField(help_text=_("none, yellow, orange, red or life."))
    risk_confirmed = serializers.BooleanField(required=False, help_text=_("Required with life."))


class CounselingRecordedSerializer(serializers.Serializer):
    session = CounselingSessionSerializer()
    register_level = serializers.CharField(allow_null=True, help_text=_("The register level set, if any."))
    alerted = serializers.BooleanField(help_text=_("Risk to life: the duty counsellor was alerted."))


class CounselingMemberSerializer(serializers.ModelSerializer):
    client = CounsellorRefSerializer(read_only=True)

    class Meta:
        model = GroupMember
        fields = ["id", "client", "joined_at", "left_at"]


class CounselingGroupSerializer(serializers.ModelSerializer):
    counsellor = CounsellorRefSerializer(read_only=True)

    class Meta:
        model = CounselingGroup
        fields = ["id", "name", "capacity", "counsellor", "is_active", "created_at"]


class CounselingGroupDetailSerializer(serializers.Serializer):
    group = CounselingGroupSerializer()
    members = CounselingMemberSerializer(many=True)
    meetings = CounselingSessionSerializer(many=True)
    attendance = serializers.DictField(child=serializers.DictField(child=serializers.CharField()),
                                       help_text=_("Meeting id → member id → attendance."))


def _key(raw: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


@extend_schema(methods=["GET"], operation_id="counseling_sessions_list", summary=_("Sessions"),
               description=_("Sessions you may know of (no record): one date, or the last 60 days and the next 14."),
               parameters=[OpenApiParameter("date", str, description=_("YYYY-MM-DD")),
                           OpenApiParameter("counsellor", str)],
               responses={200: CounselingSessionSerializer(many=True), 400: BAD_INPUT, 404: NOT_FOUND})
@extend_schema(methods=["POST"], operation_id="counseling_sessions_create", summary=_("Open a session"),
               description=_("From a booking (one session per booking), or a walk-in or family session "
                             "for a client of your centre."),
               request=CounselingSessionInputSerializer,
               responses={201: CounselingSessionSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["GET", "POST"])
def sessions(request: Request) -> Response:
    if request.method == "GET":
        rows = verbs.list_sessions(request, date=request.query_params.get("date") or None,  # type: ignore[arg-type]
                                   counsellor=request.query_params.get("counsellor") or None)
        return Response(CounselingSessionSerializer(rows, many=True).data)
    data = {k: _str(v) for k, v in _data(request).items()}
    if data.get("booking"):
        s = verbs.open_from_booking(request, data["booking"], kind=data.get("kind") or "individual",  # type: ignore[arg-type]
                                    key=_key(data.get("key")))
    else:
        s = verbs.open_walk_in(request, client=data.get("client", ""), kind=data.get("kind") or "individual",  # type: ignore[arg-type]
                               starts_at=data.get("starts_at") or None, minutes=data.get("minutes") or 50,
                               mode=data.get("mode") or "room", room=data.get("room") or None,
                               key=_key(data.get("key")))
    s = Session.objects.select_related("episode__client", "counsellor").get(pk=s.pk)
    return Response(CounselingSessionSerializer(s).data, status=status.HTTP_201_CREATED)


@extend_schema(operation_id="counseling_session", summary=_("One session"),
               responses={200: CounselingSessionDetailSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def session(request: Request, pk: int) -> Response:
    view = verbs.read_session(request, pk)  # type: ignore[arg-type]
    return Response({"session": CounselingSessionSerializer(view.session).data,
                     "risk": view.session.risk if view.record is not None else None,
                     "record": view.record, "may_write": view.may_write,
                     "attendance": CounselingMemberAttendanceSerializer(view.attendance, many=True).data})


@extend_schema(operation_id="counseling_session_attendance", summary=_("Record attendance"),
               request=inline_serializer("CounselingAttendanceInput", {
                   "attendance": serializers.CharField(help_text=_("attended, cancelled or no_show.")),
                   "member": serializers.CharField(required=False, help_text=_("A group meeting: the member's id."))}),
               responses={200: CounselingSessionSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def session_attendance(request: Request, pk: int) -> Response:
    data = _data(request)
    s = verbs.record_attendance(request, pk, attendance=_str(data.get("attendance")),  # type: ignore[arg-type]
                                member=_str(data.get("member")) or None)
    return Response(CounselingSessionSerializer(s).data)


@extend_schema(operation_id="counseling_session_record", summary=_("Record the session"),
               description=_("The structured summary, the notes and the risk level (tier 5)."),
               request=CounselingRecordInputSerializer,
               responses={200: CounselingRecordedSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def session_record(request: Request, pk: int) -> Response:
    data = _data(request)
    parsed = {k: _str(v) for k, v in data.items()}
    done = verbs.record_session(request, pk, parsed)  # type: ignore[arg-type]
    return Response({"session": CounselingSessionSerializer(done.session).data, "register_level": done.register_level,
                     "alerted": done.alerted})


@extend_schema(methods=["GET"], operation_id="counseling_groups_list", summary=_("Groups"),
               responses={200: CounselingGroupSerializer(many=True), 404: NOT_FOUND})
@extend_schema(methods=["POST"], operation_id="counseling_groups_create", summary=_("Create a group"),
               request=inline_serializer("CounselingGroupInput", {"name": serializers.CharField(),
                                                                  "capacity": serializers.IntegerField()}),
               responses={201: CounselingGroupSerializer, 400: BAD_INPUT, 404: NOT_FOUND})
@api_view(["GET", "POST"])
def groups(request: Request) -> Response:
    if request.method == "GET":
        return Response(CounselingGroupSerializer(verbs.list_groups(request), many=True).data)  # type: ignore[arg-type]
    data = _data(request)
    g = verbs.create_group(request, name=_str(data.get("name")), capacity=_str(data.get("capacity")))  # type: ignore[arg-type]
    return Response(CounselingGroupSerializer(g).data, status=status.HTTP_201_CREATED)


@extend_schema(operation_id="counseling_group", summary=_("One group"),
               responses={200: CounselingGroupDetailSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def group(request: Request, pk: int) -> Response:
    g = verbs.read_group(request, pk)  # type: ignore[arg-type]
    grid: dict[str, dict[str, str]] = {}
    for (session_id, member_id), value in g.grid.items():
        grid.setdefault(str(session_id), {})[str(member_id)] = value
    return Response({"group": CounselingGroupSerializer(g.group).data, "members": CounselingMemberSerializer(g.members, many=True).data,
                     "meetings": CounselingSessionSerializer(g.meetings, many=True).data, "attendance": grid})


@extend_schema(operation_id="counseling_group_member_add", summary=_("Add a member"),
               request=inline_serializer("CounselingMemberInput", {
                   "client": serializers.CharField(help_text=_("The student or staff number."))}),
               responses={201: CounselingMemberSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def group_members(request: Request, pk: int) -> Response:
    m = verbs.add_member(request, pk, client=_str(_data(request).get("client")))  # type: ignore[arg-type]
    return Response(CounselingMemberSerializer(m).data, status=status.HTTP_201_CREATED)


@extend_schema(operation_id="counseling_group_member_remove", summary=_("Remove a member"), request=None,
               responses={200: CounselingMemberSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["POST"])
def group_member_remove(request: Request, pk: int, member: int) -> Response:
    return Response(CounselingMemberSerializer(verbs.remove_member(request, pk, member)).data)  # type: ignore[arg-type]


@extend_schema(operation_id="counseling_group_meeting", summary=_("Schedule a group meeting"),
               request=inline_serializer("CounselingMeetingInput", {
                   "starts_at": serializers.CharField(), "minutes": serializers.IntegerField(required=False),
                   "mode": serializers.CharField(required=False), "room": serializers.CharField(required=False),
                   "key": serializers.UUIDField(required=False)}),
               responses={201: CounselingSessionSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def group_meetings(request: Request, pk: int) -> Response:
    data = {k: _str(v) for k, v in _data(request).items()}
    s = verbs.schedule_meeting(request, pk, starts_at=data.get("starts_at", ""), minutes=data.get("minutes") or 90,  # type: ignore[arg-type]
                               mode=data.get("mode") or "room", room=data.get("room") or None,
                               key=_key(data.get("key")))
    return Response(CounselingSessionSerializer(s).data, status=status.HTTP_201_CREATED)
