"""Run an instrument's golden vectors through the real scoring path.

Each golden vector of an instrument file is a response pattern with the scores, bands,
critical flag and validity its authors expect from the published scoring rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import polars as pl

from screening.instruments.loader import single_instrument_battery
from screening.instruments.models import Instrument
from screening.pipeline import Scorer, score_frame

TOLERANCE = 1e-9


@dataclass(frozen=True)
class GoldenOutcome:
    """The check of one golden vector: its name and the mismatches found (none = pass)."""

    instrument: str
    vector: str
    mismatches: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """True when every expected value matched."""
        return not self.mismatches


def golden_results(instrument: Instrument) -> list[GoldenOutcome]:
    """Score every golden vector of ``instrument`` and compare with its expectations."""
    if not instrument.golden:
        return []
    columns = instrument.item_columns()
    frame = pl.DataFrame(
        {
            column: [None if v.responses[j] == -1 else v.responses[j] for v in instrument.golden]
            for j, column in enumerate(columns)
        },
        schema={column: pl.Int8 for column in columns},
    )
    results = score_frame(frame, Scorer.for_battery(single_instrument_battery(instrument))).results
    outcomes = []
    for row, vector in zip(results.iter_rows(named=True), instrument.golden, strict=True):
        found = []
        for scale, expected in vector.scores.items():
            got = row[f"{instrument.id}.{scale}"]
            if expected == "NA":
                if got is not None:
                    found.append(f"{scale}: expected not scorable, got {got}")
            elif got is None or not math.isclose(got, expected, rel_tol=0, abs_tol=TOLERANCE):
                found.append(f"{scale}: expected {expected}, got {got}")
        for scale, expected in vector.bands.items():
            got = row.get(f"{instrument.id}.{scale}.band")
            if got != expected:
                found.append(f"{scale} band: expected {expected!r}, got {got!r}")
        if vector.critical is not None:
            got = bool(row.get(f"{instrument.id}.critical", False))
            if got != vector.critical:
                found.append(f"critical: expected {vector.critical}, got {got}")
        if vector.valid is not None:
            got = row["status"] != "invalid"
            if got != vector.valid:
                found.append(f"valid: expected {vector.valid}, got {got}")
        outcomes.append(GoldenOutcome(instrument.id, vector.name, tuple(found)))
    return outcomes


def check_instrument(instrument: Instrument) -> list[str]:
    """Mismatch messages of every failing golden vector (empty when all pass)."""
    return [
        f"{o.instrument} / {o.vector}: {m}"
        for o in golden_results(instrument)
        for m in o.mismatches
    ]
