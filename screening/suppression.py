"""Small-cell suppression of aggregate tables (groups × tiers), for reports and dashboards.

A count of 1 to ``min_cell - 1`` students is hidden (primary suppression); a group of fewer
than ``min_cell`` students is hidden whole, its total included. Row totals (students per
group) and column totals (students per tier) are published, so a line with exactly one
hidden non-zero count would give it away by subtraction: the smallest other non-zero count
of that line is hidden too (secondary suppression), repeated until no line has exactly one.
A group whose only other counts are zeros is hidden whole instead. A column whose total is
itself hidden (in the overall line) keeps at least one hidden count, or adding up the
column would give the total away. Zero counts are shown.

Every place that publishes a table of the same counts (the batch report, the service's
reports, exports and dashboard) calls these functions on the same counts in the same order,
so they all hide the same cells: two publications of one table never show between them
what each hides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


def suppress_line(counts: Sequence[int], min_cell: int) -> list[bool]:
    """Which counts of one line with a published total to hide.

    Examples
    --------
    >>> suppress_line([40, 3, 0, 12], 10)
    [False, True, False, True]
    """
    hidden = [0 < c < min_cell for c in counts]
    _secondary(counts, hidden)
    return hidden


def _secondary(counts: Sequence[int], hidden: list[bool]) -> bool:
    """Hide one more count where exactly one non-zero count is hidden; True if it did."""
    if sum(1 for c, h in zip(counts, hidden, strict=True) if h and c > 0) != 1:
        return False
    return _hide_smallest(counts, hidden)


def _hide_smallest(counts: Sequence[int], hidden: list[bool]) -> bool:
    """Hide the smallest shown non-zero count of a line; True if there was one."""
    candidates = [(c, i) for i, c in enumerate(counts) if c > 0 and not hidden[i]]
    if not candidates:
        return False
    hidden[min(candidates)[1]] = True
    return True


@dataclass(frozen=True)
class SuppressedTable:
    """A groups × categories count table after suppression.

    Attributes
    ----------
    groups, categories
        Row and column labels.
    counts
        ``counts[i][j]``, or ``None`` where hidden.
    totals
        Students per group, or ``None`` for a group too small to publish.
    """

    groups: list[str]
    categories: list[str]
    counts: list[list[int | None]]
    totals: list[int | None]

    def share(self, i: int, j: int) -> float | None:
        """The share of group ``i`` in category ``j``, or ``None`` where hidden."""
        count, total = self.counts[i][j], self.totals[i]
        return None if count is None or not total else count / total


def suppress_table(
    groups: Sequence[str],
    categories: Sequence[str],
    counts: Sequence[Sequence[int]],
    min_cell: int,
    hidden_totals: Sequence[bool] | None = None,
) -> SuppressedTable:
    """Suppress a groups × categories table whose row and column totals are published.

    Parameters
    ----------
    groups, categories
        Row and column labels.
    counts
        One row of counts per group, one count per category.
    min_cell
        Smallest count that may be shown (``SCREENING_MIN_CELL``, default 10).
    hidden_totals
        Per category, whether its column total is hidden where it is published (the overall
        line, suppressed by :func:`suppress_line`); default: all published.

    Examples
    --------
    >>> table = suppress_table(["A", "B"], ["no", "yes"], [[30, 4], [3, 2]], 10)
    >>> table.counts, table.totals
    ([[None, None], [None, None]], [34, None])
    """
    matrix = [list(row) for row in counts]
    hidden_totals = list(hidden_totals or [False] * len(categories))
    whole = [0 < sum(row) < min_cell for row in matrix]  # rows hidden with their total
    hidden = [[whole[i] or 0 < c < min_cell for c in row] for i, row in enumerate(matrix)]
    # The only non-zero count of a column with a published total is that total: hiding it
    # protects nothing, so rows count it as shown (as if zero) and never pick it.
    exposed = [
        not hidden_totals[j] and sum(row[j] > 0 for row in matrix) == 1
        for j in range(len(categories))
    ]
    changed = True
    while changed:
        changed = False
        for i, row in enumerate(matrix):
            if whole[i]:
                continue
            useful = [0 if exposed[j] else c for j, c in enumerate(row)]
            if _secondary(useful, hidden[i]):
                changed = True
            elif _alone(useful, hidden[i]):  # nothing else could hide it: hide the group
                whole[i], hidden[i], changed = True, [True] * len(row), True
        for j in range(len(categories)):
            column = [row[j] for row in matrix]
            flags = [h[j] for h in hidden]
            if hidden_totals[j]:
                done = _keep_one_hidden(column, flags)
            else:
                done = _secondary(column, flags)
            if done:
                for i, flag in enumerate(flags):
                    hidden[i][j] = flag
                changed = True
    _protect(matrix, hidden, whole, hidden_totals, min_cell)
    return SuppressedTable(
        groups=list(groups),
        categories=list(categories),
        counts=[
            [None if h else c for c, h in zip(row, hrow, strict=True)]
            for row, hrow in zip(matrix, hidden, strict=True)
        ],
        totals=[None if w else sum(row) for row, w in zip(matrix, whole, strict=True)],
    )


def _protect(
    matrix: list[list[int]],
    hidden: list[list[bool]],
    whole: list[bool],
    hidden_totals: list[bool],
    min_cell: int,
) -> None:
    """Hide more until no small count can be worked out from what is published.

    The line rules above look at one line at a time; a count can still follow from several
    lines together. Seen as a graph whose nodes are the published lines (rows with a total,
    columns with a total; the rows, and the columns, whose totals are hidden are one node
    each, since the grand total gives their sum) and whose edges are the hidden counts, a
    hidden count can be worked out exactly when its edge is a bridge (on no cycle). While a
    small count is a bridge, the smallest shown count that closes a cycle around it is
    hidden too; where none can, its group is hidden whole.
    """
    rows, cols = len(matrix), len(matrix[0]) if matrix else 0
    grand_hidden = 0 < sum(map(sum, matrix)) < min_cell
    while True:
        row_node = ["R*" if whole[i] else ("r", i) for i in range(rows)]
        col_node = ["C*" if hidden_totals[j] else ("c", j) for j in range(cols)]
        edges = [
            (row_node[i], col_node[j], (i, j))
            for i in range(rows)
            for j in range(cols)
            if hidden[i][j]
        ]
        if grand_hidden:
            edges.append(("R*", "C*", None))
        exposed = [
            e
            for e in _bridges(edges)
            if e[2] is not None and 0 < matrix[e[2][0]][e[2][1]] < min_cell
        ]
        if not exposed:
            return
        row, _, (i, _j) = exposed[0]
        side = _component(edges, row, without=exposed[0])
        closing = [
            (matrix[a][b], a, b)
            for a in range(rows)
            for b in range(cols)
            if not hidden[a][b]
            and matrix[a][b] > 0
            and (row_node[a] in side) != (col_node[b] in side)
        ]
        if closing:
            _, a, b = min(closing)
            hidden[a][b] = True
        elif not whole[i]:
            whole[i], hidden[i] = True, [True] * cols
        else:  # nothing left to hide on this table's own terms: hide it all
            for a in range(rows):
                whole[a], hidden[a] = True, [True] * cols
            return


def _bridges(edges: list[tuple]) -> list[tuple]:
    """The edges of a multigraph that lie on no cycle (iterative Tarjan)."""
    adjacent: dict = {}
    for k, (u, v, _) in enumerate(edges):
        adjacent.setdefault(u, []).append((v, k))
        adjacent.setdefault(v, []).append((u, k))
    order: dict = {}
    low: dict = {}
    found = []
    for root in adjacent:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack = [(root, -1, iter(adjacent[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            step = next(neighbours, None)
            if step is None:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        found.append(edges[via])
                continue
            other, k = step
            if k == via:
                continue
            if other in order:
                low[node] = min(low[node], order[other])
            else:
                order[other] = low[other] = len(order)
                stack.append((other, k, iter(adjacent[other])))
    return found


def _component(edges: list[tuple], start: object, without: tuple) -> set:
    """The nodes reachable from ``start`` over ``edges`` other than ``without``."""
    adjacent: dict = {}
    for edge in edges:
        if edge is not without:
            u, v, _ = edge
            adjacent.setdefault(u, []).append(v)
            adjacent.setdefault(v, []).append(u)
    seen, todo = {start}, [start]
    while todo:
        for other in adjacent.get(todo.pop(), ()):
            if other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def _alone(counts: Sequence[int], hidden: list[bool]) -> bool:
    """True when the line's only non-zero count is hidden (it equals the line's total)."""
    nonzero = [i for i, c in enumerate(counts) if c > 0]
    return len(nonzero) == 1 and hidden[nonzero[0]]


def _keep_one_hidden(counts: Sequence[int], hidden: list[bool]) -> bool:
    """Hide the smallest non-zero count of a line whose total is hidden, when none is;
    True if it did."""
    if any(h and c > 0 for c, h in zip(counts, hidden, strict=True)):
        return False
    return _hide_smallest(counts, hidden)


__all__ = ["SuppressedTable", "suppress_line", "suppress_table"]
