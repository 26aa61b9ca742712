"""A seeded synthetic city of student responses, for demos, tests and benchmarks.

Model
-----
Each student has two latent traits, depression and anxiety, standard normal in the
population and correlated (``trait_correlation``, default 0.8, which makes PHQ-9 and
GAD-7 totals correlate about 0.66). The mean is shifted a little for girls (+0.25 SD),
per grade (+0.04 SD a year above grade 4) and by a random effect per school (SD 0.2).

Each item follows a normal-ogive graded response model (the latent-response form of
Samejima's graded model): the latent response is ``y = l*theta + sqrt(1 - l^2)*e`` with a
loading ``l`` drawn per item in [0.65, 0.85] and ``e`` standard normal; the answer counts
the item's thresholds that ``y`` exceeds. The first threshold lies in [0.15, 0.75] SD and
the others step up evenly, so that most answers are "not at all", as in school samples;
a yes/no item's one threshold lies in [1.3, 1.9] SD (a "yes" from 3 to 10 % of students:
with the defaults, about 17 % of regular responders answer yes to one of ASQ items 1-4,
and 19 % screen positive once blanks, which the ASQ counts as "yes", are added).
With the defaults (1M students, seed 1): PHQ-9 total mean 4.5 (SD 5.1), 16 % at 10 or
more, 1.7 % at 20 or more, Cronbach's alpha 0.87; GAD-7 alpha 0.85. A critical item
(PHQ-9 item 9) gets thresholds that make about ``critical_share`` of regular responders
endorse it. Reverse-keyed items are written reversed; instruments whose bands put risk at
*low* scores (WHO-5) are written on the well-being side.

Then: ``careless_share`` of students answer carelessly (half straight-line one value per
instrument, half answer uniformly at random); every answer is left blank with probability
``missing_share``, and another ``missing_share`` of students break off at a random item
(everything after it blank).

Layout: schools ``S0001``... of four kinds (primary grades 4-6, junior 7-9, senior 10-12,
nine-year 4-9) with sizes that vary (gamma-distributed weights); classes of 45 per school
and grade (``S0001-07-02``); sex F/M (0.48/0.52); unique ``student_id`` (``ST00000001``...).
Rows are in school, grade, class order, as a district export would be. Every passthrough
column is a String, items are Int8 with nulls: exactly what :func:`screening.io.read_responses`
returns for the written file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import polars as pl

from screening.atomic import write_csv_atomic, write_parquet_atomic

#: Latent trait measured by each bundled instrument (others: depression).
TRAITS: dict[str, str] = {"gad7": "anxiety", "scared": "anxiety"}
_TRAIT_INDEX = {"depression": 0, "anxiety": 1}
_CLASS_SIZE = 45
_GRADE_RANGES = ((4, 6), (7, 9), (10, 12), (4, 9))
_SCHOOL_KIND_WEIGHTS = (0.45, 0.25, 0.2, 0.1)
_ROW_BLOCK = 262_144  # rows simulated at a time (bounds the float32 work arrays)


@dataclass(frozen=True)
class ItemSpec:
    """What the generator needs to know of an instrument, as plain values.

    Parameters
    ----------
    id
        Instrument id.
    columns
        Input column names of the items, in order.
    low, high
        Smallest and largest answer of each item.
    reverse
        True for reverse-keyed items (written reversed).
    critical
        (item index, threshold) of each critical item.
    trait
        ``"depression"`` or ``"anxiety"``.
    risk
        ``"high"`` when high scores mean risk, ``"low"`` for well-being scales.
    """

    id: str
    columns: tuple[str, ...]
    low: tuple[int, ...]
    high: tuple[int, ...]
    reverse: tuple[bool, ...]
    critical: tuple[tuple[int, int], ...] = ()
    trait: str = "depression"
    risk: str = "high"

    @classmethod
    def simple(cls, id: str, n_items: int, low: int, high: int, **kwargs: object) -> ItemSpec:
        """Items ``{id}_1`` ... ``{id}_{n_items}`` answered ``low`` to ``high``."""
        return cls(
            id=id,
            columns=tuple(f"{id}_{i}" for i in range(1, n_items + 1)),
            low=(low,) * n_items,
            high=(high,) * n_items,
            reverse=kwargs.pop("reverse", (False,) * n_items),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )

    @classmethod
    def from_instrument(cls, ref: str | Path) -> ItemSpec:
        """Describe a bundled (id) or user (path) instrument file."""
        from screening.instruments.loader import load_instrument

        instrument = load_instrument(ref)
        item_ids = [item.id for item in instrument.items]
        bands = [scale.bands for scale in instrument.scales if scale.bands is not None]
        return cls(
            id=instrument.id,
            columns=tuple(instrument.item_columns()),
            low=tuple(int(v) for v in instrument.item_min()),
            high=tuple(int(v) for v in instrument.item_max()),
            reverse=tuple(bool(v) for v in instrument.reverse_mask()),
            critical=tuple((item_ids.index(c.item), c.threshold) for c in instrument.critical),
            trait=TRAITS.get(instrument.id, "depression"),
            risk=bands[0].risk if bands else "high",
        )


def _thresholds(
    spec: ItemSpec, rng: np.random.Generator, critical_share: float
) -> tuple[np.ndarray, np.ndarray]:
    """Loadings (items,) and thresholds (items, max steps; +inf past an item's top)."""
    n_items = len(spec.columns)
    steps = np.asarray(spec.high) - np.asarray(spec.low)
    width = int(steps.max())
    loadings = rng.uniform(0.65, 0.85, n_items)
    first = rng.uniform(0.15, 0.75, n_items)
    yes_no = steps == 1
    if yes_no.any():  # a "yes" is rare: 3-10 % per item
        first[yes_no] = rng.uniform(1.3, 1.9, int(yes_no.sum()))
    step = 2.0 / np.maximum(steps, 1)
    tau = first[:, None] + step[:, None] * np.arange(width)[None, :]
    for index, threshold in spec.critical:
        # P(answer >= threshold) = critical_share: threshold number `threshold` sits there
        anchor = NormalDist().inv_cdf(1.0 - critical_share)
        k = np.arange(width)
        tau[index] = anchor + (k - (threshold - 1)) * step[index]
    tau[np.arange(width)[None, :] >= steps[:, None]] = np.inf
    return loadings.astype(np.float32), tau.astype(np.float32)


def simulate_items(
    theta: np.ndarray,
    spec: ItemSpec,
    rng: np.random.Generator,
    *,
    critical_share: float = 0.04,
) -> np.ndarray:
    """Answers (students, items) int8 of one instrument for latent trait values ``theta``.

    Regular responders only: careless answers and missing cells are added by
    :func:`generate_city`.
    """
    loadings, tau = _thresholds(spec, rng, critical_share)
    low = np.asarray(spec.low, dtype=np.int8)
    high = np.asarray(spec.high, dtype=np.int8)
    out = np.empty((theta.shape[0], len(spec.columns)), dtype=np.int8)
    noise_scale = np.sqrt(1.0 - loadings**2)
    for start in range(0, theta.shape[0], _ROW_BLOCK):
        block = theta[start : start + _ROW_BLOCK, None].astype(np.float32)
        latent = rng.standard_normal((block.shape[0], len(spec.columns)), dtype=np.float32)
        latent *= noise_scale
        latent += block * loadings
        counts = np.zeros(latent.shape, dtype=np.int8)
        for k in range(tau.shape[1]):
            counts += latent > tau[:, k]
        out[start : start + block.shape[0]] = counts
    out += low
    flip = np.asarray(spec.reverse) ^ (spec.risk == "low")
    out[:, flip] = (high + low)[flip] - out[:, flip]
    return out


def _resolve(instrument: str | Path | ItemSpec) -> ItemSpec:
    return instrument if isinstance(instrument, ItemSpec) else ItemSpec.from_instrument(instrument)


def _layout(n: int, n_schools: int, rng: np.random.Generator) -> pl.DataFrame:
    """Schools, grades, classes, sex and ids of ``n`` students, in export order."""
    weights = rng.gamma(4.0, size=n_schools)
    school = rng.choice(n_schools, size=n, p=weights / weights.sum())
    kind = rng.choice(len(_GRADE_RANGES), size=n_schools, p=_SCHOOL_KIND_WEIGHTS)
    ranges = np.asarray(_GRADE_RANGES)[kind]
    low, high = ranges[school, 0], ranges[school, 1]
    grade = low + np.floor(rng.random(n) * (high - low + 1)).astype(np.int64)
    order = np.lexsort((grade, school))
    school, grade = school[order], grade[order]
    group = school * 16 + grade
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, n])
    rank = np.arange(n) - np.repeat(starts, sizes)
    female = rng.random(n) < 0.48
    classes = rank // _CLASS_SIZE + 1
    # the few distinct labels are formatted once and gathered (fast for millions of rows)
    class_key = np.r_[True, (group[1:] != group[:-1]) | (classes[1:] != classes[:-1])]
    class_index = np.cumsum(class_key) - 1
    firsts = np.flatnonzero(class_key)
    class_labels = [
        f"S{s + 1:04d}-{g:02d}-{c:02d}"
        for s, g, c in zip(school[firsts], grade[firsts], classes[firsts], strict=True)
    ]
    width = max(8, len(str(n)))
    ids = pl.int_range(1, n + 1, eager=True).cast(pl.String).str.zfill(width)
    return pl.DataFrame(
        {
            "student_id": "ST" + ids,
            "school_id": pl.Series([f"S{s + 1:04d}" for s in range(n_schools)]).gather(school),
            "class_id": pl.Series(class_labels).gather(class_index),
            "grade": pl.Series([str(g) for g in range(13)]).gather(grade),
            "sex": pl.Series(["M", "F"]).gather(female.astype(np.int8)),
            "_school": school,
            "_grade": grade,
        }
    )


def generate_city(
    n_students: int = 100_000,
    *,
    seed: int = 0,
    instruments: Sequence[str | Path | ItemSpec] = ("phq9", "gad7"),
    n_schools: int | None = None,
    careless_share: float = 0.02,
    missing_share: float = 0.01,
    critical_share: float = 0.04,
    trait_correlation: float = 0.8,
) -> pl.DataFrame:
    """A seeded synthetic city: one row per student, passthrough columns and item answers.

    Parameters
    ----------
    n_students
        Number of students (rows).
    seed
        Seed of the random generator: the same arguments give the same frame.
    instruments
        Bundled instrument ids, paths to instrument files, or :class:`ItemSpec` values.
    n_schools
        Number of schools; default one per 1,000 students (at least 1).
    careless_share
        Share of careless responders (half straight-liners, half random).
    missing_share
        Probability that an answer is blank, and share of students who break off.
    critical_share
        Share of regular responders who endorse a critical item (PHQ-9 item 9).
    trait_correlation
        Correlation of the depression and anxiety traits.

    Returns
    -------
    polars.DataFrame
        ``student_id``, ``school_id``, ``class_id``, ``grade``, ``sex`` (String) and the
        item columns ``{instrument}_{item}`` (Int8, null = blank). See the module docstring.
    """
    if n_students < 1:
        raise ValueError("n_students must be at least 1")
    for name, share in [
        ("careless_share", careless_share),
        ("missing_share", missing_share),
        ("critical_share", critical_share),
    ]:
        if not 0.0 <= share <= 1.0 or (name == "critical_share" and not 0 < share < 1):
            raise ValueError(f"{name} must lie in [0, 1] (critical_share in (0, 1))")
    specs = [_resolve(instrument) for instrument in instruments]
    rng = np.random.default_rng(seed)
    n = n_students
    n_schools = n_schools or max(1, round(n / 1000))
    people = _layout(n, n_schools, rng)

    traits = rng.standard_normal((n, 2))
    traits[:, 1] = (
        trait_correlation * traits[:, 0] + np.sqrt(1 - trait_correlation**2) * traits[:, 1]
    )
    school_effect = rng.normal(0.0, 0.2, n_schools)
    shift = (
        0.25 * (people["sex"] == "F").to_numpy()
        + 0.04 * (people["_grade"].to_numpy() - 4)
        + school_effect[people["_school"].to_numpy()]
    )
    traits += (shift - shift.mean())[:, None]

    careless = rng.random(n) < careless_share
    straight = careless & (rng.random(n) < 0.5)
    random_answers = careless & ~straight
    blocks = []
    for spec in specs:
        answers = simulate_items(
            traits[:, _TRAIT_INDEX[spec.trait]], spec, rng, critical_share=critical_share
        )
        low = np.asarray(spec.low)
        high = np.asarray(spec.high)
        span = high - low + 1
        rows = np.flatnonzero(random_answers)
        answers[rows] = (low + np.floor(rng.random((rows.size, low.size)) * span)).astype(np.int8)
        rows = np.flatnonzero(straight)
        value = rng.random(rows.size)[:, None]
        answers[rows] = (low + np.floor(value * span)).astype(np.int8)
        blocks.append(answers)
    matrix = np.concatenate(blocks, axis=1) if blocks else np.empty((n, 0), np.int8)
    columns = [column for spec in specs for column in spec.columns]

    if missing_share > 0 and matrix.shape[1]:
        matrix[rng.random(matrix.shape, dtype=np.float32) < missing_share] = -1
        quitters = np.flatnonzero(rng.random(n) < missing_share)
        stop = rng.integers(1, matrix.shape[1], size=quitters.size, endpoint=True)
        after = np.arange(matrix.shape[1])[None, :] >= stop[:, None]
        block = matrix[quitters]
        block[after] = -1
        matrix[quitters] = block

    items = pl.DataFrame(
        [pl.Series(column, matrix[:, j]) for j, column in enumerate(columns)]
    ).with_columns(pl.when(pl.all() >= 0).then(pl.all()).name.keep())
    return pl.concat([people.drop("_school", "_grade"), items], how="horizontal")


def write_city(frame: pl.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write a generated city atomically as CSV (UTF-8) or Parquet, by the extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        write_csv_atomic(frame, path)
    elif suffix in (".parquet", ".pq"):
        write_parquet_atomic(frame, path)
    else:
        raise ValueError(f"write_city writes .csv or .parquet files, not {suffix!r}")
    return path
