"""select_pool on small hand-checked tapes: rules, exclusions, trimming, target, summary, strats."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from absstruct.errors import DealError, TapeError
from absstruct.pool import (
    ConcentrationLimits,
    EligibilityRule,
    PoolCriteria,
    StratSpec,
    TopObligorLimit,
    select_pool,
    stratify,
)
from absstruct.pool.strats import STRAT_COLUMNS, bucket_labels


def small_tape() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_id": ["L1", "L2", "L3", "L4", "L5", "L6"],
            "obligor_id": ["o1", "o2", "o3", "o4", "o5", "o1"],
            "current_balance": [100.0, 300.0, 600.0, 250.0, 50.0, 700.0],
            "original_balance": [120.0, 300.0, 800.0, 300.0, 60.0, 900.0],
            "rate": [0.05, 0.10, 0.20, 0.30, 0.12, 0.08],
            "original_term": [36, 36, 60, 36, 24, 60],
            "remaining_term": [12, 24, 36, 30, 24, 59],
            "days_past_due": [0, 0, 0, 45, 0, 0],
            "grade": ["A", "B", "B", "E", None, "C"],
            "region": ["CA", "NY", "CA", "TX", "NY", "TX"],
            "amortization": ["level_pay"] * 6,
            "maturity_date": pd.to_datetime(
                ["2026-01-01", "2027-01-01", "2029-06-01", "2027-03-01", "2026-06-01", "2031-05-01"]
            ),
        }
    )


def ids(frame: pd.DataFrame) -> list[str]:
    return frame["loan_id"].tolist()


# (rule keyword arguments, loan ids that pass) - checked by hand against small_tape().
RULE_CASES = [
    ({"column": "days_past_due", "equals": 0}, ["L1", "L2", "L3", "L5", "L6"]),
    ({"column": "grade", "not_equals": "B"}, ["L1", "L4", "L6"]),  # missing grade fails
    ({"column": "grade", "not_equals": "B", "allow_missing": True}, ["L1", "L4", "L5", "L6"]),
    ({"column": "grade", "in_": ("A", "B", "C", "D")}, ["L1", "L2", "L3", "L6"]),
    ({"column": "region", "not_in": ("TX",)}, ["L1", "L2", "L3", "L5"]),
    ({"column": "current_balance", "between": (100, 600)}, ["L1", "L2", "L3", "L4"]),
    ({"column": "rate", "min": 0.1}, ["L2", "L3", "L4", "L5"]),
    ({"column": "rate", "max": "10%"}, ["L1", "L2", "L6"]),
    ({"column": "remaining_term", "max": 24}, ["L1", "L2", "L5"]),
    ({"column": "seasoning", "min": 1}, ["L1", "L2", "L3", "L4", "L6"]),
    ({"column": "maturity_date", "before": dt.date(2027, 1, 1)}, ["L1", "L5"]),
    ({"column": "maturity_date", "after": dt.date(2027, 1, 1)}, ["L3", "L4", "L6"]),
    (
        {"column": "maturity_date", "between": ("2027-01-01", "2029-06-01")},
        ["L2", "L3", "L4"],
    ),
    ({"column": "original_term", "in_": (24, 60)}, ["L3", "L5", "L6"]),
]


@pytest.mark.parametrize(("conditions", "passing"), RULE_CASES)
def test_each_condition(conditions: dict, passing: list[str]) -> None:
    rule = EligibilityRule(name="r", **conditions)
    pool = select_pool(small_tape(), [rule])
    assert ids(pool.eligible) == passing
    excluded = sorted(set(small_tape()["loan_id"]) - set(passing))
    assert ids(pool.excluded) == excluded


def test_exclusion_report_lists_every_failed_rule_and_the_first() -> None:
    rules = [
        EligibilityRule(name="current", column="days_past_due", equals=0),
        EligibilityRule(name="grade A-D", column="grade", in_=("A", "B", "C", "D")),
        EligibilityRule(name="rate cap", column="rate", max=0.25),
    ]
    pool = select_pool(small_tape(), rules)
    rows = pool.excluded[["loan_id", "rule", "value", "first_rule"]].values.tolist()
    assert pd.isna(rows[3][2])  # L5's grade is missing
    rows[3][2] = None
    assert rows == [
        ["L4", "current", "45", True],
        ["L4", "grade A-D", "E", False],
        ["L4", "rate cap", "0.3", False],
        ["L5", "grade A-D", None, True],
    ]
    counts = pool.exclusion_counts.set_index("rule")
    assert counts.loc["current", ["excluded_count", "excluded_balance"]].tolist() == [1, 250.0]
    assert counts.loc["grade A-D", ["excluded_count", "excluded_balance"]].tolist() == [1, 50.0]
    assert counts.loc["grade A-D", ["failed_count", "failed_balance"]].tolist() == [2, 300.0]
    assert counts.loc["rate cap", ["excluded_count", "failed_count"]].tolist() == [0, 1]
    assert (pool.excluded_count, pool.excluded_balance) == (2, 300.0)
    assert pool.tape_count == 6 and pool.tape_balance == 2000.0


def test_region_limit_cascade_that_cannot_hold_is_an_error() -> None:
    # Tape 2,000: TX 950 (47.5%), CA 700, NY 350.  Limit 40%: TX must lose
    # x >= (950 - 800) / 0.6 = 250, so its largest loan L6 (700) goes; then CA 700 of
    # 1,300 (53.8%) loses L3 (600); NY 350 of 700 loses L2; TX 250 of 400 loses L4; the
    # 150 left sit in 2 regions, where no region can stay within 40%.
    with pytest.raises(DealError, match=r"pool\.concentration\.max_region: 0\.4 cannot hold"):
        select_pool(small_tape(), [], ConcentrationLimits(max_region=0.4))
    # At 50% nothing is over (TX 47.5%): nothing is trimmed.
    pool = select_pool(small_tape(), [], ConcentrationLimits(max_region=0.5))
    assert len(pool.eligible) == 6 and pool.excluded.empty


def test_trimming_hand_checked() -> None:
    tape = pd.DataFrame(
        {
            "loan_id": ["a1", "a2", "a3", "b1", "c1"],
            "current_balance": [50.0, 30.0, 20.0, 40.0, 60.0],
            "region": ["A", "A", "A", "B", "C"],
        }
    )
    # A holds 100 of 200; limit 40% needs x >= (100 - 80) / 0.6 = 33.3: a1 (50) goes.
    # Then A 50, B 40, C 60 of 150: C is exactly 40%, within the limit.
    pool = select_pool(tape, [], ConcentrationLimits(max_region=0.4))
    assert ids(pool.eligible) == ["a2", "a3", "b1", "c1"]
    assert pool.excluded[["loan_id", "stage", "rule", "value"]].values.tolist() == [
        ["a1", "concentration", "max_region", "A"]
    ]


def test_trimming_ties_go_by_loan_id() -> None:
    tape = pd.DataFrame(
        {
            "loan_id": ["z", "y", "x", "w"],
            "current_balance": [30.0, 30.0, 30.0, 60.0],
            "region": ["A", "A", "A", "B"],
        }
    )
    # A 90 of 150 (60%); limit 50% needs x >= (90 - 75) / 0.5 = 30: one of three equal
    # loans goes, the first by loan id ("x").
    pool = select_pool(tape, [], ConcentrationLimits(max_region=0.5))
    assert ids(pool.excluded) == ["x"]


def test_top_obligors_hand_checked() -> None:
    balances = [40.0, 30.0] + [3.0] * 10
    tape = pd.DataFrame(
        {
            "loan_id": [f"L{i:02d}" for i in range(12)],
            "obligor_id": [f"o{i:02d}" for i in range(12)],
            "current_balance": balances,
        }
    )
    # Top 2 hold 70 of 100; limit 50% needs >= 40: L00 (40) goes.  Then top 2 are 30 + 3
    # of 60 (55%): needs >= (33 - 30) / 0.5 = 6, so L01 (30) goes.  Left 30: 6 of 30 is fine.
    limits = ConcentrationLimits(top_obligors=TopObligorLimit(n=2, max=0.5))
    pool = select_pool(tape, [], limits)
    assert ids(pool.excluded) == ["L00", "L01"]
    assert pool.excluded["rule"].tolist() == ["top_obligors", "top_obligors"]
    assert pool.summary.current_balance == 30.0


def test_obligor_limit_sums_an_obligors_loans() -> None:
    # o1 holds L1 + L6 = 800 of 2,000: exactly 40% is within a 40% limit.
    pool = select_pool(small_tape(), [], ConcentrationLimits(max_obligor=0.4))
    assert len(pool.eligible) == 6
    # At 39% o1 needs x >= (800 - 780) / 0.61 = 32.8: its larger loan L6 (700) goes, not L1.
    # Left 1,300: o3 (L3, 600) is 46% -> L3 goes; then o2 300 of 700, o4 250 of 400 ...
    # until 2 obligors remain, where 39% cannot hold.
    with pytest.raises(DealError, match=r"max_obligor: 0\.39 cannot hold"):
        select_pool(small_tape(), [], ConcentrationLimits(max_obligor=0.39))
    tape = pd.DataFrame(
        {
            "loan_id": ["A1", "A2", "B1", *(f"C{i}" for i in range(6))],
            "obligor_id": ["o1", "o1", "o2", *(f"p{i}" for i in range(6))],
            "current_balance": [40.0, 25.0, 20.0, *([10.0] * 6)],
        }
    )
    # o1 holds 65 of 145 (44.8%); limit 40% needs x >= (65 - 58) / 0.6 = 11.7: its
    # largest loan A1 (40) goes, and o1's 25 of 105 (23.8%) is then within the limit.
    pool = select_pool(tape, [], ConcentrationLimits(max_obligor=0.4))
    assert ids(pool.excluded) == ["A1"]
    assert pool.excluded["value"].tolist() == ["o1"]


@pytest.mark.parametrize(
    ("order", "kept"),
    [
        # 100 + 300 + 600 = 1,000; L4 (250) would exceed 1,100 and is skipped; L5 (50)
        # fits (1,050); L6 (700) does not.
        ("loan_id", ["L1", "L2", "L3", "L5"]),
        # L6 700; L3 (600) skipped; L2 -> 1,000; L4 (250) skipped; L1 -> 1,100 exactly;
        # L5 (50) would exceed.
        ("largest", ["L1", "L2", "L6"]),
        ("smallest", ["L1", "L2", "L4", "L5"]),  # 50 + 100 + 250 + 300 = 700; 600 exceeds
    ],
)
def test_target_balance_orders(order: str, kept: list[str]) -> None:
    criteria = PoolCriteria(target_balance=1_100, target_order=order)  # type: ignore[arg-type]
    pool = select_pool(small_tape(), criteria)
    assert ids(pool.eligible) == kept
    assert set(pool.excluded["rule"]) == {"target_balance"}


def test_random_target_is_seeded_and_row_order_free() -> None:
    criteria = PoolCriteria(target_balance=1_000, seed=7)
    first = select_pool(small_tape(), criteria)
    again = select_pool(small_tape().iloc[::-1], criteria)
    other = [
        ids(select_pool(small_tape(), criteria.model_copy(update={"seed": s})).eligible)
        for s in range(20)
    ]
    assert ids(first.eligible) == ids(again.eligible)
    assert first.summary.current_balance <= 1_000
    assert len({tuple(x) for x in other}) > 1  # the seed matters


def test_summary_hand_checked() -> None:
    pool = select_pool(small_tape().iloc[:3], [])
    s = pool.summary
    assert (s.count, s.current_balance, s.original_balance) == (3, 1000.0, 1220.0)
    assert s.average_balance == pytest.approx(1000 / 3)
    assert s.wac == pytest.approx((100 * 0.05 + 300 * 0.10 + 600 * 0.20) / 1000)  # 0.155
    assert s.wam == pytest.approx((100 * 12 + 300 * 24 + 600 * 36) / 1000)  # 30
    assert s.wa_original_term == pytest.approx(50.4)
    assert s.wa_seasoning == pytest.approx((100 * 24 + 300 * 12 + 600 * 24) / 1000)  # 20.4
    assert s.wa_score is None
    assert s.top10_obligor_share == 1.0
    assert s.grade_mix == {"A": 0.1, "B": 0.9}
    assert s.dpd_mix == {"0": 1.0}
    assert s.amortization_mix == {"level_pay": 1.0}
    frame = s.to_frame()
    assert frame.set_index("metric").loc["wac", "value"] == pytest.approx(0.155)
    assert "grade_mix.B" in frame["metric"].tolist()


def test_strat_hand_checked() -> None:
    table = stratify(small_tape(), "current_balance", edges=(0, 100, 500))
    assert list(table.columns) == list(STRAT_COLUMNS)
    assert table["bucket"].tolist() == ["0 to < 100", "100 to < 500", "≥ 500"]
    assert table["count"].tolist() == [1, 3, 2]
    assert table["balance"].tolist() == [50.0, 650.0, 1300.0]
    assert table["pct_balance"].tolist() == pytest.approx([0.025, 0.325, 0.65])
    assert table["wac"].tolist() == pytest.approx(
        [0.12, (100 * 0.05 + 300 * 0.10 + 250 * 0.30) / 650, (600 * 0.2 + 700 * 0.08) / 1300]
    )
    grade = stratify(small_tape(), "grade")
    assert grade["bucket"].tolist() == ["A", "B", "C", "E", "missing"]
    assert grade["count"].tolist() == [1, 2, 1, 1, 1]


def test_scores_are_weighted_over_scored_loans_only() -> None:
    tape = small_tape().assign(credit_score=[700, 650, np.nan, 720, 680, 760])
    table = stratify(tape, "region")
    ca = table.set_index("bucket").loc["CA"]
    assert ca["wa_score"] == 700.0  # L3 has no score: not a zero
    pool = select_pool(tape, [])
    assert pool.summary.wa_score == pytest.approx(
        (100 * 700 + 300 * 650 + 250 * 720 + 50 * 680 + 700 * 760) / 1400
    )
    assert "credit_score" in pool.strats


@pytest.mark.parametrize(
    ("column", "edges", "labels"),
    [
        ("remaining_term", (0, 12, 24), ["< 0", "0-11", "12-23", "24+"]),
        ("days_past_due", (0, 1, 30), ["< 0", "0", "1-29", "30+"]),
        ("rate", (0.05, 0.1), ["< 5.00%", "5.00% to < 10.00%", "≥ 10.00%"]),
        ("current_balance", (0, 2.5), ["< 0", "0 to < 2.50", "≥ 2.50"]),
    ],
)
def test_bucket_labels(column: str, edges: tuple, labels: list[str]) -> None:
    assert bucket_labels(column, edges) == labels


def test_strats_follow_the_spec_and_add_up() -> None:
    spec = StratSpec(rate=(0, 0.1), numeric={"original_balance": (0, 500)}, categorical=("region",))
    pool = select_pool(small_tape(), [], strats=spec)
    assert "original_balance" in pool.strats and "grade" not in pool.strats
    for name, table in pool.strats.items():
        assert table["count"].sum() == pool.summary.count, name
        assert table["balance"].sum() == pytest.approx(pool.summary.current_balance), name
    stacked = pool.strats_frame()
    totals = stacked[stacked["bucket"] == "Total"]
    assert len(totals) == len(pool.strats)
    assert totals["balance"].tolist() == pytest.approx([2000.0] * len(pool.strats))


ERROR_CASES = [
    (
        [EligibilityRule(name="grade A-D", column="grde", in_=("A",))],
        None,
        None,
        r'pool\.eligibility\[0\] \("grade A-D"\)\.column: \'grde\' is not a tape column; columns:',
    ),
    (
        [EligibilityRule(name="g", column="grade", min=3)],
        None,
        None,
        r"\.min: 3 needs a number or date column but 'grade' holds text",
    ),
    (
        [EligibilityRule(name="t", column="rate", equals="high")],
        None,
        None,
        r"\.equals: 'high' does not match column 'rate', which holds a number",
    ),
    (
        [EligibilityRule(name="d", column="rate", before=dt.date(2020, 1, 1))],
        None,
        None,
        r"\.before: 2020-01-01 needs a date column",
    ),
    (
        [EligibilityRule(name="none", column="rate", min=5)],
        None,
        None,
        r"pool\.eligibility: no loan of 6 passes every rule \(first failures: 'none' 6\)",
    ),
    ([], ConcentrationLimits(max_by={"purpose": 0.3}), None, r"max_by\.purpose: 'purpose' is not"),
    ([], None, StratSpec(numeric={"income": (0, 1)}), r"strats\.income: 'income' is not a numeric"),
    (
        [],
        ConcentrationLimits(top_obligors=TopObligorLimit(n=10, max=0.5)),
        None,
        r"top_obligors: top 10 obligors cannot stay within 0.5 with 5 obligors",
    ),
]


@pytest.mark.parametrize(("rules", "limits", "strats", "message"), ERROR_CASES)
def test_errors_name_the_rule(rules, limits, strats, message: str) -> None:
    with pytest.raises(DealError, match=message):
        select_pool(small_tape(), rules, limits, strats=strats)


def test_target_below_every_loan_is_an_error() -> None:
    with pytest.raises(DealError, match=r"pool\.target_balance: 10\.0 is below every"):
        select_pool(small_tape(), PoolCriteria(target_balance=10))


@pytest.mark.parametrize(
    ("tape", "message"),
    [
        (small_tape().drop(columns="current_balance"), "column current_balance: is required"),
        (small_tape().assign(loan_id=["A", "A", "B", "C", "D", "E"]), "'A' appears more than"),
        (small_tape().assign(current_balance=[1.0, None, 2, 3, 4, 5]), "row 2, column current"),
    ],
)
def test_unusable_tapes(tape: pd.DataFrame, message: str) -> None:
    with pytest.raises(TapeError, match=message):
        select_pool(tape, [])


def test_criteria_and_separate_limits_do_not_mix() -> None:
    with pytest.raises(TypeError, match="not both"):
        select_pool(small_tape(), PoolCriteria(), ConcentrationLimits(max_region=0.5))
