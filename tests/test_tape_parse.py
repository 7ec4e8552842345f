"""Value parsers, month arithmetic and the schedule kernel: hand-checked tables and properties."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absstruct.errors import TapeError
from absstruct.tape import load_template
from absstruct.tape.parse import (
    add_months,
    months_between,
    parse_date,
    parse_number,
    parse_text,
)
from absstruct.tape.schedule import scheduled_balance_fraction


@pytest.mark.parametrize(
    ("text", "unit", "expected"),
    [
        ("13.56%", "decimal", 0.1356),
        ("0.1356", "decimal", 0.1356),
        ("12.5", "percent", 0.125),
        ("12.5%", "percent", 0.125),
        ("1,234,567.50", "", 1234567.5),
        ("¥50,000", "", 50000.0),
        ("(1,000)", "", -1000.0),
        (" 36 months", "months", 36.0),
        ("12期", "months", 12.0),
        ("18个月", "months", 18.0),
        ("3年", "months", 36.0),
        ("5 years", "months", 60.0),
        ("2", "years", 24.0),
    ],
)
def test_parse_number_table(text: str, unit: str, expected: float) -> None:
    values, bad = parse_number(pd.Series([text], dtype="str"), unit=unit)
    assert not bad[0]
    assert values[0] == pytest.approx(expected, abs=1e-12)


def test_scale_and_bad_cells() -> None:
    values, bad = parse_number(pd.Series(["1.5", "abc", None, " "], dtype="str"), scale=10_000)
    assert values[0] == 15_000 and bad.tolist() == [False, True, False, False]


@pytest.mark.parametrize(
    ("cell", "formats", "expected"),
    [
        ("Dec-2011", (), "2011-12-01"),
        ("2011/12/01", (), "2011-12-01"),
        ("20111201", (), "2011-12-01"),
        ("2011年12月1日", (), "2011-12-01"),
        ("03/2024", ("%m/%Y",), "2024-03-01"),
        ("40909", ("excel",), "2012-01-01"),
        (40909, (), "2012-01-01"),
        (dt.datetime(2026, 6, 30, 13, 5), (), "2026-06-30"),
    ],
)
def test_parse_date_table(cell: object, formats: tuple[str, ...], expected: str) -> None:
    dates, bad = parse_date(pd.Series([cell]), formats=formats)
    assert not bad[0]
    assert str(dates[0])[:10] == expected


@pytest.mark.parametrize(
    ("start", "end", "months"),
    [
        ("2026-01-15", "2026-06-30", 5),
        ("2026-01-15", "2026-06-10", 4),
        ("2026-01-31", "2026-02-28", 0),
        ("2007-12-01", "2009-12-31", 24),
        ("2026-06-30", "2026-01-15", -6),
    ],
)
def test_months_between_table(start: str, end: str, months: int) -> None:
    result = months_between(
        np.array([start], dtype="datetime64[ns]"), np.array([end], dtype="datetime64[ns]")
    )
    assert result[0] == months


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2060, 12, 28)),
    st.integers(min_value=0, max_value=480),
)
def test_add_then_count_months_round_trips(start: dt.date, months: int) -> None:
    begin = np.array([start], dtype="datetime64[ns]")
    end = add_months(begin, np.array([float(months)]))
    if start.day <= 28:  # no end-of-month clipping: exact inverse
        assert months_between(begin, end)[0] == months
    assert end[0] >= begin[0]


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0, max_value=0.99, allow_nan=False))
def test_percent_text_and_decimal_agree(rate: float) -> None:
    text = pd.Series([f"{rate * 100:.6f}%", f"{rate:.8f}"], dtype="str")
    values, bad = parse_number(text, unit="decimal")
    assert not bad.any()
    assert values[0] == pytest.approx(values[1], abs=1e-8)


@pytest.mark.parametrize(
    ("rate", "term", "age", "kind", "expected"),
    [
        # (1 - 1.01^-6) / (1 - 1.01^-12) by hand: 0.05795476 / 0.11255077
        (0.12, 12, 6, "level_pay", 0.5149211),
        (0.0, 12, 6, "level_pay", 0.5),
        (0.08, 360, 0, "level_pay", 1.0),
        (0.08, 360, 360, "level_pay", 0.0),
        (0.12, 12, 3, "equal_principal", 0.75),
        (0.12, 12, 3, "flat_fee", 0.75),
        (0.12, 12, 11, "interest_only", 1.0),
        (0.12, 12, 12, "interest_only", 0.0),
    ],
)
def test_scheduled_balance_fraction_table(
    rate: float, term: int, age: int, kind: str, expected: float
) -> None:
    fraction = scheduled_balance_fraction(
        rate=np.array([rate]),
        original_term=np.array([float(term)]),
        age=np.array([float(age)]),
        amortization=np.array([kind], dtype=object),
    )
    assert fraction[0] == pytest.approx(expected, abs=1e-7)


@settings(max_examples=100, deadline=None)
@given(st.floats(0.0, 0.3), st.integers(1, 360))
def test_level_pay_balance_falls_with_age(rate: float, term: int) -> None:
    ages = np.arange(term + 1, dtype=float)
    fraction = scheduled_balance_fraction(
        rate=np.full(term + 1, rate),
        original_term=np.full(term + 1, float(term)),
        age=ages,
        amortization=np.full(term + 1, "level_pay", dtype=object),
    )
    assert fraction[0] == pytest.approx(1.0) and fraction[-1] == 0.0
    assert (np.diff(fraction) <= 1e-12).all()


def test_template_errors_name_the_field(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[columns.rate]\nfrom = ["r"]\nunit = "basis_points"\n', encoding="utf-8")
    with pytest.raises(TapeError, match=r"columns\.rate\.unit: .*'decimal'"):
        load_template(path)
    path.write_text("columns = [", encoding="utf-8")
    with pytest.raises(TapeError, match="not a valid TOML file"):
        load_template(path)
    with pytest.raises(TapeError, match="unknown tape template 'nope'"):
        load_template("nope")


_EDGES = st.sampled_from(["", " ", "\t", "\u3000", "\u00a0", "\n", "é", "x"])


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.tuples(_EDGES, st.text(max_size=6), _EDGES).map("".join)),
        max_size=12,
    ),
    st.integers(min_value=0, max_value=3),
)
def test_parse_text_matches_strip_then_blank_is_missing(cells, start):
    # The fast path (no cell needs trimming) must agree with strip + blank -> missing,
    # also on a sliced Arrow array (non-zero offset).
    series = pd.Series(["pad"] * start + cells, dtype="str").iloc[start:].reset_index(drop=True)
    expected = [None if c is None or not c.strip() else c.strip() for c in cells]
    got = [None if pd.isna(v) else v for v in parse_text(series)]
    assert got == expected, f"expected {expected!r}, calculated {got!r}"


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        (["A001", "0002"], ["A001", "0002"]),
        ([" A001", "0002 "], ["A001", "0002"]),
        (["A001", ""], ["A001", None]),
        (["A001", None], ["A001", None]),
        (["甲001\u3000", "乙"], ["甲001", "乙"]),
    ],
)
def test_parse_text_table(cells, expected):
    got = [None if pd.isna(v) else v for v in parse_text(pd.Series(cells, dtype="str"))]
    assert got == expected
