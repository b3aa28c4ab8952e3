"""OpenID Connect single sign-on: the provider's answer checked, then the one mapping rule.

Built on mozilla-django-oidc (5.0.x) rather than django-allauth's OpenID Connect provider.
Both are kept up (allauth more busily); the choice is by fit. mozilla-django-oidc is one small
relying-party library with no models: it makes the state, the nonce and the PKCE pair
(S256), keeps them in the session, exchanges the code and finds the signing key in the
provider's JWKS; every step is a method to override. allauth's OIDC comes with its whole
account system: its own login and sign-up pages and middleware, and ``SocialAccount`` /
``SocialToken`` rows written at a person's first login, which is a second mapping and
something created by a login, where Xinlian wants one rule (``sso.user_for_external_id``,
nothing created) and one refusal page.

What the library leaves open is closed here: it checks the ID token's signature but not its
issuer or audience, and lets an expired token escape as an unhandled error, so
:meth:`OIDCBackend.verify_token` checks everything itself (RS256 only, the key from the JWKS,
``iss``, ``aud``/``azp``, ``exp``, ``iat``, ``nonce``). Every failure becomes
:class:`~xinlian.network.sso.Refused` with its audit row: a bad or replayed answer is
``invalid``, a provider that does not answer (or answers with a server error) is
``unavailable``.

The person is named by one claim (``XINLIAN_OIDC_CLAIM``, default ``preferred_username``),
read from the signed ID token, or from the userinfo answer when the token lacks it (its
``sub`` must then be the token's). Its value is the student or staff number.

企业微信 and 钉钉 are not OpenID Connect providers, though both log in with an OAuth 2.0
authorization code: neither returns an ID token. Each has its small adapter beside this one
(``wecom_login.py``, ``dingtalk_login.py``): the vendor's own calls instead of the token check,
then the same mapping rule."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import import_from_settings

from . import sso
from .models import User

log = logging.getLogger(__name__)

METHOD = "oidc"
DISCOVERY_SECONDS = 3600
# Clock difference tolerated between the provider and us when checking exp and iat.
LEEWAY_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Endpoints:
    issuer: str
    authorization: str
    token: str
    userinfo: str
    jwks: str


_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


def enabled() -> bool:
    """OpenID Connect is on when the issuer and the client id are set."""
    return bool(settings.OIDC_ISSUER and settings.OIDC_RP_CLIENT_ID)


def button_label() -> Any:
    return settings.OIDC_BUTTON_LABEL or _("Log in with the school account")


def _discover(issuer: str) -> dict[str, Any]:
    now = time.monotonic()
    hit = _discovered.get(issuer)
    if hit and now - hit[0] < DISCOVERY_SECONDS:
        return hit[1]
    response = requests.get(f"{issuer}/.well-known/openid-configuration",
                            timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
    response.raise_for_status()
    doc = response.json()
    if not isinstance(doc, dict) or doc.get("issuer", "").rstrip("/") != issuer:
        # A document for another issuer: the tokens' iss could never match.
        raise SuspiciousOperation("discovery document names another issuer")
    _discovered[issuer] = (now, doc)
    return doc


def endpoints(request: HttpRequest | None) -> Endpoints:
    """The provider's endpoints: those set in the settings, the rest from its discovery
    document (fetched at most once an hour). Refused ``unavailable`` when it cannot be read."""
    issuer = settings.OIDC_ISSUER.rstrip("/")
    given = {
        "authorization": settings.OIDC_OP_AUTHORIZATION_ENDPOINT,
        "token": settings.OIDC_OP_TOKEN_ENDPOINT,
        "userinfo": settings.OIDC_OP_USER_ENDPOINT,
        "jwks": settings.OIDC_OP_JWKS_ENDPOINT,
    }
    if not all(given.values()):
        try:
            doc = _discover(issuer)
        except (requests.RequestException, ValueError, SuspiciousOperation) as exc:
            log.warning("OIDC discovery at %s failed: %s", issuer, type(exc).__name__)
            raise sso.refuse(request, METHOD, "unavailable") from exc
        names = {"authorization": "authorization_endpoint", "token": "token_endpoint",
                 "userinfo": "userinfo_endpoint", "jwks": "jwks_uri"}
        given = {k: v or str(doc.get(names[k]) or "") for k, v in given.items()}
    if not (given["authorization"] and given["token"] and given["jwks"]):
        log.warning("OIDC provider %s lacks an authorization, token or JWKS endpoint", issuer)
        raise sso.refuse(request, METHOD, "unavailable")
    return Endpoints(issuer=issuer, **given)


def logout_url(request: HttpRequest, *, id_token: str, back: str) -> str | None:
    """Where to send the browser so that the provider's session ends too (OpenID Connect
    RP-initiated logout): its ``end_session_endpoint`` with the ID token of this login as
    ``id_token_hint`` (the provider then knows whose session, and need not ask) and ``back``
    as ``post_logout_redirect_uri`` (registered at the provider). None when logout there is
    switched off or the provider publishes no such endpoint, or cannot be asked: Xinlian's own
    session has ended anyway, and a logout must never fail on the provider."""
    endpoint = settings.OIDC_OP_LOGOUT_ENDPOINT
    if endpoint.lower() == "off":
        return None
    if not endpoint:
        try:
            endpoint = str(_discover(settings.OIDC_ISSUER.rstrip("/")).get("end_session_endpoint") or "")
        except (requests.RequestException, ValueError, SuspiciousOperation) as exc:
            log.warning("OIDC discovery for logout failed: %s", type(exc).__name__)
            return None
    if not endpoint:
        return None
    query = {"post_logout_redirect_uri": back, "client_id": settings.OIDC_RP_CLIENT_ID}
    if id_token:
        query["id_token_hint"] = id_token
    return f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(query)}"


class OIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's backend, with the endpoints of :func:`endpoints`, a complete ID
    token check and Xinlian's mapping. Not in AUTHENTICATION_BACKENDS: only the callback view
    (``xinlian.web.views_oidc``) calls :meth:`login_with_code`, so a password login never
    reaches it."""

    def __init__(self, ends: Endpoints) -> None:
        self.ends = ends
        self.id_token = ""
        super().__init__()

    def get_settings(self, attr: str, *args: Any) -> Any:  # type: ignore[override]
        mapped = {
            "OIDC_OP_TOKEN_ENDPOINT": self.ends.token,
            "OIDC_OP_USER_ENDPOINT": self.ends.userinfo,
            "OIDC_OP_JWKS_ENDPOINT": self.ends.jwks,
            # Only RS256 (or stronger RSA) tokens checked with the provider's published keys.
            "OIDC_RP_SIGN_ALGO": "RS256",
            "OIDC_RP_IDP_SIGN_KEY": None,
            "OIDC_ALLOW_UNSECURED_JWT": False,
        }
        if attr in mapped:
            return mapped[attr]
        return import_from_settings(attr, *args)

    def verify_token(self, token: Any, **kwargs: Any) -> dict[str, Any]:
        """The ID token's signature (the provider's JWKS key named by its kid), issuer,
        audience, times and nonce. Raises SuspiciousOperation or a jwt error when any fails."""
        if isinstance(token, bytes):
            token = token.decode("ascii")
        if not isinstance(token, str) or not token:
            raise SuspiciousOperation("no ID token")
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            raise SuspiciousOperation("ID token not signed with RS256")
        key = self.retrieve_matching_jwk(token)
        claims = jwt.decode(
            token, key, algorithms=["RS256"], audience=self.OIDC_RP_CLIENT_ID,
            issuer=self.ends.issuer, leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "sub"]},
        )
        audience = claims["aud"]
        if isinstance(audience, list) and len(audience) > 1 and claims.get("azp") != self.OIDC_RP_CLIENT_ID:
            raise SuspiciousOperation("ID token for several audiences without our azp")
        if kwargs.get("nonce") is None or claims.get("nonce") != kwargs["nonce"]:
            raise SuspiciousOperation("ID token nonce does not match")
        return claims

    def number_from(self, access_token: str, claims: dict[str, Any]) -> Any:
        """The claim that carries the number: from the ID token, else from userinfo."""
        name = settings.OIDC_NUMBER_CLAIM
        if claims.get(name) not in (None, ""):
            return claims[name]
        if not self.ends.userinfo or not access_token:
            return None
        response = requests.get(self.ends.userinfo, headers={"Authorization": f"Bearer {access_token}"},
                                timeout=settings.OIDC_TIMEOUT, verify=settings.OIDC_VERIFY_SSL)
        response.raise_for_status()
        info = response.json()
        if not isinstance(info, dict) or info.get("sub") != claims.get("sub"):
            raise SuspiciousOperation("userinfo answers for another subject")
        return info.get(name)

    def login_with_code(self, request: HttpRequest, *, code: str, redirect_uri: str,
                        nonce: str, code_verifier: str | None) -> User:
        """Exchange the code, check the ID token, map the number to a person. Returns the
        person (not yet logged in) or raises :class:`sso.Refused` with its audit row."""
        self.request = request
        payload = {
            "client_id": self.OIDC_RP_CLIENT_ID,
            "client_secret": self.OIDC_RP_CLIENT_SECRET,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
        }
        if code_verifier:
            payload["code_verifier"] = code_verifier
        try:
            answer = self.get_token(payload)
            if not isinstance(answer, dict):
                raise SuspiciousOperation("token answer is not an object")
            claims = self.verify_token(answer.get("id_token"), nonce=nonce)
            # Kept for the logout (its id_token_hint): checked just above, so it is ours.
            self.id_token = str(answer["id_token"])
            number = self.number_from(str(answer.get("access_token") or ""), claims)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            reason = "unavailable" if status >= 500 or status == 0 else "invalid"
            log.warning("OIDC provider answered HTTP %s", status)
            raise sso.refuse(request, METHOD, reason) from exc
        except requests.RequestException as exc:
            log.warning("OIDC provider unreachable: %s", type(exc).__name__)
            raise sso.refuse(request, METHOD, "unavailable") from exc
        except (jwt.PyJWTError, SuspiciousOperation, KeyError, ValueError, TypeError) as exc:
            # A forged, expired, foreign or replayed answer. The cause goes to the log (no
            # token in it); the person sees the one "invalid" message.
            log.warning("OIDC answer refused: %s: %s", type(exc).__name__, exc)
            raise sso.refuse(request, METHOD, "invalid") from exc
        return sso.user_for_external_id(request, METHOD, number)
