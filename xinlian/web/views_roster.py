"""Roster import (with dry-run preview), template download and scoped export.

The import is two steps: upload → dry-run preview (counts and every error) → confirm. Between
the two, the uploaded file waits in a private temporary folder under a random token that lives
only in the server-side session — never in a URL or a form — and is deleted once used,
cancelled, or older than an hour."""

from __future__ import annotations

import os
import re
import secrets
import time
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from xinlian.access.adapters import page_errors
from xinlian.lib.actions import Invalid
from xinlian.network.actions import (
    export_roster,
    import_roster,
    may_import_roster,
    upload_too_large,
)
from xinlian.network.roster import ImportReport, build_template

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PENDING = "roster_import_pending"
PENDING_MAX_AGE = 3600  # seconds a previewed file waits for its confirmation
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def _pending_dir() -> Path:
    path = Path(settings.DATA_DIR) / "tmp" / "roster-import"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _pending_path(token: str) -> Path | None:
    if not TOKEN_RE.match(token):
        return None
    return _pending_dir() / token


def _sweep_stale() -> None:
    """Delete previews nobody confirmed: they may hold guardian phones."""
    cutoff = time.time() - PENDING_MAX_AGE
    for entry in _pending_dir().iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                entry.unlink()
        except OSError:
            pass


def _drop_pending(request: HttpRequest) -> None:
    pending = request.session.pop(PENDING, None)
    if pending:
        path = _pending_path(str(pending.get("token", "")))
        if path is not None:
            path.unlink(missing_ok=True)


def _render(request: HttpRequest, *, report: ImportReport | None = None, stage: str = "upload",
            status: int = 200, form_error: str = "") -> HttpResponse:
    shown = report.shown_errors() if report else []
    return render(request, "web/roster_import.html", {
        "report": report,
        "stage": stage,  # upload | preview | done
        "errors": shown,
        "errors_hidden": len(report.errors) - len(shown) if report else 0,
        "form_error": form_error,
        "max_size": filesizeformat(settings.ROSTER_MAX_UPLOAD_BYTES),
        "pending_name": (request.session.get(PENDING) or {}).get("name", ""),
    }, status=status)


# CSRF is checked inside, after the size check, so that an oversized upload is refused from its
# Content-Length without first being parsed to disk by the CSRF middleware.
@csrf_exempt
@require_http_methods(["GET", "POST"])
@login_required
@page_errors
def roster_import(request: HttpRequest) -> HttpResponse:
    if not may_import_roster(request.user):  # type: ignore[arg-type]
        raise PermissionDenied
    if request.method == "POST":
        too_large = upload_too_large(request)
        if too_large:
            return _render(request, status=413, form_error=too_large)
    return _roster_import(request)


@csrf_protect
def _roster_import(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _render(request)
    action = request.POST.get("action", "preview")
    if action == "cancel":
        _drop_pending(request)
        messages.info(request, _("The import was cancelled; nothing was written."))
        return redirect("roster-import")
    if action == "confirm":
        return _confirm(request)
    return _preview(request)


def _import(request: HttpRequest, source: str | os.PathLike[str] | UploadedFile, name: str, *,
            dry_run: bool) -> ImportReport:
    """The verb, as the page's user; a refused file comes back as its report (errors listed)."""
    try:
        return import_roster(request.user, source, name, dry_run=dry_run,  # type: ignore[arg-type]
                             request=request)
    except Invalid as refused:
        return refused.obj


def _preview(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        return _render(request, status=400, form_error=_("Choose a file to upload."))
    _drop_pending(request)
    _sweep_stale()
    if upload.size > settings.ROSTER_MAX_UPLOAD_BYTES:
        # The verb refuses it too; answering from the upload avoids copying it to the waiting folder.
        return _render(request, report=_import(request, upload, upload.name, dry_run=True))
    token = secrets.token_urlsafe(24)
    path = _pending_path(token)
    assert path is not None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    report = _import(request, path, upload.name, dry_run=True)
    if report.ok and report.changes:
        request.session[PENDING] = {"token": token, "name": upload.name[:200], "at": time.time()}
        return _render(request, report=report, stage="preview")
    path.unlink(missing_ok=True)
    return _render(request, report=report)


def _confirm(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(PENDING, None)
    path = _pending_path(str((pending or {}).get("token", "")))
    if (pending is None or path is None or not path.is_file()
            or time.time() - float(pending.get("at", 0)) > PENDING_MAX_AGE):
        if path is not None:
            path.unlink(missing_ok=True)
        return _render(request, status=400, form_error=_(
            "The previewed file is no longer available; upload it again."))
    try:
        report = _import(request, path, pending["name"], dry_run=False)
    finally:
        path.unlink(missing_ok=True)
    if report.written:
        messages.success(request, _("The roster was imported."))
    return _render(request, report=report, stage="done" if report.ok else "upload")


@require_GET
@login_required
def roster_template(request: HttpRequest) -> HttpResponse:
    if not may_import_roster(request.user):  # type: ignore[arg-type]
        raise PermissionDenied
    response = HttpResponse(build_template(), content_type=XLSX)
    response["Content-Disposition"] = content_disposition_header(True, "花名册导入模板.xlsx")
    return response


@require_GET
@login_required
@page_errors
def roster_export(request: HttpRequest) -> HttpResponse:
    data, _count = export_roster(request.user, request=request)  # type: ignore[arg-type]
    response = HttpResponse(data, content_type=XLSX)
    filename = f"roster-{timezone.localdate():%Y%m%d}.xlsx"
    response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Cache-Control"] = "no-store"
    return response
