"""The MongoDB client (PyMongo's native async API; Motor is deprecated) and error classification."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    AutoReconnect,
    ConnectionFailure,
    DuplicateKeyError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from shared.runtime.settings import MongoSettings

Document = dict[str, Any]
T = TypeVar("T")

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
    return AsyncMongoClient(settings.uri.get_secret_value(), **settings.client_kwargs())


def database(
    client: AsyncMongoClient[Document], settings: MongoSettings
) -> AsyncDatabase[Document]:
    return client[settings.database]


async def ping(client: AsyncMongoClient[Document]) -> None:
    await client.admin.command("ping")


async def next_epoch(collection: AsyncCollection[Document], partition: int) -> int:
    """The next fencing epoch of a partition (`_id` "partition:<n>", +1 per call): taken by the
    replica Kafka assigns the partition, stamped on what it then writes for it."""
    doc = await upsert_racing(
        lambda: collection.find_one_and_update(
            {"_id": f"partition:{partition}"},
            {"$inc": {"epoch": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    )
    assert doc is not None  # an upsert returning the document after it
    return int(doc["epoch"])


async def upsert_racing(operation: Callable[[], Awaitable[T]]) -> T:
    """Run an upsert, once more if it lost a race: two writers upserting one new `_id` at once
    can both try the insert, and the loser gets E11000 (MongoDB retries that itself, FerretDB
    does not). Its second try finds the document there and updates it, or, where the upsert's
    filter has a condition the document fails, raises DuplicateKeyError again."""
    try:
        return await operation()
    except DuplicateKeyError:
        return await operation()


async def replace_upsert(collection: AsyncCollection[Document], key: str, doc: Document) -> None:
    """Replace document `key`, creating it if absent, safe against a concurrent creation."""
    await upsert_racing(lambda: collection.replace_one({"_id": key}, doc, upsert=True))
