"""The real LendingClub 2007-2011 tape: a realistic rule set against an independent pandas cut."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from absstruct.pool import ConcentrationLimits, EligibilityRule, PoolCriteria, select_pool
from absstruct.tape import load_tape

LIMIT = 0.15
CRITERIA = PoolCriteria(
    eligibility=(
        EligibilityRule(name="36-month term", column="original_term", equals=36),
        EligibilityRule(name="grade A-D", column="grade", in_=("A", "B", "C", "D")),
        EligibilityRule(name="income >= 20,000", column="annual_income", min=20_000),
    ),
    concentration=ConcentrationLimits(max_region=LIMIT),
)


@pytest.fixture(scope="module")
def tape(lendingclub_path) -> pd.DataFrame:
    return load_tape(lendingclub_path, template="lendingclub")


@pytest.fixture(scope="module")
def pool(tape):
    return select_pool(tape, CRITERIA)


@pytest.fixture(scope="module")
def expected(tape) -> dict:
    """The same cut, computed independently with plain pandas."""
    term_ok = tape["original_term"] == 36
    grade_ok = tape["grade"].isin(["A", "B", "C", "D"])
    income_ok = tape["annual_income"].ge(20_000) & tape["annual_income"].notna()
    first = {
        "36-month term": ~term_ok,
        "grade A-D": term_ok & ~grade_ok,
        "income >= 20,000": term_ok & grade_ok & ~income_ok,
    }
    failed = {"36-month term": ~term_ok, "grade A-D": ~grade_ok, "income >= 20,000": ~income_ok}
    rules_ok = tape[term_ok & grade_ok & income_ok]
    total = rules_ok["current_balance"].sum()
    by_region = rules_ok.groupby("region")["current_balance"].sum() / total
    over = by_region[by_region > LIMIT]
    # The reference below trims one region, which is the whole story on this tape.
    assert list(over.index) == ["CA"], over
    region = rules_ok[rules_ok["region"] == "CA"].sort_values(
        ["current_balance", "loan_id"], ascending=[False, True]
    )
    removed_so_far = region["current_balance"].cumsum()
    region_total = region["current_balance"].sum()
    # Smallest number k of the largest CA loans whose removal brings CA within the limit.
    share_after = (region_total - removed_so_far) / (total - removed_so_far)
    k = int(np.argmax(share_after.to_numpy() <= LIMIT)) + 1
    trimmed = region.iloc[:k]
    final = rules_ok[~rules_ok["loan_id"].isin(trimmed["loan_id"])]
    return {"first": first, "failed": failed, "trimmed": trimmed, "final": final}


def test_tape_is_the_real_file(tape) -> None:
    assert len(tape) == 42_535


def test_exclusion_counts_match(pool, tape, expected) -> None:
    counts = pool.exclusion_counts.set_index("rule")
    balance = tape["current_balance"]
    for rule, mask in expected["first"].items():
        got = counts.loc[rule]
        want_failed = expected["failed"][rule]
        print(rule, got.to_dict(), int(mask.sum()), balance[mask].sum())
        assert got["excluded_count"] == int(mask.sum())
        assert got["excluded_balance"] == pytest.approx(balance[mask].sum(), rel=1e-12)
        assert got["failed_count"] == int(want_failed.sum())
        assert got["failed_balance"] == pytest.approx(balance[want_failed].sum(), rel=1e-12)
    trimmed = expected["trimmed"]
    assert counts.loc["max_region", "excluded_count"] == len(trimmed)
    assert counts.loc["max_region", "excluded_balance"] == pytest.approx(
        trimmed["current_balance"].sum(), rel=1e-12
    )
    removed = pool.excluded[pool.excluded["rule"] == "max_region"]
    assert sorted(removed["loan_id"]) == sorted(trimmed["loan_id"])
    assert set(removed["value"]) == {"CA"}


def test_eligible_pool_matches(pool, tape, expected) -> None:
    final = expected["final"]
    assert pool.eligible["loan_id"].tolist() == sorted(final["loan_id"])
    s = pool.summary
    weights = final["current_balance"]
    assert s.count == len(final)
    assert s.current_balance == pytest.approx(weights.sum(), rel=1e-12)
    assert s.original_balance == pytest.approx(final["original_balance"].sum(), rel=1e-12)
    assert s.wac == pytest.approx(np.average(final["rate"], weights=weights), rel=1e-12)
    assert s.wam == pytest.approx(np.average(final["remaining_term"], weights=weights), rel=1e-12)
    region_share = final.groupby("region")["current_balance"].sum() / weights.sum()
    assert region_share.max() <= LIMIT
    # Conservation against the tape.
    assert pool.excluded_count + s.count == len(tape)
    assert pool.excluded_balance + s.current_balance == pytest.approx(
        tape["current_balance"].sum(), rel=1e-12
    )


@pytest.mark.parametrize("column", ["grade", "region", "product"])
def test_categorical_strats_match(pool, expected, column: str) -> None:
    final = expected["final"]
    grouped = final.groupby(column).agg(
        count=("loan_id", "size"),
        balance=("current_balance", "sum"),
        rate_x_balance=("rate", lambda r: (r * final.loc[r.index, "current_balance"]).sum()),
    )
    table = pool.strats[column].set_index("bucket")
    assert table.index.tolist() == grouped.index.tolist()
    assert table["count"].tolist() == grouped["count"].tolist()
    assert table["balance"].to_numpy() == pytest.approx(grouped["balance"].to_numpy(), rel=1e-12)
    wac = grouped["rate_x_balance"] / grouped["balance"]
    assert table["wac"].to_numpy() == pytest.approx(wac.to_numpy(), rel=1e-12)
    assert table["pct_balance"].sum() == pytest.approx(1.0, rel=1e-12)


@pytest.mark.parametrize("column", ["current_balance", "rate"])
def test_numeric_strats_match(pool, expected, column: str) -> None:
    final = expected["final"]
    edges = list(getattr(CRITERIA.strats, column))
    bins = pd.cut(final[column], [-np.inf, *edges, np.inf], right=False)
    grouped = final.groupby(bins, observed=True)["current_balance"].agg(["size", "sum"])
    table = pool.strats[column]
    assert table["count"].tolist() == grouped["size"].tolist()
    assert table["balance"].to_numpy() == pytest.approx(grouped["sum"].to_numpy(), rel=1e-12)


def test_strat_totals_equal_pool_totals(pool) -> None:
    for name, table in pool.strats.items():
        assert table["count"].sum() == pool.summary.count, name
        assert table["balance"].sum() == pytest.approx(pool.summary.current_balance, rel=1e-12)
