"""Activities at ``/api/v1/activities/``: plan and assign, the assignments and their records and
photos, sign-in, the 5·25 campaign's progress and the courses. A thin adapter over
:mod:`xinlian.activities.actions`, the verbs the pages call: refusals become 404 / 403 / 409 /
400 through the project's exception handler."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from xinlian.care.api import CONFLICT, FORBIDDEN, NOT_FOUND, DetailSerializer
from xinlian.lib.actions import Invalid
from xinlian.network.api import PersonRefSerializer, UnitRefSerializer

from . import actions
from .models import Activity, Assignment, Campaign, Course, Lesson, Photo, Record, SignIn

BAD_INPUT = OpenApiResponse(DetailSerializer, description=_("Invalid input: the messages by field."))


class ActCampaignRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Campaign
        fields = ["id", "name", "starts_on", "ends_on"]


class ActActivitySerializer(serializers.ModelSerializer):
    kind = serializers.CharField(read_only=True)
    planner_unit = UnitRefSerializer(read_only=True)
    campaign = ActCampaignRefSerializer(read_only=True, allow_null=True)
    n_assigned = serializers.IntegerField(read_only=True, required=False,
                                          help_text=_("Assignments you see."))
    n_done = serializers.IntegerField(read_only=True, required=False)

    class Meta:
        model = Activity
        fields = ["id", "kind", "title", "description", "planner_unit", "campaign", "created_at",
                  "n_assigned", "n_done"]


class ActRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = Record
        fields = ["held_on", "place", "audience", "attendance", "summary", "recorded_at", "updated_at"]


class ActAssignmentSerializer(serializers.ModelSerializer):
    activity = serializers.IntegerField(source="activity_id", read_only=True)
    title = serializers.CharField(source="activity.title", read_only=True)
    kind = serializers.CharField(source="activity.kind", read_only=True)
    unit = UnitRefSerializer(read_only=True)
    status = serializers.CharField(read_only=True, help_text=_("assigned or done."))

    class Meta:
        model = Assignment
        fields = ["id", "activity", "title", "kind", "unit", "due_on", "status"]


class ActTableRowSerializer(ActAssignmentSerializer):
    held_on = serializers.DateField(source="record.held_on", read_only=True, default=None)
    attendance = serializers.IntegerField(source="record.attendance", read_only=True, default=None)
    n_photos = serializers.IntegerField(read_only=True)
    n_signed = serializers.IntegerField(read_only=True)

    class Meta(ActAssignmentSerializer.Meta):
        fields = [*ActAssignmentSerializer.Meta.fields, "held_on", "attendance", "n_photos", "n_signed"]


class ActActivityTableSerializer(serializers.Serializer):
    activity = ActActivitySerializer()
    assignments = ActTableRowSerializer(many=True)


class ActPhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumb = serializers.SerializerMethodField()

    class Meta:
        model = Photo
        fields = ["id", "content_type", "width", "height", "size", "url", "thumb"]

    def get_url(self, photo: Photo) -> str:
        return reverse("activities:photo", args=[photo.pk])

    def get_thumb(self, photo: Photo) -> str:
        return reverse("activities:photo-thumb", args=[photo.pk])


class ActSignInSerializer(serializers.ModelSerializer):
    person = PersonRefSerializer(read_only=True)

    class Meta:
        model = SignIn
        fields = ["person", "at"]


class ActAssignmentDetailSerializer(serializers.Serializer):
    assignment = ActAssignmentSerializer()
    record = ActRecordSerializer(allow_null=True)
    photos = ActPhotoSerializer(many=True)
    signed_in = serializers.IntegerField()
    sign_ins = ActSignInSerializer(many=True, help_text=_("Names for the organisers and the centre only."))
    can_record = serializers.BooleanField()


class ActPlanInputSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=_("lecture, group, class_meeting, competition, psychodrama, event_525 or other."))
    title = serializers.CharField()
    description = serializers.CharField(required=False, allow_blank=True)
    unit = serializers.CharField(required=False, help_text=_("The planner unit (school or college); default yours."))
    campaign = serializers.CharField(required=False, allow_blank=True)
    units = serializers.ListField(child=serializers.CharField(), required=False,
                                  help_text=_("Assign at once to these units (with due_on)."))
    due_on = serializers.DateField(required=False)


class ActAssignInputSerializer(serializers.Serializer):
    units = serializers.ListField(child=serializers.CharField())
    due_on = serializers.DateField()


class ActRecordInputSerializer(serializers.Serializer):
    key = serializers.UUIDField(help_text=_("A submission key: sending the same one again is the same write."))
    held_on = serializers.DateField()
    place = serializers.CharField()
    audience = serializers.CharField()
    attendance = serializers.IntegerField()
    summary = serializers.CharField()


class ActPhotoInputSerializer(serializers.Serializer):
    photo = serializers.FileField(help_text=_("A JPEG or PNG photo."))


class ActCodeSerializer(serializers.Serializer):
    code = serializers.CharField()
    url = serializers.CharField()
    expires_at = serializers.DateTimeField()
    signed_in = serializers.IntegerField()


class ActSignInInputSerializer(serializers.Serializer):
    code = serializers.CharField()
    activity = serializers.CharField(required=False, help_text=_("The activity you are at: a code of another is refused."))


class ActSignInResultSerializer(serializers.Serializer):
    activity = serializers.IntegerField()
    created = serializers.BooleanField(help_text=_("False when you had signed in already."))
    at = serializers.DateTimeField()


class ActCampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField()
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()


class ActCollegeProgressSerializer(serializers.Serializer):
    unit = UnitRefSerializer()
    assigned = serializers.IntegerField()
    done = serializers.IntegerField()
    complete = serializers.BooleanField()


class ActProgressSerializer(serializers.Serializer):
    campaign = ActCampaignRefSerializer()
    activities = serializers.IntegerField()
    assigned = serializers.IntegerField()
    done = serializers.IntegerField()
    rows = ActCollegeProgressSerializer(many=True)


class ActCourseSerializer(serializers.ModelSerializer):
    teacher = PersonRefSerializer(read_only=True)
    classes = UnitRefSerializer(many=True, read_only=True)
    hours_delivered = serializers.DecimalField(source="delivered", max_digits=6, decimal_places=1, read_only=True,
                                               allow_null=True)

    class Meta:
        model = Course
        fields = ["id", "title", "term", "teacher", "classes", "hours_planned", "hours_delivered"]


class ActCourseInputSerializer(serializers.Serializer):
    title = serializers.CharField()
    term = serializers.CharField()
    teacher = serializers.CharField(help_text=_("The teacher's user id."))
    classes = serializers.ListField(child=serializers.CharField())
    hours_planned = serializers.DecimalField(max_digits=5, decimal_places=1)


class ActHoursInputSerializer(serializers.Serializer):
    held_on = serializers.DateField()
    hours = serializers.DecimalField(max_digits=4, decimal_places=1)


class ActLessonSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lesson
        fields = ["id", "held_on", "hours"]


def _body(request: Request) -> dict[str, Any]:
    return request.data if hasattr(request.data, "get") else {}


def _list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    raise Invalid(errors={"units": [_("A list of unit ids.")]})


@extend_schema(methods=["GET"], summary="Activities you plan or follow, with how many of your units have done them",
               responses={200: ActActivitySerializer(many=True)})
@extend_schema(methods=["POST"], summary="Plan an activity (the centre for the school, a college for itself)",
               request=ActPlanInputSerializer,
               responses={201: ActActivitySerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["GET", "POST"])
def activities(request: Request) -> Response:
    if request.method == "GET":
        return Response(ActActivitySerializer(actions.activity_list(request)[:200], many=True).data)
    body = _body(request)
    data = actions.PlanInput(kind=body.get("kind"), title=body.get("title"), description=body.get("description", ""),
                             unit=body.get("unit"), campaign=body.get("campaign"))
    with transaction.atomic():
        activity = actions.plan(request, data)
        if body.get("units") is not None:
            actions.assign(request, activity.pk, units=_list(body.get("units")), due_on=body.get("due_on"))
    return Response(ActActivitySerializer(activity).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="Which units have done it: each assignment you see with its status",
               responses={200: ActActivityTableSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def activity_detail(request: Request, pk: int) -> Response:
    activity, rows = actions.activity_table(request, pk)
    return Response(ActActivityTableSerializer({"activity": activity, "assignments": rows}).data)


@extend_schema(summary="Assign an activity to units within its planner's unit", request=ActAssignInputSerializer,
               responses={200: ActAssignmentSerializer(many=True), 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["POST"])
def activity_assign(request: Request, pk: int) -> Response:
    body = _body(request)
    done = actions.assign(request, pk, units=_list(body.get("units")), due_on=body.get("due_on"))
    return Response(ActAssignmentSerializer(done, many=True).data)


@extend_schema(summary="Activities assigned to your units (to do first, due first)",
               responses={200: ActAssignmentSerializer(many=True)})
@api_view(["GET"])
def assignments(request: Request) -> Response:
    return Response(ActAssignmentSerializer(actions.my_assignments(request.user)[:200], many=True).data)


def _detail(view: actions.AssignmentView) -> dict[str, Any]:
    return ActAssignmentDetailSerializer({
        "assignment": view.assignment, "record": view.record, "photos": view.photos,
        "signed_in": view.signed_in, "sign_ins": view.sign_ins, "can_record": view.can_record}).data


@extend_schema(summary="One assignment with its record, photos and sign-ins",
               responses={200: ActAssignmentDetailSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def assignment_detail(request: Request, pk: int) -> Response:
    return Response(_detail(actions.read_assignment(request, pk)))


@extend_schema(summary="Record the activity (a second record edits the first)", request=ActRecordInputSerializer,
               responses={200: ActRecordSerializer, 201: ActRecordSerializer, 400: BAD_INPUT, 403: FORBIDDEN,
                          404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def assignment_record(request: Request, pk: int) -> Response:
    body = _body(request)
    rec, created = actions.record(request, pk, actions.RecordInput(
        held_on=body.get("held_on"), place=body.get("place"), audience=body.get("audience"),
        attendance=body.get("attendance"), summary=body.get("summary"), key=body.get("key")))
    return Response(ActRecordSerializer(rec).data, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@extend_schema(summary="Add a photo to the record (at most nine; JPEG or PNG; location data removed)",
               request={"multipart/form-data": ActPhotoInputSerializer},
               responses={201: ActPhotoSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
@parser_classes([MultiPartParser, FormParser])
def assignment_photos(request: Request, pk: int) -> Response:
    upload = request.FILES.get("photo")
    photo = actions.add_photo(request, pk, upload, getattr(upload, "name", "") or "")
    return Response(ActPhotoSerializer(photo).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="Remove a photo", request=None,
               responses={204: None, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["DELETE"])
def photo_detail(request: Request, pk: int) -> Response:
    actions.remove_photo(request, pk)
    return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema(summary="A fresh sign-in code for the activity (organisers; valid 90 seconds)", request=None,
               responses={200: ActCodeSerializer, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["POST"])
def assignment_sign_in_code(request: Request, pk: int) -> Response:
    code = actions.open_sign_in(request, pk)
    url = request.build_absolute_uri(reverse("activities:sign-in", args=[code.code]))
    return Response(ActCodeSerializer({"code": code.code, "url": url, "expires_at": code.expires_at,
                                    "signed_in": code.signed_in}).data)


@extend_schema(summary="Sign in to an activity with the organiser's code (once; again is not an error)",
               request=ActSignInInputSerializer,
               responses={200: ActSignInResultSerializer, 201: ActSignInResultSerializer, 400: BAD_INPUT, 403: FORBIDDEN})
@api_view(["POST"])
@parser_classes([JSONParser, FormParser])
def sign_in(request: Request) -> Response:
    body = _body(request)
    done = actions.sign_in(request, body.get("code"), body.get("activity"))
    data = ActSignInResultSerializer({"activity": done.activity.pk, "created": done.created, "at": done.sign_in.at}).data
    return Response(data, status=status.HTTP_201_CREATED if done.created else status.HTTP_200_OK)


@extend_schema(methods=["GET"], summary="Campaigns (the 5·25 month) you follow",
               responses={200: ActCampaignRefSerializer(many=True)})
@extend_schema(methods=["POST"], summary="Create a campaign (the centre)", request=ActCampaignInputSerializer,
               responses={201: ActCampaignRefSerializer, 400: BAD_INPUT, 403: FORBIDDEN})
@api_view(["GET", "POST"])
def campaigns(request: Request) -> Response:
    if request.method == "GET":
        qs = actions.visible_campaigns(request.user).order_by("-starts_on", "pk")[:100]
        return Response(ActCampaignRefSerializer(qs, many=True).data)
    body = _body(request)
    made = actions.create_campaign(request, name=body.get("name"), starts_on=body.get("starts_on"),
                                   ends_on=body.get("ends_on"))
    return Response(ActCampaignRefSerializer(made).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="A campaign's tasks per college and their completion",
               responses={200: ActProgressSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def campaign_progress(request: Request, pk: int) -> Response:
    return Response(ActProgressSerializer(actions.campaign_progress(request, pk)).data)


@extend_schema(methods=["GET"], summary="Mental-health courses: hours planned and delivered",
               responses={200: ActCourseSerializer(many=True)})
@extend_schema(methods=["POST"], summary="Set up a course (the centre)", request=ActCourseInputSerializer,
               responses={201: ActCourseSerializer, 400: BAD_INPUT, 403: FORBIDDEN})
@api_view(["GET", "POST"])
def courses(request: Request) -> Response:
    if request.method == "GET":
        return Response(ActCourseSerializer(actions.course_list(request)[:200], many=True).data)
    body = _body(request)
    classes = body.get("classes")
    if not isinstance(classes, list):
        raise Invalid(errors={"classes": [_("A list of class ids.")]})
    course = actions.set_course(request, None, actions.CourseInput(
        title=body.get("title"), term=body.get("term"), teacher=body.get("teacher"), classes=classes,
        hours_planned=body.get("hours_planned")))
    course = actions.course_list(request).get(pk=course.pk)
    return Response(ActCourseSerializer(course).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="The teacher records the hours delivered on a day (the same day again edits it)",
               request=ActHoursInputSerializer,
               parameters=[OpenApiParameter("pk", int, OpenApiParameter.PATH)],
               responses={200: ActLessonSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["POST"])
def course_hours(request: Request, pk: int) -> Response:
    body = _body(request)
    lesson = actions.record_hours(request, pk, held_on=body.get("held_on"), hours=body.get("hours"))
    return Response(ActLessonSerializer(lesson).data)
