"""Cross-check price/yield, durations and convexity against QuantLib on random schedules.

QuantLib discounts each flow stepwise over consecutive payment dates while absstruct measures
time from settlement; the two agree exactly for additive day counts, so the generated payment
days stay on 1-28 (30/360 bond basis is additive there).
"""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
import pytest

from absstruct.pricing import CashFlows, Convention, price_from_yield, yield_from_price

ql = pytest.importorskip("QuantLib")

DAY_COUNTERS = {
    "30/360": lambda: ql.Thirty360(ql.Thirty360.BondBasis),
    "ACT/360": ql.Actual360,
    "ACT/365F": ql.Actual365Fixed,
    "ACT/ACT": lambda: ql.ActualActual(ql.ActualActual.ISDA),
}
COMPOUNDING = {
    "monthly": (ql.Compounded, ql.Monthly),
    "quarterly": (ql.Compounded, ql.Quarterly),
    "semiannual": (ql.Compounded, ql.Semiannual),
    "annual": (ql.Compounded, ql.Annual),
    "continuous": (ql.Continuous, ql.Annual),
}
CASES = [
    (3 * i + k, day_count, compounding)
    for i, (day_count, compounding) in enumerate(itertools.product(DAY_COUNTERS, COMPOUNDING))
    for k in range(3)
]


def _schedule(seed: int) -> tuple[dt.date, CashFlows, float]:
    """A random amortizing note: monthly or quarterly dates, level or lumpy principal."""
    rng = np.random.default_rng(seed)
    settlement = dt.date(2020, 1, 1) + dt.timedelta(days=int(rng.integers(0, 3000)))
    day = int(rng.integers(1, 29))
    step = int(rng.choice([1, 3]))
    n = int(rng.integers(1, 120 // step + 1))
    first_month = settlement.year * 12 + settlement.month  # the month after settlement
    dates = []
    for k in range(n):
        months = first_month + k * step
        dates.append(dt.date(months // 12, months % 12 + 1, day))
    if rng.random() < 0.3:  # a flow on the settlement date belongs to the seller
        dates.insert(0, settlement)
    face = float(rng.uniform(1e5, 1e8))
    weights = rng.random(len(dates)) * (rng.random(len(dates)) < 0.8)
    weights[-1] += 0.1
    principal = face * weights / weights.sum()
    balance = face - np.concatenate([[0.0], np.cumsum(principal)[:-1]])
    coupon = float(rng.uniform(0.0, 0.12))
    interest = balance * coupon * step / 12
    price = float(rng.uniform(70, 130))
    return settlement, CashFlows(dates=dates, interest=interest, principal=principal), price


def _leg(flows: CashFlows) -> ql.Leg:
    leg = ql.Leg()
    for date, amount in zip(flows.dates.tolist(), flows.total.tolist(), strict=True):
        leg.append(ql.SimpleCashFlow(amount, ql.Date(date.day, date.month, date.year)))
    return leg


@pytest.mark.parametrize(("seed", "day_count", "compounding"), CASES)
def test_yield_durations_and_convexity_match_quantlib(
    seed: int, day_count: str, compounding: str
) -> None:
    settlement, flows, price = _schedule(seed)
    convention = Convention(compounding=compounding, day_count=day_count)
    result = yield_from_price(flows, settlement=settlement, price=price, convention=convention)

    settle = ql.Date(settlement.day, settlement.month, settlement.year)
    ql.Settings.instance().evaluationDate = settle
    counter = DAY_COUNTERS[day_count]()
    kind, frequency = COMPOUNDING[compounding]
    leg = _leg(flows)
    ql_yield = ql.CashFlows.yieldRate(
        leg, result.present_value, counter, kind, frequency, False, settle, settle, 1e-15, 999, 0.05
    )
    quote = (result.yield_, counter, kind, frequency)
    ql_modified = ql.CashFlows.duration(leg, *quote, ql.Duration.Modified, False, settle, settle)
    ql_convexity = ql.CashFlows.convexity(leg, *quote, False, settle, settle)
    # QuantLib's Macaulay needs a compounded rate; continuously, Macaulay is its "simple".
    macaulay = ql.Duration.Simple if compounding == "continuous" else ql.Duration.Macaulay
    ql_macaulay = ql.CashFlows.duration(leg, *quote, macaulay, False, settle, settle)

    pairs = {
        "yield": (result.yield_, ql_yield),
        "macaulay": (result.macaulay, ql_macaulay),
        "modified": (result.modified, ql_modified),
        "convexity": (result.convexity, ql_convexity),
    }
    for name, (ours, theirs) in pairs.items():
        tolerance = 1e-8 * max(1.0, abs(theirs))
        assert abs(ours - theirs) <= tolerance, f"{name}: absstruct {ours!r} vs QuantLib {theirs!r}"


@pytest.mark.parametrize("seed", range(20))
def test_price_of_the_solved_yield_round_trips(seed: int) -> None:
    settlement, flows, price = _schedule(1000 + seed)
    compounding = ["monthly", "semiannual", "annual", "continuous"][seed % 4]
    convention = Convention(compounding=compounding, day_count=list(DAY_COUNTERS)[seed % 4 - 1])
    solved = yield_from_price(flows, settlement=settlement, price=price, convention=convention)
    again = price_from_yield(
        flows, settlement=settlement, yield_=solved.yield_, convention=convention
    )
    assert abs(again.price - price) <= 1e-10, f"price {price!r} -> {again.price!r}"
