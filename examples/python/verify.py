"""Verifies a Tessera access token in Python with PyJWT (pip install "pyjwt[crypto]").

    TESSERA_ISSUER=http://127.0.0.1:8080 API_AUDIENCE=my-app ACCESS_TOKEN=eyJ... python3 verify.py

Prints the subject and scope and exits 0 for a valid token; prints why and exits 1 otherwise.
"""

import json
import os
import sys
import urllib.request

import jwt

ISSUER = os.environ["TESSERA_ISSUER"]
AUDIENCE = os.environ["API_AUDIENCE"]

# Once at start-up: the JWKS URL from discovery. PyJWKClient caches the key set and fetches
# it again when a token names a kid it does not hold.
with urllib.request.urlopen(f"{ISSUER}/.well-known/openid-configuration", timeout=10) as r:
    JWKS_URI = json.load(r)["jwks_uri"]
jwks_client = jwt.PyJWKClient(JWKS_URI, cache_keys=True, lifespan=300)


def verify_access_token(token: str) -> dict:
    """Answers the claims of a valid access token; raises jwt.InvalidTokenError otherwise."""
    typ = jwt.get_unverified_header(token).get("typ", "")
    if typ.lower() not in ("at+jwt", "application/at+jwt"):  # RFC 9068: not an ID token
        raise jwt.InvalidTokenError(f"not an access token (typ {typ!r})")
    signing_key = jwks_client.get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=["RS256"],
        audience=AUDIENCE,
        issuer=ISSUER,
        leeway=60,
        options={"require": ["exp", "iat", "iss", "aud", "sub"]},
    )


if __name__ == "__main__":
    try:
        claims = verify_access_token(os.environ["ACCESS_TOKEN"])
    except jwt.PyJWTError as e:
        print(f"refused: {type(e).__name__}: {e}")
        sys.exit(1)
    scopes = [s for s in claims.get("scope", "").split(" ") if s]
    print(f"valid: sub={claims['sub']} client_id={claims['client_id']} scope={','.join(scopes)}")
