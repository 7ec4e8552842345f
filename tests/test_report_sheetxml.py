"""Column-at-a-time cell rendering: the same SpreadsheetML as the cell-by-cell writer."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from absstruct.errors import AbsStructError
from absstruct.report.columns import column_cells, column_values, table_cells
from absstruct.report.sheetxml import (
    cell_body,
    cell_xml,
    float_cells,
    float_texts,
    row_numbers,
    row_xml,
    rows_xml,
    serial_cells,
    text_cells,
)
from absstruct.report.xlsx import Sheet, Table, write_xlsx

AWKWARD_FLOATS = [
    0.1 + 0.2,
    -0.0,
    0.0,
    5e-324,
    1e-300,
    1.7976931348623157e308,
    123456789.125,
    1e16,
    1e-5,
    -2.5,
    6169041.841546878,
]


def _check(series: pd.Series, style: int, first: int = 5) -> None:
    """Column rendering equals the cell-by-cell one, cell by cell and as whole rows."""
    values = column_values(series)
    got = column_cells(series, style)
    expected = [cell_body(value, style) for value in values]
    for i, (g, e) in enumerate(zip(got, expected, strict=True)):
        assert g == e, f"row {i}: expected {e!r}, rendered {g!r} (value {series.iloc[i]!r})"
    # Two columns (B holds the series) as rows, against rows written one cell at a time.
    numbers = row_numbers(first, len(series))
    ones = [1.0] * len(series)
    fast = rows_xml(numbers, ["A", "B"], [float_cells(np.array(ones), 1), got])
    slow = "".join(
        row_xml(first + i, [(1.0, 1, ""), (value, style, "")]) for i, value in enumerate(values)
    )
    assert fast == slow


finite_or_not = st.floats(allow_nan=True, allow_infinity=True)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(st.one_of(finite_or_not, st.sampled_from(AWKWARD_FLOATS)), max_size=40),
    style=st.sampled_from([0, 3]),
)
def test_float_columns_render_like_single_cells(values: list[float], style: int) -> None:
    _check(pd.Series(values, dtype=float), style)


@pytest.mark.parametrize(
    "values",
    [[0.0, -0.0, 0.0], [-0.0, 0.0], [1.0, 1.0, np.nan, 1.0], AWKWARD_FLOATS, []],
    ids=["zero-then-negative-zero", "negative-zero-first", "repeats-and-nan", "awkward", "empty"],
)
def test_float_columns_keep_every_sign_and_repeat(values: list[float]) -> None:
    _check(pd.Series(values, dtype=float), 0)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=False, allow_infinity=False)
        | st.floats(min_value=-1e12, max_value=1e12)
        | st.integers(-(10**15), 10**15).map(float)
        | st.integers(-(10**9), 10**9).map(lambda n: n / 100),
        max_size=50,
    )
)
def test_bulk_float_text_is_exactly_repr(values: list[float]) -> None:
    assert float_texts(np.array(values, dtype=float)) == [repr(v) for v in values]


def test_bulk_float_text_over_450k_ledger_like_values() -> None:
    rng = np.random.default_rng(7)
    values = np.concatenate(
        [
            rng.normal(1e6, 3e5, 200_000),
            rng.normal(1e6, 3e5, 100_000).round(2),
            rng.random(100_000) * 0.2,
            rng.standard_cauchy(50_000) * 10.0 ** rng.integers(-12, 18, 50_000),
        ]
    )
    texts = float_texts(values)
    wrong = [(t, repr(v)) for t, v in zip(texts, values.tolist(), strict=True) if t != repr(v)]
    assert not wrong, wrong[:5]


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.integers(-(2**62), 2**62), max_size=30), style=st.sampled_from([0, 7]))
def test_integer_columns_render_like_single_cells(values: list[int], style: int) -> None:
    _check(pd.Series(values, dtype="int64"), style)


moments = st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2200, 1, 1))


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(moments, st.none()), max_size=30),
    midnight=st.booleans(),
    tz=st.sampled_from([None, "UTC", "Asia/Shanghai"]),
)
def test_date_columns_render_as_serial_days_like_single_cells(
    values: list[dt.datetime | None], midnight: bool, tz: str | None
) -> None:
    if midnight:
        values = [v.replace(hour=0, minute=0, second=0, microsecond=0) if v else v for v in values]
    series = pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
    if tz:
        series = series.dt.tz_localize(tz)
    _check(series, 4)


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.one_of(texts, st.sampled_from([" lead", "trail ", "a<b&c>d", "=1+1", "优先A档"])),
        max_size=30,
    ),
    holes=st.lists(st.integers(0, 29), max_size=5),
    dtype=st.sampled_from(["str", "object"]),
    style=st.sampled_from([0, 2]),
)
def test_text_columns_render_as_inline_strings_like_single_cells(
    values: list[str], holes: list[int], dtype: str, style: int
) -> None:
    series = pd.Series(values, dtype=dtype)
    for hole in holes:
        if hole < len(series):
            series.iloc[hole] = None
    _check(series, style)


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([1, "x", 2.5, None, dt.date(2025, 1, 1), True, np.float64(3.25)], dtype=object),
        pd.Series([True, False, True]),
        pd.Series([1, None, 3], dtype="Int64"),
        pd.Series([1.5, None], dtype="double[pyarrow]"),
        pd.Series([dt.date(2025, 1, 31), None], dtype=object),
    ],
    ids=["mixed", "bool", "nullable-int", "arrow-float", "python-dates"],
)
@pytest.mark.parametrize("style", [0, 6])
def test_other_columns_render_value_by_value(series: pd.Series, style: int) -> None:
    _check(series, style)


@pytest.mark.parametrize(
    ("renderer", "values", "expected"),
    [
        (float_cells, np.array([np.inf, 1.0]), ['" s="2"/>', '" s="2"><v>1.0</v></c>']),
        (float_cells, np.array([np.nan]), ['" s="2"/>']),
        (
            text_cells,
            np.array(["a&b", "a&b"], dtype=object),
            ['" s="2" t="inlineStr"><is><t>a&amp;b</t></is></c>'] * 2,
        ),
        (
            serial_cells,
            np.array(["2025-01-31T12:00", "1900-03-01"], dtype="datetime64[s]"),
            ['" s="2"><v>45688.5</v></c>', '" s="2"><v>61</v></c>'],
        ),
    ],
)
def test_renderers_by_hand(renderer, values, expected) -> None:  # type: ignore[no-untyped-def]
    assert renderer(values, 2) == expected


def test_rows_put_references_in_and_leave_empty_cells_out() -> None:
    numbers = row_numbers(9, 2)
    columns = [['"><v>1</v></c>', '"><v>2</v></c>'], ["", '" s="3"/>']]
    assert rows_xml(numbers, ["A", "B"], columns) == (
        '<row r="9"><c r="A9"><v>1</v></c></row>'
        '<row r="10"><c r="A10"><v>2</v></c><c r="B10" s="3"/></row>'
    )
    # Braces in text are data, not format fields.
    braces = text_cells(np.array(["{0}{1}"], dtype=object), 0)
    assert rows_xml(["2"], ["A"], [braces]) == (
        '<row r="2"><c r="A2" t="inlineStr"><is><t>{0}{1}</t></is></c></row>'
    )
    assert cell_xml("D4", None, 0) == ""


def test_awkward_floats_read_back_exactly_and_parts_are_compressed_xml(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"x": AWKWARD_FLOATS, "id": [f"=A{i}" for i in range(len(AWKWARD_FLOATS))]}
    )
    path = tmp_path / "floats.xlsx"
    write_xlsx([Sheet(title="F", blocks=[Table(name="f", frame=frame)])], path)
    ws = load_workbook(path)["F"]
    read = [ws.cell(row=i + 2, column=1).value for i in range(len(AWKWARD_FLOATS))]
    for got, wrote in zip(read, AWKWARD_FLOATS, strict=True):
        assert repr(float(got)) == repr(wrote), (got, wrote)
    assert [ws.cell(row=i + 2, column=2).data_type for i in range(3)] == ["s"] * 3
    with zipfile.ZipFile(path) as package:
        for info in package.infolist():
            assert info.compress_type == zipfile.ZIP_DEFLATED, info.filename
            if info.filename.endswith(".xml"):
                ElementTree.fromstring(package.read(info.filename))  # well-formed


def test_first_control_character_in_reading_order_is_named(tmp_path: Path) -> None:
    # Column b's bad value sits on an earlier row than column a's: b is reported.
    frame = pd.DataFrame({"a": ["ok", "ok", "late\x02"], "b": ["ok", "early\x01", "ok"]})
    with pytest.raises(AbsStructError, match=r"sheet 'S', row 3: 'early\\x01'"):
        write_xlsx([Sheet(title="S", blocks=[Table(name="t", frame=frame)])], tmp_path / "b.xlsx")
    mixed = pd.DataFrame({"m": [1.0, "x\x1f"]}, dtype=object)
    with pytest.raises(AbsStructError, match=r"row 3: 'x\\x1f'"):
        write_xlsx([Sheet(title="S", blocks=[Table(name="t", frame=mixed)])], tmp_path / "b.xlsx")
    assert not (tmp_path / "b.xlsx").exists()


@settings(max_examples=40, deadline=None)
@given(
    floats=st.lists(finite_or_not, min_size=1, max_size=15),
    clean=st.lists(st.floats(-1e9, 1e9), min_size=15, max_size=15),
    styles=st.lists(st.sampled_from([0, 1, 4]), min_size=4, max_size=4),
)
def test_table_rows_equal_rows_written_cell_by_cell(
    floats: list[float], clean: list[float], styles: list[int]
) -> None:
    n = len(floats)
    frame = pd.DataFrame(
        {
            "period": np.arange(1, n + 1),
            "with_gaps": floats,
            "clean": clean[:n],
            "name": [f"{{n{i % 3}}}" for i in range(n)],  # braces are text, not fields
        }
    )
    series_list = [frame[c] for c in frame.columns]
    numbers = row_numbers(2, n)
    fast = rows_xml(numbers, ["A", "B", "C", "D"], table_cells(series_list, styles))
    values = [column_values(s) for s in series_list]
    slow = "".join(
        row_xml(
            2 + i, [(column[i], style, "") for column, style in zip(values, styles, strict=True)]
        )
        for i in range(n)
    )
    assert fast == slow
