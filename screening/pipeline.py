"""Score a frame of responses: validate once, one kernel pass, triage, one results frame.

``score_frame`` is the one entry point used by the batch command, the service and the
golden-vector runner. Output row count always equals input row count, in input order.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

from screening.coverage import CoverageCheck
from screening.errors import (
    NAMING_ADVICE,
    InputFileError,
    InstrumentDefinitionError,
    ResponseValidationError,
    failure_frame,
)
from screening.instruments.compiler import CompiledBattery, compile_battery
from screening.instruments.loader import LoadedBattery, load_battery, single_instrument_battery
from screening.item_blocks import shared_matrix
from screening.missing import answer_cells, answer_text
from screening.numbering import LowestCodeCheck, renumbered
from screening.scoring.norms import NormTable, UnmatchedNorms, normed_results
from screening.triage import (
    STATUSES,
    TriagePlan,
    assign_tiers,
    enum_from_codes,
    evaluate_conditions,
    plan_triage,
    row_status,
    triage_columns,
)

PASSTHROUGH: tuple[str, ...] = ("student_id", "school_id", "class_id", "grade", "sex")
OUT_OF_RANGE = np.int8(127)  # never a valid answer: item ranges lie in [0, 100]
OnInvalid = Literal["raise", "flag"]


@dataclass(frozen=True, eq=False)
class Scorer:
    """A battery loaded, compiled and its rules planned: reusable across frames and chunks."""

    loaded: LoadedBattery
    compiled: CompiledBattery
    plan: TriagePlan | None
    norms: tuple[NormTable, ...] = ()

    @classmethod
    def for_battery(cls, battery: str | Path | LoadedBattery) -> Scorer:
        """Prepare a battery (bundled id, path, or already loaded) and its norm tables."""
        loaded = battery if isinstance(battery, LoadedBattery) else load_battery(battery)
        compiled = compile_battery(loaded)
        plan = plan_triage(loaded, compiled) if loaded.has_tiers else None
        return cls(loaded, compiled, plan, tuple(_norm_table(loaded, p) for p in loaded.norm_paths))

    @classmethod
    def for_instrument(cls, instrument: str | Path) -> Scorer:
        """Score one instrument with bands and critical flags but no tiers."""
        return cls.for_battery(single_instrument_battery(instrument))

    @cached_property
    def block_plan(self) -> tuple[np.ndarray, ...]:
        """How the kernel accumulates this battery (accumulator widths, shared sums)."""
        from screening.scoring._kernels import block_plan

        c = self.compiled
        return block_plan(
            c.item_min,
            c.item_max,
            c.reverse,
            c.missing_means,
            c.inst_ptr,
            c.scale_ptr,
            c.scale_idx,
            c.scale_method,
            c.scale_inst,
        )

    @cached_property
    def instrument_of_column(self) -> dict[str, str]:
        """Instrument id of every item column."""
        ids = self.compiled.instrument_ids
        ptr = self.compiled.inst_ptr
        return {
            column: ids[m]
            for m in range(len(ids))
            for column in self.compiled.columns[ptr[m] : ptr[m + 1]]
        }


def _norm_table(loaded: LoadedBattery, path: Path) -> NormTable:
    """Read a norm table and check it belongs to this version of one of the instruments."""
    table = NormTable.read(path)
    versions = {inst.id: inst.sha256 for inst in loaded.instruments}
    if table.instrument not in versions:
        raise InstrumentDefinitionError(
            loaded.battery.source,
            "norms",
            f"{path} holds norms of {table.instrument!r}, "
            f"which the battery does not give ({', '.join(versions)})",
        )
    if table.instrument_sha256 != versions[table.instrument]:
        raise InstrumentDefinitionError(
            loaded.battery.source,
            "norms",
            f"{path} was built for another version of "
            f"{table.instrument!r} (file hash differs): rebuild it with `screening norms`",
        )
    return table


@dataclass
class ScoreResult:
    """Results of scoring one frame.

    Attributes
    ----------
    results : polars.DataFrame
        One row per input row (see DESIGN.md, "Results").
    failure_cases : polars.DataFrame
        Invalid answers (row, student_id, column, value, reason); empty when all were valid.
    timings : dict
        Seconds spent in each stage.
    warnings : list of str
        Doubts about the input that do not stop scoring: an instrument whose lowest answer
        code nobody chose (a file numbered from 1, see :mod:`screening.numbering`), an
        instrument nobody answered, rows without a student id (see
        :mod:`screening.coverage`), scored rows that found no norms of their group. A
        batch of a file (``responses`` given) has none: its caller checks the whole file.
    unmatched : list of polars.DataFrame
        Per norm table of the battery, the groups of scored rows that found no norms and
        their row counts (see :func:`screening.scoring.norms.normed_results`).
    """

    results: pl.DataFrame
    failure_cases: pl.DataFrame
    scorer: Scorer
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    unmatched: list[pl.DataFrame] = field(default_factory=list)

    @property
    def battery(self) -> LoadedBattery:
        """The battery that produced the results."""
        return self.scorer.loaded


def _item_reason(
    column: str, instrument: str, low: int, high: int, numbered_from: int | None
) -> str:
    reason = f"Item '{column}' of instrument '{instrument}' must be an integer in [{low}, {high}]"
    return reason if numbered_from is None else f"{reason} (options numbered from {numbered_from})"


def _clean_integer_columns(
    frame: pl.DataFrame, columns: list[str], low: np.ndarray, high: np.ndarray
) -> list[int]:
    """Positions of the integer (or all-null) item columns whose answers all lie in their
    range, in order."""
    schema = frame.schema
    typed = [j for j, c in enumerate(columns) if schema[c].is_integer() or schema[c] == pl.Null]
    if not typed:
        return []
    bounds = frame.select(
        *(pl.col(columns[j]).min().cast(pl.Float64).alias(f"{j}min") for j in typed),
        *(pl.col(columns[j]).max().cast(pl.Float64).alias(f"{j}max") for j in typed),
    ).row(0)
    lowest, highest = bounds[: len(typed)], bounds[len(typed) :]
    return [
        j
        for j, least, most in zip(typed, lowest, highest, strict=True)
        if least is None or (least >= low[j] and most <= high[j])
    ]


def _column_answers(series: pl.Series, low: int, high: int) -> tuple[np.ndarray, pl.Series | None]:
    """Convert one item column to int8 answers (-1 missing) and a mask of bad cells (or None).

    Clean integer columns never come here: :func:`response_matrix` converts them together.

    Raises
    ------
    InputFileError
        When the column's type holds no answers (see :func:`screening.missing.answer_cells`).
    """
    series = answer_cells(series)
    if series.dtype.is_integer():
        bad = (series < low) | (series > high)
        parsed = series
    else:
        if series.dtype == pl.String:
            text = answer_text(series)
            number = text.cast(pl.Float64, strict=False)
            bad = number.is_null() & text.is_not_null()
        elif series.dtype.is_float():
            number = series.fill_nan(None)
            bad = pl.Series([False] * series.len())
        else:
            number = series.cast(pl.Float64, strict=False)
            bad = number.is_null() & series.is_not_null()
        integral = number.is_not_null() & (number == number.floor())
        bad = bad | (number.is_not_null() & ~integral) | (number < low) | (number > high)
        parsed = number.cast(pl.Int64, strict=False)
    bad = bad.fill_null(False)
    answers = parsed.set(bad, None).cast(pl.Int8).fill_null(-1).to_numpy().copy()
    bad_numpy = bad.to_numpy()
    answers[bad_numpy] = OUT_OF_RANGE
    return answers, bad if bad_numpy.any() else None


def response_matrix(
    frame: pl.DataFrame,
    scorer: Scorer,
    *,
    row_offset: int = 0,
    id_column: str = "student_id",
    numbered_from: int | None = None,
) -> tuple[np.ndarray, pl.DataFrame]:
    """The int8 response matrix (missing = -1, invalid = 127) and the failure-case table.

    ``numbered_from``: the number the file gives each item's first option when it is not
    the item's lowest code (see :mod:`screening.numbering`); failure cases then give the
    file's own values and ranges.

    Raises
    ------
    InputFileError
        When item columns are missing from the frame.
    """
    compiled = scorer.compiled
    missing = [c for c in compiled.columns if c not in frame.columns]
    if missing:
        shown = ", ".join(missing[:10]) + (
            f" and {len(missing) - 10} more" if len(missing) > 10 else ""
        )
        raise InputFileError(
            None,
            f"missing item columns {shown}. {NAMING_ADVICE}",
        )
    columns = list(compiled.columns)
    codes_low, codes_high = compiled.item_min.astype(np.int64), compiled.item_max.astype(np.int64)
    shift = np.zeros_like(codes_low) if numbered_from is None else numbered_from - codes_low
    clean = _clean_integer_columns(frame, columns, codes_low + shift, codes_high + shift)
    if len(clean) == len(columns) and not shift.any():
        shared = shared_matrix([frame.get_column(c) for c in columns])  # a tokenised CSV
        if shared is not None:
            return shared, failure_frame()
    matrix = np.empty((frame.height, compiled.n_items), dtype=np.int8, order="F")
    if clean:
        # the clean columns in one polars call: a few GIL hand-overs instead of several
        # per column, which matters while numba loads the kernel in the main thread
        block = frame.select(
            (pl.col(columns[j]) - int(shift[j]) if shift[j] else pl.col(columns[j]))
            .cast(pl.Int8)
            .fill_null(-1)
            for j in clean
        )
        if len(clean) == len(columns):
            # writable: numba types a read-only array apart, so it would compile again
            whole = block.to_numpy(order="fortran", writable=True)
            return np.asfortranarray(whole), failure_frame()
        matrix[:, clean] = block.to_numpy(order="fortran")
    problems: list[pl.DataFrame] = []
    ids = frame.get_column(id_column).cast(pl.String) if id_column in frame.columns else None
    converted = set(clean)
    for j, column in enumerate(columns):
        if j in converted:
            continue
        low, high, step = int(codes_low[j]), int(codes_high[j]), int(shift[j])
        series = frame.get_column(column)
        matrix[:, j], bad = _column_answers(renumbered(series, step), low, high)
        if bad is not None:
            rows = bad.arg_true()
            instrument = scorer.instrument_of_column[column]
            reason = _item_reason(column, instrument, low + step, high + step, numbered_from)
            problems.append(
                pl.DataFrame(
                    {
                        "row": (rows + row_offset + 1).cast(pl.Int64),
                        "student_id": ids.gather(rows) if ids is not None else None,
                        "column": column,
                        "value": series.gather(rows).cast(pl.String),
                        "reason": reason,
                    },
                    schema=failure_frame().schema,
                )
            )
    cases = pl.concat(problems).sort("row", maintain_order=True) if problems else failure_frame()
    return matrix, cases


def kernel_outputs(scorer: Scorer, n: int) -> dict[str, np.ndarray]:
    """Uninitialised output arrays of the scoring kernel for ``n`` rows (column-major)."""
    c = scorer.compiled
    n_inst, n_scales, n_crit = len(c.instrument_ids), len(c.scale_names), len(c.crit_names)
    return {
        "scores": np.empty((n, n_scales), dtype=np.float64, order="F"),
        "bands": np.empty((n, n_scales), dtype=np.int8, order="F"),
        "answered": np.empty((n, n_inst), dtype=np.int16, order="F"),
        "longstring": np.empty((n, n_inst), dtype=np.int16, order="F"),
        "irv": np.empty((n, n_inst), dtype=np.float64, order="F"),
        "critical": np.empty((n, n_crit), dtype=np.bool_, order="F"),
        "invalid": np.empty((n, n_inst), dtype=np.bool_, order="F"),
        "straight": np.empty((n, n_inst), dtype=np.bool_, order="F"),
        "out_of_range": np.empty(n, dtype=np.int16),
    }


def run_kernel(
    scorer: Scorer, matrix: np.ndarray, out: dict[str, np.ndarray] | None = None
) -> dict[str, np.ndarray]:
    """Run the scoring kernel over the matrix.

    Parameters
    ----------
    scorer
        The prepared battery.
    matrix
        int8 responses, rows × battery items (missing -1, out of range 127).
    out
        Arrays from :func:`kernel_outputs` for as many rows, to write into; by default
        they are allocated here.

    Returns
    -------
    dict
        The kernel's outputs (``out`` when given).
    """
    from screening.scoring._jit import PARALLEL_LAUNCH  # numba: imported when first needed
    from screening.scoring._kernels import score_rows

    if matrix.shape[0] < 2:  # numba types a 0- or 1-row matrix as C-ordered: another compile
        padded = np.full((2, matrix.shape[1]), -1, dtype=np.int8, order="F")
        padded[: matrix.shape[0]] = matrix
        whole = {name: a[: matrix.shape[0]] for name, a in run_kernel(scorer, padded).items()}
        if out is None:
            return whole
        for name, a in out.items():
            a[...] = whole[name]
        return out
    c = scorer.compiled
    if out is None:
        out = kernel_outputs(scorer, matrix.shape[0])
    with PARALLEL_LAUNCH:
        score_rows(
            matrix,
            c.item_min,
            c.item_max,
            c.reverse,
            c.missing_means,
            c.inst_ptr,
            c.scale_ptr,
            c.scale_idx,
            c.scale_method,
            c.scale_required,
            c.scale_prorate,
            c.scale_multiplier,
            c.band_ptr,
            c.band_cuts,
            c.crit_col,
            c.crit_threshold,
            c.valid_scale,
            c.valid_op,
            c.valid_value,
            c.scale_inst,
            c.max_longstring,
            c.benign_answer,
            *scorer.block_plan,
            out["scores"],
            out["bands"],
            out["answered"],
            out["longstring"],
            out["irv"],
            out["critical"],
            out["invalid"],
            out["straight"],
            out["out_of_range"],
        )
    return out


def warm_up(scorer: Scorer) -> None:
    """Load the kernel for this battery's matrices from numba's cache (or compile it).

    A matrix of two rows has the memory layout of every other (numba compiles one version
    per layout; ``run_kernel`` pads smaller ones), so later calls find the kernel ready.
    """
    run_kernel(scorer, np.full((2, scorer.compiled.n_items), -1, dtype=np.int8, order="F"))


def score_columns(scorer: Scorer, out: dict[str, np.ndarray]) -> list[pl.Series]:
    """The per-instrument result columns, in battery order."""
    c = scorer.compiled
    columns: list[pl.Series] = []
    for m, instrument in enumerate(c.instrument_ids):
        for s in np.flatnonzero(c.scale_inst == m):
            name = c.scale_names[s]
            columns.append(pl.Series(name, out["scores"][:, s], nan_to_null=True))
            if c.band_labels[s]:
                columns.append(
                    enum_from_codes(out["bands"][:, s], c.band_labels[s], f"{name}.band")
                )
        columns.append(pl.Series(f"{instrument}.answered", out["answered"][:, m]))
        criticals = np.flatnonzero(c.crit_inst == m)
        if criticals.size:
            flags = out["critical"][:, criticals].any(axis=1)
            columns.append(pl.Series(f"{instrument}.critical", flags))
        columns.append(pl.Series(f"{instrument}.longstring", out["longstring"][:, m]))
        columns.append(pl.Series(f"{instrument}.straight_line", out["straight"][:, m]))
        columns.append(pl.Series(f"{instrument}.irv", out["irv"][:, m], nan_to_null=True))
    return columns


def _invalid_reasons(cases: pl.DataFrame, row_offset: int, n: int) -> pl.Series:
    """Per row, the list of invalid-answer reasons (empty for clean rows)."""
    texts = (
        cases.with_columns(
            (pl.col("row") - row_offset - 1).alias("_index"),
            pl.format("invalid answer {} = '{}'", "column", "value").alias("_text"),
        )
        .group_by("_index")
        .agg(pl.col("_text"))
    )
    index = pl.DataFrame({"_index": pl.int_range(n, eager=True, dtype=pl.Int64)})
    joined = index.join(texts, on="_index", how="left", maintain_order="left")
    return joined.get_column("_text").fill_null([]).alias("_invalid")


def score_frame(
    frame: pl.DataFrame,
    battery: str | Path | LoadedBattery | Scorer,
    *,
    on_invalid: OnInvalid = "raise",
    row_offset: int = 0,
    responses: tuple[np.ndarray, pl.DataFrame] | None = None,
    numbered_from: int | None = None,
) -> ScoreResult:
    """Score every row of ``frame`` with a battery.

    Parameters
    ----------
    frame
        One row per student; item columns named ``{instrument}_{item}`` (integers, floats
        or strings), passthrough columns ``student_id``, ``school_id``, ``class_id``,
        ``grade``, ``sex`` when present.
    battery
        A bundled battery id, a path to a battery TOML, a loaded battery or a prepared
        :class:`Scorer` (use ``Scorer.for_instrument`` to score one instrument).
    on_invalid
        ``"raise"``: invalid answers raise :class:`ResponseValidationError` listing every
        bad cell. ``"flag"``: such rows are kept with ``status = "invalid"`` and the reason
        in ``reasons``; their bad answers count as missing.
    row_offset
        Rows before this frame in its file (for row numbers of chunked input).
    responses
        ``response_matrix(frame, scorer, row_offset=row_offset, numbered_from=...)`` when
        the caller has already built it (the batch run builds it in its read-ahead thread,
        and checks the numbering and coverage of whole files itself). Without it, the
        frame is taken for a whole file and checked here.
    numbered_from
        The number the frame gives each item's first option when it is not the item's
        lowest code (e.g. 1 for PHQ-9 answers 1-4; see :mod:`screening.numbering`). When
        None, the result warns about an instrument whose lowest code nobody chose.

    Returns
    -------
    ScoreResult
        The results frame (same row count and order as ``frame``) and failure cases.
    """
    if on_invalid not in ("raise", "flag"):
        raise ValueError(f"on_invalid must be 'raise' or 'flag', got {on_invalid!r}")
    scorer = battery if isinstance(battery, Scorer) else Scorer.for_battery(battery)
    timings: dict[str, float] = {}
    warnings: list[str] = []
    started = time.perf_counter()
    whole = responses is None  # else a batch of a file: the caller checks the whole file
    if whole:
        responses = response_matrix(
            frame, scorer, row_offset=row_offset, numbered_from=numbered_from
        )
        timings["validate"] = time.perf_counter() - started
        if numbered_from is None:
            check = LowestCodeCheck(scorer.compiled)
            check.add(responses[0])
            check.add_cases(responses[1])
            misnumbered = check.misnumbered()
            if misnumbered and on_invalid == "flag":  # not to be flagged row by row
                raise ResponseValidationError("\n".join(misnumbered), responses[1])
            warnings = check.warnings()
    matrix, cases = responses
    if cases.height and on_invalid == "raise":
        raise ResponseValidationError.from_cases(cases)

    started = time.perf_counter()
    out = run_kernel(scorer, matrix)
    timings["kernel"] = time.perf_counter() - started

    started = time.perf_counter()
    passthrough = [frame.get_column(c).cast(pl.String) for c in PASSTHROUGH if c in frame.columns]
    status = row_status(scorer.compiled, out["scores"], out["invalid"], out["out_of_range"])
    if scorer.plan is not None:
        fired = evaluate_conditions(scorer.plan, scorer.compiled, out["scores"], matrix)
        tier, reasons = assign_tiers(scorer.plan, fired, status)
        triage = triage_columns(scorer.plan, tier, status, reasons)
    else:  # no tiers: ``reasons`` only of invalid answers, in every frame (same columns)
        triage = pl.DataFrame(
            [
                enum_from_codes(status.astype(np.int32), STATUSES, "status"),
                pl.Series("reasons", [[]], dtype=pl.List(pl.String)).new_from_index(
                    0, frame.height
                ),
            ]
        )
    results = pl.DataFrame([*passthrough, *score_columns(scorer, out)]).hstack(triage)
    if cases.height:
        extra = _invalid_reasons(cases, row_offset, frame.height)
        results = results.with_columns(pl.col("reasons").list.concat(extra))
    unmatched = []  # groups of scored rows without norms, per table
    for table in scorer.norms:
        results, lost = normed_results(results, table)
        unmatched.append(lost)
    if whole:  # a batch's caller counts them over the whole file (UnmatchedNorms)
        check = UnmatchedNorms(scorer.norms)
        check.add(unmatched)
        warnings += check.warnings()
    timings["triage"] = time.perf_counter() - started
    if whole:
        # no warning about rows without an id: the service refuses them itself
        coverage = CoverageCheck(scorer.compiled, blank_ids=False)
        coverage.add(results)
        warnings += coverage.warnings()
    return ScoreResult(results, cases, scorer, timings, warnings, unmatched)
