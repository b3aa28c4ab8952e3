"""Roster import (with dry-run preview), template download and scoped export."""

from django.http import Http404


def roster_import(request):
    raise Http404


def roster_template(request):
    raise Http404


def roster_export(request):
    raise Http404
