"""The access-token cache and the messages-per-second limit are shared by every worker process
through the database (notify.ProviderToken, notify.RateGate), and survive a restart.

The multi-process tests start real Python processes on the test database (the
test_worker_concurrency way: on SQLite the in-memory database is copied to a file for them),
each using the real limiter, the real token cache and the real senders against the local
platform receivers (tests/personal_receivers.py)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.db import connection, connections, transaction
from django.test import TestCase, TransactionTestCase, override_settings

from xinlian.lib.crypto import decrypt
from xinlian.notify.models import ProviderToken, RateGate
from xinlian.notify.provider import ProviderError, limiter, token_key, tokens

from .personal_receivers import (
    AGENT_ID,
    CORP_ID,
    CORP_SECRET,
    KEY_ID,
    KEY_SECRET,
    SIGN_NAME,
    TEMPLATE,
    AliyunSmsServer,
    WeComServer,
)
from .test_worker_concurrency import SharedDatabase

KEY = ("test", "http://127.0.0.1:1", "corp", "secret-value")

# A worker-like process: the real limiter and senders, one JSON line of results on stdout.
CHILD = r"""
import json, sys, time, uuid
import django
django.setup()
from xinlian.network.models import User
from xinlian.notify.models import Delivery
from xinlian.notify.personal import wecom_token, send_wecom
from xinlian.notify.provider import ProviderError
from xinlian.notify.sms import send_aliyun

what, count, start_at = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
time.sleep(max(start_at - time.time(), 0))
out = {"sent": 0, "errors": [], "tokens": []}
for i in range(count):
    d = Delivery(key=uuid.uuid4(), message="m", params={"level_label": "red", "place": "2023级1班"},
                 link=f"/care/t/{i}/", recipient=User(username="x", wecom_userid="zhoufudao"))
    try:
        if what == "sms":
            send_aliyun(d, "13800000001")  # paced by PERSONAL_RATE_PER_SECOND
        elif what == "token":
            out["tokens"].append(wecom_token())
            continue
        else:
            send_wecom(d)
        out["sent"] += 1
    except ProviderError as exc:
        out["errors"].append(str(exc))
print(json.dumps(out))
"""


def max_in_any_second(times: list[float]) -> int:
    """The most arrivals in any window of one second, wherever it starts."""
    ordered, best, first = sorted(times), 0, 0
    for last, at in enumerate(ordered):
        while at - ordered[first] >= 1.0:
            first += 1
        best = max(best, last - first + 1)
    return best


def committed_rows(sql: str) -> list[tuple]:
    """Rows as the other workers read them: on PostgreSQL through a connection of their own
    (what the limiter writes there is committed at once), on SQLite through this one."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    wrapper = connections["default"]
    other = type(wrapper)(dict(wrapper.settings_dict), alias="default")
    try:
        with other.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()
    finally:
        other.close()


class SharedInDatabaseTests(TestCase):
    def setUp(self) -> None:
        tokens.clear()
        limiter.clear()
        self.addCleanup(tokens.clear)  # on PostgreSQL these rows are committed (own connection)
        self.addCleanup(limiter.clear)

    def test_the_token_is_stored_encrypted_under_a_digest_of_the_credentials(self):
        self.assertEqual(tokens.get(KEY, lambda: ("TOKEN-PLAIN-42", 7200)), "TOKEN-PLAIN-42")
        (key, stored), = committed_rows("SELECT key, token FROM notify_providertoken")
        self.assertEqual(key, token_key(KEY))
        self.assertNotIn("secret-value", key)
        self.assertNotIn("TOKEN-PLAIN-42", stored)
        self.assertTrue(stored.startswith("v1:"))
        self.assertEqual(decrypt(stored), "TOKEN-PLAIN-42")

    def test_a_cached_token_is_not_fetched_again_until_it_expires(self):
        fetched = []

        def fetch():
            fetched.append(1)
            return f"T{len(fetched)}", 7200

        self.assertEqual([tokens.get(KEY, fetch) for _ in range(3)], ["T1", "T1", "T1"])
        tokens.drop(KEY, "T0")  # not the token we hold: nothing happens
        self.assertEqual(tokens.get(KEY, fetch), "T1")
        tokens.drop(KEY, "T1")  # refused by the platform: fetched once more
        self.assertEqual(tokens.get(KEY, fetch), "T2")
        self.assertEqual((len(fetched), tokens.fetches(KEY)), (2, 2))

    def test_a_token_past_its_expiry_is_fetched_again(self):
        answers = iter([("SHORT", 0), ("LONG", 7200)])
        self.assertEqual(tokens.get(KEY, lambda: next(answers)), "SHORT")  # expires at once
        self.assertEqual(tokens.get(KEY, lambda: next(answers)), "LONG")
        self.assertEqual(tokens.fetches(KEY), 2)

    def test_a_failed_fetch_leaves_no_lease_behind(self):
        def refuse():
            raise ProviderError("wecom gettoken errcode 40001")

        with self.assertRaises(ProviderError):
            tokens.get(KEY, refuse)
        started = time.monotonic()
        self.assertEqual(tokens.get(KEY, lambda: ("AFTER", 7200)), "AFTER")
        self.assertLess(time.monotonic() - started, 1.0)  # no waiting for a dead lease

    def test_a_token_written_under_a_retired_field_key_is_fetched_again_at_once(self):
        tokens.get(KEY, lambda: ("OLD", 7200))
        retired = "old:" + base64.b64encode(bytes(range(32))).decode()
        with override_settings(FIELD_ENCRYPTION_KEYS=retired):  # the key that encrypted it is gone
            started = time.monotonic()
            self.assertEqual(tokens.get(KEY, lambda: ("NEW", 7200)), "NEW")
            self.assertLess(time.monotonic() - started, 1.0)
            self.assertEqual(tokens.get(KEY, lambda: ("NEWER", 7200)), "NEW")
        self.assertEqual(tokens.fetches(KEY), 2)

    def test_the_gate_spaces_claims_by_the_limit(self):
        instants = [limiter.claim("sms", 5) for _ in range(6)]
        gaps = [b - a for a, b in zip(instants, instants[1:], strict=False)]
        for gap in gaps:
            self.assertAlmostEqual(gap, limiter.WINDOW / 5, places=3)
        self.assertLessEqual(max_in_any_second(instants), 5)
        other = limiter.claim("wecom_app", 5)  # another channel has its own gate
        self.assertLess(other, instants[-1])
        self.assertEqual(committed_rows("SELECT count(*) FROM notify_rategate"), [(2,)])

    def test_on_postgresql_a_claim_is_committed_at_once_outside_the_senders_transaction(self):
        """The PostgreSQL worker sends while its transaction holds the delivery's row lock: the
        gate and the tokens must not wait for that transaction to end (the other workers would
        not see them, and the gate's row would stay locked through the send)."""
        with transaction.atomic():  # the sender's transaction
            at = limiter.claim("sms", 5)
            tokens.get(KEY, lambda: ("SEEN", 7200))
            if connection.vendor == "postgresql":  # seen by another worker before the commit
                (next_at,), = committed_rows("SELECT next_at FROM notify_rategate WHERE channel = 'sms'")
                self.assertAlmostEqual(next_at, at + limiter.WINDOW / 5, places=3)
                (fetches,), = committed_rows("SELECT fetches FROM notify_providertoken")
                self.assertEqual(fetches, 1)
            else:  # SQLite: the worker sends outside any transaction, on its own connection
                self.assertAlmostEqual(RateGate.objects.get(channel="sms").next_at,
                                       at + limiter.WINDOW / 5, places=3)
                self.assertEqual(ProviderToken.objects.get().token, "SEEN")

    def test_waiting_takes_as_long_as_the_limit_asks(self):
        started = time.monotonic()
        for _ in range(7):
            limiter.wait("sms", 10)
        self.assertGreaterEqual(time.monotonic() - started, 6 * limiter.WINDOW / 10 - 0.01)
        limiter.wait("sms", 0)  # no limit: no wait, no claim


class SharedAcrossProcessesTests(TransactionTestCase):
    """Real processes on the test database, started together at a given instant."""

    def setUp(self) -> None:
        tmp = tempfile.TemporaryDirectory(prefix="xinlian-provider-")
        self.addCleanup(tmp.cleanup)
        self.db = SharedDatabase(Path(tmp.name))

    def env(self, wecom: WeComServer | None = None, sms: AliyunSmsServer | None = None) -> dict[str, str]:
        env = self.db.worker_env()
        env.update(XINLIAN_WEBHOOK_TIMEOUT="5")
        if wecom is not None:
            env.update(XINLIAN_WECOM_API_URL=wecom.url, XINLIAN_WECOM_CORP_ID=CORP_ID,
                       XINLIAN_WECOM_CORP_SECRET=CORP_SECRET, XINLIAN_WECOM_AGENT_ID=AGENT_ID)
        if sms is not None:
            env.update(XINLIAN_SMS_BACKEND="aliyun", XINLIAN_SMS_API_URL=sms.url,
                       XINLIAN_SMS_ACCESS_KEY_ID=KEY_ID, XINLIAN_SMS_ACCESS_KEY_SECRET=KEY_SECRET,
                       XINLIAN_SMS_SIGN_NAME=SIGN_NAME, XINLIAN_SMS_TEMPLATE_ID=TEMPLATE)
        return env

    def run_children(self, env: dict[str, str], what: str, count: int, per_second: int = 0,
                     processes: int = 2, lead: float = 4.0) -> list[dict]:
        start_at = time.time() + lead  # after every process has set Django up
        env = {**env, "XINLIAN_PERSONAL_RATE_PER_SECOND": str(per_second)}
        procs = [subprocess.Popen([sys.executable, "-c", CHILD, what, str(count), str(start_at)],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(processes)]
        results = []
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            self.assertEqual(proc.returncode, 0, err[-2000:])
            results.append(json.loads(out.strip().splitlines()[-1]))
        return results

    def test_two_processes_in_a_burst_never_exceed_the_limit_at_the_receiver(self):
        with AliyunSmsServer() as sms, self.db.shared():
            sms.per_second = 6  # the provider refuses what goes above 6 a second
            results = self.run_children(self.env(sms=sms), "sms", 15, per_second=6, processes=2)
        self.assertEqual([r["errors"] for r in results], [[], []])  # nothing refused as too fast
        self.assertEqual(sum(r["sent"] for r in results), 30)
        self.assertEqual(len(sms.messages), 30)
        arrivals = [hit.at for hit in sms.messages]
        self.assertLessEqual(max_in_any_second(arrivals), 6)
        self.assertGreaterEqual(max(arrivals) - min(arrivals), 29 * limiter.WINDOW / 6 - 0.1)

    def test_without_the_shared_gate_two_processes_would_go_too_fast(self):
        """The control: the same burst with each process at the limit on its own is refused."""
        with AliyunSmsServer() as sms, self.db.shared():
            sms.per_second = 6
            results = self.run_children(self.env(sms=sms), "sms", 15, per_second=0, processes=2)
        self.assertTrue(any("rate limit" in e for r in results for e in r["errors"]))

    def test_a_token_fetched_by_one_process_is_used_by_the_next(self):
        with WeComServer(users=("zhoufudao",)) as wecom, self.db.shared():
            env = self.env(wecom=wecom)
            first = self.run_children(env, "token", 1, processes=1, lead=0)
            later = self.run_children(env, "token", 2, processes=2, lead=2)  # "restarted" workers
        self.assertEqual(wecom.token_requests, 1)
        self.assertEqual({t for r in first + later for t in r["tokens"]}, set(first[0]["tokens"]))

    def test_an_expired_token_is_fetched_again_once_for_all_processes(self):
        with WeComServer(users=("zhoufudao",)) as wecom, self.db.shared():
            env = self.env(wecom=wecom)
            warm = self.run_children(env, "wecom", 1, processes=1, lead=0)
            self.assertEqual((warm[0]["sent"], wecom.token_requests), (1, 1))
            wecom.expire_tokens()  # the platform now answers 42001 to the token every process holds
            results = self.run_children(env, "wecom", 3, processes=3)
        self.assertEqual([r["errors"] for r in results], [[], [], []])
        self.assertEqual(len(wecom.messages), 1 + 9)
        self.assertEqual(wecom.token_requests, 2)  # refreshed once, not once per process
        refused = [h for h in wecom.hits if h.path == "/cgi-bin/message/send"]
        self.assertLessEqual(len(refused), 10 + 3)  # at most one refusal per process
