"""Small-cell suppression of aggregate tables (groups × tiers), for reports and dashboards.

A count of 1 to ``min_cell - 1`` students is hidden (primary suppression); a group of fewer
than ``min_cell`` students is hidden whole, its total included. Row totals (students per
group) and column totals (students per tier) are published, so a line with exactly one
hidden non-zero count would give it away by subtraction: the smallest other non-zero count
of that line is hidden too (secondary suppression), repeated until no line has exactly one.
Zero counts are shown. The same rule serves the service's aggregate reports
(``screening.api.services.reports.suppress_line``).
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

    Examples
    --------
    >>> table = suppress_table(["A", "B"], ["no", "yes"], [[30, 4], [3, 2]], 10)
    >>> table.counts, table.totals
    ([[None, None], [None, None]], [34, None])
    """
    matrix = [list(row) for row in counts]
    small = [0 < sum(row) < min_cell for row in matrix]
    hidden = [[small[i] or 0 < c < min_cell for c in row] for i, row in enumerate(matrix)]
    changed = True
    while changed:
        changed = False
        for i, row in enumerate(matrix):
            if not small[i]:
                changed |= _secondary(row, hidden[i])
        for j in range(len(categories)):
            column = [row[j] for row in matrix]
            flags = [h[j] for h in hidden]
            if _secondary(column, flags):
                for i, flag in enumerate(flags):
                    hidden[i][j] = flag
                changed = True
    return SuppressedTable(
        groups=list(groups),
        categories=list(categories),
        counts=[
            [None if h else c for c, h in zip(row, hrow, strict=True)]
            for row, hrow in zip(matrix, hidden, strict=True)
        ],
        totals=[None if s else sum(row) for row, s in zip(matrix, small, strict=True)],
    )


__all__ = ["SuppressedTable", "suppress_line", "suppress_table"]
