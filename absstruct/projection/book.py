"""The aggregation step on its own: a tape summarised into cohorts once, projected many times.

``book = aggregate(tape, periods=...)`` reads the tape's projection columns, groups the
loans into cohorts and sums their scheduled balances, interest and fees per cohort: the
O(loans x periods) part of a projection.  ``project(book, scenarios)`` then costs
O(cohorts x periods) per scenario, however many times it is called, which is what
repeated projections of one pool (batch chunks, breakeven passes) need.

What depends on a scenario and still needs the loans (a payment holiday's schedules, the
advancing loss cap per distinct severity and lag) is summed the first time a scenario asks
for it and kept in the book, so a later call with the same holiday or severity reuses it.
The book's loans and cohorts never change; only that memo of derived sums grows (bounded).

Examples
--------
>>> import pandas as pd
>>> from absstruct.curves import Assumptions
>>> from absstruct.projection import project
>>> tape = pd.DataFrame({"current_balance": [600.0, 400.0], "rate": [0.12, 0.12],
...     "original_term": [12, 12], "remaining_term": [12, 12],
...     "amortization": ["level_pay", "level_pay"]})
>>> book = aggregate(tape, periods=12)
>>> book.n_loans, book.n_cohorts, book.n_periods
(2, 1, 12)
>>> a = Assumptions(prepay="CPR 10%", default="CDR 5%", severity="50%")
>>> from_book = project(book, a)["performing_balance"]
>>> bool(abs(from_book - project(tape, a)["performing_balance"]).max() < 1e-9)
True
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from absstruct.curves import Assumptions
from absstruct.errors import AssumptionError
from absstruct.projection import cohort
from absstruct.projection.cohort import Aggregates, Cohorts
from absstruct.projection.schedules import LoanArrays

HolidayKey = tuple[float, int, int, bool] | None
# Loss-cap sums kept per book: each is (cohorts x periods); enough for the severities of a
# scenario grid without letting a long batch of distinct severities grow without bound.
MAX_LOSS_TERMS = 64


def holiday_key(a: Assumptions) -> HolidayKey:
    """What a scenario's payment holiday changes in the scheduled sums (``None``: none)."""
    h = a.holiday
    return None if h is None else (h.share_value, h.start, h.months, h.capitalize)


def segment_columns(scenarios: Sequence[Assumptions]) -> tuple[str, ...]:
    """The tape columns the scenarios' curves are segmented by."""
    return tuple(sorted({a.segment_by for a in scenarios if a.segment_by}))


def horizon(loans: LoanArrays, scenarios: Sequence[Assumptions], periods: int | None) -> int:
    """Months to project: ``periods``, or the longest remaining term plus any holiday."""
    if periods is not None:
        if isinstance(periods, bool) or not isinstance(periods, (int, np.integer)) or periods < 1:
            raise AssumptionError(f"periods: {periods!r} must be a whole number >= 1")
        return int(periods)
    extra = max((a.holiday.months for a in scenarios if a.holiday), default=0)
    return max(int(loans.remaining.max(initial=1)), 1) + extra


@dataclass(frozen=True, kw_only=True, eq=False)
class CohortBook:
    """A tape aggregated into cohorts over ``n_periods`` months (see :func:`aggregate`).

    Attributes
    ----------
    loans : LoanArrays
        The tape's projection columns (kept for the loan-level path and the per-scenario
        sums that need loans).
    cohorts : Cohorts
        Loans grouped by (segments, age, remaining term, payment frequency).
    n_periods : int
    by_age : bool
        Whether cohorts are split by loan age (needed by curves indexed by age).
    segment_columns : tuple of str
        The tape columns cohorts are split by; scenarios may segment by these only.
    scheduled : Aggregates
        Scheduled balance, principal, interest and fees summed per cohort.
    """

    loans: LoanArrays
    cohorts: Cohorts
    n_periods: int
    by_age: bool
    segment_columns: tuple[str, ...]
    scheduled: Aggregates
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False)
    _lock: Any = field(default_factory=threading.Lock, repr=False)

    @property
    def n_loans(self) -> int:
        return self.loans.n_loans

    @property
    def n_cohorts(self) -> int:
        return self.cohorts.n_cohorts

    @property
    def initial_balance(self) -> float:
        return float(self.loans.balance.sum())

    def __getstate__(self) -> dict[str, Any]:
        # The memo and the lock stay behind: a copy recomputes what it needs.
        state = dict(self.__dict__)
        state.pop("_lock")
        state["_memo"] = {}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in {**state, "_lock": threading.Lock()}.items():
            object.__setattr__(self, name, value)

    def check(self, scenarios: Sequence[Assumptions], periods: int | None) -> None:
        """Raise unless every scenario can be projected from this book."""
        missing = [c for c in segment_columns(scenarios) if c not in self.segment_columns]
        if missing:
            raise AssumptionError(
                f"segment_by: {', '.join(missing)} is not a column this book was aggregated "
                f"by ({', '.join(self.segment_columns) or 'none'}); aggregate with "
                f"segment_by={tuple(sorted({*self.segment_columns, *missing}))!r}"
            )
        if not self.by_age and any(a.basis == "age" for a in scenarios):
            raise AssumptionError(
                "basis: a scenario indexes curves by loan age; this book was aggregated with "
                "by_age=False"
            )
        if periods is not None and horizon(self.loans, scenarios, periods) != self.n_periods:
            raise AssumptionError(
                f"periods: {periods!r} differs from the book's {self.n_periods} months; "
                "aggregate the tape for that horizon"
            )

    def sums(
        self, key: HolidayKey, losses: Sequence[tuple[int, np.ndarray]]
    ) -> tuple[Aggregates, list[np.ndarray]]:
        """The cohort sums under holiday ``key`` and the loss-cap sum of each (lag, severity).

        Anything not yet in the memo is summed in one pass over the loans.
        """
        with self._lock:
            digests = [(key, lag, _digest(severity)) for lag, severity in losses]
            agg = self.scheduled if key is None else self._memo.get(("holiday", key))
            wanted: dict[tuple[Any, ...], tuple[int, np.ndarray]] = {}
            for digest, item in zip(digests, losses, strict=True):
                if digest not in self._memo:
                    wanted.setdefault(digest, item)
            if agg is None or wanted:
                agg, found = cohort.aggregate(
                    self.loans,
                    self.cohorts,
                    self.n_periods,
                    holiday=key,
                    loss_keys=tuple(wanted.values()),
                    scheduled=self.scheduled,
                )
                if key is not None:
                    self._memo[("holiday", key)] = agg
                for digest, term in zip(wanted, found, strict=True):
                    self._memo[digest] = term
            terms = [self._memo[d] for d in digests]
            for d in dict.fromkeys(digests):  # re-inserted last: the most recently used stay
                self._memo[d] = self._memo.pop(d)
            loss_digests = [d for d in self._memo if d[0] != "holiday"]
            for old in loss_digests[: max(len(loss_digests) - MAX_LOSS_TERMS, 0)]:
                del self._memo[old]
            return agg, terms


def _digest(severity: np.ndarray) -> str:
    values = np.ascontiguousarray(severity, dtype=float)
    return hashlib.blake2b(
        values.tobytes() + str(values.shape).encode(), digest_size=16
    ).hexdigest()


def aggregate(
    tape: pd.DataFrame,
    *,
    periods: int | None = None,
    segment_by: Sequence[str] = (),
    by_age: bool = True,
    scenarios: Assumptions | Sequence[Assumptions] = (),
) -> CohortBook:
    """Aggregate a tape into cohorts once, for :func:`~absstruct.projection.project`.

    Parameters
    ----------
    tape : pandas.DataFrame
        Canonical tape (the columns :func:`~absstruct.projection.project` reads).
    periods : int, optional
        Months the book covers; default the longest remaining term plus the longest
        payment holiday among ``scenarios``.
    segment_by : sequence of str
        Tape columns that scenarios may segment their curves by (besides those that
        ``scenarios`` name).
    by_age : bool
        Split cohorts by loan age (default).  ``False`` is coarser and serves only scenarios
        whose curves run by projection period.
    scenarios : Assumptions or sequence of Assumptions
        Scenarios known now: their segment columns are included and their longest holiday
        sets the default horizon.

    Returns
    -------
    CohortBook
    """
    items = [scenarios] if isinstance(scenarios, Assumptions) else list(scenarios)
    columns = tuple(sorted({*segment_by, *segment_columns(items)}))
    loans = LoanArrays.from_tape(tape, segment_columns=columns)
    T = horizon(loans, items, periods)
    groups = cohort.group(loans, by_age=by_age)
    scheduled, _ = cohort.aggregate(loans, groups, T)
    return CohortBook(
        loans=loans,
        cohorts=groups,
        n_periods=T,
        by_age=by_age,
        segment_columns=columns,
        scheduled=scheduled,
    )


__all__ = ["CohortBook", "aggregate", "holiday_key", "horizon", "segment_columns"]
