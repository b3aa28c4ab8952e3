"""API adapters over the identity verbs (:mod:`xinlian.network.identity`): the same rows the
pages print, as JSON, or as the same .xlsx when the client asks for it (``Accept``). The
answers carry plain codes: ``no-store``, and nothing here logs them."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.decorators import api_view, renderer_classes
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from xinlian.lib.actions import ActionError

from . import identity

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class XlsxRenderer(BaseRenderer):
    """Lets ``Accept: <xlsx>`` through content negotiation; the view builds the file itself."""

    media_type = XLSX
    format = "xlsx"
    charset = None
    render_style = "binary"

    def render(self, data: Any, accepted_media_type: str | None = None,
               renderer_context: dict[str, Any] | None = None) -> bytes:
        return data if isinstance(data, bytes) else b""


class SlipOptionsSerializer(serializers.Serializer):
    days = serializers.IntegerField(required=False, min_value=1, max_value=identity.MAX_DAYS)
    everyone = serializers.BooleanField(required=False, default=False)
    staff = serializers.BooleanField(required=False, default=False)


class SlipSerializer(serializers.Serializer):
    user_id = serializers.IntegerField()
    name = serializers.CharField()
    number = serializers.CharField()
    klass = serializers.CharField(source="class")
    code = serializers.CharField()
    valid_until = serializers.CharField()
    login_address = serializers.CharField()


def _answer(request: Request, batch: identity.SlipBatch) -> HttpResponse | Response:
    address = request.build_absolute_uri(reverse("first-login"))
    if request.accepted_renderer.format == "xlsx":
        response: HttpResponse | Response = HttpResponse(identity.slips_xlsx(batch, address), content_type=XLSX)
        response["Content-Disposition"] = 'attachment; filename="first-login-slips.xlsx"'
    else:
        response = Response({"count": len(batch.slips), "days": batch.days,
                             "slips": identity.slip_rows(batch, address)})
    add_never_cache_headers(response)
    patch_cache_control(response, no_store=True, private=True)
    return response


def _json_errors(request: Request) -> None:
    """A refusal is JSON whatever the client accepted (the xlsx renderer draws no errors)."""
    request.accepted_renderer = JSONRenderer()
    request.accepted_media_type = "application/json"


@extend_schema(summary="Print first-login slips for a unit (JSON rows, or .xlsx by Accept)",
               request=SlipOptionsSerializer, responses={200: SlipSerializer(many=True)})
@api_view(["POST"])
@renderer_classes([JSONRenderer, XlsxRenderer])
def unit_slips(request: Request, pk: int) -> HttpResponse | Response:
    """New one-time codes for the unit's people who have never logged in (``everyone``: all)."""
    try:
        options = SlipOptionsSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        batch = identity.issue_slips(request, pk, options.validated_data.get("days"),  # type: ignore[arg-type]
                                     everyone=options.validated_data["everyone"],
                                     staff=options.validated_data["staff"])
    except (ActionError, serializers.ValidationError):
        _json_errors(request)
        raise
    return _answer(request, batch)


@extend_schema(summary="Reset one person's password: one new one-time code",
               request=None, responses={200: SlipSerializer(many=True)})
@api_view(["POST"])
@renderer_classes([JSONRenderer, XlsxRenderer])
def user_reset(request: Request, pk: int) -> HttpResponse | Response:
    try:
        batch = identity.reset_password(request, pk)  # type: ignore[arg-type]
    except ActionError:
        _json_errors(request)
        raise
    return _answer(request, batch)
