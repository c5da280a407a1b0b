"""The command line's shared vocabulary (docs/cli.md): options several commands take, declared
once, the hidden aliases that keep old spellings working, and `Voice`, how the agency-facing
commands speak (planwatch.messages in the chosen language)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from planwatch.messages import Msg, default_lang, say
from shared.catalog import CatalogError, load_catalog
from shared.domain.catalog import Catalog, Plan
from shared.vocabulary import Lang

T = TypeVar("T")


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[
    OutputFormat,
    typer.Option("--format", help="text (for people) or json (for programs)."),
]
JsonAlias = Annotated[
    bool, typer.Option("--json", hidden=True, help="The old spelling of --format json.")
]
LangOption = Annotated[
    Lang | None,
    typer.Option(
        "--lang",
        help="Language of the messages, zh or en; default: en if LC_ALL, LC_MESSAGES or LANG "
        "starts with en, else zh.",
        show_default=False,
    ),
]

NotifyUrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar="PLANWATCH_NOTIFY_URL",
        metavar="<url>",
        help="The notify service's base URL.",
        show_default=False,
    ),
]


def hidden_alias(old: str, new: str) -> Any:
    """A hidden option for an old spelling; the command takes `new`'s value, else this one's."""
    return typer.Option(old, hidden=True, help=f"The old spelling of {new}.")


def chosen_format(output: OutputFormat, json_alias: bool) -> OutputFormat:
    return OutputFormat.JSON if json_alias else output


def either(new: T | None, old: T | None) -> T | None:
    """An option's value under its new name, else under its old one (a hidden alias)."""
    return new if new is not None else old


@dataclass(frozen=True, slots=True)
class Voice:
    """Messages of one command run, in one language, on stderr (stdout is for the output)."""

    lang: Lang

    @classmethod
    def of(cls, lang: Lang | None) -> Voice:
        return cls(lang or default_lang())

    def say(self, message_id: str, /, **fields: object) -> str:
        return say(message_id, self.lang, **fields)

    def render(self, text: Msg) -> str:
        return text.render(self.lang)

    def note(self, message_id: str, /, **fields: object) -> None:
        typer.echo(self.say(message_id, **fields), err=True)

    def fail(self, message_id: str, /, *, exit_code: int = 1, **fields: object) -> typer.Exit:
        """Prints `error: …`; the Exit to raise (1: it failed; 2: the options were wrong)."""
        return self.fail_with(Msg(message_id, fields), exit_code=exit_code)

    def fail_with(self, text: Msg, *, exit_code: int = 1) -> typer.Exit:
        typer.echo(self.say("error", detail=self.render(text)), err=True)
        return typer.Exit(exit_code)

    def refuse(self, message_id: str, /, **fields: object) -> typer.Exit:
        """Options that do not fit together or a value that is wrong: exit 2, as click's own."""
        return self.fail(message_id, exit_code=2, **fields)

    def catalog(self, folder: Path | None = None) -> Catalog:
        try:
            return load_catalog(folder)
        except CatalogError as exc:
            raise self.refuse("catalog.unreadable", error=exc) from None

    def plan(self, catalog: Catalog, plan_id: str | None) -> Plan:
        """The named plan, or the catalog's only one."""
        known = ", ".join(sorted(catalog.plans))
        if plan_id is not None:
            if plan_id not in catalog.plans:
                raise self.refuse("plan.unknown", plan=plan_id, plans=known)
            return catalog.plans[plan_id]
        if len(catalog.plans) != 1:
            raise self.refuse("plan.which", plans=known)
        return next(iter(catalog.plans.values()))
