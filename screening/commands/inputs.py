"""Response files read for the psychometric commands (``reliability``, ``norms``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from screening.instruments.models import Instrument
from screening.io import read_responses
from screening.mapping import load_mapping
from screening.numbering import renumbered


def read_item_frame(
    inputs: Sequence[Path], instruments: Sequence[Instrument], mapping_path: Path | None
) -> pl.DataFrame:
    """The rows of every input, one frame, with the mapping applied: headers renamed,
    answer labels recoded, and option numbers turned into codes (``[options]``).

    Raises
    ------
    InputFileError
        When a file or the mapping cannot be used (see :func:`screening.io.read_responses`).
    """
    mapping = load_mapping(mapping_path) if mapping_path else None
    lowest = {
        column: int(low)
        for inst in instruments
        for column, low in zip(inst.item_columns(), inst.item_min(), strict=True)
    }
    frames = [
        read_responses(path, item_columns=list(lowest), mapping=mapping, id_column=None)
        for path in inputs
    ]
    frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    first = mapping.numbered_from if mapping is not None else None
    if first is None:
        return frame
    return frame.with_columns(
        renumbered(frame.get_column(column), first - low) for column, low in lowest.items()
    )
