"""``jwt`` mode: the phone token is a JWT signed by the issuer's key (DESIGN §3, §6).

Checks, in order: a well-formed compact JWS (else 401, never 5xx); ``alg``
RS256 or ES256 and equal to the key's; a ``typ`` of an access or id token
(``JWT``, RFC 9068 ``at+jwt``, or none); the signature against the issuer's
JWKS; ``iss``, ``exp``, ``nbf`` (30 s leeway); then the shared policy (claims.py):
the audience or app client id, Cognito's ``token_use``, the required scope.
"""

from __future__ import annotations

import time

from qrlogin import errors, jws
from qrlogin.phone_auth.claims import TokenPolicy, check_bearer_token, user_from_claims
from qrlogin.phone_auth.jwks import FETCH_TIMEOUT_SECONDS, JwksCache
from qrlogin.sessions import PhoneUser

ALLOWED_ALGORITHMS = ("RS256", "ES256")
# typ values of the tokens a phone app holds (lower case; RFC 9068 §2.1 allows the "application/" form).
ACCEPTED_TYPES = ("jwt", "at+jwt", "application/at+jwt")
LEEWAY_SECONDS = 30


def _parse(token: str) -> jws.Jws:
    check_bearer_token(token)
    try:  # jws.parse refuses all but three non-empty unpadded base64url parts
        return jws.parse(token)
    except jws.JwsError:
        raise errors.Unauthorized("The user token is malformed.") from None


class JwtPhoneTokenVerifier:
    def __init__(self, issuer: str, jwks_url: str, policy: TokenPolicy, timeout: float = FETCH_TIMEOUT_SECONDS,
                 jwks: JwksCache | None = None) -> None:
        if not issuer:
            raise ValueError("a jwt verifier needs an issuer")
        self.issuer = issuer
        self.policy = policy
        self.jwks = jwks or JwksCache(jwks_url, timeout)

    def verify(self, token: str) -> PhoneUser:
        parsed = _parse(token)
        header = parsed.header
        algorithm = header.get("alg")
        if algorithm not in ALLOWED_ALGORITHMS:
            raise errors.Unauthorized("The user token's algorithm is not accepted.")
        typ = header.get("typ")
        if typ is not None and (not isinstance(typ, str) or typ.lower() not in ACCEPTED_TYPES):
            raise errors.Unauthorized("The user token is not an access or id token.")
        if "crit" in header:
            raise errors.Unauthorized("The user token needs extensions we do not support.")  # RFC 7515 §4.1.11
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise errors.Unauthorized("The user token names no signing key.")
        key = self.jwks.key(kid)
        if key.algorithm_name != algorithm:
            raise errors.Unauthorized("The user token's algorithm does not match its key.")
        try:
            # The audience is the policy's: Cognito access tokens carry client_id, not aud.
            claims = jws.verified_claims(parsed, key, issuer=self.issuer, now=time.time(), leeway=LEEWAY_SECONDS,
                                         required=("exp", "iss", "sub"))
        except jws.ExpiredError:
            raise errors.Unauthorized("The user token has expired.") from None
        except jws.JwsError:
            raise errors.Unauthorized("The user token is not valid.") from None
        self.policy.check(claims)
        return user_from_claims(claims)
