"""Plain-Python reference of the scoring kernel (``screening.scoring._kernels.score_rows``).

Written from the instrument specs directly, not from the compiled arrays, so that it also
checks the compiler.
"""

from __future__ import annotations

import math
import statistics

from screening.instruments.models import Instrument


def score_instrument_row(instrument: Instrument, answers: list[int | None]) -> dict:
    """Score one row of one instrument; ``answers`` in item order, None for missing.

    Out-of-range answers must already be None. Returns scores (None when not scorable),
    band labels, answered count, longstring, irv (None with fewer than two answers),
    whether a critical item is endorsed and whether a validity rule fired.
    """
    low, high = instrument.response_scale.values[0], instrument.response_scale.values[-1]
    by_id = dict(zip((item.id for item in instrument.items), answers, strict=True))
    scores: dict[str, float | None] = {}
    bands: dict[str, str | None] = {}
    for scale in instrument.scales:
        values = []
        for item_id in scale.items:
            item = instrument.items[instrument.item_index(item_id)]
            x = by_id[item_id]
            if x is None:
                x = item.missing_means
            if x is None:
                continue
            values.append(low + high - x if item.reverse else x)
        n = len(scale.items)
        score = None
        if values and len(values) >= scale.required_answers:
            if scale.method == "sum":
                if len(values) == n:
                    score = float(sum(values))
                elif scale.prorate:
                    score = sum(values) / len(values) * n
            elif scale.method == "mean":
                score = sum(values) / len(values)
            else:
                score = float(max(values))
            if score is not None:
                score *= scale.multiplier
        scores[scale.id] = score
        if scale.bands is not None:
            if score is None:
                bands[scale.id] = None
            else:
                position = sum(1 for cut in scale.bands.cuts if score >= cut)
                bands[scale.id] = scale.bands.labels["en"][position]
    given = [x for x in answers if x is not None]
    longest = run = 0
    previous = None
    for x in answers:
        if x is None:
            run, previous = 0, None
            continue
        run = run + 1 if x == previous else 1
        previous = x
        longest = max(longest, run)
    irv = statistics.stdev(given) if len(given) >= 2 else None
    critical = any(
        by_id[c.item] is not None and by_id[c.item] >= c.threshold for c in instrument.critical
    )
    invalid = (
        bool(instrument.careless.max_longstring) and longest >= instrument.careless.max_longstring
    )
    for rule in instrument.validity:
        score = scores[rule.scale]
        if score is not None and _holds(score, rule.op, rule.value):
            invalid = True
    n = len(instrument.items)
    # the no-symptom end (the highest answer where low scores are the risk) is plausible
    risks = {scale.bands.risk for scale in instrument.scales if scale.bands is not None}
    benign = high if risks == {"low"} else low
    straight = (
        n >= 3
        and longest == n
        and (any(item.reverse for item in instrument.items) or answers[0] != benign)
    )
    return {
        "straight_line": straight,
        "scores": scores,
        "bands": bands,
        "answered": len(given),
        "longstring": longest,
        "irv": irv,
        "critical": critical,
        "invalid": invalid,
    }


def _holds(value: float, op: str, threshold: float) -> bool:
    return {
        ">=": value >= threshold,
        ">": value > threshold,
        "<=": value <= threshold,
        "<": value < threshold,
        "==": value == threshold,
        "!=": value != threshold,
    }[op]


def close(a: float | None, b: float | None) -> bool:
    """Equal, both None, or within 1e-9."""
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
