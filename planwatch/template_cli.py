"""`planwatch template`: the reports template of one agency (planwatch.template). Messages in
zh or en (`--lang`); stdout lists the files written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planwatch.cli_options import LangOption, Voice
from planwatch.events_file import CatalogOption, PlanOption
from planwatch.template import TemplateError, write_template

template_app = typer.Typer()


@template_app.command("template")
def template(
    *,
    agency: Annotated[str, typer.Option("--agency", help="The agency whose targets it lists.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="The file to write, .xlsx or .csv (CSV: also FILE.targets.csv); "
            "default: AGENCY.reports.xlsx.",
            dir_okay=False,
        ),
    ] = None,
    plan_id: PlanOption = None,
    catalog_dir: CatalogOption = None,
    lang: LangOption = None,
) -> None:
    """Write a template for `planwatch publish --file`: the agency's targets and a reports sheet."""
    voice = Voice.of(lang)
    plan = voice.plan(voice.catalog(catalog_dir), plan_id)
    path = out or Path(f"{agency}.reports.xlsx")
    try:
        written = write_template(path, plan, agency)
    except TemplateError as exc:
        raise voice.fail_with(exc.text, exit_code=2) from None
    except OSError as exc:
        raise voice.fail("template.unwritable", path=path, error=exc.strerror or exc) from None
    for file in written:
        typer.echo(str(file))
    voice.note("template.next", agency=agency, path=path)
