"""Day-count conventions: the year fraction between two dates.

Four conventions, vectorized over numpy ``datetime64[D]`` arrays (scalars work too):

``30/360``
    Bond basis (ISDA 30/360, "30/360 bond basis"): a start day of 31 becomes 30; an end
    day of 31 becomes 30 when the start day is (then) 30.  No end-of-February rule.
``ACT/360``
    Actual days / 360 (money-market, floating-rate notes).
``ACT/365F``
    Actual days / 365, every year (``ACT/365`` in Chinese interbank practice).
``ACT/ACT``
    ACT/ACT ISDA: days falling in a leap year count 1/366, the others 1/365.

The waterfall uses :func:`year_fraction` for coupon accrual and the pricing module uses it for
the time from settlement to each cash flow, so both measure time the same way.

Examples
--------
>>> year_fraction("2024-01-31", "2024-07-31", "30/360")
0.5
>>> year_fraction("2024-01-01", "2024-07-01", "ACT/360")
0.5055555555555555
>>> year_fraction("2023-07-01", "2024-07-01", "ACT/ACT") == 184 / 365 + 182 / 366
True
>>> import numpy as np
>>> year_fraction("2024-01-15", np.array(["2024-02-15", "2024-03-15"], dtype="datetime64[D]"),
...               "ACT/365F").round(6).tolist()
[0.084932, 0.164384]
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

import numpy as np

from absstruct.errors import AbsStructError, PricingError, Problem

DAY_COUNTS: Final[tuple[str, ...]] = ("30/360", "ACT/360", "ACT/365F", "ACT/ACT")

# Accepted spellings (upper-cased, spaces removed) -> canonical name.  "30/360 US" is not an
# alias: it has an end-of-February rule the bond basis lacks.
_ALIASES: Final[dict[str, str]] = {
    "30/360": "30/360",
    "30/360BOND": "30/360",
    "30/360BONDBASIS": "30/360",
    "30/360ISDA": "30/360",
    "BONDBASIS": "30/360",
    "ACT/360": "ACT/360",
    "ACTUAL/360": "ACT/360",
    "A/360": "ACT/360",
    "ACT/365F": "ACT/365F",
    "ACT/365": "ACT/365F",
    "ACT/365FIXED": "ACT/365F",
    "ACTUAL/365": "ACT/365F",
    "ACTUAL/365F": "ACT/365F",
    "ACTUAL/365FIXED": "ACT/365F",
    "A/365F": "ACT/365F",
    "ACT/ACT": "ACT/ACT",
    "ACT/ACTISDA": "ACT/ACT",
    "ACTUAL/ACTUAL": "ACT/ACT",
    "ACTUAL/ACTUALISDA": "ACT/ACT",
}

DateLike = Any  # a date, "YYYY-MM-DD", numpy datetime64, or an array / sequence of them


def day_count_name(
    value: object, *, where: str = "day_count", error: type[AbsStructError] = PricingError
) -> str:
    """Return the canonical name of a day-count convention, or raise naming the allowed ones.

    Parameters
    ----------
    value : str
        A spelling such as ``"30/360"``, ``"act/365"``, ``"Actual/360"``.
    where : str
        The field path reported in the error (``"tranches[1].day_count"``).
    error : type of AbsStructError
        The error class to raise (``DealError`` from the deal-file validator).

    Examples
    --------
    >>> day_count_name("act/365")
    'ACT/365F'
    >>> day_count_name("30E/360")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    absstruct.errors.PricingError: day_count: '30E/360' is not a day count; allowed: 30/360, ...
    """
    key = str(value).upper().replace(" ", "") if isinstance(value, str) else None
    if key is not None and key in _ALIASES:
        return _ALIASES[key]
    problem = Problem(
        where=where,
        value=value,
        rule="day_count",
        message=f"is not a day count; allowed: {', '.join(DAY_COUNTS)}",
    )
    raise error(str(problem), problems=[problem])


def as_days(value: DateLike) -> np.ndarray:
    """Convert dates (scalars, strings, sequences, pandas columns) to ``datetime64[D]``.

    Examples
    --------
    >>> as_days(dt.date(2024, 6, 30))
    array('2024-06-30', dtype='datetime64[D]')
    """
    if isinstance(value, dt.datetime):
        value = value.date()
    array = np.asarray(value)
    if array.dtype.kind == "M":
        return array.astype("datetime64[D]")
    try:
        return np.asarray(value, dtype="datetime64[D]")
    except (ValueError, TypeError) as exc:
        raise PricingError(f"cannot read {value!r} as dates: {exc}") from None


def _ymd(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = days.astype("datetime64[M]")
    months = month_start.astype(np.int64) % 12 + 1
    day = (days - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return years, months, day


def _thirty_360(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    y1, m1, d1 = _ymd(start)
    y2, m2, d2 = _ymd(end)
    d1 = np.minimum(d1, 30)
    d2 = np.where((d1 == 30) & (d2 == 31), 30, d2)
    return (360 * (y2 - y1) + 30 * (m2 - m1) + (d2 - d1)) / 360.0


def _days_in_year(years: np.ndarray) -> np.ndarray:
    leap = ((years % 4 == 0) & (years % 100 != 0)) | (years % 400 == 0)
    return np.where(leap, 366.0, 365.0)


def _act_act_isda(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    # Whole years between, plus the stub in the start year and the stub in the end year;
    # the same formula holds when both dates fall in one year.
    lo, hi = np.minimum(start, end), np.maximum(start, end)
    y1 = lo.astype("datetime64[Y]").astype(np.int64) + 1970
    y2 = hi.astype("datetime64[Y]").astype(np.int64) + 1970
    jan1_after = (y1 - 1970 + 1).astype("datetime64[Y]").astype("datetime64[D]")
    jan1_end = (y2 - 1970).astype("datetime64[Y]").astype("datetime64[D]")
    first = (jan1_after - lo).astype(np.int64) / _days_in_year(y1)
    last = (hi - jan1_end).astype(np.int64) / _days_in_year(y2)
    fraction = (y2 - y1 - 1) + first + last
    return np.where(end < start, -fraction, fraction)


def year_fraction(start: DateLike, end: DateLike, convention: str) -> Any:
    """Year fraction from ``start`` to ``end`` under a day-count ``convention``.

    Parameters
    ----------
    start, end : date-like or arrays of them
        Broadcast against each other; ``end`` before ``start`` gives a negative fraction.
    convention : {"30/360", "ACT/360", "ACT/365F", "ACT/ACT"}
        Aliases such as ``"ACT/365"`` are accepted (see :func:`day_count_name`).

    Returns
    -------
    float or numpy.ndarray
        A float when both inputs are scalars, else an array of the broadcast shape.

    Examples
    --------
    >>> year_fraction("2024-02-29", "2025-02-28", "ACT/365F")
    1.0
    >>> year_fraction("2024-03-31", "2024-04-30", "30/360") * 360
    30.0
    """
    name = day_count_name(convention)
    first, second = np.broadcast_arrays(as_days(start), as_days(end))
    if name == "30/360":
        result = _thirty_360(first, second)
    elif name == "ACT/ACT":
        result = _act_act_isda(first, second)
    else:
        days = (second - first).astype(np.int64)
        result = days / (360.0 if name == "ACT/360" else 365.0)
    result = np.asarray(result, dtype=float)
    return float(result) if result.ndim == 0 else result


__all__ = ["DAY_COUNTS", "as_days", "day_count_name", "year_fraction"]
