"""Vectorised parsers that turn raw export columns into canonical values.

Each parser takes one raw column (numbers, text or dates as the reader produced them) and
returns the parsed values plus a boolean mask of cells that held something but could not be
parsed.  Blank cells are *missing*, never *bad*.  Text work happens on the unique values
only (``pandas.factorize``), so a million-row column with a few hundred distinct codes
costs one pass.

Examples
--------
>>> import pandas as pd
>>> values, bad = parse_number(pd.Series(["13.56%", "0.1", "abc", None]), unit="decimal")
>>> values[:2].round(4).tolist(), bad.tolist()
([0.1356, 0.1], [False, False, True, False])
>>> values, bad = parse_number(pd.Series([" 36 months", "3年", "12期"]), unit="months")
>>> values.tolist()
[36.0, 36.0, 12.0]
>>> dates, bad = parse_date(pd.Series(["Dec-2011", "2011/12/01", 40909]), formats=())
>>> [str(d)[:10] for d in dates]
['2011-12-01', '2011-12-01', '2012-01-01']
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

DATE_DTYPE = "datetime64[ns]"

# Formats tried (in order) after the template's own, for text dates.
DEFAULT_DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%b-%Y",
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y年%m月%d日",
    "%Y-%m",
    "%m/%d/%Y",
)
# Excel's day zero (the 1900 system, including its phantom 1900-02-29).
EXCEL_EPOCH = np.datetime64("1899-12-30", "D")
# Dates are datetime64[ns]: the days that type can hold.  A placeholder such as
# 9999-12-31 is outside it and is reported, never wrapped around to another date.
FIRST_DAY = np.datetime64("1678-01-01", "D")
LAST_DAY = np.datetime64("2262-04-11", "D")
_EXCEL_MAX_SERIAL = int((LAST_DAY - EXCEL_EPOCH).astype("int64"))

_CURRENCY = re.compile(r"[¥￥$€£元]|^\s*(?:RMB|CNY|USD)", re.IGNORECASE)
# A number as exports write it once currency and percent are gone: thousands grouped by
# commas (or spaces) in threes only, so "1,2,3" or a decimal comma ("12,5") is refused
# rather than read as 123 or 125.  No hex, no underscores, no inf/nan words.
_NUMBER_TEXT = re.compile(
    r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d{1,3}(?:[ \u00a0\u202f]\d{3})+|\d*)(?:\.\d*)?(?:[eE][+-]?\d+)?"
)
_TERM = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(months?|mos?|m|期|个月|月|years?|yrs?|y|年)?\s*$", re.IGNORECASE
)
_YEAR_WORDS = ("year", "years", "yr", "yrs", "y", "年")


def is_blank(series: pd.Series) -> np.ndarray:
    """Cells that are missing or hold only whitespace."""
    missing = series.isna().to_numpy()
    if series.dtype == object or pd.api.types.is_string_dtype(series.dtype):
        text = series.astype("str")
        missing = missing | (text.str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return missing


def _map_uniques(series: pd.Series, func: Callable[[object], object]) -> np.ndarray:
    """Apply ``func`` to each distinct non-missing value; map the results back."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    mapped = np.array([func(u) for u in uniques] + [None], dtype=object)
    return mapped[codes]


def parse_number(
    series: pd.Series, *, unit: str = "", scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Parse a numeric column.

    ``unit`` ``"decimal"`` (rates: ``"8.5%"`` becomes 0.085, a bare 0.085 stays),
    ``"percent"`` (every value is a percent: 8.5 and ``"8.5%"`` become 0.085), ``"months"``
    (``" 36 months"``, ``"12期"``, ``"3年"`` = 36), ``"years"`` (times 12), or ``""``.
    A trailing ``%`` always means percent.  Thousands separators, currency signs and
    accounting brackets are understood.  ``scale`` multiplies money (10000 for 万元).
    """
    n = len(series)
    if _not_numbers(series.dtype):
        # True/False, dates or durations are not amounts: refuse them rather than
        # read True as 1 or a date as its count of nanoseconds.
        return np.full(n, np.nan), series.notna().to_numpy()
    bad = np.zeros(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(series.dtype):
        values = _apply_unit(
            series.to_numpy(dtype="float64", na_value=np.nan, copy=True), unit, scale
        )
        return _finite(values, bad)
    if series.dtype == object:
        # NA cells map to NA; only a True marks an odd cell.
        odd = series.map(_is_odd_cell, na_action="ignore").eq(True).to_numpy(dtype=bool)
        if odd.any():
            series = series.where(~odd)
            bad |= odd
    coerced = pd.to_numeric(series, errors="coerce")
    values = _apply_unit(coerced.to_numpy(dtype="float64", na_value=np.nan, copy=True), unit, scale)
    # inf, 1e309 or hex that to_numeric let through get the strict text parser below.
    failed = ~np.isfinite(values) & ~is_blank(series) & ~bad
    if failed.any():
        parser = _term_value if unit in ("months", "years") else _number_value
        parsed = _map_uniques(series[failed].astype("str"), parser)
        fixed = np.full(len(parsed), np.nan)
        ok = np.zeros(len(parsed), dtype=bool)
        for i, item in enumerate(parsed):
            if item is None:
                continue
            number, kind = item
            ok[i] = True
            if kind == "%":  # explicit percent sign: unambiguous, ignore the unit
                fixed[i] = number / 100.0
            elif kind == "y":
                fixed[i] = number * 12.0
            else:
                fixed[i] = _apply_unit(np.array([number]), unit, scale)[0]
        values[failed] = fixed
        bad[np.flatnonzero(failed)[~ok]] = True
    return _finite(values, bad)


def _not_numbers(dtype: object) -> bool:
    return (
        pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    )


def _is_odd_cell(value: object) -> bool:
    """A spreadsheet cell holding a boolean, date, time or duration (not an amount)."""
    import datetime as dt

    return isinstance(
        value, (bool, np.bool_, dt.date, dt.time, dt.timedelta, np.datetime64, np.timedelta64)
    )


def _finite(values: np.ndarray, bad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Infinite values (``inf``, ``1e309``, or a scale overflowing) are bad, not amounts."""
    infinite = np.isinf(values)
    if infinite.any():
        values = np.where(infinite, np.nan, values)
        bad = bad | infinite
    return values, bad


def _number_value(text: object) -> tuple[float, str] | None:
    """One text cell -> (number, kind) where kind is ``"%"`` for a percent cell.

    >>> _number_value("¥1,234.5"), _number_value("(1,000)"), _number_value("12.5 %")
    ((1234.5, ''), (-1000.0, ''), (12.5, '%'))
    >>> [_number_value(t) for t in ("1,2,3", "12,5%", "0x10", "1_000", "inf", "1e309")]
    [None, None, None, None, None, None]
    """
    cleaned = _CURRENCY.sub("", str(text)).strip()
    kind = ""
    if cleaned.endswith("%"):
        cleaned, kind = cleaned[:-1].rstrip(), "%"
    if cleaned.startswith("(") and cleaned.endswith(")"):  # accounting negative
        cleaned = "-" + cleaned[1:-1].strip()
    if _NUMBER_TEXT.fullmatch(cleaned) is None:
        return None
    try:
        number = float(re.sub(r"[,\s]", "", cleaned))
    except ValueError:  # a sign, a dot or an exponent alone
        return None
    return (number, kind) if np.isfinite(number) else None


def _term_value(text: object) -> tuple[float, str] | None:
    match = _TERM.match(str(text))
    if match is None:
        return _number_value(text)
    word = (match.group(2) or "").lower()
    return float(match.group(1)), "y" if word in _YEAR_WORDS else ""


def _apply_unit(values: np.ndarray, unit: str, scale: float) -> np.ndarray:
    with np.errstate(over="ignore"):  # an overflow to inf is reported as a bad cell
        return _scaled(values, unit, scale)


def _scaled(values: np.ndarray, unit: str, scale: float) -> np.ndarray:
    if unit == "percent":
        values = values / 100.0
    elif unit == "years":
        values = values * 12.0
    if scale != 1.0:
        values = values * scale
    return values


def parse_date(series: pd.Series, *, formats: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Parse a date column: datetimes pass through, numbers are Excel serial dates (or
    ``20111201``-style numbers), text tries ``formats`` then :data:`DEFAULT_DATE_FORMATS`.

    Dates outside :data:`FIRST_DAY` .. :data:`LAST_DAY` (a ``9999-12-31`` placeholder)
    are bad cells, like text that is no date.
    """
    n = len(series)
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        values = series.dt.tz_localize(None) if getattr(series.dt, "tz", None) else series
        return _day_stamps(values.to_numpy())
    if pd.api.types.is_timedelta64_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
        return np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE), series.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(series.dtype):
        result, todo = _excel_serial(series.to_numpy(dtype="float64", na_value=np.nan))
        if not todo.any():
            return result, todo
        # Not a serial: perhaps 20111201 read as a number; the text formats decide.
        series = pd.Series(_map_uniques(series, _text_value), dtype="str")
    else:
        result = np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE)
        todo = ~is_blank(series)
    if series.dtype == object:
        # Mixed cells (spreadsheets): real dates and serial numbers first.
        real = series.map(_is_datetime_like, na_action="ignore").fillna(False).to_numpy(dtype=bool)
        if real.any():
            stamps, _outside = _day_stamps(_object_stamps(series[real]))
            got = np.zeros(n, dtype=bool)
            got[np.flatnonzero(real)[~np.isnat(stamps)]] = True
            result[got] = stamps[~np.isnat(stamps)]
            todo &= ~got
        # True/False would pass as serial 1 and 0: booleans are left to fail as text.
        flags = series.map(_is_bool, na_action="ignore").fillna(False).to_numpy(dtype=bool)
        numeric = pd.to_numeric(series.where(todo & ~real & ~flags), errors="coerce").to_numpy(
            dtype="float64"
        )
        has_number = ~np.isnan(numeric) & todo
        if has_number.any():
            serial, serial_bad = _excel_serial(numeric[has_number])
            result[has_number] = serial
            todo[np.flatnonzero(has_number)[~serial_bad]] = False
    text = series.astype("str").str.strip()
    for fmt in (*formats, *DEFAULT_DATE_FORMATS):
        if not todo.any():
            break
        if fmt == "excel":
            numeric = pd.to_numeric(text.where(todo), errors="coerce").to_numpy(dtype="float64")
            got = ~np.isnan(numeric) & todo
            if got.any():
                serial, serial_bad = _excel_serial(numeric[got])
                keep = np.flatnonzero(got)[~serial_bad]
                result[keep] = serial[~serial_bad]
                todo[keep] = False
            continue
        parsed = pd.to_datetime(text.where(todo), format=fmt, errors="coerce")
        stamps, _outside = _day_stamps(parsed.to_numpy())
        got = ~np.isnat(stamps) & todo
        if got.any():
            result[got] = stamps[got]
            todo &= ~got
    return result, todo


def _object_stamps(values: pd.Series) -> np.ndarray:
    """datetime64 values of date/datetime objects, at whatever unit holds them."""
    try:
        stamps = pd.to_datetime(values, errors="coerce")
    except (ValueError, TypeError, OverflowError):  # mixed time zones, odd objects
        stamps = pd.Series([_one_stamp(v) for v in values], dtype="datetime64[s]")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_localize(None)
    return stamps.to_numpy()


def _one_stamp(value: object) -> np.datetime64:
    try:
        return np.datetime64(pd.Timestamp(value).tz_localize(None).date(), "s")
    except (ValueError, TypeError, OverflowError):
        return np.datetime64("NaT", "s")


def _day_stamps(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Datetimes of any unit -> midnight ``datetime64[ns]``; days outside
    :data:`FIRST_DAY` .. :data:`LAST_DAY` become NaT and are flagged (second array)."""
    days = values.astype("datetime64[D]")
    outside = ~np.isnat(days) & ((days < FIRST_DAY) | (days > LAST_DAY))
    days[outside] = np.datetime64("NaT")
    return days.astype(DATE_DTYPE), outside


def _is_bool(value: object) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_datetime_like(value: object) -> bool:
    import datetime as dt

    return isinstance(value, (dt.date, dt.datetime, pd.Timestamp, np.datetime64))


def _excel_serial(numbers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ok = ~np.isnan(numbers) & (numbers >= 1) & (numbers <= _EXCEL_MAX_SERIAL)
    bad = ~np.isnan(numbers) & ~ok
    days = np.where(ok, numbers, 0).astype("int64")
    dates = (EXCEL_EPOCH + days.astype("timedelta64[D]")).astype(DATE_DTYPE)
    dates[~ok] = np.datetime64("NaT")
    return dates, bad


def parse_text(series: pd.Series) -> pd.Series:
    """Text as the user typed it (trimmed; blank is missing) as a ``str`` Series.

    Numbers read from spreadsheets lose a spurious ``.0``; dates print as ISO dates.
    """
    if not (pd.api.types.is_string_dtype(series.dtype) and series.dtype != object):
        series = pd.Series(_map_uniques(series, _text_value), dtype="str")
    if _already_trimmed(series):
        return series.reset_index(drop=True)
    stripped = series.str.strip()
    return stripped.where(stripped != "").reset_index(drop=True)


def _already_trimmed(series: pd.Series) -> bool:
    """True when no cell is empty or starts or ends with a space (ids usually), read off
    Arrow's buffers without building a stripped copy.

    Any non-ASCII first or last byte counts as a possible space (U+3000, U+00A0, ...), so a
    False only costs the ordinary strip.

    >>> _already_trimmed(pd.Series(["a", "b c", None], dtype="str"))
    True
    >>> [_already_trimmed(pd.Series(t, dtype="str")) for t in (["a "], [""], ["a\u3000"])]
    [False, False, False]
    """
    import pyarrow as pa

    data = getattr(series.array, "_pa_array", None)
    if not isinstance(data, pa.ChunkedArray):
        return False
    for chunk in data.chunks:
        if len(chunk) == 0:
            continue
        if not pa.types.is_string(chunk.type) and not pa.types.is_large_string(chunk.type):
            return False
        _, offsets_buffer, data_buffer = chunk.buffers()
        width = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        offsets = np.frombuffer(offsets_buffer, dtype=width)[
            chunk.offset : chunk.offset + len(chunk) + 1
        ].astype(np.int64, copy=False)
        starts, ends = offsets[:-1], offsets[1:]
        if chunk.null_count:
            present = chunk.is_valid().to_numpy(zero_copy_only=False)
            starts, ends = starts[present], ends[present]
        if (ends <= starts).any():
            return False
        if data_buffer is None:
            continue
        text = np.frombuffer(data_buffer, dtype=np.uint8)
        edges = np.concatenate((text[starts], text[ends - 1]))
        if ((edges <= 0x20) | (edges >= 0x7F)).any():
            return False
    return True


def _text_value(value: object) -> str | None:
    if isinstance(value, float):
        if not np.isfinite(value):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())[:10]
    text = str(value).strip()
    return text or None


def months_between(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Whole months from ``start`` to ``end`` (a month counts once its day is reached).

    >>> import numpy as np
    >>> a = np.array(["2026-01-15", "2026-01-15"], dtype="datetime64[D]")
    >>> b = np.array(["2026-06-30", "2026-06-10"], dtype="datetime64[D]")
    >>> months_between(a, b).tolist()
    [5.0, 4.0]
    """
    start_m = start.astype("datetime64[M]")
    end_m = end.astype("datetime64[M]")
    months = (end_m - start_m).astype("float64")
    start_day = (start.astype("datetime64[D]") - start_m.astype("datetime64[D]")).astype("int64")
    end_day = (end.astype("datetime64[D]") - end_m.astype("datetime64[D]")).astype("int64")
    months = months - (end_day < start_day)
    months[np.isnat(start) | np.isnat(end)] = np.nan
    return months


def add_months(dates: np.ndarray, months: np.ndarray) -> np.ndarray:
    """``dates`` plus whole ``months``, the day clipped to the end of the target month.

    >>> import numpy as np
    >>> d = np.array(["2026-01-31"], dtype="datetime64[D]")
    >>> str(add_months(d, np.array([1.0]))[0])[:10]
    '2026-02-28'
    """
    valid = ~np.isnat(dates) & ~np.isnan(months)
    month_start = dates.astype("datetime64[M]")
    day = (dates.astype("datetime64[D]") - month_start.astype("datetime64[D]")).astype("int64")
    target = month_start + np.where(valid, months, 0).astype("int64").astype("timedelta64[M]")
    month_len = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")).astype(
        "int64"
    )
    result = target.astype("datetime64[D]") + np.minimum(day, month_len - 1).astype(
        "timedelta64[D]"
    )
    out = result.astype(DATE_DTYPE)
    out[~valid] = np.datetime64("NaT")
    return out
