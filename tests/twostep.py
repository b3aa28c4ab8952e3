"""The second step in browser tests: a director, a psychology teacher or a case team member who
logs in through the form meets the code page (or, the first time, the set-up page), as they would
(xinlian/access/twofactor.py). ``pass_second_step`` answers it the way a phone app would: from the
key shown on the set-up page, or from the key of the authenticator set up earlier in the test."""

from __future__ import annotations

import time
from base64 import b32decode
from urllib.parse import urlsplit

from django_otp.oath import hotp

VERIFY_PATH = "/login/two-step/"
SETUP_PATH = "/login/two-step/setup/"


def code_at(key: bytes, step: int, digits: int = 6) -> str:
    return str(hotp(key, step, digits=digits)).zfill(digits)


def fresh_code(device) -> str:  # noqa: ANN001 — a TOTPDevice
    """A code the device accepts now: a step within its tolerance, after the last one used (a
    second login within 30 seconds needs the next step's code, as a phone would show it then)."""
    device.refresh_from_db()
    while True:
        now = (int(time.time()) - device.t0) // device.step + device.drift
        for step in range(now - device.tolerance, now + device.tolerance + 1):
            if step > device.last_t:
                return code_at(device.bin_key, step, device.digits)
        time.sleep(1)


def current_code(secret_b32: str) -> str:
    key = b32decode(secret_b32.replace(" ", ""))
    return code_at(key, int(time.time()) // 30)


def pass_second_step(page, username: str) -> None:  # noqa: ANN001 — a Playwright page
    """Call after submitting the password form; does nothing when no second step is asked."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    page.wait_for_url(lambda url: urlsplit(url).path != "/login/")  # the password was taken
    path = urlsplit(page.url).path
    if path == SETUP_PATH:
        secret = page.get_attribute("#two-step-secret", "data-secret")
        page.fill("input[name=code]", current_code(secret))
        page.click("#two-step-confirm")
        page.wait_for_selector("#recovery-codes")
        page.click("#codes-continue")
        page.wait_for_load_state()
    elif path == VERIFY_PATH:
        device = TOTPDevice.objects.get(user__username=username, confirmed=True)
        page.fill("input[name=code]", fresh_code(device))
        page.click("#two-step-submit")
        page.wait_for_load_state()
