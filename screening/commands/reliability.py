"""``screening reliability``: reliability, item statistics and data quality per group.

Writes ``reliability.parquet`` (one row per group and scale), ``items.parquet``,
``careless.parquet`` (careless-responding rates per group and instrument),
``quality.parquet`` (one row per group with the reasons to look again) and ``report.html``
(self-contained: no script, no web fonts, nothing fetched), all published together.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from pathlib import Path
from typing import Any

import click
import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from screening import __version__
from screening.atomic import atomic_write, output_directory, write_parquet_atomic
from screening.commands.inputs import read_item_frame
from screening.commands.options import mapping_option
from screening.errors import InputFileError, count_of
from screening.mapping import load_mapping
from screening.scoring.quality import QualityTables, QualityThresholds, instruments_of
from screening.scoring.quality import quality_tables as build_quality_tables
from screening.scoring.reliability import reliability_by

CHART_GROUPS = 60
REVIEW_LIMIT = 200
FLAG_LABELS = {
    "low alpha": "α 偏低 low alpha",
    "reverse key": "反向题? reverse key",
    "straight-lining": "直线作答 straight-lining",
    "careless": "随意作答 careless",
    "many flagged": "筛出偏多 many flagged",
    "few flagged": "筛出偏少 few flagged",
    "small group": "人数少 small group",
}


def _split_by(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


@click.command("reliability")
@click.argument(
    "inputs", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--battery", "-b", help="Battery id or TOML path: every instrument of it.")
@click.option("--instrument", "-i", help="One instrument (id or TOML path).")
@click.option(
    "--by",
    "by_values",
    multiple=True,
    help="Group columns, repeated or comma-separated (--by school_id,grade,sex). "
    "Default: school_id when the data have it.",
)
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reliability"),
    show_default=True,
    help="Output folder.",
)
@mapping_option
@click.option(
    "--results",
    "results_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Scored results of the same inputs (screening score), for the share of flagged "
    "students per group.",
)
@click.option(
    "--missing",
    type=click.Choice(["pairwise", "listwise"]),
    default="pairwise",
    show_default=True,
)
@click.option(
    "--on-invalid",
    type=click.Choice(["raise", "missing"]),
    default="raise",
    show_default=True,
    help="Stop at answers out of range, or count them as missing.",
)
@click.option("--min-n", type=click.IntRange(min=2), default=30, show_default=True)
@click.option("--alpha-min", type=click.FloatRange(0, 1), default=0.6, show_default=True)
@click.option("--omega", is_flag=True, help="Also one-factor omega total per group (slower).")
@click.option("--quiet", "-q", is_flag=True)
def command(
    inputs,
    battery,
    instrument,
    by_values,
    out_dir,
    mapping_path,
    results_path,
    missing,
    on_invalid,
    min_n,
    alpha_min,
    omega,
    quiet,
) -> None:
    """Reliability (alpha, λ6, item statistics), careless responding and flagged groups."""
    if (battery is None) == (instrument is None):
        raise click.UsageError("give --battery or --instrument (one of them)")
    spec = battery if battery is not None else instrument
    instruments = instruments_of(spec)
    # each file's answers are checked in the file, so that errors name its own rows
    frame = read_item_frame(
        inputs,
        instruments,
        mapping_path,
        check_answers=on_invalid == "raise",
        keep="count them as missing with --on-invalid missing",
    )
    by = _split_by(by_values) or (["school_id"] if "school_id" in frame.columns else [])
    absent = [c for c in by if c not in frame.columns]
    if absent:
        raise InputFileError(None, _absent_groups(by, absent, frame.columns, mapping_path))
    results = None
    if results_path is not None:
        results = (
            pl.read_parquet(results_path)
            if results_path.suffix == ".parquet"
            else pl.read_csv(results_path)
        )
        if results.height != frame.height:
            raise InputFileError(
                results_path,
                f"{results.height} result rows for {frame.height} input rows: give the results "
                "of exactly these inputs, in the same order.",
            )
    limits = QualityThresholds(alpha_min=alpha_min)
    tables = build_quality_tables(
        frame,
        instruments,
        by,
        results=results,
        missing=missing,
        min_n=min_n,
        omega=omega,
        thresholds=limits,
        on_invalid=on_invalid,
    )
    overall = _overall(frame, instruments, missing, omega, on_invalid)
    html = render_report(
        tables,
        overall,
        title=", ".join(inst.id for inst in instruments),
        rows=frame.height,
        missing=missing,
        alpha_min=alpha_min,
    )
    with output_directory(out_dir, last=("report.html",)) as staging:
        write_parquet_atomic(tables.reliability, staging / "reliability.parquet")
        write_parquet_atomic(tables.items, staging / "items.parquet")
        write_parquet_atomic(tables.careless, staging / "careless.parquet")
        write_parquet_atomic(tables.quality, staging / "quality.parquet")
        with atomic_write(staging / "report.html", "w", encoding="utf-8") as handle:
            handle.write(html)
    if not quiet:
        review = int(tables.quality["needs_review"].sum())
        click.echo(
            f"{count_of(frame.height, 'row')}, {count_of(tables.quality.height, 'group')}, "
            f"{review:,} to review. Report: {out_dir / 'report.html'}"
        )


def _absent_groups(
    by: list[str], absent: list[str], columns: list[str], mapping_path: Path | None
) -> str:
    """Why ``--by`` names columns the inputs lack, with the names to use where ``--map``
    renamed those headers."""
    message = f"group columns {absent} are not in the inputs (columns: {columns[:20]})"
    renamed = load_mapping(mapping_path).columns if mapping_path is not None else {}
    if any(name in renamed for name in absent):
        wanted = ",".join(renamed.get(name, name) for name in by)
        message += f"; --by names the columns as --map renames them: use --by {wanted}"
    return message


def _overall(
    frame: pl.DataFrame, instruments: list, missing: str, omega: bool, on_invalid: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Scale and item statistics over all rows (one group)."""
    scales, items = [], []
    for inst in instruments:
        t = reliability_by(
            frame, inst, [], missing=missing, careless=False, omega=omega, on_invalid=on_invalid
        )
        scales.append(t.scales.with_columns(instrument=pl.lit(inst.id)))
        items.append(t.items.with_columns(instrument=pl.lit(inst.id)))
    return pl.concat(scales, how="diagonal_relaxed"), pl.concat(items, how="diagonal_relaxed")


def _f(value: Any, digits: int = 3) -> str:
    if value is None or value != value:
        return "—"
    return f"{value:.{digits}f}"


def _pct(value: Any) -> str:
    if value is None or value != value:
        return "—"
    return f"{100 * value:.1f}%"


def _key(row: dict, by: list[str]) -> str:
    if not by:
        return "全部 all"
    return " · ".join("—" if row[c] is None else str(row[c]) for c in by)


def alpha_chart(groups: list[dict], alpha_min: float, title: str) -> Markup:
    """An inline SVG of alpha with its interval for each group (sorted, lowest first)."""
    label_w, width, bar, top = 170, 860, 16, 24
    plot_w = width - label_w - 20
    height = top + bar * len(groups) + 24

    def x(v: float) -> float:
        return label_w + max(0.0, min(1.0, v)) * plot_w

    parts = [
        f'<svg class="chart" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg" '
        f'font-family="inherit" font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for tick in (0.0, 0.2, 0.4, 0.6, 0.8, 1.0):
        parts.append(
            f'<line x1="{x(tick):.1f}" x2="{x(tick):.1f}" y1="{top - 6}" y2="{height - 20}" '
            f'stroke="#d0d7de"/><text x="{x(tick):.1f}" y="{height - 6}" '
            f'text-anchor="middle" fill="#4a5057">{tick:.1f}</text>'
        )
    parts.append(
        f'<line x1="{x(alpha_min):.1f}" x2="{x(alpha_min):.1f}" y1="{top - 6}" '
        f'y2="{height - 20}" stroke="#b71c1c" stroke-dasharray="4 3"/>'
    )
    for i, g in enumerate(groups):
        y = top + i * bar + bar / 2
        label = g["key"] if len(g["key"]) <= 24 else g["key"][:23] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>'
        )
        a, lo, hi = g["alpha_value"], g["ci_low_value"], g["ci_high_value"]
        if lo is not None and hi is not None and lo == lo and hi == hi:
            parts.append(
                f'<line x1="{x(lo):.1f}" x2="{x(hi):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
                f'stroke="#0b5cad" stroke-width="2"/>'
            )
        if a is not None and a == a:
            colour = "#b71c1c" if a < alpha_min else "#0b5cad"
            parts.append(f'<circle cx="{x(a):.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def render_report(
    tables: QualityTables,
    overall: tuple[pl.DataFrame, pl.DataFrame],
    *,
    title: str,
    rows: int,
    missing: str,
    alpha_min: float,
) -> str:
    """The self-contained HTML report of one reliability run."""
    by = tables.by
    overall_scales, overall_items = overall
    has_omega = "omega_total" in tables.reliability.columns
    over = [
        {
            "name": f"{r['instrument']}.{r['scale']}",
            "n": r["n"],
            "n_items": r["n_items"],
            "alpha": _f(r["alpha"]),
            "ci": f"{_f(r['ci_low'])}–{_f(r['ci_high'])}",
            "std_alpha": _f(r["std_alpha"]),
            "g6": _f(r["g6"]),
            "average_r": _f(r["average_r"]),
            "omega": _f(r.get("omega_total")),
        }
        for r in overall_scales.iter_rows(named=True)
    ]
    quality = tables.quality
    review_frame = (
        quality.filter(pl.col("needs_review"))
        .with_columns(pl.col("flags").list.len().alias("__k"))
        .sort(["__k", "alpha_min"], descending=[True, False], nulls_last=True)
    )
    review = [
        {
            "key": _key(r, by),
            "rows": r["rows"],
            "alpha_min": _f(r["alpha_min"]),
            "alpha_min_scale": r["alpha_min_scale"] or "—",
            "straightline": _pct(r["straightline_rate"]),
            "mahad": _pct(r["mahad_rate"]),
            "flagged": _pct(r["flagged_share"]),
            "negative": ", ".join(r["negative_items"]) or "—",
            "flags": r["flags"],
        }
        for r in review_frame.head(REVIEW_LIMIT).iter_rows(named=True)
    ]
    scales = []
    rel = tables.reliability.with_columns(
        pl.concat_str(pl.col("instrument"), pl.lit("."), pl.col("scale")).alias("__name")
    )
    for name in rel["__name"].unique(maintain_order=True).to_list():
        part = rel.filter(pl.col("__name") == name).sort("alpha", nulls_last=True)
        groups = [
            {
                "key": _key(r, by),
                "n": r["n"],
                "small": r["small"],
                "alpha": _f(r["alpha"]),
                "ci": f"{_f(r['ci_low'])}–{_f(r['ci_high'])}",
                "g6": _f(r["g6"]),
                "average_r": _f(r["average_r"]),
                "omega": _f(r.get("omega_total")),
                "alpha_value": r["alpha"],
                "ci_low_value": r["ci_low"],
                "ci_high_value": r["ci_high"],
            }
            for r in part.iter_rows(named=True)
        ]
        shown = groups[:CHART_GROUPS]
        scales.append(
            {
                "name": name,
                "n_groups": len(groups),
                "shown": len(shown),
                "chart": alpha_chart(shown, alpha_min, f"Cronbach's alpha by group: {name}"),
                "groups": groups,
            }
        )
    item_tables = []
    items = overall_items.with_columns(
        pl.concat_str(pl.col("instrument"), pl.lit("."), pl.col("scale")).alias("__name")
    )
    for name in items["__name"].unique(maintain_order=True).to_list():
        item_tables.append(
            {
                "name": name,
                "rows": [
                    {
                        "item": r["item"],
                        "n": r["n"],
                        "missing": _pct(r["missing_rate"]),
                        "mean": _f(r["mean"], 2),
                        "sd": _f(r["sd"], 2),
                        "floor": _pct(r["floor"]),
                        "ceiling": _pct(r["ceiling"]),
                        "r_drop": _f(r["r_drop"]),
                        "negative": (r["r_drop"] or 0) < 0,
                        "alpha_drop": _f(r["alpha_drop"]),
                        "flag": r["flag"] or "",
                    }
                    for r in items.filter(pl.col("__name") == name).iter_rows(named=True)
                ],
            }
        )
    env = Environment(
        loader=PackageLoader("screening", "templates"),
        autoescape=select_autoescape(("html", "j2")),
        undefined=StrictUndefined,
    )
    return env.get_template("reliability.html.j2").render(
        title=title,
        generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
        version=__version__,
        rows=rows,
        n_groups=quality.height,
        by_label=", ".join(by) or "—",
        n_review=int(quality["needs_review"].sum()),
        missing=missing,
        overall=over,
        has_omega=has_omega,
        review=review,
        review_limit=REVIEW_LIMIT,
        flag_labels=FLAG_LABELS,
        scales=scales,
        item_tables=item_tables,
        alpha_min=alpha_min,
    )
