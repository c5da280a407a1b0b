"""shared.runtime.auth: claims to principal, scopes, the agency-source rule, and the token
checks (signature by kid, algorithms, issuer, audience, expiry against an injected clock)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path

import jwt
import pytest

from shared.runtime.auth import (
    ALL_SCOPES,
    DEV_PRINCIPAL,
    EVENTS_WRITE,
    PLANS_READ,
    AuthConfigError,
    Authenticator,
    AuthError,
    AuthSettings,
    FileKeys,
    Principal,
    TokenVerifier,
    bearer_token,
    check_times,
    is_loopback,
    principal_from_claims,
    scopes_of,
    source_refusal,
)
from tests.token_issuer import EXPIRES_AT, ISSUED_AT, LocalIssuer

ISSUER = LocalIssuer()
SOURCE = "urn:planwatch:agency:qy.gov-data"

# -- the pure part --------------------------------------------------------------------------


def test_scopes_come_from_scope_and_scp() -> None:
    assert scopes_of({"scope": "plans:read  events:write"}) == {PLANS_READ, EVENTS_WRITE}
    assert scopes_of({"scp": ["plans:read", 7]}) == {PLANS_READ}
    assert scopes_of({"scp": "keys:admin", "scope": 3}) == {"keys:admin"}
    assert scopes_of({}) == frozenset()


def test_principal_from_claims() -> None:
    principal = principal_from_claims({"sub": "op-1", "scope": "plans:read", "agency": "qy.x"})
    assert principal == Principal("op-1", frozenset({PLANS_READ}), "qy.x")
    with pytest.raises(AuthError, match="subject"):
        principal_from_claims({"sub": "  "})
    with pytest.raises(AuthError, match="agency"):
        principal_from_claims({"sub": "a", "agency": ["qy.x"]})
    assert principal_from_claims({"sub": "a", "org": "qy.y"}, agency_claim="org").agency == "qy.y"


def test_scope_check_is_any_of() -> None:
    principal = Principal("p", frozenset({PLANS_READ}))
    assert principal.has_any([PLANS_READ, EVENTS_WRITE])
    assert not principal.has_any([EVENTS_WRITE])
    assert principal.has_any([])  # any authenticated caller
    assert DEV_PRINCIPAL.has_any(ALL_SCOPES)


def test_an_agency_posts_only_its_own_source() -> None:
    agency = Principal("svc", frozenset({EVENTS_WRITE}), "qy.gov-data")
    assert source_refusal(agency, SOURCE, "qy.gov-data") is None
    assert source_refusal(Principal("s", frozenset(), SOURCE), SOURCE, "qy.gov-data") is None
    refusal = source_refusal(agency, "urn:planwatch:agency:qy.health", "qy.health")
    assert refusal is not None and "qy.health" in refusal
    assert source_refusal(agency, "urn:planwatch:clock", None) is not None
    assert source_refusal(Principal("s", frozenset({EVENTS_WRITE})), SOURCE, "qy.gov-data")
    assert source_refusal(DEV_PRINCIPAL, SOURCE, "qy.gov-data") is None


@pytest.mark.parametrize(
    ("claims", "now", "problem"),
    [
        ({"exp": 1000}, 999, None),
        ({"exp": 1000}, 1029, None),  # within the leeway
        ({"exp": 1000}, 1030, "expired"),
        ({}, 0, "no expiry"),
        ({"exp": True}, 0, "no expiry"),
        ({"exp": 5000, "nbf": 1000}, 971, None),
        ({"exp": 5000, "nbf": 1000}, 969, "not valid yet"),
        ({"exp": 5000, "iat": 1000}, 960, "future"),
    ],
)
def test_times_against_the_given_clock(claims: dict[str, int], now: float, problem: str) -> None:
    if problem is None:
        check_times(claims, now, 30)
    else:
        with pytest.raises(AuthError, match=problem):
            check_times(claims, now, 30)


def test_bearer_token_from_authorization_or_the_proxys_header() -> None:
    assert bearer_token({"authorization": "Bearer abc"}) == "abc"
    assert bearer_token({"authorization": "bearer  abc "}) == "abc"
    assert bearer_token({"authorization": "Basic abc"}) is None
    assert bearer_token({"x-forwarded-access-token": "xyz"}) == "xyz"
    assert bearer_token({"authorization": "Bearer a", "x-forwarded-access-token": "b"}) == "a"
    assert bearer_token({}) is None


def test_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1")
    assert not is_loopback("planwatch.example.org")


# -- verification ---------------------------------------------------------------------------


def test_a_good_token_gives_its_principal() -> None:
    token = ISSUER.mint("svc-a", [EVENTS_WRITE], agency="qy.gov-data")
    assert ISSUER.verifier().verify(token) == Principal(
        "svc-a", frozenset({EVENTS_WRITE}), "qy.gov-data"
    )


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
def test_each_allowed_algorithm(algorithm: str) -> None:
    issuer = LocalIssuer(algorithm=algorithm)
    assert issuer.verifier().verify(issuer.mint("s", [PLANS_READ])).subject == "s"


def test_expiry_is_checked_against_the_injected_clock() -> None:
    token = ISSUER.mint(claims={"exp": ISSUED_AT + 3600})
    assert ISSUER.verifier(now=ISSUED_AT + 3600 + 29).verify(token).subject == "tester"
    with pytest.raises(AuthError, match="expired"):
        ISSUER.verifier(now=ISSUED_AT + 3600 + 30).verify(token)
    with pytest.raises(AuthError, match="expired"):
        ISSUER.verifier(now=EXPIRES_AT + 31).verify(ISSUER.mint())


@pytest.mark.parametrize(
    ("claims", "drop", "problem"),
    [
        ({"aud": "another-app"}, (), "audience"),
        ({"iss": "https://evil.example"}, (), "issuer"),
        ({}, ("exp",), "'exp'"),
        ({}, ("sub",), "'sub'"),
        ({}, ("aud",), "'aud'"),
        ({"nbf": EXPIRES_AT - 10}, (), "not valid yet"),
    ],
)
def test_claims_are_checked(claims: dict[str, object], drop: tuple[str, ...], problem: str) -> None:
    with pytest.raises(AuthError, match=problem):
        ISSUER.verifier().verify(ISSUER.mint(claims=claims, drop=drop))


def test_an_unknown_kid_is_refused() -> None:
    other = LocalIssuer()
    with pytest.raises(AuthError, match="unknown"):
        ISSUER.verifier().verify(other.mint())


def test_a_key_of_another_issuer_under_a_known_kid_fails_the_signature() -> None:
    forger = LocalIssuer()
    forger.keys = {ISSUER.current: forger.keys[forger.current]}
    forger.current = ISSUER.current
    with pytest.raises(AuthError, match="signature"):
        ISSUER.verifier().verify(forger.mint())


def _b64(data: Mapping[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_alg_none_is_refused() -> None:
    header = {"alg": "none", "kid": ISSUER.current, "typ": "JWT"}
    claims = {"iss": ISSUER.issuer, "aud": ISSUER.audience, "sub": "x", "exp": EXPIRES_AT}
    with pytest.raises(AuthError, match="algorithm"):
        ISSUER.verifier().verify(f"{_b64(header)}.{_b64(claims)}.")


def test_hmac_with_the_public_key_as_secret_is_refused() -> None:
    public = json.dumps(ISSUER.jwks()["keys"][0]).encode()
    claims = {"iss": ISSUER.issuer, "aud": ISSUER.audience, "sub": "x", "exp": EXPIRES_AT}
    signing_input = f"{_b64({'alg': 'HS256', 'kid': ISSUER.current})}.{_b64(claims)}"
    mac = hmac.new(public, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(AuthError, match="algorithm"):
        ISSUER.verifier().verify(token)


def test_an_algorithm_that_does_not_fit_the_key_is_refused() -> None:
    issuer = LocalIssuer(algorithm="ES256")
    rsa_kid = issuer.rotate("RS256")
    key, _ = issuer.keys[rsa_kid]
    issuer.keys[rsa_kid] = (key, "RS256")
    es_verifier = issuer.verifier()
    # A token that claims ES256 but names the RSA key.
    es_key, _ = issuer.keys[next(iter(issuer.keys))]
    claims = {"iss": issuer.issuer, "aud": issuer.audience, "sub": "x", "exp": EXPIRES_AT}
    token = jwt.encode(claims, es_key, algorithm="ES256", headers={"kid": rsa_kid})
    with pytest.raises(AuthError, match="match"):
        es_verifier.verify(token)


def test_garbage_is_not_a_jwt() -> None:
    with pytest.raises(AuthError, match="not a JWT"):
        ISSUER.verifier().verify("not-a-token")


def test_the_reason_never_quotes_the_token() -> None:
    token = ISSUER.mint(claims={"aud": "x"})
    with pytest.raises(AuthError) as caught:
        ISSUER.verifier().verify(token)
    assert token not in str(caught.value) and token.split(".")[1] not in str(caught.value)


def test_a_jwks_file_is_read_again_for_a_rotated_key(tmp_path: Path) -> None:
    issuer = LocalIssuer()
    path = issuer.write_jwks(tmp_path / "jwks.json")
    verifier = TokenVerifier(
        FileKeys(path), issuer=issuer.issuer, audience=issuer.audience, clock=lambda: ISSUED_AT
    )
    assert verifier.verify(issuer.mint("before")).subject == "before"
    issuer.rotate()
    with pytest.raises(AuthError, match="unknown"):
        verifier.verify(issuer.mint("early"))  # not published yet
    issuer.write_jwks(path)
    assert verifier.verify(issuer.mint("after")).subject == "after"


# -- configuration --------------------------------------------------------------------------


def test_dev_mode_on_loopback_lets_everyone_in() -> None:
    auth = Authenticator.from_settings(
        AuthSettings(mode="dev"), listen_host="127.0.0.1", service="test"
    )
    assert auth.dev and auth.authenticate(None) is DEV_PRINCIPAL


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "10.1.2.3", "ingest.example.org"])
def test_dev_mode_refuses_a_non_loopback_address(host: str) -> None:
    with pytest.raises(AuthConfigError, match="dev"):
        Authenticator.from_settings(AuthSettings(mode="dev"), listen_host=host, service="test")


def test_jwt_mode_needs_issuer_audience_and_keys() -> None:
    with pytest.raises(AuthConfigError) as caught:
        Authenticator.from_settings(AuthSettings(), listen_host="0.0.0.0", service="test")
    message = str(caught.value)
    assert "ISSUER" in message and "AUDIENCE" in message and "JWKS" in message


def test_only_asymmetric_algorithms_may_be_configured() -> None:
    with pytest.raises(ValueError, match="HS256"):
        AuthSettings(algorithms=["HS256", "ES256"])
    with pytest.raises(ValueError, match="none"):
        AuthSettings(algorithms=["none"])


def test_the_settings_come_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PLANWATCH_AUTH_ISSUER", ISSUER.issuer)
    monkeypatch.setenv("PLANWATCH_AUTH_AUDIENCE", ISSUER.audience)
    monkeypatch.setenv("PLANWATCH_AUTH_JWKS_FILE", str(ISSUER.write_jwks(tmp_path / "k.json")))
    auth = Authenticator.from_settings(AuthSettings(), listen_host="0.0.0.0", service="test")
    assert not auth.dev
    with pytest.raises(AuthError, match="no bearer token"):
        auth.authenticate(None)
