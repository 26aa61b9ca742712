r"""Norm tables: mean, sd and percentile ranks of scale scores per group, and their use.

:func:`norms` builds a :class:`NormTable` from a reference sample (for example one year's
screening of a city, by grade and sex); :meth:`NormTable.write` saves it as a versioned JSON
file that names the instrument version and content hash it was made with; :func:`apply_norms`
adds T-scores and percentile ranks to scored results.

Definitions, for a group with :math:`n` scores of mean :math:`\bar x` and standard deviation
:math:`s` (:math:`n - 1`):

.. math::

    T(x) = 50 + 10\,\frac{x - \bar x}{s}, \qquad
    PR(x) = 100\,\frac{\#\{x_i < x\} + \tfrac12 \#\{x_i = x\}}{n}

(the mid-rank percentile rank, ``scipy.stats.percentileofscore(kind="mean")``). A score
between two tabled scores (a prorated total) gets the linearly interpolated rank; a score
outside the tabled range gets the rank of the nearest end.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from screening.atomic import write_json_atomic
from screening.errors import count_of
from screening.instruments import Instrument
from screening.scoring._frames import PsychometricInputError, as_frame, resolve_instrument

FORMAT = "screening-norms/1"
WHOLE_NUMBER = r"^([+-]?\d+)\.0*$"


class NormsWarning(UserWarning):
    """Some scored rows found no norms of their group (their T-score and percentile are null)."""


class InvalidProtocolsWarning(UserWarning):
    """Protocols that their instrument marks invalid were left out of a norm sample."""


class UnmatchedNorms:
    """Scored rows that found no norms of their group, counted over the batches of one file.

    Parameters
    ----------
    tables
        The norm tables the rows were looked up in (a battery's, in order).
    """

    def __init__(self, tables: Sequence[NormTable]) -> None:
        self._tables = tuple(tables)
        self._lost: list[list[pl.DataFrame]] = [[] for _ in self._tables]

    def add(self, lost: Sequence[pl.DataFrame]) -> None:
        """Count one batch: the groups :func:`normed_results` gave, one frame per table."""
        for parts, groups in zip(self._lost, lost, strict=True):
            if groups.height:
                parts.append(groups)

    def warnings(self) -> list[str]:
        """One message per table that some scored rows did not find (see
        :func:`unmatched_message`)."""
        return [
            message
            for table, parts in zip(self._tables, self._lost, strict=True)
            if parts and (message := unmatched_message(pl.concat(parts), table))
        ]


def group_keys(frame: pl.DataFrame, by: Sequence[str]) -> pl.DataFrame:
    """The group columns as strings, written alike whatever their dtype.

    A whole-number float (``7.0``, as pandas reads a grade column with an empty cell) is
    written as the integer (``"7"``), and so is such a string (``"7.0"``, in tables made
    before keys were normalised). Text is read in NFKC form (``７`` and ``Ｍ`` typed in a
    Chinese input method's full-width mode are ``7`` and ``M``) without surrounding spaces
    or invisible format characters; a value left empty (null, NaN, blank text) is null: it
    names no group.
    """
    exprs = []
    for name in by:
        dtype = frame.schema[name]
        column = pl.col(name)
        if dtype.is_float():
            whole = column.is_finite() & (column == column.round())
            text = (
                pl.when(column.is_nan())
                .then(None)
                .when(whole)
                .then(column.cast(pl.Int64, strict=False).cast(pl.String))
                .otherwise(column.cast(pl.String))
            )
        else:
            text = (
                column.cast(pl.String)
                .str.normalize("NFKC")
                .str.replace_all(r"\p{Cf}", "")
                .str.strip_chars()
            )
        text = text.str.replace(WHOLE_NUMBER, "${1}")
        exprs.append(pl.when(text != "").then(text).alias(name))
    return frame.select(exprs)


@dataclass(frozen=True)
class NormTable:
    """Norms of one instrument's scales per group.

    Attributes
    ----------
    instrument, instrument_version, instrument_sha256 : str
        The instrument the norms were made with.
    version : str
        The norm table's own version (e.g. ``"2024-city"``).
    by : list of str
        Group columns.
    groups : polars.DataFrame
        One row per group and scale: the group columns (strings), ``scale``, ``n``,
        ``mean``, ``sd``, ``scores`` and ``percentiles`` (lists of equal length).
    """

    instrument: str
    instrument_version: str
    instrument_sha256: str
    version: str
    by: list[str]
    groups: pl.DataFrame
    created: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of the table."""
        return {
            "format": FORMAT,
            "instrument": self.instrument,
            "instrument_version": self.instrument_version,
            "instrument_sha256": self.instrument_sha256,
            "version": self.version,
            "created": self.created,
            "by": self.by,
            "groups": self.groups.to_dicts(),
        }

    def write(self, path: str | Path) -> None:
        """Write the table as JSON, atomically."""
        write_json_atomic(self.to_dict(), path)

    @classmethod
    def read(cls, path: str | Path) -> NormTable:
        """Read a table written by :meth:`write`."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise PsychometricInputError(f"{path}: cannot read the norm table: {error}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise PsychometricInputError(
                f"{path}: not a norm table (expected format {FORMAT!r}); write one with "
                "`screening norms`."
            )
        _check_document(doc, path)
        schema = {
            **{c: pl.String for c in doc["by"]},
            "scale": pl.String,
            "n": pl.Int64,
            "mean": pl.Float64,
            "sd": pl.Float64,
            "scores": pl.List(pl.Float64),
            "percentiles": pl.List(pl.Float64),
        }
        groups = [
            {
                **{c: None if g[c] is None else str(g[c]) for c in doc["by"]},
                "scale": g["scale"],
                "n": g["n"],
                "mean": float(g["mean"]),
                "sd": None if g["sd"] is None else float(g["sd"]),
                "scores": [float(v) for v in g["scores"]],
                "percentiles": [float(v) for v in g["percentiles"]],
            }
            for g in doc["groups"]
        ]
        return cls(
            doc["instrument"],
            doc["instrument_version"],
            doc["instrument_sha256"],
            doc["version"],
            list(doc["by"]),
            pl.DataFrame(groups, schema=schema),
            doc.get("created", ""),
        )


def _is_number(value: Any) -> bool:
    """A finite JSON number (not a boolean)."""
    return (
        isinstance(value, int | float) and not isinstance(value, bool) and bool(np.isfinite(value))
    )


def _check_document(doc: dict[str, Any], path: str | Path) -> None:
    """Raise :class:`PsychometricInputError` naming the first field of a norm table (as
    :meth:`NormTable.write` writes it) that is missing or cannot be used: a hand-edited or
    damaged file."""

    def refuse(problem: str) -> PsychometricInputError:
        return PsychometricInputError(
            f"{path}: {problem}. The file is not a norm table as `screening norms` writes it "
            "(edited by hand or damaged?): build it again with `screening norms`."
        )

    for key in ("instrument", "instrument_version", "instrument_sha256", "version"):
        if key not in doc:
            raise refuse(f"{key!r} is missing")
        if not isinstance(doc[key], str):
            raise refuse(f"{key!r} must be text; got {doc[key]!r}")
    for key in ("by", "groups"):
        if key not in doc:
            raise refuse(f"{key!r} is missing")
    by = doc["by"]
    if not isinstance(by, list) or not by or not all(isinstance(c, str) and c for c in by):
        raise refuse(f"'by' must be a list of column names; got {by!r}")
    if not isinstance(doc["groups"], list):
        raise refuse(f"'groups' must be a list of groups; got {type(doc['groups']).__name__}")
    seen: set[tuple[Any, ...]] = set()
    for i, group in enumerate(doc["groups"]):
        where = f"groups[{i}]"
        if not isinstance(group, dict):
            raise refuse(f"{where} must be an object; got {group!r}")
        for key in [*by, "scale", "n", "mean", "sd", "scores", "percentiles"]:
            if key not in group:
                raise refuse(f"{where}: {key!r} is missing")
        keys = tuple(group[c] if group[c] is None else str(group[c]) for c in by)
        if any(isinstance(group[c], list | dict) for c in by):
            raise refuse(f"{where}: group values must be text; got {[group[c] for c in by]!r}")
        if not isinstance(group["scale"], str):
            raise refuse(f"{where}.scale must be text; got {group['scale']!r}")
        if (*keys, group["scale"]) in seen:
            named = " ".join(f"{c}={k!r}" for c, k in zip(by, keys, strict=True))
            raise refuse(f"{where} repeats the group {named} scale {group['scale']!r}")
        seen.add((*keys, group["scale"]))
        n = group["n"]
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise refuse(f"{where}.n must be a whole number of 1 or more; got {n!r}")
        if not _is_number(group["mean"]):
            raise refuse(f"{where}.mean must be a number; got {group['mean']!r}")
        sd = group["sd"]
        if sd is not None and not (_is_number(sd) and sd >= 0):
            raise refuse(f"{where}.sd must be a number of 0 or more (or null); got {sd!r}")
        scores, percentiles = group["scores"], group["percentiles"]
        for key, values in (("scores", scores), ("percentiles", percentiles)):
            if not isinstance(values, list) or not all(_is_number(v) for v in values):
                raise refuse(f"{where}.{key} must be a list of numbers; got {values!r}")
        if not scores:
            raise refuse(f"{where}.scores must not be empty")
        fall = next((j for j, (a, b) in enumerate(pairwise(scores), 1) if b <= a), None)
        if fall is not None:
            raise refuse(
                f"{where}.scores must rise from each score to the next; got "
                f"{scores[fall]!r} after {scores[fall - 1]!r} (scores[{fall}])"
            )
        if len(percentiles) != len(scores):
            raise refuse(
                f"{where}.percentiles must have one percentile rank per score "
                f"({len(scores)}); got {len(percentiles)}"
            )
        wrong = next(
            (
                j
                for j, v in enumerate(percentiles)
                if not 0 <= v <= 100 or (j and v < percentiles[j - 1])
            ),
            None,
        )
        if wrong is not None:
            raise refuse(
                f"{where}.percentiles must rise with the scores and lie between 0 and 100; "
                f"got {percentiles[wrong]!r} (percentiles[{wrong}])"
            )


def is_scored(frame: pl.DataFrame, inst: Instrument) -> bool:
    """Whether ``frame`` holds every ``{instrument}.{scale}`` column (no scoring needed)."""
    return all(f"{inst.id}.{s.id}" in frame.columns for s in inst.scales)


def _scale_scores(
    frame: pl.DataFrame, inst: Instrument, on_invalid: str
) -> tuple[pl.DataFrame, np.ndarray | None]:
    """The ``{instrument}.{scale}`` columns, scored from the items when absent, and which
    protocols the instrument accepts (None for scores given: not known).

    A protocol is invalid when a validity rule of the instrument holds (a lie scale over
    its cut-off) or its longstring reaches the instrument's limit; an answer that is not
    one of the item's codes (``on_invalid="flag"``) only counts as missing.
    """
    names = [f"{inst.id}.{s.id}" for s in inst.scales]
    if is_scored(frame, inst):
        return frame.select(names), None
    from screening.errors import ResponseValidationError
    from screening.instruments import single_instrument_battery
    from screening.pipeline import Scorer, response_matrix, run_kernel  # imported when needed

    scorer = Scorer.for_battery(single_instrument_battery(inst))
    matrix, cases = response_matrix(frame, scorer)
    if cases.height and on_invalid == "raise":
        raise ResponseValidationError.from_cases(cases)
    out = run_kernel(scorer, matrix)
    scores = pl.DataFrame(
        [
            pl.Series(name, out["scores"][:, s], nan_to_null=True)
            for s, name in enumerate(scorer.compiled.scale_names)
        ]
    )
    return scores.select(names), ~out["invalid"][:, 0]


def norms(
    data: Any,
    instrument: Instrument | str,
    by: Sequence[str] = ("grade", "sex"),
    *,
    version: str | None = None,
    min_n: int = 1,
    on_invalid: str = "raise",
) -> NormTable:
    """Mean, sd and percentile ranks of every scale score per group.

    Parameters
    ----------
    data : polars.DataFrame or pandas.DataFrame
        Either scored results (columns ``{instrument}.{scale}``) or raw answers (item
        columns), which are scored first; and the group columns.
    instrument : Instrument or str
        The instrument (bundled id or path).
    by : list of str
        Group columns; group keys are stored as strings (see :func:`group_keys`). Rows
        whose group value is empty (a grade left blank) are in no group.
    version : str, optional
        Version of the norm table; default today's date.
    min_n : int
        Groups with fewer scores are left out of the table.
    on_invalid : {"raise", "flag"}
        Raw answers are scored as ``screening score`` scores them. ``"raise"``: an answer
        that is not a number or out of range raises
        :class:`~screening.errors.ResponseValidationError` naming the row, student, column
        and value. ``"flag"``: such answers count as missing and the row's scores are
        prorated (or null) as ``screening score --on-invalid flag`` gives them.

    Returns
    -------
    NormTable
        From the protocols the instrument accepts: raw answers of a protocol that a
        validity rule (a lie scale over its cut-off) or the longstring limit marks invalid
        are left out, as a test manual leaves them out of its norm sample. Scores given
        as such are all used.

    Warns
    -----
    InvalidProtocolsWarning
        When raw answers held invalid protocols, with their number.

    Raises
    ------
    ResponseValidationError
        Invalid raw answers under ``on_invalid="raise"``.

    References
    ----------
    .. [1] Crawford, J. R., & Garthwaite, P. H. (2009). Percentiles please: The case for
       expressing neuropsychological test scores and accompanying confidence limits as
       percentile ranks. The Clinical Neuropsychologist, 23(2), 193–204.
    """
    if on_invalid not in ("raise", "flag"):
        raise PsychometricInputError(f"on_invalid must be 'raise' or 'flag'; got {on_invalid!r}.")
    inst = resolve_instrument(instrument)
    frame = as_frame(data)
    by = list(by)
    absent = [c for c in by if c not in frame.columns]
    if absent:
        raise PsychometricInputError(
            f"Group columns {absent} are not in the data (columns: {frame.columns[:20]})."
        )
    scores, accepted = _scale_scores(frame, inst, on_invalid)
    keyed = pl.concat([group_keys(frame, by), scores], how="horizontal")
    if accepted is not None and not accepted.all():
        left_out = int(accepted.size - np.count_nonzero(accepted))
        warnings.warn(
            f"{count_of(left_out, 'protocol')} that {inst.id} marks invalid (a validity rule "
            "such as a lie scale, or the longstring limit) left out of the norms.",
            InvalidProtocolsWarning,
            stacklevel=2,
        )
        keyed = keyed.filter(pl.Series(accepted))
    long = keyed.unpivot(index=by, variable_name="scale", value_name="score").with_columns(
        pl.col("scale").str.slice(len(inst.id) + 1)
    )
    # a row whose group is not known (an empty grade) belongs to no norm group
    long = long.filter(
        pl.col("score").is_not_null() & pl.col("score").is_not_nan(),
        *(pl.col(c).is_not_null() for c in by),
    )
    counts = long.group_by([*by, "scale", "score"]).agg(pl.len().alias("count"))
    groups = (
        counts.sort([*by, "scale", "score"], nulls_last=True)
        .group_by([*by, "scale"], maintain_order=True)
        .agg(
            pl.col("count").sum().alias("n"),
            ((pl.col("score") * pl.col("count")).sum() / pl.col("count").sum()).alias("mean"),
            pl.col("score").alias("scores"),
            (
                100.0 * (pl.col("count").cum_sum() - 0.5 * pl.col("count")) / pl.col("count").sum()
            ).alias("percentiles"),
        )
    )
    sd = long.group_by([*by, "scale"]).agg(pl.col("score").std().alias("sd"))
    groups = (
        groups.join(sd, on=[*by, "scale"], nulls_equal=True)
        .filter(pl.col("n") >= min_n)
        .select(*by, "scale", "n", "mean", "sd", "scores", "percentiles")
        .sort([*by, "scale"], nulls_last=True)
    )
    today = dt.date.today().isoformat()
    return NormTable(
        inst.id,
        inst.version,
        inst.sha256,
        version or today,
        by,
        groups.with_columns(pl.col("scores").cast(pl.List(pl.Float64))),
        today,
    )


def apply_norms(
    results: pl.DataFrame,
    table: NormTable,
    *,
    unmatched: Literal["warn", "raise", "ignore"] = "warn",
) -> pl.DataFrame:
    """Add T-scores and percentile ranks to scored results.

    Parameters
    ----------
    results : polars.DataFrame
        Scored results with the group columns of the table and ``{instrument}.{scale}``.
    table : NormTable
        Norms of the same instrument.
    unmatched : {"warn", "raise", "ignore"}
        What to do when rows with a score find no norms of their group (a grade outside the
        norm sample, a group key spelled differently): warn (:class:`NormsWarning`), raise
        :class:`PsychometricInputError`, or leave their T-scores and percentiles null
        silently. Either message names the groups and their row counts.

    Returns
    -------
    polars.DataFrame
        ``results`` with ``{instrument}.{scale}.t`` and ``{instrument}.{scale}.percentile``
        for every normed scale (null where the score is null or the group has no norms;
        the T-score also where the group's sd is 0 or undefined, one score).

    Notes
    -----
    Group keys are compared as text after :func:`group_keys`: a grade of 7, 7.0, "7" or
    full-width "７" finds the same norms; a row whose group value is empty finds none.
    """
    if unmatched not in ("warn", "raise", "ignore"):
        raise PsychometricInputError(
            f"unmatched must be 'warn', 'raise' or 'ignore'; got {unmatched!r}."
        )
    out, lost = normed_results(results, table)
    message = unmatched_message(lost, table)
    if message and unmatched == "raise":
        raise PsychometricInputError(message)
    if message and unmatched == "warn":
        warnings.warn(message, NormsWarning, stacklevel=2)
    return out


def normed_results(results: pl.DataFrame, table: NormTable) -> tuple[pl.DataFrame, pl.DataFrame]:
    """:func:`apply_norms` without warning: the results, and the groups of scored rows that
    found no norms with their row counts (the group columns and ``len``; no rows when every
    scored row found them), for :func:`unmatched_message`."""
    absent = [c for c in table.by if c not in results.columns]
    if absent:
        raise PsychometricInputError(
            f"The results lack the norm table's group columns {absent}; keep them when scoring."
        )
    keys = group_keys(results, table.by)
    norm_keys = group_keys(table.groups, table.by)
    out = results
    lost = np.zeros(results.height, dtype=bool)
    for scale in table.groups["scale"].unique(maintain_order=True).to_list():
        column = f"{table.instrument}.{scale}"
        if column not in results.columns:
            raise PsychometricInputError(
                f"The results have no column {column!r} for the norms of {table.instrument!r}."
            )
        chosen = (table.groups["scale"] == scale).to_numpy()
        normed = table.groups.filter(chosen)
        index = (
            keys.with_row_index("__row")
            .join(
                norm_keys.filter(chosen).with_row_index("__norm"),
                on=table.by,
                how="left",
            )
            .sort("__row")["__norm"]
        )
        x = results[column].cast(pl.Float64).to_numpy()
        t = np.full(results.height, np.nan)
        pr = np.full(results.height, np.nan)
        idx = index.fill_null(-1).to_numpy().astype(np.int64)
        lost |= (idx < 0) & ~np.isnan(x)
        for g, row in enumerate(normed.iter_rows(named=True)):
            rows = np.flatnonzero(idx == g)
            if rows.size == 0:
                continue
            xs = x[rows]
            if row["sd"] and row["sd"] > 0:
                t[rows] = 50.0 + 10.0 * (xs - row["mean"]) / row["sd"]
            pr[rows] = np.interp(xs, row["scores"], row["percentiles"])
        out = out.with_columns(
            pl.Series(f"{column}.t", t).fill_nan(None),
            pl.Series(f"{column}.percentile", pr).fill_nan(None),
        )
    return out, keys.filter(lost).group_by(table.by).len()


def unmatched_message(lost: pl.DataFrame, table: NormTable) -> str | None:
    """Name the groups of scored rows without norms, with their row counts.

    Parameters
    ----------
    lost : polars.DataFrame
        Group columns and ``len``, as :func:`normed_results` gives them; a group may be
        given more than once (batches of one file), its counts are added.
    table : NormTable
        The norms the rows did not find.

    Returns
    -------
    str or None
        The warning, or None when no row was lost.
    """
    groups = lost.group_by(table.by).agg(pl.col("len").sum())
    if groups.height == 0:
        return None
    groups = groups.sort(
        ["len", *table.by], descending=[True] + [False] * len(table.by), nulls_last=True
    )
    norm_keys = group_keys(table.groups, table.by)
    shown = ", ".join(
        " ".join(f"{c}={row[c]!r}" for c in table.by) + f" ({count_of(row['len'], 'row')})"
        for row in groups.head(5).iter_rows(named=True)
    )
    more = f" and {groups.height - 5} more groups" if groups.height > 5 else ""
    known = "; ".join(
        f"{c} in {norm_keys[c].unique(maintain_order=True).head(10).to_list()}" for c in table.by
    )
    return (
        f"{count_of(int(groups['len'].sum()), 'scored row')} found no {table.instrument} norms "
        f"(table version {table.version!r}) for their group: {shown}{more}. Their T-scores and "
        f"percentiles are null. The table has {known}: check the group columns hold the "
        "values of the norm sample, or build norms that cover these groups."
    )


__all__ = ["NormTable", "NormsWarning", "apply_norms", "group_keys", "norms"]
