"""Turn the inputs of the psychometric functions into one response matrix.

The public functions accept a polars or pandas frame, a numpy array, or a frame plus an
instrument. This module validates that input once and converts it once:

- integer columns become an ``int8`` matrix with missing = -1 (polars nulls and pandas
  ``NA`` become -1 explicitly); so do float columns whose answers are all whole numbers in
  [0, 127] (NaN missing), as pandas gives for an integer column with an empty cell;
- any other float column makes the whole matrix ``float64`` with missing = NaN (an
  integer column's -1 included);
- reverse keys and the response range come from the instrument, or from the ``reverse`` and
  ``item_range`` arguments, or (range only) from the smallest and largest answer in the data,
  as ``psych::alpha`` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from screening.errors import ScreeningError, count_of
from screening.instruments import Instrument, load_instrument

MISSING_INT = -1


class PsychometricInputError(ScreeningError, ValueError):
    """The data given to a psychometric function cannot be used as item responses."""


@dataclass(frozen=True)
class ItemMatrix:
    """Item responses ready for the kernels.

    Attributes
    ----------
    values : numpy.ndarray
        ``int8`` (missing = -1) or ``float64`` (missing = NaN), shape (n, p).
    names : list of str
        Item names (input column names).
    reverse : numpy.ndarray
        Boolean (p,), true for reverse-keyed items.
    low, high : numpy.ndarray
        Smallest and largest possible answer per item (float64, (p,)).
    """

    values: np.ndarray
    names: list[str]
    reverse: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @property
    def missing(self) -> float:
        """The missing code the kernels compare against (-1, or NaN for float data)."""
        return float(MISSING_INT) if self.values.dtype == np.int8 else float("nan")

    @property
    def is_integer(self) -> bool:
        """True when every answer is an integer (int8 matrix)."""
        return self.values.dtype == np.int8

    def take(self, columns: Sequence[int]) -> ItemMatrix:
        """The matrix restricted to some items, in the given order."""
        idx = np.asarray(columns, dtype=np.int64)
        if np.array_equal(idx, np.arange(len(self.names))):
            return self
        return ItemMatrix(
            np.ascontiguousarray(self.values[:, idx]),
            [self.names[i] for i in idx],
            self.reverse[idx],
            self.low[idx],
            self.high[idx],
        )

    def rows(self, mask: np.ndarray) -> ItemMatrix:
        """The matrix restricted to the rows where ``mask`` is true."""
        return ItemMatrix(self.values[mask], self.names, self.reverse, self.low, self.high)


def resolve_instrument(instrument: Instrument | str | None) -> Instrument | None:
    """An instrument object from an instrument, a bundled id or a path (None stays None)."""
    if instrument is None or isinstance(instrument, Instrument):
        return instrument
    return load_instrument(instrument)


def scale_columns(instrument: Instrument, scale: str | None) -> list[tuple[str, list[int]]]:
    """``(scale id, item positions)`` for one scale, or for every scale when ``scale`` is None."""
    if scale is not None:
        try:
            chosen = [instrument.scale(scale)]
        except KeyError:
            known = ", ".join(s.id for s in instrument.scales)
            raise PsychometricInputError(
                f"Instrument {instrument.id!r} has no scale {scale!r}; use one of: {known}."
            ) from None
    else:
        chosen = list(instrument.scales)
    return [(s.id, [instrument.item_index(i) for i in s.items]) for s in chosen]


def item_matrix(
    data: Any,
    items: Sequence[str] | None = None,
    *,
    instrument: Instrument | str | None = None,
    reverse: Sequence[str] | Sequence[bool] | np.ndarray | None = None,
    item_range: tuple[float, float] | None = None,
    on_invalid: str = "raise",
) -> ItemMatrix:
    """Validate and convert item responses.

    Parameters
    ----------
    data : polars.DataFrame, pandas.DataFrame or numpy.ndarray
        One row per respondent. A frame may hold other columns too.
    items : list of str, optional
        Item columns of a frame; default: the instrument's item columns, else every column.
    instrument : Instrument or str, optional
        Gives the item columns, reverse keys and response range.
    reverse : list of item names or boolean mask, optional
        Reverse-keyed items (overrides the instrument's keys).
    item_range : (low, high), optional
        Response range used to reverse items and to define floor and ceiling; default: the
        instrument's range, else the smallest and largest answer in the data.
    on_invalid : {"raise", "missing"}
        ``"raise"``: an answer that is not a number or outside the range raises.
        ``"missing"``: such answers count as missing (as ``screening score --on-invalid
        flag`` counts them), for quality figures computed after scoring.

    Returns
    -------
    ItemMatrix

    Raises
    ------
    PsychometricInputError
        Missing columns, non-numeric columns, integer answers below -1 or above 127, or
        fewer than two items.
    """
    if on_invalid not in ("raise", "missing"):
        raise PsychometricInputError(
            f"on_invalid must be 'raise' or 'missing'; got {on_invalid!r}."
        )
    lenient = on_invalid == "missing"
    inst = resolve_instrument(instrument)
    if items is None and inst is not None:
        items = inst.item_columns()
    values, names = _to_numpy(data, items, lenient)
    if values.shape[1] < 2:
        raise PsychometricInputError(
            f"Reliability needs at least two items; got {values.shape[1]} ({names}). "
            "Pass more item columns."
        )
    p = len(names)
    if reverse is None:
        flip = inst.reverse_mask() if inst is not None else np.zeros(p, dtype=bool)
    else:
        flip = _reverse_mask(reverse, names)
    if item_range is not None:
        low = np.full(p, float(item_range[0]))
        high = np.full(p, float(item_range[1]))
    elif inst is not None:
        low = inst.item_min().astype(np.float64)
        high = inst.item_max().astype(np.float64)
    else:
        present = values[values != MISSING_INT] if values.dtype == np.int8 else values
        lo = np.nanmin(present) if present.size and not np.all(np.isnan(present)) else 0.0
        hi = np.nanmax(present) if present.size and not np.all(np.isnan(present)) else 0.0
        low = np.full(p, float(lo))
        high = np.full(p, float(hi))
    if item_range is not None or inst is not None:
        owner = inst.id if inst is not None else None
        values = _check_range(values, names, low, high, owner, lenient)
    return ItemMatrix(values, names, np.asarray(flip, dtype=bool), low, high)


def _check_range(
    values: np.ndarray,
    names: list[str],
    low: np.ndarray,
    high: np.ndarray,
    owner: str | None,
    lenient: bool = False,
) -> np.ndarray:
    """Raise on the first item with an answer outside its known range (or make it missing)."""
    if values.dtype == np.int8 and values.size and low.max() <= 0:
        # fast path: every answer is -1 (missing) or within [0, min(high)]
        if values.min() >= MISSING_INT and values.max() <= high.min():
            return values
    copied = False
    for j, name in enumerate(names):
        column = values[:, j]
        present = column != MISSING_INT if values.dtype == np.int8 else ~np.isnan(column)
        bad = present & ((column < low[j]) | (column > high[j]))
        if bad.any() and lenient:
            if not copied:  # never change the caller's array
                values, copied = values.copy(), True
            values[bad, j] = MISSING_INT if values.dtype == np.int8 else np.nan
        elif bad.any():
            rows = np.flatnonzero(bad)
            of = f" of instrument {owner!r}" if owner else ""
            raise PsychometricInputError(
                f"Item {name!r}{of} must be an answer in [{low[j]:g}, {high[j]:g}]. "
                f"Got {column[rows[0]]:g} in {count_of(rows.size, 'row')} "
                f"(first: row {rows[0] + 1}). "
                "Recode the answers or give the right item_range."
            )
    return values


def _reverse_mask(reverse: Any, names: list[str]) -> np.ndarray:
    arr = np.asarray(reverse)
    if arr.dtype == bool:
        if arr.shape != (len(names),):
            raise PsychometricInputError(
                f"reverse= has {arr.size} flags for {len(names)} items; give one per item."
            )
        return arr
    unknown = [name for name in arr.tolist() if name not in names]
    if unknown:
        raise PsychometricInputError(
            f"reverse= names items that are not among the items: {unknown}. Items: {names}."
        )
    return np.isin(np.asarray(names, dtype=object), arr.astype(object))


def _to_numpy(
    data: Any, items: Sequence[str] | None, lenient: bool = False
) -> tuple[np.ndarray, list[str]]:
    if isinstance(data, np.ndarray):
        if data.ndim != 2:
            raise PsychometricInputError(
                f"A numpy array of responses must be 2-D (rows × items); got {data.ndim}-D."
            )
        names = list(items) if items is not None else [f"item{j + 1}" for j in range(data.shape[1])]
        if len(names) != data.shape[1]:
            raise PsychometricInputError(
                f"{len(names)} item names for an array of {data.shape[1]} columns."
            )
        return _from_array(data, names, lenient), names
    if not isinstance(data, pl.DataFrame):
        try:
            import pandas as pd
        except ImportError:  # pragma: no cover - pandas is a dependency
            pd = None
        if pd is not None and isinstance(data, pd.DataFrame):
            data = pl.from_pandas(data.reset_index(drop=True))
        else:
            raise PsychometricInputError(
                f"Responses must be a polars or pandas DataFrame or a numpy array; "
                f"got {type(data).__name__}."
            )
    names = list(items) if items is not None else list(data.columns)
    absent = [name for name in names if name not in data.columns]
    if absent:
        raise PsychometricInputError(
            f"Item columns {absent} are not in the data (columns: {data.columns[:20]}). "
            "Rename the columns or pass items=[...]."
        )
    frame = data.select(names)
    if lenient:
        frame = _numbers_or_null(frame)
    for name, dtype in frame.schema.items():
        if not (dtype.is_integer() or dtype.is_float() or dtype == pl.Null):
            raise PsychometricInputError(
                f"Item column {name!r} holds {dtype}, not numbers. Convert it to integers "
                "(missing answers empty) before computing reliability."
            )
    frame = _whole_floats_as_integers(frame)
    if all(not dtype.is_float() for dtype in frame.schema.values()):
        checked = _check_integers(frame, names)
        out = checked.fill_null(MISSING_INT).cast(pl.Int8).to_numpy()
        return np.ascontiguousarray(out, dtype=np.int8), names
    # integer columns keep their missing code -1 beside the float columns
    out = (
        frame.select(
            pl.when(pl.col(name) != MISSING_INT).then(pl.col(name)).alias(name)
            if dtype.is_integer()
            else pl.col(name)
            for name, dtype in frame.schema.items()
        )
        .cast(pl.Float64)
        .fill_null(float("nan"))
        .to_numpy()
    )
    return np.ascontiguousarray(out, dtype=np.float64), names


def _whole_floats_as_integers(frame: pl.DataFrame) -> pl.DataFrame:
    """Float columns whose answers are all whole numbers in [0, 127] become integers.

    pandas reads an integer column with an empty cell as float64 (and ``read_csv`` in
    chunks gives int64 and float64 chunks of the same column): such answers are integer
    answers, read alike whatever the dtype. A float column with a negative, fractional or
    larger answer stays float (there -1.0 is an answer, not the missing code).
    """
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    if not floats:
        return frame
    whole = frame.select(
        pl.col(name)
        .fill_nan(None)
        .pipe(lambda c: c.is_null() | ((c == c.floor()) & c.is_between(0, 127)))
        .all()
        .alias(name)
        for name in floats
    ).row(0)
    ints = [name for name, ok in zip(floats, whole, strict=True) if ok]
    if not ints:
        return frame
    return frame.with_columns(pl.col(ints).fill_nan(None).cast(pl.Int8))


def _numbers_or_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Answers that are not numbers, or not in [-1, 127] when integers, become null."""
    exprs = []
    for name, dtype in frame.schema.items():
        column = pl.col(name)
        if dtype.is_float() or dtype == pl.Null:
            exprs.append(column)
            continue
        if not dtype.is_integer():
            column = column.cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
        exprs.append(pl.when(column.is_between(MISSING_INT, 127)).then(column).alias(name))
    return frame.select(exprs)


def _check_integers(frame: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    for name in names:
        column = frame[name]
        bad = column.is_not_null() & ((column < MISSING_INT) | (column > 127))
        if bad.any():
            rows = np.flatnonzero(bad.to_numpy())
            value = column[int(rows[0])]
            raise PsychometricInputError(
                f"Item {name!r} must be an integer answer in [0, 127] (or -1/empty for "
                f"missing). Got {value} in {count_of(rows.size, 'row')} "
                f"(first: row {rows[0] + 1}). "
                "Recode the answers."
            )
    return frame


def _from_array(data: np.ndarray, names: list[str], lenient: bool = False) -> np.ndarray:
    if data.dtype == np.int8:
        bad = data < MISSING_INT
    elif data.dtype.kind in "iub":
        bad = (data < MISSING_INT) | (data > 127)
    elif data.dtype.kind == "f":
        return _whole_float_array(data)
    else:
        raise PsychometricInputError(
            f"A numpy array of responses must hold numbers; got dtype {data.dtype}."
        )
    if bad.any() and lenient:
        data = np.where(bad, MISSING_INT, data)
    elif bad.any():
        row, col = np.argwhere(bad)[0]
        raise PsychometricInputError(
            f"Item {names[col]!r} must be an integer answer in [0, 127] (or -1 for missing). "
            f"Got {data[row, col]} in {count_of(int(bad[:, col].sum()), 'row')} "
            f"(first: row {row + 1})."
        )
    return np.ascontiguousarray(data, dtype=np.int8)


def _whole_float_array(data: np.ndarray) -> np.ndarray:
    """A float array of whole answers in [0, 127] (or NaN) as ``int8``, else ``float64``."""
    values = np.asarray(data, dtype=np.float64)
    present = ~np.isnan(values)
    answers = values[present]
    if np.all((answers == np.floor(answers)) & (answers >= 0) & (answers <= 127)):
        return np.ascontiguousarray(np.where(present, values, MISSING_INT), dtype=np.int8)
    return np.ascontiguousarray(values)
