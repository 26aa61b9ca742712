"""``screening demo``: a seeded synthetic city, written, scored and summarised."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console

from screening.batch import score_files
from screening.commands.common import print_summary
from screening.demo import generate_city, write_city
from screening.pipeline import Scorer
from screening.reports import write_report


@click.command("demo")
@click.option("--students", "-n", type=click.IntRange(min=1), default=100_000, show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@click.option(
    "--battery", "-b", default="default", show_default=True, help="Battery id or TOML path."
)
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("screening-demo"),
    show_default=True,
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def command(students: int, seed: int, battery: str, out_dir: Path, quiet: bool) -> None:
    """Generate a synthetic city (schools, classes, grades 4-12), score it and summarise.

    Responses come from a latent-trait model, with some missing answers, a small share of
    critical endorsements and some careless responders. Nothing here is real data.
    """
    console = Console(soft_wrap=True)
    instruments = Scorer.for_battery(battery).loaded.instruments
    # bundled ones by id, a battery's own instrument files by their path
    refs = [i.id if i.source.startswith("bundled:") else i.source for i in instruments]
    city = generate_city(students, seed=seed, instruments=refs)
    out_dir.mkdir(parents=True, exist_ok=True)
    responses = write_city(city, out_dir / "responses.csv")
    summary = score_files([responses], out_dir / "results", battery=battery, progress=not quiet)
    report = write_report(out_dir / "results", out_dir / "report.html")
    if not quiet:
        schools = city["school_id"].n_unique()
        console.print(
            f"synthetic city: {students:,} students in {schools:,} schools -> {responses}"
        )
        print_summary(summary, console)
        console.print(f"report: {report} (zh-CN; `screening report --lang en` for English)")
