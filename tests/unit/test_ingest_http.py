"""`POST /v1/events` over ASGI: the three CloudEvents HTTP modes, status codes, body limit."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.ingest.http_answers import EventsAnswer, EventsRefusal
from services.ingest.http_door import EVENTS_PATH, MAX_BATCH_ITEMS, build_router
from services.ingest.rate_limit import TokenBuckets
from shared.contract.codec import (
    BATCH_CONTENT_TYPE,
    encode_http_batch,
    encode_http_binary,
    encode_http_structured,
)
from shared.contract.events import EventType
from shared.runtime.auth import EVENTS_WRITE, PLANS_READ, Authenticator, install
from shared.runtime.problems import PROBLEM_CONTENT_TYPE
from tests.token_issuer import LocalIssuer
from tests.unit.ingest_support import TOPICS, Harness, report

ROOT = Path(__file__).resolve().parents[2]


def client(
    h: Harness,
    *,
    max_event_bytes: int = 64 * 1024,
    max_batch_bytes: int = 256 * 1024,
    limiter: TokenBuckets | None = None,
    monotonic: Callable[[], float] = lambda: 0.0,
    auth: Authenticator | None = None,
) -> httpx.AsyncClient:
    app = FastAPI()
    install(app, auth or Authenticator.development())
    app.include_router(
        build_router(
            h.intake(),
            max_event_bytes=max_event_bytes,
            max_batch_bytes=max_batch_bytes,
            limiter=limiter,
            monotonic=monotonic,
        )
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest")


async def test_binary_mode_single_event_is_accepted_with_202() -> None:
    h = Harness()
    headers, body = encode_http_binary(report(event_id="b1", note="掌上办 Q1"))
    async with client(h) as http:
        response = await http.post(EVENTS_PATH, headers=headers, content=body)
    assert response.status_code == 202
    assert response.json() == {"results": [{"id": "b1", "status": "accepted"}]}
    assert len(h.publisher.on(TOPICS.progress)) == 1


async def test_structured_mode_rejection_is_400_with_reason() -> None:
    h = Harness()
    headers, body = encode_http_structured(report(event_id="s1", agency="qy.health"))
    async with client(h) as http:
        response = await http.post(EVENTS_PATH, headers=headers, content=body)
    assert response.status_code == 400
    [result] = response.json()["results"]
    assert result["status"] == "rejected" and result["reason"] == "not_responsible"
    assert result["message"]
    assert len(h.publisher.on(TOPICS.dead_letter)) == 1


async def test_a_mixed_batch_is_207_and_one_bad_item_does_not_refuse_the_others() -> None:
    h = Harness()
    headers, body = encode_http_batch([report(event_id="g1"), report(event_id="g2", value=5)])
    items = json.loads(body)
    items.insert(1, {"specversion": "1.0", "id": "broken"})
    async with client(h) as http:
        response = await http.post(EVENTS_PATH, headers=headers, content=json.dumps(items).encode())
    assert response.status_code == 207
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["accepted", "rejected", "accepted"]
    assert results[1]["reason"] == "malformed"
    assert "batch item 1" in results[1]["message"]


async def test_a_body_over_the_limit_is_413_and_not_read() -> None:
    h = Harness()
    headers, body = encode_http_structured(report(event_id="big", note="x" * 900))
    async with client(h, max_event_bytes=1024) as http:
        response = await http.post(EVENTS_PATH, headers=headers, content=body + b" " * 2000)
    assert response.status_code == 413
    assert response.json()["results"][0]["reason"] == "oversized"
    assert h.publisher.records == []


async def test_an_empty_batch_and_a_non_array_are_400() -> None:
    h = Harness()
    async with client(h) as http:
        empty = await http.post(
            EVENTS_PATH, headers={"content-type": BATCH_CONTENT_TYPE}, content=b"[]"
        )
        not_array = await http.post(
            EVENTS_PATH, headers={"content-type": BATCH_CONTENT_TYPE}, content=b"{}"
        )
    assert empty.status_code == 400
    assert not_array.status_code == 400
    assert not_array.json()["results"][0]["reason"] == "malformed"


async def test_unavailable_store_is_503_with_retry_after() -> None:
    h = Harness()
    h.store.fail_next = 5
    headers, body = encode_http_binary(report(event_id="u1"))
    async with client(h) as http:
        response = await http.post(EVENTS_PATH, headers=headers, content=body)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert h.publisher.records == []


async def test_deeply_nested_json_is_refused_as_malformed_not_a_500() -> None:
    h = Harness()
    nested = b"[" * 10_000 + b"]" * 10_000  # was a RecursionError: HTTP 500
    async with client(h) as http:
        for content_type in (BATCH_CONTENT_TYPE, "application/cloudevents+json"):
            response = await http.post(
                EVENTS_PATH, headers={"content-type": content_type}, content=nested
            )
            assert response.status_code == 400, response.text
            [result] = response.json()["results"]
            assert result["reason"] == "malformed"


async def test_a_batch_of_too_many_items_is_refused_whole_with_one_dead_letter() -> None:
    # Was: 500,000 items of `1` in 1 MiB gave 500,000 dead letters and a 62 MB answer.
    h = Harness()
    body = ("[" + ",".join(["1"] * 100_000) + "]").encode()
    async with client(h, max_batch_bytes=1 << 20) as http:
        response = await http.post(
            EVENTS_PATH, headers={"content-type": BATCH_CONTENT_TYPE}, content=body
        )
    assert response.status_code == 400
    [result] = response.json()["results"]
    assert result["reason"] == "oversized" and str(MAX_BATCH_ITEMS) in result["message"]
    assert len(h.publisher.on(TOPICS.dead_letter)) == 1


async def test_an_agency_over_its_rate_gets_429_with_retry_after_and_nothing_is_processed() -> None:
    h = Harness()
    now = [0.0]
    limiter = TokenBuckets(rate=1, burst=2)
    async with client(h, limiter=limiter, monotonic=lambda: now[0]) as http:
        codes = []
        for n in range(3):
            headers, body = encode_http_binary(report(event_id=f"r{n}"))
            response = await http.post(EVENTS_PATH, headers=headers, content=body)
            codes.append(response.status_code)
        assert codes == [202, 202, 429]
        assert response.headers["retry-after"] == "1"
        assert response.json()["reason"] == "rate_limited"
        assert len(h.publisher.on(TOPICS.progress)) == 2  # the third was not taken
        now[0] = 1.0  # a second later there is a token again
        headers, body = encode_http_binary(report(event_id="r2"))
        assert (await http.post(EVENTS_PATH, headers=headers, content=body)).status_code == 202


# -- authentication -----------------------------------------------------------------------------

ISSUER = LocalIssuer()


async def test_without_a_token_the_door_is_401_with_a_bearer_challenge() -> None:
    h = Harness()
    headers, body = encode_http_binary(report(event_id="n1"))
    async with client(h, auth=ISSUER.authenticator()) as http:
        response = await http.post(EVENTS_PATH, headers=headers, content=body)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert h.publisher.on(TOPICS.progress) == [] and h.publisher.on(TOPICS.dead_letter) == []


async def test_a_token_without_events_write_is_403() -> None:
    h = Harness()
    headers, body = encode_http_binary(report(event_id="n2"))
    token = ISSUER.headers(PLANS_READ, agency="qy.gov-data")
    async with client(h, auth=ISSUER.authenticator()) as http:
        response = await http.post(EVENTS_PATH, headers={**headers, **token}, content=body)
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]


async def test_an_agency_token_posts_its_own_agencys_events() -> None:
    h = Harness()
    headers, body = encode_http_binary(report(event_id="own1"))
    token = ISSUER.headers(EVENTS_WRITE, agency="qy.gov-data")
    async with client(h, auth=ISSUER.authenticator()) as http:
        response = await http.post(EVENTS_PATH, headers={**headers, **token}, content=body)
    assert response.status_code == 202, response.text


async def test_an_agency_token_posting_another_agencys_event_is_refused_whole() -> None:
    h = Harness()
    own, other = report(event_id="m1"), report(event_id="m2", agency="qy.health")
    headers, body = encode_http_batch([own, other])
    token = ISSUER.headers(EVENTS_WRITE, agency="qy.gov-data")
    async with client(h, auth=ISSUER.authenticator()) as http:
        response = await http.post(EVENTS_PATH, headers={**headers, **token}, content=body)
    assert response.status_code == 403
    assert response.json()["reason"] == "forbidden_source"
    assert "qy.health" in response.json()["detail"]
    assert response.headers["content-type"] == "application/problem+json"
    # Nothing processed: not stored, not published, not dead-lettered.
    assert h.publisher.on(TOPICS.progress) == [] and h.publisher.on(TOPICS.dead_letter) == []


async def test_an_events_token_without_an_agency_posts_nothing() -> None:
    h = Harness()
    headers, body = encode_http_binary(report(event_id="m3"))
    token = ISSUER.headers(EVENTS_WRITE)
    async with client(h, auth=ISSUER.authenticator()) as http:
        response = await http.post(EVENTS_PATH, headers={**headers, **token}, content=body)
    assert response.status_code == 403
    assert response.json()["reason"] == "forbidden_source"


async def test_every_answer_has_the_shape_its_openapi_declares() -> None:
    """202 and 207 are `EventsAnswer`; a refusal is problem details with its `results`; the
    request bodies in the OpenAPI document refer to the contract's schemas, which the door
    serves, equal to docs/schemas/."""
    h = Harness()
    good, also_good = report(event_id="t1"), report(event_id="t2", value=5)
    bad = report(event_id="t3", agency="qy.health")
    async with client(h) as http:
        answers = {}
        for name, events in (("202", [good]), ("207", [also_good, bad]), ("400", [bad])):
            headers, body = encode_http_batch(events)
            answers[name] = await http.post(EVENTS_PATH, headers=headers, content=body)
        assert [a.status_code for a in answers.values()] == [202, 207, 400]
        EventsAnswer.model_validate(answers["202"].json(), strict=False)
        EventsAnswer.model_validate(answers["207"].json(), strict=False)
        refusal = EventsRefusal.model_validate(answers["400"].json())
        assert answers["400"].headers["content-type"] == PROBLEM_CONTENT_TYPE
        assert refusal.reason == "not_responsible" and refusal.results is not None
        assert [r.reason for r in refusal.results] == ["not_responsible"]

        app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
        app.include_router(build_router(h.intake(), max_event_bytes=1024, max_batch_bytes=2048))
        operation = app.openapi()["paths"][EVENTS_PATH]["post"]
        refs = set(re.findall(r"'\$ref': '(/schemas/[^'#]+)", str(operation["requestBody"])))
        agency_types = [t for t in EventType if t is not EventType.CLOCK_TICK]
        assert len(refs) == len(agency_types), refs  # reports, retractions, problem events
        for ref in refs:
            served = await http.get(ref)
            assert served.status_code == 200
            on_disk = ROOT / "docs" / "schemas" / ref.removeprefix("/schemas/")
            assert served.json() == json.loads(on_disk.read_text("utf-8"))
        assert {"207", "400", "403", "413", "429", "503"} <= set(operation["responses"])
        assert (await http.get("/schemas/nope.json")).status_code == 404
