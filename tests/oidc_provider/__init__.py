"""A real OpenID Connect provider for the tests, and the helpers that drive it.

A small Django project of its own (django-oauth-toolkit 3.x with OIDC on), run by ``serve.py`` in
a subprocess on 127.0.0.1 at a port the operating system picks, with its own SQLite in a
temporary folder, its own users and an RSA key made at start. Xinlian talks to it over HTTP
exactly as to a school's provider: discovery, authorization with PKCE, token, JWKS, userinfo.

For the answers a real provider should never give, ``POST /test/mode/`` switches how the next
ID tokens are made (``forge``: signed by another key under the real key's id; ``expire``,
``nonce``, ``issuer``, ``audience``: a wrong claim, signed by the real key; ``bare``: no
number in the token, only in userinfo; ``othersub``: and userinfo answers for another subject);
``normal`` again ends it. It is still a real HTTP exchange: nothing inside Xinlian is replaced."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "provider-pass-2026"
CLIENT_ID = "xinlian-test-client"
CLIENT_SECRET = "xinlian-test-secret-0123456789"


class Provider:
    """``with Provider(redirect_uris, users) as op:`` — started on a free port, stopped at the end."""

    def __init__(self, redirect_uris: list[str], users: list[str], *, tls: bool = False,
                 post_logout_redirect_uris: list[str] | None = None) -> None:
        self.redirect_uris = redirect_uris
        self.post_logout_redirect_uris = post_logout_redirect_uris or []
        self.users = users
        self.tls = tls
        self.ca_file = ""  # with tls: the PEM of the CA that signed the provider's certificate
        self.proc: subprocess.Popen[str] | None = None
        self.tmp: tempfile.TemporaryDirectory[str] | None = None
        self.url = ""

    @property
    def issuer(self) -> str:
        return f"{self.url}/o"

    def start(self) -> Provider:
        self.tmp = tempfile.TemporaryDirectory(prefix="xinlian-oidc-")
        env = {k: v for k, v in os.environ.items() if not k.startswith("XINLIAN_")}
        env.update({
            "DJANGO_SETTINGS_MODULE": "tests.oidc_provider.settings",
            "OIDC_TEST_DB": str(Path(self.tmp.name) / "provider.sqlite3"),
            "OIDC_TEST_SETUP": json.dumps({
                "users": self.users, "password": PASSWORD, "client_id": CLIENT_ID,
                "client_secret": CLIENT_SECRET, "redirect_uris": self.redirect_uris,
                "post_logout_redirect_uris": self.post_logout_redirect_uris,
            }),
            "PYTHONPATH": str(ROOT),
        })
        if self.tls:
            folder = Path(self.tmp.name)
            self.ca_file, env["OIDC_TEST_TLS_CERT"], env["OIDC_TEST_TLS_KEY"] = make_certificates(folder)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.oidc_provider.serve"], cwd=ROOT, env=env,
            stdout=subprocess.PIPE, stderr=open(Path(self.tmp.name) / "stderr.log", "w"),  # noqa: SIM115
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # "PORT 12345" once it listens
        if not line.startswith("PORT "):
            self.proc.wait(timeout=10)
            errors = (Path(self.tmp.name) / "stderr.log").read_text()[-2000:]
            self.stop()
            raise RuntimeError(f"the OIDC test provider did not start: {errors}")
        scheme = "https" if self.tls else "http"
        self.url = f"{scheme}://127.0.0.1:{int(line.split()[1])}"
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if self.proc.stdout is not None:
                self.proc.stdout.close()
            self.proc = None
        if self.tmp is not None:
            self.tmp.cleanup()
            self.tmp = None

    def __enter__(self) -> Provider:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def set_mode(self, mode: str) -> None:
        response = requests.post(f"{self.url}/test/mode/", data={"mode": mode}, timeout=10,
                                 verify=self.ca_file or True)
        response.raise_for_status()

    def settings(self, **more: str) -> dict[str, str]:
        """Xinlian's settings for this provider (for override_settings)."""
        values = {"OIDC_ISSUER": self.issuer, "OIDC_RP_CLIENT_ID": CLIENT_ID,
                  "OIDC_RP_CLIENT_SECRET": CLIENT_SECRET}
        values.update(more)
        return values

    def authorize(self, authorize_url: str, username: str, browser: requests.Session | None = None) -> str:
        """As a browser would: log in at the provider, then follow the authorization URL.
        Returns the URL the provider sends the browser back to (Xinlian's callback). With
        ``browser``, that browser keeps the provider's session (for the logout tests)."""
        if browser is None:
            with requests.Session() as own:
                return self.authorize(authorize_url, username, own)
        # Per call: a session's own verify loses to REQUESTS_CA_BUNDLE from the environment.
        tls = {"verify": self.ca_file or True, "timeout": 10}
        login = f"{self.url}/accounts/login/"
        page = browser.get(login, **tls)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token on the provider's login page"
        done = browser.post(login, data={"csrfmiddlewaretoken": token.group(1), "username": username,
                                         "password": PASSWORD, "next": "/"},
                            headers={"Referer": login}, allow_redirects=False, **tls)
        assert done.status_code == 302, f"provider login failed: {done.status_code}"
        return self.follow(authorize_url, browser)

    def follow(self, authorize_url: str, browser: requests.Session) -> str:
        """The authorization URL in ``browser``: where the provider sends it (its own login page
        when the browser has no session there, else back to Xinlian's callback)."""
        answer = browser.get(authorize_url, allow_redirects=False, verify=self.ca_file or True, timeout=10)
        assert answer.status_code == 302, f"provider did not redirect: {answer.status_code}"
        return urljoin(authorize_url, answer.headers["Location"])


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def make_certificates(folder: Path) -> tuple[str, str, str]:
    """A throw-away CA and a server certificate for 127.0.0.1 signed by it, as PEM files:
    (CA certificate, server certificate, server key)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Xinlian test campus CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = (folder / "ca.pem", folder / "server.pem", folder / "server.key")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return tuple(str(p) for p in paths)  # type: ignore[return-value]
