"""Staff pages (being written)."""

from django.http import Http404, HttpRequest, HttpResponse


def campaign_list(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def campaign_new(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def campaign_detail(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def campaign_edit(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def campaign_launch(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def campaign_unit(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def campaign_report(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def campaign_export(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def guardian_consent(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def result_detail(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def interview_list(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def interview_detail(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def instrument_list(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def instrument_upload(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404


def instrument_detail(request: HttpRequest, **kw: object) -> HttpResponse:
    raise Http404
