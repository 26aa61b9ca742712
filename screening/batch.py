"""The batch run behind ``screening score``: files in, ``scores.parquet`` and ``run.json`` out.

Inputs are read whole or in row batches (for files larger than memory), scored with one
prepared :class:`~screening.pipeline.Scorer`, and streamed to a temporary file beside the
destination. Only when every input has been scored are the outputs renamed into place, so a
failed run leaves no partial output.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Literal, TypeVar

import numpy as np
import polars as pl

import screening
from screening.atomic import output_directory, write_csv_atomic, write_json_atomic
from screening.coverage import CoverageCheck
from screening.errors import InputFileError, ResponseValidationError
from screening.io import (
    FORMATS,
    excel_rounding_advice,
    iter_response_batches,
    read_responses,
    sha256_file,
    student_keys,
)
from screening.mapping import ColumnMapping
from screening.numbering import LowestCodeCheck
from screening.pipeline import (
    OUT_OF_RANGE,
    PASSTHROUGH,
    OnInvalid,
    Scorer,
    response_matrix,
    score_frame,
    warm_up,
)
from screening.scoring.norms import UnmatchedNorms
from screening.triage import STATUSES, TIER_LABELS

Format = Literal["parquet", "csv"]
T = TypeVar("T")
_DONE = object()
FAILURES = "failures.csv"
_OUTPUTS = ("scores.parquet", "scores.csv", "run.json", FAILURES)  # what a run may write
BLOCK_ROWS = 100_000  # results written together: many small inputs, one row group
COMPRESSION = "snappy"  # results: 3x faster to write than zstd, files ~1.8x larger
# Peak memory per input row: per item, and beyond the items. Measured on the benchmark's
# 1,000,000 rows x 116 items: a whole file peaks 0.30 GiB (CSV) to 0.51 GiB (Parquet)
# above batches of 20,000 rows, 330-560 bytes a row; these give 946, a margin of 1.7-2.9.
ROW_BYTES_PER_ITEM = 6
ROW_BYTES_BASE = 250
MEMORY_SHARE = 0.5  # chunk when a whole file would take more of the available memory


@dataclass
class RunSummary:
    """What a batch run wrote and counted (the content of ``run.json``)."""

    out_dir: Path
    results_path: Path
    run_path: Path
    rows: int
    by_status: dict[str, int]
    by_tier: dict[str, int]
    failures: int
    warnings: list[str] = field(default_factory=list)
    record: dict = field(repr=False, default_factory=dict)


class _Sink:
    """Writes result frames one after another to one file (Parquet or CSV: UTF-8 with a
    byte-order mark, without which Chinese Excel reads a CSV as GBK).

    Frames are gathered into blocks of at least :data:`BLOCK_ROWS` rows, so that the
    results of many small inputs (a school each) are written a block at a time. A run of
    one block is written by polars in one go; from the second block on, Parquet is
    streamed through a pyarrow writer (one row group per block) and CSV appended. Every
    frame must have the first frame's columns; they are written in its order.
    """

    def __init__(self, path: Path, fmt: Format) -> None:
        self.path = path
        self.fmt = fmt
        self._schema: pl.Schema | None = None
        self._held: list[pl.DataFrame] = []  # frames of the block being gathered
        self._held_rows = 0
        self._pending: pl.DataFrame | None = None  # the last whole block, not yet written
        self._parquet = None  # a pyarrow.parquet.ParquetWriter once streaming
        self._csv: IO[bytes] | None = None

    def write(self, frame: pl.DataFrame) -> None:
        if self._schema is None:
            self._schema = frame.schema
        self._held.append(frame.select(self._schema.names()))
        self._held_rows += frame.height
        if self._held_rows >= BLOCK_ROWS:
            self._next_block()

    def _next_block(self) -> None:
        """Make the held frames the pending block, writing the block before it."""
        if self._pending is not None:
            self._append(self._pending)
        self._pending = self._held[0] if len(self._held) == 1 else pl.concat(self._held)
        self._held, self._held_rows = [], 0

    def _append(self, frame: pl.DataFrame) -> None:
        if self.fmt == "parquet":
            import pyarrow.parquet as pq  # only runs of several blocks stream through pyarrow

            table = frame.to_arrow()
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, compression=COMPRESSION)
            self._parquet.write_table(table.cast(self._parquet.schema))
        else:
            header = self._csv is None
            if header:
                self._csv = self.path.open("wb")
            _flat(frame).write_csv(self._csv, include_header=header, include_bom=header)

    def _write_last(self, block: pl.DataFrame) -> None:
        if self._parquet is not None or self._csv is not None:
            self._append(block)
        elif self.fmt == "parquet":  # the only block: in one go
            block.write_parquet(self.path, compression=COMPRESSION, statistics=False)
        else:
            _flat(block).write_csv(self.path, include_bom=True)

    def abort(self) -> None:
        """Close open handles without writing what is held or pending (the run failed)."""
        self._held, self._pending = [], None
        self.close()

    def close(self) -> None:
        if self._held:
            self._next_block()
        if self._pending is not None:
            self._write_last(self._pending)
            self._pending = None
        if self._parquet is not None:
            self._parquet.close()
            self._parquet = None
        if self._csv is not None:
            self._csv.close()
            self._csv = None


def _every_passthrough(results: pl.DataFrame) -> pl.DataFrame:
    """``results`` with all the passthrough columns, empty where its input has none: the
    results of several inputs then have one set of columns, whatever the files' order."""
    missing = [c for c in PASSTHROUGH if c not in results.columns]
    if not missing:
        return results
    filled = results.with_columns(pl.lit(None, pl.String).alias(c) for c in missing)
    return filled.select(*PASSTHROUGH, pl.exclude(PASSTHROUGH))


def _flat(frame: pl.DataFrame) -> pl.DataFrame:
    """CSV has no lists: ``reasons`` is joined with ``"; "``."""
    return frame.with_columns(pl.col(pl.List(pl.String)).list.join("; "))


def _all_frames(
    paths: list[Path],
    item_columns: list[str],
    mapping: ColumnMapping | None,
    chunk_rows: int | None,
) -> Iterator[tuple[int, pl.DataFrame | InputFileError]]:
    """(input index, frame) of every input in order: whole files, or batches of rows. A
    file that cannot be read gives its error in place of (the rest of) its frames, and the
    next file is read: one run then names the problems of every file."""
    for index, path in enumerate(paths):
        try:
            if chunk_rows:
                for batch in iter_response_batches(
                    path, item_columns=item_columns, mapping=mapping, batch_rows=chunk_rows
                ):
                    yield index, batch
            else:
                yield index, read_responses(path, item_columns=item_columns, mapping=mapping)
        except InputFileError as error:
            yield index, error


def auto_chunk_rows(paths: Sequence[Path], n_items: int) -> int | None:
    """Rows per batch for inputs that would not fit in memory whole, or None (read whole).

    A file is read whole when its estimated peak (rows x bytes per row) stays under
    :data:`MEMORY_SHARE` of the memory available now; otherwise every input is read in
    batches that take a quarter of it. Rows come from Parquet metadata, or from a CSV's
    size and the length of its first lines; Excel files (at most 1,048,576 rows) are read
    whole anyway. Where the available memory is unknown, inputs are read whole.
    """
    available = available_memory()
    if available is None:
        return None
    row_bytes = ROW_BYTES_PER_ITEM * n_items + ROW_BYTES_BASE
    rows = max((_estimated_rows(path) for path in paths), default=0)
    if rows * row_bytes <= MEMORY_SHARE * available:
        return None
    return max(10_000, int(available / 4 / row_bytes) // 10_000 * 10_000)


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation now (Linux ``MemAvailable``), or None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _estimated_rows(path: Path, sample_bytes: int = 1 << 20) -> int:
    """Data rows of an input: exact for Parquet, estimated for CSV, 0 for anything else
    (and for a file that cannot be read: its reader reports why)."""
    kind = FORMATS.get(path.suffix.lower())
    try:
        if kind == "parquet":
            return pl.scan_parquet(path).select(pl.len()).collect().item()
        if kind != "csv":
            return 0
        with path.open("rb") as handle:
            sample = handle.read(sample_bytes)
        return path.stat().st_size * sample.count(b"\n") // max(len(sample), 1)
    except (OSError, pl.exceptions.PolarsError):
        return 0


def _with_responses(
    frames: Iterator[tuple[int, pl.DataFrame]],
    scorer: Scorer,
    timings: Counter[str],
    numbered_from: int | None,
    lowest_codes: dict[int, LowestCodeCheck],
) -> Iterator[tuple[int, pl.DataFrame, int, tuple[np.ndarray, pl.DataFrame]]]:
    """Each frame with its row offset in its file, its response matrix and failure cases.

    Run in the read-ahead thread, so the matrix of the first frame is built while numba
    loads the kernel (about 0.1-0.3 s less per run on a million rows). When the numbering
    is not given, every matrix goes to the lowest-code check of its file.
    """
    offsets: Counter[int] = Counter()
    for index, frame in frames:
        if isinstance(frame, InputFileError):
            yield index, frame, offsets[index], None
            continue
        offset = offsets[index]
        clock = time.perf_counter()
        responses = response_matrix(frame, scorer, row_offset=offset, numbered_from=numbered_from)
        if numbered_from is None:
            check = lowest_codes.setdefault(index, LowestCodeCheck(scorer.compiled))
            check.add(responses[0])
            check.add_cases(responses[1])
        # only this thread adds to it; the main thread's wait for it is part of "read"
        timings["validate"] += time.perf_counter() - clock
        yield index, frame, offset, responses
        offsets[index] += frame.height


def _read_ahead(pool: ThreadPoolExecutor, items: Iterator[T]) -> Iterator[T]:
    """The items of ``items``, each produced in ``pool`` while the caller uses the one before.

    The first item is started at once, before the first ``next``.
    """
    pending = pool.submit(next, items, _DONE)

    def drain() -> Iterator[T]:
        nonlocal pending
        while (item := pending.result()) is not _DONE:
            pending = pool.submit(next, items, _DONE)
            yield item

    return drain()


def _mapping_hint(mapping: ColumnMapping | None, cases: list[pl.DataFrame]) -> str:
    """With a mapping: the file's own headers of the columns named above, and, with an
    ``[answers]`` table, what to do about answers that are text but none of its labels (a
    label spelt another way: traditional characters, a prefix such as "A.")."""
    if mapping is None:
        return ""
    every = pl.concat(cases)
    header_of = {target: header for header, target in mapping.columns.items()}
    named = [c for c in every.get_column("column").unique(maintain_order=True) if c in header_of]
    lines = []
    if named:
        shown = ", ".join(f"{c} is {header_of[c]!r}" for c in named[:10])
        lines.append(f"In the files' own headers ({mapping.source or 'the mapping'}): {shown}.")
    if mapping.answers:
        values = every.get_column("value").drop_nulls().unique(maintain_order=True)
        texts = values.filter(values.str.strip_chars().cast(pl.Float64, strict=False).is_null())
        if texts.len():
            shown = ", ".join(repr(v) for v in texts.head(5).to_list())
            lines.append(
                f"{shown} {'is' if texts.len() == 1 else 'are'} not among the answer labels "
                f"of [answers] in {mapping.source or 'the mapping'}: add each label as the "
                "file spells it, with its code, or correct the answers."
            )
    return "\n".join(lines)


def _check_ids_across_files(ids: list[pl.DataFrame]) -> None:
    """A student may appear in one input file only (ids within a file are checked on read).

    Students are told apart by school and id where the files give a ``school_id`` (a 学号
    is a school's own number), else by id.
    """
    if not ids:
        return
    every = pl.concat(ids, how="diagonal").drop_nulls("student_id")
    keys = [c for c in ("school_id", "student_id") if c in every.columns]
    repeated = every.filter(pl.struct(keys).is_duplicated())
    if not repeated.height:
        return
    first = (
        repeated.with_columns(pl.format("{} (row {})", "file", "row").alias("where"))
        .group_by(keys, maintain_order=True)
        .agg("where")
        .head(5)
    )
    shown = "; ".join(
        f"{key[-2]!r}"
        f"{f' of school {key[0]!r}' if len(keys) > 1 and key[0] is not None else ''}"
        f" in {', '.join(key[-1])}"
        for key in first.iter_rows()
    )
    n = repeated.select(pl.struct(keys).n_unique()).item()
    schools_named = "school_id" in keys and not every.get_column("school_id").null_count()
    alike = "score" if schools_named else "give every file a school_id column, or score"
    raise InputFileError(
        None,
        f"student ids that appear in more than one input file: {n} ({shown}; rows counted "
        "from 1 after the header). Each student may appear once per run: if these are the "
        "same students, remove the repeated rows; if they are different students whose "
        f"schools number them alike, {alike} the files in separate runs."
        + excel_rounding_advice(repeated.get_column("student_id")),
    )


def _previous_outputs(out: Path, inputs: Sequence[Path]) -> set[str]:
    """The results and failure files that the run recorded in ``out/run.json`` wrote, less
    any that this run reads (a run may score the results of another)."""
    try:
        outputs = json.loads((out / "run.json").read_text("utf-8"))["outputs"]
        names = {outputs["results"], outputs.get("failures")}
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    reads = {path.resolve() for path in inputs}
    return {name for name in names if name in _OUTPUTS and (out / name).resolve() not in reads}


def _quality_input(
    frame: pl.DataFrame, matrix: np.ndarray, results: pl.DataFrame, scorer: Scorer
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the quality checks of a batch need: its schools with the answer codes that were
    scored (missing and invalid answers null), and its tiers.

    Parameters
    ----------
    frame
        The batch as read.
    matrix
        Its response matrix (:func:`~screening.pipeline.response_matrix`: codes after any
        ``numbered_from``, -1 missing, 127 invalid).
    results
        Its scored results.
    scorer
        The battery it was scored with.

    Returns
    -------
    tuple of polars.DataFrame
        The answers (with ``school_id`` where the batch has it) and the ``tier`` column of
        the results (none without tiers).
    """
    columns = list(scorer.compiled.columns)
    codes = pl.from_numpy(matrix, schema=columns).select(
        pl.when(pl.col(c).is_between(0, OUT_OF_RANGE, closed="left")).then(pl.col(c)).alias(c)
        for c in columns
    )
    if "school_id" in frame.columns:
        codes = codes.insert_column(0, frame.get_column("school_id"))
    return codes, results.select(c for c in ("tier",) if c in results.columns)


def _quality_record(batches: list[tuple[pl.DataFrame, pl.DataFrame]], scorer: Scorer) -> list[dict]:
    """The ``quality`` entries of ``run.json``: one per school of the whole run, every file
    and batch together, so that each school is compared with all the run's rows.

    Parameters
    ----------
    batches
        The :func:`_quality_input` of each batch of each file, in order.
    scorer
        The battery the run scored with.
    """
    from screening.scoring.quality import quality_by_school  # scipy: slow import

    answers = pl.concat([a for a, _ in batches], how="diagonal_relaxed")
    results = pl.concat([r for _, r in batches], how="diagonal_relaxed")
    quality = quality_by_school(answers, scorer.loaded, results=results)
    return quality.fill_nan(None).to_dicts()  # NaN (nothing to compute from) is not JSON


def _machine() -> dict[str, object]:
    from screening.scoring._jit import numba  # loaded by the kernel already

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "polars": pl.__version__,
        "numba": numba.__version__,
    }


def score_files(
    inputs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    battery: str | Path | None = None,
    instrument: str | Path | None = None,
    fmt: Format = "parquet",
    mapping: ColumnMapping | None = None,
    on_invalid: OnInvalid = "raise",
    chunk_rows: int | None = None,
    progress: bool = False,
    quality: bool = False,
) -> RunSummary:
    """Score response files and write ``scores.<fmt>`` and ``run.json`` into ``out_dir``.

    Parameters
    ----------
    inputs
        CSV, Excel (.xlsx) or Parquet files; results keep their order, file after file.
    out_dir
        Output folder (created when missing). Existing outputs are replaced only when the
        whole run succeeds.
    battery, instrument
        A battery (bundled id or path) with triage, or one instrument scored with bands but
        no tiers. Exactly one of them.
    fmt
        ``"parquet"`` (default) or ``"csv"`` (UTF-8 with a byte-order mark for Excel,
        ``reasons`` joined with ``"; "``).
    mapping
        Column mapping applied to every input.
    on_invalid
        ``"raise"`` stops at invalid answers; ``"flag"`` keeps such rows as invalid and
        writes ``failures.csv`` beside the results.
    chunk_rows
        Process inputs in batches of this many rows (files larger than memory); the
        results are identical to the in-memory run. By default (None) inputs are read
        whole unless they would not fit in the memory available (:func:`auto_chunk_rows`).
    progress
        Show a progress bar.
    quality
        Also record the psychometric quality of every school (alpha, reverse-key checks,
        careless rates relative to the district, implausible flagged shares; see
        :func:`screening.scoring.quality.quality_by_school`) in ``run.json`` under
        ``quality``. Computed once over the whole run (every file and batch), from the
        answer codes that are scored (after ``numbered_from`` of the mapping).
    """
    if (battery is None) == (instrument is None):
        raise ValueError("give exactly one of battery or instrument")
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"fmt must be 'parquet' or 'csv', got {fmt!r}")
    started = time.perf_counter()
    scorer = (
        Scorer.for_battery(battery) if battery is not None else Scorer.for_instrument(instrument)
    )
    item_columns = list(scorer.compiled.columns)
    paths = [Path(p) for p in inputs]
    if chunk_rows is None:
        chunk_rows = auto_chunk_rows(paths, len(item_columns))
    out = Path(out_dir)
    results_name = f"scores.{fmt}"
    writes = (results_name, "run.json", FAILURES)
    overwritten = [p for p in paths if p.resolve().parent == out.resolve() and p.name in writes]
    if overwritten:
        raise InputFileError(
            overwritten[0],
            "the run would write its results over this input file. Give another --out folder "
            "or move the file.",
        )
    previous = _previous_outputs(out, paths)

    timings: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_tier: Counter[str] = Counter()
    school_parts: list[pl.DataFrame] = []
    failures: list[pl.DataFrame] = []
    ids: list[pl.DataFrame] = []
    quality_inputs: list[tuple[pl.DataFrame, pl.DataFrame]] = []
    with output_directory(out) as staging:
        sink = _Sink(staging / results_name, fmt)
        with ExitStack() as stack:
            stack.callback(sink.abort)
            bar = _progress_bar(stack, progress)
            # beside the scoring: one thread hashes the inputs (hashlib releases the GIL),
            # another reads the next frame and builds its response matrix (polars releases
            # the GIL) while this one is scored
            hasher = ThreadPoolExecutor(1, thread_name_prefix="sha256")
            stack.callback(hasher.shutdown, cancel_futures=True)
            reader = ThreadPoolExecutor(1, thread_name_prefix="read")
            stack.callback(reader.shutdown)
            digests = [hasher.submit(sha256_file, path) for path in paths]
            file_rows = [0] * len(paths)
            numbered_from = mapping.numbered_from if mapping is not None else None
            lowest_codes: dict[int, LowestCodeCheck] = {}
            coverage: dict[int, CoverageCheck] = {}
            unmatched: dict[int, UnmatchedNorms] = {}  # rows without norms of their group
            inputs_read = _all_frames(paths, item_columns, mapping, chunk_rows)
            frames = _read_ahead(
                reader,
                _with_responses(inputs_read, scorer, timings, numbered_from, lowest_codes),
            )
            clock = time.perf_counter()
            warm_up(scorer)  # numba loads the kernel while the first frame is read
            timings["kernel_load"] += time.perf_counter() - clock
            clock = time.perf_counter()
            invalid: dict[int, list[pl.DataFrame]] = {}  # on_invalid="raise": every file's
            unreadable: list[InputFileError] = []
            for index, frame, offset, responses in frames:
                timings["read"] += time.perf_counter() - clock
                path = paths[index]
                if isinstance(frame, InputFileError):
                    unreadable.append(frame)
                    clock = time.perf_counter()
                    continue
                lacking = _lacking_group_columns(frame, scorer) if offset == 0 else None
                if lacking:  # a file's first batch: its others have the same columns
                    unreadable.append(InputFileError(path, lacking))
                bad = responses[1].height and on_invalid == "raise"
                if unreadable or invalid or bad:
                    # the run fails; the rest is only checked, to name every problem
                    if bad:
                        invalid.setdefault(index, []).append(responses[1])
                    if bar is not None:
                        bar.advance(frame.height)
                    clock = time.perf_counter()
                    continue
                result = score_frame(
                    frame, scorer, on_invalid=on_invalid, row_offset=offset, responses=responses
                )
                for stage, seconds in result.timings.items():
                    timings[stage] += seconds
                clock = time.perf_counter()
                if result.failure_cases.height:
                    failures.append(result.failure_cases.with_columns(file=pl.lit(str(path))))
                coverage.setdefault(index, CoverageCheck(scorer.compiled)).add(result.results)
                if scorer.norms:
                    unmatched.setdefault(index, UnmatchedNorms(scorer.norms)).add(result.unmatched)
                school_parts.append(school_counts(result.results, scorer))
                _count(school_parts[-1], by_status, by_tier)
                if quality:
                    quality_inputs.append(
                        _quality_input(frame, responses[0], result.results, scorer)
                    )
                if len(paths) > 1 and "student_id" in frame.columns:
                    ids.append(
                        student_keys(frame, "student_id").with_columns(
                            file=pl.lit(str(path)),
                            row=pl.int_range(offset + 1, offset + frame.height + 1),
                        )
                    )
                timings["summaries"] += time.perf_counter() - clock
                clock = time.perf_counter()
                results = result.results
                sink.write(results if len(paths) == 1 else _every_passthrough(results))
                file_rows[index] = offset + frame.height  # the read-ahead counts offsets
                timings["write"] += time.perf_counter() - clock
                if bar is not None:
                    bar.advance(frame.height)
                clock = time.perf_counter()
            if invalid:
                error = ResponseValidationError.from_files(
                    [(str(paths[i]), pl.concat(cases)) for i, cases in sorted(invalid.items())],
                    _mapping_hint(mapping, [c for cases in invalid.values() for c in cases]),
                )
                if unreadable:  # and files it cannot read
                    also = "\n".join(f"Then: {e}" for e in unreadable)
                    error = ResponseValidationError(f"{error}\n{also}", error.failure_cases)
                raise error
            if len(unreadable) == 1:
                raise unreadable[0]
            if unreadable:
                raise InputFileError(None, "\n".join(map(str, unreadable)))
            misnumbered = [
                (index, message)
                for index, check in sorted(lowest_codes.items())
                for message in check.misnumbered()
            ]
            if misnumbered:  # with --on-invalid flag: not to be flagged row by row
                raise ResponseValidationError(
                    "\n".join(f"{paths[i]}: {message}" for i, message in misnumbered),
                    pl.concat(failures),
                )
            clock = time.perf_counter()
            files = [
                {"path": str(path), "sha256": digest.result(), "rows": n}
                for path, digest, n in zip(paths, digests, file_rows, strict=True)
            ]
            timings["hash"] += time.perf_counter() - clock
            rows = sum(file_rows)
            _check_ids_across_files(ids)
            clock = time.perf_counter()
            sink.close()
            timings["write"] += time.perf_counter() - clock
        timings["total"] = time.perf_counter() - started
        record = _record(scorer, files, rows, by_status, by_tier, failures, school_parts, timings)
        checks = sorted(
            [*lowest_codes.items(), *coverage.items(), *unmatched.items()],
            key=lambda item: item[0],
        )
        record["warnings"] = [
            f"{paths[index]}: {message}" for index, check in checks for message in check.warnings()
        ]
        record["outputs"] = {
            "results": results_name,
            "format": fmt,
            "on_invalid": on_invalid,
            "chunk_rows": chunk_rows,
        }
        if quality_inputs:
            record["quality"] = _quality_record(quality_inputs, scorer)
        if failures:
            write_csv_atomic(pl.concat(failures), staging / FAILURES, include_bom=True)
            record["outputs"]["failures"] = FAILURES
        write_json_atomic(record, staging / "run.json")
    for name in previous - set(record["outputs"].values()):  # not this run's: remove
        (out / name).unlink(missing_ok=True)
    return RunSummary(
        out,
        out / results_name,
        out / "run.json",
        rows,
        record["counts"]["status"],
        record["counts"]["tier"],
        record["counts"]["invalid_answers"],
        record["warnings"],
        record,
    )


def _lacking_group_columns(frame: pl.DataFrame, scorer: Scorer) -> str | None:
    """What a file lacks that the battery's norm tables group rows by, or None."""
    for table, path in zip(scorer.norms, scorer.loaded.norm_paths, strict=True):
        absent = [c for c in table.by if c not in frame.columns]
        if absent:
            return (
                f"the battery's norm table {path} groups rows by {', '.join(table.by)}, but "
                f"the file has no column {', '.join(map(repr, absent))}: add the column (or "
                "name its header in the [columns] of a --map file), or score the file with a "
                "battery without these norms."
            )
    return None


def _progress_bar(stack: ExitStack, enabled: bool):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = stack.enter_context(
        Progress(
            TextColumn("scoring"),
            BarColumn(),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            transient=True,
        )
    )
    task = progress.add_task("score", total=None)

    class _Bar:
        def advance(self, n: int) -> None:
            progress.advance(task, n)

    return _Bar()


def school_counts(results: pl.DataFrame, scorer: Scorer) -> pl.DataFrame:
    """Mergeable per-school counts of one results frame: rows, statuses, tiers, straight-lining.

    A straight-liner gave the same answer to every item of an instrument, other than its
    no-symptom answer (see ``{instrument}.straight_line``); such protocols are counted per school,
    since a school with many of them may have run the screening carelessly.
    """
    if "school_id" not in results.columns:
        results = results.with_columns(school_id=pl.lit(None, pl.String))
    straight = pl.any_horizontal(
        pl.col(f"{i}.straight_line") for i in scorer.compiled.instrument_ids
    )
    counts = [
        pl.len().alias("students"),
        *((pl.col("status") == s).sum().alias(s) for s in STATUSES),
        straight.sum().alias("straight_lining"),
    ]
    if "tier" in results.columns:
        counts += [(pl.col("tier") == t).sum().alias(f"tier_{t}") for t in range(4)]
    return results.group_by("school_id").agg(counts)


def merge_school_counts(parts: pl.DataFrame) -> pl.DataFrame:
    """Add up per-school counts of several chunks and derive the shares."""
    merged = parts.group_by("school_id").agg(pl.all().sum()).sort("school_id", nulls_last=True)
    return merged.with_columns(
        (pl.col("straight_lining") / pl.col("students")).round(4).alias("straight_lining_rate"),
        (pl.col("invalid") / pl.col("students")).round(4).alias("invalid_rate"),
        (pl.col("incomplete") / pl.col("students")).round(4).alias("incomplete_rate"),
    )


def _count(schools: pl.DataFrame, by_status: Counter[str], by_tier: Counter[str]) -> None:
    """Add the statuses and tiers that occur in one batch's :func:`school_counts`."""
    totals = schools.drop("school_id").sum().row(0, named=True)
    by_status.update({s: totals[s] for s in STATUSES if totals[s]})
    if "tier_0" in totals:
        tiers = {label: totals[f"tier_{t}"] for t, label in enumerate(TIER_LABELS)}
        tiers["none"] = totals["students"] - sum(tiers.values())
        by_tier.update({label: n for label, n in tiers.items() if n})


def _record(
    scorer: Scorer,
    files: list[dict[str, object]],
    rows: int,
    by_status: Counter[str],
    by_tier: Counter[str],
    failures: list[pl.DataFrame],
    school_parts: list[pl.DataFrame],
    timings: Counter[str],
) -> dict:
    loaded = scorer.loaded
    quality = pl.concat(school_parts) if school_parts else None
    return {
        "toolkit": {"name": "screening", "version": screening.__version__},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "battery": {
            "id": loaded.battery.id,
            "version": loaded.battery.version,
            "source": loaded.battery.source,
            "sha256": loaded.battery.sha256,
        },
        "instruments": [
            {"id": i.id, "version": i.version, "source": i.source, "sha256": i.sha256}
            for i in loaded.instruments
        ],
        "inputs": files,
        "counts": {
            "rows_in": rows,
            "rows_out": rows,
            "status": dict(sorted(by_status.items())),
            "tier": dict(sorted(by_tier.items())),
            "invalid_answers": sum(f.height for f in failures),
        },
        "quality_by_school": [] if quality is None else merge_school_counts(quality).to_dicts(),
        "timings_s": {k: round(v, 4) for k, v in timings.items()},
        "machine": _machine(),
    }
