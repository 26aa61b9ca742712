"""Inline SVG charts: well-formed, accessible, escaped, proportional."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from screening.charts import Segment, bars, stacked_bars, trend_line

SVG = "{http://www.w3.org/2000/svg}"
SEGMENTS = [Segment("a", "A", "#b71c1c"), Segment("b", "B", "#2e7d32")]


def _parse(markup) -> ET.Element:
    root = ET.fromstring(str(markup))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    return root


def test_stacked_bars_are_proportional_and_hide_suppressed_parts():
    root = _parse(
        stacked_bars(
            [("one", [30, 10], 40), ("two", [None, 20], 25), ("small", [None, None], None)],
            SEGMENTS,
            title="Tiers",
            suppressed_label="hidden",
        )
    )
    assert root.find(f"{SVG}title").text == "Tiers"
    rects = root.findall(f"{SVG}rect")
    widths = {(r.get("y"), r.get("fill")): float(r.get("width")) for r in rects}
    first = [w for (y, f), w in widths.items() if y == "8" and f.startswith("#")]
    assert sorted(first) == sorted([30 / 40 * (880 - 160), 10 / 40 * (880 - 160)])
    # row two: B shown (20 of 25), the hidden rest hatched (5 of 25)
    hatched = [r for r in rects if r.get("y") == "36" and "url(#hatch" in (r.get("fill") or "")]
    assert len(hatched) == 1 and abs(float(hatched[0].get("width")) - 5 / 25 * 720) < 0.1
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "75%" in texts and "small" in texts and "hidden" in texts


def test_labels_are_escaped():
    markup = str(bars([("<script>x</script>", 3)], title="a & b"))
    assert "<script>" not in markup
    assert "&lt;script&gt;" in markup
    _parse(markup)


def test_bars_hatch_a_suppressed_count():
    root = _parse(bars([("a", 10), ("b", None)], title="t", suppressed_label="hidden"))
    fills = [r.get("fill") for r in root.findall(f"{SVG}rect")]
    assert any(f and f.startswith("url(#hatch") for f in fills)
    assert "10" in [t.text for t in root.iter(f"{SVG}text")]


def test_trend_line_breaks_at_missing_points():
    markup = str(
        trend_line([("2024", 0.1), ("2025", 0.2), ("2026a", None), ("2026b", 0.15)], title="t")
    )
    root = _parse(markup)
    lines = root.findall(f"{SVG}polyline")
    assert len(lines) == 1  # 2024-2025 joined; 2026b stands alone after the gap
    assert len(lines[0].get("points").split()) == 2
    assert len(root.findall(f"{SVG}circle")) == 3
    assert "20.0%" in markup


def test_each_chart_has_its_own_ids():
    a, b = str(bars([("a", 1)], title="t")), str(bars([("a", 1)], title="t"))
    ids_a = set(re.findall(r'id="([^"]+)"', a))
    ids_b = set(re.findall(r'id="([^"]+)"', b))
    assert ids_a and not ids_a & ids_b
