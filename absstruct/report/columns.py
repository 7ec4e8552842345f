"""A table column as the workbook writes it: plain values, cell XML, width samples.

:func:`column_cells` renders a whole column at once (floats in bulk, each distinct value
formatted once; see :mod:`absstruct.report.sheetxml`) and :func:`table_cells` a table's
columns, its float columns together; :func:`column_values` reads a column as the plain
Python values those cells hold, and :func:`widest_samples` picks the sampled texts a
column's width is fitted to.

Examples
--------
>>> import pandas as pd
>>> column_cells(pd.Series(["=1+1", None], dtype=object), 0)
['" t="inlineStr"><is><t>=1+1</t></is></c>', '']
>>> column_values(pd.Series([1.5, float("nan")]))
[1.5, None]
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from absstruct.report.sheetxml import (
    Column,
    float_cells,
    float_columns,
    int_cells,
    serial_cells,
    text_cells,
    value_cells,
)

# Characters a workbook cannot store (XML 1.0 forbids them).
CONTROL_CHARACTERS = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")


def display_width(text: str) -> int:
    if text.isascii():
        return len(text)
    # East Asian wide characters take two columns in a spreadsheet cell.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def plain_value(value: Any) -> Any:
    """A plain Python value openpyxl writes natively (None for missing)."""
    if value is None:
        return None
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.to_pydatetime()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def column_values(series: pd.Series, step: int = 1) -> list[Any]:
    """Every ``step``-th value of a column as a plain Python object (None for missing)."""
    if pd.api.types.is_float_dtype(series) and not isinstance(series.dtype, pd.ArrowDtype):
        array = series.to_numpy(dtype=float, na_value=np.nan)[::step]
        values: list[Any] = array.tolist()
        if not np.isfinite(array).all():
            values = [v if math.isfinite(v) else None for v in values]
        return values
    if pd.api.types.is_integer_dtype(series) and not series.isna().any():
        return series.to_numpy(dtype=np.int64)[::step].tolist()
    if pd.api.types.is_datetime64_any_dtype(series):
        return [None if pd.isna(v) else v.to_pydatetime() for v in series.iloc[::step]]
    return [plain_value(v) for v in series.tolist()[::step]]


def column_cells(series: pd.Series, style: int) -> list[str]:
    """A table column's cell bodies (see :func:`~absstruct.report.sheetxml.cell_body`).

    Writes what :func:`column_values` reads, the whole column at once: floats (non-finite
    ones empty), integers, dates as serial days, text as inline strings, anything else
    value by value.
    """
    if pd.api.types.is_float_dtype(series) and not isinstance(series.dtype, pd.ArrowDtype):
        return float_cells(series.to_numpy(dtype=float, na_value=np.nan), style)
    if pd.api.types.is_integer_dtype(series) and not series.isna().any():
        return int_cells(series.to_numpy(dtype=np.int64), style)
    if pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_localize(None)  # wall-clock time, as the cell shows it
        return serial_cells(series.to_numpy(), style)
    values = series.to_numpy(dtype=object, copy=True)
    missing = series.isna().to_numpy(dtype=bool)
    if isinstance(series.dtype, pd.StringDtype) or all(
        isinstance(v, str) for v in values[~missing]
    ):
        values[missing] = None
        return text_cells(values, style)
    return value_cells([plain_value(v) for v in series.tolist()], style)


def table_cells(series_list: list[pd.Series], styles: list[int]) -> list[list[str] | Column]:
    """Every column's cell bodies; the float columns formatted together in one call."""
    out: list[list[str] | Column | None] = [None] * len(series_list)
    floats = [
        j
        for j, series in enumerate(series_list)
        if pd.api.types.is_float_dtype(series) and not isinstance(series.dtype, pd.ArrowDtype)
    ]
    arrays = [series_list[j].to_numpy(dtype=float, na_value=np.nan) for j in floats]
    for j, cells in zip(floats, float_columns(arrays, [styles[j] for j in floats]), strict=True):
        out[j] = cells
    return [
        cells if cells is not None else column_cells(series, style)
        for cells, series, style in zip(out, series_list, styles, strict=True)
    ]


def first_control_character(columns: Sequence[pd.Series]) -> tuple[int, str] | None:
    """(row offset, value) of the first text a workbook cannot store, in reading order."""
    found: list[tuple[int, int, str]] = []
    for col, series in enumerate(columns):
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        if isinstance(series.dtype, pd.StringDtype):
            # Text columns repeat their values: search the distinct ones first.
            distinct = [v for v in series.unique() if isinstance(v, str)]
            if not CONTROL_CHARACTERS.search("".join(distinct)):
                continue
        values = series.tolist()
        texts = [v for v in values if isinstance(v, str)]
        # One search over the joined column; look value by value only after a hit.
        if not texts or not CONTROL_CHARACTERS.search("".join(texts)):
            continue
        row = next(
            i for i, v in enumerate(values) if isinstance(v, str) and CONTROL_CHARACTERS.search(v)
        )
        found.append((row, col, values[row]))
    if not found:
        return None
    row, _col, value = min(found)
    return row, value


_FIXED_DECIMALS = {"percent", "rate", "money", "number", "count", "amount", "bp", "factor"}


def widest_samples(series: pd.Series, kind: str, step: int) -> list[str]:
    """Texts whose widest is as wide as the widest sample (every ``step``-th value).

    Numbers in a fixed-decimal format grow no narrower as they grow in size, so the
    largest value and the most negative one stand for a numeric column's sample.

    >>> widest_samples(pd.Series([1.5, -20.0, 300.25, float("nan")]), "money", 1)
    ['', '300.25', '-20.00']
    """
    if kind == "date" and pd.api.types.is_datetime64_any_dtype(series):
        present = series.iloc[::step].notna().to_numpy()
        return (["2024-01-31"] if present.any() else []) + ([""] if not present.all() else [])
    fixed = kind in _FIXED_DECIMALS or kind in ("int", "price", "years")
    if (
        fixed
        and pd.api.types.is_float_dtype(series)
        and not isinstance(series.dtype, pd.ArrowDtype)
    ):
        sample = series.to_numpy(dtype=float, na_value=np.nan)[::step]
    elif fixed and pd.api.types.is_integer_dtype(series) and not series.isna().any():
        sample = series.to_numpy(dtype=np.int64)[::step]
    else:
        return [format_sample(value, kind) for value in column_values(series, step)]
    present = np.isfinite(sample) if sample.dtype.kind == "f" else np.ones(len(sample), bool)
    texts = [""] if not present.all() else []  # what a missing value samples as
    values = sample[present]
    sizes = np.abs(values.astype(float))
    negative = np.signbit(values.astype(float))
    for part in (np.flatnonzero(~negative), np.flatnonzero(negative)):
        if len(part):
            texts.append(format_sample(values[part[np.argmax(sizes[part])]].item(), kind))
    if any("inf" in text for text in texts):
        # A value so large that its scaled form overflows prints as "inf", narrower than
        # smaller values: the widest-stands-for-all rule fails, so measure every sample.
        return [format_sample(value, kind) for value in column_values(series, step)]
    return texts


def format_sample(value: Any, kind: str) -> str:
    if value is None:
        return ""
    if kind == "date":
        return "2024-01-31"
    if isinstance(value, bool) or kind in ("text", "bool"):
        return str(value)
    if isinstance(value, (int, float)):
        if kind in ("percent", "rate"):
            return f"{value * 100:.3f}%"
        if kind in ("money", "number"):
            return f"{value:,.2f}"
        if kind in ("count", "amount", "bp"):
            return f"{value:,.0f}"
        return f"{value:.6f}" if kind == "factor" else f"{value:.3f}"
    return str(value)
