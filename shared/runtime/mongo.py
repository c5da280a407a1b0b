"""The MongoDB client (PyMongo's native async API; Motor is deprecated) and error classification."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from shared.runtime.settings import MongoSettings

Document = dict[str, Any]

TRANSIENT_MONGO_ERRORS: tuple[type[BaseException], ...] = (
    AutoReconnect,
    ConnectionFailure,
    ExecutionTimeout,
    NetworkTimeout,
    ServerSelectionTimeoutError,
    WTimeoutError,
)


def is_transient_mongo(exc: BaseException) -> bool:
    """A server that cannot answer now: unreachable, or FerretDB's SQLite busy under concurrent
    writes ("database is locked", surfaced as a plain OperationFailure)."""
    if isinstance(exc, TRANSIENT_MONGO_ERRORS):
        return True
    return isinstance(exc, OperationFailure) and "database is locked" in str(exc)


def make_client(settings: MongoSettings) -> AsyncMongoClient[Document]:
    return AsyncMongoClient(
        settings.uri.get_secret_value(),
        serverSelectionTimeoutMS=settings.server_selection_timeout_ms,
        connectTimeoutMS=settings.server_selection_timeout_ms,
        socketTimeoutMS=settings.socket_timeout_ms,
        tz_aware=True,
        appname="planwatch",
    )


def database(
    client: AsyncMongoClient[Document], settings: MongoSettings
) -> AsyncDatabase[Document]:
    return client[settings.database]


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")


async def next_epoch(collection: AsyncCollection[Document], partition: int) -> int:
    """The next fencing epoch of a partition (`_id` "partition:<n>", +1 per call): taken by the
    replica Kafka assigns the partition, stamped on what it then writes for it."""
    doc = await collection.find_one_and_update(
        {"_id": f"partition:{partition}"},
        {"$inc": {"epoch": 1}},
        upsert=True,
        return_document=ReturnDocument.AFTER,
    )
    assert doc is not None  # an upsert returning the document after it
    return int(doc["epoch"])
