from django import forms
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.views.decorators.http import require_POST

from .models import Submission

BANDS = ((20, "severe"), (15, "moderately severe"), (10, "moderate"), (5, "mild"), (0, "minimal"))


# Nine answers, each 0–3 (a Form with fields q1 … q9).
PHQ9 = type("PHQ9", (forms.Form,), {f"q{i}": forms.IntegerField(min_value=0, max_value=3) for i in range(1, 10)})


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@require_POST
def submit(request: HttpRequest) -> HttpResponse:
    form = PHQ9(request.POST)
    if not form.is_valid():
        return HttpResponse(form.errors.as_json(), status=400, content_type="application/json")
    answers = form.cleaned_data
    total = sum(answers.values())
    band = next(name for floor, name in BANDS if total >= floor)
    Submission.objects.create(answers=answers, total=total, band=band, critical=answers["q9"] > 0)
    return HttpResponseRedirect("/done/", status=303)
