"""Property tests: conservation, limits after trimming, independence of row order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from absstruct.errors import DealError
from absstruct.pool import (
    ConcentrationLimits,
    EligibilityRule,
    PoolCriteria,
    TopObligorLimit,
    select_pool,
)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def tapes(draw: st.DrawFn, min_size: int = 1) -> pd.DataFrame:
    n = draw(st.integers(min_value=min_size, max_value=60))
    ints = st.integers
    balances = draw(st.lists(ints(1, 5_000), min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "loan_id": [f"L{i:03d}" for i in draw(st.permutations(range(n)))],
            "obligor_id": draw(
                st.lists(st.sampled_from("abcdefghijklmnopqrst"), min_size=n, max_size=n)
            ),
            "current_balance": np.asarray(balances, dtype=float) + 0.25,
            "rate": draw(st.lists(ints(0, 30), min_size=n, max_size=n)),
            "original_term": 36,
            "remaining_term": draw(st.lists(ints(1, 36), min_size=n, max_size=n)),
            "region": draw(
                st.lists(st.sampled_from(["CA", "NY", "TX", "FL", "WA"]), min_size=n, max_size=n)
            ),
            "grade": draw(
                st.lists(st.sampled_from(["A", "B", "C", "D", None]), min_size=n, max_size=n)
            ),
        }
    ).assign(rate=lambda f: f["rate"] / 100)


@st.composite
def criteria(draw: st.DrawFn, max_rules: int = 3) -> PoolCriteria:
    rules = draw(
        st.lists(
            st.sampled_from(
                [
                    EligibilityRule(
                        name="rate cap", column="rate", max=draw(st.sampled_from([0.1, 0.2, 0.3]))
                    ),
                    EligibilityRule(name="grade", column="grade", in_=("A", "B", "C")),
                    EligibilityRule(name="term", column="remaining_term", min=6),
                    EligibilityRule(name="not WA", column="region", not_in=("WA",)),
                ]
            ),
            max_size=max_rules,
            unique_by=lambda r: r.name,
        )
    )
    share = st.none() | st.sampled_from([0.35, 0.5, 0.7, 1.0])
    top = st.none() | st.builds(
        TopObligorLimit, n=st.integers(1, 3), max=st.sampled_from([0.5, 0.7, 0.9])
    )
    limits = ConcentrationLimits(
        max_obligor=draw(st.none() | st.sampled_from([0.1, 0.2, 0.5])),
        max_region=draw(share),
        max_by={"grade": g} if (g := draw(share)) is not None else {},
        top_obligors=draw(top),
    )
    return PoolCriteria(
        eligibility=tuple(rules),
        concentration=limits,
        target_balance=draw(st.none() | st.sampled_from([2_000.0, 20_000.0, 60_000.0])),
        target_order=draw(st.sampled_from(["random", "loan_id", "largest", "smallest"])),
        seed=draw(st.integers(0, 3)),
    )


def run(tape: pd.DataFrame, spec: PoolCriteria):
    try:
        return select_pool(tape, spec)
    except DealError as error:
        # The only refusals allowed here: an empty pool or a limit no pool can meet.
        assert any(p.rule in ("empty_pool", "infeasible_limit") for p in error.problems), error
        return None


@SETTINGS
@given(tape=tapes(), spec=criteria())
def test_conservation(tape: pd.DataFrame, spec: PoolCriteria) -> None:
    pool = run(tape, spec)
    if pool is None:
        return
    first = pool.excluded[pool.excluded["first_rule"]]
    # Each loan is either eligible or excluded (under exactly one first reason).
    assert first["loan_id"].is_unique
    assert set(first["loan_id"]).isdisjoint(pool.eligible["loan_id"])
    assert len(pool.eligible) + len(first) == len(tape)
    total = pool.eligible["current_balance"].sum() + first["current_balance"].sum()
    assert total == pytest.approx(tape["current_balance"].sum(), rel=1e-12)
    assert set(pool.excluded["loan_id"]) == set(first["loan_id"])
    counts = pool.exclusion_counts
    assert counts["excluded_count"].sum() == len(first)
    for table in pool.strats.values():
        assert table["count"].sum() == pool.summary.count
        assert table["balance"].sum() == pytest.approx(pool.summary.current_balance, rel=1e-12)


@SETTINGS
@given(tape=tapes(min_size=15), spec=criteria(max_rules=1))
def test_limits_hold_after_trimming(tape: pd.DataFrame, spec: PoolCriteria) -> None:
    pool = run(tape, spec)
    if pool is None:
        return
    eligible = pool.eligible
    total = eligible["current_balance"].sum()
    limits = spec.concentration
    assert limits is not None
    tolerance = 1e-9 * total

    def largest_group(column: str) -> float:
        return eligible.groupby(column, dropna=False)["current_balance"].sum().max()

    if limits.max_obligor is not None:
        assert largest_group("obligor_id") <= limits.max_obligor * total + tolerance
    if limits.max_region is not None:
        assert largest_group("region") <= limits.max_region * total + tolerance
    for column, share in limits.max_by.items():
        assert largest_group(column) <= share * total + tolerance
    if limits.top_obligors is not None:
        by_obligor = eligible.groupby("obligor_id")["current_balance"].sum()
        top = by_obligor.nlargest(limits.top_obligors.n).sum()
        assert top <= limits.top_obligors.max * total + tolerance
    if spec.effective_target is not None:
        assert total <= spec.effective_target * (1 + 1e-12)


@SETTINGS
@given(tape=tapes(), spec=criteria(), data=st.data())
def test_row_order_does_not_matter(tape: pd.DataFrame, spec: PoolCriteria, data) -> None:
    order = data.draw(st.permutations(range(len(tape))))
    shuffled = tape.iloc[list(order)].reset_index(drop=True)
    first, second = run(tape, spec), run(shuffled, spec)
    if first is None or second is None:
        assert first is None and second is None
        return
    pd.testing.assert_frame_equal(first.eligible, second.eligible)
    pd.testing.assert_frame_equal(first.excluded, second.excluded)
    pd.testing.assert_frame_equal(first.exclusion_counts, second.exclusion_counts)
    assert first.summary.to_dict() == second.summary.to_dict()
    for name in first.strats:
        pd.testing.assert_frame_equal(first.strats[name], second.strats[name])
