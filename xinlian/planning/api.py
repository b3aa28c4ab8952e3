"""Work plans and leadership-group meetings at ``/api/v1/planning/``: plans with their tasks,
submit / approve / return, tasks marked done, meetings with their action items. A thin adapter
over :mod:`xinlian.planning.actions`, the verbs the pages call: refusals become 404 / 403 / 409 /
400 through the project's exception handler. A meeting's minutes and decisions are in its
answer only for the leadership group and the centre director (empty for everyone else)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from xinlian.care.api import CONFLICT, FORBIDDEN, NOT_FOUND, DetailSerializer
from xinlian.network.api import PersonRefSerializer, UnitRefSerializer

from . import actions
from .models import ActionItem, Meeting, PlanTask, WorkPlan

BAD_INPUT = OpenApiResponse(DetailSerializer, description=_("Invalid input: the messages by field."))


class PlanTaskSerializer(serializers.ModelSerializer):
    owner = PersonRefSerializer(read_only=True)
    plan = serializers.IntegerField(source="plan_id", read_only=True)

    class Meta:
        model = PlanTask
        fields = ["id", "plan", "title", "owner", "due_on", "status", "done_at", "note"]


class WorkPlanSerializer(serializers.ModelSerializer):
    school = UnitRefSerializer(read_only=True)
    n_tasks = serializers.IntegerField(read_only=True, default=None)
    n_done = serializers.IntegerField(read_only=True, default=None)
    n_overdue = serializers.IntegerField(read_only=True, default=None)

    class Meta:
        model = WorkPlan
        fields = ["id", "school", "kind", "label", "starts_on", "ends_on", "title", "status", "submitted_at",
                  "decided_at", "n_tasks", "n_done", "n_overdue"]


class WorkPlanDetailSerializer(WorkPlanSerializer):
    tasks = PlanTaskSerializer(many=True, read_only=True)
    drafted_by = PersonRefSerializer(read_only=True)
    decided_by = PersonRefSerializer(read_only=True, allow_null=True)

    class Meta(WorkPlanSerializer.Meta):
        fields = [*WorkPlanSerializer.Meta.fields, "goals", "return_comment", "drafted_by", "decided_by", "tasks"]


class WorkPlanInputSerializer(serializers.Serializer):
    kind = serializers.CharField(help_text=_("year or term."))
    label = serializers.CharField(help_text=_("The period's name, e.g. 2026–2027 学年第一学期."))
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    title = serializers.CharField()
    goals = serializers.CharField(required=False, allow_blank=True)


class PlanTaskInputSerializer(serializers.Serializer):
    title = serializers.CharField()
    owner = serializers.IntegerField(help_text=_("The id of a person who holds a post at the school."))
    due_on = serializers.DateField(help_text=_("Within the plan's period."))


class PlanDecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True)


class PlanTaskNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, help_text=_("What was done, in a line."))


class ActionItemSerializer(serializers.ModelSerializer):
    owner = PersonRefSerializer(read_only=True)
    meeting = serializers.IntegerField(source="meeting_id", read_only=True)

    class Meta:
        model = ActionItem
        fields = ["id", "meeting", "text", "owner", "due_on", "done", "done_at"]


class LeadershipMeetingSerializer(serializers.ModelSerializer):
    school = UnitRefSerializer(read_only=True)

    class Meta:
        model = Meeting
        fields = ["id", "school", "held_on", "title"]


class LeadershipMeetingDetailSerializer(LeadershipMeetingSerializer):
    attendees = PersonRefSerializer(many=True, read_only=True)
    items = ActionItemSerializer(many=True, read_only=True)
    minutes = serializers.SerializerMethodField(help_text=_("Empty unless you read the minutes."))
    decisions = serializers.SerializerMethodField(help_text=_("Empty unless you read the minutes."))

    class Meta(LeadershipMeetingSerializer.Meta):
        fields = [*LeadershipMeetingSerializer.Meta.fields, "attendees", "minutes", "decisions", "items"]

    def get_minutes(self, meeting: Meeting) -> str:
        return meeting.minutes if self.context.get("reads_minutes") else ""

    def get_decisions(self, meeting: Meeting) -> str:
        return meeting.decisions if self.context.get("reads_minutes") else ""


class LeadershipMeetingInputSerializer(serializers.Serializer):
    held_on = serializers.DateField()
    title = serializers.CharField()
    attendees = serializers.ListField(child=serializers.IntegerField(), help_text=_("Ids of the attendees."))
    minutes = serializers.CharField(required=False, allow_blank=True)
    decisions = serializers.CharField(required=False, allow_blank=True)


class ActionItemInputSerializer(serializers.Serializer):
    text = serializers.CharField(help_text=_("A short line that shows on the owner's home page: name no student."))
    owner = serializers.IntegerField()
    due_on = serializers.DateField()


def _body(request: Request) -> dict[str, Any]:
    return request.data if isinstance(request.data, dict) else {}


def _plan_input(body: dict[str, Any]) -> actions.PlanInput:
    return actions.PlanInput(kind=body.get("kind"), label=body.get("label"), starts_on=body.get("starts_on"),
                             ends_on=body.get("ends_on"), title=body.get("title"), goals=body.get("goals"))


def _plan_detail(request: Request, pk: Any) -> dict[str, Any]:
    view = actions.read_plan(request, pk)
    view.plan.n_tasks, view.plan.n_done, view.plan.n_overdue = (view.progress.total, view.progress.done,
                                                                 view.progress.overdue)
    data = WorkPlanDetailSerializer(view.plan).data
    data["tasks"] = PlanTaskSerializer(view.tasks, many=True).data
    return data


@extend_schema(methods=["GET"], summary="Work plans you may open, with their task counts",
               responses={200: WorkPlanSerializer(many=True)})
@extend_schema(methods=["POST"], summary="Draft a work plan (the centre director)", request=WorkPlanInputSerializer,
               responses={201: WorkPlanDetailSerializer, 400: BAD_INPUT, 403: FORBIDDEN})
@api_view(["GET", "POST"])
def plans(request: Request) -> Response:
    if request.method == "GET":
        return Response(WorkPlanSerializer(actions.list_plans(request)[:200], many=True).data)
    body = _body(request)
    plan = actions.draft_plan(request, _plan_input(body), body.get("school"))
    return Response(_plan_detail(request, plan.pk), status=status.HTTP_201_CREATED)


@extend_schema(methods=["GET"], summary="One work plan with its tasks and progress",
               responses={200: WorkPlanDetailSerializer, 404: NOT_FOUND})
@extend_schema(methods=["PATCH"], summary="Edit a draft or returned plan (an approved plan is fixed)",
               request=WorkPlanInputSerializer,
               responses={200: WorkPlanDetailSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["GET", "PATCH"])
def plan_detail(request: Request, pk: int) -> Response:
    if request.method == "PATCH":
        body = _body(request)
        current = actions.plan_for(request, pk, "planning.plan.edit")
        merged = {f: getattr(current, f) for f in ("kind", "label", "starts_on", "ends_on", "title", "goals")}
        merged.update({k: v for k, v in body.items() if k in merged})
        actions.edit_plan(request, pk, _plan_input(merged))
    return Response(_plan_detail(request, pk))


@extend_schema(summary="Add a task to a draft or returned plan", request=PlanTaskInputSerializer,
               responses={201: PlanTaskSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def task_add(request: Request, pk: int) -> Response:
    body = _body(request)
    task = actions.add_task(request, pk, actions.TaskInput(title=body.get("title"), owner=body.get("owner"),
                                                           due_on=body.get("due_on")))
    return Response(PlanTaskSerializer(task).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="Submit a plan to the leader (again: no change)", request=None,
               responses={200: WorkPlanDetailSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def plan_submit(request: Request, pk: int) -> Response:
    actions.submit_plan(request, pk)
    return Response(_plan_detail(request, pk))


@extend_schema(summary="Approve a submitted plan (the leadership-group leader)", request=PlanDecisionSerializer,
               responses={200: WorkPlanDetailSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def plan_approve(request: Request, pk: int) -> Response:
    actions.approve_plan(request, pk, str(_body(request).get("comment") or ""))
    return Response(_plan_detail(request, pk))


@extend_schema(summary="Return a submitted plan with a comment (the leadership-group leader)",
               request=PlanDecisionSerializer,
               responses={200: WorkPlanDetailSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def plan_return(request: Request, pk: int) -> Response:
    actions.return_plan(request, pk, str(_body(request).get("comment") or ""))
    return Response(_plan_detail(request, pk))


@extend_schema(summary="Your tasks in approved plans", responses={200: PlanTaskSerializer(many=True)})
@api_view(["GET"])
def tasks(request: Request) -> Response:
    return Response(PlanTaskSerializer(actions.my_tasks(request.user)[:200], many=True).data)  # type: ignore[arg-type]


@extend_schema(summary="Mark a task of an approved plan done (its owner or the centre director)",
               request=PlanTaskNoteSerializer,
               responses={200: PlanTaskSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def task_done(request: Request, pk: int) -> Response:
    task = actions.mark_task_done(request, pk, str(_body(request).get("note") or ""))
    return Response(PlanTaskSerializer(task).data)


def _meeting_detail(request: Request, pk: Any) -> dict[str, Any]:
    view = actions.read_meeting(request, pk)
    data = LeadershipMeetingDetailSerializer(view.meeting, context={"reads_minutes": view.reads_minutes}).data
    data["attendees"] = PersonRefSerializer(view.attendees, many=True).data
    data["items"] = ActionItemSerializer(view.items, many=True).data
    return data


@extend_schema(methods=["GET"], summary="Leadership-group meetings you may open",
               responses={200: LeadershipMeetingSerializer(many=True)})
@extend_schema(methods=["POST"], summary="Record a meeting (the centre director, the leader or the deputy)",
               request=LeadershipMeetingInputSerializer, responses={201: LeadershipMeetingDetailSerializer, 400: BAD_INPUT, 403: FORBIDDEN})
@api_view(["GET", "POST"])
def meetings(request: Request) -> Response:
    if request.method == "GET":
        return Response(LeadershipMeetingSerializer(actions.list_meetings(request)[:200], many=True).data)
    body = _body(request)
    attendees = body.get("attendees") or []
    meeting = actions.record_meeting(request, actions.MeetingInput(
        held_on=body.get("held_on"), title=body.get("title"),
        attendees=attendees if isinstance(attendees, list) else [attendees],
        minutes=body.get("minutes"), decisions=body.get("decisions")), body.get("school"))
    return Response(_meeting_detail(request, meeting.pk), status=status.HTTP_201_CREATED)


@extend_schema(summary="One meeting with its attendees and action items (minutes where you read them)",
               responses={200: LeadershipMeetingDetailSerializer, 404: NOT_FOUND})
@api_view(["GET"])
def meeting_detail(request: Request, pk: int) -> Response:
    return Response(_meeting_detail(request, pk))


@extend_schema(summary="Add an action item to a meeting", request=ActionItemInputSerializer,
               responses={201: ActionItemSerializer, 400: BAD_INPUT, 403: FORBIDDEN, 404: NOT_FOUND})
@api_view(["POST"])
def item_add(request: Request, pk: int) -> Response:
    body = _body(request)
    item = actions.add_action_item(request, pk, actions.ItemInput(text=body.get("text"), owner=body.get("owner"),
                                                                  due_on=body.get("due_on")))
    return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)


@extend_schema(summary="Your action items, open first", responses={200: ActionItemSerializer(many=True)})
@api_view(["GET"])
def items(request: Request) -> Response:
    return Response(ActionItemSerializer(actions.my_items(request.user)[:200], many=True).data)  # type: ignore[arg-type]


@extend_schema(summary="Mark your action item done", request=None,
               responses={200: ActionItemSerializer, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT})
@api_view(["POST"])
def item_done(request: Request, pk: int) -> Response:
    return Response(ActionItemSerializer(actions.mark_item_done(request, pk)).data)
