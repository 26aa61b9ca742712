"""The moment kernel against its plain-Python reference, on random data with missing values."""

from __future__ import annotations

import naive
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from screening.scoring._moments import accumulate, compute_moments, group_order


def _random(seed, n, p, dtype, missing_rate=0.15, groups=4):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 4, size=(n, p)).astype(np.int8)
    x[rng.random((n, p)) < missing_rate] = -1
    codes = rng.integers(-1, groups, size=n)  # -1: rows without a group are dropped
    if dtype == "float":
        xf = x.astype(np.float64)
        xf[x == -1] = np.nan
        return xf, codes
    return x, codes


def _kernel(x, codes, groups, flip, offset, listwise, low, levels, blocks, step=1):
    order, starts = group_order(codes, groups)
    missing = np.nan if x.dtype == np.float64 else -1.0
    args = (x, order, starts, flip, offset, missing, listwise, low, step, levels)
    return accumulate(*args, blocks)


@pytest.mark.parametrize("dtype", ["int8", "float"])
@pytest.mark.parametrize("listwise", [False, True])
@pytest.mark.parametrize("blocks", [1, 3, 8])
def test_kernel_equals_naive_reference(dtype, listwise, blocks):
    x, codes = _random(7, 120, 5, dtype)
    flip = np.array([False, True, False, False, True])
    offset = np.full(5, 3.0)
    got = _kernel(x, codes, 4, flip, offset, listwise, 0, 4, blocks)
    missing = None if dtype == "float" else -1
    want = naive.moments(x, codes, 4, flip, offset, missing, listwise, 0, 4)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-9)


@pytest.mark.parametrize("dtype", ["int8", "float"])
def test_a_histogram_of_the_range_ends_counts_every_step_th_answer(dtype):
    """Beyond MAX_HIST_LEVELS answers only the ends are counted: levels ``step`` apart."""
    x, codes = _random(11, 150, 4, dtype)
    flip = np.zeros(4, dtype=bool)
    offset = np.full(4, 3.0)
    got = _kernel(x, codes, 4, flip, offset, False, 0, 2, 3, step=3)
    missing = None if dtype == "float" else -1
    want = naive.moments(x, codes, 4, flip, offset, missing, False, 0, 2, step=3)
    np.testing.assert_array_equal(got[-1], want[-1])
    assert got[-1][..., 1].sum() == np.sum((x == 3) & (codes[:, None] >= 0))


def test_group_order_is_a_stable_counting_sort():
    codes = np.array([2, 0, -1, 2, 1, 0, 2])
    order, starts = group_order(codes, 3)
    assert order.tolist() == [1, 5, 4, 0, 3, 6]
    assert starts.tolist() == [0, 2, 3, 6]


def test_a_group_spanning_many_blocks_is_merged_once():
    # one group, 16 blocks: every block holds part of the same group
    x, _ = _random(3, 200, 4, "int8")
    codes = np.zeros(200, dtype=np.int64)
    one = compute_moments(
        x,
        flip=np.zeros(4, bool),
        offset=np.zeros(4),
        missing=-1,
        listwise=False,
        codes=codes,
        n_groups=1,
        n_blocks=1,
    )
    many = compute_moments(
        x,
        flip=np.zeros(4, bool),
        offset=np.zeros(4),
        missing=-1,
        listwise=False,
        codes=codes,
        n_groups=1,
        n_blocks=16,
    )
    assert np.array_equal(one.pair, many.pair)
    assert one.rows[0, 0] == 200


def test_empty_groups_have_zero_statistics():
    x, _ = _random(4, 30, 3, "int8")
    codes = np.full(30, 2)
    m = compute_moments(
        x,
        flip=np.zeros(3, bool),
        offset=np.zeros(3),
        missing=-1,
        listwise=False,
        codes=codes,
        n_groups=4,
        hist_range=(0, 3),
    )
    assert m.rows[[0, 1, 3]].sum() == 0
    assert m.rows[2, 0] == 30
    assert m.hist[2].sum() == m.answered[2].sum()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    x=hnp.arrays(
        np.int8, st.tuples(st.integers(1, 40), st.integers(2, 6)), elements=st.integers(-1, 4)
    ),
    cut=st.floats(0, 1),
    blocks=st.integers(1, 6),
    listwise=st.booleans(),
)
def test_merging_two_chunks_equals_one_pass(x, cut, blocks, listwise):
    n, p = x.shape
    k = int(cut * n)
    args = dict(
        flip=np.arange(p) % 2 == 1,
        offset=np.full(p, 4.0),
        missing=-1,
        listwise=listwise,
        hist_range=(0, 4),
        n_blocks=blocks,
    )
    whole = compute_moments(x, **args)
    merged = compute_moments(x[:k], **args).merge(compute_moments(x[k:], **args))
    # integer answers: every sum is exact (the row mean enters as the integer row sum by
    # number of answers), so merging is exact too, and so are the row-mean sums made of them
    for name in ("pair", "total", "rows", "sums", "answered", "hist"):
        assert np.array_equal(getattr(whole, name), getattr(merged, name)), name
    for a, b in zip(whole.row_mean_sums(), merged.row_mean_sums(), strict=True):
        assert np.array_equal(a, b)
    want = naive.moments(
        x, np.zeros(n, dtype=np.int64), 1, args["flip"], args["offset"], -1, listwise, 0, 5
    )
    for got, expected in zip(
        (whole.pair, whole.total, whole.rows, whole.sums), want[:4], strict=True
    ):
        assert np.array_equal(got, expected)


def test_serial_kernel_equals_parallel_kernel():
    x, codes = _random(9, 300, 6, "int8")
    args = dict(
        flip=np.zeros(6, bool),
        offset=np.zeros(6),
        missing=-1,
        listwise=False,
        codes=codes,
        n_groups=4,
        hist_range=(0, 3),
    )
    serial = compute_moments(x, **args)  # below SERIAL_ROWS: one thread
    parallel = compute_moments(x, n_blocks=5, **args)
    for a, b in zip(
        (serial.pair, serial.total, serial.rows, serial.sums, serial.hist),
        (parallel.pair, parallel.total, parallel.rows, parallel.sums, parallel.hist),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)  # integer answers: exact sums
