"""Turn the inputs of the psychometric functions into one response matrix.

The public functions accept a polars or pandas frame, a numpy array, or a frame plus an
instrument. This module validates that input once and converts it once:

- integer columns become an ``int8`` matrix with missing = -1 (polars nulls and pandas
  ``NA`` become -1 explicitly); so do float columns whose answers are all whole numbers in
  [0, 127] (NaN missing), or [-1, 127] where -1 is the missing code of a known range, as
  pandas gives for an integer column with an empty cell;
- -1 in integer data is the missing code (numpy integers have no NA) unless answers can be
  negative: the ``item_range`` or the instrument's range starts below 0, or, with no range
  given, some answer is below -1. Then -1 is an answer, as in R;
- any other float column, negative answers and integers above 127 make the whole matrix
  ``float64`` with missing = NaN (an integer column's -1 included where it is the missing
  code);
- reverse keys and the response range come from the instrument, or from the ``reverse`` and
  ``item_range`` arguments, or (range only) from the smallest and largest answer in the data,
  as ``psych::alpha`` does.
"""

from __future__ import annotations

from collections import Counter
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


def as_frame(data: Any) -> pl.DataFrame:
    """A polars frame from a polars or pandas frame, refusing repeated column names.

    Raises
    ------
    PsychometricInputError
        For other inputs (the grouped functions find group columns by name) and for a
        pandas frame with a column name given twice.
    """
    if isinstance(data, pl.DataFrame):
        return data
    if not _is_pandas(data):
        raise PsychometricInputError(
            f"Responses must be a polars or pandas DataFrame (columns found by name); got "
            f"{type(data).__name__}. Build a frame with named item and group columns."
        )
    repeated = _repeated([str(c) for c in data.columns])
    if repeated:
        raise PsychometricInputError(
            f"Columns {repeated} appear more than once in the data. Rename or drop the "
            "copies so that every column name is used once."
        )
    return pl.from_pandas(data.reset_index(drop=True))


def _is_pandas(data: Any) -> bool:
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False
    return isinstance(data, pd.DataFrame)


def _repeated(names: Sequence[str]) -> list[str]:
    """The names given more than once, in the order first given."""
    return [name for name, n in Counter(names).items() if n > 1]


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
        Missing columns, non-numeric columns, infinite answers, answers outside a known
        range, or fewer than two items.
    """
    if on_invalid not in ("raise", "missing"):
        raise PsychometricInputError(
            f"on_invalid must be 'raise' or 'missing'; got {on_invalid!r}."
        )
    lenient = on_invalid == "missing"
    inst = resolve_instrument(instrument)
    if items is None and inst is not None:
        items = inst.item_columns()
    # -1 is the missing code where the range starts at 0 or above, an answer where it starts
    # below, and decided by the data where no range is known
    minus_one_missing: bool | None = None
    if item_range is not None:
        _check_item_range(item_range)
        minus_one_missing = float(item_range[0]) >= 0
    elif inst is not None:
        minus_one_missing = bool(inst.item_min().min() >= 0)
    values, names = _to_numpy(data, items, lenient, minus_one_missing)
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


def _check_item_range(item_range: Any) -> None:
    try:
        low, high = (float(v) for v in item_range)
    except (TypeError, ValueError):
        raise PsychometricInputError(
            f"item_range must be (low, high), two numbers; got {item_range!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low <= high):
        raise PsychometricInputError(
            f"item_range must be (low, high) with low <= high, both finite; got "
            f"{item_range!r}. Give the lowest possible answer first, e.g. (0, 3)."
        )


def _reverse_mask(reverse: Any, names: list[str]) -> np.ndarray:
    """Reverse keys from item names, one boolean per item, or psych keys (1 or -1 per item)."""
    single = isinstance(reverse, str)
    if single:
        reverse = [reverse]  # one item name, not its characters
    arr = np.asarray(reverse)
    if arr.dtype == bool:
        if arr.shape != (len(names),):
            raise PsychometricInputError(
                f"reverse= has {arr.size} flags for {len(names)} items; give one per item."
            )
        return arr
    if arr.ndim != 1:
        raise PsychometricInputError(
            f"reverse= must be a list of item names, one boolean per item, or one key (1 or "
            f"-1) per item; got an array of shape {arr.shape}."
        )
    if arr.dtype.kind in "iuf":
        return _reverse_keys(arr, names)
    unknown = [name for name in arr.tolist() if name not in names]
    if unknown:
        hint = " A string is one item name; give a list for several." if single else ""
        raise PsychometricInputError(
            f"reverse= names items that are not among the items: {unknown}. Items: {names}." + hint
        )
    return np.isin(np.asarray(names, dtype=object), arr.astype(object))


def _reverse_keys(arr: np.ndarray, names: list[str]) -> np.ndarray:
    """psych-style keys: 1 keeps an item, -1 reverses it (one key per item)."""
    if arr.shape == (len(names),) and np.isin(arr, (-1, 1)).all():
        return arr == -1
    raise PsychometricInputError(
        f"reverse= got the numbers {arr.tolist()[:10]}, which are neither item names nor "
        f"one key per item. Give the names of the reversed items (e.g. reverse=[{names[0]!r}]), "
        f"one boolean per item, or psych-style keys, 1 or -1 for each of the {len(names)} "
        "items."
    )


def _to_numpy(
    data: Any,
    items: Sequence[str] | None,
    lenient: bool = False,
    minus_one_missing: bool | None = None,
) -> tuple[np.ndarray, list[str]]:
    if items is not None:
        items = [items] if isinstance(items, str) else list(items)
        repeated = _repeated(items)
        if repeated:
            raise PsychometricInputError(
                f"items= names {repeated} more than once; name each item once."
            )
    if isinstance(data, np.ma.MaskedArray):  # masked answers are missing answers
        data = np.ma.filled(np.ma.asarray(data, dtype=np.float64), np.nan)
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
        return _from_array(data, names, lenient, minus_one_missing), names
    if not isinstance(data, pl.DataFrame):
        if not _is_pandas(data):
            raise PsychometricInputError(
                f"Responses must be a polars or pandas DataFrame or a numpy array; "
                f"got {type(data).__name__}."
            )
        data = as_frame(data)
    names = list(items) if items is not None else list(data.columns)
    absent = [name for name in names if name not in data.columns]
    if absent:
        raise PsychometricInputError(
            f"Item columns {absent} are not in the data (columns: {data.columns[:20]}). "
            "Rename the columns or pass items=[...]."
        )
    frame = data.select(names)
    # a column of nothing but empty cells (pandas object None) holds no answers, not text
    frame = frame.with_columns(
        pl.col(name).cast(pl.Null)
        for name in names
        if frame[name].null_count() == frame.height and frame.schema[name] != pl.Null
    )
    if lenient:
        frame = _numbers_or_null(frame)
    for name, dtype in frame.schema.items():
        if not (dtype.is_integer() or dtype.is_float() or dtype == pl.Null):
            raise PsychometricInputError(
                f"Item column {name!r} holds {dtype}, not numbers. Convert it to integers "
                "(missing answers empty) before computing reliability."
            )
    frame = _finite_floats(frame, lenient)
    frame = _whole_floats_as_integers(frame, MISSING_INT if minus_one_missing else 0)
    numbers = [name for name, dtype in frame.schema.items() if dtype != pl.Null]
    integers = [name for name in numbers if frame.schema[name].is_integer()]
    # compared as floats: -1 does not fit an unsigned type
    low, high = (
        frame.select(
            pl.min_horizontal(pl.col(numbers).cast(pl.Float64).min()).alias("low"),
            pl.max_horizontal(pl.col(numbers).cast(pl.Float64).max()).alias("high"),
        ).row(0)
        if numbers
        else (None, None)
    )
    minus_one_missing, as_int8 = _integer_layout(low, high, minus_one_missing)
    if as_int8 and len(integers) == len(numbers):
        out = frame.fill_null(MISSING_INT).cast(pl.Int8).to_numpy()
        return np.ascontiguousarray(out, dtype=np.int8), names
    out = (
        frame.select(
            pl.when(pl.col(name) != MISSING_INT).then(pl.col(name)).alias(name)
            if name in integers and minus_one_missing
            else pl.col(name)
            for name in names
        )
        .cast(pl.Float64)
        .fill_null(float("nan"))
        .to_numpy()
    )
    return np.ascontiguousarray(out, dtype=np.float64), names


def _finite_floats(frame: pl.DataFrame, lenient: bool) -> pl.DataFrame:
    """Raise on an infinite answer (or make it missing when ``lenient``)."""
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    if not floats:
        return frame
    infinite = frame.select(pl.col(floats).is_infinite().any()).row(0)
    bad = [name for name, found in zip(floats, infinite, strict=True) if found]
    if bad and lenient:
        return frame.with_columns(
            pl.when(pl.col(name).is_infinite()).then(None).otherwise(pl.col(name)).alias(name)
            for name in bad
        )
    if bad:
        column = frame[bad[0]]
        rows = np.flatnonzero(column.is_infinite().fill_null(False).to_numpy())
        _raise_infinite(bad[0], float(column[int(rows[0])]), rows)
    return frame


def _raise_infinite(name: str, value: float, rows: np.ndarray) -> None:
    raise PsychometricInputError(
        f"Item {name!r} must be a finite answer. Got {value} in "
        f"{count_of(rows.size, 'row')} (first: row {rows[0] + 1}). Recode the answers "
        "(leave a missing answer empty)."
    )


def _whole_floats_as_integers(frame: pl.DataFrame, lowest: int) -> pl.DataFrame:
    """Float columns whose answers are all whole numbers in [lowest, 127] become integers.

    pandas reads an integer column with an empty cell as float64 (and ``read_csv`` in
    chunks gives int64 and float64 chunks of the same column): such answers are integer
    answers, read alike whatever the dtype. ``lowest`` is -1 where -1 is the missing code
    of integers (a range from 0 is known), else 0: without a range a float -1.0 stays an
    answer, as in R. A float column with a fractional, smaller or larger answer stays float.
    """
    floats = [name for name, dtype in frame.schema.items() if dtype.is_float()]
    if not floats:
        return frame
    whole = frame.select(
        pl.col(name)
        .fill_nan(None)
        .pipe(lambda c: c.is_null() | ((c == c.floor()) & c.is_between(lowest, 127)))
        .all()
        .alias(name)
        for name in floats
    ).row(0)
    ints = [name for name, ok in zip(floats, whole, strict=True) if ok]
    if not ints:
        return frame
    return frame.with_columns(pl.col(ints).fill_nan(None).cast(pl.Int8))


def _numbers_or_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Answers that are not numbers become null."""
    return frame.with_columns(
        pl.col(name).cast(pl.String).str.strip_chars().cast(pl.Int64, strict=False)
        for name, dtype in frame.schema.items()
        if not (dtype.is_float() or dtype.is_integer() or dtype == pl.Null)
    )


def _from_array(
    data: np.ndarray, names: list[str], lenient: bool = False, minus_one_missing: bool | None = None
) -> np.ndarray:
    if data.dtype.kind in "iub":
        return _integer_array(data.astype(np.float64), minus_one_missing)  # also unsigned -1
    if data.dtype.kind == "f":
        infinite = np.isinf(data)
        if infinite.any() and lenient:
            data = np.where(infinite, np.nan, data)
        elif infinite.any():
            col = int(np.flatnonzero(infinite.any(axis=0))[0])
            rows = np.flatnonzero(infinite[:, col])
            _raise_infinite(names[col], float(data[rows[0], col]), rows)
        return _whole_float_array(data, minus_one_missing)
    raise PsychometricInputError(
        f"A numpy array of responses must hold numbers; got dtype {data.dtype}."
    )


def _whole_float_array(data: np.ndarray, minus_one_missing: bool | None) -> np.ndarray:
    """A float array of whole answers (or NaN) as integer answers, else as is: as
    :func:`_whole_floats_as_integers`, from -1 where -1 is the missing code, else from 0."""
    values = np.asarray(data, dtype=np.float64)
    present = ~np.isnan(values)
    answers = values[present]
    lowest = MISSING_INT if minus_one_missing else 0
    if np.all((answers == np.floor(answers)) & (answers >= lowest) & (answers <= 127)):
        return _integer_array(np.where(present, values, MISSING_INT), minus_one_missing)
    return np.ascontiguousarray(values)


def _integer_array(values: np.ndarray, minus_one_missing: bool | None) -> np.ndarray:
    """Integer answers (as floats, -1 where missing) as ``int8``, or as ``float64`` with NaN
    missing where -1 is an answer or they do not fit ``int8``."""
    low, high = (values.min(), values.max()) if values.size else (None, None)
    minus_one_missing, as_int8 = _integer_layout(low, high, minus_one_missing)
    if as_int8:
        return np.ascontiguousarray(values, dtype=np.int8)
    if minus_one_missing:
        values = np.where(values == MISSING_INT, np.nan, values)
    return np.ascontiguousarray(values, dtype=np.float64)


def _integer_layout(
    low: float | None, high: float | None, minus_one_missing: bool | None
) -> tuple[bool, bool]:
    """Whether -1 is the missing code of integer answers from ``low`` to ``high`` (decided
    by the data where no range says so), and whether they are then held as ``int8``."""
    if minus_one_missing is None:
        minus_one_missing = low is None or low >= MISSING_INT
    fits = low is None or (-128 <= low and high <= 127)
    return minus_one_missing, minus_one_missing and fits
