"""Integration fixtures: the real Kafka and FerretDB, brought up once per test session.

If `KAFKA_BOOTSTRAP_SERVERS` / `MONGODB_URI` are set those servers are used; otherwise the local
ones are started (reused if already up, e.g. after `make infra-up`). Servers this session started
are stopped at its end, unless `PLANWATCH_KEEP_INFRA=1`. Tests isolate themselves with the unique
topic / group / database names below instead of restarting anything.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from planwatch.infra import ports
from planwatch.infra.manager import Endpoints, down, ensure_up
from planwatch.infra.settings import InfraSettings

MongoDoc = dict[str, Any]


def _report(message: str) -> None:
    print(f"[infra] {message}", file=sys.stderr, flush=True)


@pytest.fixture(scope="session")
def infra_settings() -> InfraSettings:
    """The settings the session's servers were resolved from (environment)."""
    return InfraSettings()


@pytest_asyncio.fixture(scope="session")
async def infra(infra_settings: InfraSettings) -> AsyncIterator[Endpoints]:
    """Kafka and FerretDB answering for the whole session; yields their endpoints."""
    endpoints = await ensure_up(infra_settings, report=_report)
    yield endpoints
    if endpoints.started and os.environ.get("PLANWATCH_KEEP_INFRA") != "1":
        down(infra_settings, endpoints.started)


@pytest.fixture(scope="session")
def kafka_bootstrap(infra: Endpoints) -> str:
    """Bootstrap servers of the session's Kafka, e.g. "127.0.0.1:9092"."""
    return infra.kafka_bootstrap


@pytest.fixture(scope="session")
def mongodb_uri(infra: Endpoints) -> str:
    """URI of the session's FerretDB (or MongoDB), e.g. "mongodb://127.0.0.1:27017/"."""
    return infra.mongodb_uri


@pytest.fixture
def unique_id() -> str:
    """16 hex characters, different for every test."""
    return uuid.uuid4().hex[:16]


@pytest.fixture
def topic_name(unique_id: str) -> str:
    """A topic name no other test uses (not created: use shared.kafka_admin.ensure_topics)."""
    return f"test.{unique_id}"


@pytest.fixture
def group_id(unique_id: str) -> str:
    """A consumer group id no other test uses."""
    return f"test-group-{unique_id}"


@pytest.fixture
def db_name(unique_id: str) -> str:
    """A database name no other test uses (latin letters, digits, underscore)."""
    return f"test_{unique_id}"


@pytest_asyncio.fixture
async def mongo_client(mongodb_uri: str) -> AsyncIterator[AsyncMongoClient[MongoDoc]]:
    """An AsyncMongoClient for this test, closed afterwards."""
    client: AsyncMongoClient[MongoDoc] = AsyncMongoClient(
        mongodb_uri, serverSelectionTimeoutMS=10_000, tz_aware=True
    )
    try:
        yield client
    finally:
        await client.close()


@pytest_asyncio.fixture
async def mongo_db(
    mongo_client: AsyncMongoClient[MongoDoc], db_name: str
) -> AsyncIterator[AsyncDatabase[MongoDoc]]:
    """The test's own database, dropped afterwards."""
    yield mongo_client[db_name]
    await mongo_client.drop_database(db_name)


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (below the ephemeral range)."""
    return ports.free_port()
