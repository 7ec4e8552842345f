"""Price/yield: hand-checked values, properties, vectorized kernels, quotes and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absstruct.compounding import convert_rate
from absstruct.errors import PricingError
from absstruct.pricing import (
    Accrual,
    CashFlows,
    Convention,
    accrued_interest,
    price_from_yield,
    principal_window,
    results_frame,
    solve_yield_kernel,
    weighted_average_life,
    yield_from_price,
)
from absstruct.quotes import check_tranches, parse_price_map, parse_spread_map, parse_yield_map

SEMI = Convention(compounding="semiannual", day_count="30/360")
# 2-year 6% semiannual bullet on 100 face, settled on its issue date.
BULLET = CashFlows(
    dates=["2024-07-15", "2025-01-15", "2025-07-15", "2026-01-15"],
    interest=[3.0, 3.0, 3.0, 3.0],
    principal=[0.0, 0.0, 0.0, 100.0],
)
# Level amortizing: 25 of principal a year for 4 years, annual dates.
AMORTIZING = CashFlows(
    dates=["2025-01-01", "2026-01-01", "2027-01-01", "2028-01-01"],
    interest=[0.0, 0.0, 0.0, 0.0],
    principal=[25.0, 25.0, 25.0, 25.0],
)


@pytest.mark.parametrize(
    ("yield_", "price"),
    [
        (0.06, 100.0),
        # 3 * annuity(2.5%, 4) + 100 * 1.025^-4
        (0.05, 3 * (1 - 1.025**-4) / 0.025 + 100 * 1.025**-4),
        (0.08, 3 * (1 - 1.04**-4) / 0.04 + 100 * 1.04**-4),
        (0.0, 112.0),
    ],
)
def test_bullet_price_matches_the_annuity_formula(yield_: float, price: float) -> None:
    result = price_from_yield(BULLET, settlement="2024-01-15", yield_=yield_, convention=SEMI)
    assert result.price == pytest.approx(price, abs=1e-11)
    back = yield_from_price(BULLET, settlement="2024-01-15", price=price, convention=SEMI)
    assert back.yield_ == pytest.approx(yield_, abs=1e-12)


def test_bullet_durations_by_hand() -> None:
    r = price_from_yield(BULLET, settlement="2024-01-15", yield_=0.06, convention=SEMI)
    v = 1.03 ** -np.arange(1, 5)
    t = np.array([0.5, 1.0, 1.5, 2.0])
    cf = np.array([3.0, 3.0, 3.0, 103.0])
    macaulay = np.sum(t * cf * v) / 100
    assert r.macaulay == pytest.approx(macaulay, abs=1e-12)
    assert r.modified == pytest.approx(macaulay / 1.03, abs=1e-12)
    convexity = np.sum(cf * v * t * (t + 0.5)) / 1.03**2 / 100
    assert r.convexity == pytest.approx(convexity, abs=1e-12)
    # Effective measures from a +-25bp re-pricing agree with the analytic ones to O(bump^2).
    assert r.effective_duration == pytest.approx(r.modified, rel=1e-4)
    assert r.effective_convexity == pytest.approx(r.convexity, rel=1e-3)
    assert r.wal == 2.0 and r.convention == SEMI


def test_wal_principal_window_and_face_default() -> None:
    assert weighted_average_life(AMORTIZING, settlement="2024-01-01") == pytest.approx(2.5)
    # After the first payment, 3 payments at 1, 2, 3 years from 2025-01-01.
    assert weighted_average_life(AMORTIZING, settlement="2025-01-01") == pytest.approx(2.0)
    first, last = principal_window(AMORTIZING, settlement="2025-06-30")
    assert (str(first), str(last)) == ("2026-01-01", "2028-01-01")
    r = price_from_yield(AMORTIZING, settlement="2025-01-01", yield_=0.0)
    assert r.face == 75.0 and r.price == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("coupon", "start", "settle", "day_count", "accrued"),
    [
        (0.06, "2024-01-15", "2024-02-15", "30/360", 0.5),
        (0.05, "2024-05-25", "2024-06-04", "ACT/360", 100 * 0.05 * 10 / 360),
        (0.073, "2024-01-31", "2024-03-31", "30/360", 100 * 0.073 * 60 / 360),
        (0.04, "2024-06-04", "2024-06-04", "ACT/365F", 0.0),
    ],
)
def test_accrued_interest(coupon, start, settle, day_count, accrued) -> None:
    accrual = Accrual(coupon=coupon, start=start, day_count=day_count)
    assert accrued_interest(accrual, settlement=settle) == pytest.approx(accrued, abs=1e-13)


def test_clean_plus_accrued_is_dirty() -> None:
    accrual = Accrual(coupon=0.06, start="2024-01-15")
    r = yield_from_price(BULLET, settlement="2024-02-15", price=99.0, accrual=accrual, face=100.0)
    assert r.accrued == pytest.approx(0.5) and r.clean == r.price == pytest.approx(99.0)
    assert r.dirty == pytest.approx(99.5) and r.present_value == pytest.approx(99.5)


@pytest.mark.parametrize("y", [0.02, 0.05, 0.1])
def test_monthly_yield_is_the_mortgage_conversion_of_bey(y: float) -> None:
    monthly = Convention(compounding="monthly", day_count="30/360")
    bey = yield_from_price(AMORTIZING, settlement="2024-01-01", price=90.0, convention=SEMI)
    mortgage = yield_from_price(AMORTIZING, settlement="2024-01-01", price=90.0, convention=monthly)
    assert mortgage.yield_ == pytest.approx(12 * ((1 + bey.yield_ / 2) ** (1 / 6) - 1), abs=1e-13)
    assert convert_rate(y, "semiannual", "monthly") == pytest.approx(
        12 * ((1 + y / 2) ** (1 / 6) - 1), abs=1e-15
    )


@settings(max_examples=60, deadline=None)
@given(
    price=st.floats(20.0, 300.0),
    coupon=st.floats(0.0, 0.2),
    n=st.integers(1, 60),
    compounding=st.sampled_from(["monthly", "semiannual", "annual", "continuous"]),
)
def test_round_trip_and_monotone(price: float, coupon: float, n: int, compounding: str) -> None:
    dates = np.datetime64("2024-02-20") + 30 * np.arange(1, n + 1).astype("timedelta64[D]")
    principal = np.full(n, 100.0 / n)
    balance = 100.0 - np.concatenate([[0.0], np.cumsum(principal)[:-1]])
    flows = CashFlows(dates=dates, interest=balance * coupon / 12, principal=principal)
    convention = Convention(compounding=compounding, day_count="ACT/365F")
    solved = yield_from_price(flows, settlement="2024-01-20", price=price, convention=convention)
    again = price_from_yield(
        flows, settlement="2024-01-20", yield_=solved.yield_, convention=convention
    )
    assert abs(again.price - price) <= 1e-10
    higher = price_from_yield(
        flows, settlement="2024-01-20", yield_=solved.yield_ + 0.001, convention=convention
    )
    assert higher.price < price


def test_vectorized_kernel_matches_one_at_a_time() -> None:
    rng = np.random.default_rng(3)
    times = np.linspace(1 / 12, 5, 60)
    amounts = rng.uniform(0, 10, (50, 60))
    amounts[5] = 0.0  # a scenario with nothing left to pay: no yield
    pv = rng.uniform(50, 400, 50)
    together = solve_yield_kernel(times, amounts, pv, 2)
    for row in range(50):
        alone = solve_yield_kernel(times, amounts[row], pv[row], 2)
        np.testing.assert_allclose(together[row], alone, rtol=1e-13, atol=1e-15)
    assert np.isnan(together[5]) and np.all(np.isfinite(np.delete(together, 5)))


def test_results_frame_states_the_convention() -> None:
    r = price_from_yield(BULLET, settlement="2024-01-15", yield_=0.05, convention=SEMI)
    frame = results_frame({"A": r})
    assert frame.loc[0, "tranche"] == "A" and frame.loc[0, "yield"] == 0.05
    assert (frame.loc[0, "compounding"], frame.loc[0, "day_count"]) == ("semiannual", "30/360")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: yield_from_price(BULLET, settlement="2024-01-15", price=0.0),
            r"price: 0.0 must be above 0",
        ),
        (
            lambda: yield_from_price(BULLET, settlement="2024-01-15", price=-5),
            r"price: -5 must be above 0",
        ),
        (
            lambda: yield_from_price(
                CashFlows(dates=["2025-01-01"], interest=[0.0], principal=[0.0]),
                settlement="2024-01-01",
                price=99.0,
                face=100.0,
            ),
            r"no yield solves price 99.0: every cash flow after settlement is 0",
        ),
        (
            lambda: yield_from_price(BULLET, settlement="2026-06-01", price=99.0),
            r"no cash flow after settlement 2026-06-01",
        ),
        (
            lambda: yield_from_price(
                CashFlows(dates=["2025-01-01", "2026-01-01"], interest=[5, -1], principal=[90, 0]),
                settlement="2024-01-01",
                price=99.0,
            ),
            r"no unique yield for price 99.0: 1 cash flow\(s\) after settlement are negative",
        ),
        (
            lambda: price_from_yield(BULLET, settlement="2024-01-15", yield_=-2.5),
            r"yield: -2.5 is not a usable semiannual yield",
        ),
        (
            lambda: Convention(compounding="daily", day_count="ACT/364"),
            r"convention: 2 problems\n  compounding: 'daily' is not a compounding; allowed: "
            r"monthly, quarterly, semiannual, annual, continuous\n"
            r"  day_count: 'ACT/364' is not a day count",
        ),
        (
            lambda: CashFlows(
                dates=["2025-01-01", "2024-01-01"], interest=[1, 1], principal=[0, 1]
            ),
            r"dates\[1\]: '2024-01-01' is before dates\[0\] 2025-01-01",
        ),
        (
            lambda: CashFlows(dates=["2025-01-01"], interest=[1, 2], principal=[0]),
            r"have 1 dates, 2 interest and 1 principal amounts",
        ),
        (
            lambda: CashFlows(dates=["2025-01-01"], interest=[float("nan")], principal=[0]),
            r"interest\[0\]: nan is not a finite amount",
        ),
        (
            lambda: accrued_interest(
                Accrual(coupon=0.05, start="2024-03-01"), settlement="2024-02-01"
            ),
            r"accrual.start: 2024-03-01 is after settlement 2024-02-01",
        ),
        (
            lambda: price_from_yield(BULLET, settlement="2024-01-15", yield_=0.05, face=0),
            r"face: 0 must be above 0",
        ),
    ],
)
def test_bad_inputs_raise_clear_pricing_errors(call, message: str) -> None:
    with pytest.raises(PricingError, match=message):
        call()


def test_quote_maps() -> None:
    assert parse_price_map("A=99.5,B=98") == {"A": 99.5, "B": 98.0}
    assert parse_price_map("A=99-16+") == {"A": 99 + 16.5 / 32}
    assert parse_yield_map("A=3.1%, B=450bp") == {"A": 0.031, "B": 0.045}
    assert parse_spread_map("A=120bp,B=-0.25%") == {"A": 0.012, "B": -0.0025}


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (parse_price_map, "A=99.5,B", r"--price: 1 problem\n  item 2: 'B' is not TRANCHE=VALUE"),
        (parse_price_map, "A=0", r"item 1: 'A=0' price '0' must be above 0"),
        (parse_price_map, "A=99-32", r"has 32 32nds; at most 31"),
        (parse_price_map, "A=99,A=98", r"item 2: 'A=98' repeats tranche 'A'"),
        (
            parse_yield_map,
            "A=3.1",
            r"--yield: 1 problem\n  item 1: 'A=3.1' yield '3.1' needs a unit",
        ),
        (parse_spread_map, "A=12xbp,B=", r"--spread: 2 problems"),
        (parse_spread_map, "", r"--spread: empty"),
    ],
)
def test_bad_quotes_name_the_item(parse, text: str, message: str) -> None:
    with pytest.raises(PricingError, match=message):
        parse(text)


def test_unknown_tranche_is_named() -> None:
    with pytest.raises(
        PricingError, match=r"--yield: unknown tranches 'X', 'Y'; the deal has A, B"
    ):
        check_tranches({"A": 0.03, "X": 0.04, "Y": 0.05}, ["A", "B"], option="--yield")
    check_tranches({"A": 99.0}, ["A", "B"], option="--price")
