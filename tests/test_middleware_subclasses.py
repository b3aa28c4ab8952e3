"""Two of Django's middlewares, subclassed for the request floor (issue 10 §4), answer as
Django's do: the language of a request and its headers; messages stored and shown."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.middleware.locale import LocaleMiddleware as DjangoLocaleMiddleware
from django.test import RequestFactory
from django.urls import reverse
from django.utils import translation
from django.utils.functional import empty

from xinlian.web.middleware import LazyMessageMiddleware, LocaleMiddleware
from xinlian.web.sessions import SessionStore

from .base import NetworkTestCase


class LocaleTests(NetworkTestCase):
    def answer(self, middleware_class: type, path: str, **headers: str) -> tuple[str, dict[str, str]]:
        seen = []

        def view(request):
            seen.append((request.LANGUAGE_CODE, translation.get_language()))
            return HttpResponse(translation.gettext("Log in"))

        request = RequestFactory().get(path, **headers)
        cookie = headers.pop("cookie", None)
        if cookie:
            request.COOKIES["django_language"] = cookie
        with translation.override(None):
            response = middleware_class(view)(request)
        self.assertEqual(seen[0][0], seen[0][1])
        return seen[0][0], {k: v for k, v in response.items() if k in ("Content-Language", "Vary")}

    def test_the_same_language_and_headers_as_djangos(self):
        cases = [("/screening/a/5/submit/", {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}),
                 ("/screening/a/5/submit/", {"HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.8"}),
                 ("/en/", {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}),  # a path that looks like a language
                 ("/zh-hans/inbox/", {}),
                 ("/", {"HTTP_ACCEPT_LANGUAGE": "fr-FR"}),  # not offered: the default
                 ("/", {"HTTP_ACCEPT_LANGUAGE": "zh-CN", "cookie": "en"})]  # the switch's cookie first
        seen = set()
        for path, headers in cases:
            with self.subTest(path=path, headers=headers):
                ours = self.answer(LocaleMiddleware, path, **dict(headers))
                self.assertEqual(ours, self.answer(DjangoLocaleMiddleware, path, **dict(headers)))
                self.assertIn("Accept-Language", ours[1]["Vary"])
                self.assertEqual(ours[1]["Content-Language"], ours[0])
                seen.add(ours[0])
        self.assertEqual(seen, {"zh-hans", "en"})

    def test_pages_follow_the_language_switch(self):
        self.login("counsellor_a")
        self.assertEqual(self.client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="zh-CN")["Content-Language"],
                         "zh-hans")
        self.client.cookies["django_language"] = "en"
        response = self.client.get(reverse("inbox"), HTTP_ACCEPT_LANGUAGE="zh-CN")
        self.assertEqual(response["Content-Language"], "en")
        self.assertContains(response, 'lang="en"')


class LazyMessageTests(NetworkTestCase):
    def test_a_request_without_messages_makes_no_storage(self):
        request = RequestFactory().get("/")
        middleware = LazyMessageMiddleware(lambda r: HttpResponse("ok"))
        response = middleware(request)
        self.assertIs(request._messages._wrapped, empty)
        self.assertNotIn("messages", response.cookies)

    def test_a_message_added_is_stored_and_shown_once(self):
        def add(request):
            messages.success(request, "保存好了 / saved")
            return HttpResponse("ok")

        request = RequestFactory().get("/")
        request.session = SessionStore()
        response = LazyMessageMiddleware(add)(request)
        self.assertIn("messages", response.cookies)  # Django's cookie storage, as before
        later = RequestFactory().get("/")
        later.session = SessionStore()
        later.COOKIES["messages"] = response.cookies["messages"].value
        shown = []

        def show(request):
            shown.extend(str(m) for m in get_messages(request))
            return HttpResponse("ok")

        LazyMessageMiddleware(show)(later)
        self.assertEqual(shown, ["保存好了 / saved"])

    def test_a_page_shows_a_message_set_by_the_request_before(self):
        # Through the whole stack: the plan form's message after its redirect, shown once.
        import datetime as dt

        from django.utils import timezone

        self.login("director")
        today = timezone.localdate()
        response = self.client.post(reverse("planning:plan-new"), {
            "kind": "term", "label": "2026–2027 学年第一学期", "title": "心理健康教育工作计划",
            "goals": "落实四级网络周报制度", "starts_on": today.isoformat(),
            "ends_on": (today + dt.timedelta(days=90)).isoformat()})
        self.assertEqual(response.status_code, 302, response.content[:300])
        page = self.client.get(response["Location"])
        self.assertContains(page, "计划已起草")
        self.assertNotContains(self.client.get(response["Location"]), "计划已起草")
