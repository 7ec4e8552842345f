"""``select_pool``: tape in, pool cut out (eligible loans, exclusions, summary, strats).

Order of work: eligibility rules, then the optional target balance, then concentration
trimming (so the final pool always meets every limit; trimming may take it below the
target).  Results do not depend on the tape's row order: loans are handled in loan-id
order (as text) throughout and ``eligible`` comes back sorted by ``loan_id``.

The work runs on numpy arrays (one per column used, in loan-id order; a tape already in
that order is not reordered).  A worker thread hashes and groups the obligor ids (exactly
only where a limit can bite, see :func:`~absstruct.pool.columns.heavy_groups`) while the
rules run and the region and grade balances are summed; the strats' buckets are jobs
either thread takes, this one while it waits for the obligors, the worker while the
limits trim; the worker works out the summary's figures while the strat tables are
summed.  The ``eligible`` and ``excluded`` frames are built on
first access and kept, so a caller that needs only the summary, strats and exclusion
counts never copies the tape.

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

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property, partial
from typing import Any

import numpy as np
import pandas as pd

from absstruct.errors import DealError, Problem, TapeError
from absstruct.pool.columns import Columns, InexactGroups, loan_id_order, obligor_hashes
from absstruct.pool.concentration import (
    GroupLimit,
    InfeasibleLimit,
    TopLimit,
    Trimming,
    take_target,
    trim,
)
from absstruct.pool.criteria import (
    ConcentrationLimits,
    EligibilityRule,
    PoolCriteria,
    StratSpec,
)
from absstruct.pool.rules import check_rules, column_kind, rule_passes, with_derived
from absstruct.pool.strats import (
    MIX_COLUMNS,
    STRAT_COLUMNS,
    SUMMARY_NUMBERS,
    JointKeys,
    PoolSummary,
    Weights,
    bucket_codes,
    bucket_labels,
    pool_figures,
    sorted_categories,
    weights_of,
    with_mixes,
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
class _Exclusions:
    """One block of the exclusion report: loans (positions in loan-id order) and a reason."""

    stage: str
    rule: str
    column: str
    positions: np.ndarray
    first: np.ndarray
    show_value: bool


@dataclass(frozen=True, kw_only=True)
class _Cut:
    """What the lazily built frames of a :class:`Pool` are made from."""

    tape: pd.DataFrame  # as given, with derived columns
    columns: tuple[str, ...]  # the tape's own columns (eligible keeps only these)
    rows: np.ndarray | None  # row of each loan-id position; None when in loan-id order
    eligible: np.ndarray  # loan-id positions of the pool
    blocks: tuple[_Exclusions, ...]
    balance: np.ndarray  # current balance by loan-id position

    def row(self, positions: np.ndarray) -> np.ndarray:
        return positions if self.rows is None else self.rows[positions]


@dataclass(frozen=True, kw_only=True)
class Pool:
    """A pool cut.

    Attributes
    ----------
    eligible : DataFrame
        The selected loans, every tape column kept, sorted by ``loan_id`` (built on first
        access).
    excluded : DataFrame
        One row per (loan, reason): ``loan_id, stage, rule, column, value, first_rule,
        current_balance``.  ``first_rule`` marks the reason a loan is counted under
        (its first failed eligibility rule, or the target / limit that removed it).
        Built on first access.
    exclusion_counts : DataFrame
        Per rule: loans and balance excluded by it first, and failing it at all.
    summary : PoolSummary
    strats : dict of str to DataFrame
        One table per stratified column, rows ``STRAT_COLUMNS``.
    tape_count, tape_balance :
        The tape's totals: eligible + excluded (first reasons) add up to them.
    """

    criteria: PoolCriteria
    exclusion_counts: pd.DataFrame
    summary: PoolSummary
    strats: dict[str, pd.DataFrame] = field(default_factory=dict)
    tape_count: int
    tape_balance: float
    cut: _Cut = field(repr=False, compare=False)

    @cached_property
    def eligible(self) -> pd.DataFrame:
        rows = self.cut.row(self.cut.eligible)
        frame = self.cut.tape.take(rows)
        if len(self.cut.columns) != frame.shape[1]:
            frame = frame[list(self.cut.columns)]
        return frame.reset_index(drop=True)

    @cached_property
    def excluded(self) -> pd.DataFrame:
        return _excluded_frame(self.cut)

    @property
    def excluded_count(self) -> int:
        return self.tape_count - len(self.cut.eligible)

    @property
    def excluded_balance(self) -> float:
        out = np.ones(len(self.cut.balance), dtype=bool)
        out[self.cut.eligible] = False
        return float(self.cut.balance[out].sum())

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


def _text(series: pd.Series) -> pd.Series:
    """Report values as text; dates as ISO days."""
    if pd.api.types.is_datetime64_any_dtype(series):
        return series.dt.strftime("%Y-%m-%d").astype("string")
    return series.astype("string")


def _excluded_frame(cut: _Cut) -> pd.DataFrame:
    loan_id = cut.tape["loan_id"]
    pieces = []
    for block in cut.blocks:
        rows = cut.row(block.positions)
        values = (
            _text(cut.tape[block.column].iloc[rows]).to_numpy()
            if block.show_value
            else pd.array([None] * len(rows), dtype="string")
        )
        pieces.append(
            pd.DataFrame(
                {
                    "loan_id": loan_id.iloc[rows].to_numpy(),
                    "stage": block.stage,
                    "rule": block.rule,
                    "column": block.column,
                    "value": values,
                    "first_rule": block.first,
                    "current_balance": cut.balance[block.positions],
                }
            )
        )
    if not pieces:
        return pd.DataFrame(
            {
                "loan_id": loan_id.iloc[:0].to_numpy(),
                "stage": "eligibility",
                "rule": "",
                "column": "",
                "value": pd.array([], dtype="string"),
                "first_rule": np.empty(0, dtype=bool),
                "current_balance": np.empty(0, dtype=float),
            }
        )
    excluded = pd.concat(pieces, ignore_index=True)
    if len(excluded):
        # Loan-id order (positions are in loan-id order), then the order of the rules.
        where = np.concatenate([block.positions for block in cut.blocks])
        excluded = excluded.iloc[np.lexsort((np.arange(len(excluded)), where))]
        excluded = excluded.reset_index(drop=True)
    return excluded


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


def _limit_problems(
    tape: pd.DataFrame, limits: ConcentrationLimits | None, path: str
) -> list[Problem]:
    """Limits that group by a column the tape lacks."""
    return [
        Problem(
            where=f"{path}.concentration.{name}",
            value=column,
            rule="unknown_column",
            message="is not a tape column; columns: " + ", ".join(map(str, tape.columns)),
        )
        for name, column, _ in (limits.group_limits() if limits is not None else ())
        if column not in tape.columns and column != "obligor_id"
    ]


def _group_limits(
    limits: ConcentrationLimits | None, columns: Columns, obligor: str, *, exact: bool = False
) -> tuple[list[GroupLimit | TopLimit], list[str]]:
    """Concentration limits as integer group codes; also the column each limit groups by.

    Obligors are grouped as prefetched (exact only where a limit may bite) unless
    ``exact``."""
    if limits is None:
        return [], []
    built: list[GroupLimit | TopLimit] = []
    names: list[str] = []
    for name, column, share in limits.group_limits():
        if column == "obligor_id":
            groups = columns.obligor_groups(obligor, exact=exact)
            limit = GroupLimit(name=name, codes=groups.codes, share=share, merged=groups.merged)
            column = obligor
        else:
            limit = GroupLimit(name=name, codes=columns.codes(column), share=share)
        built.append(limit)
        names.append(column)
    if limits.top_obligors is not None:
        top = limits.top_obligors
        groups = columns.obligor_groups(obligor, exact=exact)
        built.append(
            TopLimit(
                name="top_obligors",
                codes=groups.codes,
                n=top.n,
                share=top.max,
                first=groups.first,
                merged=groups.merged,
            )
        )
        names.append(obligor)
    return built, names


def _heavy_cap(limits: ConcentrationLimits | None, balance: float) -> float:
    """The bucket balance above which obligors are grouped exactly before trimming: an
    eighth of the obligor cap on the whole tape, so merged buckets stay clear of the
    limit until trimming halves the pool (infinite without an obligor cap)."""
    if limits is None or limits.max_obligor is None:
        return np.inf
    return limits.max_obligor * balance / 8


def _trimmed(
    spec: PoolCriteria,
    columns: Columns,
    obligor: str,
    balance: np.ndarray,
    alive: np.ndarray,
    trimming: Trimming,
) -> tuple[np.ndarray, list[GroupLimit | TopLimit], list[str]]:
    """Which limit removed each loan (-1: none), the limits and their columns.

    ``trimming`` (of ``alive``) may hold groupings prepared already.  Trimming starts on
    the prefetched obligor groups and starts again on exact ones when merged groups
    could change the result (the same loans go either way)."""
    limits, limit_columns = _group_limits(spec.concentration, columns, obligor)
    if not limits:
        return np.full(len(balance), -1, dtype=np.int64), limits, limit_columns
    try:
        return trimming.run(limits)[0], limits, limit_columns
    except InexactGroups:
        limits, limit_columns = _group_limits(spec.concentration, columns, obligor, exact=True)
        return trim(balance, alive=alive, limits=limits)[0], limits, limit_columns


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


@dataclass(frozen=True, kw_only=True)
class _StratWork:
    """The strats' joint keys and averaging weights over every loan, made before the cut."""

    keys: JointKeys  # the planned strats first, then the summary's extra mixes
    columns: tuple[str, ...]  # the column of each strat
    planned: int  # how many strats the plan asks for
    weights: Weights


def _strats_wanted(
    spec: PoolCriteria, plan: list[tuple[str, tuple[float, ...] | None]], present: set[str]
) -> list[tuple[str, tuple[float, ...] | None]]:
    """The planned strats, then the summary's mixes the plan lacks: (column, edges or None)."""
    mix_edges = {
        "credit_score": spec.strats.credit_score,
        "days_past_due": spec.strats.days_past_due,
    }
    planned = {column for column, _ in plan}
    return plan + [(c, mix_edges.get(c)) for c in MIX_COLUMNS if c in present and c not in planned]


class _Jobs:
    """Jobs either thread may run, each exactly once, first come first served.

    The main thread runs them while it would otherwise wait (for the obligor groups);
    the worker runs whatever is left while the main thread trims.
    """

    def __init__(self, jobs: Sequence[Callable[[], Any]]) -> None:
        self._jobs = list(jobs)
        self._next = 0
        self._lock = threading.Lock()
        self._done = [threading.Event() for _ in self._jobs]
        self._results: list[Any] = [None] * len(self._jobs)
        self._errors: list[BaseException | None] = [None] * len(self._jobs)

    def run_one(self) -> bool:
        """Run the next job not yet taken; False when none is left."""
        with self._lock:
            if self._next == len(self._jobs):
                return False
            number = self._next
            self._next += 1
        try:
            self._results[number] = self._jobs[number]()
        except BaseException as error:  # re-raised by results(), in the caller's thread
            self._errors[number] = error
        finally:
            self._done[number].set()
        return True

    def results(self) -> list[Any]:
        """Every job's result, in job order (running what no thread has taken yet)."""
        while self.run_one():
            pass
        for number, done in enumerate(self._done):
            done.wait()
            error = self._errors[number]
            if error is not None:
                raise error
        return self._results


def _strat_jobs(
    spec: PoolCriteria,
    plan: list[tuple[str, tuple[float, ...] | None]],
    columns: Columns,
    balance: np.ndarray,
) -> tuple[_Jobs, Callable[[], _StratWork]]:
    """The strats' work, whatever the cut, as jobs: the averaging weights, then every
    loan's bucket in each strat (and summary mix); and what makes the keys of them."""
    present = set(columns.tape.columns)
    wanted = _strats_wanted(spec, plan, present)

    def weights() -> Weights:
        numbers = ("rate", "remaining_term", "credit_score")
        return weights_of(balance, {c: columns.numbers(c) for c in numbers if c in present})

    def coded(column: str, edges: Sequence[float] | None) -> tuple[np.ndarray, list[str]]:
        if edges is not None:
            return (
                bucket_codes(columns.numbers(column), edges),
                [*bucket_labels(column, edges), "missing"],
            )
        return sorted_categories(columns.codes(column), columns.names(column))

    # Numeric buckets first: short jobs let this thread stop soon after the obligor groups
    # are ready; the text columns, which take longest, are left for the worker.
    order = sorted(range(len(wanted)), key=lambda number: wanted[number][1] is None)
    jobs = _Jobs([weights, *(partial(coded, *wanted[number]) for number in order)])

    def work() -> _StratWork:
        done = jobs.results()
        built = dict(zip(order, done[1:], strict=True))
        return _StratWork(
            keys=JointKeys.of([built[number] for number in range(len(wanted))]),
            columns=tuple(column for column, _ in wanted),
            planned=len(plan),
            weights=done[0],
        )

    return jobs, work


def _strats_and_summary(
    work: _StratWork,
    columns: Columns,
    alive: np.ndarray,
    pool: np.ndarray,
    balance: np.ndarray,
    obligor: str,
    executor: Executor,
) -> tuple[dict[str, pd.DataFrame], PoolSummary]:
    """Strat tables and summary of the ``alive`` loans (a mask in loan-id order; ``pool``
    their positions).  The worker works out the summary's figures meanwhile."""
    present = set(columns.tape.columns)

    def figures() -> PoolSummary:
        pool_balance = balance[pool]
        numbers = {c: columns.numbers(c)[pool] if c in present else None for c in SUMMARY_NUMBERS}
        groups = columns.obligor_groups(obligor)
        try:
            return pool_figures(
                balance=pool_balance,
                numbers=numbers,
                obligor_codes=groups.codes[pool],
                merged=groups.merged,
            )
        except InexactGroups:
            return pool_figures(
                balance=pool_balance,
                numbers=numbers,
                obligor_codes=columns.obligor_groups(obligor, exact=True).codes[pool],
            )

    pending = executor.submit(figures)
    built = work.keys.tables(balance, work.weights, keep=alive)
    tables = dict(zip(work.columns[: work.planned], built, strict=False))
    found = dict(zip(work.columns, built, strict=True))
    summary = with_mixes(pending.result(), {column: found.get(column) for column in MIX_COLUMNS})
    return tables, summary


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
    obligor = "obligor_id" if "obligor_id" in tape.columns else "loan_id"
    # Grouping obligor ids takes about as long as the rest of the work before trimming;
    # numpy and Arrow do most of it without the interpreter lock, so a worker thread
    # groups them beside that work, starting at once with hashing them (and then builds
    # the strats' keys beside the trimming, see _select).
    with ThreadPoolExecutor(max_workers=1) as executor:
        hashing = executor.submit(obligor_hashes, tape, obligor)
        # Loan-id order makes every later step independent of the tape's row order.
        rows = loan_id_order(tape["loan_id"])
        derived = with_derived(tape)
        columns = Columns(derived, rows)
        cap = _heavy_cap(spec.concentration, float(columns.numbers("current_balance").sum()))
        columns.prefetch(executor, obligors=obligor, cap=cap, hashed=hashing)
        plan, strat_problems = _strat_plan(derived, spec.strats, path)
        problems = (
            check_rules(derived, spec.eligibility, path=path)
            + _limit_problems(derived, spec.concentration, path)
            + strat_problems
        )
        if problems:
            raise DealError.from_problems(problems)
        return _select(spec, tape, derived, columns, plan, obligor, path, executor)


def _select(
    spec: PoolCriteria,
    tape: pd.DataFrame,
    derived: pd.DataFrame,
    columns: Columns,
    plan: list[tuple[str, tuple[float, ...] | None]],
    obligor: str,
    path: str,
    executor: Executor,
) -> Pool:
    n = len(tape)
    balance = columns.numbers("current_balance")
    fails = [columns.pick(~rule_passes(derived, rule)) for rule in spec.eligibility]
    # Row by row rather than across a (rules, loans) matrix: contiguous and cheap.
    failing = np.zeros(n, dtype=bool)
    first_failed = np.full(n, -1, dtype=np.intp)
    for number in reversed(range(len(fails))):
        first_failed[fails[number]] = number
        failing |= fails[number]
    alive = ~failing
    blocks: list[_Exclusions] = []
    counts: list[tuple[str, str, int, float, int, float]] = []
    for number, rule in enumerate(spec.eligibility):
        idx = np.flatnonzero(fails[number])
        first = first_failed[idx] == number
        blocks.append(
            _Exclusions(
                stage="eligibility",
                rule=rule.name,
                column=rule.column,
                positions=idx,
                first=first,
                show_value=True,
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
        blocks.append(
            _Exclusions(
                stage="target",
                rule="target_balance",
                column="current_balance",
                positions=idx,
                first=np.ones(len(idx), dtype=bool),
                show_value=False,
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

    # The text columns the limits group by are encoded here while the worker groups
    # obligor ids.  The strats' buckets and weights do not depend on the cut: this thread
    # works on them until the obligor groups are ready, the worker does the rest (and
    # builds the strats' keys) while the limits are trimmed here.
    trimming = None if spec.concentration is None else Trimming(balance, alive=alive)
    for _, column, _ in spec.concentration.group_limits() if spec.concentration else ():
        if column != "obligor_id" and trimming is not None:
            trimming.prepare(columns.codes(column))  # their balances, before obligors are known
    jobs, work = _strat_jobs(spec, plan, columns, balance)
    if spec.concentration is not None:
        while not columns.obligors_ready(obligor) and jobs.run_one():
            pass
    strat_work = executor.submit(work)
    if trimming is not None:
        try:
            removed_by, limits, limit_columns = _trimmed(
                spec, columns, obligor, balance, alive, trimming
            )
        except InfeasibleLimit as error:
            where = (
                f"{path}.concentration.{error.name}"
                if error.name != "concentration"
                else f"{path}.concentration"
            )
            raise DealError.from_problems(
                [Problem(where=where, rule="infeasible_limit", message=error.reason)]
            ) from None
        # The removed loans by limit, in loan-id order within each: one pass over the tape.
        removed = np.flatnonzero(removed_by >= 0)
        by_limit = removed[np.argsort(removed_by[removed], kind="stable")]
        ends = np.cumsum(np.bincount(removed_by[removed], minlength=len(limits)))
        for number, limit in enumerate(limits):
            idx = by_limit[(ends[number - 1] if number else 0) : ends[number]]
            blocks.append(
                _Exclusions(
                    stage="concentration",
                    rule=limit.name,
                    column=limit_columns[number],
                    positions=idx,
                    first=np.ones(len(idx), dtype=bool),
                    show_value=True,
                )
            )
            amount = float(balance[idx].sum())
            counts.append(("concentration", limit.name, len(idx), amount, len(idx), amount))
        alive[removed] = False
        if not alive.any():
            raise DealError(f"{path}.concentration: the limits leave no loan in the pool")

    pool = np.flatnonzero(alive)
    tables, summary = _strats_and_summary(
        strat_work.result(),
        columns,
        alive,
        pool,
        balance,
        obligor,
        executor,
    )
    return Pool(
        criteria=spec,
        exclusion_counts=pd.DataFrame(counts, columns=list(EXCLUSION_COUNT_COLUMNS)),
        summary=summary,
        strats=tables,
        tape_count=n,
        tape_balance=float(balance.sum()),
        cut=_Cut(
            tape=derived,
            columns=tuple(tape.columns),
            rows=columns.rows,
            eligible=pool,
            blocks=tuple(blocks),
            balance=balance,
        ),
    )


__all__ = [
    "EXCLUDED_COLUMNS",
    "EXCLUSION_COUNT_COLUMNS",
    "STRAT_COLUMNS",
    "Pool",
    "select_pool",
]
