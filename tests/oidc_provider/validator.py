"""The provider's claims, and the bad ID tokens the tests ask for (see __init__.py)."""

from __future__ import annotations

import json
import time

from jwcrypto import jwk, jwt
from oauth2_provider.oauth2_validators import OAuth2Validator

# How the next ID tokens are made; set by POST /test/mode/ (urls.py). One process, one mode.
MODE = {"value": "normal"}
# The forger's key: a real RSA key, but not the one the provider publishes.
FORGER = jwk.JWK.generate(kty="RSA", size=2048)


class Validator(OAuth2Validator):
    def get_additional_claims(self, request):
        return {"preferred_username": request.user.username, "name": request.user.username}

    def get_userinfo_claims(self, request):
        claims = super().get_userinfo_claims(request)
        if MODE["value"] == "othersub":
            claims["sub"] = "someone-else"
        return claims

    def finalize_id_token(self, id_token, token, token_handler, request):
        serialized = super().finalize_id_token(id_token, token, token_handler, request)
        mode = MODE["value"]
        if mode == "normal":
            return serialized
        parsed = jwt.JWT(jwt=serialized, key=request.client.jwk_key)
        header = json.loads(parsed.header)
        claims = json.loads(parsed.claims)
        key = request.client.jwk_key
        if mode == "forge":
            key = FORGER  # same header (the real kid), another key's signature
        elif mode == "expire":
            claims["iat"] = int(time.time()) - 7200
            claims["exp"] = int(time.time()) - 3600
        elif mode == "nonce":
            claims["nonce"] = "not-the-nonce-xinlian-sent"
        elif mode == "issuer":
            claims["iss"] = "https://another-provider.example"
        elif mode == "audience":
            claims["aud"] = "another-client"
        elif mode in ("bare", "othersub"):
            # No number in the token: the client must ask userinfo (which, in "othersub",
            # answers for another subject).
            claims.pop("preferred_username", None)
        bad = jwt.JWT(header=json.dumps(header), claims=json.dumps(claims))
        bad.make_signed_token(key)
        return bad.serialize()
