"""Aggregate once, project many times: a CohortBook gives what the tape gives, call after call."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from absstruct.curves import Assumptions
from absstruct.errors import AssumptionError
from absstruct.projection import POOL_COLUMNS, CohortBook, aggregate, cohort, project
from tests.test_projection_properties import scenarios, tapes

TAPE = pd.DataFrame(
    {
        "loan_id": [f"L{k}" for k in range(8)],
        "current_balance": [1000.0, 2500.0, 400.0, 900.0, 3000.0, 1200.0, 50.0, 700.0],
        "original_balance": [1500.0, 3000.0, 600.0, 900.0, 3600.0, 1500.0, 80.0, 700.0],
        "rate": [0.12, 0.08, 0.3, 0.0, 0.05, 0.18, 0.12, 0.09],
        "original_term": [24, 36, 12, 12, 60, 24, 6, 36],
        "remaining_term": [18, 30, 6, 12, 48, 20, 2, 36],
        "amortization": [
            "level_pay",
            "level_pay",
            "equal_principal",
            "level_pay",
            "balloon",
            "flat_fee",
            "interest_only",
            "level_pay",
        ],
        "balloon_amount": [0, 0, 0, 0, 900.0, 0, 0, 0],
        "fee_rate": [0, 0, 0, 0, 0, 0.004, 0, 0],
        "payment_frequency": ["monthly"] * 6 + ["quarterly", "monthly"],
        "grade": ["A", "B", "C", "A", "B", "C", "A", "B"],
    }
)
BASE = Assumptions(prepay="ABS 1.5%", default="CDR 4%", severity="45%", lag=3)
SEGMENTED = BASE.replace(
    segment_by="grade", segments={"A": {"default": "CDR 1%"}, "C": {"severity": "80%"}}
)
HOLIDAY = {"share": "30%", "start": 2, "months": 3, "capitalize": True}

# Each row: scenarios projected together from a book and from the tape.
CASES = {
    "plain": [BASE],
    "grid": [BASE.replace(prepay=f"ABS {p}%", default=f"CDR {d}%") for p in (1, 2) for d in (0, 8)],
    "advancing, two severities": [
        BASE.replace(advance=True),
        BASE.replace(advance=True, severity="70%"),
        BASE.replace(advance=True, lag=6),
    ],
    "holiday with advancing": [
        BASE.replace(holiday=HOLIDAY, advance=True),
        BASE.replace(holiday=HOLIDAY, advance=True, severity="60%"),
        BASE,
    ],
    "segments": [SEGMENTED, SEGMENTED.replace(severity="60%", advance=True)],
    "cumulative defaults": [BASE.replace(default="CUM 8% over 12")],
    "by period": [BASE.replace(basis="period", prepay="CPR 10%")],
}


def _same(got, expected) -> None:
    for name in POOL_COLUMNS:
        assert np.array_equal(got[name], expected[name]), (
            f"{name}: expected {expected[name]}, calculated {got[name]}"
        )


@pytest.mark.parametrize("case", list(CASES))
def test_book_gives_exactly_the_tape_projection(case: str) -> None:
    items = CASES[case]
    by_age = any(a.basis == "age" for a in items)
    book = aggregate(TAPE, scenarios=items, by_age=by_age)
    _same(project(book, items), project(TAPE, items))


@pytest.mark.parametrize("case", list(CASES))
def test_book_matches_the_loan_level_reference(case: str) -> None:
    items = CASES[case]
    book = aggregate(TAPE, periods=64, segment_by=("grade",))
    for a in items:  # one call per scenario: later calls reuse what earlier ones summed
        cohorts = project(book, a)
        loans = project(TAPE, a, periods=64, method="loan")
        for name in POOL_COLUMNS:
            gap = np.max(np.abs(cohorts[name] - loans[name]))
            assert gap <= 1e-9 * TAPE["current_balance"].sum(), f"{case} {name}: gap {gap}"


def test_the_loans_are_summed_once_per_severity(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[object, int]] = []
    original = cohort.aggregate

    def counting(*args, **kwargs):
        calls.append((kwargs.get("holiday"), len(kwargs.get("loss_keys", ()))))
        return original(*args, **kwargs)

    book = aggregate(TAPE)
    monkeypatch.setattr(cohort, "aggregate", counting)
    advancing = BASE.replace(advance=True)
    for _ in range(3):
        project(book, [BASE, BASE.replace(default="CDR 9%")])  # scheduled sums only
    assert calls == []
    project(book, [advancing, advancing.replace(default="CDR 9%")])  # same severity and lag
    project(book, advancing.replace(prepay="ABS 2%"))
    assert calls == [(None, 1)]
    project(book, [advancing.replace(severity="60%"), advancing])
    assert calls == [(None, 1), (None, 1)]
    held = BASE.replace(holiday=HOLIDAY)
    project(book, held)
    project(book, held.replace(default="CDR 1%"))
    assert len(calls) == 3 and calls[-1][1] == 0


@pytest.mark.parametrize(
    ("book", "scenario", "periods", "match"),
    [
        (aggregate(TAPE), SEGMENTED, None, r"grade is not a column this book was aggregated by"),
        (aggregate(TAPE, by_age=False), BASE, None, "aggregated with by_age=False"),
        (aggregate(TAPE, periods=48), BASE, 60, "60 differs from the book's 48 months"),
    ],
)
def test_a_book_refuses_what_it_cannot_project(book, scenario, periods, match) -> None:
    with pytest.raises(AssumptionError, match=match):
        project(book, scenario, periods=periods)


def test_a_book_crosses_process_boundaries_without_its_memo() -> None:
    book = aggregate(TAPE, segment_by=("grade",))
    project(book, BASE.replace(advance=True))
    copy = pickle.loads(pickle.dumps(book))
    assert isinstance(copy, CohortBook) and copy.n_cohorts == book.n_cohorts
    _same(project(copy, SEGMENTED), project(book, SEGMENTED))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tape=tapes(), items=st.lists(scenarios(), min_size=1, max_size=4))
def test_any_scenarios_in_any_calls_match_the_loan_path(tape, items) -> None:
    periods = int(tape["remaining_term"].max()) + 4
    book = aggregate(tape, periods=periods, segment_by=("grade",))
    scale = max(float(tape["current_balance"].sum()), 1.0)
    together = project(book, items)
    for k, a in enumerate(items):
        alone = project(book, a)
        loans = project(tape, a, periods=periods, method="loan")
        for name in POOL_COLUMNS:
            assert np.max(np.abs(alone[name][0] - loans[name][0]), initial=0) <= 1e-9 * scale
            assert np.max(np.abs(together[name][k] - alone[name][0]), initial=0) <= 1e-9 * scale


@pytest.mark.parametrize("name", ["us_auto.toml", "cn_consumer_revolving.toml", "mortgage.toml"])
def test_waterfall_runs_the_same_from_the_book_as_from_the_tape(name: str) -> None:
    from absstruct.deal import load_deal
    from absstruct.resources import deals_dir
    from absstruct.waterfall import deal_tape, run
    from absstruct.waterfall.run import collateral_book

    deal = load_deal(deals_dir() / name)
    tape = deal_tape(deal)
    book = collateral_book(deal, tape)
    from_tape, from_book = run(deal, tape), run(deal, book)
    assert from_book.scenario_names == from_tape.scenario_names
    for tranche, ledger in from_tape.tranches.items():
        for field, values in ledger.arrays.items():
            got = from_book.tranches[tranche][field]
            assert np.allclose(got, values, rtol=1e-12, atol=1e-6), f"{name} {tranche}.{field}"


def test_run_names_what_collateral_it_takes() -> None:
    from absstruct.deal import load_deal
    from absstruct.errors import DealError
    from absstruct.resources import deals_dir
    from absstruct.waterfall import run

    deal = load_deal(deals_dir() / "us_auto.toml")
    with pytest.raises(DealError, match="expected a tape DataFrame, CohortBook or PoolFlows"):
        run(deal, [1, 2, 3])
