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


def test_district_trend_hides_the_same_tiers_as_the_district_table(
    client, token, headers, new_school, frame, sessions
):
    """3 red beside 12 orange and 12 yellow: the tier table (red, orange, yellow, ... order)
    hides red and orange; the trend line must hide the same, or its orange share (12 of
    127) with the table's yellow 12 and green 100 gives red away as 127 - 100 - 12 - 12."""
    import uuid

    from screening.api.services.reports import counts_frame
    from screening.reports import TIERS, tier_sections

    window = f"tie-{uuid.uuid4().hex[:8]}"
    school = new_school()
    tiers = [0] * 100 + [1] * 12 + [2] * 12 + [3] * 3
    data = frame([(f"U{i:03d}", tier) for i, tier in enumerate(tiers)], school_id=school)
    answer = client.post(
        "/api/v1/uploads",
        headers=headers(token("counsellor", school)),
        files={"file": ("r.csv", data.write_csv().encode(), "text/csv")},
        data={"window": window},
    )
    assert answer.status_code == 201, answer.text
    with session_scope(sessions) as session:
        sections = tier_sections(counts_frame(session, window, None), min_cell=10)
        points = trend_points(session, None, min_cell=10)
    table = {row["key"]: row["count"] for row in sections["overall"]["rows"]}
    assert table["red"] is None and sections["students"] == 127
    shares = {tier: dict(values)[window] for tier, values in points.items()}
    shown = {k: v for k, v in table.items() if v is not None}
    for tier, share in shares.items():
        if share is not None and tier not in shown:
            shown[tier] = round(share * 127)
    hidden = [k for k in TIERS if k not in shown]
    assert len(hidden) != 1, f"{hidden[0]} = {127 - sum(shown.values())} by subtraction"
