"""The routing file's schema as pydantic models: what each key accepts, the rules within one
mapping (exactly one of `url` and `url_ref`, ...) and the receiver names routes may use.

The models read `routing_yaml`'s plain data, whose scalars keep their text and YAML type:
every value type below is a validator over a `Scalar`, so `max_alerts: 0x10` is refused as
not decimal rather than read as 16, and a quoted `"true"` is not a boolean.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Self
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationInfo,
    field_validator,
    model_validator,
)

from services.notify.domain.durations import parse_duration
from services.notify.domain.matchers import LABEL_NAME, Matcher, parse_matchers
from services.notify.domain.receivers import (
    DingtalkConfig,
    EmailConfig,
    IntegrationConfig,
    KafkaConfig,
    SecretRef,
    WebhookConfig,
    WecomConfig,
)
from services.notify.domain.routing_yaml import Scalar

_BOOLEANS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
_DECIMAL = re.compile(r"[-+]?[0-9]{1,18}")
# local@domain, refused here rather than by the mail relay at send time: a dot-atom local part
# (RFC 5322's characters, letters of any script as RFC 6531 allows) and a dotted domain of
# letters, digits and hyphens. Not email-validator (pydantic's EmailStr): it refuses the
# reserved `.invalid` domain the demo and compose files send to.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_DOMAIN_LABEL = r"[^\W_](?:(?:[^\W_]|-){0,61}[^\W_])?"
_EMAIL = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@(?:{_DOMAIN_LABEL}\.)+{_DOMAIN_LABEL}")


# --- value types: each reads a Scalar (or a list) and raises ValueError with the reason -------


def _text(value: object) -> str:
    if not isinstance(value, Scalar) or value.kind in ("null", "bool"):
        raise ValueError("must be a string")
    if not value.text:
        raise ValueError("must not be empty")
    return value.text


def _flag(value: object) -> bool:
    if isinstance(value, Scalar) and value.kind == "bool":
        flag = _BOOLEANS.get(value.text.lower())  # None for e.g. `!!bool maybe`
        if flag is not None:
            return flag
    raise ValueError("must be true or false")


def _count(value: object) -> int:
    if not isinstance(value, Scalar) or value.kind != "int":
        raise ValueError("must be an integer")
    # YAML 1.1 also types 0x10, 0o17, 0b101, 1_000 and 1:30 as integers: decimal only here.
    if not _DECIMAL.fullmatch(value.text):
        raise ValueError(f"must be a decimal integer of at most 18 digits, not {value.text[:40]!r}")
    if (number := int(value.text)) < 0:
        raise ValueError("must be at least 0")
    return number


def _duration(value: object) -> timedelta:
    return parse_duration(_text(value))


def _interval(value: object) -> timedelta:
    if (duration := _duration(value)) <= timedelta(0):
        raise ValueError("must be greater than zero")
    return duration


def _url(value: object) -> str:
    text = _text(value)
    try:  # urlsplit raises on e.g. "http://[::1" (an unclosed IPv6 literal), as `.port` may
        parts = urlsplit(text)
        usable = parts.scheme in ("http", "https") and bool(parts.hostname)
        _ = parts.port
    except ValueError:
        usable = False
    if not usable:
        raise ValueError(f"{text!r} is not an http(s) URL with a host")
    return text


def _secret(value: object) -> SecretRef:
    return SecretRef(_text(value))


def _matchers(value: object) -> tuple[Matcher, ...]:
    """One list item: a matcher, or several in braces (`{a="1", b!="2"}`)."""
    return tuple(parse_matchers(_text(value)))


def _email(value: object) -> str:
    text = _text(value)
    local = text.rpartition("@")[0]
    if len(text) > 254 or len(local) > 64 or not _EMAIL.fullmatch(text):
        raise ValueError(f"{text[:80]!r} is not an e-mail address")
    return text


def _label_name(value: object) -> str:
    if not LABEL_NAME.match(name := _text(value)):
        raise ValueError(f"bad label name {name!r}")
    return name


def _group_label(value: object) -> str:
    return "..." if isinstance(value, Scalar) and value.text == "..." else _label_name(value)


def _one_or_many(value: object) -> object:
    """`key: x` as `key: [x]`."""
    return [value] if isinstance(value, Scalar) and value.kind != "null" else value


def _group_by_rules(names: list[str]) -> list[str]:
    if "..." in names and len(names) != 1:
        raise ValueError("'...' must be the only entry")
    if len(set(names)) != len(names):
        raise ValueError("duplicate label names")
    return names


def _some(addresses: list[str]) -> list[str]:
    if not addresses:
        raise ValueError("must list at least one address")
    return addresses


Text = Annotated[str, PlainValidator(_text)]
Flag = Annotated[bool, PlainValidator(_flag)]
Count = Annotated[int, PlainValidator(_count)]
Duration = Annotated[timedelta, PlainValidator(_duration)]
Interval = Annotated[timedelta, PlainValidator(_interval)]
Url = Annotated[str, PlainValidator(_url)]
Secret = Annotated[SecretRef, PlainValidator(_secret)]
MatcherItem = Annotated[tuple[Matcher, ...], PlainValidator(_matchers)]
Address = Annotated[str, PlainValidator(_email)]
Addresses = Annotated[list[Address], BeforeValidator(_one_or_many), AfterValidator(_some)]
LabelName = Annotated[str, PlainValidator(_label_name)]
LabelNames = Annotated[list[LabelName], BeforeValidator(_one_or_many)]
GroupBy = Annotated[
    list[Annotated[str, PlainValidator(_group_label)]],
    BeforeValidator(_one_or_many),
    AfterValidator(_group_by_rules),
]


# --- the models --------------------------------------------------------------------------------


@dataclass
class _Context:
    receivers: set[str] = field(default_factory=set)  # the names validated so far


def _context(info: ValidationInfo) -> _Context:
    if not isinstance(info.context, _Context):
        raise TypeError("routing models are validated through validate_routing()")
    return info.context


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class EscalationStepSpec(_Spec):
    after: Interval
    receiver: Text

    @field_validator("receiver")
    @classmethod
    def _declared(cls, name: str, info: ValidationInfo) -> str:
        if name not in _context(info).receivers:
            raise ValueError(f"unknown receiver {name!r}")
        return name


def _increasing(steps: list[EscalationStepSpec]) -> list[EscalationStepSpec]:
    for before, step in itertools.pairwise(steps):
        if step.after <= before.after:
            raise ValueError("the steps' 'after' must increase")
    return steps


Escalation = Annotated[list[EscalationStepSpec], AfterValidator(_increasing)]


class RouteSpec(_Spec):
    receiver: Text | None = None
    matchers: list[MatcherItem] = []
    continue_: Flag = Field(default=False, alias="continue")
    group_by: GroupBy | None = None
    group_wait: Duration | None = None
    group_interval: Interval | None = None
    repeat_interval: Interval | None = None
    escalation: Escalation | None = None  # inherited when unset; `[]` for none
    routes: list[RouteSpec] = []

    @field_validator("receiver")
    @classmethod
    def _declared(cls, name: str | None, info: ValidationInfo) -> str | None:
        if name is not None and name not in _context(info).receivers:
            raise ValueError(f"unknown receiver {name!r}")
        return name


class RootRouteSpec(RouteSpec):
    receiver: Text

    @field_validator("matchers")
    @classmethod
    def _no_matchers(cls, matchers: list[tuple[Matcher, ...]]) -> list[tuple[Matcher, ...]]:
        if matchers:
            raise ValueError("the root route must not have matchers (it matches every alert)")
        return matchers

    @field_validator("continue_")
    @classmethod
    def _no_continue(cls, continue_: bool) -> bool:
        if continue_:
            raise ValueError("the root route cannot have continue")
        return continue_


class _IntegrationSpec(_Spec):
    send_resolved: Flag = True

    def config(self) -> IntegrationConfig:
        raise NotImplementedError


class _EndpointSpec(_IntegrationSpec):
    """An endpoint given either as `url` or as `url_ref` (a secret), never both."""

    url: Url | None = None
    url_ref: Secret | None = None
    secret: Secret | None = None
    allow_private: Flag = False

    @model_validator(mode="after")
    def _one_endpoint(self) -> Self:
        if (self.url is None) == (self.url_ref is None):
            raise ValueError("give exactly one of url and url_ref")
        return self


class WebhookSpec(_EndpointSpec):
    max_alerts: Count = 0  # 0: no limit

    def config(self) -> WebhookConfig:
        return WebhookConfig(
            url=self.url,
            url_ref=self.url_ref,
            secret=self.secret,
            allow_private=self.allow_private,
            send_resolved=self.send_resolved,
            max_alerts=self.max_alerts,
        )


class DingtalkSpec(_EndpointSpec):
    def config(self) -> DingtalkConfig:
        return DingtalkConfig(
            url=self.url,
            url_ref=self.url_ref,
            secret=self.secret,
            allow_private=self.allow_private,
            send_resolved=self.send_resolved,
        )


class EmailSpec(_IntegrationSpec):
    to: Addresses
    sender: Address = Field(alias="from")
    send_resolved: Flag = False
    html: Flag = True

    def config(self) -> EmailConfig:
        return EmailConfig(
            to=tuple(self.to), sender=self.sender, send_resolved=self.send_resolved, html=self.html
        )


class KafkaSpec(_IntegrationSpec):
    topic: Text

    def config(self) -> KafkaConfig:
        return KafkaConfig(topic=self.topic, send_resolved=self.send_resolved)


class WecomSpec(_IntegrationSpec):
    """WeCom's robot key is a secret: only references, to the URL or to the key."""

    url_ref: Secret | None = None
    key_ref: Secret | None = None
    allow_private: Flag = False

    @model_validator(mode="after")
    def _one_reference(self) -> Self:
        if (self.url_ref is None) == (self.key_ref is None):
            raise ValueError("give exactly one of url_ref and key_ref")
        return self

    def config(self) -> WecomConfig:
        return WecomConfig(
            url_ref=self.url_ref,
            key_ref=self.key_ref,
            allow_private=self.allow_private,
            send_resolved=self.send_resolved,
        )


class ReceiverSpec(_Spec):
    name: Text
    webhook_configs: list[WebhookSpec] = []
    email_configs: list[EmailSpec] = []
    kafka_configs: list[KafkaSpec] = []
    wecom_configs: list[WecomSpec] = []
    dingtalk_configs: list[DingtalkSpec] = []

    @field_validator("name")
    @classmethod
    def _unique(cls, name: str, info: ValidationInfo) -> str:
        names = _context(info).receivers
        if name in names:
            raise ValueError(f"duplicate receiver name {name!r}")
        names.add(name)
        return name

    def integration_specs(self) -> list[tuple[str, Sequence[_IntegrationSpec]]]:
        """Each `*_configs` key with its entries, in the order of the fields."""
        return [
            ("webhook_configs", self.webhook_configs),
            ("email_configs", self.email_configs),
            ("kafka_configs", self.kafka_configs),
            ("wecom_configs", self.wecom_configs),
            ("dingtalk_configs", self.dingtalk_configs),
        ]


class InhibitSpec(_Spec):
    name: Text = ""
    source_matchers: list[MatcherItem]
    target_matchers: list[MatcherItem]
    equal: LabelNames = []


class RoutingFileSpec(_Spec):
    # `receivers` before `route`: fields are validated in this order, and each route's
    # receiver is checked against the names validated here.
    receivers: list[ReceiverSpec]
    route: RootRouteSpec
    inhibit_rules: list[InhibitSpec] = []


def validate_routing(data: object) -> RoutingFileSpec:
    """The routing file's models; pydantic's ValidationError lists every problem by `loc`."""
    return RoutingFileSpec.model_validate(data, context=_Context())
