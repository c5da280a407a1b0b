"""`planwatch publish --file` against ingest's HTTP door (in-process, real Kafka and FerretDB):
a sheet with good and bad rows (a county's figure among them) gets a receipt per row, and
sending it again gives only duplicates and stores nothing new."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from planwatch.publish_file import RowReport, row_event_id
from shared.contract.codec import encode_http_structured
from shared.contract.events import new_report
from shared.contract.keys import private_key_pem
from shared.contract.signing import sign
from shared.runtime.auth import EVENTS_WRITE
from tests.integration.auth_support import headers as auth_headers
from tests.integration.auth_support import token
from tests.integration.ingest_support import (
    Setup,
    free_tcp_port,
    metric_value,
    planwatch_cli,
    running_ingest,
    wait_for_count,
    write_keys_file,
)
from tests.unit.ingest_support import PLAN, private_key

pytestmark = pytest.mark.integration

MongoDoc = dict[str, Any]
AGENCY = "qy.gov-data"

SHEET = (
    "target,as_of,value,stage,scope,note,evidence\n"
    "gov.mobile-services,2022-03-31,72.5,,,掌上办 Q1,https://example.gov.cn/q1\n"  # 2 accepted
    "gov.nothing,2022-03-31,5,,,,\n"  # 3 skipped here: unknown target
    "gov.data-platform,2022-03-31,,planned,,,\n"  # 4 accepted
    "gov.online-services,2022-03-31,170,,,,\n"  # 5 skipped here: out of range
    "gov.online-services,2022-02-28,60,,,,\n"  # 6 refused by ingest: conflict (sent before)
    "gov.smart-governance,2022-03-31,,planned,qingcheng,,\n"  # 7 skipped here: unknown scope
    "gov.mobile-services,2022-03-31,70,,county.yingde,,\n"  # 8 accepted: a county's figure
)


@pytest.fixture
def setup(tmp_path: Path, kafka_bootstrap: str, mongodb_uri: str, unique_id: str) -> Setup:
    keys_file = write_keys_file(tmp_path / "keys.jsonl")
    return Setup(kafka_bootstrap, mongodb_uri, unique_id, keys_file, free_tcp_port())


@pytest.fixture
async def client(mongodb_uri: str, setup: Setup) -> Any:
    mongo: AsyncMongoClient[MongoDoc] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    yield mongo
    await mongo.drop_database(setup.database)
    await mongo.close()


async def _publish(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return await planwatch_cli(["publish", *args], env)


def _receipt(stdout: str) -> tuple[dict[int, tuple[str, str | None]], dict[str, int]]:
    """(row -> (status, reason)) and the totals, from the JSON lines."""
    lines = [json.loads(line) for line in stdout.splitlines() if line.strip()]
    rows = {line["row"]: (line["status"], line.get("reason")) for line in lines[:-1]}
    return rows, lines[-1]["totals"]


async def _send_elsewhere_first(base_url: str) -> None:
    """Row 6's event, sent before with another report time (as from a machine whose ledger
    is not this one): the same id with other content, which ingest refuses as a conflict."""
    row = RowReport(6, "gov.online-services", date(2022, 2, 28), value=60.0)
    event = new_report(
        agency=AGENCY,
        plan=PLAN,
        target=row.target,
        as_of=row.as_of,
        time=datetime(2022, 3, 1, 9, 0, tzinfo=UTC),
        value=row.value,
        event_id=row_event_id(AGENCY, PLAN, row),
    )
    headers, body = encode_http_structured(sign(event, private_key(AGENCY), "k1"))
    token = auth_headers(EVENTS_WRITE, agency=AGENCY)
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{base_url}/v1/events", headers={**headers, **token}, content=body
        )
    assert response.status_code == 202, response.text


async def test_a_sheet_gets_a_receipt_per_row_and_a_second_send_only_duplicates(
    setup: Setup, client: AsyncMongoClient[MongoDoc], tmp_path: Path
) -> None:
    await setup.create_topics()
    sheet = tmp_path / "reports.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(private_key_pem(private_key(AGENCY)))
    env = {**setup.environment(), "PLANWATCH_TOKEN": token(EVENTS_WRITE, agency=AGENCY)}
    reports = client[setup.database]["reports"]

    async with running_ingest(setup.settings()) as base_url:
        args = ["--agency", AGENCY, "--key-id", "k1", "--key-file", str(key_file)]
        args += ["--file", str(sheet), "--via", "http", "--url", base_url]
        args += ["--ledger", str(tmp_path / "sent.jsonl"), "--lang", "en"]
        as_json = [*args, "--format", "json"]

        checked_only = await _publish(as_json, env)  # errors: nothing is sent
        assert checked_only.returncode == 1
        rows, totals = _receipt(checked_only.stdout)
        assert totals == {"invalid": 3}
        assert rows == {
            3: ("invalid", "unknown_target"),
            5: ("invalid", "value_out_of_range"),
            7: ("invalid", "unknown_scope"),
        }
        assert "nothing was sent" in checked_only.stderr

        await _send_elsewhere_first(base_url)
        assert await wait_for_count(client, setup.database, 1) == 1

        first = await _publish([*as_json, "--skip-bad"], env)
        assert first.returncode == 1, first.stderr  # row 6 was rejected
        rows, totals = _receipt(first.stdout)
        assert rows == {
            2: ("accepted", None),
            3: ("skipped", "unknown_target"),
            4: ("accepted", None),
            5: ("skipped", "value_out_of_range"),
            6: ("rejected", "conflict"),
            7: ("skipped", "unknown_scope"),
            8: ("accepted", None),
        }
        assert totals == {"accepted": 3, "rejected": 1, "skipped": 3}
        assert await wait_for_count(client, setup.database, 4) == 4
        stored = {doc["_id"]: doc async for doc in reports.find({})}

        second = await _publish([*as_json, "--skip-bad"], env)
        rows, totals = _receipt(second.stdout)
        assert {row: rows[row] for row in (2, 4, 6, 8)} == {
            2: ("duplicate", None),
            4: ("duplicate", None),
            6: ("rejected", "conflict"),
            8: ("duplicate", None),
        }
        assert totals == {"duplicate": 3, "rejected": 1, "skipped": 3}

        table = await _publish([*args, "--skip-bad"], env)  # the table form, once more
        assert "duplicate" in table.stdout and "conflict" in table.stdout
        assert "totals: duplicate 3, rejected 1, skipped 3" in table.stdout

    assert {doc["_id"]: doc async for doc in reports.find({})} == stored
    values = sorted(
        (doc["target"], doc.get("scope") or "", doc.get("value")) for doc in stored.values()
    )
    assert values == [
        ("gov.data-platform", "", 1.0),
        ("gov.mobile-services", "", 72.5),
        ("gov.mobile-services", "county.yingde", 70.0),
        ("gov.online-services", "", 60.0),
    ]


async def test_via_kafka_rows_are_sent_and_ingest_judges_them_later(
    setup: Setup, client: AsyncMongoClient[MongoDoc], tmp_path: Path
) -> None:
    await setup.create_topics()
    sheet = tmp_path / "reports.csv"
    sheet.write_text(
        "target,as_of,value,stage\n"
        "gov.mobile-services,2022-03-31,72.5,\n"
        "gov.data-platform,2022-03-31,,planned\n",
        encoding="utf-8",
    )
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(private_key_pem(private_key(AGENCY)))
    args = ["--agency", AGENCY, "--key-id", "k1", "--key-file", str(key_file)]
    args += ["--format", "json", "--lang", "en"]
    args += ["--file", str(sheet), "--topic", setup.input_topic, "--bootstrap", setup.bootstrap]
    args += ["--ledger", str(tmp_path / "sent.jsonl")]
    duplicates = ("planwatch_ingest_events_duplicate_total", {"door": "kafka"})

    async with running_ingest(setup.settings()):
        first = await _publish(args, setup.environment())
        assert first.returncode == 0, first.stderr
        rows, totals = _receipt(first.stdout)
        assert rows == {2: ("sent", None), 3: ("sent", None)} and totals == {"sent": 2}
        assert "ingest judges the rows later" in first.stderr
        assert await wait_for_count(client, setup.database, 2) == 2

        second = await _publish(args, setup.environment())
        assert _receipt(second.stdout)[1] == {"sent": 2}
        for _ in range(600):  # ingest's verdict on the re-send: two duplicates
            if await metric_value(setup.management_url, *duplicates) >= 2:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the re-sent rows were never judged duplicates")
    assert await client[setup.database]["reports"].count_documents({}) == 2
