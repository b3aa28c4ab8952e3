"""``/api/v1/counseling/`` — referrals in and out, the hospital directory, closing an episode
and the client's satisfaction answer. A thin adapter over :mod:`.actions_referrals`, the verbs
the pages call; refusals become 404 / 403 / 409 / 400 through the project's exception handler."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from . import actions_referrals as verbs
from .api import BAD_INPUT, CONFLICT, FORBIDDEN, NOT_FOUND, CounsellorRefSerializer
from .models import Episode, Hospital, ReferralIn, ReferralOut


def _data(request: Request) -> dict[str, Any]:
    data = request.data
    return data if isinstance(data, dict) else {k: data.get(k) for k in data}


class CounselingHospitalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Hospital
        fields = ["id", "name", "department", "address", "phone", "is_active"]


class CounselingReferralSerializer(serializers.ModelSerializer):
    client = CounsellorRefSerializer(read_only=True)
    to_counsellor = CounsellorRefSerializer(read_only=True, allow_null=True)
    source = serializers.CharField(read_only=True, help_text=_("alert, interview, case or hand."))
    status = serializers.CharField(read_only=True, help_text=_("new, accepted or declined."))

    class Meta:
        model = ReferralIn
        fields = ["id", "client", "student", "source", "alert", "interview", "case", "reason", "to_counsellor",
                  "status", "referred_at", "decided_at", "episode"]


class CounselingReferralReceiptSerializer(serializers.ModelSerializer):
    """What the referrer gets back: no reason (they wrote it) and nothing of the queue."""

    class Meta:
        model = ReferralIn
        fields = ["id", "status", "referred_at"]


class CounselingEpisodeClosedSerializer(serializers.ModelSerializer):
    status = serializers.CharField(read_only=True, help_text=_("open or closed."))

    class Meta:
        model = Episode
        fields = ["id", "status", "source", "counsellor", "opened_at", "closed_at"]


class CounselingReferralOutSerializer(serializers.ModelSerializer):
    hospital = CounselingHospitalSerializer(read_only=True)

    class Meta:
        model = ReferralOut
        fields = ["id", "episode", "hospital", "letter", "sent_on", "outcome", "diagnosis_note", "created_at"]


REFER_IN = inline_serializer("CounselingReferInInput", {
    "reason": serializers.CharField(),
    "alert": serializers.IntegerField(required=False), "case": serializers.IntegerField(required=False),
    "interview": serializers.IntegerField(required=False), "student": serializers.IntegerField(required=False),
    "to_counsellor": serializers.CharField(required=False, help_text=_("A counsellor's id, or queue."))})


@extend_schema(methods=["GET"], operation_id="counseling_referrals_list", summary=_("The referral queue"),
               responses={200: CounselingReferralSerializer(many=True), 404: NOT_FOUND})
@extend_schema(methods=["POST"], operation_id="counseling_referrals_create", summary=_("Refer in"),
               description=_("From an alert (whoever may act on it), a crisis case (its team), a screening "
                             "interview (its counsellor), or a student by hand (counselling staff)."),
               request=REFER_IN,
               responses={201: CounselingReferralReceiptSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND,
                          409: CONFLICT})
@api_view(["GET", "POST"])
def referrals(request: Request) -> Response:
    if request.method == "GET":
        return Response(CounselingReferralSerializer(verbs.referral_queue(request), many=True).data)  # type: ignore[arg-type]
    d = _data(request)
    done = verbs.refer_in(request, reason=d.get("reason"), alert=d.get("alert"), case=d.get("case"),  # type: ignore[arg-type]
                          interview=d.get("interview"), student=d.get("student"),
                          to_counsellor=d.get("to_counsellor"))
    return Response(CounselingReferralReceiptSerializer(done).data, status=status.HTTP_201_CREATED)


@extend_schema(operation_id="counseling_referral_accept", summary=_("Accept a referral"),
               request=inline_serializer("CounselingAcceptInput", {
                   "counsellor": serializers.IntegerField(required=False)}),
               responses={200: CounselingReferralSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def referral_accept(request: Request, pk: int) -> Response:
    done = verbs.accept_referral(request, pk, counsellor=_data(request).get("counsellor"))  # type: ignore[arg-type]
    return Response(CounselingReferralSerializer(done).data)


@extend_schema(operation_id="counseling_referral_decline", summary=_("Decline a referral"),
               request=inline_serializer("CounselingDeclineInput", {"reason": serializers.CharField()}),
               responses={200: CounselingReferralSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def referral_decline(request: Request, pk: int) -> Response:
    done = verbs.decline_referral(request, pk, reason=_data(request).get("reason"))  # type: ignore[arg-type]
    return Response(CounselingReferralSerializer(done).data)


HOSPITAL_IN = inline_serializer("CounselingHospitalInput", {
    "name": serializers.CharField(), "department": serializers.CharField(required=False),
    "address": serializers.CharField(required=False), "phone": serializers.CharField(required=False),
    "is_active": serializers.BooleanField(required=False)})


@extend_schema(methods=["GET"], operation_id="counseling_hospitals_list", summary=_("The hospital directory"),
               responses={200: CounselingHospitalSerializer(many=True), 404: NOT_FOUND})
@extend_schema(methods=["POST"], operation_id="counseling_hospitals_create", summary=_("Add a hospital"),
               request=HOSPITAL_IN, responses={201: CounselingHospitalSerializer, 400: BAD_INPUT, 403: FORBIDDEN,
                                               404: NOT_FOUND})
@api_view(["GET", "POST"])
def hospitals(request: Request) -> Response:
    if request.method == "GET":
        return Response(CounselingHospitalSerializer(verbs.hospitals(request), many=True).data)  # type: ignore[arg-type]
    done = verbs.save_hospital(request, data=_data(request))  # type: ignore[arg-type]
    return Response(CounselingHospitalSerializer(done).data, status=status.HTTP_201_CREATED)


@extend_schema(operation_id="counseling_hospital_update", summary=_("Edit a hospital"), request=HOSPITAL_IN,
               responses={200: CounselingHospitalSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["POST"])
def hospital(request: Request, pk: int) -> Response:
    done = verbs.save_hospital(request, pk, data=_data(request))  # type: ignore[arg-type]
    return Response(CounselingHospitalSerializer(done).data)


@extend_schema(operation_id="counseling_episode_close", summary=_("Close an episode"),
               description=_("Refused (409) while the student came back from a leave during the episode "
                             "without a return-to-school assessment."),
               request=inline_serializer("CounselingCloseInput", {
                   "summary": serializers.CharField(), "send_feedback": serializers.BooleanField(required=False)}),
               responses={200: CounselingEpisodeClosedSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def episode_close(request: Request, pk: int) -> Response:
    d = _data(request)
    send = d.get("send_feedback")
    done = verbs.close_episode(request, pk, summary=d.get("summary"),  # type: ignore[arg-type]
                               send_feedback=send is True or str(send).lower() in ("1", "true", "on"))
    return Response(CounselingEpisodeClosedSerializer(done).data)


@extend_schema(operation_id="counseling_referral_out_create", summary=_("Refer an episode's client out"),
               request=inline_serializer("CounselingReferOutInput", {
                   "hospital": serializers.IntegerField(), "letter": serializers.CharField(),
                   "sent_on": serializers.DateField(required=False)}),
               responses={201: CounselingReferralOutSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["POST"])
def referral_out_new(request: Request, pk: int) -> Response:
    d = _data(request)
    done = verbs.refer_out(request, pk, hospital=d.get("hospital"), letter=d.get("letter"),  # type: ignore[arg-type]
                           sent_on=d.get("sent_on"))
    return Response(CounselingReferralOutSerializer(done).data, status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], operation_id="counseling_referral_out", summary=_("A referral out (tier 5)"),
               responses={200: CounselingReferralOutSerializer, 404: NOT_FOUND})
@extend_schema(methods=["POST"], operation_id="counseling_referral_out_outcome",
               summary=_("Record a referral's outcome and diagnosis note"),
               request=inline_serializer("CounselingOutcomeInput", {
                   "outcome": serializers.CharField(), "diagnosis_note": serializers.CharField(required=False),
                   "sent_on": serializers.DateField(required=False)}),
               responses={200: CounselingReferralOutSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["GET", "POST"])
def referral_out(request: Request, pk: int) -> Response:
    if request.method == "GET":
        return Response(CounselingReferralOutSerializer(verbs.get_referral_out(request, pk)).data)  # type: ignore[arg-type]
    d = _data(request)
    done = verbs.record_outcome(request, pk, outcome=d.get("outcome"),  # type: ignore[arg-type]
                                diagnosis_note=d.get("diagnosis_note", ""), sent_on=d.get("sent_on"))
    return Response(CounselingReferralOutSerializer(done).data)


@extend_schema(operation_id="counseling_feedback_answer", summary=_("Answer the satisfaction question"),
               description=_("Once, with the token of the link in your inbox; anonymous."),
               request=inline_serializer("CounselingFeedbackInput", {
                   "token": serializers.CharField(), "score": serializers.IntegerField(min_value=1, max_value=5),
                   "comment": serializers.CharField(required=False)}),
               responses={201: inline_serializer("CounselingFeedbackDone", {"ok": serializers.BooleanField()}),
                          400: BAD_INPUT, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def feedback(request: Request) -> Response:
    d = _data(request)
    verbs.submit_feedback(request, str(d.get("token") or ""), score=d.get("score"),  # type: ignore[arg-type]
                          comment=d.get("comment", ""))
    return Response({"ok": True}, status=status.HTTP_201_CREATED)


@extend_schema(operation_id="counseling_feedback_summary", summary=_("Satisfaction per counsellor (director)"),
               responses={200: inline_serializer("CounselingFeedbackLine", {
                   "counsellor": CounsellorRefSerializer(), "count": serializers.IntegerField(),
                   "average": serializers.FloatField(allow_null=True),
                   "comments": serializers.ListField(child=serializers.CharField())}, many=True),
                   404: NOT_FOUND})
@api_view(["GET"])
def feedback_summary(request: Request) -> Response:
    lines = verbs.feedback_summary(request)  # type: ignore[arg-type]
    return Response([{"counsellor": CounsellorRefSerializer(line.counsellor).data, "count": line.count,
                      "average": line.average, "comments": line.comments} for line in lines])
