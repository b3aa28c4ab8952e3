"""Respondent pages (being written)."""

from django.http import Http404, HttpRequest, HttpResponse


def mine(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def take(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def consent(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def answer(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def submit(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def thanks(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404
