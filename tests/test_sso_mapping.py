"""The one mapping rule every single sign-on way in shares (xinlian/network/sso.py)."""

from __future__ import annotations

from django.test import RequestFactory, override_settings
from django.urls import reverse

from xinlian.access.models import AuditEvent, AuditResult
from xinlian.network.models import StudentStatus, User
from xinlian.network.sso import Refused, logged_in, user_for_external_id
from xinlian.web.views_sso import refused

from .base import NetworkTestCase


class MappingTests(NetworkTestCase):
    def setUp(self) -> None:
        self.request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3")

    def test_number_maps_to_the_person(self) -> None:
        user = user_for_external_id(self.request, "cas", "  S0001 ")
        self.assertEqual(user.pk, self.student_a1.user_id)

    def test_unknown_id_is_refused_audited_and_creates_nobody(self) -> None:
        people = User.objects.count()
        with self.assertRaises(Refused) as got:
            user_for_external_id(self.request, "oidc", "NOBODY-42")
        self.assertEqual(got.exception.reason, "unknown")
        self.assertEqual(User.objects.count(), people)
        row = AuditEvent.objects.get(action="identity.sso_refused")
        self.assertIsNone(row.actor_id)
        self.assertEqual((row.result, row.object_id, row.ip), (AuditResult.DENIED, "oidc", "10.1.2.3"))
        self.assertIn("reason=unknown;id=NOBODY-42", row.detail)

    def test_disabled_and_graduated_are_refused_with_their_actor(self) -> None:
        User.objects.filter(pk=self.student_b1.user_id).update(is_active=False)
        with self.assertRaises(Refused) as got:
            user_for_external_id(self.request, "cas", "S0005")
        self.assertEqual(got.exception.reason, "disabled")
        type(self.student_a2).objects.filter(pk=self.student_a2.pk).update(status=StudentStatus.GRADUATED)
        with self.assertRaises(Refused) as got:
            user_for_external_id(self.request, "ldap", "S0004")
        self.assertEqual(got.exception.reason, "graduated")
        actors = set(AuditEvent.objects.filter(action="identity.sso_refused").values_list("actor_id", flat=True))
        self.assertEqual(actors, {self.student_b1.user_id, self.student_a2.user_id})

    def test_empty_id_is_invalid(self) -> None:
        with self.assertRaises(Refused) as got:
            user_for_external_id(self.request, "cas", "   ")
        self.assertEqual(got.exception.reason, "invalid")

    def test_success_row(self) -> None:
        user = user_for_external_id(self.request, "cas", "S0001")
        self.assertFalse(AuditEvent.objects.filter(action="identity.sso_login").exists())
        logged_in(self.request, "cas", user)
        row = AuditEvent.objects.get(action="identity.sso_login")
        self.assertEqual((row.actor_id, row.detail), (user.pk, "method=cas"))

    def test_only_a_denied_row_may_lack_an_actor(self) -> None:
        from xinlian.access.models import IncompleteAuditRow
        with self.assertRaises(IncompleteAuditRow):
            AuditEvent.objects.record(actor=None, anonymous=True, action="x", object_type="t",
                                      object_id="1", result=AuditResult.ALLOWED)
        with self.assertRaises(IncompleteAuditRow):
            AuditEvent.objects.record(actor=None, action="x", object_type="t", object_id="1",
                                      result=AuditResult.DENIED)


class RefusalPageTests(NetworkTestCase):
    def _page(self, reason: str, lang: str):
        request = RequestFactory().get("/", HTTP_ACCEPT_LANGUAGE=lang)
        from django.utils import translation
        with translation.override(lang):
            return refused(request, Refused(reason, "cas"))

    def test_page_in_both_languages(self) -> None:
        zh = self._page("unknown", "zh-hans")
        self.assertEqual(zh.status_code, 403)
        self.assertIn("心联的名单中没有这个账号", zh.content.decode())
        self.assertIn("校园统一身份认证", zh.content.decode())
        en = self._page("unavailable", "en")
        self.assertEqual(en.status_code, 503)
        self.assertIn("cannot be reached", en.content.decode())

    @override_settings(LANGUAGE_CODE="zh-hans")
    def test_login_page_without_sso_has_no_buttons(self) -> None:
        page = self.client.get(reverse("login")).content.decode()
        self.assertNotIn("或使用心联密码登录", page)

    @override_settings(LANGUAGE_CODE="zh-hans", CAS_SERVER_URL="https://cas.example.edu.cn/cas/")
    def test_the_password_form_says_whose_password_it_takes(self) -> None:
        page = self.client.get(reverse("login")).content.decode()
        self.assertIn("或使用心联密码登录", page)
        with self.settings(LDAP_URL="ldaps://ldap.example.edu.cn"):
            page = self.client.get(reverse("login")).content.decode()
        self.assertIn("或使用学校账号的密码登录", page)
        self.assertNotIn("或使用心联密码登录", page)
