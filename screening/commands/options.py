"""Click options shared by several commands."""

from __future__ import annotations

from pathlib import Path

import click

mapping_option = click.option(
    "--map",
    "mapping_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='Column mapping TOML ([columns] "学号" = "student_id").',
)
