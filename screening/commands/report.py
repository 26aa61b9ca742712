"""``screening report``: a self-contained HTML report of a batch run."""

from __future__ import annotations

from pathlib import Path

import click

from screening.reports import write_report


@click.command("report")
@click.argument(
    "results_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="RESULTS_DIR",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("report.html"),
    show_default=True,
    help="The HTML file to write.",
)
@click.option(
    "--lang",
    type=click.Choice(["zh-CN", "en"]),
    default="zh-CN",
    show_default=True,
    help="Language of the report.",
)
@click.option(
    "--min-cell",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    envvar="SCREENING_MIN_CELL",
    show_envvar=True,
    help="Hide counts below this many students (and groups smaller than it). Default: "
    "SCREENING_MIN_CELL, as in the service, else 10.",
)
def command(results_dir: Path, out: Path, lang: str, min_cell: int) -> None:
    """Write an HTML report (tiers, bands, response quality) of a `screening score` folder.

    The report holds aggregate counts only, no student ids or names; it needs no network.
    """
    path = write_report(results_dir, out, locale=lang, min_cell=min_cell)
    click.echo(f"report: {path}")
