"""An identity on every HTTP call: OAuth 2.0 bearer tokens (OIDC access tokens, JWT) checked
against the issuer's JWKS, and scopes.

Every service's main port serves only routes that depend on `require(scope, ...)`: the
request's token is taken from `Authorization: Bearer ...` (or `X-Forwarded-Access-Token`,
which oauth2-proxy sets in front of the dashboard), its signature is checked with the issuer's
key named by its `kid` (keys fetched from `PLANWATCH_AUTH_JWKS_URL` and cached, fetched again
on an unknown kid: rotation; or read from `PLANWATCH_AUTH_JWKS_FILE`, offline), only with an
algorithm of the allow-list (RS256, ES256, EdDSA: never `none`, never HMAC), then its issuer,
audience, expiry and not-before (with a small leeway, against an injected clock) and subject.
A missing or invalid token is 401 with `WWW-Authenticate: Bearer`; a valid token without the
route's scope is 403. The token is never echoed nor logged.

`PLANWATCH_AUTH_MODE=dev` turns authentication off for the local demo: every request is the
principal `dev` with every scope. It logs a loud warning at start and refuses to start on a
listen address that is not loopback.

The pure part (claims -> principal, scopes, the agency-source rule) is plain functions.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, Protocol

import jwt
from fastapi import FastAPI, HTTPException, Request
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.runtime.logging import get_logger

log = get_logger("planwatch.auth")

# The scopes (the token's `scope` claim, space-separated, or `scp`, a list).
PLANS_READ: Final = "plans:read"  # scoring's read API and the dashboard's API calls
EVENTS_WRITE: Final = "events:write"  # ingest's HTTP door (with the `agency` claim)
SILENCES_READ: Final = "silences:read"  # notify: list silences, disabled integrations
SILENCES_WRITE: Final = "silences:write"  # notify: create, expire silences; enable integrations
ALERTS_ACK: Final = "alerts:ack"  # notify: acknowledge an alert (as oneself), list acks
KEYS_ADMIN: Final = "keys:admin"  # ingest: the agency key registry
REPORTS_SEND: Final = "reports:send"  # notify: mail a report to a receiver's e-mail recipients
ALL_SCOPES: Final = frozenset(
    {PLANS_READ, EVENTS_WRITE, SILENCES_READ, SILENCES_WRITE, ALERTS_ACK, KEYS_ADMIN, REPORTS_SEND}
)

# Asymmetric algorithms only: a public key can never be used as an HMAC secret, and `none` is
# never accepted.
ALLOWED_ALGORITHMS: Final = frozenset({"RS256", "ES256", "EdDSA"})
FORWARDED_TOKEN_HEADER: Final = "x-forwarded-access-token"
DEV_SUBJECT: Final = "dev (no authentication)"


class AuthMode(StrEnum):
    JWT = "jwt"
    DEV = "dev"


class AuthSettings(BaseSettings):
    """`PLANWATCH_AUTH_*`: the token issuer every service trusts."""

    model_config = SettingsConfigDict(env_prefix="PLANWATCH_AUTH_", extra="ignore")

    mode: AuthMode = AuthMode.JWT
    issuer: str = ""  # the `iss` claim required, e.g. https://login.example.org/realms/city
    audience: str = ""  # the `aud` claim required, e.g. planwatch
    jwks_url: str = ""  # the issuer's JWKS (`jwks_uri` of its OIDC discovery document)
    jwks_file: Path | None = None  # or a JWKS file (offline, tests), re-read on an unknown kid
    algorithms: list[str] = Field(default_factory=lambda: sorted(ALLOWED_ALGORITHMS))
    leeway_s: float = Field(30.0, ge=0, le=300)  # clock skew allowed on exp / nbf / iat
    jwks_cache_s: float = Field(300.0, gt=0)  # how long fetched keys are trusted before refetch
    jwks_timeout_s: float = Field(5.0, gt=0)
    agency_claim: str = "agency"  # the claim naming the agency an `events:write` token posts for

    @field_validator("algorithms")
    @classmethod
    def _only_allowed(cls, value: list[str]) -> list[str]:
        refused = sorted(set(value) - ALLOWED_ALGORITHMS)
        if refused or not value:
            raise ValueError(
                f"algorithms must be a non-empty subset of {sorted(ALLOWED_ALGORITHMS)}; "
                f"refused: {refused}"
            )
        return value


class AuthConfigError(ValueError):
    """The auth settings cannot make a safe authenticator (the service refuses to start)."""


class AuthError(Exception):
    """The request is not authenticated (401). The reason never quotes the token."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class KeysUnavailableError(Exception):
    """The issuer's keys could not be fetched (503: the caller may retry)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who calls: the token's subject, its scopes and (for event posters) its agency."""

    subject: str
    scopes: frozenset[str]
    agency: str | None = None
    any_agency: bool = False  # dev mode only: may post for every agency

    def has_any(self, scopes: Iterable[str]) -> bool:
        wanted = frozenset(scopes)
        return not wanted or bool(wanted & self.scopes)


DEV_PRINCIPAL: Final = Principal(DEV_SUBJECT, ALL_SCOPES, any_agency=True)


# -- the pure part ----------------------------------------------------------------------------


def scopes_of(claims: Mapping[str, Any]) -> frozenset[str]:
    """OAuth's `scope` (space-separated string) and `scp` (a list, or a string) together."""
    found: set[str] = set()
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            found.update(value.split())
        elif isinstance(value, list):
            found.update(item for item in value if isinstance(item, str))
    return frozenset(found)


def principal_from_claims(claims: Mapping[str, Any], agency_claim: str = "agency") -> Principal:
    """The principal of verified claims; AuthError when `sub` or the agency claim is unusable."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject.strip():
        raise AuthError("the token has no subject")
    agency = claims.get(agency_claim)
    if agency is not None and (not isinstance(agency, str) or not agency.strip()):
        raise AuthError(f"the token's {agency_claim!r} claim is not an agency id")
    return Principal(subject, scopes_of(claims), agency)


def check_times(claims: Mapping[str, Any], now: float, leeway_s: float) -> None:
    """exp (required), nbf and iat against `now` (seconds since the epoch), with the leeway."""
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise AuthError("the token has no expiry")
    if exp + leeway_s <= now:
        raise AuthError("the token has expired")
    nbf = claims.get("nbf")
    if nbf is not None:
        if not isinstance(nbf, int | float) or isinstance(nbf, bool):
            raise AuthError("the token's nbf is not a time")
        if nbf - leeway_s > now:
            raise AuthError("the token is not valid yet")
    iat = claims.get("iat")
    if iat is not None:
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise AuthError("the token's iat is not a time")
        if iat - leeway_s > now:
            raise AuthError("the token was issued in the future")


def source_refusal(principal: Principal, source: str, agency: str | None) -> str | None:
    """Why `principal` may not post an event of this CloudEvents `source` (whose agency id is
    `agency`; None: not an agency's source), or None if it may. An agency's token (its claim:
    the agency id, or the whole source URN) posts only that agency's events: defence in depth
    behind the event's signature."""
    if principal.any_agency:
        return None
    if principal.agency is None:
        return "the token names no agency, so it may post no events"
    if principal.agency not in {source, agency}:
        return f"the token of agency {principal.agency!r} may not post events of {source!r}"
    return None


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The request's token: `Authorization: Bearer ...`, else `X-Forwarded-Access-Token`."""
    authorization = headers.get("authorization", "")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    forwarded = headers.get(FORWARDED_TOKEN_HEADER, "").strip()
    return forwarded or None


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# -- keys -------------------------------------------------------------------------------------


class KeySource(Protocol):
    def key(self, kid: str) -> jwt.PyJWK:
        """The issuer's key with this kid; AuthError if it has none, KeysUnavailableError if
        the keys cannot be read."""
        ...


def _key_in(keys: jwt.PyJWKSet, kid: str) -> jwt.PyJWK | None:
    return next((k for k in keys.keys if k.key_id == kid), None)


class StaticKeys:
    """A JWKS given as a document (tests)."""

    def __init__(self, jwks: Mapping[str, Any]) -> None:
        self._keys = jwt.PyJWKSet.from_dict(dict(jwks))

    def key(self, kid: str) -> jwt.PyJWK:
        found = _key_in(self._keys, kid)
        if found is None:
            raise AuthError("the token's key is unknown to the issuer")
        return found


class FileKeys:
    """A JWKS file, re-read when a token names a kid it does not hold (a rotated key)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._keys = self._read()

    def _read(self) -> jwt.PyJWKSet:
        try:
            return jwt.PyJWKSet.from_json(self._path.read_text(encoding="utf-8"))
        except (OSError, jwt.PyJWKSetError, json.JSONDecodeError) as exc:
            raise KeysUnavailableError(f"JWKS file {self._path}: {exc}") from None

    def key(self, kid: str) -> jwt.PyJWK:
        found = _key_in(self._keys, kid)
        if found is None:
            self._keys = self._read()
            found = _key_in(self._keys, kid)
        if found is None:
            raise AuthError("the token's key is unknown to the issuer")
        return found


class UrlKeys:
    """The issuer's JWKS URL through PyJWT's client: keys cached for `cache_s`, the set fetched
    again when a token names an unknown kid (rotation)."""

    def __init__(self, url: str, cache_s: float, timeout_s: float) -> None:
        self._client = jwt.PyJWKClient(url, cache_jwk_set=True, lifespan=cache_s, timeout=timeout_s)

    def key(self, kid: str) -> jwt.PyJWK:
        try:
            return self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise KeysUnavailableError(f"the issuer's JWKS cannot be fetched: {exc}") from None
        except jwt.PyJWKClientError:
            raise AuthError("the token's key is unknown to the issuer") from None


# -- verification -----------------------------------------------------------------------------


class TokenVerifier:
    """Checks a token completely; `clock` (seconds since the epoch) is injected for tests."""

    def __init__(
        self,
        keys: KeySource,
        *,
        issuer: str,
        audience: str,
        algorithms: Iterable[str] = ALLOWED_ALGORITHMS,
        leeway_s: float = 30.0,
        agency_claim: str = "agency",
        clock: Callable[[], float] = time.time,
    ) -> None:
        allowed = frozenset(algorithms)
        if not allowed or not allowed <= ALLOWED_ALGORITHMS:
            raise AuthConfigError(f"algorithms must be among {sorted(ALLOWED_ALGORITHMS)}")
        if not issuer or not audience:
            raise AuthConfigError("an issuer and an audience are required")
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._algorithms = allowed
        self._leeway_s = leeway_s
        self._agency_claim = agency_claim
        self._clock = clock

    def verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("the token is not a JWT") from None
        algorithm = header.get("alg")
        if algorithm not in self._algorithms:
            raise AuthError("the token's algorithm is not allowed")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise AuthError("the token names no key (kid)")
        key = self._keys.key(kid)
        if key.algorithm_name != algorithm:
            raise AuthError("the token's algorithm does not match its key")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=[algorithm],
                audience=self._audience,
                issuer=self._issuer,
                options={
                    # Times are checked below against the injected clock.
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "require": ["exp", "iss", "aud", "sub"],
                },
            )
        except jwt.InvalidAudienceError:
            raise AuthError("the token is for another audience") from None
        except jwt.InvalidIssuerError:
            raise AuthError("the token is from another issuer") from None
        except jwt.InvalidSignatureError:
            raise AuthError("the token's signature does not verify") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"the token has no {exc.claim!r} claim") from None
        except jwt.PyJWTError:
            raise AuthError("the token is invalid") from None
        check_times(claims, self._clock(), self._leeway_s)
        return principal_from_claims(claims, self._agency_claim)


class Authenticator:
    """What `require` asks: a verifier, or dev mode (no authentication at all)."""

    def __init__(self, verifier: TokenVerifier | None) -> None:
        self._verifier = verifier

    @property
    def dev(self) -> bool:
        return self._verifier is None

    @classmethod
    def development(cls) -> Authenticator:
        return cls(None)

    @classmethod
    def from_settings(
        cls, settings: AuthSettings, *, listen_host: str, service: str
    ) -> Authenticator:
        """The service's authenticator; AuthConfigError (before anything starts) when the
        settings are incomplete, or dev mode is asked on a non-loopback address."""
        if settings.mode is AuthMode.DEV:
            if not is_loopback(listen_host):
                raise AuthConfigError(
                    f"{service}: PLANWATCH_AUTH_MODE=dev (no authentication) is only for the "
                    f"local demo and cannot listen on {listen_host!r}; listen on 127.0.0.1 or "
                    "configure a token issuer"
                )
            log.warning(
                "!!! AUTHENTICATION IS OFF (PLANWATCH_AUTH_MODE=dev): every request has every "
                "scope. For the local demo only, never in production !!!",
                service=service,
                listen=listen_host,
            )
            return cls.development()
        missing = [
            name
            for name, value in (
                ("PLANWATCH_AUTH_ISSUER", settings.issuer),
                ("PLANWATCH_AUTH_AUDIENCE", settings.audience),
            )
            if not value
        ]
        if not settings.jwks_url and settings.jwks_file is None:
            missing.append("PLANWATCH_AUTH_JWKS_URL or PLANWATCH_AUTH_JWKS_FILE")
        if missing:
            raise AuthConfigError(
                f"{service}: bearer-token authentication needs {', '.join(missing)} (or "
                "PLANWATCH_AUTH_MODE=dev for the local demo on 127.0.0.1)"
            )
        keys: KeySource
        if settings.jwks_file is not None:
            keys = FileKeys(settings.jwks_file)
        else:
            keys = UrlKeys(settings.jwks_url, settings.jwks_cache_s, settings.jwks_timeout_s)
        verifier = TokenVerifier(
            keys,
            issuer=settings.issuer,
            audience=settings.audience,
            algorithms=settings.algorithms,
            leeway_s=settings.leeway_s,
            agency_claim=settings.agency_claim,
        )
        log.info("bearer-token authentication on", service=service, issuer=settings.issuer)
        return cls(verifier)

    def authenticate(self, token: str | None) -> Principal:
        if self._verifier is None:
            return DEV_PRINCIPAL
        if token is None:
            raise AuthError("no bearer token")
        return self._verifier.verify(token)


# -- FastAPI ----------------------------------------------------------------------------------

REALM: Final = 'Bearer realm="planwatch"'


def install(app: FastAPI, authenticator: Authenticator) -> None:
    """Make `require` of this app's routes use `authenticator`."""
    app.state.authenticator = authenticator


def _unauthorized(reason: str, *, token_given: bool) -> HTTPException:
    # RFC 6750: no error code when no credentials were sent at all.
    challenge = f'{REALM}, error="invalid_token"' if token_given else REALM
    return HTTPException(
        status_code=401,
        detail={"error": "unauthorized", "message": reason},
        headers={"WWW-Authenticate": challenge},
    )


def require(*scopes: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the request's principal, which must hold one of `scopes` (none
    given: any authenticated caller). 401 without a valid token, 403 without the scope."""
    wanted = frozenset(scopes)
    unknown = wanted - ALL_SCOPES
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}")

    def authenticated(request: Request) -> Principal:
        authenticator = getattr(request.app.state, "authenticator", None)
        if not isinstance(authenticator, Authenticator):  # fail closed
            raise RuntimeError("no authenticator installed on this app (shared.runtime.auth)")
        token = bearer_token(request.headers)
        try:
            principal = authenticator.authenticate(token)
        except AuthError as exc:
            log.info("request refused: unauthenticated", path=request.url.path, reason=exc.reason)
            raise _unauthorized(exc.reason, token_given=token is not None) from None
        except KeysUnavailableError as exc:
            log.warning("request refused: issuer keys unavailable", error=str(exc))
            raise HTTPException(
                status_code=503,
                detail={"error": "unavailable", "message": "the issuer's keys are unavailable"},
                headers={"Retry-After": "5"},
            ) from None
        if not principal.has_any(wanted):
            needed = " ".join(sorted(wanted))
            log.info(
                "request refused: scope missing",
                path=request.url.path,
                subject=principal.subject,
                needed=needed,
            )
            challenge = f'{REALM}, error="insufficient_scope", scope="{needed}"'
            raise HTTPException(
                status_code=403,
                detail={"error": "insufficient_scope", "message": f"this needs scope {needed}"},
                headers={"WWW-Authenticate": challenge},
            )
        request.state.principal = principal
        return principal

    authenticated.planwatch_scopes = wanted  # type: ignore[attr-defined]
    return authenticated
