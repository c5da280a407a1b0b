"""Bilingual (Chinese first, then English) renderings of a notification, from the alerts'
annotations: markdown for the chat robots, plain text and HTML for e-mail."""

from __future__ import annotations

import html

from services.notify.domain.alert import Alert
from services.notify.domain.payloads.data import NotificationData

_SEVERITY_ZH = {"critical": "严重", "warning": "警告", "info": "提示"}
_STATUS_ZH = {"firing": "告警", "resolved": "已恢复"}


def _line_zh_en(alert: Alert) -> tuple[str, str]:
    a = alert.annotations
    zh = a.get("summary_zh") or a.get("description_zh") or alert.labels.get("alertname", "")
    en = a.get("summary_en") or a.get("description_en") or ""
    return zh, en


def _facts(alert: Alert) -> str:
    labels = alert.labels
    keys = ("target", "agency", "plan", "task")
    return " · ".join(f"{k}={labels[k]}" for k in keys if labels.get(k))


def markdown_alert(alert: Alert, data: NotificationData) -> str:
    status = alert.status_at(data.now).value
    severity = alert.labels.get("severity", "")
    zh, en = _line_zh_en(alert)
    head = f"**{_STATUS_ZH.get(status, status)} / {status}**"
    if severity:
        head += f" [{_SEVERITY_ZH.get(severity, severity)} / {severity}]"
    lines = [f"- {head} {zh}"]
    if en:
        lines.append(f"  {en}")
    facts = _facts(alert)
    if facts:
        lines.append(f"  `{facts}`")
    if alert.generator_url:
        lines.append(f"  [详情 / details]({alert.generator_url})")
    return "\n".join(lines)


def markdown_header(data: NotificationData, title: str = "") -> str:
    firing, resolved = len(data.firing), len(data.resolved)
    return f"### {data.subject(title)}\n> 告警 firing: {firing} · 已恢复 resolved: {resolved}"


def plain_text(data: NotificationData, title: str = "") -> str:
    parts = [data.subject(title), ""]
    for alert in data.alerts:
        zh, en = _line_zh_en(alert)
        status = alert.status_at(data.now).value
        parts.append(f"[{status}] [{alert.labels.get('severity', '')}] {zh}")
        if en:
            parts.append(f"    {en}")
        description = alert.annotations.get("description_zh", "")
        if description and description != zh:
            parts.append(f"    {description}")
        description_en = alert.annotations.get("description_en", "")
        if description_en and description_en != en:
            parts.append(f"    {description_en}")
        facts = _facts(alert)
        if facts:
            parts.append(f"    {facts}")
        if alert.generator_url:
            parts.append(f"    {alert.generator_url}")
        parts.append("")
    return "\n".join(parts)


def html_text(data: NotificationData, title: str = "") -> str:
    rows = []
    for alert in data.alerts:
        zh, en = _line_zh_en(alert)
        link = (
            f'<a href="{html.escape(alert.generator_url)}">详情 / details</a>'
            if alert.generator_url
            else ""
        )
        rows.append(
            "<tr>"
            f"<td>{html.escape(alert.status_at(data.now).value)}</td>"
            f"<td>{html.escape(alert.labels.get('severity', ''))}</td>"
            f"<td>{html.escape(zh)}<br>{html.escape(en)}</td>"
            f"<td>{html.escape(_facts(alert))}</td>"
            f"<td>{link}</td>"
            "</tr>"
        )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>'
        f"<h3>{html.escape(data.subject(title))}</h3>"
        '<table border="1" cellpadding="4" cellspacing="0">'
        "<tr><th>状态 status</th><th>级别 severity</th><th>摘要 summary</th>"
        "<th>对象 target</th><th></th></tr>" + "".join(rows) + "</table></body></html>"
    )


def truncate_utf8(text: str, limit: int, marker: str = "…") -> str:
    """At most ``limit`` UTF-8 bytes, cut on a character boundary, ending in ``marker``."""
    raw = text.encode()
    if len(raw) <= limit:
        return text
    room = limit - len(marker.encode())
    return raw[: max(room, 0)].decode(errors="ignore") + marker


def markdown_within(data: NotificationData, limit: int, title: str = "") -> str:
    """Header plus as many alerts as fit in ``limit`` UTF-8 bytes, and a count of the rest."""
    header = markdown_header(data, title)
    body = header
    for index, alert in enumerate(data.alerts):
        candidate = body + "\n" + markdown_alert(alert, data)
        rest = len(data.alerts) - index - 1
        tail = f"\n…另有 {rest} 条 / {rest} more" if rest else ""
        if len((candidate + tail).encode()) > limit:
            omitted = len(data.alerts) - index
            note = f"\n…另有 {omitted} 条 / {omitted} more"
            return truncate_utf8(body + note, limit)
        body = candidate
    return truncate_utf8(body, limit)
