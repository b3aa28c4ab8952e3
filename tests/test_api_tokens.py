"""API tokens (django-rest-knox, xinlian/access/tokens.py): hashed, expiring, revocable; revoked
on password change and web logout; listed and revoked by their owner on the page /me/tokens/ and
at /api/v1/me/tokens/ — the same verbs."""

from __future__ import annotations

import datetime as dt

from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.db.models import F
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from xinlian.access.models import AuditEvent
from xinlian.network.models import User

from .base import PASSWORD, NetworkTestCase
from .test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, NO_OVERFLOW, PHONE
from .twostep import pass_second_step

LAPTOP = {"viewport": {"width": 1280, "height": 900}}

TOKEN_URL = "api:auth-token"


class TokenCase(NetworkTestCase):
    def obtain(self, number: str = "T1002", password: str = PASSWORD, **extra):
        return self.client.post(reverse(TOKEN_URL), {"username": number, "password": password}, **extra)

    def token_for(self, number: str = "T1002") -> str:
        response = self.obtain(number)
        self.assertEqual(response.status_code, 200, response.content)
        return response.json()["token"]

    def api(self, method: str, name: str, token: str | None = None, **kwargs):
        """With a token: from a client of its own (no session cookie to fall back on)."""
        url = reverse(name, kwargs=kwargs or None)
        if token is None:
            return getattr(self.client, method)(url)
        return getattr(Client(), method)(url, HTTP_AUTHORIZATION=f"Token {token}")

    def works(self, token: str) -> bool:
        status = self.api("get", "api:me", token).status_code
        self.assertIn(status, (200, 403))  # refused: 403 (session auth comes first)
        return status == 200


class ObtainTests(TokenCase):
    def test_the_token_is_stored_hashed_and_expires_after_the_setting(self):
        before = timezone.now()
        body = self.obtain().json()
        secret = body["token"]
        self.assertEqual(len(secret), 64)
        row = AuthToken.objects.get(user=self.head_teacher_a1)
        # Only a digest and knox's short lookup key are stored, never the secret.
        self.assertNotEqual(row.digest, secret)
        self.assertNotIn(secret, row.digest)
        self.assertEqual(len(row.digest), 128)
        self.assertTrue(secret.startswith(row.token_key))
        self.assertLess(len(row.token_key), 20)
        self.assertEqual(body["prefix"], secret[:8])
        self.assertEqual(body["id"], row.digest[:18])
        hours = (row.expiry - before).total_seconds() / 3600
        self.assertAlmostEqual(hours, 720, delta=0.1)
        self.assertTrue(AuditEvent.objects.filter(action="token.new", actor=self.head_teacher_a1,
                                                  object_id=body["id"]).exists())
        # The secret is never in the audit trail.
        self.assertFalse(AuditEvent.objects.filter(detail__contains=secret[:15]).exists())

    @override_settings(API_TOKEN_HOURS=2)
    def test_the_lifetime_is_a_setting(self):
        self.obtain()
        row = AuthToken.objects.get(user=self.head_teacher_a1)
        self.assertAlmostEqual((row.expiry - timezone.now()).total_seconds(), 7200, delta=60)

    def test_an_expired_token_is_refused_and_removed(self):
        token = self.token_for()
        self.assertTrue(self.works(token))
        AuthToken.objects.filter(user=self.head_teacher_a1).update(expiry=timezone.now() - dt.timedelta(seconds=1))
        self.assertEqual(self.api("get", "api:me", token).status_code, 403)
        self.assertFalse(AuthToken.objects.filter(user=self.head_teacher_a1).exists())

    def test_a_wrong_or_old_style_token_is_refused(self):
        token = self.token_for()
        self.assertEqual(self.api("get", "api:me", token[:-1] + ("0" if token[-1] != "0" else "1")).status_code, 403)
        # A DRF authtoken key (40 hex characters) no longer works: those tokens were dropped.
        self.assertEqual(self.api("get", "api:me", "a" * 40).status_code, 403)

    def test_an_inactive_user_is_refused_with_an_existing_token(self):
        token = self.token_for()
        User.objects.filter(pk=self.head_teacher_a1.pk).update(is_active=False)
        self.assertEqual(self.api("get", "api:me", token).status_code, 403)

    def test_failures_still_count_for_the_lockout_and_success_resets_them(self):
        for _ in range(3):
            self.assertEqual(self.obtain(password="wrong").status_code, 400)
        self.assertEqual(AccessAttempt.objects.get(username="T1002").failures_since_start, 3)
        self.assertEqual(self.obtain().status_code, 200)
        self.assertFalse(AccessAttempt.objects.filter(username="T1002").exists())

    @override_settings(API_TOKENS_PER_USER=2)
    def test_tokens_per_user_are_capped(self):
        self.token_for()
        self.token_for()
        response = self.obtain(HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 409)
        self.assertIn("the most allowed", response.json()["detail"])
        response = self.obtain(HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertIn("最多", response.json()["detail"])
        self.assertEqual(AuthToken.objects.filter(user=self.head_teacher_a1).count(), 2)


class RevocationTests(TokenCase):
    def test_token_logout_revokes_only_that_token(self):
        first, second = self.token_for(), self.token_for()
        response = self.api("post", "api:auth-logout", first)
        self.assertEqual(response.status_code, 204)
        self.assertFalse(self.works(first))
        self.assertTrue(self.works(second))
        self.assertEqual(AuthToken.objects.filter(user=self.head_teacher_a1).count(), 1)

    def test_token_logout_with_a_session_is_refused(self):
        self.token_for()
        self.login("head_teacher_a1")
        response = self.client.post(reverse("api:auth-logout"))
        self.assertEqual(response.status_code, 403)
        self.assertEqual(AuthToken.objects.filter(user=self.head_teacher_a1).count(), 1)

    def test_set_password_revokes_every_token_of_that_user_only(self):
        mine, mine2, other = self.token_for(), self.token_for(), self.token_for("T1001")
        user = User.objects.get(pk=self.head_teacher_a1.pk)
        user.set_password("a-new-password-2026")
        user.save()
        self.assertFalse(self.works(mine))
        self.assertFalse(self.works(mine2))
        self.assertTrue(self.works(other))
        self.assertTrue(AuditEvent.objects.filter(action="token.revoke_all", actor=self.head_teacher_a1,
                                                  detail__contains="password changed").exists())

    def test_password_change_form_and_a_raw_hash_write_revoke_tokens(self):
        token = self.token_for()
        user = User.objects.get(pk=self.head_teacher_a1.pk)
        form = PasswordChangeForm(user, {"old_password": PASSWORD, "new_password1": "Another-pass-2026!",
                                         "new_password2": "Another-pass-2026!"})
        self.assertTrue(form.is_valid(), form.errors)
        form.save()
        self.assertFalse(self.works(token))
        self.assertEqual(self.obtain().status_code, 400)  # the old password no longer works
        response = self.obtain(password="Another-pass-2026!")
        token = response.json()["token"]
        self.assertTrue(self.works(token))
        # A hash written without set_password (e.g. an update of the field) is seen too.
        user = User.objects.get(pk=self.head_teacher_a1.pk)
        user.password = "pbkdf2_sha256$1$x$y"
        user.save(update_fields=["password"])
        self.assertFalse(self.works(token))

    def test_saving_other_fields_keeps_tokens(self):
        token = self.token_for()
        user = User.objects.get(pk=self.head_teacher_a1.pk)
        user.full_name = "吴老师2"
        user.save()
        user.save(update_fields=["last_login"])
        self.assertTrue(self.works(token))

    def test_web_logout_revokes_every_token(self):
        mine, other = self.token_for(), self.token_for("T1001")
        self.login("head_teacher_a1")
        self.assertEqual(self.client.post(reverse("logout")).status_code, 302)
        self.assertFalse(self.works(mine))
        self.assertTrue(self.works(other))


class MyTokensApiTests(TokenCase):
    def test_list_shows_prefixes_and_dates_never_secrets(self):
        first, second = self.token_for(), self.token_for()
        self.token_for("T1001")  # someone else's: never listed
        response = self.api("get", "api:my-tokens", second)
        self.assertEqual(response.status_code, 200)
        rows = response.json()
        self.assertEqual(sorted(r["prefix"] for r in rows), sorted([first[:8], second[:8]]))
        self.assertEqual([r["current"] for r in rows if r["prefix"] == second[:8]], [True])
        text = response.content.decode()
        for secret in (first, second):
            self.assertNotIn(secret[8:], text)
        for row in AuthToken.objects.filter(user=self.head_teacher_a1):
            self.assertNotIn(row.digest, text)
        self.assertTrue(all(r["expiry"] and r["created"] for r in rows))

    def test_revoke_one_by_its_id(self):
        first, second = self.token_for(), self.token_for()
        rows = self.api("get", "api:my-tokens", second).json()
        target = next(r["id"] for r in rows if r["prefix"] == first[:8])
        self.assertEqual(self.api("delete", "api:my-token", second, token_id=target).status_code, 204)
        self.assertFalse(self.works(first))
        self.assertTrue(self.works(second))
        # Again: it is gone.
        self.assertEqual(self.api("delete", "api:my-token", second, token_id=target).status_code, 404)
        self.assertTrue(AuditEvent.objects.filter(action="token.revoke", object_id=target).exists())

    def test_someone_elses_token_is_missing(self):
        mine, theirs = self.token_for(), self.token_for("T1001")
        their_id = AuthToken.objects.get(user=self.counsellor_a).digest[:18]
        response = self.api("delete", "api:my-token", mine, token_id=their_id)
        self.assertEqual(response.status_code, 404)
        self.assertTrue(self.works(theirs))

    def test_revoke_all(self):
        first, second = self.token_for(), self.token_for()
        response = self.api("delete", "api:my-tokens", first)
        self.assertEqual((response.status_code, response.json()), (200, {"revoked": 2}))
        self.assertFalse(self.works(first))
        self.assertFalse(self.works(second))

    def test_a_token_cannot_mint_another_but_a_web_login_can(self):
        token = self.token_for()
        response = self.api("post", "api:my-tokens", token)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(AuthToken.objects.filter(user=self.head_teacher_a1).count(), 1)
        self.login("head_teacher_a1")
        response = self.client.post(reverse("api:my-tokens"))
        self.assertEqual(response.status_code, 201)
        self.assertTrue(self.works(response.json()["token"]))

    def test_anonymous_is_refused(self):
        self.assertEqual(self.client.get(reverse("api:my-tokens")).status_code, 403)
        self.assertEqual(self.client.post(reverse("api:auth-logout")).status_code, 403)


class MyTokensPageTests(TokenCase):
    def test_make_a_token_shown_once(self):
        self.login("head_teacher_a1")
        response = self.client.post(reverse("my-tokens"))
        self.assertEqual(response.status_code, 201)
        self.assertIn("no-store", response.get("Cache-Control", ""))
        secret = response.context["new"]["secret"]
        self.assertContains(response, secret, status_code=201)
        self.assertContains(response, "只显示这一次", status_code=201)
        page = self.client.get(reverse("my-tokens"))
        self.assertNotContains(page, secret)
        self.assertContains(page, secret[:8] + "…")
        self.client.logout()  # the web logout: the token is revoked with the session
        self.assertFalse(self.works(secret))

    def test_the_page_lists_and_revokes_what_the_api_made(self):
        """Parity: the page and the API are the same verbs over the same tokens."""
        a, b, c = self.token_for(), self.token_for(), self.token_for()
        self.login("head_teacher_a1")
        page = self.client.get(reverse("my-tokens"))
        api_rows = self.api("get", "api:my-tokens", a).json()
        page_ids = [row.id for row in page.context["rows"]]
        self.assertEqual(page_ids, [r["id"] for r in api_rows])
        for secret in (a, b, c):
            self.assertContains(page, secret[:8])
        # Revoke one on the page: the API no longer lists it and it no longer works.
        target = next(r["id"] for r in api_rows if r["prefix"] == a[:8])
        response = self.client.post(reverse("my-token-revoke", kwargs={"token_id": target}))
        self.assertRedirects(response, reverse("my-tokens"))
        self.assertFalse(self.works(a))
        self.assertNotIn(target, [r["id"] for r in self.api("get", "api:my-tokens", b).json()])
        # Revoke one through the API: the page no longer lists it.
        target_b = next(r["id"] for r in api_rows if r["prefix"] == b[:8])
        self.assertEqual(self.api("delete", "api:my-token", c, token_id=target_b).status_code, 204)
        self.assertNotIn(target_b, [row.id for row in self.client.get(reverse("my-tokens")).context["rows"]])
        # Revoke all on the page.
        response = self.client.post(reverse("my-tokens-revoke-all"), follow=True)
        self.assertContains(response, "no-tokens")
        self.assertFalse(self.works(c))

    def test_someone_elses_or_unknown_token_on_the_page_is_404(self):
        theirs = self.token_for("T1001")
        their_id = AuthToken.objects.get(user=self.counsellor_a).digest[:18]
        self.login("head_teacher_a1")
        response = self.client.post(reverse("my-token-revoke", kwargs={"token_id": their_id}),
                                    HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 404)
        self.assertContains(response, "No such API token.", status_code=404)
        self.assertTrue(self.works(theirs))
        self.assertEqual(self.client.post("/me/tokens/not-hex/revoke/").status_code, 404)

    @override_settings(API_TOKENS_PER_USER=1)
    def test_the_cap_is_a_message_on_the_page(self):
        self.token_for()
        self.login("head_teacher_a1")
        response = self.client.post(reverse("my-tokens"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertEqual(response.status_code, 409)
        self.assertContains(response, "revoke one you no longer use first", status_code=409)
        self.assertEqual(AuthToken.objects.filter(user=self.head_teacher_a1).count(), 1)

    def test_anonymous_goes_to_the_login(self):
        response = self.client.get(reverse("my-tokens"))
        self.assertEqual(response.status_code, 302)
        self.assertIn(reverse("login"), response["Location"])


class BackOfficeTokenTests(TokenCase):
    """An administrator lists and revokes tokens, but cannot mint one for somebody else (knox's
    own admin would, and show it on screen: acting as another person past the audit trail)."""

    def test_listed_and_revoked_never_added(self):
        token = self.token_for()
        root = User.objects.create_superuser(username="root", password=PASSWORD, full_name="管理员")
        self.client.force_login(root)
        listing = self.client.get("/admin/access/apitoken/")
        self.assertEqual(listing.status_code, 200)
        self.assertIn(token[:8], listing.content.decode())
        self.assertNotIn(token, listing.content.decode())
        self.assertEqual(self.client.get("/admin/access/apitoken/add/").status_code, 403)
        self.assertEqual(self.client.get("/admin/knox/authtoken/add/").status_code, 404)
        row = AuthToken.objects.get()
        response = self.client.post(f"/admin/access/apitoken/{row.pk}/delete/", {"post": "yes"})
        self.assertEqual(response.status_code, 302)
        self.assertFalse(self.works(token))


class TokensInTheBrowserTests(StaticLiveServerTestCase):
    """The page on a laptop and a phone: make a token, see it once, revoke it; and the address
    lockout page on a phone. Debian's chromium; never downloads a browser."""

    def setUp(self) -> None:
        NetworkTestCase.setUpTestData.__func__(type(self))  # type: ignore[attr-defined]
        ARTIFACTS.mkdir(exist_ok=True)

    def shot(self, page, name: str) -> None:
        page.screenshot(path=str(ARTIFACTS / f"tokens-{name}.png"), full_page=True)

    def login(self, browser, device: dict, number: str = "T1002"):
        page = browser.new_context(**device, locale="zh-CN").new_page()
        page.goto(f"{self.live_server_url}/login/?next=/me/tokens/")
        page.fill("input[name=username]", number)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit].btn-primary")
        pass_second_step(page, number)
        page.wait_for_url(f"{self.live_server_url}/me/tokens/")
        return page

    @override_settings(LOGIN_IP_SLOW_AFTER=2, LOGIN_IP_FAILURE_LIMIT=3)
    def test_make_see_once_revoke_and_the_address_lockout(self) -> None:
        self.assertTrue(CHROMIUM.exists(), "/usr/bin/chromium is missing (apt-get install chromium)")
        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                for label, device in (("laptop", LAPTOP), ("phone", PHONE)):
                    page = self.login(browser, device)
                    self.assertIn("你还没有 API 令牌", page.inner_text("#my-tokens"))
                    page.click("#make-token")
                    secret = page.input_value("#new-secret")
                    self.assertEqual(len(secret), 64)
                    self.assertIn("只显示这一次", page.inner_text("#new-token"))
                    self.assertTrue(page.evaluate(NO_OVERFLOW), label)
                    self.shot(page, f"new-{label}")
                    page.goto(f"{self.live_server_url}/me/tokens/")
                    self.assertEqual(page.locator("#new-token").count(), 0)  # shown once
                    self.assertIn(secret[:8], page.inner_text("#token-list"))
                    self.shot(page, f"list-{label}")
                    page.click("#token-list button[type=submit]")
                    page.wait_for_selector("#no-tokens")
                    self.assertFalse(AuthToken.objects.exists())
                    page.context.close()
                # One address failing across accounts: slowed, then blocked, in both languages.
                page = browser.new_context(**PHONE, locale="zh-CN").new_page()
                for number in ("T1001", "T1003", "T1004"):
                    page.goto(f"{self.live_server_url}/login/")
                    page.fill("input[name=username]", number)
                    page.fill("input[name=password]", "wrong")
                    page.click("button[type=submit].btn-primary")
                    AccessFailureLog.objects.update(attempt_time=F("attempt_time") - dt.timedelta(seconds=31))
                page.goto(f"{self.live_server_url}/login/")
                page.fill("input[name=username]", "T1005")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit].btn-primary")
                page.wait_for_selector("#address-lockout")
                text = page.inner_text("main")
                self.assertIn("此网络地址的登录已暂时被封禁", text)
                self.assertIn("Logins from this network address are blocked for a while", text)
                self.assertTrue(page.evaluate(NO_OVERFLOW))
                self.shot(page, "address-blocked-phone")
            finally:
                browser.close()
