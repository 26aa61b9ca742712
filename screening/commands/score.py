"""``screening score``: score response files into results and run.json."""

from __future__ import annotations

from pathlib import Path

import click

from screening.batch import score_files
from screening.commands.common import print_summary
from screening.commands.options import mapping_option
from screening.mapping import load_mapping


@click.command("score")
@click.argument(
    "inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option(
    "--battery", "-b", help="Bundled battery id (default, default-asq) or path to a battery TOML."
)
@click.option(
    "--instrument", "-i", help="Score one instrument (id or TOML path) with bands but no tiers."
)
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("results"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True
)
@mapping_option
@click.option(
    "--on-invalid",
    type=click.Choice(["raise", "flag"]),
    default="raise",
    show_default=True,
    help="Stop at invalid answers, or keep such rows with status 'invalid'.",
)
@click.option(
    "--chunk-rows",
    type=click.IntRange(min=1000),
    default=None,
    help="Process inputs in batches of this many rows. Default: whole files, or batches "
    "when a file would not fit in the memory available.",
)
@click.option(
    "--quality",
    is_flag=True,
    help="Record per-school reliability and response-quality checks in run.json.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def command(
    inputs, battery, instrument, out_dir, fmt, mapping_path, on_invalid, chunk_rows, quality, quiet
) -> None:
    """Score CSV, Excel (.xlsx) or Parquet response files with a battery or an instrument."""
    if battery is None and instrument is None:
        battery = "default"
    if battery is not None and instrument is not None:
        raise click.UsageError("give --battery or --instrument, not both")
    summary = score_files(
        inputs,
        out_dir,
        battery=battery,
        instrument=instrument,
        fmt=fmt,
        mapping=load_mapping(mapping_path) if mapping_path else None,
        on_invalid=on_invalid,
        chunk_rows=chunk_rows,
        progress=not quiet,
        quality=quality,
    )
    if not quiet:
        print_summary(summary)
    for warning in summary.warnings:  # on stderr even when quiet: scripts log it
        click.secho(f"warning: {warning}", fg="yellow", err=True)
