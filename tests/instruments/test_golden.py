"""Every golden vector of every bundled instrument, scored through the real scoring path."""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path

import pytest

from screening.golden import GoldenOutcome, check_instrument, golden_results
from screening.instruments.loader import bundled_instruments, load_instrument

CASES = [
    (ref, vector.name) for ref in bundled_instruments() for vector in load_instrument(ref).golden
]


@cache
def outcomes(ref: str) -> dict[str, GoldenOutcome]:
    """Score all vectors of one instrument in one call (one frame, one kernel pass)."""
    return {o.vector: o for o in golden_results(load_instrument(ref))}


@pytest.mark.parametrize(("ref", "vector"), CASES, ids=[f"{r}: {v}" for r, v in CASES])
def test_golden_vector(ref: str, vector: str) -> None:
    outcome = outcomes(ref)[vector]
    assert outcome.instrument == ref
    assert outcome.passed, "\n".join(outcome.mismatches)


def test_every_instrument_has_vectors() -> None:
    counts = {ref: sum(1 for r, _ in CASES if r == ref) for ref in bundled_instruments()}
    assert all(n >= 5 for n in counts.values()), counts


def test_a_wrong_expectation_is_reported(tmp_path: Path) -> None:
    """The runner itself can fail: a deliberately wrong score and band are both caught."""
    source = (resources.files("screening.instruments.data") / "who5.toml").read_text("utf-8")
    wrong = source.replace(
        'scores = { raw = 13, percentage = 52 }\nbands = { raw = "adequate well-being" }',
        'scores = { raw = 13, percentage = 50 }\nbands = { raw = "poor well-being" }',
    )
    assert wrong != source
    path = tmp_path / "who5_wrong.toml"
    path.write_text(wrong, encoding="utf-8")
    messages = check_instrument(load_instrument(path))
    assert len(messages) == 2
    assert "who5 / adequate at the cut: percentage: expected 50.0, got 52.0" in messages
    assert any("raw band: expected 'poor well-being'" in m for m in messages)
