"""The service's clock, injectable so that tests can move time (``app.state.clock``), and
the schools' calendar: dates (follow-ups, referrals) are days in China Standard Time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

Clock = Callable[[], dt.datetime]

try:
    SCHOOL_TZ: dt.tzinfo = ZoneInfo("Asia/Shanghai")
except ZoneInfoNotFoundError:  # pragma: no cover - systems without a time-zone database
    SCHOOL_TZ = dt.timezone(dt.timedelta(hours=8), "CST")  # China has no daylight saving


def system_clock() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


def school_date(moment: dt.datetime) -> dt.date:
    """The date of ``moment`` on the schools' calendar (China Standard Time, UTC+8).

    Examples
    --------
    >>> school_date(dt.datetime(2026, 9, 1, 23, 30, tzinfo=dt.UTC))
    datetime.date(2026, 9, 2)
    """
    return moment.astimezone(SCHOOL_TZ).date()
