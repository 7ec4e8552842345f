"""``select_pool``: tape in, pool cut out (eligible loans, exclusions, summary, strats).

Order of work: eligibility rules, then the optional target balance, then concentration
trimming (so the final pool always meets every limit; trimming may take it below the
target).  Results do not depend on the tape's row order: loans are handled in loan-id
order (as text) throughout and ``eligible`` comes back sorted by ``loan_id``.

Examples
--------
>>> import pandas as pd
>>> from absstruct.pool.criteria import ConcentrationLimits, EligibilityRule
>>> tape = pd.DataFrame({
...     "loan_id": ["L1", "L2", "L3", "L4"], "current_balance": [100.0, 200.0, 300.0, 400.0],
...     "original_balance": [100.0, 250.0, 300.0, 500.0], "rate": [0.05, 0.07, 0.30, 0.06],
...     "original_term": [36, 36, 36, 60], "remaining_term": [30, 20, 36, 50],
...     "region": ["CA", "CA", "NY", "NY"]})
>>> pool = select_pool(tape, [EligibilityRule(name="rate cap", column="rate", max=0.25)],
...                    ConcentrationLimits(max_region=0.6))
>>> pool.eligible["loan_id"].tolist(), pool.summary.current_balance
(['L1', 'L2', 'L4'], 700.0)
>>> pool.excluded[["loan_id", "rule", "value"]].values.tolist()
[['L3', 'rate cap', '0.3']]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from absstruct.errors import DealError, Problem, TapeError
from absstruct.pool.concentration import GroupLimit, InfeasibleLimit, TopLimit, take_target, trim
from absstruct.pool.criteria import (
    ConcentrationLimits,
    EligibilityRule,
    PoolCriteria,
    StratSpec,
)
from absstruct.pool.rules import check_rules, column_kind, rule_passes, with_derived
from absstruct.pool.strats import (
    STRAT_COLUMNS,
    PoolSummary,
    strat_weights,
    stratify,
    summarize,
)

EXCLUDED_COLUMNS: tuple[str, ...] = (
    "loan_id",
    "stage",
    "rule",
    "column",
    "value",
    "first_rule",
    "current_balance",
)
EXCLUSION_COUNT_COLUMNS: tuple[str, ...] = (
    "stage",
    "rule",
    "excluded_count",
    "excluded_balance",
    "failed_count",
    "failed_balance",
)


@dataclass(frozen=True, kw_only=True)
class Pool:
    """A pool cut.

    Attributes
    ----------
    eligible : DataFrame
        The selected loans, every tape column kept, sorted by ``loan_id``.
    excluded : DataFrame
        One row per (loan, reason): ``loan_id, stage, rule, column, value, first_rule,
        current_balance``.  ``first_rule`` marks the reason a loan is counted under
        (its first failed eligibility rule, or the target / limit that removed it).
    exclusion_counts : DataFrame
        Per rule: loans and balance excluded by it first, and failing it at all.
    summary : PoolSummary
    strats : dict of str to DataFrame
        One table per stratified column, rows ``STRAT_COLUMNS``.
    tape_count, tape_balance :
        The tape's totals: eligible + excluded (first reasons) add up to them.
    """

    criteria: PoolCriteria
    eligible: pd.DataFrame
    excluded: pd.DataFrame
    exclusion_counts: pd.DataFrame
    summary: PoolSummary
    strats: dict[str, pd.DataFrame] = field(default_factory=dict)
    tape_count: int
    tape_balance: float

    @property
    def excluded_count(self) -> int:
        return int(self.excluded["first_rule"].sum())

    @property
    def excluded_balance(self) -> float:
        first = self.excluded["first_rule"].to_numpy(dtype=bool)
        return float(self.excluded["current_balance"].to_numpy(dtype=float)[first].sum())

    def strats_frame(self) -> pd.DataFrame:
        """All strats stacked (a ``strat`` column first), each closed by a ``Total`` row."""
        pieces = []
        for name, table in self.strats.items():
            total = _total_row(table, self.summary)
            block = pd.concat([table, total], ignore_index=True)
            block.insert(0, "strat", name)
            pieces.append(block)
        return pd.concat(pieces, ignore_index=True) if pieces else pd.DataFrame()

    def to_frames(self) -> dict[str, pd.DataFrame]:
        """The sheets of the pool workbook: Summary, Strats, Exclusions, Excluded loans."""
        return {
            "Summary": self.summary.to_frame(),
            "Strats": self.strats_frame(),
            "Exclusions": self.exclusion_counts,
            "Excluded loans": self.excluded,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready, deterministic digest: totals, summary, exclusion counts."""
        counts = self.exclusion_counts
        return {
            "tape": {"count": self.tape_count, "balance": self.tape_balance},
            "eligible": {"count": self.summary.count, "balance": self.summary.current_balance},
            "excluded": {"count": self.excluded_count, "balance": self.excluded_balance},
            "summary": self.summary.to_dict(),
            "exclusions": [
                {
                    "stage": row.stage,
                    "rule": row.rule,
                    "excluded_count": int(row.excluded_count),
                    "excluded_balance": float(row.excluded_balance),
                    "failed_count": int(row.failed_count),
                    "failed_balance": float(row.failed_balance),
                }
                for row in counts.itertuples(index=False)
            ],
        }


def _total_row(table: pd.DataFrame, summary: PoolSummary) -> pd.DataFrame:
    count = int(table["count"].sum())
    balance = float(table["balance"].sum())
    return pd.DataFrame(
        {
            "bucket": pd.array(["Total"], dtype="string"),
            "count": [count],
            "pct_count": [table["pct_count"].sum()],
            "balance": [balance],
            "pct_balance": [table["pct_balance"].sum()],
            "wac": [summary.wac],
            "wam": [summary.wam],
            "wa_score": [np.nan if summary.wa_score is None else summary.wa_score],
        }
    )


def _criteria(
    criteria: PoolCriteria | Sequence[EligibilityRule] | None,
    concentration: ConcentrationLimits | None,
    strats: StratSpec | None,
) -> PoolCriteria:
    if isinstance(criteria, PoolCriteria):
        if concentration is not None or strats is not None:
            raise TypeError("give either a PoolCriteria or eligibility rules and limits, not both")
        return criteria
    updates: dict[str, Any] = {"eligibility": tuple(criteria or ()), "concentration": concentration}
    if strats is not None:
        updates["strats"] = strats
    return PoolCriteria(**updates)


def _loan_id_order(loan_id: pd.Series) -> np.ndarray | None:
    """Row positions in loan-id (text) order; ``None`` when the tape is in that order already.

    Raises TapeError when a loan id repeats.
    """
    ids = pa.array(loan_id.astype("string[pyarrow]"))
    if len(ids) < 2 or pc.all(pc.less(ids[:-1], ids[1:])).as_py():
        return None  # strictly increasing: sorted and unique, the common case
    order = pc.sort_indices(ids).to_numpy()
    ranked = ids.take(order)
    repeats = pc.equal(ranked[:-1], ranked[1:]).to_numpy(zero_copy_only=False)
    if repeats.any():
        first = ranked[int(np.flatnonzero(repeats)[0])].as_py()
        raise TapeError.from_problems(
            [
                Problem(
                    where="column loan_id",
                    value=str(first),
                    rule="duplicate",
                    message=f"appears more than once ({int(repeats.sum())} repeats); "
                    "loan ids must be unique",
                )
            ],
            source="tape",
        )
    return order


def _check_tape(tape: pd.DataFrame) -> None:
    problems = [
        Problem(where=f"column {name}", rule="missing_column", message="is required to cut a pool")
        for name in ("loan_id", "current_balance")
        if name not in tape.columns
    ]
    if not problems:
        balance = tape["current_balance"]
        if not pd.api.types.is_numeric_dtype(balance):
            problems.append(
                Problem(where="column current_balance", rule="type", message="is not numeric")
            )
        elif balance.isna().any():
            row = int(np.flatnonzero(balance.isna().to_numpy())[0])
            problems.append(
                Problem(
                    where=f"row {row + 1}, column current_balance",
                    rule="missing",
                    message=f"is missing ({int(balance.isna().sum())} rows); every loan needs one",
                )
            )
    if problems:
        raise TapeError.from_problems(problems, source="tape")


def group_codes(tape: pd.DataFrame, column: str) -> np.ndarray:
    """Integer group codes of ``column``, numbered by first appearance in the tape's order.

    The tape is in loan-id order here, so the numbering (which only breaks ties) does not
    depend on how the tape arrived.  Missing values form one group of their own.
    """
    if column == "loan_id" or (
        column == "obligor_id" and tape["obligor_id"].equals(tape["loan_id"])
    ):
        return np.arange(len(tape))  # one group per (unique) loan id
    codes, uniques = pd.factorize(tape[column], sort=False, use_na_sentinel=True)
    return np.where(codes < 0, len(uniques), codes)


def _group_limits(
    tape: pd.DataFrame,
    limits: ConcentrationLimits | None,
    path: str,
    cache: dict[str, np.ndarray],
) -> tuple[list[GroupLimit | TopLimit], list[str], list[Problem]]:
    """Concentration limits as integer group codes; also the column each limit groups by."""
    if limits is None:
        return [], [], []
    built: list[GroupLimit | TopLimit] = []
    columns: list[str] = []
    problems: list[Problem] = []

    def codes_of(column: str) -> np.ndarray:
        if column == "obligor_id" and column not in tape.columns:
            column = "loan_id"
        if column not in cache:
            cache[column] = group_codes(tape, column)
        return cache[column]

    for name, column, share in limits.group_limits():
        if column not in tape.columns and column != "obligor_id":
            problems.append(
                Problem(
                    where=f"{path}.concentration.{name}",
                    value=column,
                    rule="unknown_column",
                    message="is not a tape column; columns: " + ", ".join(map(str, tape.columns)),
                )
            )
            continue
        built.append(GroupLimit(name=name, codes=codes_of(column), share=share))
        columns.append(column if column in tape.columns else "loan_id")
    if limits.top_obligors is not None:
        top = limits.top_obligors
        built.append(
            TopLimit(name="top_obligors", codes=codes_of("obligor_id"), n=top.n, share=top.max)
        )
        columns.append("obligor_id" if "obligor_id" in tape.columns else "loan_id")
    return built, columns, problems


def _strat_plan(
    tape: pd.DataFrame, spec: StratSpec, path: str
) -> tuple[list[tuple[str, tuple[float, ...] | None]], list[Problem]]:
    plan: list[tuple[str, tuple[float, ...] | None]] = []
    problems: list[Problem] = []
    for column, edges, explicit in spec.numeric_strats():
        if column in tape.columns and column_kind(tape[column]) in ("number", "bool"):
            plan.append((column, edges))
        elif explicit:
            problems.append(
                Problem(
                    where=f"{path}.strats.{column}",
                    value=column,
                    rule="unknown_column",
                    message="is not a numeric tape column",
                )
            )
    for column in spec.categorical:
        if column in tape.columns:
            plan.append((column, None))
        elif spec.categorical_explicit():
            problems.append(
                Problem(
                    where=f"{path}.strats.categorical",
                    value=column,
                    rule="unknown_column",
                    message="is not a tape column",
                )
            )
    return plan, problems


def _text(series: pd.Series) -> pd.Series:
    """Report values as text; dates as ISO days."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%d").astype("string")
    return series.astype("string")


def _exclusion_rows(
    loan_id: pd.Series,
    balance: np.ndarray,
    idx: np.ndarray,
    *,
    stage: str,
    rule: str,
    column: str,
    values: pd.Series | None,
    first: np.ndarray,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "loan_id": loan_id.iloc[idx].to_numpy(),
            "stage": stage,
            "rule": rule,
            "column": column,
            "value": (
                _text(values.iloc[idx]).to_numpy()
                if values is not None
                else pd.array([None] * len(idx), dtype="string")
            ),
            "first_rule": first,
            "current_balance": balance[idx],
        }
    )


def select_pool(
    tape: pd.DataFrame,
    criteria: PoolCriteria | Sequence[EligibilityRule] | None = None,
    concentration: ConcentrationLimits | None = None,
    *,
    strats: StratSpec | None = None,
    path: str = "pool",
) -> Pool:
    """Cut a pool from a canonical tape.

    Parameters
    ----------
    tape : DataFrame
        Canonical columns (at least ``loan_id`` and ``current_balance``) plus any extras.
    criteria : PoolCriteria or sequence of EligibilityRule, optional
        Either the full criteria or just the eligibility rules.
    concentration : ConcentrationLimits, optional
        Limits when ``criteria`` is a rule list.
    strats : StratSpec, optional
        Bucket edges when ``criteria`` is a rule list.
    path : str
        Prefix of field paths in error messages (``pool``).

    Raises
    ------
    DealError
        A rule or limit names an unknown column or compares values of the wrong type; no
        loan is eligible; a limit cannot be met.
    TapeError
        The tape lacks ``loan_id`` / ``current_balance``, repeats a loan id or misses a
        balance.
    """
    spec = _criteria(criteria, concentration, strats)
    _check_tape(tape)
    # Loan-id order makes every later step independent of the tape's row order.
    order = _loan_id_order(tape["loan_id"])
    ordered = tape.reset_index(drop=True) if order is None else tape.take(order)
    ordered = ordered.reset_index(drop=True)
    derived = with_derived(ordered)
    codes_cache: dict[str, np.ndarray] = {}
    limits, limit_columns, limit_problems = _group_limits(
        derived, spec.concentration, path, codes_cache
    )
    plan, strat_problems = _strat_plan(derived, spec.strats, path)
    problems = check_rules(ordered, spec.eligibility, path=path) + limit_problems + strat_problems
    if problems:
        raise DealError.from_problems(problems)

    n = len(ordered)
    loan_id = ordered["loan_id"]
    balance = ordered["current_balance"].to_numpy(dtype=float)
    fails = np.zeros((len(spec.eligibility), n), dtype=bool)
    for number, rule in enumerate(spec.eligibility):
        fails[number] = ~rule_passes(derived, rule)
    failing = fails.any(axis=0)
    first_failed = np.argmax(fails, axis=0) if len(fails) else np.zeros(n, dtype=np.intp)
    alive = ~failing
    pieces: list[pd.DataFrame] = []
    positions: list[np.ndarray] = []
    counts: list[tuple[str, str, int, float, int, float]] = []
    for number, rule in enumerate(spec.eligibility):
        idx = np.flatnonzero(fails[number])
        first = failing[idx] & (first_failed[idx] == number)
        positions.append(idx)
        pieces.append(
            _exclusion_rows(
                loan_id,
                balance,
                idx,
                stage="eligibility",
                rule=rule.name,
                column=rule.column,
                values=derived[rule.column],
                first=first,
            )
        )
        counts.append(
            (
                "eligibility",
                rule.name,
                int(first.sum()),
                float(balance[idx[first]].sum()),
                len(idx),
                float(balance[idx].sum()),
            )
        )
    if not alive.any():
        raise DealError.from_problems(
            [
                Problem(
                    where=f"{path}.eligibility",
                    rule="empty_pool",
                    message=f"no loan of {n} passes every rule (first failures: "
                    + ", ".join(f"{c[1]!r} {c[2]}" for c in counts)
                    + ")",
                )
            ]
        )

    target = spec.effective_target
    if target is not None:
        keep = take_target(balance, alive, target, order=spec.target_order, seed=spec.seed)
        idx = np.flatnonzero(alive & ~keep)
        alive &= keep
        positions.append(idx)
        pieces.append(
            _exclusion_rows(
                loan_id,
                balance,
                idx,
                stage="target",
                rule="target_balance",
                column="current_balance",
                values=None,
                first=np.ones(len(idx), dtype=bool),
            )
        )
        amount = float(balance[idx].sum())
        counts.append(("target", "target_balance", len(idx), amount, len(idx), amount))
        if not alive.any():
            raise DealError.from_problems(
                [
                    Problem(
                        where=f"{path}.target_balance",
                        value=target,
                        rule="empty_pool",
                        message="is below every eligible loan's balance: no loan fits",
                    )
                ]
            )

    if limits:
        try:
            removed_by, _ = trim(balance, alive=alive, limits=limits)
        except InfeasibleLimit as error:
            where = (
                f"{path}.concentration.{error.name}"
                if error.name != "concentration"
                else f"{path}.concentration"
            )
            raise DealError.from_problems(
                [Problem(where=where, rule="infeasible_limit", message=error.reason)]
            ) from None
        for number, limit in enumerate(limits):
            idx = np.flatnonzero(removed_by == number)
            column = limit_columns[number]
            positions.append(idx)
            pieces.append(
                _exclusion_rows(
                    loan_id,
                    balance,
                    idx,
                    stage="concentration",
                    rule=limit.name,
                    column=column,
                    values=ordered[column],
                    first=np.ones(len(idx), dtype=bool),
                )
            )
            amount = float(balance[idx].sum())
            counts.append(("concentration", limit.name, len(idx), amount, len(idx), amount))
        alive &= removed_by < 0
        if not alive.any():
            raise DealError(f"{path}.concentration: the limits leave no loan in the pool")

    eligible = ordered.loc[alive].reset_index(drop=True)
    eligible_derived = with_derived(eligible)
    excluded = (
        pd.concat(pieces, ignore_index=True)
        if pieces
        else _exclusion_rows(
            loan_id,
            balance,
            np.empty(0, dtype=np.intp),
            stage="eligibility",
            rule="",
            column="",
            values=None,
            first=np.empty(0, dtype=bool),
        )
    )
    if len(excluded):
        # Loan-id order (row positions are in loan-id order), then the order of the rules.
        where = np.concatenate(positions)
        excluded = excluded.iloc[np.lexsort((np.arange(len(excluded)), where))]
        excluded = excluded.reset_index(drop=True)
    exclusion_counts = pd.DataFrame(counts, columns=list(EXCLUSION_COUNT_COLUMNS))
    weights = strat_weights(eligible_derived)
    tables = {
        column: stratify(eligible_derived, column, edges=edges, weights=weights)
        for column, edges in plan
    }
    obligor_column = "obligor_id" if "obligor_id" in ordered.columns else "loan_id"
    obligor_codes = codes_cache.get(obligor_column)
    if obligor_codes is None:
        obligor_codes = group_codes(ordered, obligor_column)
    return Pool(
        criteria=spec,
        eligible=eligible,
        excluded=excluded,
        exclusion_counts=exclusion_counts,
        summary=summarize(
            eligible_derived,
            score_edges=spec.strats.credit_score,
            dpd_edges=spec.strats.days_past_due,
            strats=tables,
            obligor_codes=obligor_codes[alive],
        ),
        strats=tables,
        tape_count=n,
        tape_balance=float(balance.sum()),
    )


__all__ = ["EXCLUDED_COLUMNS", "EXCLUSION_COUNT_COLUMNS", "STRAT_COLUMNS", "Pool", "select_pool"]
