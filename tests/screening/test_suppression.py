"""Small-cell suppression: primary, secondary, small groups; checked on random tables."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from screening.suppression import suppress_line, suppress_table


def test_line_primary_and_secondary():
    assert suppress_line([40, 3, 0, 12], 10) == [False, True, False, True]
    assert suppress_line([40, 30, 0, 12], 10) == [False] * 4
    assert suppress_line([40, 3, 4, 12], 10) == [False, True, True, False]
    assert suppress_line([0, 3, 0], 10) == [False, True, False]  # nothing else to hide


def test_small_group_is_hidden_whole_with_its_total():
    table = suppress_table(
        ["A", "B", "C"], ["x", "y", "z"], [[50, 20, 30], [40, 30, 25], [6, 0, 0]], 10
    )
    assert table.totals == [100, 95, None]
    assert table.counts[2] == [None, None, None]
    # column x would give C's 6 away (published x total minus A and B), so B's 40 (the
    # smallest) is hidden; then row B hides its 25, column z A's 30, row A its 20 and
    # column y B's 30: no line is left with one hidden count
    assert table.counts[0] == [50, None, None]
    assert table.counts[1] == [None, None, None]


def test_two_column_table_cascades_to_everything():
    # with row and column totals published, one hidden count in a 2 x 2 block is
    # recoverable unless the whole block is hidden
    table = suppress_table(["A", "B", "C"], ["x", "y"], [[50, 20], [40, 30], [6, 0]], 10)
    assert table.counts == [[None, None], [None, None], [None, None]]
    assert table.totals == [70, 70, None]


def test_min_cell_one_hides_nothing():
    table = suppress_table(["A", "B"], ["x", "y"], [[1, 2], [3, 0]], 1)
    assert table.counts == [[1, 2], [3, 0]]
    assert table.share(0, 1) == 2 / 3


def _nonzero_hidden(values, flags):
    return sum(1 for v, h in zip(values, flags, strict=True) if h and v > 0)


tables = st.integers(1, 5).flatmap(
    lambda cols: st.lists(
        st.lists(st.integers(0, 40), min_size=cols, max_size=cols), min_size=1, max_size=6
    )
)


@settings(max_examples=300, deadline=None)
@given(tables, st.integers(1, 12))
def test_no_line_gives_a_hidden_count_away(matrix, min_cell):
    cols = len(matrix[0])
    table = suppress_table(
        [str(i) for i in range(len(matrix))], [str(j) for j in range(cols)], matrix, min_cell
    )
    hidden = [[c is None for c in row] for row in table.counts]
    for i, row in enumerate(matrix):
        total = sum(row)
        if 0 < total < min_cell:  # a small group: everything hidden, the total too
            assert table.totals[i] is None and all(hidden[i])
            continue
        assert table.totals[i] == total
        for value, shown in zip(row, table.counts[i], strict=True):
            if shown is not None:  # what is shown is true and never a small count
                assert shown == value and (value == 0 or value >= min_cell)
        # a published row with hidden counts hides at least two of them (or nothing is left)
        nonzero_visible = [v for v, h in zip(row, hidden[i], strict=True) if v > 0 and not h]
        assert _nonzero_hidden(row, hidden[i]) != 1 or not nonzero_visible
    for j in range(cols):
        column = [row[j] for row in matrix]
        flags = [h[j] for h in hidden]
        visible = [v for v, h in zip(column, flags, strict=True) if v > 0 and not h]
        assert _nonzero_hidden(column, flags) != 1 or not visible
