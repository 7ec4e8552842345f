"""Amortization schedules: closed forms against independent loops and numpy-financial."""

from __future__ import annotations

import numpy as np
import numpy_financial as npf
import pandas as pd
import pytest

from absstruct.curves import Assumptions
from absstruct.projection import project, project_loans
from absstruct.projection.schedules import LoanArrays, flat_fee_apr, level_payment, materialize


@pytest.mark.parametrize(
    ("balance", "rate", "months"),
    [
        (100_000_000, 0.08, 360),
        (25_000, 0.1299, 36),
        (5_000, 0.24, 12),
        (1_000, 0.0, 10),
        (300_000, 0.035, 180),
        (12_345.67, 0.0001, 60),
    ],
)
def test_level_payment_matches_numpy_financial(balance: float, rate: float, months: int) -> None:
    expected = -npf.pmt(rate / 12, months, balance)
    assert level_payment(balance, rate, months) == pytest.approx(expected, rel=1e-12)
    loans = LoanArrays.from_columns(
        balance=[balance], rate=[rate], remaining=[months], age=[0], amortization=["level_pay"]
    )
    s = materialize(loans, np.arange(1), n_periods=months)
    payment = (s.principal[0] + s.interest[0]) * balance
    assert np.allclose(payment, expected, rtol=1e-9), (payment[:3], expected)


def _loop_schedule(balance, rate, n, kind, p=1, balloon=0.0):
    """Independent month-by-month amortization (payments every p months)."""
    q = rate * p / 12
    m = -(-n // p)
    out, b = [balance], balance
    payment = None
    for t in range(1, n + 1):
        if (n - t) % p == 0:  # a payment month
            k_left = -(-(n - t + 1) // p)  # payments left including this one
            interest = b * q
            if kind == "level_pay":
                if payment is None:
                    payment = b / m if q == 0 else b * q / (1 - (1 + q) ** -m)
                principal = payment - interest
            elif kind == "balloon":
                if payment is None:
                    payment = (
                        (b - balloon) / m
                        if q == 0
                        else (b - balloon * (1 + q) ** -m) * q / (1 - (1 + q) ** -m)
                    )
                principal = payment - interest if k_left > 1 else b
            elif kind in ("equal_principal", "flat_fee"):
                principal = balance / m
            else:
                principal = b if k_left == 1 else 0.0
            b = b - principal
        out.append(max(b, 0.0) if abs(b) > 1e-9 else 0.0)
    return np.array(out)


@pytest.mark.parametrize(
    ("kind", "rate", "n", "p", "balloon"),
    [
        ("level_pay", 0.09, 24, 1, 0.0),
        ("level_pay", 0.0, 7, 1, 0.0),
        ("equal_principal", 0.12, 12, 1, 0.0),
        ("flat_fee", 0.0, 6, 1, 0.0),
        ("interest_only", 0.07, 9, 1, 0.0),
        ("balloon", 0.06, 36, 1, 400.0),
        ("balloon", 0.0, 10, 1, 250.0),
        ("level_pay", 0.08, 24, 3, 0.0),
        ("equal_principal", 0.1, 12, 6, 0.0),
        ("interest_only", 0.05, 24, 12, 0.0),
        ("level_pay", 0.08, 23, 3, 0.0),
    ],
)
def test_closed_form_matches_loop(kind, rate, n, p, balloon) -> None:
    loans = LoanArrays.from_columns(
        balance=[1000.0],
        rate=[rate],
        remaining=[n],
        age=[0],
        amortization=[kind],
        period_months=[p],
        balloon=[balloon / 1000.0],
    )
    s = materialize(loans, np.arange(1), n_periods=n + 2)
    expected = np.r_[_loop_schedule(1000.0, rate, n, kind, p, balloon), 0.0, 0.0]
    assert np.allclose(s.balance[0] * 1000, expected, atol=1e-8), (s.balance[0] * 1000, expected)


def _tape(**columns) -> pd.DataFrame:
    base = {
        "loan_id": ["a", "b", "c", "d"],
        "current_balance": [1000.0, 500.0, 800.0, 50.0],
        "original_balance": [1200.0, 500.0, 1000.0, 100.0],
        "rate": [0.1, 0.18, 0.0, 0.2],
        "original_term": [24, 12, 12, 6],
        "remaining_term": [20, 12, 9, 0],
        "amortization": ["level_pay", "flat_fee", "equal_principal", "level_pay"],
        "fee_rate": [0.0, 0.005, 0.0, 0.0],
    }
    base.update(columns)
    return pd.DataFrame(base)


@pytest.mark.parametrize("method", ["cohort", "loan"])
def test_zero_speeds_reproduce_scheduled_amortization_exactly(method: str) -> None:
    tape = _tape()
    flows = project(tape, Assumptions(), method=method).frame(0)
    loans = LoanArrays.from_tape(tape)
    s = materialize(loans, np.arange(4), n_periods=len(flows))
    scheduled = (s.principal * loans.balance[:, None]).sum(axis=0)
    assert np.allclose(flows["actual_amortization"], scheduled, rtol=0, atol=1e-9)
    assert np.allclose(flows["expected_amortization"], scheduled, rtol=0, atol=1e-9)
    for name in ("new_defaults", "voluntary_prepayments", "principal_loss", "interest_lost"):
        assert flows[name].abs().max() == 0.0, name
    # A past-maturity loan (remaining 0) pays its balance in period 1.
    assert flows["actual_amortization"].iloc[0] >= 50.0
    # Flat fee: 0.5% of the original 500 each month for 12 months.
    assert flows["fee_income"].sum() == pytest.approx(0.005 * 500 * 12)


def test_flat_fee_apr_matches_irr() -> None:
    flows = [-1.0] + [1 / 12 + 0.006] * 12
    assert flat_fee_apr(0.006, 12) == pytest.approx(12 * npf.irr(flows), abs=1e-8)


@pytest.mark.parametrize("capitalize", [True, False])
def test_payment_holiday_defers_and_extends(capitalize: bool) -> None:
    tape = _tape().iloc[:1]
    holiday = {"share": "100%", "start": 3, "months": 4, "capitalize": capitalize}
    base = project(tape, Assumptions()).frame(0)
    held = project(tape, Assumptions(holiday=holiday)).frame(0)
    assert len(held) == len(base) + 4  # maturity extends by the holiday
    assert held["actual_amortization"].iloc[2:6].abs().max() == 0.0
    assert held["actual_interest"].iloc[2:6].abs().max() == 0.0
    paid = held["actual_amortization"].sum()
    cap = held["capitalized_interest"].sum()
    assert paid == pytest.approx(1000.0 + cap)
    if capitalize:
        assert cap == pytest.approx(base["performing_balance"].iloc[1] * ((1 + 0.1 / 12) ** 4 - 1))
    else:
        assert cap == 0.0
        lump = held["actual_interest"].iloc[6] - base["actual_interest"].iloc[2]
        assert lump == pytest.approx(base["performing_balance"].iloc[1] * 0.1 / 12 * 4)
    loan = project_loans(tape, Assumptions(holiday=holiday))
    assert np.allclose(loan["performing_balance"].sum(axis=0), held["performing_balance"])
