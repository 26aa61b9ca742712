"""Inline SVG charts for reports and pages: no script, no fonts, no external files.

Each function returns SVG markup (a :class:`markupsafe.Markup`, safe to put in a Jinja2
template) with ``role="img"``, a ``<title>`` and a text description, so that a screen
reader announces the chart; the numbers themselves always stand in a table beside it.
Text takes the page's font (``font-family: inherit``), so Chinese labels render with the
system's fonts.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

_ids = itertools.count(1)

WIDTH = 880
LABEL_W = 150
BAR_H = 20
GAP = 8
FONT = 12


@dataclass(frozen=True)
class Segment:
    """One kind of part of a stacked bar (a tier), with its legend label and colours."""

    key: str
    label: str
    fill: str
    text: str = "#ffffff"


def _clip(text: str, limit: int = 18) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _open(width: int, height: int, title: str, description: str) -> tuple[str, str, str]:
    """The opening tag with title and description, the closing tag, and a hatch pattern id."""
    n = next(_ids)
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" style="max-width:{width}px" role="img" '
        f'aria-labelledby="chart{n}-t chart{n}-d" font-family="inherit" font-size="{FONT}">'
        f'<title id="chart{n}-t">{escape(title)}</title>'
        f'<desc id="chart{n}-d">{escape(description)}</desc>'
    )
    return head, "</svg>", f"hatch{n}"


def _hatch_defs(hatch: str) -> str:
    return (
        f'<defs><pattern id="{hatch}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#e0e0e0"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#9e9e9e" stroke-width="2"/></pattern></defs>'
    )


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[int | None], int | None]],
    segments: Sequence[Segment],
    *,
    title: str,
    suppressed_label: str,
) -> Markup:
    """Horizontal 100 % stacked bars, one per group.

    Parameters
    ----------
    rows
        ``(group label, counts per segment, group total)``. A count of ``None`` is
        suppressed: the hidden part (total minus the shown counts) is drawn hatched as one
        piece, which shows nothing the published total and counts do not already give. A
        row whose total is ``None`` (a group too small to publish) is drawn as one hatched
        bar.
    segments
        The segment kinds, in the order of the counts.
    title
        The chart's accessible title.
    suppressed_label
        Legend text of the hatched part.
    """
    plot_w = WIDTH - LABEL_W - 10
    legend_h = 28
    height = len(rows) * (BAR_H + GAP) + GAP + legend_h
    description = "; ".join(
        f"{label}: "
        + ", ".join(
            f"{s.label} {'—' if c is None else c}" for s, c in zip(segments, counts, strict=True)
        )
        for label, counts, _total in rows
    )
    head, tail, hatch = _open(WIDTH, height, title, description)
    parts = [head, _hatch_defs(hatch)]
    for r, (label, counts, total) in enumerate(rows):
        y = GAP + r * (BAR_H + GAP)
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + BAR_H / 2 + 4}" text-anchor="end" fill="#212121">'
            f"{escape(_clip(label))}</text>"
        )
        if not total:
            fill = f"url(#{hatch})" if total is None else "#f5f5f5"
            parts.append(
                f'<rect x="{LABEL_W}" y="{y}" width="{plot_w}" height="{BAR_H}" fill="{fill}"/>'
            )
            continue
        x = float(LABEL_W)
        shown = 0
        for segment, count in zip(segments, counts, strict=True):
            if not count:
                continue
            shown += count
            w = plot_w * count / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}" '
                f'fill="{segment.fill}"><title>{escape(segment.label)}: {count}</title></rect>'
            )
            if w >= 34:
                parts.append(
                    f'<text x="{x + w / 2:.1f}" y="{y + BAR_H / 2 + 4}" text-anchor="middle" '
                    f'fill="{segment.text}">{100 * count / total:.0f}%</text>'
                )
            x += w
        hidden = total - shown
        if hidden > 0:
            w = plot_w * hidden / total
            parts.append(
                f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="url(#{hatch})">'
                f"<title>{escape(suppressed_label)}</title></rect>"
            )
    parts.append(_legend([*segments, None], suppressed_label, height - legend_h + 8, hatch))
    parts.append(tail)
    return Markup("".join(parts))


def _legend(segments: Sequence[Segment | None], suppressed_label: str, y: float, hatch: str) -> str:
    x = float(LABEL_W)
    out = []
    for segment in segments:
        label = suppressed_label if segment is None else segment.label
        fill = f"url(#{hatch})" if segment is None else segment.fill
        out.append(
            f'<rect x="{x:.0f}" y="{y}" width="12" height="12" fill="{fill}" stroke="#616161" '
            f'stroke-width="0.5"/><text x="{x + 16:.0f}" y="{y + 10}" fill="#212121">'
            f"{escape(label)}</text>"
        )
        x += 16 + 7.5 * _width_units(label) + 18
    return "".join(out)


def _width_units(text: str) -> float:
    """Rough text width in half-em units: wide (CJK) characters count double."""
    return sum(2.0 if ord(ch) > 0x2E80 else 1.0 for ch in text)


def bars(
    items: Sequence[tuple[str, int | None]],
    *,
    title: str,
    fill: str = "#1565c0",
    suppressed_label: str = "",
) -> Markup:
    """Horizontal bars of counts, one per item; a ``None`` count is drawn as a hatched stub."""
    plot_w = WIDTH - LABEL_W - 60
    height = len(items) * (BAR_H + GAP) + GAP
    largest = max((c for _, c in items if c), default=1)
    description = "; ".join(f"{label}: {'—' if c is None else c}" for label, c in items)
    head, tail, hatch = _open(WIDTH, height, title, description)
    parts = [head, _hatch_defs(hatch)]
    for r, (label, count) in enumerate(items):
        y = GAP + r * (BAR_H + GAP)
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + BAR_H / 2 + 4}" text-anchor="end" fill="#212121">'
            f"{escape(_clip(label))}</text>"
        )
        if count is None:
            parts.append(
                f'<rect x="{LABEL_W}" y="{y}" width="24" height="{BAR_H}" fill="url(#{hatch})">'
                f"<title>{escape(suppressed_label)}</title></rect>"
            )
            continue
        w = plot_w * count / largest
        parts.append(
            f'<rect x="{LABEL_W}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{fill}"/>'
            f'<text x="{LABEL_W + w + 6:.1f}" y="{y + BAR_H / 2 + 4}" fill="#212121">'
            f"{count:,}</text>"
        )
    parts.append(tail)
    return Markup("".join(parts))


def trend_line(
    points: Sequence[tuple[str, float | None]],
    *,
    title: str,
    percent: bool = True,
    stroke: str = "#c62828",
    width: int = 320,
    height: int = 120,
) -> Markup:
    """A small line over time (screening windows); ``None`` values leave a gap."""
    left, right, top, bottom = 56, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for _, v in points if v is not None]
    high = max(values, default=0.0) or 1.0

    def fmt(v: float) -> str:
        return f"{100 * v:.1f}%" if percent else f"{v:g}"

    description = "; ".join(f"{x}: {'—' if v is None else fmt(v)}" for x, v in points)
    head, tail, _hatch = _open(width, height, title, description)
    parts = [
        head,
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#9e9e9e"/>',
        f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" fill="#424242">{fmt(high)}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" fill="#424242">{fmt(0)}</text>',
    ]
    n = len(points)
    step = plot_w / max(n - 1, 1)
    runs: list[list[str]] = [[]]
    for i, (label, value) in enumerate(points):
        x = left + (i * step if n > 1 else plot_w / 2)
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" fill="#424242">'
            f"{escape(_clip(label, 12))}</text>"
        )
        if value is None:
            runs.append([])  # a gap: the line stops here and starts again after
            continue
        y = top + plot_h * (1 - value / high)
        runs[-1].append(f"{x:.1f},{y:.1f}")
        parts.append(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{stroke}">'
            f"<title>{escape(label)}: {fmt(value)}</title></circle>"
        )
    for run in runs:
        if len(run) > 1:
            parts.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{stroke}" '
                'stroke-width="2"/>'
            )
    parts.append(tail)
    return Markup("".join(parts))


__all__ = ["Segment", "bars", "stacked_bars", "trend_line"]
