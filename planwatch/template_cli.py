"""`planwatch template`: the reports template of one agency (planwatch.template)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from planwatch.events_file import CatalogOption, PlanOption, choose_plan
from planwatch.template import TemplateError, write_template
from shared.catalog import CatalogError, load_catalog

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
) -> None:
    """Write a template for `planwatch publish --file`: the agency's targets and a reports sheet."""
    try:
        catalog = load_catalog(catalog_dir)
    except CatalogError as exc:
        typer.echo(f"catalog: {exc}", err=True)
        raise typer.Exit(2) from None
    plan = choose_plan(catalog, plan_id)
    path = out or Path(f"{agency}.reports.xlsx")
    try:
        written = write_template(path, plan, agency)
    except TemplateError as exc:
        raise typer.BadParameter(str(exc)) from None
    except OSError as exc:
        typer.echo(f"error: {path}: {exc.strerror or exc}", err=True)
        raise typer.Exit(1) from None
    for file in written:
        typer.echo(str(file))
