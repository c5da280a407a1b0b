"""A local token issuer for the tests: key pairs, their JWKS (as a document or a file) and
tokens, signed like an OIDC provider's access tokens.

Tokens are long-lived (they expire in 2100, issued in 2023) so no test depends on the wall
clock; expiry is tested against the verifier's injected clock.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from fastapi import APIRouter, FastAPI
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

from shared.runtime.auth import (
    ALL_SCOPES,
    Authenticator,
    AuthSettings,
    StaticKeys,
    TokenVerifier,
    install,
)

ISSUER: Final = "https://issuer.planwatch.test/realms/city"
AUDIENCE: Final = "planwatch"
ISSUED_AT: Final = 1_700_000_000  # 2023-11-14
EXPIRES_AT: Final = 4_102_444_800  # 2100-01-01

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey


def _new_key(algorithm: str) -> PrivateKey:
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    raise ValueError(f"no test keys for {algorithm}")


def public_jwk(key: PrivateKey, kid: str, algorithm: str) -> dict[str, Any]:
    public = key.public_key()
    jwk: dict[str, Any]
    if isinstance(public, ec.EllipticCurvePublicKey):
        jwk = ECAlgorithm.to_jwk(public, as_dict=True)
    elif isinstance(public, rsa.RSAPublicKey):
        jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
    else:
        jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
    return {**jwk, "kid": kid, "alg": algorithm, "use": "sig"}


@dataclass
class LocalIssuer:
    issuer: str = ISSUER
    audience: str = AUDIENCE
    algorithm: str = "ES256"
    keys: dict[str, tuple[PrivateKey, str]] = field(default_factory=dict)
    current: str = ""

    def __post_init__(self) -> None:
        if not self.keys:
            self.rotate()

    def rotate(self, algorithm: str | None = None) -> str:
        """A new signing key (the old ones stay in the JWKS); its kid."""
        algorithm = algorithm or self.algorithm
        kid = f"test-{uuid.uuid4().hex[:12]}"
        self.keys[kid] = (_new_key(algorithm), algorithm)
        self.current = kid
        return kid

    def jwks(self) -> dict[str, Any]:
        return {"keys": [public_jwk(key, kid, alg) for kid, (key, alg) in self.keys.items()]}

    def write_jwks(self, path: Path) -> Path:
        path.write_text(json.dumps(self.jwks()), encoding="utf-8")
        return path

    def mint(
        self,
        sub: str = "tester",
        scopes: Iterable[str] = (),
        *,
        agency: str | None = None,
        kid: str | None = None,
        claims: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
    ) -> str:
        """A signed token; `claims` override the defaults (iss, aud, exp, iat ...), `drop`
        removes some."""
        kid = kid or self.current
        key, algorithm = self.keys[kid]
        payload: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": ISSUED_AT,
            "exp": EXPIRES_AT,
            "scope": " ".join(sorted(scopes)),
        }
        if agency is not None:
            payload["agency"] = agency
        payload.update(claims or {})
        for name in drop:
            payload.pop(name, None)
        return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid})

    def headers(
        self, *scopes: str, sub: str = "tester", agency: str | None = None
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.mint(sub, scopes, agency=agency)}"}

    def admin_headers(self, sub: str = "admin") -> dict[str, str]:
        """Every scope, no agency (administration, reads, silences)."""
        return self.headers(*ALL_SCOPES, sub=sub)

    def env(self, jwks_file: Path) -> dict[str, str]:
        """The services' environment trusting this issuer (the JWKS written to `jwks_file`)."""
        self.write_jwks(jwks_file)
        return {
            "PLANWATCH_AUTH_MODE": "jwt",
            "PLANWATCH_AUTH_ISSUER": self.issuer,
            "PLANWATCH_AUTH_AUDIENCE": self.audience,
            "PLANWATCH_AUTH_JWKS_FILE": str(jwks_file),
        }

    def settings(self, jwks_file: Path) -> AuthSettings:
        self.write_jwks(jwks_file)
        return AuthSettings(
            mode="jwt", issuer=self.issuer, audience=self.audience, jwks_file=jwks_file
        )

    def verifier(self, *, now: float = ISSUED_AT + 60, leeway_s: float = 30.0) -> TokenVerifier:
        """A verifier of this issuer's tokens whose clock stands still at `now`."""
        return TokenVerifier(
            StaticKeys(self.jwks()),
            issuer=self.issuer,
            audience=self.audience,
            leeway_s=leeway_s,
            clock=lambda: now,
        )

    def authenticator(self) -> Authenticator:
        return Authenticator(self.verifier())

    @asynccontextmanager
    async def client(
        self, router: APIRouter, *scopes: str, base_url: str = "http://scoring"
    ) -> AsyncIterator[httpx.AsyncClient]:
        """`router` in an app that trusts this issuer, and an in-process client of it whose
        token has `scopes`."""
        app = FastAPI()
        install(app, self.authenticator())
        app.include_router(router)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=base_url, headers=self.headers(*scopes)
        ) as client:
            yield client
