"""What the personal channels share: the answer's outcome, bounded JSON over urllib, and a cache
of platform access tokens."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from django.conf import settings

ANSWER_LIMIT = 64 * 1024


class ProviderError(Exception):
    """The provider refused or failed. ``final``: no retry can change the answer (an unknown
    user id, a number the provider refuses), so the channel hands over to the next at once.
    ``rate_limited``: the provider asked us to slow down; retried with backoff, no hand-over.
    The text is a code, never the message or the recipient."""

    def __init__(self, text: str, *, final: bool = False, rate_limited: bool = False) -> None:
        super().__init__(text)
        self.final = final
        self.rate_limited = rate_limited


class NotConfigured(ProviderError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not configured", final=True)


def timeout() -> float:
    return float(getattr(settings, "WEBHOOK_TIMEOUT", 5.0))


def call_json(url: str, *, body: Any = None, method: str = "GET",
              headers: dict[str, str] | None = None, data: bytes | None = None) -> dict[str, Any]:
    """One HTTP exchange; the answer's JSON object. An HTTP error status with a JSON body is
    returned too (SMS providers put their error code there); without one it is raised."""
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout()) as resp:  # noqa: S310 — configured URL
            raw = resp.read(ANSWER_LIMIT)
    except urllib.error.HTTPError as exc:
        raw = exc.read(ANSWER_LIMIT)
        try:
            answer = json.loads(raw or b"")
        except ValueError:
            raise exc from None
        if not isinstance(answer, dict):
            raise exc from None
        answer.setdefault("_http_status", exc.code)
        return answer
    try:
        answer = json.loads(raw or b"")
    except ValueError:
        raise ProviderError("answer is not JSON") from None
    if not isinstance(answer, dict):
        raise ProviderError("answer is not a JSON object")
    return answer


class TokenCache:
    """Access tokens by (platform, credentials), kept until shortly before they expire."""

    MARGIN = 300  # seconds before the stated expiry a token is no longer used

    def __init__(self) -> None:
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, ...], fetch: Callable[[], tuple[str, int]]) -> str:
        with self._lock:
            held = self._tokens.get(key)
            if held and held[1] > time.monotonic():
                return held[0]
        token, expires_in = fetch()
        margin = min(self.MARGIN, max(expires_in, 0) // 5)
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(expires_in - margin, 0))
        return token

    def drop(self, key: tuple[str, ...], token: str | None = None) -> None:
        with self._lock:
            if token is None or self._tokens.get(key, ("",))[0] == token:
                self._tokens.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


tokens = TokenCache()


class RateLimiter:
    """Keeps this process under a provider's messages-per-second limit: ``wait()`` returns when
    the next message may go (a sliding window of one second per channel). A rate-limit answer
    that gets through anyway (several workers) is retried with backoff by the outbox."""

    WINDOW = 1.05  # a second, and a margin for the provider's clock and the network's jitter

    def __init__(self) -> None:
        self._sent: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def wait(self, channel: str, per_second: int) -> None:
        if per_second <= 0:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                window = [t for t in self._sent.get(channel, []) if now - t < self.WINDOW]
                if len(window) < per_second:
                    window.append(now)
                    self._sent[channel] = window
                    return
                pause = self.WINDOW - (now - window[0])
                self._sent[channel] = window
            time.sleep(max(pause, 0.001))


limiter = RateLimiter()


def rate_per_second() -> int:
    return int(getattr(settings, "PERSONAL_RATE_PER_SECOND", 20))
