"""What the agency-facing commands (`publish`, `keys`, `template`) say, in Chinese and English.

One catalog: message id -> (zh, en), `str.format` templates with the same fields in both.
`say(id, lang, **fields)` renders one; a `Msg` carries an id and its fields until the language
is known (errors raised deep down, receipt lines). The language: `--lang`, else the locale
(`default_lang`). JSON output never goes through here: it keeps ids and reason codes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from shared.vocabulary import Lang

_CATALOG: Final[dict[str, tuple[str, str]]] = {
    # --- framing
    "error": ("错误：{detail}", "error: {detail}"),
    # --- the catalog and the plan
    "catalog.unreadable": ("无法读取方案目录：{error}", "catalog: {error}"),
    "plan.unknown": ("没有方案 {plan!r}（现有方案：{plans}）", "no plan {plan!r} (plans: {plans})"),
    "plan.which": (
        "方案目录中有多个方案（{plans}），请用 --plan 指定一个",
        "the catalog has several plans ({plans}): name one with --plan",
    ),
    "plan.no_agency": (
        "方案 {plan!r} 中没有单位 {agency!r}",
        "plan {plan!r} has no agency {agency!r}",
    ),
    # --- publish: one event
    "publish.key_file": (
        "{path}：无法读取私钥：{error}",
        "{path}: not a usable private key: {error}",
    ),
    "publish.kafka_settings": (
        "Kafka 设置（KAFKA_*）有误：{error}",
        "Kafka settings (KAFKA_*): {error}",
    ),
    "publish.file_exclusive": (
        "--file 使用表格各行自己的值，不能同时给出 {options}",
        "--file takes the rows' own values, not {options}",
    ),
    "publish.needs_target": (
        "需要 --target 和 --as-of（或用 --file 发送一张表格）",
        "--target and --as-of are required (or --file)",
    ),
    "publish.retract_exclusive": (
        "--retract 不能与 --value 或 --stage 同时使用",
        "--retract takes neither --value nor --stage",
    ),
    "publish.bad_time": (
        "--time {time!r} 不是带时区偏移的 RFC 3339 时间：{error}",
        "--time {time!r} is not an RFC 3339 time with an offset: {error}",
    ),
    "publish.invalid_event": (
        "事件不符合契约：{error}",
        "the event does not fit the contract: {error}",
    ),
    "publish.kafka_access": ("Kafka 拒绝访问：{detail}", "Kafka refused access: {detail}"),
    "publish.kafka_failed": (
        "Kafka（{servers}）未接收该事件：{error}",
        "Kafka at {servers} did not take the event: {error}",
    ),
    "publish.http_failed": (
        "无法连接 ingest（{url}）：{error}",
        "cannot reach ingest at {url}: {error}",
    ),
    "publish.sent": (
        "已发送事件 {id} 至 {topic}（分区 {partition}，偏移量 {offset}）；"
        "ingest 随后校验（--via http 可即时获知结果）",
        "sent event {id} to {topic} (partition {partition}, offset {offset}); "
        "ingest checks it later (--via http answers at once)",
    ),
    "publish.accepted": ("ingest 已受理事件 {id}", "ingest accepted event {id}"),
    "publish.duplicate": (
        "ingest 此前已受理事件 {id}（重复发送，未作任何改变）",
        "ingest had event {id} already (a duplicate: nothing changed)",
    ),
    "publish.rejected": (
        "ingest 拒收事件 {id}：{reason}（{meaning}）：{message}",
        "ingest refused event {id}: {reason} ({meaning}): {message}",
    ),
    "publish.refused": (
        "ingest 拒绝了请求（HTTP {code}）：{detail}",
        "ingest refused the request (HTTP {code}): {detail}",
    ),
    # --- publish --file: the run
    "publish.ledger_unreadable": (
        "无法读取发送记录 {path}：{error}",
        "cannot read the ledger {path}: {error}",
    ),
    "publish.ledger_unwritable": (
        "无法写入发送记录 {path}：{error}；未发送任何内容",
        "cannot write the ledger {path}: {error}; nothing was sent",
    ),
    "publish.rows_invalid": (
        "{rows} 行有错误，未发送任何内容（请改正后重发，或加 --skip-bad 只发送其余各行）",
        "{rows} row(s) with errors; nothing was sent "
        "(fix them, or pass --skip-bad to send the other rows)",
    ),
    "publish.nothing_to_send": ("{name}：没有可发送的报送", "{name}: no report to send"),
    "publish.kafka_later": (
        "已发送至 Kafka：ingest 随后逐行校验（--via http 可逐行即时获知结果）",
        "sent to Kafka: ingest judges the rows later (--via http answers each)",
    ),
    "publish.sending": ("发送中", "sending"),
    "problem.sending": ("问题 {problem}：发送 {type}", "problem {problem}: sending {type}"),
    # --- the receipt
    "receipt.errors_title": ("{name}：错误", "{name}: errors"),
    "receipt.title": ("{name}：回执", "{name}: receipt"),
    "receipt.totals": ("合计：{counts}", "totals: {counts}"),
    "receipt.row": ("行", "row"),
    "receipt.target": ("指标", "target"),
    "receipt.as_of": ("截至日期", "as_of"),
    "receipt.status": ("状态", "status"),
    "receipt.reason": ("原因", "reason"),
    "receipt.message": ("说明", "message"),
    "receipt.explained": ("{meaning}：{message}", "{meaning}: {message}"),
    "receipt.sent_where": (
        "{topic} 分区 {partition} 偏移量 {offset}",
        "{topic} partition {partition} offset {offset}",
    ),
    "status.accepted": ("已受理", "accepted"),
    "status.duplicate": ("重复", "duplicate"),
    "status.rejected": ("拒收", "rejected"),
    "status.sent": ("已发送", "sent"),
    "status.skipped": ("已跳过", "skipped"),
    "status.invalid": ("有误", "invalid"),
    "status.unsent": ("未发送", "unsent"),
    # --- reason codes (docs/contract.md, docs/contract.zh.md), and the file's own
    "reason.malformed": ("不是符合契约的事件", "not an event of the contract"),
    "reason.oversized": ("超出大小限制", "beyond the size limit"),
    "reason.unknown_type": ("契约未定义的事件类型", "a type the contract does not define"),
    "reason.unsigned": ("缺少签名", "not signed"),
    "reason.unknown_key": ("该单位没有此密钥", "the agency has no such key"),
    "reason.revoked_key": ("密钥已吊销", "the key is revoked"),
    "reason.bad_signature": ("签名校验不通过", "the signature does not check out"),
    "reason.unknown_plan": ("目录中没有此方案", "no such plan in the catalog"),
    "reason.unknown_target": ("方案中没有此指标", "no such target in the plan"),
    "reason.unknown_agency": ("方案中没有此单位", "no such agency in the plan"),
    "reason.not_responsible": (
        "该单位不是此指标的责任单位",
        "the agency is not responsible for it",
    ),
    "reason.not_reporter": (
        "该单位不是此指标的总体报送单位（请填写 scope）",
        "the agency is not a headline reporter of the target (give a scope)",
    ),
    "reason.unknown_scope": ("scope 不是方案的细分单元", "the scope is not a breakdown unit"),
    "reason.not_coordinator": (
        "只有方案的牵头协调单位才能确认、批注或办结问题",
        "only the plan's coordinator acknowledges, comments on or resolves a problem",
    ),
    "reason.value_out_of_range": ("数值超出范围或阶段未知", "value out of range, or unknown stage"),
    "reason.unit_mismatch": (
        "单位或报送类型与指标不符",
        "the unit or kind does not fit the target",
    ),
    "reason.as_of_out_of_range": (
        "as_of 超出方案期限或晚于报送时间",
        "as_of outside the plan's period or after the time",
    ),
    "reason.time_in_future": ("报送时间晚于平台时钟", "the time is after the platform's clock"),
    "reason.conflict": ("同一 id 已以不同内容受理过", "the id was accepted with other content"),
    "reason.repeated": ("表格中重复", "repeated in the file"),
    # --- a sheet's cells and rows (planwatch.publish_file)
    "cell.not_text": ("{column}：{value!r} 不是文本", "{column}: {value!r} is not text"),
    "cell.as_of_empty": ("as_of 为空", "as_of is empty"),
    "cell.as_of_time": ("as_of {value} 是时刻，不是日期", "as_of {value} is a time, not a day"),
    "cell.as_of_form": (
        "as_of {value!r} 不是 YYYY-MM-DD 格式的日期",
        "as_of {value!r} is not a date of the form YYYY-MM-DD",
    ),
    "cell.as_of_not_date": ("as_of {value!r} 不是日期", "as_of {value!r} is not a date"),
    "cell.percent_format": (
        "value 在表格中设置了百分比格式（72.5% 实际存为 0.725）：请直接输入数字，例如 72.5",
        "value is formatted as a percentage in the sheet (72.5 % is stored as 0.725): "
        "type the percent as a plain number, e.g. 72.5",
    ),
    "cell.not_number": ("value {value!r} 不是数字", "value {value!r} is not a number"),
    "cell.not_decimal": (
        "value {value!r} 不是普通的十进制数字",
        "value {value!r} is not a plain decimal number",
    ),
    "cell.not_decimal_percent": (
        "value {value!r} 不是普通的十进制数字（百分数请直接输入数字，例如 72.5）",
        "value {value!r} is not a plain decimal number "
        "(type the percent as a plain number, e.g. 72.5)",
    ),
    "cell.not_finite": ("value {value!r} 不是有限数值", "value {value!r} is not a finite number"),
    "cell.unnamed": (
        "第 {column} 列有值，但第 1 行没有该列的列名",
        "column {column} has a value but no column name in row 1",
    ),
    "cell.target_empty": ("target 为空", "target is empty"),
    "row.repeated": (
        "{target} 截至 {as_of} 的报送已在第 {earlier} 行：每个指标、细分单元和日期只报送一次",
        "{target} as of {as_of} is reported in row {earlier} already: "
        "one report per target, scope and day",
    ),
    "row.repeated_scoped": (
        "{target}（{scope}）截至 {as_of} 的报送已在第 {earlier} 行："
        "每个指标、细分单元和日期只报送一次",
        "{target} for {scope} as of {as_of} is reported in row {earlier} already: "
        "one report per target, scope and day",
    ),
    # --- a sheet as a whole (planwatch.sheets)
    "sheet.suffix": (
        "{name}：只接受 .csv 或 .xlsx 文件，不接受 {suffix}",
        "{name}: takes a .csv or .xlsx file, not {suffix}",
    ),
    "sheet.no_suffix": (
        "{name}：只接受 .csv 或 .xlsx 文件（此文件没有扩展名）",
        "{name}: takes a .csv or .xlsx file, not no suffix",
    ),
    "sheet.unreadable": ("{path}：无法读取：{error}", "{path}: cannot read: {error}"),
    "sheet.too_big": (
        "{name} 大小为 {size:.1f} MiB，上限为 {limit} MiB：请拆分为多个文件",
        "{name} is {size:.1f} MiB; the limit is {limit} MiB: split it into several files",
    ),
    "sheet.no_header": (
        "第 1 行必须是列名：{columns}",
        "row 1 must hold the column names: {columns}",
    ),
    "sheet.unknown_columns": (
        "第 1 行有未知的列 {unknown}（可用的列：{columns}）",
        "unknown column(s) {unknown} in row 1 (the columns: {columns})",
    ),
    "sheet.repeated_columns": (
        "第 1 行中列 {columns} 出现了不止一次",
        "column(s) {columns} appear more than once in row 1",
    ),
    "sheet.missing_columns": ("第 1 行缺少列 {columns}", "row 1 lacks the column(s) {columns}"),
    "sheet.no_value_column": (
        "第 1 行需要 `value` 列或 `stage` 列（或两者都有）",
        "row 1 needs a `value` column, a `stage` column, or both",
    ),
    "sheet.too_many_rows": (
        "超过 {limit} 行（含空行）",
        "more than {limit} rows (blank ones included)",
    ),
    "sheet.too_many_reports": (
        "超过 {limit} 条报送：请拆分为多个文件",
        "more than {limit} reports: split the file into several",
    ),
    "sheet.not_utf8": (
        "{name} 不是 UTF-8 文本（第 {byte} 字节）：请另存为“CSV UTF-8”",
        "{name} is not UTF-8 text (byte {byte}): save it as CSV UTF-8",
    ),
    "sheet.empty": ("{name} 是空文件", "{name} is empty"),
    "sheet.bad_csv": (
        "{name}：第 {line} 行附近不是有效的 CSV：{error}",
        "{name}: not valid CSV near line {line}: {error}",
    ),
    "sheet.not_xlsx": (
        "{name} 不是 Excel 工作簿（.xlsx）：{error}",
        "{name} is not an Excel workbook (.xlsx): {error}",
    ),
    "sheet.unpacked_too_big": (
        "{name} 解压后为 {size:.0f} MiB，上限为 {limit} MiB",
        "{name} unpacks to {size:.0f} MiB; the limit is {limit} MiB",
    ),
    "sheet.unreadable_xlsx": (
        "{name} 不是可读取的 Excel 工作簿：{error}",
        "{name} is not a readable Excel workbook: {error}",
    ),
    "sheet.which_sheet": (
        "{name} 有多个工作表（{titles}），但没有名为 {sheet!r} 的工作表",
        "{name} has several sheets ({titles}) and none is named {sheet!r}",
    ),
    "sheet.empty_sheet": ("{name}：工作表 {title!r} 为空", "{name}: sheet {title!r} is empty"),
    "sheet.unreadable_sheet": (
        "{name}：无法读取该工作表：{error}",
        "{name}: cannot read the sheet: {error}",
    ),
    # --- template
    "template.no_targets": (
        "单位 {agency!r} 在方案 {plan!r} 中没有需要报送的指标",
        "{agency!r} reports on no target of plan {plan!r}",
    ),
    "template.suffix": (
        "{name}：只能写 .xlsx 或 .csv 文件，不能写 {suffix}",
        "{name}: writes a .xlsx or .csv file, not {suffix}",
    ),
    "template.no_suffix": (
        "{name}：只能写 .xlsx 或 .csv 文件（此文件名没有扩展名）",
        "{name}: writes a .xlsx or .csv file, not no suffix",
    ),
    "template.unwritable": ("无法写入 {path}：{error}", "cannot write {path}: {error}"),
    "template.next": (
        "填写 reports 工作表后发送：planwatch publish --agency {agency} "
        "--key-id KEY --key-file KEY.pem --file {path}",
        "fill in the reports sheet, then send it: planwatch publish --agency {agency} "
        "--key-id KEY --key-file KEY.pem --file {path}",
    ),
    # --- keys
    "keys.bad_agency": ("{agency!r} 不是单位 id", "{agency!r} is not an agency id"),
    "keys.bad_key_id": (
        "{key_id!r}：只能包含字母、数字、'.'、'_'、'-'，最多 64 个字符",
        "{key_id!r}: letters, digits, '.', '_', '-', at most 64",
    ),
    "keys.exists": ("{path} 已存在；不会覆盖密钥", "{path} exists; not overwriting a key"),
    "keys.private_key": ("私钥：{path}（请妥善保密）", "private key: {path} (keep it secret)"),
    "keys.registry_entry": (
        "登记条目：{path}（交平台登记：planwatch keyring register --entry {path}）",
        "registry entry: {path} (for the platform: planwatch keyring register --entry {path})",
    ),
    "keys.clock_key": (
        "私钥：{path}（请妥善保密；密钥 id {kid}）",
        "private key: {path} (keep it secret; key id {kid})",
    ),
}

#: id -> {zh, en}: the catalog, read-only.
MESSAGES: Final[Mapping[str, Mapping[Lang, str]]] = MappingProxyType(
    {key: MappingProxyType({Lang.ZH: zh, Lang.EN: en}) for key, (zh, en) in _CATALOG.items()}
)


def say(message_id: str, lang: Lang, /, **fields: object) -> str:
    """The message in `lang`; KeyError for an id the catalog does not have."""
    return MESSAGES[message_id][lang].format(**fields)


@dataclass(frozen=True, slots=True)
class Msg:
    """A message whose language is chosen later: its id and format fields."""

    id: str
    fields: Mapping[str, object] = field(default_factory=dict)

    def render(self, lang: Lang) -> str:
        return say(self.id, lang, **self.fields)

    def __str__(self) -> str:
        return self.render(Lang.EN)


def msg(message_id: str, /, **fields: object) -> Msg:
    return Msg(message_id, fields)


class MessageError(ValueError):
    """An error whose message is in the catalog: str() is English, `.text` any language."""

    def __init__(self, message_id: str, /, **fields: object) -> None:
        self.text = Msg(message_id, fields)
        super().__init__(str(self.text))


def reason_meaning(reason: str, lang: Lang) -> str:
    """A reason code's meaning; the code itself if the catalog does not know it."""
    key = f"reason.{reason}"
    return say(key, lang) if key in MESSAGES else reason


def default_lang(environ: Mapping[str, str] | None = None) -> Lang:
    """The locale's language as POSIX orders it (LC_ALL, LC_MESSAGES, LANG: the first set):
    English if it starts with `en`, else Chinese (the agencies' clerks read Chinese)."""
    env = os.environ if environ is None else environ
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(name)
        if value:
            return Lang.EN if value.lower().startswith("en") else Lang.ZH
    return Lang.ZH
