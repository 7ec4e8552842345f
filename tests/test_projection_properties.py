"""Property tests: cohort path == loan path, conservation, no negatives, row order."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from absstruct.curves import Assumptions
from absstruct.errors import AssumptionError, TapeError
from absstruct.projection import (
    POOL_COLUMNS,
    RepLine,
    period_dates,
    project,
    project_loans,
    unit_flows,
)

KINDS = ["level_pay", "equal_principal", "interest_only", "balloon", "flat_fee"]
FREQS = ["monthly", "monthly", "quarterly", "semiannual", "annual"]


@st.composite
def tapes(draw) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    rows = []
    for k in range(n):
        original = draw(st.integers(1, 48))
        remaining = draw(st.integers(0, original))
        balance = draw(st.floats(0.0, 50_000.0))
        kind = draw(st.sampled_from(KINDS))
        rows.append(
            {
                "loan_id": f"L{k}",
                "current_balance": balance,
                "original_balance": balance * draw(st.floats(1.0, 2.0)),
                "rate": draw(st.sampled_from([0.0, 0.05, 0.12, 0.3])),
                "original_term": original,
                "remaining_term": remaining,
                "amortization": kind,
                "payment_frequency": draw(st.sampled_from(FREQS)),
                "balloon_amount": balance * 0.3 if kind == "balloon" else 0.0,
                "fee_rate": 0.004 if kind == "flat_fee" else 0.0,
                "grade": draw(st.sampled_from(["A", "B", "C"])),
            }
        )
    return pd.DataFrame(rows)


@st.composite
def scenarios(draw) -> Assumptions:
    values = {
        "prepay": draw(
            st.sampled_from(
                [
                    "CPR 0%",
                    "PSA 150",
                    "ABS 2%",
                    "SMM [1%, 5%, 30%]",
                    "CPR ramp 2% 40% 6",
                    "CPR 100%",
                ]
            )
        ),
        "default": draw(
            st.sampled_from(
                ["CDR 0%", "SDA 300", "MDR 2%", "CDR 30% x 2", "CUM 10% over 6", "MDR 100%"]
            )
        ),
        "severity": draw(st.sampled_from(["0%", "35%", "[10%, 90%]", "100%"])),
        "lag": draw(st.integers(0, 8)),
        "advance": draw(st.booleans()),
        "servicing_fee": draw(st.sampled_from(["0%", "0.5%"])),
        "basis": draw(st.sampled_from(["age", "period"])),
    }
    if draw(st.booleans()) and "CUM" not in values["default"]:
        values["segment_by"] = "grade"
        values["segments"] = {
            "A": {"prepay": "CPR 30%", "default": "CDR 1%"},
            "C": {"severity": "80%"},
        }
    if draw(st.booleans()):
        values["holiday"] = {
            "share": draw(st.sampled_from(["20%", "100%"])),
            "start": draw(st.integers(1, 6)),
            "months": draw(st.integers(1, 4)),
            "capitalize": draw(st.booleans()),
        }
    return Assumptions(**values)


FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(tape=tapes(), a=scenarios())
def test_cohort_path_equals_loan_path(tape: pd.DataFrame, a: Assumptions) -> None:
    cohort = project(tape, a, method="cohort")
    loan = project(tape, a, method="loan")
    scale = max(float(tape["current_balance"].sum()), 1.0)
    for name in POOL_COLUMNS:
        gap = np.max(np.abs(cohort[name] - loan[name]), initial=0.0)
        assert gap <= 1e-9 * scale, f"{name}: cohort vs loan differ by {gap} on {scale}"


@FAST
@given(tape=tapes(), a=scenarios())
def test_conservation_and_no_negative_balances(tape: pd.DataFrame, a: Assumptions) -> None:
    loans = project_loans(tape, a)
    tol = 1e-7 * max(float(tape["current_balance"].max()), 1.0)
    for name in (
        "performing_balance",
        "in_foreclosure",
        "new_defaults",
        "principal_loss",
        "principal_recovery",
        "voluntary_prepayments",
        "actual_interest",
    ):
        assert loans[name].min(initial=0.0) >= -tol, f"{name} negative: {loans[name].min()}"
    start = tape["current_balance"].to_numpy()
    assert np.allclose(loans["performing_balance"][:, -1], 0.0, atol=tol)
    assert np.allclose(loans["in_foreclosure"][:, -1], 0.0, atol=tol)
    liquidated = loans["amortized_default_balance_in_recovery"].sum(axis=1)
    defaulted = loans["new_defaults"].sum(axis=1)
    # Recoveries + losses = the liquidated defaulted balance.
    assert np.allclose(
        (loans["principal_recovery"] + loans["principal_loss"]).sum(axis=1), liquidated, atol=tol
    )
    if a.holiday is None:
        # Scheduled principal + prepayments + defaults = the starting balance, per loan.
        left = (loans["actual_amortization"] + loans["voluntary_prepayments"]).sum(axis=1)
        assert np.allclose(left + defaulted, start, atol=tol), (left + defaulted, start)
        # Defaulted balances end amortized (when advanced) or liquidated.
        resolved = liquidated + loans["amortization_from_defaults"].sum(axis=1)
        assert np.allclose(resolved, defaulted, atol=tol)
    # Always: every unit of balance (plus capitalized interest) leaves exactly once.
    out = (
        loans["actual_amortization"]
        + loans["voluntary_prepayments"]
        + loans["amortization_from_defaults"]
        + loans["amortized_default_balance_in_recovery"]
    ).sum(axis=1)
    assert np.allclose(out, start + loans["capitalized_interest"].sum(axis=1), atol=tol)


@FAST
@given(tape=tapes(), a=scenarios(), seed=st.integers(0, 2**16))
def test_row_order_does_not_matter(tape: pd.DataFrame, a: Assumptions, seed: int) -> None:
    shuffled = tape.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    one, two = project(tape, a), project(shuffled, a)
    for name in POOL_COLUMNS:
        assert np.allclose(one[name], two[name], rtol=1e-12, atol=1e-9), name


def test_many_scenarios_share_one_aggregation_and_match_single_runs() -> None:
    tape = pd.DataFrame(
        {
            "current_balance": [1000.0, 2000.0, 1500.0],
            "rate": [0.1, 0.2, 0.15],
            "original_term": [36, 24, 36],
            "remaining_term": [30, 24, 12],
            "amortization": ["level_pay"] * 3,
        }
    )
    grid = [
        Assumptions(prepay=f"CPR {c}%", default=f"CDR {d}%", severity="40%", lag=3, advance=adv)
        for c in (0, 10)
        for d in (0, 5)
        for adv in (False, True)
    ]
    flows = project(tape, grid, names=[f"s{k}" for k in range(len(grid))])
    assert flows["performing_balance"].shape == (8, 30)
    for k, a in enumerate(grid):
        single = project(tape, a)
        assert np.allclose(flows["principal_collections"][k], single["principal_collections"][0])
    with pytest.raises(AssumptionError, match="names: 1 names for 8 scenarios"):
        project(tape, grid, names=["x"])


def test_cumulative_default_hits_its_target() -> None:
    tape = pd.DataFrame(
        {
            "current_balance": [1000.0] * 4,
            "rate": [0.1, 0.2, 0.15, 0.05],
            "original_term": [36] * 4,
            "remaining_term": [36, 30, 24, 36],
            "amortization": ["level_pay"] * 4,
        }
    )
    for method in ("cohort", "loan"):
        flows = project(
            tape, Assumptions(prepay="CPR 10%", default="CUM 8% [50%, 30%, 20%]"), method=method
        )
        got = flows["new_defaults"][0][:4]
        assert np.allclose(got, [160.0, 96.0, 64.0, 0.0]), (method, got)


def test_segments_apply_their_own_curves() -> None:
    tape = pd.DataFrame(
        {
            "current_balance": [1000.0, 1000.0],
            "rate": [0.1, 0.1],
            "original_term": [12, 12],
            "remaining_term": [12, 12],
            "amortization": ["level_pay"] * 2,
            "grade": ["A", "G"],
        }
    )
    a = Assumptions(default="MDR 1%", segment_by="grade", segments={"G": {"default": "MDR 5%"}})
    first = project_loans(tape, a)["new_defaults"][:, 0]
    assert np.allclose(first, [10.0, 50.0])
    with pytest.raises(TapeError, match="column region: is required"):
        project(tape, a.replace(segment_by="region"))


def test_unit_flows_of_new_receivables() -> None:
    lines = [
        RepLine(weight=3, rate=0.0, term=3, amortization="equal_principal"),
        RepLine(weight=1, rate=0.12, term=1, amortization="level_pay"),
    ]
    flows = unit_flows(lines, [Assumptions(), Assumptions(prepay="SMM 100%")], periods=4)
    assert flows.initial_balance == pytest.approx(1.0)
    assert flows["principal_collections"][0].tolist() == pytest.approx([0.5, 0.25, 0.25, 0.0])
    assert flows["interest_collections"][0][0] == pytest.approx(0.25 * 0.01)
    assert flows["principal_collections"][1][0] == pytest.approx(1.0)
    with pytest.raises(AssumptionError, match="rep_lines"):
        unit_flows([], Assumptions(), periods=3)


@pytest.mark.parametrize(
    ("cutoff", "first", "third"),
    [
        (dt.date(2024, 6, 30), dt.date(2024, 7, 31), dt.date(2024, 9, 30)),
        (dt.date(2024, 1, 15), dt.date(2024, 1, 31), dt.date(2024, 3, 31)),
        (dt.date(2023, 11, 30), dt.date(2023, 12, 31), dt.date(2024, 2, 29)),
    ],
)
def test_period_dates(cutoff: dt.date, first: dt.date, third: dt.date) -> None:
    dates = period_dates(cutoff, 3)
    assert (dates[0], dates[2]) == (first, third)


def test_bad_tape_is_reported_with_rows() -> None:
    tape = pd.DataFrame(
        {
            "current_balance": [100.0, -5.0],
            "rate": [0.1, "x"],
            "original_term": [12, 12],
            "remaining_term": [12, 12],
            "amortization": ["level_pay", "annuity"],
        }
    )
    with pytest.raises(TapeError) as caught:
        project(tape, Assumptions())
    text = str(caught.value)
    assert "row 2, column rate: 'x' is not a number" in text
    assert "row 2, column current_balance: -5.0 is below 0" in text
    assert "row 2, column amortization: 'annuity' is not one of level_pay" in text
