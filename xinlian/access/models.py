"""The audit trail: one row per sensitive read, export, write or denied access. Append-only."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from knox.models import AuthToken


class IncompleteAuditRow(ValueError):
    pass


class AuditResult(models.TextChoices):
    ALLOWED = "allowed", _("Allowed")
    DENIED = "denied", _("Denied")
    BREAK_GLASS = "break_glass", _("Break-glass")


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> int:  # the trail is never rewritten
        raise PermissionError("audit rows are append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("audit rows are append-only")


class AuditManager(models.Manager.from_queryset(AuditQuerySet)):  # type: ignore[misc]
    REQUIRED = ("actor_id", "action", "object_type", "object_id", "result")

    def record(self, *, actor: Any, action: str, obj: Any = None, object_type: str = "",
               object_id: str = "", result: str = AuditResult.ALLOWED, ip: str | None = None,
               detail: str = "", anonymous: bool = False) -> AuditEvent:
        """Write one row; a row missing its actor, action, object or result is refused.

        ``anonymous``: a refused attempt by nobody who is logged in (an SSO answer naming no
        known person) has no actor; only a denied row may say so."""
        if obj is not None:
            object_type = object_type or obj._meta.label_lower
            object_id = object_id or str(obj.pk)
        row = AuditEvent(
            actor_id=getattr(actor, "pk", None), action=action, object_type=object_type,
            object_id=str(object_id), result=result, ip=ip or None, detail=detail[:200],
        )
        required = self.REQUIRED
        if anonymous:
            if result != AuditResult.DENIED:
                raise IncompleteAuditRow("only a denied row may have no actor")
            required = tuple(f for f in required if f != "actor_id")
        missing = [f for f in required if not getattr(row, f)]
        if missing:
            raise IncompleteAuditRow(f"audit row is missing {', '.join(missing)}")
        row.save(force_insert=True)
        return row


class AuditEvent(models.Model):
    at = models.DateTimeField(_("time (UTC)"), auto_now_add=True, db_index=True)
    # Empty only for a refused attempt by nobody logged in (``record(anonymous=True)``).
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+", verbose_name=_("actor"))
    action = models.CharField(_("action"), max_length=48)
    object_type = models.CharField(_("object type"), max_length=64)
    object_id = models.CharField(_("object"), max_length=64)
    result = models.CharField(_("result"), max_length=12, choices=AuditResult.choices)
    ip = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    # Never sensitive text: a capability name, a count, a filter — not answers or notes.
    detail = models.CharField(_("detail"), max_length=200, blank=True)

    objects = AuditManager()

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit trail")
        ordering = ["-at"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}#{self.object_id} {self.result}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise PermissionError("audit rows are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any):  # type: ignore[override]
        raise PermissionError("audit rows are append-only")


class ApiToken(AuthToken):
    """django-rest-knox's token under names the back office can say in both languages (knox's
    model names none). A proxy: the same table, nothing stored twice."""

    class Meta:
        proxy = True
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self) -> str:
        return f"{self.token_key}… ({self.user_id})"


class TokenUse(models.Model):
    """When an API token was last used, to the minute (knox keeps no such field): written at most
    once a minute per token (xinlian/access/tokens.py), shown in the token list."""

    token = models.OneToOneField(AuthToken, on_delete=models.CASCADE, primary_key=True,
                                 related_name="use", verbose_name=_("API token"))
    last_used = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("API token use")
        verbose_name_plural = _("API token uses")

    def __str__(self) -> str:
        return f"{self.token_id[:8]} {self.last_used}"
