"""Output shared by the commands: the summary table of a batch run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from screening.batch import RunSummary

if TYPE_CHECKING:
    from rich.console import Console

TIER_ORDER = ("red", "orange", "yellow", "green", "none")


def print_summary(summary: RunSummary, console: Console | None = None) -> None:
    """Print counts by tier and status, and where the outputs are."""
    from rich.console import Console  # not imported by quiet runs (15 ms)
    from rich.table import Table

    console = console or Console(soft_wrap=True)
    table = Table(title=f"{summary.rows:,} students scored", show_lines=False)
    table.add_column("tier")
    table.add_column("students", justify="right")
    table.add_column("share", justify="right")
    for tier in TIER_ORDER:
        if tier in summary.by_tier:
            n = summary.by_tier[tier]
            table.add_row(
                "not determined (re-test)" if tier == "none" else tier,
                f"{n:,}",
                f"{n / max(summary.rows, 1):.1%}",
            )
    if summary.by_tier:
        console.print(table)
    status = ", ".join(f"{k} {v:,}" for k, v in summary.by_status.items())
    console.print(f"status: {status}")
    if summary.failures:
        console.print(f"invalid answers: {summary.failures:,} (see failures.csv)")
    console.print(f"results: {summary.results_path}")
    console.print(f"run record: {summary.run_path}")
