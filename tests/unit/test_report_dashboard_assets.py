"""The dashboard's router and files, without servers: what it serves and that nothing it serves
reaches outside the service; the status vocabulary shared with the report and the CLI, its
colours dark enough for a badge's white text (WCAG 2.1 AA)."""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from services.scoring.dashboard.router import STATIC_DIR, STATIC_FILES, make_dashboard_router
from services.scoring.memory_store import InMemoryScoringStore
from shared.catalog import load_catalog
from shared.domain.method_v1 import Status
from shared.runtime.auth import Authenticator, install
from shared.vocabulary import (
    SEVERITY_COLOUR,
    STATUS_COLOUR,
    STATUS_LABEL,
    STATUS_ORDER,
    Lang,
)


@pytest.fixture(scope="module")
def client() -> TestClient:
    app = FastAPI()
    install(app, Authenticator.development())
    store = InMemoryScoringStore()
    app.include_router(make_dashboard_router(load_catalog(), lambda: store))
    return TestClient(app)


def test_pages_and_redirects(client: TestClient) -> None:
    for path in ("/", "/dashboard"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 307
        assert response.headers["location"] == "/dashboard/"
    page = client.get("/dashboard/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for name, media_type in STATIC_FILES.items():
        assert f"/dashboard/static/{name}" in page.text
        response = client.get(f"/dashboard/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == media_type


@pytest.mark.parametrize(
    "name", ["index.html", "router.py", "..%2Frouter.py", "../router.py", "vocabulary.py"]
)
def test_only_the_listed_files_are_served(client: TestClient, name: str) -> None:
    assert client.get(f"/dashboard/static/{name}").status_code == 404


def test_catalog_endpoint_names_every_target_in_both_languages(client: TestClient) -> None:
    doc = client.get("/dashboard/api/catalog").json()
    catalog = load_catalog()
    assert [p["id"] for p in doc["plans"]] == sorted(catalog.plans)
    for plan_doc in doc["plans"]:
        plan = catalog.plans[plan_doc["id"]]
        assert plan_doc["title"] == {"zh": plan.title_zh, "en": plan.title_en}
        targets = {t["id"]: t for t in plan_doc["targets"]}
        assert set(targets) == set(plan.targets)
        for target_id, t in targets.items():
            target = plan.targets[target_id]
            assert t["name"] == {"zh": target.metric_zh, "en": target.name_en}
            deadline = target.deadline.isoformat() if target.deadline else None  # None: no date
            assert (t["target"], t["deadline"]) == (target.target, deadline)
            assert t["direction"] == target.direction
            assert len(t["stages"]) == len(target.stages)
            assert t["area"] == plan.tasks[target.task].area
        assert {a["id"] for a in plan_doc["areas"]} == set(plan.areas)
        assert {a["id"] for a in plan_doc["agencies"]} == set(plan.agencies)
    for lang in ("zh", "en"):
        vocabulary = doc["vocabulary"][lang]
        assert vocabulary["status_order"] == [s.value for s in STATUS_ORDER]
        assert vocabulary["status"] == {s.value: STATUS_LABEL[Lang(lang)][s] for s in Status}
        assert vocabulary["status_colour"] == {s.value: STATUS_COLOUR[s] for s in Status}


def test_static_files_load_nothing_from_outside() -> None:
    for path in STATIC_DIR.iterdir():
        text = path.read_text(encoding="utf-8")
        # The SVG namespace name is an identifier, never fetched; no other URL may appear.
        urls = set(re.findall(r"https?://[^\s\"'`)]+", text))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
        assert not re.search(r"""(src|href)\s*=\s*["']?//""", text), path.name
        assert "@import" not in text and "url(" not in text, path.name


def test_status_vocabulary_is_complete() -> None:
    assert set(STATUS_ORDER) == set(Status)
    assert set(STATUS_LABEL[Lang.ZH]) == set(Status)
    assert set(STATUS_LABEL[Lang.EN]) == set(Status)
    assert len(set(STATUS_COLOUR.values())) == len(Status)  # every status its own colour


def _luminance(colour: str) -> float:
    """WCAG 2.1 relative luminance of `#rrggbb`."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#afb8c1", "#ffffff") == pytest.approx(2.01, abs=0.01)  # the old NO_DATA


def test_every_badge_colour_carries_white_text_at_aa() -> None:
    """Status and severity badges (dashboard and report) and the page's own coloured badges
    (`background` under `color: #fff` in style.css) are at least 4.5:1 against white."""
    css = (STATIC_DIR / "style.css").read_text(encoding="utf-8")
    own = re.findall(r"\.(?:live|badge\.late)[^{]*\{[^}]*background: (#[0-9a-f]{6})", css)
    assert len(own) >= 3, own
    colours = {s.value: c for s, c in STATUS_COLOUR.items()}
    colours |= {s.value: c for s, c in SEVERITY_COLOUR.items()}
    colours |= {f"css {i}": c for i, c in enumerate(own)}
    low = {k: round(contrast(c, "#ffffff"), 2) for k, c in colours.items()}
    assert all(ratio >= 4.5 for ratio in low.values()), low
