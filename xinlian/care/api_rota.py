"""The duty rota (值班) REST API at ``/api/v1/care/rota/``.

A thin adapter over the rota actions in :mod:`xinlian.care.actions`, the same ones the rota
pages (:mod:`xinlian.care.views_rota`) call: each endpoint reads its input, calls the action
and serializes the result. Nothing here decides who keeps which rota or what a valid shift is,
and no audit row is written here. The action's refusals become 404 (not a rota you can see),
403 (a rota in your scope that you do not keep), 409 (the same person twice on a shift) and 400
(a bad date, role, person or phone; a file in error) through the project's exception handler
(:mod:`xinlian.access.adapters`). Input is passed to the action as given, so that the page and
the API answer a bad value with the same message."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from xinlian.network.api import PersonRefSerializer, UnitRefSerializer
from xinlian.network.models import User

from . import actions, rota
from .api import CONFLICT, FORBIDDEN, NOT_FOUND, DetailSerializer
from .models import DutyLine, DutyShift

BAD_INPUT = OpenApiResponse(DetailSerializer, description=_("Invalid input: the messages by field."))


def _user(request: Request) -> User:
    return request.user  # type: ignore[return-value]


# --- serializers ---------------------------------------------------------------------------------


class RotaUnitSerializer(UnitRefSerializer):
    kind = serializers.CharField(read_only=True)

    class Meta(UnitRefSerializer.Meta):
        fields = [*UnitRefSerializer.Meta.fields, "kind"]


class DutyShiftSerializer(serializers.ModelSerializer):
    unit = UnitRefSerializer(read_only=True)
    person = PersonRefSerializer(read_only=True)
    # Plain strings, not enums: the duty role's choices would clash in the schema with a post's.
    kind = serializers.CharField(read_only=True, help_text=_("night, weekend_day or day."))
    role = serializers.CharField(read_only=True, help_text=_("first_line, centre or leader."))
    kind_label = serializers.CharField(source="get_kind_display", read_only=True)
    role_label = serializers.CharField(source="get_role_display", read_only=True)
    phone = serializers.CharField(read_only=True, help_text=_("This shift's own duty line, or empty."))

    class Meta:
        model = DutyShift
        fields = ["id", "unit", "date", "kind", "kind_label", "role", "role_label", "person", "phone"]


class RotaShiftsSerializer(serializers.Serializer):
    unit = RotaUnitSerializer(read_only=True)
    start = serializers.DateField(read_only=True)
    end = serializers.DateField(read_only=True)
    shifts = DutyShiftSerializer(many=True, read_only=True)


class ShiftInputSerializer(serializers.Serializer):
    """The page's form fields. Values are checked by the action (one rule, one message)."""

    date = serializers.CharField(help_text=_("YYYY-MM-DD, from a month ago to a year ahead."))
    kind = serializers.CharField(help_text=_("night, weekend_day or day."))
    role = serializers.CharField(help_text=_("first_line, centre or leader."))
    person = serializers.CharField(help_text=_("The id of a staff member whose post fits the duty role."))
    phone = serializers.CharField(required=False, allow_blank=True,
                                  help_text=_("This shift's own duty line (optional)."))


class DutyLineSerializer(serializers.ModelSerializer):
    night_phone = serializers.CharField(allow_blank=True, required=False)
    centre_phone = serializers.CharField(allow_blank=True, required=False)

    class Meta:
        model = DutyLine
        fields = ["night_phone", "centre_phone"]


class RotaImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("The rota template (.xlsx or .csv) filled in."))


class RotaImportRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("The row in the file; 0 for the whole file."))
    column = serializers.CharField(help_text=_("The column's header; empty for the whole row."))
    message = serializers.CharField()


class RotaImportSerializer(serializers.Serializer):
    created = serializers.IntegerField()


class RotaImportErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = RotaImportRowErrorSerializer(many=True)


def _text(value: Any) -> str:
    return "" if value is None else str(value)


# --- endpoints -----------------------------------------------------------------------------------


@extend_schema(summary="The schools and colleges whose duty rota you keep",
               responses={200: RotaUnitSerializer(many=True)})
@api_view(["GET"])
def rota_units(request: Request) -> Response:
    return Response(RotaUnitSerializer(rota.editable_units(_user(request)), many=True).data)


@extend_schema(methods=["GET"], summary="The shifts of one school or college over a date range",
               parameters=[OpenApiParameter("start", str, description=_("YYYY-MM-DD; default today.")),
                           OpenApiParameter("end", str, description=_(
                               "YYYY-MM-DD, inclusive; default six days after the start; at most 62 days."))],
               responses={200: RotaShiftsSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@extend_schema(methods=["POST"], summary="Put someone on the rota for one shift",
               request=ShiftInputSerializer,
               responses={201: DutyShiftSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND,
                          409: CONFLICT})
@api_view(["GET", "POST"])
def rota_shifts(request: Request, pk: int) -> Response:
    if request.method == "GET":
        listing = actions.list_shifts(request, pk, start=request.query_params.get("start"),
                                      end=request.query_params.get("end"))
        return Response(RotaShiftsSerializer(listing).data)
    body = request.data if hasattr(request.data, "get") else {}
    shift = actions.add_shift(request, actions.ShiftInput(
        unit_id=pk, **{k: _text(body.get(k)) for k in ("date", "kind", "role", "person", "phone")}))
    shift = DutyShift.objects.select_related("unit", "person").get(pk=shift.pk)
    return Response(DutyShiftSerializer(shift).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="Take a shift off the rota", request=None,
               responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["DELETE"])
def rota_shift(request: Request, pk: int, shift: int) -> Response:
    actions.remove_shift(request, pk, shift)
    return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(summary="Set the school's night duty line and the counselling centre's phone",
               request=DutyLineSerializer,
               responses={200: DutyLineSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["PUT"])
def rota_line(request: Request, pk: int) -> Response:
    body = request.data if hasattr(request.data, "get") else {}
    line = actions.set_duty_line(request, pk, night_phone=_text(body.get("night_phone")),
                                 centre_phone=_text(body.get("centre_phone")))
    return Response(DutyLineSerializer(line).data)


@extend_schema(summary="Import shifts from the rota template (all or nothing)",
               request={"multipart/form-data": RotaImportRequestSerializer},
               responses={201: RotaImportSerializer, 400: RotaImportErrorSerializer, 403: FORBIDDEN,
                          404: NOT_FOUND})
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser, JSONParser])
def rota_import(request: Request, pk: int) -> Response:
    """Each row names its school or college (the director imports them all in one file). Any
    row in error: 400 with every error by row and column, and nothing imported."""
    upload = request.FILES.get("file")
    report = actions.import_rota(request, pk, upload, (upload.name or "") if upload else "")
    if report.errors:
        return Response({"detail": str(_("Nothing was imported.")),
                         "errors": [{"row": r, "column": c, "message": m} for r, c, m in report.errors]},
                        status=status.HTTP_400_BAD_REQUEST)
    return Response({"created": report.created}, status=status.HTTP_201_CREATED)
