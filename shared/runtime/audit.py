"""An append-only audit log in MongoDB: who (the token's subject), when, what (action, object,
details). Silence changes (notify) and key administration (ingest) write it; entries are never
updated. The request's token is never part of an entry."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel, Field
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from shared.runtime.mongo import Document


class AuditLog(Protocol):
    async def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
    ) -> None: ...

    async def entries(self, limit: int = 100) -> list[Document]: ...


class AuditEntry(BaseModel):
    """One audit-log entry as the admin APIs answer it (newest first)."""

    id: str
    at: str = Field(description="ISO 8601 instant")
    actor: str = Field(description="The token's subject")
    action: str
    subject: str
    details: dict[str, Any]


def audit_entry(
    actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
) -> Document:
    return {
        "_id": str(uuid.uuid4()),
        "at": at.isoformat(),
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": dict(details),
    }


class MongoAuditLog:
    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._collection = collection

    async def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
    ) -> None:
        await self._collection.insert_one(audit_entry(actor, action, subject, details, at))

    async def entries(self, limit: int = 100) -> list[Document]:
        """The latest entries, newest first (without MongoDB's `_id`: `id`)."""
        cursor = self._collection.find({}).sort("at", DESCENDING).limit(limit)
        return [{"id": doc.pop("_id"), **doc} async for doc in cursor]


class InMemoryAuditLog:
    def __init__(self) -> None:
        self.items: list[Document] = []

    async def record(
        self, actor: str, action: str, subject: str, details: Mapping[str, Any], at: datetime
    ) -> None:
        self.items.append(audit_entry(actor, action, subject, details, at))

    async def entries(self, limit: int = 100) -> list[Document]:
        newest = sorted(self.items, key=lambda d: str(d["at"]), reverse=True)[:limit]
        return [{"id": d["_id"], **{k: v for k, v in d.items() if k != "_id"}} for d in newest]
