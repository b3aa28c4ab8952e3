"""What the personal channels share: the answer's outcome, bounded JSON over urllib, a cache of
platform access tokens and a messages-per-second limit — the last two shared by every worker
process through the database."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.utils import timezone

from xinlian.lib import crypto

from .models import ProviderToken, RateGate

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


# --- shared by every worker: tokens and the rate limit live in the database -------------------
#
# Workers are separate processes (and restart after a crash), so what they must agree on is kept
# in two small tables (notify.ProviderToken, notify.RateGate) and changed only by single atomic
# statements: it works the same on SQLite and PostgreSQL and needs no other server.
#
# On PostgreSQL a delivery is sent inside the transaction that holds its row lock
# (sending._send_one_locked). A token written or a rate slot claimed inside that transaction
# would stay invisible to the other workers — and the gate's row locked — until the send is
# over, so there these statements run on a short-lived connection of their own, in autocommit.
# On SQLite the send runs outside any transaction and the worker's own connection is used.


@contextlib.contextmanager
def _shared_cursor() -> Iterator[Any]:
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        wrapper = connections[DEFAULT_DB_ALIAS]
        own = type(wrapper)(dict(wrapper.settings_dict), alias=DEFAULT_DB_ALIAS)
        try:
            with own.cursor() as cursor:
                yield own, cursor
        finally:
            own.close()
        return
    with connection.cursor() as cursor:
        yield connection, cursor


def _table(conn: Any, model: type) -> str:
    return conn.ops.quote_name(model._meta.db_table)


def _when(conn: Any, moment: dt.datetime) -> Any:
    return conn.ops.adapt_datetimefield_value(moment)


def token_key(key: tuple[str, ...]) -> str:
    """The row's key: a keyed digest (HMAC with SECRET_KEY) of the platform, its URL and the
    credentials, which are never stored."""
    return hmac.new(settings.SECRET_KEY.encode(), "\x1f".join(key).encode(), hashlib.sha256).hexdigest()


class TokenCache:
    """Access tokens by (platform, URL, credentials), shared by every worker process through
    the database and kept across restarts, until shortly before they expire. The token is
    stored encrypted (xinlian.lib.crypto). When it must be fetched, one worker claims the right
    to fetch (a lease on the row) and the others wait for its answer, so an expired token is
    fetched once, not once per worker."""

    MARGIN = 300  # seconds before the stated expiry a token is no longer used
    POLL = 0.05  # how often a waiting worker looks for the token another one is fetching

    def lease_seconds(self) -> float:
        return timeout() * 2 + 1  # the fetch's connect and read, and a margin

    def _read(self, digest: str) -> tuple[str, int] | None:
        """The valid token and its version (how many times it was fetched), or None."""
        now = timezone.now()
        with _shared_cursor() as (conn, cursor):
            cursor.execute(f"SELECT token, fetches FROM {_table(conn, ProviderToken)} "
                           "WHERE key = %s AND expires_at > %s", [digest, _when(conn, now)])
            row = cursor.fetchone()
        if row is None:
            return None
        try:
            token = crypto.decrypt(row[0])
        except crypto.DecryptionError:  # written under a field key we no longer hold
            with _shared_cursor() as (conn, cursor):
                cursor.execute(f"UPDATE {_table(conn, ProviderToken)} SET expires_at = NULL "
                               "WHERE key = %s AND fetches = %s", [digest, row[1]])
            return None  # expired now, so that one worker fetches a new one
        return (token, row[1]) if token else None

    def _claim(self, digest: str) -> bool:
        """Take the right to fetch: the row is new, or its token is gone and nobody holds a
        live lease. One statement each, so two workers can never both win."""
        now = timezone.now()
        lease = now + dt.timedelta(seconds=self.lease_seconds())
        with _shared_cursor() as (conn, cursor):
            table = _table(conn, ProviderToken)
            cursor.execute(
                f"INSERT INTO {table} (key, token, expires_at, refreshing_until, fetches, fetched_at) "
                "VALUES (%s, %s, NULL, %s, 0, NULL) ON CONFLICT (key) DO NOTHING",
                [digest, crypto.encrypt(""), _when(conn, lease)])
            if cursor.rowcount == 1:
                return True
            cursor.execute(
                f"UPDATE {table} SET refreshing_until = %s WHERE key = %s "
                "AND (refreshing_until IS NULL OR refreshing_until < %s) "
                "AND (expires_at IS NULL OR expires_at <= %s)",
                [_when(conn, lease), digest, _when(conn, now), _when(conn, now)])
            return cursor.rowcount == 1

    def _store(self, digest: str, token: str, expires_in: int) -> None:
        margin = min(self.MARGIN, max(expires_in, 0) // 5)
        now = timezone.now()
        expires = now + dt.timedelta(seconds=max(expires_in - margin, 0))
        with _shared_cursor() as (conn, cursor):
            cursor.execute(
                f"UPDATE {_table(conn, ProviderToken)} SET token = %s, expires_at = %s, "
                "refreshing_until = NULL, fetches = fetches + 1, fetched_at = %s WHERE key = %s",
                [crypto.encrypt(token), _when(conn, expires), _when(conn, now), digest])

    def _release(self, digest: str) -> None:
        with _shared_cursor() as (conn, cursor):
            cursor.execute(f"UPDATE {_table(conn, ProviderToken)} SET refreshing_until = NULL "
                           "WHERE key = %s", [digest])

    def get(self, key: tuple[str, ...], fetch: Callable[[], tuple[str, int]]) -> str:
        digest = token_key(key)
        deadline = time.monotonic() + self.lease_seconds() + 1
        while True:
            held = self._read(digest)
            if held:
                return held[0]
            if self._claim(digest) or time.monotonic() > deadline:
                break  # ours to fetch (or the fetching worker is stuck: fetch regardless)
            time.sleep(self.POLL)
        try:
            token, expires_in = fetch()
        except BaseException:
            self._release(digest)
            raise
        self._store(digest, token, expires_in)
        return token

    def drop(self, key: tuple[str, ...], token: str | None = None) -> None:
        """Forget a token the platform refused, unless another worker already replaced it."""
        digest = token_key(key)
        if token is None:
            with _shared_cursor() as (conn, cursor):
                cursor.execute(f"UPDATE {_table(conn, ProviderToken)} SET expires_at = NULL "
                               "WHERE key = %s", [digest])
            return
        held = self._read(digest)
        if held is None or held[0] != token:
            return
        with _shared_cursor() as (conn, cursor):
            cursor.execute(f"UPDATE {_table(conn, ProviderToken)} SET expires_at = NULL "
                           "WHERE key = %s AND fetches = %s", [digest, held[1]])

    def fetches(self, key: tuple[str, ...]) -> int:
        """How many times the token for ``key`` has been fetched (0: never)."""
        with _shared_cursor() as (conn, cursor):
            cursor.execute(f"SELECT fetches FROM {_table(conn, ProviderToken)} WHERE key = %s",
                           [token_key(key)])
            row = cursor.fetchone()
        return row[0] if row else 0

    def clear(self) -> None:
        with _shared_cursor() as (conn, cursor):
            cursor.execute(f"DELETE FROM {_table(conn, ProviderToken)}")


tokens = TokenCache()


class RateLimiter:
    """Keeps every worker together under a provider's messages-per-second limit: ``wait()``
    returns when the next message may go. Each message claims the next free instant of the
    channel's gate with one atomic ``UPDATE … RETURNING``; instants are ``WINDOW / limit``
    apart, so no window of a second — wherever it starts — holds more than the limit, whatever
    the number of workers. A worker killed after its claim leaves an instant unused, never one
    too many. A rate-limit answer that gets through anyway is retried with backoff by the outbox."""

    WINDOW = 1.05  # a second, and a margin for the provider's clock and the network's jitter
    LATE = 0.02  # woken later than this after its instant, a message claims another (< WINDOW - 1)
    TRIES = 10

    def claim(self, channel: str, per_second: int) -> float:
        """Reserve the channel's next free instant (seconds since the epoch)."""
        spacing = self.WINDOW / per_second
        with _shared_cursor() as (conn, cursor):
            table = _table(conn, RateGate)
            for _try in range(3):
                now = time.time()
                cursor.execute(
                    f"UPDATE {table} SET next_at = CASE WHEN next_at > %s THEN next_at ELSE %s END + %s "
                    "WHERE channel = %s RETURNING next_at", [now, now, spacing, channel])
                rows = cursor.fetchall()  # to the end: SQLite finishes the statement then
                if rows:
                    return float(rows[0][0]) - spacing
                cursor.execute(f"INSERT INTO {table} (channel, next_at) VALUES (%s, %s) "
                               "ON CONFLICT (channel) DO NOTHING", [channel, now + spacing])
                if cursor.rowcount == 1:
                    return now
        raise ProviderError("rate gate unavailable", rate_limited=True)

    def wait(self, channel: str, per_second: int) -> None:
        """Return at the message's instant. Called just before the request goes out. A worker
        that wakes up late (an overloaded machine, a slow database) would bunch its message
        with the next one's: it gives its instant up and claims another; after a few tries
        the message is left to the outbox's backoff instead of going too fast."""
        if per_second <= 0:
            return
        for _try in range(self.TRIES):
            at = self.claim(channel, per_second)
            pause = at - time.time()
            if pause > 0:
                time.sleep(pause)
            if time.time() - at <= self.LATE:
                return
        raise ProviderError(f"{channel}: no instant within the rate limit", rate_limited=True)

    def clear(self) -> None:
        with _shared_cursor() as (conn, cursor):
            cursor.execute(f"DELETE FROM {_table(conn, RateGate)}")


limiter = RateLimiter()


def rate_per_second() -> int:
    return int(getattr(settings, "PERSONAL_RATE_PER_SECOND", 20))


def pace(channel: str) -> None:
    """Wait for the channel's next instant under ``PERSONAL_RATE_PER_SECOND``: the last step
    before a message request goes out."""
    limiter.wait(channel, rate_per_second())
