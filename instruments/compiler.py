"""Compile a battery's instruments into frozen arrays for the scoring kernel.

Every item of every instrument becomes one column of the response matrix; scales become
CSR-style index lists (``scale_ptr``/``scale_idx``), bands a flat list of cut-offs, and
critical items and validity rules small parallel arrays. Nothing here is executed later
but array lookups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from screening.instruments.loader import LoadedBattery
from screening.instruments.models import COMPARISONS, Instrument

METHODS: dict[str, int] = {"sum": 0, "mean": 1, "max": 2}
OPERATORS: dict[str, int] = {op: code for code, op in enumerate(COMPARISONS)}


def _frozen(values: object, dtype: type) -> np.ndarray:
    array = np.ascontiguousarray(np.array(values, dtype=dtype))
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class CompiledBattery:
    """Arrays describing how to score every instrument of a battery in one pass.

    Attributes
    ----------
    columns : tuple of str
        Input column of each item, in matrix order.
    instrument_ids : tuple of str
        Instrument ids; ``inst_ptr[m]:inst_ptr[m+1]`` are the columns of instrument ``m``.
    item_min, item_max : ndarray of int8
        Valid answer range per column.
    reverse : ndarray of bool
        Reverse-keyed columns (scored as ``min + max - answer``).
    missing_means : ndarray of int8
        Value a missing answer counts as, -1 when it stays missing.
    scale_names : tuple of str
        ``"{instrument}.{scale}"`` per scale; ``scale_inst`` gives its instrument.
    scale_ptr, scale_idx : ndarray of int64
        Columns of scale ``s`` are ``scale_idx[scale_ptr[s]:scale_ptr[s+1]]``.
    scale_method, scale_required, scale_prorate, scale_multiplier : ndarray
        Method code (0 sum, 1 mean, 2 max), answers needed, whether sums are prorated,
        and the multiplier applied to the score.
    band_ptr, band_cuts : ndarray
        Cut-offs of scale ``s`` are ``band_cuts[band_ptr[s]:band_ptr[s+1]]`` (none: no bands).
    band_labels : tuple of tuple of str
        English band labels per scale (empty when the scale has no bands).
    crit_col, crit_threshold, crit_inst : ndarray
        Column, threshold (answer >= threshold) and instrument of each critical item.
    crit_names : tuple of str
        The rule text of each critical item, e.g. ``"phq9.item9 >= 1"``.
    valid_scale, valid_op, valid_value : ndarray
        Validity rules: the protocol of the scale's instrument is invalid when
        ``score <op> value``.
    max_longstring : ndarray of int64
        Per instrument; a longstring at or above it marks the protocol invalid (0: never).
    benign_answer : ndarray of int64
        Per instrument, the answer that given to every item is not straight-lining
        (:meth:`Instrument.benign_answer`; -1: none).
    """

    columns: tuple[str, ...]
    instrument_ids: tuple[str, ...]
    inst_ptr: np.ndarray
    item_min: np.ndarray
    item_max: np.ndarray
    reverse: np.ndarray
    missing_means: np.ndarray
    scale_names: tuple[str, ...]
    scale_inst: np.ndarray
    scale_ptr: np.ndarray
    scale_idx: np.ndarray
    scale_method: np.ndarray
    scale_required: np.ndarray
    scale_prorate: np.ndarray
    scale_multiplier: np.ndarray
    band_ptr: np.ndarray
    band_cuts: np.ndarray
    band_labels: tuple[tuple[str, ...], ...]
    crit_col: np.ndarray
    crit_threshold: np.ndarray
    crit_inst: np.ndarray
    crit_names: tuple[str, ...]
    valid_scale: np.ndarray
    valid_op: np.ndarray
    valid_value: np.ndarray
    max_longstring: np.ndarray
    benign_answer: np.ndarray

    @property
    def n_items(self) -> int:
        """Number of columns of the response matrix."""
        return len(self.columns)

    def column_index(self, instrument_id: str, item_id: str) -> int:
        """Matrix column of an item."""
        return self.columns.index(f"{instrument_id}_{item_id}")

    def scale_index(self, name: str) -> int:
        """Position of ``"{instrument}.{scale}"`` among the scales."""
        return self.scale_names.index(name)


def compile_instruments(instruments: tuple[Instrument, ...] | list[Instrument]) -> CompiledBattery:
    """Compile instruments, in order, into one :class:`CompiledBattery`."""
    columns: list[str] = []
    inst_ptr = [0]
    item_min: list[int] = []
    item_max: list[int] = []
    reverse: list[bool] = []
    missing_means: list[int] = []
    scale_names: list[str] = []
    scale_inst: list[int] = []
    scale_ptr = [0]
    scale_idx: list[int] = []
    method: list[int] = []
    required: list[int] = []
    prorate: list[bool] = []
    multiplier: list[float] = []
    band_ptr = [0]
    band_cuts: list[float] = []
    band_labels: list[tuple[str, ...]] = []
    crit: list[tuple[int, int, int, str]] = []
    validity: list[tuple[int, int, float]] = []
    longstring: list[int] = []
    benign: list[int] = []

    for m, inst in enumerate(instruments):
        offset = len(columns)
        columns.extend(inst.item_columns())
        inst_ptr.append(len(columns))
        item_min.extend(inst.item_min().tolist())
        item_max.extend(inst.item_max().tolist())
        reverse.extend(inst.reverse_mask().tolist())
        missing_means.extend(
            -1 if it.missing_means is None else it.missing_means for it in inst.items
        )
        first_scale = len(scale_names)
        for scale in inst.scales:
            scale_names.append(f"{inst.id}.{scale.id}")
            scale_inst.append(m)
            scale_idx.extend(offset + inst.item_index(item) for item in scale.items)
            scale_ptr.append(len(scale_idx))
            method.append(METHODS[scale.method])
            required.append(scale.required_answers)
            prorate.append(scale.prorate)
            multiplier.append(scale.multiplier)
            if scale.bands is not None:
                band_cuts.extend(scale.bands.cuts)
                band_labels.append(tuple(scale.bands.labels["en"]))
            else:
                band_labels.append(())
            band_ptr.append(len(band_cuts))
        for critical in inst.critical:
            crit.append(
                (
                    offset + inst.item_index(critical.item),
                    critical.threshold,
                    m,
                    f"{inst.id}.item{critical.item} >= {critical.threshold}",
                )
            )
        for rule in inst.validity:
            scale_position = first_scale + [s.id for s in inst.scales].index(rule.scale)
            validity.append((scale_position, OPERATORS[rule.op], rule.value))
        longstring.append(inst.careless.max_longstring or 0)
        benign.append(inst.benign_answer())

    return CompiledBattery(
        columns=tuple(columns),
        instrument_ids=tuple(inst.id for inst in instruments),
        inst_ptr=_frozen(inst_ptr, np.int64),
        item_min=_frozen(item_min, np.int8),
        item_max=_frozen(item_max, np.int8),
        reverse=_frozen(reverse, np.bool_),
        missing_means=_frozen(missing_means, np.int8),
        scale_names=tuple(scale_names),
        scale_inst=_frozen(scale_inst, np.int64),
        scale_ptr=_frozen(scale_ptr, np.int64),
        scale_idx=_frozen(scale_idx, np.int64),
        scale_method=_frozen(method, np.int8),
        scale_required=_frozen(required, np.int64),
        scale_prorate=_frozen(prorate, np.bool_),
        scale_multiplier=_frozen(multiplier, np.float64),
        band_ptr=_frozen(band_ptr, np.int64),
        band_cuts=_frozen(band_cuts, np.float64),
        band_labels=tuple(band_labels),
        crit_col=_frozen([c[0] for c in crit], np.int64),
        crit_threshold=_frozen([c[1] for c in crit], np.int8),
        crit_inst=_frozen([c[2] for c in crit], np.int64),
        crit_names=tuple(c[3] for c in crit),
        valid_scale=_frozen([v[0] for v in validity], np.int64),
        valid_op=_frozen([v[1] for v in validity], np.int8),
        valid_value=_frozen([v[2] for v in validity], np.float64),
        max_longstring=_frozen(longstring, np.int64),
        benign_answer=_frozen(benign, np.int64),
    )


def compile_battery(loaded: LoadedBattery) -> CompiledBattery:
    """Compile the instruments of a loaded battery."""
    return compile_instruments(loaded.instruments)
