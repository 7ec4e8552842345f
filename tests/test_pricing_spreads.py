"""Spreads, discount margin and residual IRR (pyxirr's convention converted explicitly)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from absstruct.compounding import convert_rate
from absstruct.errors import PricingError
from absstruct.pricing import CashFlows, Convention, price_from_yield, yield_from_price
from absstruct.ratecurve import RateCurve
from absstruct.spreads import (
    FloatingNote,
    discount_margin,
    flat_spread,
    i_spread,
    price_from_discount_margin,
    price_from_i_spread,
    price_from_z_spread,
    residual_irr,
    z_spread,
)

ql = pytest.importorskip("QuantLib")

SETTLE = "2024-01-15"
FLOWS = CashFlows(
    dates=[f"{2024 + (m + 1) // 12}-{(m + 1) % 12 + 1:02d}-15" for m in range(36)],
    interest=np.linspace(0.6, 0.02, 36),
    principal=np.full(36, 100 / 36),
)


def _residual(seed: int) -> tuple[dt.date, CashFlows, float]:
    rng = np.random.default_rng(seed)
    settle = dt.date(2023, 3, 1) + dt.timedelta(days=int(rng.integers(0, 500)))
    days = np.sort(rng.choice(np.arange(10, 2500), size=int(rng.integers(2, 40)), replace=False))
    dates = [settle + dt.timedelta(days=int(d)) for d in days]
    amounts = rng.uniform(0, 5, len(days))
    return (
        settle,
        CashFlows(dates=dates, interest=amounts, principal=0 * amounts),
        float(amounts.sum() * rng.uniform(0.5, 1.1)),
    )


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("compounding", ["annual", "semiannual", "monthly", "continuous"])
def test_residual_irr_converts_pyxirr_to_the_asked_compounding(seed: int, compounding: str):
    settle, flows, paid = _residual(seed)
    result = residual_irr(flows, settlement=settle, purchase_price=paid, compounding=compounding)
    assert result.convention == Convention(compounding=compounding, day_count="ACT/365F")
    # Independent: QuantLib's yield of the same flows on ACT/365F, in the same compounding.
    kind, freq = {
        "annual": (ql.Compounded, ql.Annual),
        "semiannual": (ql.Compounded, ql.Semiannual),
        "monthly": (ql.Compounded, ql.Monthly),
        "continuous": (ql.Continuous, ql.Annual),
    }[compounding]
    leg = ql.Leg(
        [
            ql.SimpleCashFlow(a, ql.Date(d.day, d.month, d.year))
            for d, a in zip(flows.dates.tolist(), flows.total.tolist(), strict=True)
        ]
    )
    when = ql.Date(settle.day, settle.month, settle.year)
    ql.Settings.instance().evaluationDate = when
    theirs = ql.CashFlows.yieldRate(
        leg, paid, ql.Actual365Fixed(), kind, freq, False, when, when, 1e-14, 999, 0.05
    )
    assert abs(result.irr - theirs) <= 1e-8, f"absstruct {result.irr!r} vs QuantLib {theirs!r}"
    # And by hand: bond-equivalent from the annual effective rate.
    if compounding == "semiannual":
        assert result.irr == pytest.approx(2 * ((1 + result.irr_annual_effective) ** 0.5 - 1))
    ours = yield_from_price(
        flows, settlement=settle, price=100 * paid / 100, face=100, convention=result.convention
    )
    assert abs(ours.yield_ - result.irr) <= 1e-9
    assert result.multiple == pytest.approx(flows.total.sum() / paid)


def test_residual_that_returns_nothing_and_bad_price() -> None:
    nothing = CashFlows(dates=["2025-01-01"], interest=[0.0], principal=[0.0])
    r = residual_irr(nothing, settlement="2024-01-01", purchase_price=10.0)
    assert r.irr_annual_effective == -1.0 and r.multiple == 0.0
    with pytest.raises(PricingError, match=r"purchase_price: 0.0 must be above 0"):
        residual_irr(nothing, settlement="2024-01-01", purchase_price=0.0)


def test_z_spread_on_a_flat_curve_is_the_yield_difference() -> None:
    convention = Convention(compounding="semiannual", day_count="30/360")
    priced = price_from_yield(FLOWS, settlement=SETTLE, yield_=0.065, convention=convention)
    flat = RateCurve(tenors=(1.0, 5.0), rates=(0.04, 0.04), compounding="semiannual")
    spread = z_spread(FLOWS, settlement=SETTLE, price=priced.price, curve=flat)
    assert spread.spread == pytest.approx(0.025, abs=1e-12)
    assert (spread.compounding, spread.day_count) == ("semiannual", "30/360")


def test_z_spread_round_trips_on_a_sloped_curve() -> None:
    curve = RateCurve(tenors=(0.25, 1.0, 2.0, 5.0), rates=(0.05, 0.045, 0.042, 0.04))
    for target in (0.0, 0.0123, -0.004):
        price = price_from_z_spread(FLOWS, settlement=SETTLE, spread=target, curve=curve).price
        solved = z_spread(FLOWS, settlement=SETTLE, price=price, curve=curve)
        assert solved.spread == pytest.approx(target, abs=1e-12)


def test_i_spread_is_yield_minus_curve_at_wal() -> None:
    curve = RateCurve(tenors=(1.0, 3.0), rates=(0.04, 0.05), compounding="annual")
    priced = price_from_yield(FLOWS, settlement=SETTLE, yield_=0.06)
    benchmark = convert_rate(0.04 + 0.005 * (priced.wal - 1.0), "annual", "semiannual")
    result = i_spread(priced, curve)
    assert result.benchmark_rate == pytest.approx(benchmark, abs=1e-15)
    assert result.spread == pytest.approx(0.06 - benchmark, abs=1e-15)
    again = price_from_i_spread(FLOWS, settlement=SETTLE, curve=curve, spread=result.spread)
    assert again.price == pytest.approx(priced.price, abs=1e-10)
    assert flat_spread(priced, 0.05).spread == pytest.approx(0.01)


NOTE = FloatingNote(face=1000.0, margin=0.015, accrual_start="2024-01-15", day_count="ACT/360")
DATES = ["2024-04-15", "2024-07-15", "2024-10-15", "2025-01-15"]
PRINCIPAL = [250.0, 250.0, 250.0, 250.0]


def test_floater_at_its_margin_on_a_reset_date_is_par() -> None:
    for index in (
        0.05,
        RateCurve(tenors=(0.25, 1.0), rates=(0.05, 0.055), compounding="continuous"),
    ):
        r = price_from_discount_margin(
            NOTE,
            dates=DATES,
            principal=PRINCIPAL,
            settlement=SETTLE,
            index=index,
            discount_margin=NOTE.margin,
        )
        assert r.price == pytest.approx(100.0, abs=1e-10)


def test_discount_margin_by_hand_and_round_trip() -> None:
    # Flat 5% index: coupons at 5% + 1.5% margin, each period discounted at 1 + (5% + 2%) tau.
    tau = np.array([91, 91, 92, 92]) / 360
    balance = np.array([1000.0, 750.0, 500.0, 250.0])
    cash = balance * 0.065 * tau + 250.0
    value = np.sum(cash / np.cumprod(1 + 0.07 * tau))
    r = price_from_discount_margin(
        NOTE, dates=DATES, principal=PRINCIPAL, settlement=SETTLE, index=0.05, discount_margin=0.02
    )
    assert r.price == pytest.approx(value / 10, abs=1e-12)
    solved = discount_margin(
        NOTE, dates=DATES, principal=PRINCIPAL, settlement=SETTLE, index=0.05, price=r.price
    )
    assert solved.spread == pytest.approx(0.02, abs=1e-12)


def test_spread_errors() -> None:
    with pytest.raises(PricingError, match=r"price: 0 must be above 0"):
        z_spread(FLOWS, settlement=SETTLE, price=0, curve=RateCurve(tenors=(1.0,), rates=(0.04,)))
    with pytest.raises(PricingError, match=r"floater: need accrual_start 2024-01-15 <= settlement"):
        discount_margin(
            NOTE, dates=DATES, principal=PRINCIPAL, settlement="2023-12-01", index=0.05, price=99.0
        )
    with pytest.raises(PricingError, match=r"face: -1.0 must be above 0"):
        FloatingNote(face=-1.0, margin=0.01, accrual_start=SETTLE)
