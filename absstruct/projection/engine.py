"""Public projection API: a tape and scenarios in, pool cash flows (S x T) out.

Examples
--------
>>> import pandas as pd
>>> from absstruct.curves import Assumptions
>>> tape = pd.DataFrame({"loan_id": ["a"], "current_balance": [1000.0], "rate": [0.12],
...     "original_term": [12], "remaining_term": [12], "amortization": ["level_pay"]})
>>> flows = project(tape, Assumptions(prepay="CPR 10%", default="CDR 5%", severity="50%"))
>>> round(float(flows["performing_balance"][0, -1]), 6), flows.n_periods
(0.0, 12)
>>> period_dates(dt.date(2024, 6, 15), 3)
[datetime.date(2024, 6, 30), datetime.date(2024, 7, 31), datetime.date(2024, 8, 31)]
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from absstruct.curves import Assumptions
from absstruct.errors import AssumptionError, Problem
from absstruct.projection.book import CohortBook, aggregate, holiday_key, horizon, segment_columns
from absstruct.projection.cohort import Cohorts, finish, survival_kernel
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
from absstruct.projection.loans import recurse
from absstruct.projection.schedules import LoanArrays, materialize, with_holiday
from absstruct.tape.schema import AMORTIZATION_CODES

Method = Literal["cohort", "loan"]


def _scenarios(
    scenarios: Assumptions | Sequence[Assumptions], names: Sequence[str] | None
) -> tuple[list[Assumptions], tuple[str, ...]]:
    items = [scenarios] if isinstance(scenarios, Assumptions) else list(scenarios)
    if not items:
        raise AssumptionError("no scenario given: pass at least one Assumptions")
    for k, item in enumerate(items):
        if not isinstance(item, Assumptions):
            raise AssumptionError(
                f"scenarios[{k}]: expected Assumptions, got {type(item).__name__}"
            )
    labels = (
        tuple(names)
        if names is not None
        else (
            ("base",) if len(items) == 1 else tuple(f"scenario_{k + 1}" for k in range(len(items)))
        )
    )
    if len(labels) != len(items):
        raise AssumptionError(f"names: {len(labels)} names for {len(items)} scenarios")
    return items, labels


def rate_grids(
    a: Assumptions,
    age: np.ndarray,
    remaining: np.ndarray,
    segments: dict[str, np.ndarray],
    n_periods: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SMM, MDR and severity (by month of default) for rows of (age, remaining, segment).

    Curves run by loan age (``basis="age"``: month = age at cut-off + period) or by period.
    No new defaults in a loan's last ``lag`` months (CONVENTIONS.md).
    """
    rows = age.shape[0]
    period = np.arange(1, n_periods + 1)[None, :]
    months = (
        age[:, None] + period if a.basis == "age" else np.broadcast_to(period, (rows, n_periods))
    )
    smm, mdr, sev = (np.zeros((rows, n_periods)) for _ in range(3))
    labels = segments.get(a.segment_by) if a.segment_by else None
    groups = (
        [(None, np.arange(rows))]
        if labels is None
        else [
            (label if label in a.segments else None, np.flatnonzero(labels == label))
            for label in np.unique(labels)
        ]
    )
    for label, idx in groups:
        m = months[idx]
        smm[idx] = a.prepay_curve(label).monthly(m)
        default = a.default_curve(label)
        mdr[idx] = 0.0 if default.kind == "CUM" else default.monthly(m)
        sev[idx] = a.severity_curve(label).severity(m)
    mdr[period > (remaining[:, None] - a.lag)] = 0.0
    return smm, mdr, sev


def _cumulative(a: Assumptions, n_periods: int, initial: float) -> np.ndarray | None:
    curve = a.default_curve()
    return curve.cumulative_targets(n_periods) * initial if curve.kind == "CUM" else None


def _pool_mdr(targets: np.ndarray, eligible: np.ndarray):
    """MDR from a pool default amount: target / performing balance still allowed to default."""

    def mdr(i: int, performing: np.ndarray) -> np.ndarray:
        at_risk = float(np.sum(performing * eligible[:, i - 1]))
        # A target at or above the balance at risk takes all of it (no huge ratio to clip).
        if at_risk <= 0:
            rate = 0.0
        elif targets[i - 1] >= at_risk:
            rate = 1.0
        else:
            rate = targets[i - 1] / at_risk
        return eligible[:, i - 1] * rate

    return mdr


def project(
    tape: pd.DataFrame | CohortBook,
    scenarios: Assumptions | Sequence[Assumptions],
    *,
    periods: int | None = None,
    names: Sequence[str] | None = None,
    method: Method = "cohort",
) -> PoolFlows:
    """Project the pool's cash flows under each scenario.

    Parameters
    ----------
    tape : pandas.DataFrame or CohortBook
        Canonical tape (``current_balance, rate, original_term, remaining_term,
        amortization`` at least; ``payment_frequency, balloon_amount, fee_rate,
        original_balance`` used when present), or a tape already aggregated by
        :func:`~absstruct.projection.aggregate` (its horizon is the projection's).
    scenarios : Assumptions or sequence of Assumptions
    periods : int, optional
        Months to project; default the longest remaining term (plus any holiday), or the
        book's horizon.
    names : sequence of str, optional
        Scenario labels.
    method : {"cohort", "loan"}
        ``"cohort"`` aggregates once and shares it across scenarios; ``"loan"`` steps the
        recursion loan by loan (small tapes, cross-checks).

    Returns
    -------
    PoolFlows
        ``(S, T)`` arrays of every ``POOL_COLUMNS`` column.
    """
    items, labels = _scenarios(scenarios, names)
    if method not in ("cohort", "loan"):
        raise AssumptionError(f"method: {method!r} is not one of cohort, loan")
    if isinstance(tape, CohortBook):
        book = tape
        book.check(items, periods)
        loans, T = book.loans, book.n_periods
    elif method == "cohort":
        book = aggregate(
            tape, periods=periods, by_age=any(a.basis == "age" for a in items), scenarios=items
        )
        loans, T = book.loans, book.n_periods
    else:
        loans = LoanArrays.from_tape(tape, segment_columns=segment_columns(items))
        T = horizon(loans, items, periods)
    if method == "cohort":
        runs = _project_cohorts(book, items)
    else:
        runs = [{k: v.sum(axis=0) for k, v in _loan_run(loans, a, T).items()} for a in items]
        runs = [finish(run, advance=a.advance) for run, a in zip(runs, items, strict=True)]
    arrays = {name: np.stack([run[name] for run in runs]) for name in POOL_COLUMNS}
    return PoolFlows(
        arrays=arrays, initial_balance=float(loans.balance.sum()), scenario_names=labels
    )


def _project_cohorts(book: CohortBook, items: list[Assumptions]) -> list[dict[str, np.ndarray]]:
    cohorts, T = book.cohorts, book.n_periods
    grids = [rate_grids(a, cohorts.age, cohorts.remaining, cohorts.segments, T) for a in items]
    # One set of sums per distinct holiday; loss-cap sums per distinct (lag, severity).
    wanted: dict[object, list[tuple[int, np.ndarray]]] = {}
    for a, (_, _, sev) in zip(items, grids, strict=True):
        wanted.setdefault(holiday_key(a), [])
        if a.advance:
            wanted[holiday_key(a)].append((a.lag, sev))
    sums = {key: book.sums(key, losses) for key, losses in wanted.items()}  # type: ignore[arg-type]
    position = dict.fromkeys(wanted, 0)
    runs = []
    initial = book.initial_balance
    for a, (smm, mdr, sev) in zip(items, grids, strict=True):
        key = holiday_key(a)
        agg, losses = sums[key]
        loss_term = None
        if a.advance:
            loss_term = losses[position[key]]
            position[key] += 1
        targets = _cumulative(a, T, initial)
        if targets is not None:
            mdr = _cohort_pool_mdr(agg.balance, smm, targets, cohorts, a.lag)
        runs.append(
            survival_kernel(
                agg,
                smm,
                mdr,
                sev,
                lag=a.lag,
                advance=a.advance,
                servicing=a.servicing_rate,
                loss_term=loss_term,
            )
        )
    return runs


def _cohort_pool_mdr(
    balance: np.ndarray, smm: np.ndarray, targets: np.ndarray, cohorts: Cohorts, lag: int
) -> np.ndarray:
    """Per-period MDR that makes the pool default ``targets`` (feedback through survival)."""
    C, T = smm.shape
    eligible = (np.arange(1, T + 1)[None, :] <= (cohorts.remaining[:, None] - lag)).astype(float)
    S = np.ones(C)
    mdr = np.zeros((C, T))
    for i in range(1, T + 1):
        at_risk = float(np.sum(balance[:, i - 1] * S * eligible[:, i - 1]))
        rate = min(targets[i - 1] / at_risk, 1.0) if at_risk > 0 else 0.0
        mdr[:, i - 1] = eligible[:, i - 1] * rate
        S = S * (1.0 - mdr[:, i - 1] - np.minimum(smm[:, i - 1], 1.0 - mdr[:, i - 1]))
    return mdr


def _loan_run(loans: LoanArrays, a: Assumptions, T: int) -> dict[str, np.ndarray]:
    """The loan-level recursion for one scenario; arrays ``(loans, T)``."""
    index = np.arange(loans.n_loans)
    schedule = materialize(loans, index, n_periods=T)
    smm, mdr, sev = rate_grids(a, loans.age, loans.remaining, loans.segments, T)
    monthly = loans.rate / 12.0
    targets = _cumulative(a, T, float(loans.balance.sum()))
    eligible = (np.arange(1, T + 1)[None, :] <= (loans.remaining[:, None] - a.lag)).astype(float)
    parts = [(1.0, schedule)]
    if a.holiday is not None:
        h = a.holiday
        held = with_holiday(
            schedule, monthly, start=h.start, months=h.months, capitalize=h.capitalize
        )
        parts = [(1.0 - h.share_value, schedule), (h.share_value, held)]
    n = loans.n_loans
    stacked = {
        f: np.concatenate([getattr(s, f) for _, s in parts])
        for f in ("balance", "principal", "capitalized", "interest", "fee")
    }
    from absstruct.projection.schedules import Schedule

    result = recurse(
        Schedule(**stacked),
        np.concatenate([share * loans.balance for share, _ in parts]),
        np.tile(monthly, len(parts)),
        smm=np.tile(smm, (len(parts), 1)),
        mdr=np.tile(mdr, (len(parts), 1)),
        severity=np.tile(sev, (len(parts), 1)),
        lag=a.lag,
        advance=a.advance,
        servicing=a.servicing_rate,
        pool_mdr=None
        if targets is None
        else _pool_mdr(targets, np.tile(eligible, (len(parts), 1))),
    )
    return {k: v.reshape(len(parts), n, T).sum(axis=0) for k, v in result.items()}


def project_loans(
    tape: pd.DataFrame, assumptions: Assumptions, *, periods: int | None = None
) -> dict[str, np.ndarray]:
    """Loan-level cash flows: column name -> ``(loans, T)`` array, rows in tape order."""
    items, _ = _scenarios(assumptions, None)
    loans = LoanArrays.from_tape(tape, segment_columns=segment_columns(items))
    return _loan_run(loans, items[0], horizon(loans, items, periods))


def loan_frame(
    tape: pd.DataFrame, assumptions: Assumptions, *, periods: int | None = None
) -> pd.DataFrame:
    """Loan-level cash flows as a long table: one row per (loan, period)."""
    arrays = project_loans(tape, assumptions, periods=periods)
    n, T = next(iter(arrays.values())).shape
    ids = (
        tape["loan_id"].astype("string").to_numpy()
        if "loan_id" in tape.columns
        else (np.arange(1, n + 1).astype(str))
    )
    data = {"loan_id": np.repeat(ids, T), "period": np.tile(np.arange(1, T + 1), n)}
    data.update({k: v.reshape(-1) for k, v in arrays.items()})
    return pd.DataFrame(data)


class RepLine(BaseModel):
    """A representative line of new receivables (revolving purchases): share and terms.

    >>> RepLine(weight=1.0, rate=0.18, term=12, amortization="equal_principal").term
    12
    """

    model_config = ConfigDict(frozen=True, extra="forbid")
    weight: float = Field(gt=0)
    rate: float = Field(ge=0, le=1)
    term: int = Field(ge=1, le=600)
    amortization: str = "level_pay"
    fee_rate: float = Field(default=0.0, ge=0, le=1)
    payment_frequency: str = "monthly"

    @field_validator("amortization")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in AMORTIZATION_CODES:
            raise ValueError(f"is not one of {', '.join(AMORTIZATION_CODES)}")
        return value


def unit_flows(
    rep_lines: Sequence[RepLine],
    scenarios: Assumptions | Sequence[Assumptions],
    *,
    periods: int,
    names: Sequence[str] | None = None,
) -> PoolFlows:
    """Cash flows of 1.0 of newly originated receivables (age 0) made of ``rep_lines``.

    >>> f = unit_flows([RepLine(weight=1, rate=0.0, term=4, amortization="equal_principal")],
    ...                Assumptions(), periods=4)
    >>> f["principal_collections"][0].tolist()
    [0.25, 0.25, 0.25, 0.25]
    """
    if not rep_lines:
        raise AssumptionError(str(Problem(where="rep_lines", message="needs at least one line")))
    total = sum(line.weight for line in rep_lines)
    tape = pd.DataFrame(
        {
            "loan_id": [f"rep{k + 1}" for k in range(len(rep_lines))],
            "current_balance": [line.weight / total for line in rep_lines],
            "original_balance": [line.weight / total for line in rep_lines],
            "rate": [line.rate for line in rep_lines],
            "original_term": [line.term for line in rep_lines],
            "remaining_term": [line.term for line in rep_lines],
            "amortization": [line.amortization for line in rep_lines],
            "fee_rate": [line.fee_rate for line in rep_lines],
            "payment_frequency": [line.payment_frequency for line in rep_lines],
        }
    )
    return project(tape, scenarios, periods=periods, names=names, method="cohort")


def period_dates(cutoff: dt.date, n_periods: int) -> list[dt.date]:
    """Month-end payment dates of periods 1..n after ``cutoff`` (the cut-off month's end first
    when the cut-off falls inside a month)."""
    dates = []
    year, month = cutoff.year, cutoff.month
    end = dt.date(year, month, calendar.monthrange(year, month)[1])
    if end == cutoff:
        month += 1
    for k in range(n_periods):
        y, m = divmod(month - 1 + k, 12)
        dates.append(dt.date(year + y, m + 1, calendar.monthrange(year + y, m + 1)[1]))
    return dates
