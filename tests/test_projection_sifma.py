"""SIFMA Standard Formulas "Cash Flow A" (SDA example) reproduced through the public API."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from absstruct.curves import Assumptions
from absstruct.projection import project

# Published totals (reference README), to the dollar.
TOTALS = {
    "new_defaults": 47_576_640,
    "expected_amortization": 5_510_477,
    "voluntary_prepayments": 47_527_662,
    "amortization_from_defaults": 614_780,
    "actual_amortization": 4_895_697,
    "principal_recovery": 37_446_547,
    "principal_loss": 9_515_314,
    "amortized_default_balance_in_recovery": 46_961_860,
}
COLUMNS = [
    "performing_balance",
    "new_defaults",
    "in_foreclosure",
    "expected_amortization",
    "voluntary_prepayments",
    "amortization_from_defaults",
    "actual_amortization",
    "expected_interest",
    "interest_lost",
    "actual_interest",
    "principal_recovery",
    "principal_loss",
    "amortized_default_balance_in_recovery",
]
POOL = pd.DataFrame(
    {
        "loan_id": ["sda"],
        "current_balance": [100_000_000.0],
        "original_balance": [1e8],
        "rate": [0.08],
        "original_term": [360],
        "remaining_term": [360],
        "amortization": ["level_pay"],
    }
)
CASH_FLOW_A = Assumptions(prepay="SMM 1%", default="MDR 1%", severity="20%", lag=12, advance=True)


@pytest.fixture(scope="module")
def reference(sifma_cashflow_a_path) -> pd.DataFrame:
    return pd.read_csv(sifma_cashflow_a_path).iloc[1:].fillna(0.0).reset_index(drop=True)


@pytest.mark.parametrize("method", ["cohort", "loan"])
def test_every_row_to_the_dollar(reference: pd.DataFrame, method: str) -> None:
    frame = project(POOL, CASH_FLOW_A, method=method).frame(0)
    assert len(frame) == len(reference) == 360
    for column in COLUMNS:
        gap = np.abs(frame[column].to_numpy() - reference[column].to_numpy())
        worst = int(np.argmax(gap))
        assert gap[worst] <= 1.0, (
            f"{column} month {worst + 1}: expected {reference[column].iloc[worst]:,.0f}, "
            f"calculated {frame[column].iloc[worst]:,.2f}"
        )


@pytest.mark.parametrize("method", ["cohort", "loan"])
def test_published_totals(method: str) -> None:
    frame = project(POOL, CASH_FLOW_A, method=method).frame(0)
    for column, published in TOTALS.items():
        calculated = frame[column].sum()
        assert abs(calculated - published) <= 1.0, (
            f"{column}: published {published:,}, calculated {calculated:,.2f}"
        )


def test_rates_columns_match(reference: pd.DataFrame) -> None:
    """The reference's MDR column: no new defaults in the last 12 (lag) months."""
    frame = project(POOL, CASH_FLOW_A).frame(0)
    implied = frame["new_defaults"] / frame["performing_balance"].shift(1, fill_value=1e8)
    assert np.allclose(implied, reference["monthly_default_rate"], atol=1e-12)


def test_cash_columns_follow_advancing() -> None:
    flows = project(POOL, [CASH_FLOW_A, CASH_FLOW_A.replace(advance=False)], names=["a", "n"])
    adv = flows.frame(0)
    expected_principal = (
        adv["actual_amortization"]
        + adv["voluntary_prepayments"]
        + adv["principal_recovery"]
        + adv["amortization_from_defaults"]
    )
    assert np.allclose(adv["principal_collections"], expected_principal)
    assert np.allclose(adv["interest_collections"], adv["expected_interest"])
    plain = flows.frame(1)
    assert plain["amortization_from_defaults"].abs().max() == 0.0
    # Without advancing the defaulted balance is liquidated unamortized: loss = 20% of it.
    assert np.isclose(plain["principal_loss"].sum(), 0.2 * plain["new_defaults"].sum())
    assert np.allclose(plain["interest_collections"], plain["actual_interest"])
