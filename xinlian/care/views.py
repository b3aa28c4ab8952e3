"""Care pages (in progress)."""

from django.http import Http404


def alert_detail(request, pk):
    raise Http404


def case_detail(request, pk):
    raise Http404
