"""``screening norms``: build a versioned norm table from a reference sample."""

from __future__ import annotations

from pathlib import Path

import click

from screening.commands.inputs import read_item_frame
from screening.commands.options import mapping_option
from screening.errors import InputFileError, OutputFolderError
from screening.instruments import load_instrument
from screening.scoring.norms import group_keys, norms


@click.command("norms")
@click.argument(
    "inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--instrument", "-i", required=True, help="Instrument id or TOML path.")
@click.option(
    "--by",
    "by_values",
    multiple=True,
    help="Group columns, repeated or comma-separated. Default: grade,sex.",
)
@click.option("--version", "norm_version", required=True, help="Version of the norm table.")
@click.option(
    "--min-n",
    type=click.IntRange(min=1),
    default=30,
    show_default=True,
    help="Leave out groups with fewer scores of a scale.",
)
@mapping_option
@click.option(
    "--on-invalid",
    type=click.Choice(["raise", "flag"]),
    default="raise",
    show_default=True,
    help="Stop at invalid answers (as score does), or count them as missing and prorate.",
)
@click.option(
    "--out",
    "-o",
    "out_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The norm table to write (JSON).",
)
def command(
    inputs, instrument, by_values, norm_version, min_n, mapping_path, on_invalid, out_path
) -> None:
    """Mean, sd and percentile ranks of every scale per group, as a versioned JSON table.

    A battery that names the table (norms = ["phq9-norms.json"], beside the battery file)
    adds T-scores and percentile ranks ({instrument}.{scale}.t, .percentile) to the results
    of `screening score`. Rows whose group value is empty are in no group.
    """
    if not norm_version.strip():
        raise click.BadParameter(
            "give the norm table a version, e.g. 2026-city", param_hint="--version"
        )
    read = [*inputs, *([mapping_path] if mapping_path else [])]
    if any(out_path.resolve() == path.resolve() for path in read):
        raise InputFileError(
            out_path,
            "the norm table would be written over this input file. Give another --out file.",
        )
    inst = load_instrument(instrument)
    # each file's answers are checked in the file, so that errors name its own rows
    frame = read_item_frame(inputs, [inst], mapping_path, check_answers=on_invalid == "raise")
    by = [c.strip() for v in by_values for c in v.split(",") if c.strip()] or ["grade", "sex"]
    absent = [c for c in by if c not in frame.columns]
    if absent:
        raise InputFileError(None, f"group columns {absent} are not in the inputs")
    table = norms(frame, inst, by, version=norm_version, min_n=min_n, on_invalid=on_invalid)
    if table.groups.height == 0:
        raise click.ClickException(
            f"no group ({', '.join(by)}) has {min_n} or more scores of {inst.id} in "
            f"{frame.height:,} rows, so the table would be empty: lower --min-n, group by "
            "fewer columns (--by), or add students to the sample."
        )
    keys = group_keys(frame, by)
    no_group = keys.height - keys.drop_nulls().height
    if no_group:
        click.echo(
            f"warning: {no_group:,} of {frame.height:,} rows have no {' or '.join(by)} and are "
            "in no group (empty cells, or a file without the column): fill them in to count "
            "them in the norms.",
            err=True,
        )
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        table.write(out_path)
    except OSError as error:
        raise OutputFolderError(
            out_path,
            f"cannot write the norm table here ({error.strerror or error}). Give an --out "
            "file in a folder that you may write in (not inside a file).",
        ) from None
    click.echo(
        f"{table.groups.height} group x scale norms from {frame.height:,} rows written to "
        f"{out_path}"
    )
