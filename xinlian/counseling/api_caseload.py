"""``/api/v1/counseling/caseload/`` and ``/overview/``: the caseload reads of
:mod:`.caseload` as JSON, under the same rules as the pages (counselling staff only; a
counsellor's own caseload, the director any counsellor's and the overview; anyone else 404).
Counts, times and client names — never notes or intake text. One audit row per call."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from . import caseload

DETAIL = inline_serializer("CounselingCaseloadDetail", {"detail": serializers.CharField()})
NOT_FOUND = OpenApiResponse(DETAIL, description=_("Not in your scope."))


class PersonSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="full_name")


class TermSerializer(serializers.Serializer):
    first = serializers.DateField()
    last = serializers.DateField()


class ClientSerializer(serializers.Serializer):
    episode = serializers.IntegerField(source="episode_id")
    client = serializers.IntegerField(source="client_id")
    name = serializers.CharField()
    is_student = serializers.BooleanField()
    opened_at = serializers.DateTimeField()
    last_session = serializers.DateTimeField(allow_null=True)
    next_session = serializers.DateTimeField(allow_null=True)
    next_booking = serializers.DateTimeField(allow_null=True)
    next_at = serializers.DateTimeField(allow_null=True, help_text=_("The earlier of the next session and booking."))
    sessions_this_term = serializers.IntegerField()


class WaitingSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    client = serializers.IntegerField(source="client_id")
    name = serializers.CharField()
    day_from = serializers.DateField()
    day_to = serializers.DateField()
    status = serializers.CharField()
    any_counsellor = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class CaseloadSerializer(serializers.Serializer):
    counsellor = PersonSerializer()
    term = TermSerializer()
    sessions_this_term = serializers.IntegerField()
    hours_this_term = serializers.FloatField()
    clients = ClientSerializer(many=True)
    without_next = serializers.SerializerMethodField(help_text=_("Episode ids of clients without a next appointment."))
    waiting = WaitingSerializer(many=True)

    def get_without_next(self, obj: caseload.Caseload) -> list[int]:
        return [c.episode_id for c in obj.without_next]


class LoadSerializer(serializers.Serializer):
    counsellor = PersonSerializer()
    clients = serializers.IntegerField()
    sessions = serializers.IntegerField(help_text=_("Sessions this term (not cancelled)."))
    hours = serializers.FloatField()
    attended = serializers.IntegerField()
    no_shows = serializers.IntegerField()
    no_show_rate = serializers.FloatField(allow_null=True, help_text=_("No-shows / (attended + no-shows)."))
    upcoming = serializers.IntegerField(help_text=_("Active bookings in the next 7 days."))


class FlagSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    counsellor = serializers.CharField()
    client = serializers.CharField()
    url = serializers.CharField(allow_null=True)
    label = serializers.CharField()


class OverviewSerializer(serializers.Serializer):
    term = TermSerializer()
    loads = LoadSerializer(many=True)
    waiting_count = serializers.IntegerField()
    waiting_oldest = serializers.DateTimeField(allow_null=True)
    waiting = WaitingSerializer(many=True)
    no_show_count = serializers.IntegerField()
    no_shows = FlagSerializer(many=True)
    urgent_booking_count = serializers.IntegerField()
    urgent_bookings = FlagSerializer(many=True)
    urgent_session_count = serializers.IntegerField()
    urgent_sessions = FlagSerializer(many=True)


@extend_schema(operation_id="counseling_caseload", summary=_("A counsellor's caseload"),
               parameters=[OpenApiParameter("counsellor", str, description=_(
                   "The centre director: another counsellor's id. Default: yourself."))],
               responses={200: CaseloadSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def caseload_view(request: Request) -> Response:
    data = caseload.read_caseload(request, counsellor=request.query_params.get("counsellor") or None)  # type: ignore[arg-type]
    return Response(CaseloadSerializer(data).data)


@extend_schema(operation_id="counseling_overview", summary=_("The centre director's overview"),
               responses={200: OverviewSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def overview(request: Request) -> Response:
    return Response(OverviewSerializer(caseload.read_overview(request)).data)  # type: ignore[arg-type]

