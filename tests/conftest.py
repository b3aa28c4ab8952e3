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
