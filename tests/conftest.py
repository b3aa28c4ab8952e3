import os

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop


def pytest_configure(config):
    from django.conf import settings

    # Argon2 is deliberately slow; the suite checks behaviour, not hashing cost.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts in the default language: a request with Accept-Language: en leaves its
    language active in the thread (LocaleMiddleware never deactivates), which would leak into
    the next test's model strings."""
    from django.conf import settings
    from django.utils import translation

    from xinlian.screening.models import clear_local_cache

    translation.activate(settings.LANGUAGE_CODE)
    clear_local_cache()  # rule sets and thresholds cached per process: not across tests
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def _force_login_gives_the_second_step(monkeypatch):
    """``client.force_login`` is Django's test shortcut past the login form: it skips the
    password, and so it skips the second step too (xinlian/access/twofactor.py). For a person who
    must give one (the centre director, psychology teachers, case teams, superusers) it sets up a
    real authenticator and marks the session verified under django-otp's key, as the code page
    would; for anyone else it records that nothing more is needed. The enforcement itself stays
    on: a login through the form, in a test or in a browser, still meets the code page
    (tests/test_two_factor.py; browser tests use tests/twostep.py)."""
    from django.test.client import ClientMixin

    original = ClientMixin.force_login

    def force_login(self, user, backend=None):
        original(self, user, backend)
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from xinlian.access import twofactor
        from xinlian.network.models import User

        fresh = User.objects.get(pk=user.pk)  # the policy caches posts on the instance it is given
        session = self.session
        if twofactor.has_device(fresh) or twofactor.requires_second_factor(fresh):
            device = twofactor.totp_device(fresh) or TOTPDevice.objects.create(
                user=fresh, name="force_login", confirmed=True)
            twofactor.mark_session_verified(session, device)
        else:
            twofactor.mark_session_checked(session)
        session.save()

    monkeypatch.setattr(ClientMixin, "force_login", force_login)
