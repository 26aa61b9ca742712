"""Small-cell suppression of aggregate tables (groups × tiers), for reports and dashboards.

A count of 1 to ``min_cell - 1`` students is hidden (primary suppression); a group of fewer
than ``min_cell`` students is hidden whole, its total included. Row totals (students per
group) and column totals (students per tier) are published, so more is hidden until no
hidden small count can be worked out from what is published (secondary suppression).

What a reader knows, and what the rules guard against:

- the shown counts and totals, and that zero counts are always shown: a hidden count of a
  group whose total is published is at least 1 (only a group hidden whole hides zeros);
- the sums: a line (a group's counts, or a tier's counts over the groups) adds up to its
  published total.

A hidden count is *pinned* when these leave it one possible value: alone in its line (plain
subtraction), or beside other hidden counts that add up to no more than their least values
(1 each: 1 red and 1 orange beside a shown 40 green of 42 students are both 1). The rule,
as the protection intervals of statistical disclosure control (tau-ARGUS) ask: **every
hidden small count has at least two possible values** given the published figures. In a
line, the hidden counts must add up to more than their number; in a table, each hidden
small count must lie on a cycle of hidden counts along which it can move by one without
taking any count below its least value (see :func:`_protect`). Where it does not, the
smallest shown count that gives it room is hidden too; where none can, its group is
hidden whole. A column whose total is itself hidden (in the overall line) keeps at least
one hidden count, or adding up the column would give the total away. A line's own total
(the students of a report) is published only where :func:`total_shown` says it pins no
hidden count.

Every place that publishes a table of the same counts (the batch report, the service's
reports, exports and dashboard) calls these functions on the same counts in the same order,
so they all hide the same cells: two publications of one table never show between them
what each hides. A table and the tables of its parts (the district by grade and each
school by grade) are suppressed together by :func:`suppress_nested`, so that the district
cells, the sums of the schools' cells, give no school's hidden count away.
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
    >>> suppress_line([1, 1, 0, 40, 0], 10)  # 1 + 1 of 2 would pin both: hide the 40 too
    [True, True, False, True, False]
    """
    hidden = [0 < c < min_cell for c in counts]
    while _line_pinned([(c, 1) for c, h in zip(counts, hidden, strict=True) if h and c > 0]):
        if not _hide_smallest(counts, hidden):
            break
    return hidden


def total_shown(counts: Sequence[int], hidden: Sequence[bool], min_cell: int) -> bool:
    """Whether the total of a line may be published beside its counts.

    It may when it is at least ``min_cell`` and leaves each hidden count (``hidden``, from
    :func:`suppress_line`) two possible values. Only a line whose every non-zero count is
    1, and hidden, fails the second: each is then at least 1 and together they are the
    total. That takes ``min_cell`` or more categories of one student each, so it happens
    only where ``min_cell`` is below the number of categories.

    Examples
    --------
    >>> total_shown([1, 1, 0, 40, 0], [True, True, False, True, False], 10)
    True
    >>> total_shown([1, 1, 0], [True, True, False], 2)  # 1 + 1 of 2: each is 1
    False
    """
    hidden_counts = [(c, 1) for c, h in zip(counts, hidden, strict=True) if h and c > 0]
    return sum(counts) >= min_cell and not _line_pinned(hidden_counts)


def _line_pinned(hidden: Sequence[tuple[int, int]]) -> bool:
    """Whether the hidden counts of a line with a published total have one value each.

    Parameters
    ----------
    hidden
        ``(count, least)`` of each hidden count: its value and the least value a reader
        knows it has (1 where zeros are shown, else 0).

    Their sum is known (the total less the shown counts): one hidden count is that sum, and
    several are each pinned to their least value when the sum is no more than those add up
    to. Otherwise each can be one more, another one less.
    """
    return len(hidden) == 1 or (
        len(hidden) > 1 and sum(c for c, _ in hidden) == sum(low for _, low in hidden)
    )


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
    *,
    protect: Sequence[Sequence[bool]] | None = None,
    hide_groups: Sequence[bool] | None = None,
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
    protect
        Counts to hide and guard like small ones, whatever their value (a district cell
        that would give a school's hidden count away); default: none.
    hide_groups
        Groups to hide whole, whatever their size; default: none.

    Examples
    --------
    >>> table = suppress_table(["A", "B"], ["no", "yes"], [[30, 4], [3, 2]], 10)
    >>> table.counts, table.totals
    ([[None, None], [None, None]], [34, None])
    """
    matrix = [list(row) for row in counts]
    hidden_totals = list(hidden_totals or [False] * len(categories))
    forced = [list(row) for row in protect] if protect else [[False] * len(r) for r in matrix]
    whole = [0 < sum(row) < min_cell for row in matrix]  # rows hidden with their total
    whole = [w or bool(hide_groups and hide_groups[i]) for i, w in enumerate(whole)]
    targets = [
        [f or 0 < c < min_cell for c, f in zip(row, frow, strict=True)]
        for row, frow in zip(matrix, forced, strict=True)
    ]
    hidden = [[whole[i] or t for t in row] for i, row in enumerate(targets)]
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
    _protect(matrix, hidden, whole, hidden_totals, targets, min_cell)
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
    targets: list[list[bool]],
    min_cell: int,
) -> None:
    """Hide more until no hidden target count (small or protected) is pinned.

    The line rules above look at one line at a time; a count can still follow from several
    lines together, and from the least values of the hidden counts. The published figures
    of a table are a flow network (see :func:`_network`): a hidden count has another
    possible value exactly when one unit can be pushed around a cycle through it without
    taking any hidden count below its least value. Hiding more only adds cycles and room,
    so a target found free stays free. While a target is pinned, the smallest
    shown count that opens such a cycle is hidden too; where none can, its group is hidden
    whole, and where that is done already, the whole table.
    """
    rows, cols = len(matrix), len(matrix[0]) if matrix else 0
    free: set[tuple[int, int]] = set()  # hiding more only adds room: free counts stay free
    while True:
        edges, index = _network(matrix, hidden, whole, hidden_totals, min_cell)
        arcs, _ = _residual(edges)
        stuck = None
        for cell, k in index.items():
            if targets[cell[0]][cell[1]] and cell not in free:
                if _fixed(edges, arcs, k):
                    stuck = cell
                    break
                free.add(cell)
        if stuck is None:
            return
        moves = _moves(edges, index[stuck])
        opening = [
            (matrix[a][b], a, b)
            for a in range(rows)
            for b in range(cols)
            if not hidden[a][b] and matrix[a][b] > 0 and _opens(moves, a, b, matrix[a][b])
        ]
        i = stuck[0]
        if opening:
            _, a, b = min(opening)
            hidden[a][b] = True
        elif not whole[i]:
            whole[i], hidden[i] = True, [True] * cols
        else:  # nothing left to hide on this table's own terms: hide it all
            for a in range(rows):
                whole[a], hidden[a] = True, [True] * cols
            return


_Edge = tuple[object, object, int]
"""A hidden figure as an edge of the network: (tail node, head node, room), where room is
how far it lies above the least value a reader knows it has."""


def _network(
    matrix: list[list[int]],
    hidden: list[list[bool]],
    whole: list[bool],
    hidden_totals: list[bool],
    min_cell: int,
) -> tuple[list[_Edge], dict[tuple[int, int], int]]:
    """The hidden figures of a table as the edges of a flow network; and the edge of each
    hidden count.

    Nodes are the published lines: each group with a published total (``("r", i)``), the
    groups hidden whole together (``"R*"``: the grand total less the published group totals
    gives their sum), each category (``("c", j)``) and the categories whose totals are
    hidden together (``"C*"``). A hidden count flows from its group to its category (least
    value 1, or 0 in a group hidden whole, whose zeros are hidden); a hidden category total
    from its category to ``"C*"`` (least 1: the overall line shows its zeros); an unknown
    grand total from ``"C*"`` back to ``"R*"``. Every node balances, so the hidden figures
    that agree with what is published differ from the true ones by a circulation.
    """
    edges: list[_Edge] = []
    index: dict[tuple[int, int], int] = {}
    for i, row in enumerate(matrix):
        tail = "R*" if whole[i] else ("r", i)
        for j, count in enumerate(row):
            if hidden[i][j]:
                index[(i, j)] = len(edges)
                edges.append((tail, ("c", j), count - (0 if whole[i] else min(count, 1))))
    for j, flag in enumerate(hidden_totals):
        if flag:
            total = sum(row[j] for row in matrix)
            edges.append((("c", j), "C*", total - min(total, 1)))
    grand = sum(map(sum, matrix))
    if grand < min_cell and any(hidden_totals) and any(whole):
        edges.append(("C*", "R*", grand))
    return edges, index


def _residual(edges: list[_Edge]) -> tuple[dict, dict]:
    """The moves of one unit along each edge: forward always, backward where the edge has
    room; as successor and predecessor lists of ``(node, edge)``."""
    forward: dict = {}
    backward: dict = {}
    for k, (u, v, room) in enumerate(edges):
        for a, b in ((u, v), (v, u)) if room > 0 else ((u, v),):
            forward.setdefault(a, []).append((b, k))
            backward.setdefault(b, []).append((a, k))
    return forward, backward


def _reach(arcs: dict, start: object, skip: int, goal: object = None) -> set:
    """The nodes reachable from ``start`` along ``arcs`` not on edge ``skip`` (or some of
    them, ``goal`` among them, once it is reached)."""
    seen, todo = {start}, [start]
    while todo and goal not in seen:
        for other, k in arcs.get(todo.pop(), ()):
            if k != skip and other not in seen:
                seen.add(other)
                todo.append(other)
    return seen


def _ways(edges: list[_Edge], k: int) -> list[tuple[object, object]]:
    """Where a cycle moving edge ``k`` by one unit leaves and comes back: up, and down
    where it has room."""
    u, v, room = edges[k]
    return [(v, u), (u, v)] if room > 0 else [(v, u)]


def _fixed(edges: list[_Edge], arcs: dict, k: int) -> bool:
    """Whether the hidden figure of edge ``k`` has one possible value (no cycle moves it)."""
    return not any(b in _reach(arcs, a, k, b) for a, b in _ways(edges, k))


def _moves(edges: list[_Edge], k: int) -> list[tuple[set, set]]:
    """For each way edge ``k`` could move: the nodes reachable from where its cycle must
    leave, and those that reach where it must come back."""
    forward, backward = _residual(edges)
    return [(_reach(forward, a, k), _reach(backward, b, k)) for a, b in _ways(edges, k)]


def _opens(moves: list[tuple[set, set]], a: int, b: int, count: int) -> bool:
    """Whether hiding the shown count ``count`` of group ``a``, category ``b`` would close
    one of ``moves`` into a cycle."""
    row, col = ("r", a), ("c", b)
    return any(
        (row in reached and col in back) or (count > 1 and col in reached and row in back)
        for reached, back in moves
    )


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


def suppress_nested(
    groups: Sequence[str],
    categories: Sequence[str],
    parts: Sequence[Sequence[Sequence[int]]],
    min_cell: int,
    hidden_totals: Sequence[bool] | None = None,
    part_hidden_totals: Sequence[Sequence[bool]] | None = None,
) -> tuple[SuppressedTable, list[SuppressedTable]]:
    """Suppress a table and the tables of its parts together (the district by grade and
    each school by grade), for a reader who sees them all.

    Each table is suppressed by :func:`suppress_table`; then each of the whole's figures
    (a count, or a group's total) is the sum of the parts' figures beside it, a line with a
    published total. Where the parts' figures it hides are pinned by it (see
    :func:`_line_pinned`), the smallest shown figure of another part is hidden too, or
    the whole's where no part has one; where the whole hides a figure that the parts all
    show (their sum), the smallest of those is hidden. Repeated until neither happens.

    Parameters
    ----------
    groups, categories
        Row and column labels, the same for the whole and every part.
    parts
        One table of counts per part; the whole's counts are their sums.
    min_cell
        Smallest count that may be shown.
    hidden_totals, part_hidden_totals
        Per category, whether its total is hidden, for the whole and for each part.

    Returns
    -------
    tuple
        The whole's suppressed table and each part's.
    """
    rows, cols = len(groups), len(categories)
    whole = [[sum(p[i][j] for p in parts) for j in range(cols)] for i in range(rows)]
    part_hidden_totals = part_hidden_totals or [None] * len(parts)
    forced = [_Forced.empty(rows, cols) for _ in range(len(parts) + 1)]
    while True:
        tables = [
            suppress_table(
                groups, categories, m, min_cell, h, protect=f.cells, hide_groups=f.groups
            )
            for m, h, f in zip(
                [whole, *parts], [hidden_totals, *part_hidden_totals], forced, strict=True
            )
        ]
        figures = [_Figures(m, t) for m, t in zip([whole, *parts], tables, strict=True)]
        lines = [(i, j) for i in range(rows) for j in [*range(cols), None]]
        if not [line for line in lines if _link(figures, forced, *line)]:
            return tables[0], tables[1:]


@dataclass(frozen=True)
class _Forced:
    """Counts to hide and guard (``cells``) and groups to hide whole, of one table."""

    cells: list[list[bool]]
    groups: list[bool]

    @classmethod
    def empty(cls, rows: int, cols: int) -> _Forced:
        return cls([[False] * cols for _ in range(rows)], [False] * rows)

    def force(self, i: int, j: int | None) -> None:
        """Force count ``(i, j)``, or group ``i`` where ``j`` is None."""
        if j is None:
            self.groups[i] = True
        else:
            self.cells[i][j] = True


@dataclass(frozen=True)
class _Figures:
    """The true and published figures of one table: count ``(i, j)``, or the total of
    group ``i`` where ``j`` is None."""

    matrix: Sequence[Sequence[int]]
    table: SuppressedTable

    def value(self, i: int, j: int | None) -> int:
        return sum(self.matrix[i]) if j is None else self.matrix[i][j]

    def hidden(self, i: int, j: int | None) -> bool:
        shown = self.table.totals[i] if j is None else self.table.counts[i][j]
        return shown is None

    def least(self, i: int, j: int | None) -> int:
        """The least value a reader knows a hidden figure has (zeros are shown, except in
        a group hidden whole)."""
        hides_zeros = j is not None and self.table.totals[i] is None
        return 0 if hides_zeros else min(self.value(i, j), 1)


def _link(figures: list[_Figures], forced: list[_Forced], i: int, j: int | None) -> bool:
    """Force one more figure where the whole's figure ``(i, j)`` and its parts' give a
    hidden one away (``figures[0]`` is the whole's); True if it did."""
    whole, parts = figures[0], figures[1:]
    hidden = [(p.value(i, j), p.least(i, j)) for p in parts if p.hidden(i, j)]
    if (whole.hidden(i, j) and hidden) or whole.value(i, j) == 0:
        return False  # a zero is shown, and says its parts are all zero
    if not whole.hidden(i, j) and not _line_pinned(hidden):
        return False
    shown = [(p.value(i, j), k) for k, p in enumerate(parts) if not p.hidden(i, j)]
    shown = [(v, k) for v, k in shown if v > 0]
    if shown:
        forced[min(shown)[1] + 1].force(i, j)
    elif not whole.hidden(i, j):
        forced[0].force(i, j)
    else:
        return False
    return True


__all__ = ["SuppressedTable", "suppress_line", "suppress_nested", "suppress_table"]
