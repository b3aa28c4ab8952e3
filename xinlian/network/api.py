"""The read-only REST API at ``/api/v1/``.

Every list starts from a ``visible_*`` queryset of the access policy, so an object outside
the caller's scope is simply absent: its detail URL answers 404. The student detail is
tier-aware: it goes through ``get_student_for_user`` (which audits tier-2+ reads and denied
looks) and adds fields only for the tiers the caller holds over *that* student."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.db.models import F, OuterRef, QuerySet, Subquery
from django.db.models.functions import Length, Substr
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.authtoken.serializers import AuthTokenSerializer  # the form only: no model
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from xinlian.access import tokens
from xinlian.access.drf import (
    StudentSearchFilter,
    StudentUnitFilter,
    staff_in_scope,
    units_in_scope,
)
from xinlian.access.policy import (
    Cap,
    caps_of,
    get_student_for_user,
    reads_guardian_contacts,
    visible_posts,
    visible_students,
)
from xinlian.access.throttle import refusal_text
from xinlian.lib.actions import Invalid

from .actions import check_may_import_roster, import_roster, upload_too_large
from .models import Guardian, Post, SpecialGroup, Staff, Student, Unit, User

# --- serializers ------------------------------------------------------------------------------


class UnitRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Unit
        fields = ["id", "code", "name"]


class UnitSerializer(serializers.ModelSerializer):
    parent = serializers.IntegerField(source="parent_pk", read_only=True, allow_null=True,
                                      help_text=_("Id of the parent unit; null for a top unit."))

    class Meta:
        model = Unit
        fields = ["id", "code", "name", "name_en", "kind", "parent", "depth"]


class PersonRefSerializer(serializers.ModelSerializer):
    number = serializers.CharField(source="username", read_only=True)
    name = serializers.CharField(source="full_name", read_only=True)

    class Meta:
        model = User
        fields = ["id", "number", "name"]


class StudentSerializer(serializers.ModelSerializer):
    """Tier 1 (roster): what every network member who can see the student may read."""

    number = serializers.CharField(source="user.username", read_only=True)
    name = serializers.CharField(source="user.full_name", read_only=True)
    klass = UnitRefSerializer(read_only=True)
    dorm = UnitRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Student
        fields = ["id", "number", "name", "gender", "klass", "dorm", "enrolment_year", "status"]


class SpecialGroupSerializer(serializers.ModelSerializer):
    class Meta:
        model = SpecialGroup
        fields = ["code", "name", "name_en"]


class GuardianSerializer(serializers.ModelSerializer):
    relation_label = serializers.CharField(source="get_relation_display", read_only=True)

    class Meta:
        model = Guardian
        fields = ["name", "relation", "relation_label", "phone", "is_primary"]


class StudentDetailSerializer(StudentSerializer):
    """Tier 1 plus ``special_groups`` (tier 2, risk) and ``guardians`` (tier 4, case) — each
    only when the caller holds that tier over this student; otherwise the key is absent."""

    # Not read-only only so that the schema marks them optional: the API never writes them.
    special_groups = SpecialGroupSerializer(many=True, required=False,
                                            help_text=_("Only with the risk tier over this student."))
    guardians = GuardianSerializer(many=True, required=False,
                                   help_text=_("Only for readers who may call them: the case tier, the student's 辅导员 and 班主任."))

    class Meta(StudentSerializer.Meta):
        fields = [*StudentSerializer.Meta.fields, "special_groups", "guardians"]

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        held: set[Cap] | None = self.context.get("held")
        if held is None:  # schema generation: describe every field
            return fields
        if Cap.RISK not in held:
            fields.pop("special_groups")
        if not reads_guardian_contacts(held):
            fields.pop("guardians")
        return fields


class StaffSerializer(serializers.ModelSerializer):
    number = serializers.CharField(source="user.username", read_only=True)
    name = serializers.CharField(source="user.full_name", read_only=True)
    department = UnitRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Staff
        fields = ["id", "number", "name", "title", "department"]


class PostSerializer(serializers.ModelSerializer):
    person = PersonRefSerializer(read_only=True)
    unit = UnitRefSerializer(read_only=True)
    role_label = serializers.CharField(source="get_role_display", read_only=True)
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = Post
        fields = ["id", "person", "unit", "role", "role_label", "starts_on", "ends_on", "is_active"]


class MyPostSerializer(serializers.ModelSerializer):
    unit = UnitRefSerializer(read_only=True)
    role_label = serializers.CharField(source="get_role_display", read_only=True)

    class Meta:
        model = Post
        fields = ["id", "unit", "role", "role_label", "starts_on", "ends_on"]


class MeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    number = serializers.CharField()
    name = serializers.CharField()
    kind = serializers.CharField()
    posts = MyPostSerializer(many=True)
    capabilities = serializers.ListField(child=serializers.ChoiceField(choices=[c.value for c in Cap]))


class TokenRowSerializer(serializers.Serializer):
    id = serializers.CharField(help_text=_("The token's public id (not the secret): revoke it by this."))
    prefix = serializers.CharField(help_text=_("The token's first characters, to tell it apart."))
    created = serializers.DateTimeField()
    expiry = serializers.DateTimeField(allow_null=True)
    last_used = serializers.DateTimeField(allow_null=True, help_text=_(
        "When a request last came with this token (to the minute); null if never."))
    current = serializers.BooleanField(help_text=_("Whether this request came with this token."))


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text=_("The secret: shown this once, never again."))
    id = serializers.CharField()
    prefix = serializers.CharField()
    expiry = serializers.DateTimeField(allow_null=True)


class ObtainTokenSerializer(AuthTokenSerializer):
    """Username and password, and for an account with two-step verification the code."""

    otp = serializers.CharField(required=False, allow_blank=True, write_only=True, help_text=_(
        "Two-step verification: the 6-digit code from the authenticator app (or a recovery "
        "code). Needed by the accounts that use it."))


class RevokedSerializer(serializers.Serializer):
    revoked = serializers.IntegerField()


# --- viewsets ---------------------------------------------------------------------------------


class ScopedViewSet(viewsets.ReadOnlyModelViewSet):
    """Read-only; the queryset is the policy's scope, so out-of-scope details are 404."""

    lookup_value_regex = r"\d+"  # a non-numeric id is a 404 at the router, never a 500

    def scoped_queryset(self, user: User) -> QuerySet:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return self.queryset.none()  # type: ignore[union-attr]
        return self.scoped_queryset(self.request.user)  # type: ignore[arg-type]


@extend_schema_view(
    list=extend_schema(summary="Units in your roster or statistics scope"),
    retrieve=extend_schema(summary="One unit in your scope"),
)
class UnitViewSet(ScopedViewSet):
    """Units in the caller's roster or statistics scope; ``parent`` is the parent unit's id."""

    queryset = Unit.objects.all()
    serializer_class = UnitSerializer

    def scoped_queryset(self, user: User) -> QuerySet:
        # The parent's path is the node's path minus one step: one correlated subquery instead of
        # a get_parent() query per row.
        parent = Unit.objects.filter(
            path=Substr(OuterRef("path"), 1, Length(OuterRef("path")) - Unit.steplen)
        ).values("pk")[:1]
        return units_in_scope(user).annotate(parent_pk=Subquery(parent))


@extend_schema_view(
    list=extend_schema(summary="Students you may see (roster tier)"),
    retrieve=extend_schema(
        summary="One student; extra fields by the tiers you hold over them",
        responses=StudentDetailSerializer,
    ),
)
class StudentViewSet(ScopedViewSet):
    """Students at the roster tier. Filter with ``?unit=<id>`` (that unit's subtree) and ``?q=``.
    The detail adds ``special_groups`` with the risk tier and ``guardians`` for those who may call
    them (the case tier, the student's 辅导员 and 班主任);
    reading either is recorded in the audit trail."""

    queryset = Student.objects.all()
    serializer_class = StudentSerializer
    filter_backends = [StudentUnitFilter, StudentSearchFilter]

    def scoped_queryset(self, user: User) -> QuerySet:
        return visible_students(user, Cap.ROSTER).select_related("user", "klass", "dorm")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The policy's helper, not get_object(): it audits tier-2+ reads and denied looks.
        student, held = get_student_for_user(request, int(kwargs["pk"]))
        serializer = StudentDetailSerializer(student, context={**self.get_serializer_context(),
                                                               "held": held})
        return Response(serializer.data)


@extend_schema_view(
    list=extend_schema(summary="Staff holding a post in your scope"),
    retrieve=extend_schema(summary="One staff member in your scope"),
)
class StaffViewSet(ScopedViewSet):
    """Staff who hold a post in force at a unit the caller can see."""

    queryset = Staff.objects.all()
    serializer_class = StaffSerializer

    def scoped_queryset(self, user: User) -> QuerySet:
        return staff_in_scope(user).select_related("user", "department").order_by("user__username")


@extend_schema_view(
    list=extend_schema(summary="Posts at units in your scope, and your own"),
    retrieve=extend_schema(summary="One post in your scope"),
)
class PostViewSet(ScopedViewSet):
    """Posts (a person's role at a unit for a term) in the caller's roster scope, and their own."""

    queryset = Post.objects.all()
    serializer_class = PostSerializer

    def scoped_queryset(self, user: User) -> QuerySet:
        return visible_posts(user).select_related("person", "unit").order_by(F("unit__path"), "role", "pk")


@extend_schema(summary="You: your active posts and the capabilities they grant", responses=MeSerializer)
@api_view(["GET"])
def me(request: Request) -> Response:
    user: User = request.user  # type: ignore[assignment]
    data = {
        "id": user.pk, "number": user.username, "name": user.full_name, "kind": user.kind,
        "posts": MyPostSerializer(user.active_posts().order_by("unit__path", "role"), many=True).data,
        "capabilities": sorted(caps_of(user)),
    }
    return Response(data)


def _new_token_body(token: Any, secret: str) -> dict[str, Any]:
    return TokenSerializer({"token": secret, "id": tokens.public_id(token),
                            "prefix": token.token_key[:8], "expiry": token.expiry}).data


class ObtainToken(APIView):
    """``POST username, password`` → a new token (django-rest-knox: stored hashed, expiring).

    DRF's serializer hands its ``Request`` to ``authenticate()``, so django-axes counts the
    failure (per account and address, and per address across accounts: access/throttle.py);
    when axes refuses, it flags that same object, which the axes middleware never sees — so
    this view answers the lockout itself (403, no template)."""

    authentication_classes = ()  # a password login: no session, so no CSRF to pass
    permission_classes = ()
    serializer_class = AuthTokenSerializer

    @extend_schema(
        summary="Obtain an API token (shown once; expires; see /api/v1/me/tokens/)",
        request=ObtainTokenSerializer,
        responses={200: TokenSerializer},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = AuthTokenSerializer(data=request.data, context={"request": request})
        if not serializer.is_valid():
            if getattr(request, "axes_locked_out", False):
                return Response({"detail": refusal_text(request)}, status=403)
            return Response(serializer.errors, status=400)
        user = serializer.validated_data["user"]
        # The second step, for those who use it: the password alone makes no token for them.
        tokens.check_second_step(request, user, request.data.get("otp"))
        token, secret = tokens.issue_token(request, user)
        user_logged_in.send(sender=user.__class__, request=request, user=user)  # axes resets, last login
        return Response(_new_token_body(token, secret))


obtain_token = ObtainToken.as_view()


class TokenLogout(APIView):
    """Revoke the token this request came with (only that one); a session is refused (403)."""

    @extend_schema(summary="Log this API token out (revoke it)", request=None, responses={204: None})
    def post(self, request: Request) -> Response:
        tokens.revoke_current_token(request)
        return Response(status=status.HTTP_204_NO_CONTENT)


token_logout = TokenLogout.as_view()


class MyTokens(APIView):
    """Your API tokens: list (never the secrets), make one (from a web login), revoke all.
    The same verbs as the page /me/tokens/."""

    @extend_schema(summary="Your API tokens", responses=TokenRowSerializer(many=True))
    def get(self, request: Request) -> Response:
        rows = tokens.list_my_tokens(request)
        return Response(TokenRowSerializer([r.__dict__ for r in rows], many=True).data)

    @extend_schema(summary="Make a new API token (not with a token: log in with a password)",
                   request=None, responses={201: TokenSerializer})
    def post(self, request: Request) -> Response:
        token, secret = tokens.create_my_token(request)
        return Response(_new_token_body(token, secret), status=status.HTTP_201_CREATED)

    @extend_schema(summary="Revoke all your API tokens", operation_id="v1_me_tokens_revoke_all",
                   responses=RevokedSerializer)
    def delete(self, request: Request) -> Response:
        return Response({"revoked": tokens.revoke_all_my_tokens(request)})


my_tokens = MyTokens.as_view()


class MyToken(APIView):
    @extend_schema(summary="Revoke one of your API tokens", operation_id="v1_me_tokens_revoke",
                   responses={204: None})
    def delete(self, request: Request, token_id: str) -> Response:
        tokens.revoke_my_token(request, token_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


my_token = MyToken.as_view()


# --- roster import (the verb network.actions.import_roster; the page and the CLI call it too) --------


class RosterImportRequestSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("The roster: .xlsx or CSV (UTF-8, BOM or GBK), told apart by "
                                             "content; the template of the import page."))
    dry_run = serializers.BooleanField(default=False, help_text=_("Check and count only; write nothing."))


class RosterCountsSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class RosterImportSerializer(serializers.Serializer):
    filename = serializers.CharField()
    dry_run = serializers.BooleanField()
    written = serializers.BooleanField()
    counts = serializers.DictField(child=RosterCountsSerializer())


class RosterRowErrorSerializer(serializers.Serializer):
    sheet = serializers.CharField()
    row = serializers.IntegerField(help_text=_("Row number as the spreadsheet shows it; 0 for the whole file."))
    column = serializers.CharField(help_text=_("The column's header as written in the file; empty for a row."))
    message = serializers.CharField()


class RosterImportErrorSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = RosterRowErrorSerializer(many=True, help_text=_("The first 500 errors."))
    errors_total = serializers.IntegerField()


@extend_schema(
    summary="Import the roster (all or nothing)",
    request={"multipart/form-data": RosterImportRequestSerializer},
    responses={200: RosterImportSerializer, 400: RosterImportErrorSerializer},
)
@api_view(["POST"])
@parser_classes([MultiPartParser])
def roster_import(request: Request) -> Response:
    """Students, staff, posts and guardians from one file, all or nothing. Any bad row: 400 with
    the errors by sheet, row and column (the first 500, and their total), nothing written.
    Without the import capability: 403."""
    # Both before the body is parsed to disk: an oversized upload is refused from its
    # Content-Length, and someone without the capability gets 403 without uploading.
    check_may_import_roster(request.user)  # type: ignore[arg-type]
    too_large = upload_too_large(request)  # type: ignore[arg-type]
    if too_large:
        return Response({"detail": too_large}, status=413)
    form = RosterImportRequestSerializer(data=request.data)
    form.is_valid(raise_exception=True)
    upload = form.validated_data["file"]
    try:
        report = import_roster(request.user, upload, upload.name,  # type: ignore[arg-type]
                               dry_run=form.validated_data["dry_run"], request=request)  # type: ignore[arg-type]
    except Invalid as refused:
        report = refused.obj
        shown = report.shown_errors()
        return Response({"detail": refused.text,
                         "errors": RosterRowErrorSerializer(shown, many=True).data,
                         "errors_total": len(report.errors)}, status=400)
    return Response(RosterImportSerializer({
        "filename": report.filename, "dry_run": report.dry_run, "written": report.written,
        "counts": {k: vars(c) for k, c in report.counts.items()}}).data)
