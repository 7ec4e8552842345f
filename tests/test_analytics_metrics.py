"""Tranche metrics from a waterfall Result against the scalar pricing API, hand-checked flows."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from absstruct.analytics.metrics import Quotes, tranche_metrics, z_spread_kernel
from absstruct.deal import parse_deal
from absstruct.errors import PricingError
from absstruct.pricing import CashFlows, Convention, price_from_yield, yield_from_price
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
from absstruct.ratecurve import RateCurve
from absstruct.spreads import residual_irr, z_spread
from absstruct.waterfall import run

DEAL = parse_deal(
    """
schema_version = 1
name = "three-period demo"
[dates]
cutoff = 2026-06-30
closing = 2026-06-30
first_payment = 2026-07-31
legal_final = 2026-09-30
roll = "none"
[[tranches]]
name = "A"
size = 90.0
coupon = 0.12
[[tranches]]
name = "R"
kind = "residual"
size = 10.0
[[waterfall.interest]]
step = "pay_interest"
tranche = "A"
[[waterfall.principal]]
step = "pay_principal"
tranche = "A"
[[waterfall.principal]]
step = "pay_principal"
tranche = "R"
[[waterfall.interest]]
step = "pay_residual"
"""
)


def _flows(principal_rows: list[list[float]]) -> PoolFlows:
    S = len(principal_rows)
    arrays = {c: np.zeros((S, 3)) for c in POOL_COLUMNS}
    arrays["principal_collections"][:] = principal_rows
    arrays["interest_collections"][:] = 2.0
    balance = 100.0 - np.cumsum(np.asarray(principal_rows), axis=1)
    arrays["performing_balance"][:] = balance
    return PoolFlows(
        arrays=arrays,
        initial_balance=100.0,
        scenario_names=tuple(f"s{i}" for i in range(S)),
    )


RESULT = run(DEAL, _flows([[30.0, 30.0, 40.0], [60.0, 40.0, 0.0]]))
DATES = list(RESULT.payment_dates)


def _cash(name: str, s: int) -> CashFlows:
    ledger = RESULT.tranches[name]
    return CashFlows(
        dates=DATES,
        interest=ledger["interest_paid"][s] + ledger["residual_paid"][s],
        principal=ledger["principal_paid"][s],
    )


def test_hand_checked_ledger_feeds_the_metrics():
    # 90 at 12%/12 = 0.9 interest in period 1; principal 30, 30, 30 (A is paid first).
    table = tranche_metrics(RESULT, DEAL)
    a = table[(table.tranche == "A") & (table.scenario == "s0")].iloc[0]
    assert RESULT.tranches["A"]["interest_paid"][0, 0] == pytest.approx(0.9)
    assert a["first_principal_date"] == dt.date(2026, 7, 31)
    assert a["last_principal_date"] == dt.date(2026, 9, 30)
    assert a["principal_loss"] == 0.0
    assert a["convention"] == "semiannual 30/360"
    # WAL: 30/360 years 1/12, 2/12, 3/12 with 30 each -> 2/12.
    assert a["wal"] == pytest.approx(2 / 12, abs=1e-12)


@pytest.mark.parametrize("price", [95.0, 99.5, 100.0, 101.25])
@pytest.mark.parametrize("scenario", [0, 1])
def test_price_quote_matches_the_scalar_api(price, scenario):
    table = tranche_metrics(RESULT, DEAL, quotes=Quotes(prices={"A": price}))
    row = table[(table.tranche == "A") & (table.scenario == f"s{scenario}")].iloc[0]
    expected = yield_from_price(
        _cash("A", scenario),
        settlement=DEAL.dates.closing,
        price=price,
        convention=Convention(compounding="semiannual", day_count="30/360"),
    )
    for column, value in (
        ("yield", expected.yield_),
        ("macaulay_duration", expected.macaulay),
        ("modified_duration", expected.modified),
        ("convexity", expected.convexity),
        ("wal", expected.wal),
    ):
        assert row[column] == pytest.approx(value, rel=1e-10, abs=1e-12), (
            f"{column}: expected {value!r}, calculated {row[column]!r}"
        )


@pytest.mark.parametrize("yield_", [0.0, 0.05, 0.12, 0.30])
def test_yield_quote_round_trips_to_price(yield_):
    table = tranche_metrics(RESULT, DEAL, quotes=Quotes(yields={"A": yield_}))
    row = table[(table.tranche == "A") & (table.scenario == "s1")].iloc[0]
    expected = price_from_yield(_cash("A", 1), settlement=DEAL.dates.closing, yield_=yield_)
    assert row["price"] == pytest.approx(expected.price, rel=1e-12)
    again = tranche_metrics(RESULT, DEAL, quotes=Quotes(prices={"A": float(row["price"])}))
    solved = again[(again.tranche == "A") & (again.scenario == "s1")].iloc[0]["yield"]
    assert solved == pytest.approx(yield_, abs=1e-10)


def test_z_spread_matches_scalar_solver_and_spread_quote_round_trips():
    curve = RateCurve(tenors=(0.1, 0.3), rates=(0.03, 0.04), compounding="semiannual")
    table = tranche_metrics(RESULT, DEAL, quotes=Quotes(prices={"A": 99.0}, curve=curve))
    row = table[(table.tranche == "A") & (table.scenario == "s0")].iloc[0]
    expected = z_spread(_cash("A", 0), settlement=DEAL.dates.closing, price=99.0, curve=curve)
    assert row["z_spread"] == pytest.approx(expected.spread, abs=1e-9)
    quoted = tranche_metrics(
        RESULT, DEAL, quotes=Quotes(spreads={"A": float(row["z_spread"])}, curve=curve)
    )
    back = quoted[(quoted.tranche == "A") & (quoted.scenario == "s0")].iloc[0]
    assert back["price"] == pytest.approx(99.0, abs=1e-7)
    assert back["quote"].startswith("z-spread")


def test_i_spread_on_a_term_curve_prices_at_curve_plus_spread():
    curve = RateCurve(tenors=(0.1, 1.0), rates=(0.02, 0.05), compounding="semiannual", kind="term")
    table = tranche_metrics(RESULT, DEAL, quotes=Quotes(spreads={"A": 0.01}, curve=curve))
    row = table[(table.tranche == "A") & (table.scenario == "s0")].iloc[0]
    assert row["yield"] == pytest.approx(curve.rate(row["wal"]) + 0.01, abs=1e-12)
    assert row["i_spread"] == pytest.approx(0.01, abs=1e-12)


def test_residual_irr_and_multiple_at_its_balance():
    table = tranche_metrics(RESULT, DEAL)
    row = table[(table.tranche == "R") & (table.scenario == "s0")].iloc[0]
    expected = residual_irr(
        _cash("R", 0), settlement=DEAL.dates.closing, purchase_price=10.0, compounding="semiannual"
    )
    assert row["residual_irr"] == pytest.approx(expected.irr, rel=1e-9)
    assert row["residual_multiple"] == pytest.approx(expected.multiple, rel=1e-12)
    assert row["residual_purchase_price"] == 10.0
    assert row["residual_irr_convention"] == "semiannual ACT/365F"


def test_z_spread_kernel_hand_value():
    flat = RateCurve(tenors=(1.0,), rates=(0.05,), compounding="annual")
    spreads = z_spread_kernel(
        np.array([1.0, 2.0]),
        np.array([[6.0, 106.0], [0.0, 100.0]]),
        np.array([6 / 1.07 + 106 / 1.07**2, 100 / 1.08**2]),
        flat,
    )
    assert spreads.tolist() == pytest.approx([0.02, 0.03], abs=1e-12)


@pytest.mark.parametrize(
    ("quotes", "match"),
    [
        (Quotes(prices={"Z": 99.0}), "unknown tranche 'Z'"),
        (Quotes(prices={"A": 0.0}), "must be above 0"),
        (Quotes(prices={"A": 99.0}, yields={"A": 0.03}), "quoted twice"),
        (Quotes(spreads={"A": 0.01}), "needs a rate curve"),
        (Quotes(yields={"A": -2.5}), "must be finite and above -200%"),
    ],
)
def test_bad_quotes_raise(quotes, match):
    with pytest.raises(PricingError, match=match):
        tranche_metrics(RESULT, DEAL, quotes=quotes)


def test_settlement_after_the_last_payment_is_refused():
    with pytest.raises(PricingError, match="on or after the last payment"):
        tranche_metrics(RESULT, DEAL, settlement="2027-01-01")


# ----------------------------------------------------------------- per-scenario quotes

CURVE = RateCurve(tenors=(0.1, 0.3), rates=(0.03, 0.04), compounding="semiannual")
ROWS = [[30.0, 30.0, 40.0], [60.0, 40.0, 0.0], [10.0, 20.0, 70.0], [50.0, 50.0, 0.0]]
PER_SCENARIO = [
    Quotes(prices={"A": 99.0}, curve=CURVE),
    Quotes(yields={"A": 0.07}, curve=CURVE),
    Quotes(spreads={"A": 0.012}, curve=CURVE),
    Quotes(curve=CURVE),  # par
]
MEASURES = ["price", "yield", "wal", "modified_duration", "convexity", "z_spread", "i_spread"]


def test_per_scenario_quotes_equal_one_scenario_at_a_time():
    together = tranche_metrics(run(DEAL, _flows(ROWS)), DEAL, quotes=PER_SCENARIO)
    for s, (row, quotes) in enumerate(zip(ROWS, PER_SCENARIO, strict=True)):
        alone = tranche_metrics(run(DEAL, _flows([row])), DEAL, quotes=quotes)
        got = together[together.scenario == f"s{s}"].reset_index(drop=True)
        assert got["quote"].tolist() == alone["quote"].tolist()
        for column in [*MEASURES, "residual_irr", "residual_multiple"]:
            expected, calculated = alone[column].to_numpy(), got[column].to_numpy()
            assert np.allclose(calculated, expected, rtol=1e-12, atol=1e-13, equal_nan=True), (
                f"scenario {s} {column}: expected {expected}, calculated {calculated}"
            )


def test_per_scenario_quotes_are_reported_as_given():
    table = tranche_metrics(run(DEAL, _flows(ROWS)), DEAL, quotes=PER_SCENARIO)
    a = table[table.tranche == "A"].set_index("scenario")
    assert a.loc["s0", "price"] == 99.0
    assert a.loc["s1", "yield"] == 0.07
    assert a.loc["s2", "z_spread"] == 0.012
    assert a.loc["s3", "price"] == 100.0
    assert a["quote"].tolist() == ["price 99", "yield 7%", "z-spread 120bp", "par"]


@pytest.mark.parametrize(
    ("quotes", "match"),
    [
        (PER_SCENARIO[:3], "3 quotes given for 4 scenarios"),
        ([*PER_SCENARIO[:3], Quotes()], "must all use the same curve"),
        ([*PER_SCENARIO[:3], {"A": 99.0}], "expected Quotes per scenario, got dict"),
        ([*PER_SCENARIO[:3], Quotes(prices={"Z": 1.0}, curve=CURVE)], "unknown tranche 'Z'"),
        ([*PER_SCENARIO[:3], Quotes(yields={"A": -3.0}, curve=CURVE)], "above -200%"),
    ],
)
def test_bad_per_scenario_quotes_raise(quotes, match):
    with pytest.raises(PricingError, match=match):
        tranche_metrics(run(DEAL, _flows(ROWS)), DEAL, quotes=quotes)


@pytest.mark.parametrize("compounding", ["semiannual", "annual", "monthly"])
def test_residual_irr_of_every_scenario_at_once_equals_pyxirr(compounding):
    from absstruct.pricing import Convention as Conv

    result = run(DEAL, _flows(ROWS))
    convention = Conv(compounding=compounding, day_count="30/360")
    table = tranche_metrics(result, DEAL, convention=convention, residual_price=7.5)
    rows = table[table.tranche == "R"].reset_index(drop=True)
    ledger = result.tranches["R"]
    for s in range(len(ROWS)):
        flows = CashFlows(
            dates=list(result.payment_dates),
            interest=ledger["interest_paid"][s] + ledger["residual_paid"][s],
            principal=ledger["principal_paid"][s],
        )
        expected = residual_irr(
            flows, settlement=DEAL.dates.closing, purchase_price=7.5, compounding=compounding
        )
        print(f"s{s}: pyxirr {expected.irr!r}, kernel {rows['residual_irr'][s]!r}")
        assert rows["residual_irr"][s] == pytest.approx(expected.irr, rel=1e-9, abs=1e-12)
        assert rows["residual_multiple"][s] == pytest.approx(expected.multiple, rel=1e-12)


def test_a_residual_returning_nothing_has_minus_100_percent_effective():
    from absstruct.analytics.metrics import _residual_measures

    cash = np.array([[0.0, 0.0, 0.0], [0.0, 0.0, 12.0]])
    dates = [dt.date(2026, 7, 31), dt.date(2026, 8, 31), dt.date(2026, 9, 30)]
    found = _residual_measures(cash, dates, dt.date(2026, 6, 30), 10.0, "semiannual")
    assert found["residual_irr"][0] == -2.0  # (1 - 100%) effective is -200% semiannual
    assert found["residual_multiple"].tolist() == [0.0, 1.2]
    years = (dt.date(2026, 9, 30) - dt.date(2026, 6, 30)).days / 365
    assert found["residual_irr"][1] == pytest.approx(2 * (1.2 ** (1 / (2 * years)) - 1), rel=1e-12)
