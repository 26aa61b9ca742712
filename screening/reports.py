"""The HTML report of a batch run: ``screening report RESULTS_DIR --out report.html``.

Reads ``scores.parquet`` (or ``scores.csv``) and ``run.json`` written by ``screening score``
and writes one self-contained HTML file (inline CSS and SVG; no script, no external file,
no web font): tiers by school, grade and sex, bands per instrument, response quality per
school, what each tier means, and the statement that a screening is not a diagnosis.

Only aggregate counts reach the report: the student id column is never read, and counts
under ``min_cell`` are suppressed (:mod:`screening.suppression`). Every label comes from
the translation catalogue (:mod:`screening.i18n`).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

import screening
from screening.charts import Segment, bars, stacked_bars
from screening.errors import InputFileError, ScreeningError
from screening.i18n import normalize_locale, translator
from screening.suppression import (
    SuppressedTable,
    suppress_line,
    suppress_nested,
    suppress_table,
    total_shown,
)

TIERS: tuple[str, ...] = ("red", "orange", "yellow", "green", "retest")
"""Tier keys in report order (most urgent first); ``retest`` is a null tier."""

TIER_LEVEL = {"red": 3, "orange": 2, "yellow": 1, "green": 0}
TIER_COLOURS: dict[str, tuple[str, str]] = {
    "red": ("#b71c1c", "#ffffff"),
    "orange": ("#b34700", "#ffffff"),
    "yellow": ("#fbc02d", "#212121"),
    "green": ("#2e7d32", "#ffffff"),
    "retest": ("#616161", "#ffffff"),
}
FEMALE = {"f", "female", "girl", "女", "女生"}
MALE = {"m", "male", "boy", "男", "男生"}
MAX_CHART_GROUPS = 40
QUALITY_ALERT = 0.10
_READ = ("school_id", "grade", "sex", "tier", "tier_label", "status")


@dataclass
class BatchRun:
    """What the report needs of a results folder: the needed result columns and run.json."""

    frame: pl.DataFrame
    record: dict[str, Any]
    band_columns: list[str] = field(default_factory=list)


def load_run(results_dir: str | Path) -> BatchRun:
    """Read the aggregate-relevant columns of a results folder (never ``student_id``).

    Raises
    ------
    InputFileError
        When ``run.json`` or the results file is missing or unreadable.
    """
    folder = Path(results_dir)
    run_path = folder / "run.json"
    if not run_path.is_file():
        raise InputFileError(
            folder, "no run.json here; give the folder written by `screening score --out DIR`"
        )
    try:
        record = json.loads(run_path.read_text("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputFileError(
            run_path, f"not a valid run record ({error}); re-run scoring"
        ) from None
    _check_record(run_path, record)
    name = (record.get("outputs") or {}).get("results")
    candidates = [folder / name] if name else []
    candidates += [folder / "scores.parquet", folder / "scores.csv"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise InputFileError(folder, "no scores.parquet or scores.csv; re-run `screening score`")
    try:
        parquet = path.suffix == ".parquet"
        if parquet:
            columns = pl.read_parquet_schema(path)
        else:
            columns = pl.read_csv(path, n_rows=0, infer_schema=False).schema
        bands = [c for c in columns if c.endswith(".band")]
        wanted = [c for c in (*_READ, *bands) if c in columns]
        if parquet:
            frame = pl.read_parquet(path, columns=wanted)
        else:
            frame = pl.read_csv(path, columns=wanted, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as error:
        raise InputFileError(
            path, f"the results cannot be read ({error}); re-run `screening score`"
        ) from None
    if frame.height == 0 or "status" not in frame.columns:
        raise InputFileError(
            path, "no results to report (no rows, or no status column); re-run `screening score`"
        )
    frame = frame.with_columns(pl.col(c).cast(pl.String) for c in wanted if c != "tier")
    if "tier" in frame.columns:
        frame = frame.with_columns(pl.col("tier").cast(pl.Int8, strict=False))
    return BatchRun(frame=frame, record=record, band_columns=bands)


def _check_record(path: Path, record: object) -> None:
    """Refuse a run record that this version of the toolkit did not write.

    Raises
    ------
    InputFileError
        When ``record`` is not a JSON object from ``screening``, or was written by another
        major or minor version (whose results may have other columns or meanings).
    """
    toolkit = record.get("toolkit") if isinstance(record, dict) else None
    if not isinstance(toolkit, dict) or toolkit.get("name") != "screening":
        raise InputFileError(
            path, "not a run.json written by `screening score`; give its output folder"
        )
    version = str(toolkit.get("version", ""))
    if version.split(".")[:2] != screening.__version__.split(".")[:2]:
        raise InputFileError(
            path,
            f"written by screening {version or '(no version)'}, this is screening "
            f"{screening.__version__}; re-run `screening score` with this version",
        )


# ---------------------------------------------------------------- definitions
@cache
def _definitions(battery_source: str | None, instrument_sources: tuple[str, ...]):
    """Battery and instruments as currently installed (for labels and rules), or None."""
    from screening.instruments.loader import load_battery, load_instrument

    def ref(source: str) -> str:
        return source.removeprefix("bundled:")

    battery = None
    if battery_source:
        try:
            battery = load_battery(ref(battery_source)).battery
        except (ScreeningError, OSError):
            battery = None
    instruments = {}
    for source in instrument_sources:
        try:
            instrument = load_instrument(ref(source))
        except (ScreeningError, OSError):
            continue
        instruments[instrument.id] = instrument
    return battery, instruments


# ---------------------------------------------------------------- labels
def _group_label(kind: str, value: str | None, _) -> str:
    if value is None or value == "":
        return _("report.unknown_group")
    if kind == "sex":
        low = value.strip().lower()
        if low in FEMALE:
            return _("sex.female")
        if low in MALE:
            return _("sex.male")
    if kind == "grade" and value.strip().isdigit():
        return _("report.grade_n", n=int(value))
    return value


def _group_order(value: str | None) -> tuple:
    if value is None:
        return (2, 0, "")
    text = value.strip()
    return (0, int(text), "") if text.isdigit() else (1, 0, text)


def _tier_key(frame: pl.DataFrame) -> pl.Expr:
    if "tier_label" in frame.columns:
        return pl.col("tier_label").fill_null("retest")
    return pl.col("tier").replace_strict(
        {v: k for k, v in TIER_LEVEL.items()}, default="retest", return_dtype=pl.String
    )


def _counts(frame: pl.DataFrame, *keys: pl.Expr | str) -> dict:
    """Students per key combination; a column ``n`` holds weights of pre-aggregated rows."""
    weight = pl.col("n").sum() if "n" in frame.columns else pl.len()
    grouped = frame.group_by(*keys).agg(weight.alias("_n"))
    return {row[:-1] if len(row) > 2 else row[0]: row[-1] for row in grouped.iter_rows()}


def _students(frame: pl.DataFrame) -> int:
    return int(frame.get_column("n").sum()) if "n" in frame.columns else frame.height


def tier_line(frame: pl.DataFrame, min_cell: int) -> tuple[list[int], list[bool]]:
    """Students per tier (in :data:`TIERS` order) and which of the counts to hide."""
    counts = _counts(frame, _tier_key(frame).alias("_tier"))
    values = [counts.get(k, 0) for k in TIERS]
    return values, suppress_line(values, min_cell)


def tier_table(
    frame: pl.DataFrame, by: str, min_cell: int, hidden_totals: list[bool] | None = None
) -> tuple[SuppressedTable, list]:
    """Counts of students per ``by`` group and tier, suppressed; and the raw group values.

    ``frame`` holds one row per student, or pre-aggregated rows with their count in ``n``.
    The tiers' totals are those of :func:`tier_line`, hidden where it hides them (or where
    ``hidden_totals`` says, when the caller hides more of the line). Every
    publication of these counts (the batch report, the service's reports and dashboard)
    goes through here, so all hide the same cells.
    """
    if by not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias(by))
    lookup = _counts(frame, pl.col(by), _tier_key(frame).alias("_tier"))
    groups = sorted({g for g, _k in lookup}, key=_group_order)
    matrix = [[lookup.get((g, k), 0) for k in TIERS] for g in groups]
    if hidden_totals is None:
        _, hidden_totals = tier_line(frame, min_cell)
    labels = [str(g) for g in groups]
    return suppress_table(labels, list(TIERS), matrix, min_cell, hidden_totals), groups


def school_lines(
    frame: pl.DataFrame, min_cell: int, hidden_totals: list[bool] | None = None
) -> dict[Any, tuple[list[bool], bool]]:
    """Per school, which of its tier counts a reader of the by-school table may not see,
    and whether its total is hidden.

    A school's own tier line hides its small counts (:func:`tier_line`); a reader who also
    sees the by-school table (:func:`tier_table`) must not see in the school's line what
    that table hides of the school's row, or the two side by side would show it.
    """
    if "school_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, pl.String).alias("school_id"))
    table, schools = tier_table(frame, "school_id", min_cell, hidden_totals)
    counts = _counts(frame, pl.col("school_id"), _tier_key(frame).alias("_tier"))
    lines = {}
    for i, school in enumerate(schools):
        own = suppress_line([counts.get((school, k), 0) for k in TIERS], min_cell)
        row = [a or c is None for a, c in zip(own, table.counts[i], strict=True)]
        lines[school] = (row, table.totals[i] is None)
    return lines


def nested_tables(
    frame: pl.DataFrame, by: str, min_cell: int, hidden_totals: list[bool] | None = None
) -> tuple[tuple[SuppressedTable, list], dict[Any, tuple[SuppressedTable, list]]]:
    """The ``by`` × tier table of the whole frame and of each school in it, suppressed
    together (:func:`screening.suppression.suppress_nested`) for a reader who sees all.

    Returns
    -------
    tuple
        The whole's table with its raw group values (as :func:`tier_table`), and per
        school its table with the groups the school has.
    """
    for column in (by, "school_id"):
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, pl.String).alias(column))
    lookup = _counts(frame, pl.col("school_id"), pl.col(by), _tier_key(frame).alias("_tier"))
    groups = sorted({g for _s, g, _k in lookup}, key=_group_order)
    schools = sorted({s for s, _g, _k in lookup}, key=_group_order)
    parts = [[[lookup.get((s, g, k), 0) for k in TIERS] for g in groups] for s in schools]
    if hidden_totals is None:
        _, hidden_totals = tier_line(frame, min_cell)
    lines = school_lines(frame, min_cell, hidden_totals)
    labels = [str(g) for g in groups]
    whole, tables = suppress_nested(
        labels, list(TIERS), parts, min_cell, hidden_totals, [lines[s][0] for s in schools]
    )
    return (whole, groups), {
        s: _present(table, groups, part)
        for s, table, part in zip(schools, tables, parts, strict=True)
    }


def _present(
    table: SuppressedTable, groups: list, part: list[list[int]]
) -> tuple[SuppressedTable, list]:
    """``table`` with only the groups that have students in ``part``, and their values."""
    keep = [i for i, row in enumerate(part) if sum(row) > 0]
    return SuppressedTable(
        groups=[table.groups[i] for i in keep],
        categories=table.categories,
        counts=[table.counts[i] for i in keep],
        totals=[table.totals[i] for i in keep],
    ), [groups[i] for i in keep]


def tier_sections(
    frame: pl.DataFrame,
    *,
    locale: str = "zh-CN",
    min_cell: int = 10,
    students_hidden: bool = False,
) -> dict:
    """Overall tiers, response status and tiers by school, grade and sex, suppressed.

    Shared by the batch report and the service's dashboard, so both show the same figures.

    Parameters
    ----------
    frame
        Columns ``school_id``, ``grade``, ``sex`` (any present), ``tier_label`` (or
        ``tier``) and ``status``; one row per student, or pre-aggregated rows with their
        count in ``n``.
    locale, min_cell
        Language of the labels; smallest count shown.
    students_hidden
        Hide the number of students whatever these lines say (another line of the same
        students, such as a band line, would pin its hidden counts beside it).

    Returns
    -------
    dict
        ``students`` (None when under ``min_cell`` or where it would pin hidden counts),
        ``overall`` (None without tiers), ``status_rows`` and ``breakdowns`` (school,
        grade, sex; each with an SVG chart, and ``hidden``: the raw values of the groups
        hidden whole). Where the number of students is hidden, no line of them shows a
        non-zero count or a share and every group is hidden whole: each line adds up to
        that number, and any of them shown whole would publish it.
    """
    if min_cell < 1:
        raise ValueError(f"min_cell must be at least 1, got {min_cell}")
    _ = translator(locale)
    has_tiers = "tier" in frame.columns or "tier_label" in frame.columns
    n = _students(frame)
    segments = [Segment(k, _(f"tier.{k}"), *TIER_COLOURS[k]) for k in TIERS]
    hidden_label = _("report.suppressed")

    status_counts = _counts(frame, "status") if "status" in frame.columns else {}
    statuses = ("scored", "incomplete", "invalid")
    status_values = [status_counts.get(s, 0) for s in statuses]
    status_hidden = suppress_line(status_values, min_cell)
    lines = [(status_values, status_hidden)]
    if has_tiers:
        lines.append(tier_line(frame, min_cell))
    published = not students_hidden and all(total_shown(v, h, min_cell) for v, h in lines)
    if not published:  # every line adds up to n: none may show it
        lines = [(v, [c > 0 for c in v]) for v, _h in lines]
        status_hidden = lines[0][1]

    overall = None
    if has_tiers:
        values, hidden = lines[-1]
        shown = [None if h else v for v, h in zip(values, hidden, strict=True)]
        overall = {
            "rows": [
                {
                    "key": k,
                    "label": _(f"tier.{k}"),
                    "count": c,
                    "share": _share(c, n) if published else None,
                }
                for k, c in zip(TIERS, shown, strict=True)
            ],
            "chart": stacked_bars(
                [(_("report.overview"), shown, n if published else None)],
                segments,
                title=_("report.tiers_overall"),
                suppressed_label=hidden_label,
            ),
        }

    status_rows = [
        {
            "label": _(f"report.status_{s}"),
            "count": None if h else v,
            "share": _share(v, n, h or not published),
        }
        for s, v, h in zip(statuses, status_values, status_hidden, strict=True)
    ]

    breakdowns = []
    if has_tiers:
        for by, title, column in (
            ("school_id", "report.by_school", "report.school"),
            ("grade", "report.by_grade", "report.grade"),
            ("sex", "report.by_sex", "report.sex_col"),
        ):
            if by not in frame.columns:
                continue
            if by == "school_id":
                table, groups = tier_table(frame, by, min_cell, hidden)
            else:  # beside each school's own table (the service's school reports)
                (table, groups), _parts = nested_tables(frame, by, min_cell, hidden)
            if not published:
                table = SuppressedTable(
                    groups=table.groups,
                    categories=table.categories,
                    counts=[[None] * len(TIERS) for _g in groups],
                    totals=[None] * len(groups),
                )
            kind = by.removesuffix("_id")
            labels = [_group_label(kind, g, _) for g in groups]
            rows = [
                {
                    "label": label,
                    "total": table.totals[i],
                    "cells": [
                        {"count": table.counts[i][j], "share": table.share(i, j)}
                        for j in range(len(TIERS))
                    ],
                }
                for i, label in enumerate(labels)
            ]
            chart = None
            if len(rows) <= MAX_CHART_GROUPS:
                chart = stacked_bars(
                    [(r["label"], [c["count"] for c in r["cells"]], r["total"]) for r in rows],
                    segments,
                    title=_(title),
                    suppressed_label=hidden_label,
                )
            breakdowns.append(
                {
                    "id": kind,
                    "title": _(title),
                    "column": _(column),
                    "rows": rows,
                    "chart": chart,
                    "hidden": [g for g, t in zip(groups, table.totals, strict=True) if t is None],
                }
            )
    return {
        "students": n if published else None,
        "overall": overall,
        "status_rows": status_rows,
        "breakdowns": breakdowns,
        "has_tiers": has_tiers,
    }


# ---------------------------------------------------------------- context
def report_context(run: BatchRun, *, locale: str = "zh-CN", min_cell: int = 10) -> dict:
    """Everything the report template shows, with labels in ``locale``.

    Parameters
    ----------
    run
        The loaded results folder (:func:`load_run`).
    locale
        ``"zh-CN"`` (default) or ``"en"``.
    min_cell
        Counts from 1 to ``min_cell - 1`` are hidden, and groups smaller than it.
    """
    if min_cell < 1:
        raise ValueError(f"min_cell must be at least 1, got {min_cell}")
    locale = normalize_locale(locale)
    _ = translator(locale)
    record, frame = run.record, run.frame
    battery_info = record.get("battery") or {}
    instrument_info = record.get("instruments") or []
    battery, instruments = _definitions(
        battery_info.get("source"), tuple(i.get("source", "") for i in instrument_info)
    )
    changed = (battery is not None and battery.sha256 != battery_info.get("sha256")) or any(
        i["id"] in instruments and instruments[i["id"]].sha256 != i.get("sha256")
        for i in instrument_info
    )
    band_lines = _band_lines(run, instruments, locale, min_cell)
    pinned = not all(total_shown(b["values"], b["hidden"], min_cell) for b in band_lines)
    sections = tier_sections(frame, locale=locale, min_cell=min_cell, students_hidden=pinned)
    has_tiers = sections["has_tiers"]
    published = sections["students"] is not None
    band_sections = _bands(band_lines, published, _)
    entries = record.get("quality_by_school") or []
    if published:
        (schools,) = [b["hidden"] for b in sections["breakdowns"] if b["id"] == "school"] or [[]]
    else:
        schools = [entry.get("school_id") for entry in entries]
    quality = quality_rows(entries, min_cell, locale, hidden_schools=schools)
    meaning = _meaning(battery, has_tiers, _) if has_tiers else []
    return {
        "lang": locale,
        "title": _("report.title"),
        "battery": {
            "name": (battery.name.get(locale) if battery is not None else "")
            or battery_info.get("id", ""),
            "id": battery_info.get("id", ""),
            "version": battery_info.get("version", ""),
        },
        "created": _when(record.get("created")),
        "generated": _when(datetime.now(UTC).isoformat()),
        "inputs": len(record.get("inputs") or []),
        **sections,
        "min_cell": min_cell,
        "tiers": TIERS,
        "tier_labels": [_(f"tier.{k}") for k in TIERS],
        "tier_colours": TIER_COLOURS,
        "bands": band_sections,
        "quality": quality,
        "quality_alert": f"{QUALITY_ALERT:.0%}",
        "meaning": meaning,
        "instruments": [
            {
                "id": i.get("id", ""),
                "name": instruments[i["id"]].name.get(locale, i["id"])
                if i.get("id") in instruments
                else i.get("id", ""),
                "version": i.get("version", ""),
                "sha256": (i.get("sha256") or "")[:12],
            }
            for i in instrument_info
        ],
        "definitions_changed": changed,
        "version": screening.__version__,
    }


def _when(stamp: str | None) -> str:
    """``2026-11-23 06:39 UTC`` for an ISO time stamp (as written, if it does not parse)."""
    if not stamp:
        return ""
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%d %H:%M UTC")
    return moment.strftime("%Y-%m-%d %H:%M")


def _share(count: int | None, total: int, hidden: bool = False) -> float | None:
    return None if count is None or hidden or not total else count / total


def _band_lines(run: BatchRun, instruments: dict, locale: str, min_cell: int) -> list[dict]:
    """Per band column: its title, band labels, counts (no band last) and which to hide."""
    lines = []
    frame = run.frame
    _ = translator(locale)
    for column in run.band_columns:
        instrument_id, _dot, rest = column.partition(".")
        scale_id = rest.removesuffix(".band")
        spec = instruments.get(instrument_id)
        scale = next((s for s in spec.scales if s.id == scale_id), None) if spec else None
        english = list(scale.bands.labels["en"]) if scale and scale.bands else []
        local = list(scale.bands.labels.get(locale, english)) if english else []
        counts = _counts(frame, column)
        keys = english or sorted(k for k in counts if k is not None)
        keys += sorted(k for k in counts if k is not None and k not in keys)
        values = [counts.get(k, 0) for k in keys] + [counts.get(None, 0)]
        labels = [local[i] if i < len(local) else k for i, k in enumerate(keys)]
        labels.append(_("report.no_band"))
        name = spec.name.get(locale, instrument_id) if spec else instrument_id
        scale_name = scale.name.get(locale, scale_id) if scale else scale_id
        lines.append(
            {
                "title": f"{name} · {scale_name}",
                "labels": labels,
                "values": values,
                "hidden": suppress_line(values, min_cell),
            }
        )
    return lines


def _bands(lines: list[dict], published: bool, _) -> list[dict]:
    """The band sections; where the number of students is hidden, no line shows a non-zero
    count or a share (each adds up to that number)."""
    sections = []
    for line in lines:
        values = line["values"]
        hidden = line["hidden"] if published else [v > 0 for v in values]
        total = sum(values)
        rows = [
            {"label": label, "count": None if h else v, "share": _share(v, total, h)}
            for label, v, h in zip(line["labels"], values, hidden, strict=True)
        ]
        sections.append(
            {
                "title": line["title"],
                "rows": rows,
                "chart": bars(
                    [(r["label"], r["count"]) for r in rows],
                    title=line["title"],
                    suppressed_label=_("report.suppressed"),
                ),
            }
        )
    return sections


def quality_rows(
    entries: list[dict],
    min_cell: int,
    locale: str = "zh-CN",
    *,
    hidden_schools: Collection[Any] = (),
) -> list[dict]:
    """Response-quality rows per school (entries as in run.json ``quality_by_school``).

    The schools' incomplete and invalid counts (rate × students) are a schools × status
    table whose column totals the report's status line publishes: it is suppressed as one
    (:func:`screening.suppression.suppress_table`), so that no school's hidden count follows
    from the status line less the other schools' shown rates. Schools under ``min_cell``
    students, and those in ``hidden_schools`` (whose totals the by-school tier table hides),
    show no students and no rates; no straight-lining rate is shown whose count lies
    between 1 and ``min_cell - 1``. A rate at or above :data:`QUALITY_ALERT` marks a school
    whose students are shown for a check, shown or not.
    """
    _ = translator(locale)
    if not entries:
        return []
    keys = ("incomplete_rate", "invalid_rate", "straight_lining_rate")
    students = [int(entry.get("students") or 0) for entry in entries]
    counts = [
        [0 if entry.get(k) is None else round(entry[k] * n) for k in keys]
        for entry, n in zip(entries, students, strict=True)
    ]
    matrix = [[n - c[0] - c[1], c[0], c[1]] for n, c in zip(students, counts, strict=True)]
    line = [sum(column) for column in zip(*matrix, strict=True)]
    table = suppress_table(
        [str(entry.get("school_id")) for entry in entries],
        ["scored", "incomplete", "invalid"],
        matrix,
        min_cell,
        suppress_line(line, min_cell),
        hide_groups=[entry.get("school_id") in hidden_schools for entry in entries],
    )
    rows = []
    for i, entry in enumerate(entries):
        shown = table.totals[i] is not None
        rates = {
            "incomplete_rate": entry.get(keys[0]) if table.counts[i][1] is not None else None,
            "invalid_rate": entry.get(keys[1]) if table.counts[i][2] is not None else None,
            "straight_lining_rate": None
            if not shown or 0 < counts[i][2] < min_cell
            else entry.get(keys[2]),
        }
        rows.append(
            {
                "label": _group_label("school", entry.get("school_id"), _),
                "students": table.totals[i],
                "rates": rates,
                "alert": shown
                and any(entry.get(k) is not None and entry[k] >= QUALITY_ALERT for k in keys),
            }
        )
    return rows


def _meaning(battery, has_tiers: bool, _) -> list[dict]:
    rules: dict[int, list[str]] = {}
    due: dict[int, int] = {3: 24, 2: 168}
    if battery is not None:
        due = battery.queue_due_hours
        for rule in battery.tier:
            text = []
            if rule.any:
                text.append(f"{_('report.rule_any')}: " + "; ".join(rule.any))
            if rule.all:
                text.append(f"{_('report.rule_all')}: " + "; ".join(rule.all))
            rules[rule.level] = text
        if battery.critical_tier is not None:
            rules.setdefault(battery.critical_tier, []).insert(0, _("report.critical_rule"))
    out = []
    for key in TIERS:
        level = TIER_LEVEL.get(key)
        if key in ("red", "orange"):
            hours = due.get(level)
            text = _(f"tier_meaning.{key}", hours=hours) if hours else _("tier_meaning.no_due")
        else:
            text = _(f"tier_meaning.{key}")
        out.append(
            {
                "key": key,
                "label": _(f"tier.{key}"),
                "text": text,
                "rules": rules.get(level, []) if level is not None else [],
            }
        )
    return out


# ---------------------------------------------------------------- rendering
@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("screening", "templates"),
        autoescape=select_autoescape(("html", "j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "" if v is None else f"{100 * v:.1f}%"
    env.filters["num"] = lambda v: "" if v is None else f"{v:,}"
    return env


def render_report(context: dict) -> str:
    """The report HTML for a context from :func:`report_context`."""
    template = _environment().get_template("report.html.j2")
    return template.render(**context, _=translator(context["lang"]))


def write_report(
    results_dir: str | Path,
    out: str | Path,
    *,
    locale: str = "zh-CN",
    min_cell: int = 10,
) -> Path:
    """Write the HTML report of a results folder to ``out`` (atomically); return its path."""
    context = report_context(load_run(results_dir), locale=locale, min_cell=min_cell)
    html = render_report(context)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(html)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


__all__ = [
    "TIERS",
    "BatchRun",
    "load_run",
    "nested_tables",
    "render_report",
    "report_context",
    "school_lines",
    "write_report",
]
