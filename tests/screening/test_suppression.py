"""Small-cell suppression: primary, secondary, small groups; checked on random tables."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.suppression import SuppressedTable, suppress_line, suppress_table


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


def _recoverable(matrix, table, hidden_totals, min_cell) -> list[tuple[int, int]]:
    """The hidden small counts that the published figures determine exactly.

    Published: the shown counts, the group totals shown, the column totals not hidden and
    the grand total when it is at least ``min_cell``. A hidden count is determined exactly
    when its unit vector lies in the row space of those equations over the hidden counts.
    """
    rows, cols = len(matrix), len(matrix[0])
    unknown = [(i, j) for i in range(rows) for j in range(cols) if table.counts[i][j] is None]
    if not unknown:
        return []
    position = {cell: k for k, cell in enumerate(unknown)}

    def equation(cells):
        vector = np.zeros(len(unknown))
        for cell in cells:
            if cell in position:
                vector[position[cell]] = 1
        return vector

    equations = [equation([(i, j) for j in range(cols)]) for i in range(rows) if table.totals[i]]
    equations += [
        equation([(i, j) for i in range(rows)]) for j in range(cols) if not hidden_totals[j]
    ]
    if sum(map(sum, matrix)) >= min_cell:
        equations.append(np.ones(len(unknown)))
    if not equations:
        return []
    system = np.array(equations)
    rank = np.linalg.matrix_rank(system)
    found = []
    for k, (i, j) in enumerate(unknown):
        if 0 < matrix[i][j] < min_cell:
            unit = np.zeros(len(unknown))
            unit[k] = 1
            if np.linalg.matrix_rank(np.vstack([system, unit])) == rank:
                found.append((i, j))
    return found


def test_recoverable_finds_what_line_rules_alone_miss():
    # a small count that follows from three lines together: row 3 minus columns 2 and 3
    # plus row 2 (each line alone has two hidden counts)
    matrix = [[0, 21, 0, 0, 0], [1, 4, 21, 0, 0], [0, 0, 20, 3, 34], [8, 0, 1, 26, 31]]
    shown = [
        [0, 21, 0, 0, 0],
        [None, None, 21, 0, 0],
        [0, 0, None, None, 34],
        [None, 0, None, None, 31],
    ]
    table = SuppressedTable(["a", "b", "c", "d"], list("vwxyz"), shown, [21, 26, 57, 66])
    hidden_totals = [True, True, False, False, False]
    assert _recoverable(matrix, table, hidden_totals, 10) == [(3, 0)]
    # suppress_table hides more until nothing small follows
    fixed = suppress_table(["a", "b", "c", "d"], list("vwxyz"), matrix, 10, hidden_totals)
    assert _recoverable(matrix, fixed, hidden_totals, 10) == []


tables = st.integers(1, 5).flatmap(
    lambda cols: st.lists(
        st.lists(st.integers(0, 40) | st.integers(0, 9), min_size=cols, max_size=cols),
        min_size=1,
        max_size=7,
    )
)


@settings(max_examples=400, deadline=None)
@given(tables, st.integers(1, 12))
def test_no_small_count_can_be_worked_out(matrix, min_cell):
    cols = len(matrix[0])
    line = [sum(row[j] for row in matrix) for j in range(cols)]
    hidden_totals = suppress_line(line, min_cell)
    table = suppress_table(
        [str(i) for i in range(len(matrix))],
        [str(j) for j in range(cols)],
        matrix,
        min_cell,
        hidden_totals,
    )
    for i, row in enumerate(matrix):
        if 0 < sum(row) < min_cell:  # a small group: everything hidden, the total too
            assert table.totals[i] is None and all(c is None for c in table.counts[i])
        assert table.totals[i] in (None, sum(row))
        for value, shown in zip(row, table.counts[i], strict=True):
            if shown is not None:  # what is shown is true and never a small count
                assert shown == value and (value == 0 or value >= min_cell)
    assert _recoverable(matrix, table, hidden_totals, min_cell) == []
