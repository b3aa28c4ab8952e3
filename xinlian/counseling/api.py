"""The counselling REST API at ``/api/v1/counseling/``: slots, bookings, the waiting list and
the counsellors' availability. A thin adapter over :mod:`.actions`, the verbs the pages call:
each endpoint reads its input, calls the verb and serializes the result. Refusals become
404 / 403 / 409 / 429 / 400 through the project's exception handler."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from xinlian.network.models import User

from . import actions
from .models import Booking, Slot, WaitlistEntry

DETAIL = inline_serializer("CounselingDetail", {"detail": serializers.CharField()})
NOT_FOUND = OpenApiResponse(DETAIL, description=_("Not in your scope."))
FORBIDDEN = OpenApiResponse(DETAIL, description=_("In your scope, but not yours to do."))
CONFLICT = OpenApiResponse(DETAIL, description=_("Refused in the record's current state."))
BAD_INPUT = OpenApiResponse(DETAIL, description=_("Invalid input: the messages by field."))


class CounsellorRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField(source="full_name")


class SlotSerializer(serializers.ModelSerializer):
    counsellor = CounsellorRefSerializer(read_only=True)
    mode = serializers.CharField(read_only=True, help_text=_("room, online or phone."))
    where = serializers.CharField(read_only=True)

    class Meta:
        model = Slot
        fields = ["id", "starts_at", "ends_at", "counsellor", "mode", "where"]


class IntakeSerializer(serializers.Serializer):
    topic = serializers.CharField()
    previous = serializers.CharField()
    previous_label = serializers.CharField()
    risk_now = serializers.BooleanField()


class BookingSerializer(serializers.ModelSerializer):
    slot = SlotSerializer(read_only=True)
    status = serializers.CharField(read_only=True, help_text=_("active or cancelled."))
    ics = serializers.SerializerMethodField()

    class Meta:
        model = Booking
        fields = ["id", "slot", "starts_at", "status", "created_at", "cancelled_at", "ics"]

    def get_ics(self, obj: Booking) -> str:
        from django.urls import reverse

        return reverse("counseling:ics", args=[obj.pk])


class StaffBookingSerializer(BookingSerializer):
    client = CounsellorRefSerializer(read_only=True)
    risk_now = serializers.BooleanField(read_only=True)

    class Meta(BookingSerializer.Meta):
        fields = [*BookingSerializer.Meta.fields, "client", "risk_now"]


class BookingDetailSerializer(serializers.Serializer):
    booking = BookingSerializer()
    as_staff = serializers.BooleanField()
    client = CounsellorRefSerializer(allow_null=True)
    intake = IntakeSerializer(allow_null=True, help_text=_("Counselling staff only (each read is audited)."))


class BookInputSerializer(serializers.Serializer):
    slot = serializers.CharField(required=False, allow_blank=True, help_text=_("A slot's id; or give a day."))
    day = serializers.CharField(required=False, allow_blank=True,
                                help_text=_("YYYY-MM-DD: the first free slot that day."))
    counsellor = serializers.CharField(required=False, allow_blank=True, help_text=_("With day: a counsellor's id, or any."))
    topic = serializers.CharField(required=False, allow_blank=True)
    previous = serializers.CharField(required=False, allow_blank=True, help_text=_("none, here or elsewhere."))
    risk_now = serializers.CharField(required=False, allow_blank=True,
                                     help_text=_("yes or no: are you thinking of harming yourself now?"))
    key = serializers.UUIDField(required=False, allow_null=True, help_text=_("Idempotency key."))


class BookedSerializer(serializers.Serializer):
    booking = BookingSerializer()
    urgent = serializers.BooleanField(help_text=_("A yes to the risk question: the duty counsellor was alerted."))


class WaitSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=_("waiting, offered, booked or withdrawn."))

    class Meta:
        model = WaitlistEntry
        fields = ["id", "day_from", "day_to", "counsellor", "status", "offered_slot", "created_at"]


class WeeklySerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    weekday = serializers.IntegerField()
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()
    slot_minutes = serializers.IntegerField()
    mode = serializers.CharField()
    room = serializers.IntegerField(source="room_id", allow_null=True)
    valid_from = serializers.DateField()
    ended_on = serializers.DateField(allow_null=True)


class ChangeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    date = serializers.DateField()
    kind = serializers.CharField()
    start_time = serializers.TimeField()
    end_time = serializers.TimeField()
    slot_minutes = serializers.IntegerField()
    mode = serializers.CharField()
    room = serializers.IntegerField(source="room_id", allow_null=True)


class RotaSerializer(serializers.Serializer):
    counsellor = CounsellorRefSerializer()
    weekly = WeeklySerializer(many=True)
    changes = ChangeSerializer(many=True)
    slots = SlotSerializer(many=True)


class BlockInputSerializer(serializers.Serializer):
    counsellor = serializers.CharField(required=False, allow_blank=True, help_text=_("Default: yourself."))
    start = serializers.CharField(required=False, allow_blank=True)
    end = serializers.CharField(required=False, allow_blank=True)
    slot_minutes = serializers.CharField(required=False, allow_blank=True)
    mode = serializers.CharField(required=False, allow_blank=True)
    room = serializers.CharField(required=False, allow_blank=True, allow_null=True)


class WeeklyInputSerializer(BlockInputSerializer):
    weekday = serializers.CharField(required=False, allow_blank=True, help_text=_("0 (Monday) to 6."))
    valid_from = serializers.CharField(required=False, allow_blank=True)


class ChangeInputSerializer(BlockInputSerializer):
    date = serializers.CharField(required=False, allow_blank=True)
    kind = serializers.CharField(required=False, allow_blank=True, help_text=_("extra or cancelled."))


def _data(request: Request) -> dict[str, Any]:
    data = request.data
    return {k: data.get(k) for k in data} if hasattr(data, "get") else {}


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


@extend_schema(
    operation_id="counseling_slots", summary=_("Free slots"),
    description=_("Bookable slots of your school's centre in the booking window."),
    parameters=[OpenApiParameter("day", str, description=_("YYYY-MM-DD")),
                OpenApiParameter("counsellor", str, description=_("A counsellor's id, or any."))],
    responses={200: SlotSerializer(many=True), 400: BAD_INPUT, 403: FORBIDDEN})
@api_view(["GET"])
def slots(request: Request) -> Response:
    found = actions.free_slots(request, day=request.query_params.get("day") or None,  # type: ignore[arg-type]
                               counsellor=request.query_params.get("counsellor") or None)
    return Response(SlotSerializer(found, many=True).data)


@extend_schema(methods=["GET"], operation_id="counseling_bookings_list", summary=_("My bookings"),
               description=_("Your own bookings; with as=staff, counselling staff's upcoming bookings "
                             "(all=1: the director, every counsellor's)."),
               parameters=[OpenApiParameter("as", str, enum=["staff"]), OpenApiParameter("all", str)],
               responses={200: StaffBookingSerializer(many=True), 404: NOT_FOUND})
@extend_schema(methods=["POST"], operation_id="counseling_bookings_create", summary=_("Book"),
               request=BookInputSerializer,
               responses={201: BookedSerializer, 400: BAD_INPUT, 404: NOT_FOUND, 409: CONFLICT, 429: CONFLICT})
@api_view(["GET", "POST"])
def bookings(request: Request) -> Response:
    if request.method == "GET":
        if request.query_params.get("as") == "staff":
            rows = actions.staff_bookings(request, everyone=request.query_params.get("all") == "1")  # type: ignore[arg-type]
            return Response(StaffBookingSerializer(rows, many=True).data)
        mine = actions.my_bookings(request)  # type: ignore[arg-type]
        return Response(BookingSerializer([*mine.upcoming, *mine.past], many=True).data)
    data = {k: _str(v) for k, v in _data(request).items()}
    try:
        key = uuid.UUID(data["key"]) if data.get("key") else None
    except ValueError:
        key = None
    done = actions.book(request, slot=data.get("slot") or None, day=data.get("day") or None,  # type: ignore[arg-type]
                        counsellor=data.get("counsellor") or None, intake=data, key=key)
    return Response({"booking": BookingSerializer(done.booking).data, "urgent": done.urgent},
                    status=status.HTTP_201_CREATED)


@extend_schema(operation_id="counseling_booking", summary=_("One booking"),
               responses={200: BookingDetailSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def booking(request: Request, pk: int) -> Response:
    view = actions.read_booking(request, pk)  # type: ignore[arg-type]
    b = view.booking
    return Response({"booking": BookingSerializer(b).data, "as_staff": view.as_staff,
                     "client": CounsellorRefSerializer(b.client).data if view.as_staff else None,
                     "intake": view.intake})


@extend_schema(operation_id="counseling_booking_cancel", summary=_("Cancel a booking"),
               request=inline_serializer("CounselingCancel", {"reason": serializers.CharField(required=False)}),
               responses={200: BookingSerializer, 400: BAD_INPUT, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def cancel(request: Request, pk: int) -> Response:
    b = actions.cancel_booking(request, pk, reason=_str(_data(request).get("reason")))  # type: ignore[arg-type]
    return Response(BookingSerializer(b).data)


@extend_schema(operation_id="counseling_waitlist_join", summary=_("Join the waiting list"),
               request=inline_serializer("CounselingWaitInput", {
                   "day_from": serializers.CharField(), "day_to": serializers.CharField(required=False),
                   "counsellor": serializers.CharField(required=False)}),
               responses={201: WaitSerializer, 400: BAD_INPUT, 409: CONFLICT})
@api_view(["POST"])
def waitlist(request: Request) -> Response:
    data = _data(request)
    entry = actions.join_waitlist(request, day_from=_str(data.get("day_from")),  # type: ignore[arg-type]
                                  day_to=_str(data.get("day_to")), counsellor=_str(data.get("counsellor")) or None)
    return Response(WaitSerializer(entry).data, status=status.HTTP_201_CREATED)


def _rota(request: Request, counsellor: Any) -> dict[str, Any]:
    r = actions.read_rota(request, counsellor)  # type: ignore[arg-type]
    return RotaSerializer({"counsellor": r.counsellor, "weekly": r.weekly, "changes": r.changes,
                           "slots": r.slots}).data


def _block(data: dict[str, Any]) -> actions.BlockInput:
    return actions.BlockInput(start=_str(data.get("start")), end=_str(data.get("end")),
                              slot_minutes=_str(data.get("slot_minutes")) or 50, mode=_str(data.get("mode")) or "room",
                              room=_str(data.get("room")))


@extend_schema(operation_id="counseling_availability", summary=_("A counsellor's availability"),
               parameters=[OpenApiParameter("counsellor", str, description=_("Default: yourself."))],
               responses={200: RotaSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["GET"])
def availability(request: Request) -> Response:
    return Response(_rota(request, request.query_params.get("counsellor") or None))


@extend_schema(operation_id="counseling_availability_weekly", summary=_("Publish a weekly time"),
               request=WeeklyInputSerializer,
               responses={201: WeeklySerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["POST"])
def availability_weekly(request: Request) -> Response:
    data = _data(request)
    weekly = actions.publish_weekly(request, _str(data.get("counsellor")) or None,  # type: ignore[arg-type]
                                    weekday=_str(data.get("weekday")), data=_block(data),
                                    valid_from=_str(data.get("valid_from")) or None)
    return Response(WeeklySerializer(weekly).data, status=status.HTTP_201_CREATED)


@extend_schema(operation_id="counseling_availability_end", summary=_("End a weekly time"), request=None,
               responses={200: WeeklySerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def availability_end(request: Request, pk: int) -> Response:
    return Response(WeeklySerializer(actions.end_weekly(request, pk)).data)  # type: ignore[arg-type]


@extend_schema(operation_id="counseling_availability_change", summary=_("A one-off change"),
               request=ChangeInputSerializer,
               responses={201: ChangeSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def availability_change(request: Request) -> Response:
    data = _data(request)
    change = actions.add_change(request, _str(data.get("counsellor")) or None,  # type: ignore[arg-type]
                                date=_str(data.get("date")), kind=_str(data.get("kind")), data=_block(data))
    return Response(ChangeSerializer(change).data, status=status.HTTP_201_CREATED)
