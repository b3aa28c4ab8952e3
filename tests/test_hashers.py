"""The Argon2 costs are settings (xinlian/access/hashers.py): ``XINLIAN_ARGON2_*`` reach the hash,
bad values refuse to start, and a hash made with other costs (Django's own defaults included) is
re-made with the current ones at the person's next login — and only then.

The rest of the suite hashes with MD5 (tests/conftest.py); these tests switch the real hasher
on with small memory costs, so that they stay fast."""

from __future__ import annotations

import os
import subprocess
import sys

from django.contrib.auth.hashers import (
    Argon2PasswordHasher,
    check_password,
    identify_hasher,
    make_password,
)
from django.test import SimpleTestCase, TestCase, override_settings
from django.urls import reverse

from xinlian.network.models import User

OURS = "xinlian.access.hashers.Argon2Hasher"
SMALL = {"PASSWORD_HASHERS": [OURS], "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 1024, "ARGON2_PARALLELISM": 1}
OLDER = {**SMALL, "ARGON2_TIME_COST": 2, "ARGON2_MEMORY_KIB": 2048, "ARGON2_PARALLELISM": 2}
PASSWORD = "hasher-pass-2026"


def params(encoded: str) -> str:
    """``m=…,t=…,p=…`` of an ``argon2$argon2id$v=19$m=…,t=…,p=…$salt$hash`` string."""
    return encoded.split("$")[3]


def settings_in_child(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("XINLIAN_ARGON2_")}
    clean.update(env, DJANGO_SETTINGS_MODULE="xinlian.settings")
    code = ("from django.conf import settings; "
            "print(settings.ARGON2_TIME_COST, settings.ARGON2_MEMORY_KIB, settings.ARGON2_PARALLELISM, "
            "settings.PASSWORD_HASHERS[0])")
    return subprocess.run([sys.executable, "-c", code], env=clean, capture_output=True, text=True, timeout=60)


class Argon2SettingsTests(SimpleTestCase):
    def test_defaults_are_owasp_46_mib_one_pass_one_lane(self):
        result = settings_in_child({})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["1", "47104", "1", OURS])

    def test_environment_sets_the_three_costs(self):
        result = settings_in_child({"XINLIAN_ARGON2_TIME_COST": "3", "XINLIAN_ARGON2_MEMORY_KIB": "19456",
                                    "XINLIAN_ARGON2_PARALLELISM": "2"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split()[:3], ["3", "19456", "2"])

    def test_values_outside_argon2s_limits_refuse_to_start(self):
        for env in ({"XINLIAN_ARGON2_TIME_COST": "0"}, {"XINLIAN_ARGON2_PARALLELISM": "0"},
                    {"XINLIAN_ARGON2_MEMORY_KIB": "15", "XINLIAN_ARGON2_PARALLELISM": "2"}):
            with self.subTest(env=env):
                result = settings_in_child(env)
                self.assertNotEqual(result.returncode, 0)
                self.assertIn("ImproperlyConfigured", result.stderr)
                self.assertIn("XINLIAN_ARGON2_", result.stderr)

    @override_settings(**SMALL)
    def test_the_settings_reach_the_hash(self):
        encoded = make_password(PASSWORD)
        self.assertTrue(encoded.startswith("argon2$argon2id$v=19$"), encoded)
        self.assertEqual(params(encoded), "m=1024,t=1,p=1")
        self.assertTrue(check_password(PASSWORD, encoded))
        self.assertFalse(check_password(PASSWORD + "x", encoded))
        with self.settings(ARGON2_TIME_COST=2, ARGON2_MEMORY_KIB=4096, ARGON2_PARALLELISM=2):
            self.assertEqual(params(make_password(PASSWORD)), "m=4096,t=2,p=2")

    @override_settings(**SMALL)
    def test_django_argon2_hashes_are_read_by_ours_and_must_update(self):
        stock = Argon2PasswordHasher()  # Django's hard-coded t=2, m=100 MiB, p=8
        old = stock.encode(PASSWORD, stock.salt())
        self.assertEqual(params(old), "m=102400,t=2,p=8")
        hasher = identify_hasher(old)
        self.assertEqual(f"{type(hasher).__module__}.{type(hasher).__qualname__}", OURS)
        self.assertTrue(hasher.verify(PASSWORD, old))
        self.assertTrue(hasher.must_update(old))
        self.assertFalse(hasher.must_update(make_password(PASSWORD)))


class UpgradeAtLoginTests(TestCase):
    """Django's ``check_password`` re-hashes when ``must_update`` says so: at the next login."""

    def login(self, password: str = PASSWORD):
        return self.client.post(reverse("login"), {"username": "H0001", "password": password})

    def make_user(self) -> User:
        return User.objects.create_user(username="H0001", password=PASSWORD, full_name="哈希", kind="student")

    def test_a_hash_with_older_costs_is_remade_at_login(self):
        with self.settings(**OLDER):
            user = self.make_user()
        self.assertEqual(params(user.password), "m=2048,t=2,p=2")
        with self.settings(**SMALL):
            response = self.login()
            self.assertRedirects(response, reverse("home"), fetch_redirect_response=False)
            user.refresh_from_db()
            self.assertEqual(params(user.password), "m=1024,t=1,p=1")
            self.assertTrue(user.check_password(PASSWORD))
            self.assertEqual(int(self.client.session["_auth_user_id"]), user.pk)

    def test_djangos_default_costs_are_remade_at_login(self):
        user = self.make_user()
        stock = Argon2PasswordHasher()
        User.objects.filter(pk=user.pk).update(password=stock.encode(PASSWORD, stock.salt()))
        with self.settings(**SMALL):
            self.assertRedirects(self.login(), reverse("home"), fetch_redirect_response=False)
        user.refresh_from_db()
        self.assertEqual(params(user.password), "m=1024,t=1,p=1")

    def test_a_failed_login_leaves_the_old_hash(self):
        with self.settings(**OLDER):
            user = self.make_user()
        before = user.password
        with self.settings(**SMALL):
            self.assertEqual(self.login("wrong-password").status_code, 200)
        user.refresh_from_db()
        self.assertEqual(user.password, before)

    def test_a_current_hash_is_not_rewritten(self):
        with self.settings(**SMALL):
            user = self.make_user()
            before = user.password
            self.assertRedirects(self.login(), reverse("home"), fetch_redirect_response=False)
        user.refresh_from_db()
        self.assertEqual(user.password, before)

    def test_the_upgrade_keeps_the_persons_api_tokens(self):
        """A re-hash is not a password change: the tokens made with the old hash stay valid."""
        from knox.models import AuthToken

        with self.settings(**OLDER):
            user = self.make_user()
        AuthToken.objects.create(user=user)
        with self.settings(**SMALL):
            self.assertRedirects(self.login(), reverse("home"), fetch_redirect_response=False)
            user.refresh_from_db()
            self.assertEqual(params(user.password), "m=1024,t=1,p=1")
        self.assertEqual(AuthToken.objects.filter(user=user).count(), 1)
        user.set_password("another-Passw0rd!")
        user.save()
        self.assertEqual(AuthToken.objects.filter(user=user).count(), 0)
