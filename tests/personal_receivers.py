"""Local stand-ins for the platforms that reach one person, on 127.0.0.1 in a thread each.

Each follows its platform's documented request and answer formats, and checks what the real one
checks:

* :class:`WeComServer` — ``GET /cgi-bin/gettoken?corpid&corpsecret`` and
  ``POST /cgi-bin/message/send?access_token`` (errcode 40014 for an unknown token, 42001 for an
  expired one, 81013 for a user outside the application, 45009 when sending too fast).
* :class:`DingTalkServer` — ``GET /gettoken?appkey&appsecret`` and
  ``POST /topapi/message/corpconversation/asyncsend_v2?access_token`` (40014, 42001, 90018).
* :class:`AliyunSmsServer` — ``SendSms`` as an RPC GET, its HMAC-SHA1 signature recomputed from
  the query (``SignatureDoesNotMatch`` with HTTP 400 otherwise), the nonce used once, the
  timestamp within 15 minutes; ``isv.BUSINESS_LIMIT_CONTROL`` when sending too fast.
* :class:`TencentSmsServer` — ``SendSms`` as a JSON POST, the TC3-HMAC-SHA256 ``Authorization``
  recomputed (``AuthFailure.SignatureFailure`` otherwise), the timestamp within 5 minutes;
  ``LimitExceeded.PhoneNumberThirtySecondLimit`` when sending too fast.

Every server can be told to be down (HTTP 503 with an HTML page, as a gateway answers), to
answer the next requests with given bodies (``script``), to expire the tokens it issued, and to
hold a limit of messages per second (``per_second``)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import itertools
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

CORP_ID, CORP_SECRET, AGENT_ID = "ww-test-corp", "wecom-test-secret", "1000002"
APP_KEY, APP_SECRET, DING_AGENT = "ding-test-key", "ding-test-secret", "2000003"
KEY_ID, KEY_SECRET = "AKID-test", "sms-test-secret"
SMS_APP_ID, SIGN_NAME, TEMPLATE = "1400000001", "心联", "SMS_100001"


@dataclass
class Hit:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    at: float = field(default_factory=time.monotonic)


class Server:
    """The shared machinery: a threaded HTTP server and what it has been told to do."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        self.messages: list[Hit] = []  # accepted messages only
        self.token_requests = 0
        self.tokens: dict[str, float] = {}
        self.token_lifetime = 7200
        self.script: list[tuple[int, Any]] = []
        self.down = False
        self.per_second = 0
        self._window: list[float] = []
        self._counter = itertools.count(1)
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                hit = Hit(parts.path, query, dict(self.headers.items()), body)
                with server.lock:
                    server.hits.append(hit)
                    if server.down:
                        status, answer = 503, b"<html><body>502 Bad Gateway</body></html>"
                    else:
                        status, answer = server.handle(method, hit, raw)
                data = answer if isinstance(answer, bytes) else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/html" if isinstance(answer, bytes)
                                     else "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    # -- helpers for the platforms (called under the lock) ----------------------------------
    def issue_token(self) -> dict[str, Any]:
        self.token_requests += 1
        token = f"token-{next(self._counter)}"
        self.tokens[token] = time.monotonic() + self.token_lifetime
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_lifetime}

    def token_error(self, token: str) -> dict[str, Any] | None:
        if token not in self.tokens:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        if self.tokens[token] <= time.monotonic():
            return {"errcode": 42001, "errmsg": "access_token expired"}
        return None

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: 0.0 for t in self.tokens}

    def too_fast(self) -> bool:
        if not self.per_second:
            return False
        now = time.monotonic()
        self._window = [t for t in self._window if now - t < 1.0]
        if len(self._window) >= self.per_second:
            return True
        self._window.append(now)
        return False

    def scripted(self) -> tuple[int, Any] | None:
        return self.script.pop(0) if self.script else None

    def handle(self, method: str, hit: Hit, raw: bytes) -> tuple[int, Any]:
        raise NotImplementedError


class WeComServer(Server):
    def __init__(self, users: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.users = set(users)

    def handle(self, method: str, hit: Hit, raw: bytes) -> tuple[int, Any]:
        if hit.path == "/cgi-bin/gettoken" and method == "GET":
            if hit.query.get("corpid") != CORP_ID:
                return 200, {"errcode": 40013, "errmsg": "invalid corpid"}
            if hit.query.get("corpsecret") != CORP_SECRET:
                return 200, {"errcode": 40001, "errmsg": "invalid credential"}
            return 200, self.issue_token()
        if hit.path == "/cgi-bin/message/send" and method == "POST":
            error = self.token_error(hit.query.get("access_token", ""))
            if error:
                return 200, error
            scripted = self.scripted()
            if scripted:
                return scripted
            body = hit.body if isinstance(hit.body, dict) else {}
            if str(body.get("agentid")) != AGENT_ID or body.get("msgtype") not in ("text", "textcard"):
                return 200, {"errcode": 40056, "errmsg": "invalid agentid"}
            if self.too_fast():
                return 200, {"errcode": 45009, "errmsg": "api freq out of limit"}
            touser = str(body.get("touser", ""))
            if touser not in self.users:
                return 200, {"errcode": 81013, "errmsg": "user & party & tag all invalid"}
            self.messages.append(hit)
            return 200, {"errcode": 0, "errmsg": "ok", "invaliduser": "", "msgid": f"m{len(self.messages)}"}
        return 404, {"errcode": 404, "errmsg": "not found"}


class DingTalkServer(Server):
    def __init__(self, users: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.users = set(users)

    def handle(self, method: str, hit: Hit, raw: bytes) -> tuple[int, Any]:
        if hit.path == "/gettoken" and method == "GET":
            if (hit.query.get("appkey"), hit.query.get("appsecret")) != (APP_KEY, APP_SECRET):
                return 200, {"errcode": 40089, "errmsg": "不合法的corpid或corpsecret"}
            return 200, self.issue_token()
        if hit.path == "/topapi/message/corpconversation/asyncsend_v2" and method == "POST":
            error = self.token_error(hit.query.get("access_token", ""))
            if error:
                return 200, error
            scripted = self.scripted()
            if scripted:
                return scripted
            body = hit.body if isinstance(hit.body, dict) else {}
            msg = body.get("msg") or {}
            if str(body.get("agent_id")) != DING_AGENT or not isinstance(msg, dict) or "msgtype" not in msg:
                return 200, {"errcode": 400002, "errmsg": "参数错误"}
            if self.too_fast():
                return 200, {"errcode": 90018, "errmsg": "当前企业调用该接口的频率超过了限制"}
            if str(body.get("userid_list")) not in self.users:
                return 200, {"errcode": 33012, "errmsg": "无效的USERID"}
            self.messages.append(hit)
            return 200, {"errcode": 0, "errmsg": "ok", "task_id": len(self.messages), "request_id": "r1"}
        return 404, {"errcode": 404, "errmsg": "not found"}


def _rfc3986(value: str) -> str:
    return quote(value, safe="-_.~")


class AliyunSmsServer(Server):
    def __init__(self) -> None:
        super().__init__()
        self.nonces: set[str] = set()

    def handle(self, method: str, hit: Hit, raw: bytes) -> tuple[int, Any]:
        q = dict(hit.query)
        request_id = f"req-{len(self.hits)}"
        signature = q.pop("Signature", "")
        canonical = "&".join(f"{_rfc3986(k)}={_rfc3986(v)}" for k, v in sorted(q.items()))
        to_sign = f"{method}&{_rfc3986('/')}&{_rfc3986(canonical)}"
        expected = base64.b64encode(hmac.new(f"{KEY_SECRET}&".encode(), to_sign.encode(),
                                             hashlib.sha1).digest()).decode()
        if q.get("AccessKeyId") != KEY_ID:
            return 404, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found.",
                         "RequestId": request_id}
        if not hmac.compare_digest(signature, expected):
            return 400, {"Code": "SignatureDoesNotMatch", "Message": "Specified signature is not matched "
                         "with our calculation.", "RequestId": request_id}
        try:
            stamp = dt.datetime.strptime(q.get("Timestamp", ""), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return 400, {"Code": "MissingTimestamp", "Message": "Timestamp is mandatory.", "RequestId": request_id}
        if abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) > 900:
            return 400, {"Code": "InvalidTimeStamp.Expired", "Message": "expired", "RequestId": request_id}
        nonce = q.get("SignatureNonce", "")
        if not nonce or nonce in self.nonces:
            return 400, {"Code": "SignatureNonceUsed", "Message": "used", "RequestId": request_id}
        self.nonces.add(nonce)
        if (q.get("Action"), q.get("Version"), q.get("SignatureMethod")) != ("SendSms", "2017-05-25", "HMAC-SHA1"):
            return 400, {"Code": "InvalidParameter", "Message": "bad action", "RequestId": request_id}
        scripted = self.scripted()
        if scripted:
            return scripted
        if self.too_fast():
            return 200, {"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控Permits:1",
                         "RequestId": request_id}
        if q.get("SignName") != SIGN_NAME or q.get("TemplateCode") != TEMPLATE:
            return 200, {"Code": "isv.SMS_TEMPLATE_ILLEGAL", "Message": "template", "RequestId": request_id}
        self.messages.append(hit)
        return 200, {"Code": "OK", "Message": "OK", "BizId": f"biz{len(self.messages)}", "RequestId": request_id}

    @staticmethod
    def params(hit: Hit) -> dict[str, str]:
        return json.loads(hit.query["TemplateParam"])


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TencentSmsServer(Server):
    def handle(self, method: str, hit: Hit, raw: bytes) -> tuple[int, Any]:
        request_id = f"req-{len(self.hits)}"
        h = {k.lower(): v for k, v in hit.headers.items()}

        def error(code: str, message: str) -> tuple[int, Any]:
            return 200, {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": request_id}}

        auth = h.get("authorization", "")
        try:
            algorithm, rest = auth.split(" ", 1)
            fields = dict(part.strip().split("=", 1) for part in rest.split(","))
            secret_id, date, service, terminator = fields["Credential"].split("/")
        except ValueError:
            return error("AuthFailure.InvalidAuthorization", "Authorization is invalid")
        if algorithm != "TC3-HMAC-SHA256" or secret_id != KEY_ID or terminator != "tc3_request":
            return error("AuthFailure.SecretIdNotFound", "secret id")
        timestamp = int(h.get("x-tc-timestamp", "0") or 0)
        if abs(time.time() - timestamp) > 300:
            return error("AuthFailure.SignatureExpire", "signature expired")
        if dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d") != date:
            return error("AuthFailure.SignatureFailure", "date")
        signed = fields["SignedHeaders"].split(";")
        # Header names and values in lower case, trimmed (the documented canonical form).
        canonical_headers = "".join(f"{name}:{h.get(name, '').strip().lower()}\n" for name in signed)
        canonical = f"POST\n/\n\n{canonical_headers}\n{fields['SignedHeaders']}\n{_sha256_hex(raw)}"
        scope = f"{date}/{service}/tc3_request"
        to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{_sha256_hex(canonical.encode())}"
        key = f"TC3{KEY_SECRET}".encode()
        for part in (date, service, "tc3_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(fields.get("Signature", ""), expected):
            return error("AuthFailure.SignatureFailure", "The provided credentials could not be validated.")
        if (h.get("x-tc-action"), h.get("x-tc-version")) != ("SendSms", "2021-01-11"):
            return error("InvalidAction", "action")
        scripted = self.scripted()
        if scripted:
            return scripted
        body = hit.body if isinstance(hit.body, dict) else {}
        if self.too_fast():
            return 200, {"Response": {"SendStatusSet": [{"Code": "LimitExceeded.PhoneNumberThirtySecondLimit",
                                                         "Message": "limit"}], "RequestId": request_id}}
        if body.get("SmsSdkAppId") != SMS_APP_ID or body.get("TemplateId") != TEMPLATE:
            return error("FailedOperation.TemplateIncorrectOrUnapproved", "template")
        self.messages.append(hit)
        return 200, {"Response": {"SendStatusSet": [{
            "SerialNo": f"s{len(self.messages)}", "PhoneNumber": body["PhoneNumberSet"][0], "Fee": 1,
            "SessionContext": body.get("SessionContext", ""), "Code": "Ok", "Message": "send success",
            "IsoCode": "CN"}], "RequestId": request_id}}


def settings_for(wecom: Server | None = None, dingtalk: Server | None = None,
                 sms: Server | None = None, backend: str = "aliyun") -> dict[str, Any]:
    """override_settings() arguments that point Xinlian at these servers."""
    out: dict[str, Any] = {"WECOM_CORP_ID": "", "DINGTALK_APP_KEY": "", "SMS_BACKEND": "",
                           "WEBHOOK_TIMEOUT": 3}
    if wecom is not None:
        out.update(WECOM_API_URL=wecom.url, WECOM_CORP_ID=CORP_ID, WECOM_CORP_SECRET=CORP_SECRET,
                   WECOM_AGENT_ID=AGENT_ID)
    if dingtalk is not None:
        out.update(DINGTALK_API_URL=dingtalk.url, DINGTALK_APP_KEY=APP_KEY,
                   DINGTALK_APP_SECRET=APP_SECRET, DINGTALK_AGENT_ID=DING_AGENT)
    if sms is not None:
        out.update(SMS_BACKEND=backend, SMS_API_URL=sms.url, SMS_ACCESS_KEY_ID=KEY_ID,
                   SMS_ACCESS_KEY_SECRET=KEY_SECRET, SMS_SIGN_NAME=SIGN_NAME, SMS_TEMPLATE_ID=TEMPLATE,
                   SMS_SDK_APP_ID=SMS_APP_ID, SMS_REGION="")
    return out
