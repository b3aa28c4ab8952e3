"""A local stand-in for the group robots' servers, on 127.0.0.1 in a thread.

The first path segment chooses the answer, the second the robot kind it answers as:
``/ok/wecom/…`` succeeds, ``/500/…`` answers HTTP 500, ``/refuse/…`` answers 200 with the
kind's error body, ``/garbage/…`` answers 200 with HTML, ``/hang/…`` answers only after the
sender has given up (when the receiver is closed at the latest)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

OK = {"wecom": {"errcode": 0, "errmsg": "ok"}, "dingtalk": {"errcode": 0, "errmsg": "ok"},
      "feishu": {"code": 0, "msg": "success", "data": {}}}
REFUSED = {"wecom": {"errcode": 93000, "errmsg": "invalid webhook url"},
           "dingtalk": {"errcode": 310000, "errmsg": "sign not match"},
           "feishu": {"code": 19021, "msg": "sign match fail", "data": {}}}


@dataclass
class Received:
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: dict
    at: float = field(default_factory=time.time)

    @property
    def key(self) -> str:
        return self.headers.get("X-Xinlian-Delivery", "")


class Receiver:
    def __init__(self, delay: float = 0.0) -> None:
        self.received: list[Received] = []
        self.delay = delay
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 — http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                parts = urlsplit(self.path)
                mode, kind = (parts.path.strip("/").split("/") + ["", ""])[:2]
                with receiver.lock:
                    receiver.received.append(Received(parts.path, parse_qs(parts.query),
                                                      dict(self.headers.items()), json.loads(raw)))
                if receiver.delay:
                    time.sleep(receiver.delay)
                if mode == "hang":
                    receiver.release.wait(10)
                try:
                    if mode == "500":
                        self.send_response(500)
                        self.end_headers()
                        return
                    body = (b"<html>captive portal</html>" if mode == "garbage" else
                            json.dumps((REFUSED if mode == "refuse" else OK)[kind]).encode())
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:  # the sender gave up (timeout) or was killed
                    pass

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def url(self, mode: str, kind: str, rest: str = "send?key=test") -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/{mode}/{kind}/{rest}"

    def keys(self) -> list[str]:
        with self.lock:
            return [r.key for r in self.received]
