"""The agency-facing commands speak Chinese or English (planwatch.messages): the catalog is
complete in both, `--lang` or the locale picks one, and JSON output is the same in either."""

from __future__ import annotations

import json
import string
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from planwatch import publish_cli, publish_file_cli
from planwatch.keys_cli import keys_app
from planwatch.messages import MESSAGES, Msg, default_lang, say
from planwatch.publish_cli import publish_app
from planwatch.publish_send import SignedRow
from planwatch.receipt import ReceiptLine, RowStatus
from shared.contract.keys import private_key_pem
from shared.contract.reasons import Reason
from shared.vocabulary import Lang
from tests.unit.ingest_support import private_key

AGENCY = "qy.gov-data"


def _fields(template: str) -> set[tuple[str, str | None, str | None]]:
    return {
        (name, conversion, spec)
        for _, name, spec, conversion in string.Formatter().parse(template)
        if name is not None
    }


@pytest.mark.parametrize("message_id", sorted(MESSAGES))
def test_each_message_has_both_languages_with_the_same_fields(message_id: str) -> None:
    zh, en = MESSAGES[message_id][Lang.ZH], MESSAGES[message_id][Lang.EN]
    assert zh.strip() and en.strip()
    assert _fields(zh) == _fields(en)
    assert any(ord(c) >= 0x3000 for c in zh)  # Chinese, not a copy of the English


def test_every_reason_code_has_a_meaning() -> None:
    for reason in Reason:
        assert f"reason.{reason.value}" in MESSAGES


def test_a_deferred_message_is_english_as_a_string() -> None:
    text = Msg("keys.exists", {"path": "a.pem"})
    assert str(text) == "a.pem exists; not overwriting a key"
    assert text.render(Lang.ZH) == say("keys.exists", Lang.ZH, path="a.pem")


@pytest.mark.parametrize(
    ("environ", "lang"),
    [
        ({}, Lang.ZH),
        ({"LANG": "C.UTF-8"}, Lang.ZH),
        ({"LANG": "zh_CN.UTF-8"}, Lang.ZH),
        ({"LANG": "en_US.UTF-8"}, Lang.EN),
        ({"LANG": "zh_CN.UTF-8", "LC_ALL": "en_GB.UTF-8"}, Lang.EN),
        ({"LANG": "en_US.UTF-8", "LC_MESSAGES": "zh_CN.UTF-8"}, Lang.ZH),
        ({"LANG": "en_US.UTF-8", "LC_ALL": ""}, Lang.EN),  # empty: not set
    ],
)
def test_the_default_language_follows_the_locale(environ: dict[str, str], lang: Lang) -> None:
    assert default_lang(environ) is lang


# --- publish through the command line ---------------------------------------------------------


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "key.pem"
    path.write_bytes(private_key_pem(private_key(AGENCY)))
    return path


def _publish(key_file: Path, *args: str) -> Any:
    common = ["--agency", AGENCY, "--key-id", "k1", "--key-file", str(key_file)]
    return CliRunner().invoke(publish_app, [*common, *args])


def test_a_refusal_in_zh_and_en(key_file: Path) -> None:
    zh = _publish(key_file, "--target", "gov.mobile-services", "--lang", "zh")
    assert zh.exit_code == 2
    assert zh.stderr.strip() == "错误：需要 --target 和 --as-of（或用 --file 发送一张表格）"
    en = _publish(key_file, "--target", "gov.mobile-services", "--lang", "en")
    assert en.exit_code == 2
    assert en.stderr.strip() == "error: --target and --as-of are required (or --file)"


def test_without_lang_the_locale_decides(key_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    assert "are required" in _publish(key_file, "--target", "t").stderr
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert "需要" in _publish(key_file, "--target", "t").stderr


def _answer(results: list[dict[str, Any]]) -> Any:
    async def send_http(event: Any, url: str, mode: Any, timeout_s: float) -> Any:
        assert url == "http://ingest.test/v1/events"  # the base URL, with the path added
        return (202 if results[0]["status"] != "rejected" else 400), {"results": results}

    return send_http


ONE = ["--target", "gov.mobile-services", "--as-of", "2022-03-31", "--value", "72.5"]
HTTP = ["--via", "http", "--url", "http://ingest.test", "--event-id", "e1"]


def test_the_receipt_of_one_event_in_zh_and_en(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish_cli, "send_http", _answer([{"id": "e1", "status": "accepted"}]))
    zh = _publish(key_file, *ONE, *HTTP, "--lang", "zh")
    assert zh.exit_code == 0, zh.output
    assert zh.stdout.strip() == "ingest 已受理事件 e1"
    en = _publish(key_file, *ONE, *HTTP, "--lang", "en")
    assert en.stdout.strip() == "ingest accepted event e1"

    refused = [{"id": "e1", "status": "rejected", "reason": "bad_signature", "message": "m"}]
    monkeypatch.setattr(publish_cli, "send_http", _answer(refused))
    zh = _publish(key_file, *ONE, *HTTP, "--lang", "zh")
    assert zh.exit_code == 1
    assert zh.stdout.strip() == "ingest 拒收事件 e1：bad_signature（签名校验不通过）：m"
    en = _publish(key_file, *ONE, *HTTP, "--lang", "en")
    assert en.stdout.strip() == (
        "ingest refused event e1: bad_signature (the signature does not check out): m"
    )


def test_json_output_is_the_same_in_both_languages(
    key_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish_cli, "send_http", _answer([{"id": "e1", "status": "accepted"}]))
    outputs = {
        _publish(key_file, *ONE, *HTTP, "--format", "json", "--lang", lang).stdout
        for lang in ("zh", "en")
    }
    [line] = outputs
    assert json.loads(line) == {
        "id": "e1",
        "via": "http",
        "status_code": 202,
        "results": [{"id": "e1", "status": "accepted"}],
    }


SHEET = (
    "target,as_of,value\n"
    "gov.mobile-services,2022-03-31,72.5\n"
    "gov.online-services,2022-03-31,65%\n"  # a percent sign: the row is skipped
)


async def _accept_all(rows: Sequence[SignedRow], url: str, **kwargs: Any) -> list[ReceiptLine]:
    return [
        ReceiptLine(
            row.row,
            RowStatus.ACCEPTED,
            event_id=row.event.id,
            target=row.event.data.target,
            as_of=row.event.data.as_of.isoformat(),
        )
        for row in rows
    ]


def test_the_receipt_of_a_sheet_in_zh_and_en(
    key_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(publish_file_cli, "send_http", _accept_all)
    sheet = tmp_path / "r.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    args = ["--file", str(sheet), "--skip-bad", "--via", "http", "--url", "http://ingest.test"]
    args += ["--ledger", str(tmp_path / "sent.jsonl")]
    zh = _publish(key_file, *args, "--lang", "zh")
    assert zh.exit_code == 0, zh.output
    for text in (
        "r.csv：回执",
        "截至日期",
        "已受理",
        "已跳过",
        "不是普通的十进制数字",
        "合计：已受理 1",
    ):
        assert text in zh.stdout, text
    en = _publish(key_file, *args, "--lang", "en")
    for text in ("r.csv: receipt", "as_of", "accepted", "skipped", "not a plain decimal number"):
        assert text in en.stdout, text
    assert "totals: accepted 1, skipped 1" in en.stdout

    as_json = {
        _publish(key_file, *args, "--format", "json", "--lang", lang).stdout
        for lang in ("zh", "en")
    }
    [lines] = as_json
    skipped = json.loads(lines.splitlines()[1])
    assert skipped["reason"] == "malformed"
    assert skipped["message"] == (
        "value '65%' is not a plain decimal number (type the percent as a plain number, e.g. 72.5)"
    )


def test_a_sheet_with_errors_is_refused_in_zh(key_file: Path, tmp_path: Path) -> None:
    sheet = tmp_path / "r.csv"
    sheet.write_text(SHEET, encoding="utf-8")
    result = _publish(key_file, "--file", str(sheet), "--lang", "zh")
    assert result.exit_code == 1
    assert "r.csv：错误" in result.stdout and "有误" in result.stdout
    assert "1 行有错误，未发送任何内容" in result.stderr
    bad = tmp_path / "r.txt"
    bad.write_text(SHEET, encoding="utf-8")
    refused = _publish(key_file, "--file", str(bad), "--lang", "zh")
    assert refused.exit_code == 2
    assert refused.stderr.strip() == "错误：r.txt：只接受 .csv 或 .xlsx 文件，不接受 .txt"


def test_keys_speak_both_languages(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["generate", "--agency", AGENCY, "--key-id", "k1", "--out", str(tmp_path)]
    zh = runner.invoke(keys_app, [*args, "--lang", "zh"])
    assert zh.exit_code == 0, zh.output
    assert "私钥：" in zh.stderr and "请妥善保密" in zh.stderr
    again = runner.invoke(keys_app, [*args, "--lang", "en"])
    assert again.exit_code == 1
    assert again.stderr.strip().endswith("exists; not overwriting a key")
    refused = runner.invoke(keys_app, ["generate", "--agency", "a b", "--lang", "zh"])
    assert refused.exit_code == 2 and "'a b' 不是单位 id" in refused.stderr
