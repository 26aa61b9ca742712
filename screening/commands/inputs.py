"""Response files read for the psychometric commands (``reliability``, ``norms``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from screening.errors import KEEP_FLAGGED, ResponseValidationError
from screening.instruments.models import Instrument
from screening.io import read_responses
from screening.mapping import load_mapping
from screening.numbering import renumbered


def read_item_frame(
    inputs: Sequence[Path],
    instruments: Sequence[Instrument],
    mapping_path: Path | None,
    *,
    check_answers: bool = False,
    keep: str = KEEP_FLAGGED,
) -> pl.DataFrame:
    """The rows of every input, one frame, with the mapping applied: headers renamed,
    answer labels recoded, and option numbers turned into codes (``[options]``).

    With ``check_answers`` the item answers of every file are validated as ``screening
    score`` validates them (an instrument whose scale scores are already in a file is not
    checked there). ``keep`` ends the error's advice: how the calling command counts
    invalid answers as missing (``norms``: ``--on-invalid flag``).

    Raises
    ------
    InputFileError
        When a file or the mapping cannot be used (see :func:`screening.io.read_responses`).
    ResponseValidationError
        With ``check_answers``, when some answer is not a number or out of range: the
        message names each file, row, student, column and value, as ``screening score``'s.
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
    first = mapping.numbered_from if mapping is not None else None
    if check_answers:
        _check_answers(inputs, frames, instruments, first, keep)
    frame = pl.concat(frames, how="diagonal_relaxed") if len(frames) > 1 else frames[0]
    if first is None:
        return frame
    return frame.with_columns(
        renumbered(frame.get_column(column), first - low) for column, low in lowest.items()
    )


def _check_answers(
    inputs: Sequence[Path],
    frames: Sequence[pl.DataFrame],
    instruments: Sequence[Instrument],
    numbered_from: int | None,
    keep: str = KEEP_FLAGGED,
) -> None:
    """Raise the error ``screening score`` raises for the invalid answers of the files."""
    from screening.instruments import single_instrument_battery
    from screening.pipeline import Scorer, response_matrix
    from screening.scoring.norms import is_scored

    scorers = [Scorer.for_battery(single_instrument_battery(inst)) for inst in instruments]
    bad = []
    for path, frame in zip(inputs, frames, strict=True):
        cases = [
            response_matrix(frame, scorer, numbered_from=numbered_from)[1]
            for inst, scorer in zip(instruments, scorers, strict=True)
            if not is_scored(frame, inst)
        ]
        found = pl.concat(cases) if cases else None
        if found is not None and found.height:
            bad.append((str(path), found.sort("row", maintain_order=True)))
    if bad:
        raise ResponseValidationError.from_files(bad, keep=keep)
