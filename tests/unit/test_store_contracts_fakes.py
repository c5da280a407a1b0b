"""The key repository and audit log contracts against their in-memory fakes."""

from __future__ import annotations

import pytest

from services.ingest.keyring import InMemoryKeyRepository
from shared.runtime.audit import InMemoryAuditLog
from tests.unit.audit_log_contract import AuditLogContract
from tests.unit.key_repository_contract import KeyRepositoryContract


class TestInMemoryKeyRepository(KeyRepositoryContract):
    @pytest.fixture
    def repository(self) -> InMemoryKeyRepository:
        return InMemoryKeyRepository()


class TestInMemoryAuditLog(AuditLogContract):
    @pytest.fixture
    def audit(self) -> InMemoryAuditLog:
        return InMemoryAuditLog()
