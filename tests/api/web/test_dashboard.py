"""Dashboard figures: the trend shares hide what the tier table hides."""

from __future__ import annotations

from screening.api.db import session_scope
from screening.api.web.dashboard import trend_points


def test_trend_shares_hide_what_the_tier_table_hides(
    client, token, headers, school, frame, sessions
):
    # 100 green, 12 yellow, 15 orange, 3 red: red is hidden (primary), and the next smallest,
    # yellow, with it (secondary); a yellow share would give red away as 130 - 100 - 15 - 12
    tiers = [0] * 100 + [1] * 12 + [2] * 15 + [3] * 3
    data = frame([(f"T{i:03d}", tier) for i, tier in enumerate(tiers)], school_id=school)
    answer = client.post(
        "/api/v1/uploads",
        headers=headers(token("counsellor", school)),
        files={"file": ("r.csv", data.write_csv().encode(), "text/csv")},
        data={"window": "2026-autumn"},
    )
    assert answer.status_code == 201, answer.text
    with session_scope(sessions) as session:
        points = trend_points(session, school, min_cell=10)
    shares = {tier: values[-1][1] for tier, values in points.items()}
    assert shares["orange"] == 15 / 130
    assert shares["red"] is None and shares["yellow"] is None
    assert shares["retest"] == 0
