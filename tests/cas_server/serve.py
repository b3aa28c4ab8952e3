"""Run the test CAS server: migrate its own SQLite file, add its accounts and the service
pattern, then serve on 127.0.0.1 on a port the system picks, printed as ``port N`` on the
first line of standard output. Stopped by its parent (``tests.cas_server.CasServer``).

Accounts come as JSON in CAS_SERVER_USERS: ``{"S0001": {"password": "...", "last_name": "..."}}``
(``last_name`` is released to Xinlian as the attribute ``xh``, 学号, for the attribute tests)."""

from __future__ import annotations

import json
import os
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import django


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 — the stdlib's name
        sys.stderr.write("cas-server: " + (format % args) + "\n")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.cas_server.settings")
    django.setup()
    from cas_server.models import ReplaceAttributName, ServicePattern
    from django.contrib.auth.models import User
    from django.core.handlers.wsgi import WSGIHandler
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    for username, fields in json.loads(os.environ.get("CAS_SERVER_USERS", "{}")).items():
        User.objects.create_user(username=username, password=fields["password"],
                                 last_name=fields.get("last_name", ""))
    # Any service on this machine (the test client's "testserver" or a live server's port),
    # with single logout, releasing the account's last_name as "xh".
    pattern = ServicePattern.objects.create(
        name="xinlian", pattern=r"^https?://(testserver|127\.0\.0\.1(:\d+)?|localhost(:\d+)?)/.*$",
        single_log_out=True)
    ReplaceAttributName.objects.create(name="last_name", replace="xh", service_pattern=pattern)

    server = make_server("127.0.0.1", 0, WSGIHandler(), server_class=_Server,
                         handler_class=_QuietHandler)
    print(f"port {server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
