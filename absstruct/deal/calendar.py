"""Business days and payment schedules: the dates a deal attaches to its periods.

Weekends (Saturday, Sunday) and an optional holiday list are not business days.  A date
that falls on one is rolled by a convention:

``following``
    The next business day.
``modified_following``
    The next business day unless that is in the next month, then the previous one.
``preceding``
    The previous business day.
``none``
    Left as it is.

Period ``t`` of a deal (``t = 1 .. T``) collects the pool's cash from the end of
collection period ``t - 1`` (the cut-off date for ``t = 1``) to the end of collection period
``t`` and pays it on payment date ``t``.

Examples
--------
>>> import datetime as dt
>>> roll(dt.date(2026, 8, 15), "following")  # a Saturday
datetime.date(2026, 8, 17)
>>> roll(dt.date(2026, 10, 31), "modified_following")  # Saturday, month end
datetime.date(2026, 10, 30)
>>> add_months(dt.date(2026, 1, 31), 1)
datetime.date(2026, 2, 28)
>>> [d.isoformat() for d in payment_dates(dt.date(2026, 7, 26), 3, months=1, day=26)]
['2026-07-27', '2026-08-26', '2026-09-28']
"""

from __future__ import annotations

import calendar as _calendar
import datetime as dt
from collections.abc import Collection
from typing import Literal

Roll = Literal["following", "modified_following", "preceding", "none"]
ROLLS: tuple[str, ...] = ("following", "modified_following", "preceding", "none")
MONTHS_PER_PERIOD: dict[str, int] = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


def is_business_day(day: dt.date, holidays: Collection[dt.date] = ()) -> bool:
    """True when ``day`` is neither a Saturday, a Sunday nor a listed holiday.

    >>> import datetime as dt
    >>> is_business_day(dt.date(2026, 10, 1), {dt.date(2026, 10, 1)})
    False
    """
    return day.weekday() < 5 and day not in holidays


def roll(day: dt.date, convention: Roll, holidays: Collection[dt.date] = ()) -> dt.date:
    """Move ``day`` to a business day under ``convention`` (see the module notes)."""
    if convention == "none" or is_business_day(day, holidays):
        return day
    step = -1 if convention == "preceding" else 1
    moved = day
    while not is_business_day(moved, holidays):
        moved += dt.timedelta(days=step)
    if convention == "modified_following" and moved.month != day.month:
        return roll(day, "preceding", holidays)
    return moved


def is_month_end(day: dt.date) -> bool:
    """True on the last calendar day of a month."""
    return day.day == _calendar.monthrange(day.year, day.month)[1]


def add_months(day: dt.date, months: int, *, on_day: int | None = None) -> dt.date:
    """``day`` moved by whole months, the day of month clipped to the month's length.

    ``on_day`` asks for a given day of the month (``31`` means the month end).

    >>> import datetime as dt
    >>> add_months(dt.date(2026, 6, 30), 2, on_day=31)
    datetime.date(2026, 8, 31)
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(on_day or day.day, last))


def payment_dates(
    first: dt.date,
    count: int,
    *,
    months: int = 1,
    day: int | None = None,
    convention: Roll = "following",
    holidays: Collection[dt.date] = (),
) -> list[dt.date]:
    """``count`` business-day-adjusted payment dates, every ``months`` months from ``first``.

    Unadjusted dates keep the payment ``day`` (default: the first date's day), so a roll in
    one month never drifts the next one.
    """
    anchor = day or first.day
    return [
        roll(add_months(first, k * months, on_day=anchor), convention, holidays)
        for k in range(count)
    ]


def count_periods(first: dt.date, legal_final: dt.date, *, months: int = 1) -> int:
    """How many unadjusted payment dates fall from ``first`` up to ``legal_final`` inclusive.

    >>> import datetime as dt
    >>> count_periods(dt.date(2026, 8, 15), dt.date(2027, 8, 15))
    13
    """
    if legal_final < first:
        return 0
    span = (legal_final.year - first.year) * 12 + legal_final.month - first.month
    count = span // months + 1
    while count > 0 and add_months(first, (count - 1) * months) > legal_final:
        count -= 1
    return count


def collection_period_ends(cutoff: dt.date, count: int, *, months: int = 1) -> list[dt.date]:
    """End of each collection period: the cut-off moved by whole periods (month ends kept)."""
    on_day = 31 if is_month_end(cutoff) else cutoff.day
    return [add_months(cutoff, k * months, on_day=on_day) for k in range(1, count + 1)]


__all__ = [
    "MONTHS_PER_PERIOD",
    "ROLLS",
    "Roll",
    "add_months",
    "collection_period_ends",
    "count_periods",
    "is_business_day",
    "is_month_end",
    "payment_dates",
    "roll",
]
