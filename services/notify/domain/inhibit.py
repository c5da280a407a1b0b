"""Inhibition: a firing source alert mutes target alerts that share the ``equal`` labels."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.notify.domain.alert import Alert
from services.notify.domain.matchers import Matcher, matches_all


@dataclass(frozen=True, slots=True)
class InhibitRule:
    source_matchers: tuple[Matcher, ...]
    target_matchers: tuple[Matcher, ...]
    equal: tuple[str, ...] = ()
    name: str = ""


def _equal_on(rule: InhibitRule, source: Mapping[str, str], target: Mapping[str, str]) -> bool:
    # A label missing on a side counts as "" (so missing on both sides is equal).
    return all(source.get(n, "") == target.get(n, "") for n in rule.equal)


def inhibiting_rule(
    labels: Mapping[str, str],
    firing_alerts: Iterable[Alert],
    rules: Iterable[InhibitRule],
    fingerprint: str | None = None,
) -> InhibitRule | None:
    """The first rule under which a firing alert mutes an alert with ``labels``, if any.

    As in Alertmanager's inhibitor: the target side must match the alert; some firing alert
    must match the source side with equal values of the ``equal`` labels; when the alert
    matches both sides itself, sources that also match both sides do not count (so such
    alerts cannot mute each other, and no alert mutes itself). ``firing_alerts`` must hold
    only alerts firing at the instant of the decision.
    """
    found = inhibition(labels, firing_alerts, rules, fingerprint)
    return None if found is None else found[0]


def inhibition(
    labels: Mapping[str, str],
    firing_alerts: Iterable[Alert],
    rules: Iterable[InhibitRule],
    fingerprint: str | None = None,
) -> tuple[InhibitRule, Alert] | None:
    """The first (rule, source alert) muting an alert with ``labels`` (see
    ``inhibiting_rule``); Alertmanager's API reports the source's fingerprint (``inhibitedBy``)."""
    sources = list(firing_alerts)
    for rule in rules:
        if not matches_all(rule.target_matchers, labels):
            continue
        two_sided = matches_all(rule.source_matchers, labels)
        for source in sources:
            if fingerprint is not None and source.fingerprint == fingerprint:
                continue
            if source.labels == dict(labels):
                continue
            if not matches_all(rule.source_matchers, source.labels):
                continue
            if two_sided and matches_all(rule.target_matchers, source.labels):
                continue
            if _equal_on(rule, source.labels, labels):
                return rule, source
    return None


def inhibited(alert: Alert, firing_alerts: Iterable[Alert], rules: Iterable[InhibitRule]) -> bool:
    """Whether ``alert`` is muted by a firing alert under one of ``rules``."""
    return inhibiting_rule(alert.labels, firing_alerts, rules, alert.fingerprint) is not None
