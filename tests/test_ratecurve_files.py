"""Rate curves: reading CSV/TOML, interpolation, discount factors and every validation error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from absstruct.errors import PricingError
from absstruct.ratecurve import RateCurve, parse_rate, parse_tenor, read_curve


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_curve_reads_units_and_interpolates(tmp_path: Path) -> None:
    path = _write(tmp_path, "ust.csv", "tenor,rate\n3M,4.00%\n1Y,450bp\n5Y,0.05\n")
    curve = read_curve(path)
    assert curve.tenors == (0.25, 1.0, 5.0)
    assert curve.rates == (0.04, 0.045, 0.05)
    assert curve.compounding == "semiannual" and curve.kind == "zero" and curve.name == "ust.csv"
    # Linear between 1Y and 5Y, flat outside.
    assert curve.rate(3.0) == pytest.approx(0.0475, abs=1e-15)
    assert curve.rate(0.1) == 0.04 and curve.rate(30.0) == 0.05


def test_toml_curve_states_its_compounding_and_kind(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "sofr.toml",
        '[curve]\nkind = "term"\ncompounding = "annual"\ntenors = ["6M", 2, "10Y"]\n'
        'rates = ["3.5%", 0.036, "380bp"]\n',
    )
    curve = read_curve(path)
    assert (curve.kind, curve.compounding, curve.tenors) == ("term", "annual", (0.5, 2.0, 10.0))
    assert read_curve(path, compounding="continuous").compounding == "continuous"


@pytest.mark.parametrize(
    ("tenor", "years"), [("1D", 1 / 365), ("2W", 14 / 365), ("18M", 1.5), ("7y", 7.0), (0.25, 0.25)]
)
def test_parse_tenor(tenor: object, years: float) -> None:
    assert parse_tenor(tenor) == pytest.approx(years, abs=1e-15)


@pytest.mark.parametrize(("text", "rate"), [("4.1%", 0.041), ("-25bp", -0.0025), (0.03, 0.03)])
def test_parse_rate(text: object, rate: float) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize(
    ("compounding", "factor"),
    [
        ("annual", 1.05**-2),
        ("semiannual", 1.025**-4),
        ("monthly", (1 + 0.05 / 12) ** -24),
        ("continuous", np.exp(-0.1)),
    ],
)
def test_discount_factor_states_compounding(compounding: str, factor: float) -> None:
    curve = RateCurve(tenors=(1.0, 3.0), rates=(0.05, 0.05), compounding=compounding)
    assert float(curve.discount(2.0)) == pytest.approx(factor, rel=1e-14)
    assert float(curve.discount(2.0, spread=0.01)) < float(curve.discount(2.0))
    assert curve.shifted(0.01).rates == pytest.approx((0.06, 0.06), abs=1e-15)


@given(st.floats(0.0, 40.0))
def test_interpolated_rate_lies_between_neighbours(t: float) -> None:
    curve = RateCurve(tenors=(0.5, 2.0, 10.0, 30.0), rates=(0.04, 0.035, 0.045, 0.05))
    rate = curve.rate(t)
    assert 0.035 <= rate <= 0.05


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "tenor,rate\n1Y,4%\n6M,4.1%\n",
            r"row 3, column tenor: 0.5 is not above the tenor before "
            r"it \(1.0\); tenors must be sorted",
        ),
        ("tenor,rate\n1Y,4%\n1Y,4.1%\n", r"row 3, column tenor: 1.0 duplicates the tenor at row 2"),
        ("tenor,rate\n1Y,4.5\n", r"row 2, column rate: 4.5 is above 100% as a decimal"),
        (
            "tenor,rate\nsoon,4%\n",
            r"row 2, column tenor: is not a tenor like 0.25, 3M or 5Y: 'soon'",
        ),
        ("tenor,rate\n1Y,abc\n", r"row 2, column rate: is not a rate like 0.041"),
        ("tenor,yield\n1Y,4%\n", r"lacks column\(s\) rate; need tenor,rate"),
        ("tenor,rate\n", r"has no points"),
    ],
)
def test_bad_csv_curves_name_row_column_value(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(PricingError, match=message):
        read_curve(_write(tmp_path, "bad.csv", body))


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(tmp_path, "bad.csv", "tenor,rate\n2Y,4%\n1Y,4%\n1Y,5\n")
    with pytest.raises(PricingError, match=r"bad.csv: 3 problems") as info:
        read_curve(path)
    assert {p.rule for p in info.value.problems} >= {"unsorted", "duplicate"}


def test_bad_toml_and_bad_suffix(tmp_path: Path) -> None:
    with pytest.raises(PricingError, match=r"tenors\[1\]: 1.0 is not above"):
        read_curve(_write(tmp_path, "c.toml", "tenors = [2, 1]\nrates = [0.04, 0.05]\n"))
    with pytest.raises(PricingError, match=r"need two lists, tenors"):
        read_curve(_write(tmp_path, "d.toml", "points = 3\n"))
    with pytest.raises(PricingError, match=r"compounding: 'weekly' is not a compounding"):
        read_curve(_write(tmp_path, "e.toml", 'compounding = "weekly"\ntenors=[1]\nrates=[0.04]\n'))
    with pytest.raises(PricingError, match=r"must be .csv or .toml"):
        read_curve(_write(tmp_path, "f.txt", "1 0.04\n"))


def test_z_spread_refuses_a_term_curve() -> None:
    from absstruct.pricing import CashFlows
    from absstruct.spreads import z_spread

    curve = RateCurve(tenors=(1.0,), rates=(0.04,), kind="term")
    flows = CashFlows(dates=["2025-01-01"], interest=[0.0], principal=[100.0])
    with pytest.raises(PricingError, match=r"needs a zero curve, not a term curve"):
        z_spread(flows, settlement="2024-01-01", price=95.0, curve=curve)
