"""Start the test OpenID Connect provider: ``python -m tests.oidc_provider.serve``.

Makes an RSA key, migrates its own SQLite, creates the users and the client named in
OIDC_TEST_SETUP (JSON), listens on 127.0.0.1 at a port the system picks, prints ``PORT <n>``
and serves until terminated."""

from __future__ import annotations

import json
import os
import ssl
import sys
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass


def main() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    os.environ["OIDC_TEST_RSA_KEY"] = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    setup = json.loads(os.environ["OIDC_TEST_SETUP"])

    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.core.wsgi import get_wsgi_application
    from oauth2_provider.models import Application

    call_command("migrate", verbosity=0, interactive=False)
    users = get_user_model()
    for name in setup["users"]:
        users.objects.create_user(username=name, password=setup["password"])
    Application.objects.create(
        name="Xinlian", client_id=setup["client_id"], client_secret=setup["client_secret"],
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=" ".join(setup["redirect_uris"]), algorithm=Application.RS256_ALGORITHM,
        post_logout_redirect_uris=" ".join(setup.get("post_logout_redirect_uris", [])),
        skip_authorization=True,
    )
    django_app = get_wsgi_application()
    tls = bool(os.environ.get("OIDC_TEST_TLS_CERT"))

    def app(environ, start_response):
        if tls:
            environ["wsgi.url_scheme"] = "https"  # wsgiref cannot tell on its own
        return django_app(environ, start_response)

    server = make_server("127.0.0.1", 0, app, server_class=_Server, handler_class=_QuietHandler)
    if tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.environ["OIDC_TEST_TLS_CERT"], os.environ["OIDC_TEST_TLS_KEY"])
        server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_port}", flush=True)
    sys.stdout.close()
    server.serve_forever()


if __name__ == "__main__":
    main()
