"""Every route of every service's main port refuses a caller without a valid token (401) and a
token without the route's scope (403), enumerated from the apps themselves: a new route
without `require(...)` fails here. The management port serves only the probes and metrics."""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, routing
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from services.ingest.app import create_app as create_ingest
from services.ingest.config import IngestSettings
from services.notify.app import create_app as create_notify
from services.notify.config import NotifySettings
from services.notify.domain.config import load_routing
from services.scoring.app import create_app as create_scoring
from services.scoring.config import ScoringSettings
from shared.runtime.auth import ALL_SCOPES, AuthConfigError, AuthSettings
from shared.runtime.host import build_management_app
from tests.clock_identity import CLOCK_PUBLIC_KEY
from tests.token_issuer import LocalIssuer

ISSUER = LocalIssuer()
SERVICES = ("ingest", "scoring", "notify")
ROUTING = "route: {receiver: k}\nreceivers: [{name: k, kafka_configs: [{topic: t}]}]\n"
# Routes that hold no data and answer without a token: the dashboard's page and files, and
# each service's API description (shared.runtime.api_docs).
PUBLIC = {
    ("scoring", "GET", "/"),
    ("scoring", "GET", "/dashboard"),
    ("scoring", "GET", "/dashboard/"),
    ("scoring", "GET", "/dashboard/static/{name}"),
    ("ingest", "GET", "/schemas/{name}"),
    *((service, "GET", path) for service in SERVICES for path in ("/openapi.json", "/docs")),
}
MANAGEMENT = {"/livez", "/readyz", "/metrics"}


def _apps(jwks: Path) -> dict[str, FastAPI]:
    auth = ISSUER.settings(jwks)
    return {
        "ingest": create_ingest(IngestSettings(auth=auth, verify_worker=False)),
        "scoring": create_scoring(ScoringSettings(auth=auth, clock_public_keys=[CLOCK_PUBLIC_KEY])),
        # A routing without secret references: the shipped one needs every agency's webhook
        # URL and secret set (notify refuses to start otherwise); the routes are the same.
        "notify": create_notify(NotifySettings(auth=auth), routing=load_routing(ROUTING)),
    }


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    return _apps(tmp_path_factory.mktemp("jwks") / "jwks.json")


def _api_routes(app: FastAPI) -> list[Any]:
    """The app's API routes, those of included routers too (with their routers' prefixes and
    dependencies): FastAPI >= 0.16x keeps included routers as branches (`iter_route_contexts`)."""
    contexts = getattr(routing, "iter_route_contexts", None)
    if contexts is None:  # older FastAPI: included routes are copied into app.routes
        return [r for r in app.routes if isinstance(r, APIRoute)]
    return [c for c in contexts(app.routes) if isinstance(c.original_route, APIRoute)]


def _scopes(route: Any) -> frozenset[str] | None:
    """The scopes the route's `require` asks for (None: it has no `require`)."""

    def walk(dependant: Any) -> Iterator[frozenset[str]]:
        for dependency in dependant.dependencies:
            scopes = getattr(dependency.call, "planwatch_scopes", None)
            if scopes is not None:
                yield scopes
            yield from walk(dependency)

    found = list(walk(route.dependant))
    return found[0] if found else None


def _routes(apps: dict[str, FastAPI]) -> list[tuple[str, str, str, Any]]:
    return [
        (service, method, route.path, route)
        for service, app in apps.items()
        for route in _api_routes(app)
        for method in sorted(route.methods)
    ]


def _url(path: str) -> str:
    return path.replace("{", "").replace("}", "")  # /plans/{plan_id} -> /plans/plan_id


with tempfile.TemporaryDirectory() as _folder:  # the parameters: every route of every app
    ROUTES = _routes(_apps(Path(_folder) / "jwks.json"))


def test_the_enumeration_finds_every_services_routes() -> None:
    found = {(service, path) for service, _, path, _ in ROUTES}
    assert ("ingest", "/v1/events") in found
    assert ("ingest", "/v1/admin/keys") in found
    assert ("scoring", "/v1/plans/{plan_id}/targets") in found
    assert ("scoring", "/dashboard/api/catalog") in found
    assert ("scoring", "/dashboard/api/plans/{plan_id}/tables/{table}.{fmt}") in found
    assert ("notify", "/api/v2/silences") in found
    assert ("notify", "/api/v1/alerts/{fingerprint}/ack") in found
    assert ("notify", "/api/v1/acks") in found
    assert len(found) > 25


@pytest.mark.parametrize(
    ("service", "method", "path"), [(s, m, p) for s, m, p, _ in ROUTES], ids=str
)
def test_every_route_needs_a_token_and_its_scope(
    apps: dict[str, FastAPI], service: str, method: str, path: str
) -> None:
    route = next(r for s, m, p, r in _routes(apps) if (s, m, p) == (service, method, path))
    client = TestClient(apps[service], raise_server_exceptions=True)
    if (service, method, path) in PUBLIC:
        assert _scopes(route) is None
        return
    scopes = _scopes(route)
    assert scopes is not None, f"{service} {method} {path} has no require(...) dependency"
    url = _url(path)
    body: dict[str, Any] = {"json": {}} if method in {"POST", "PUT", "PATCH"} else {}

    missing = client.request(method, url, **body)
    assert missing.status_code == 401, missing.text
    assert missing.headers["www-authenticate"].startswith("Bearer")

    for bad in ("Bearer not-a-jwt", f"Bearer {ISSUER.mint(claims={'aud': 'other'})}"):
        invalid = client.request(method, url, headers={"Authorization": bad}, **body)
        assert invalid.status_code == 401, invalid.text
        assert bad.removeprefix("Bearer ") not in invalid.text  # never echoed

    others = ALL_SCOPES - scopes if scopes else frozenset()
    if scopes:
        wrong = client.request(method, url, headers=ISSUER.headers(*others), **body)
        assert wrong.status_code == 403, wrong.text
        assert 'error="insufficient_scope"' in wrong.headers["www-authenticate"]


def test_the_main_port_serves_its_docs_without_a_cdn_and_no_probes(
    apps: dict[str, FastAPI],
) -> None:
    """`/docs` and `/openapi.json` are public (shapes, no data); the page's assets are served
    by the service itself, so it works on a closed network."""
    for name, app in apps.items():
        client = TestClient(app)
        for path in (*MANAGEMENT, "/redoc"):
            assert client.get(path).status_code == 404, path
        openapi = client.get("/openapi.json")
        assert openapi.status_code == 200
        assert openapi.json()["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
        page = client.get("/docs")
        assert page.status_code == 200 and "SwaggerUIBundle" in page.text, name
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(not a.startswith(("http:", "https:", "//")) for a in assets), assets
        for asset in assets:
            served = client.get(f"/{asset}")
            assert served.status_code == 200 and len(served.content) > 1000, asset


def test_every_answer_is_described_by_a_named_schema(apps: dict[str, FastAPI]) -> None:
    """Typed answers everywhere: each route's success names a model of the OpenAPI document
    (or an array of one), never a bare object; Alertmanager's refused POST /alerts excepted."""
    for name, app in apps.items():
        for path, item in app.openapi()["paths"].items():
            for method, operation in item.items():
                if (name, method, path) == ("notify", "post", "/api/v2/alerts"):
                    continue  # 405: notify takes alerts from Kafka only
                ok = [c for c in operation["responses"] if c.startswith("2")]
                assert ok, (name, method, path)
                for content in operation["responses"][ok[0]]["content"].values():
                    schema = content["schema"]
                    ref = schema.get("$ref") or schema.get("items", {}).get("$ref")
                    assert ref, (name, method, path, schema)


def test_the_management_port_serves_only_probes_and_metrics(apps: dict[str, FastAPI]) -> None:
    for app in apps.values():
        management = build_management_app(app.state.host)
        paths = {r.path for r in _api_routes(management)}
        assert paths == MANAGEMENT
        client = TestClient(management)
        assert client.get("/livez").json() == {"status": "ok"}
        assert "process_cpu_seconds_total" in client.get("/metrics").text


def test_a_service_in_dev_mode_refuses_a_public_address() -> None:
    dev = AuthSettings(mode="dev")
    with pytest.raises(AuthConfigError):
        create_scoring(ScoringSettings(auth=dev, http={"host": "0.0.0.0", "port": 8002}))
    create_scoring(ScoringSettings(auth=dev))  # 127.0.0.1: allowed, with a warning


def test_tokens_are_never_logged(
    apps: dict[str, FastAPI], capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """Refused and accepted calls log who and why, never the token (nor its payload)."""
    client = TestClient(apps["scoring"])
    tokens = [
        ISSUER.mint("log-check", ["silences:read"]),  # wrong scope: 403
        ISSUER.mint("log-check", ["plans:read"], claims={"aud": "elsewhere"}),  # 401
        ISSUER.mint("log-check", ["plans:read"]),  # passes auth (then the catalog)
    ]
    for token in tokens:
        client.get("/dashboard/api/catalog", headers={"Authorization": f"Bearer {token}"})
        client.get("/dashboard/api/catalog", headers={"X-Forwarded-Access-Token": token})
    captured = capsys.readouterr()
    logged = captured.out + captured.err + caplog.text
    assert "request refused" in logged  # the log was captured
    for token in tokens:
        for part in token.split("."):
            assert part not in logged
