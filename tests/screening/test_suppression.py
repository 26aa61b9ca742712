"""Small-cell suppression: primary, secondary, small groups; checked on random tables."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from screening.suppression import SuppressedTable, suppress_line, suppress_table, total_shown


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


def _pinned(matrix, table, hidden_totals, min_cell) -> list[tuple[int, int]]:
    """The hidden small counts that the published figures pin to one value, knowing
    what anyone reading the module knows: zero counts are shown, so a hidden count of a
    group whose total is published is at least 1, and so is a hidden tier total of a line
    whose total is published. Bounds by linear programming: a count is pinned when its
    least and greatest possible values are equal."""
    from scipy.optimize import linprog

    rows, cols = len(matrix), len(matrix[0])
    unknown = [(i, j) for i in range(rows) for j in range(cols) if table.counts[i][j] is None]
    position = {cell: k for k, cell in enumerate(unknown)}

    def equation(cells):
        vector, known = np.zeros(len(unknown)), 0
        for i, j in cells:
            if (i, j) in position:
                vector[position[(i, j)]] = 1
            else:
                known += matrix[i][j]
        return vector, known

    grand = sum(map(sum, matrix))
    a_eq, b_eq, a_ub, b_ub = [], [], [], []
    for i in range(rows):
        if table.totals[i] is not None:
            vector, known = equation([(i, j) for j in range(cols)])
            a_eq.append(vector)
            b_eq.append(table.totals[i] - known)
            for j in range(cols):
                if (i, j) in position:
                    a_ub.append(-np.eye(len(unknown))[position[(i, j)]])
                    b_ub.append(-1)
    for j in range(cols):
        vector, known = equation([(i, j) for i in range(rows)])
        column_total = sum(row[j] for row in matrix)
        if not hidden_totals[j]:
            a_eq.append(vector)
            b_eq.append(column_total - known)
        elif grand >= min_cell:  # a hidden count of the published overall line: >= 1
            a_ub.append(-vector)
            b_ub.append(known - 1)
    line = [sum(row[j] for row in matrix) for j in range(cols)]
    if total_shown(line, hidden_totals, min_cell):  # as the reports publish it
        vector, known = equation([(i, j) for i in range(rows) for j in range(cols)])
        a_eq.append(vector)
        b_eq.append(grand - known)
    found = []
    for (i, j), k in position.items():
        if not 0 < matrix[i][j] < min_cell:
            continue
        unit = np.eye(len(unknown))[k]
        bounds = {
            "A_ub": np.array(a_ub) if a_ub else None,
            "b_ub": b_ub or None,
            "A_eq": np.array(a_eq) if a_eq else None,
            "b_eq": b_eq or None,
            "method": "highs",
        }
        low, high = linprog(unit, **bounds), linprog(-unit, **bounds)
        if low.status == 0 and high.status == 0 and abs(low.fun + high.fun) < 1e-7:
            found.append((i, j))
    return found


def test_shown_zeros_do_not_pin_the_hidden_counts_of_a_line():
    # 1 red and 1 orange among 42: both hidden, yellow and re-test shown as 0, green 40.
    # The two hidden counts add up to 42 - 40 = 2, and a hidden count is never 0 (zeros
    # are shown), so each is exactly 1.
    counts = [1, 1, 0, 40, 0]
    hidden = suppress_line(counts, 10)
    left = sum(counts) - sum(c for c, h in zip(counts, hidden, strict=True) if not h)
    assert left > sum(hidden), f"{sum(hidden)} hidden counts add up to {left}: all are 1"


def test_shown_zeros_do_not_pin_the_hidden_counts_of_a_table():
    # Published: row totals 19, 47, 16; column x total 48 (y and z hidden by the overall
    # line [48, 3, 31]); the grand total 82. Row 0: a + b = 4; row 2: e + f = 16;
    # column x: a + e = 18; y and z together: 82 - 48 = 34 = b + c + 15 + d + f with
    # c + d = 17 (row 1), so b + f = 2; both are hidden in published rows, so >= 1:
    # b = f = 1, and a = 3.
    matrix = [[3, 1, 15], [30, 2, 15], [15, 0, 1]]
    line = [sum(row[j] for row in matrix) for j in range(3)]
    hidden_totals = suppress_line(line, 10)
    table = suppress_table(["0", "1", "2"], ["x", "y", "z"], matrix, 10, hidden_totals)
    assert _pinned(matrix, table, hidden_totals, 10) == []


@settings(max_examples=150, deadline=None)
@given(tables, st.integers(1, 12))
def test_no_small_count_is_pinned_by_shown_zeros(matrix, min_cell):
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
    assert _pinned(matrix, table, hidden_totals, min_cell) == []


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 40) | st.integers(0, 4), min_size=1, max_size=6))
def test_line_hides_counts_that_can_each_be_two_values(counts):
    hidden = suppress_line(counts, 10)
    values = [c for c, h in zip(counts, hidden, strict=True) if h]
    if len(values) > 1 and sum(counts) >= 10:  # a published total: each hidden count is
        # at least 1 (zeros are shown), and together they leave room
        assert sum(values) > len(values)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.lists(
            st.lists(st.integers(0, 30) | st.integers(0, 3), min_size=3, max_size=3),
            min_size=2,
            max_size=2,
        ),
        min_size=1,
        max_size=4,
    )
)
def test_nested_whole_gives_no_part_away(parts):
    """The whole's figures (sums over the parts) never leave a part's hidden figure with
    one value by subtraction."""
    from screening.suppression import suppress_nested

    total = [sum(p[i][j] for p in parts for i in range(2)) for j in range(3)]
    hidden_totals = suppress_line(total, 10)
    part_totals = [
        suppress_line([sum(p[i][j] for i in range(2)) for j in range(3)], 10) for p in parts
    ]
    whole, tables = suppress_nested(["a", "b"], list("xyz"), parts, 10, hidden_totals, part_totals)
    for i in range(2):
        for j in [0, 1, 2, None]:
            if (whole.totals[i] if j is None else whole.counts[i][j]) is None:
                continue
            hidden = [
                (sum(p[i]) if j is None else p[i][j], t.totals[i] is not None or j is None)
                for p, t in zip(parts, tables, strict=True)
                if (t.totals[i] if j is None else t.counts[i][j]) is None
            ]
            whole_value = sum(sum(p[i]) if j is None else p[i][j] for p in parts)
            if hidden and whole_value:
                lows = sum(min(v, 1) if known else 0 for v, known in hidden)
                assert len(hidden) > 1 and sum(v for v, _ in hidden) > lows, (i, j)


def test_a_total_that_would_pin_its_hidden_counts_is_not_shown():
    # found by hypothesis: [[1, 1]] with min_cell 2. Both counts are hidden; published,
    # the total 2 would make each exactly 1 (zeros are shown, so each is at least 1).
    assert not total_shown([1, 1], [True, True], 2)
    assert not total_shown([1, 1, 0], [True, True, False], 2)
    assert total_shown([1, 2, 0], [True, True, False], 2)  # 1 + 2 or 2 + 1
    assert total_shown([1, 1, 0, 40, 0], [True, True, False, True, False], 10)
    assert not total_shown([3, 4], [True, True], 10)  # under min_cell
    matrix = [[1, 1]]
    hidden_totals = suppress_line([1, 1], 2)
    table = suppress_table(["0"], ["a", "b"], matrix, 2, hidden_totals)
    assert _pinned(matrix, table, hidden_totals, 2) == []
