"""Screening REST API (being written)."""

from django.http import Http404, HttpRequest, HttpResponse


def campaign_list(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def my_assignments(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def assignment_detail(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def consent(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def save_answer(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def submit(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def result_list(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404
