"""Concentration trimming and target-balance selection: pure numpy kernels.

Trimming policy (deterministic, documented for investors):

1. Loans are held in loan-id order; ``rank`` is that position.
2. Limits are applied in a fixed order: ``max_obligor``, ``max_region``, each ``max_by``
   column as written, then ``top_obligors``.  Shares are of the CURRENT pool balance, so
   removing loans raises every other group's share; passes repeat until no limit is
   exceeded.
3. For a group over its limit ``s`` with balance ``B`` in a pool of ``T``, the smallest
   removal ``x`` with ``(B - x) <= s (T - x)`` is ``(B - s T) / (1 - s)``.  The group's
   largest loans go first (ties by loan id) until at least ``x`` is removed.
4. For ``top_obligors`` the over-limit group is the current top ``n`` obligors (largest
   balance first, ties by the obligor's first loan id); their largest loans go first.
5. A limit that no pool can meet (``s`` times the number of groups below 100%) is an
   error rather than a silently emptied pool.

Examples
--------
>>> import numpy as np
>>> balance = np.array([60.0, 30.0, 10.0, 50.0])
>>> region = np.array([0, 0, 0, 1])       # group codes
>>> removed, _ = trim(balance, alive=np.ones(4, bool),
...                   limits=[GroupLimit(name="max_region", codes=region, share=0.6)])
>>> removed.tolist()                      # the largest loan of region 0 goes
[0, -1, -1, -1]
>>> take_target(np.array([40.0, 30.0, 20.0]), np.ones(3, bool), 75.0, order="loan_id",
...             seed=0).tolist()
[True, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# Relative tolerance on money comparisons (shares are exact up to float sums).
_TOL = 1e-9
MAX_PASSES = 500


@dataclass(frozen=True, kw_only=True)
class GroupLimit:
    """Each group (``codes``, integers 0..k-1 in id order) holds at most ``share``."""

    name: str
    codes: np.ndarray
    share: float


@dataclass(frozen=True, kw_only=True)
class TopLimit:
    """The ``n`` largest obligors together hold at most ``share``."""

    name: str
    codes: np.ndarray
    n: int
    share: float


class InfeasibleLimit(ValueError):
    """A limit no non-empty pool can meet; carries the limit name and a reason."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _prefix_removal(candidates: np.ndarray, balance: np.ndarray, need: np.ndarray) -> np.ndarray:
    """Candidates in removal order; keep removing while the amount removed is below need."""
    cumulative = np.cumsum(balance[candidates])
    before = cumulative - balance[candidates]
    return candidates[before < need]


def _trim_group(limit: GroupLimit, balance: np.ndarray, alive: np.ndarray) -> np.ndarray:
    codes = limit.codes
    total = balance[alive].sum()
    groups = np.bincount(codes[alive], weights=balance[alive], minlength=int(codes.max()) + 1)
    excess = groups - limit.share * total
    over = excess > _TOL * max(total, 1.0)
    if not over.any():
        return np.empty(0, dtype=np.intp)
    present = np.count_nonzero(groups > 0)
    if limit.share * present < 1 - _TOL:
        raise InfeasibleLimit(
            limit.name,
            f"{limit.share:g} cannot hold: trimming the largest loans first leaves "
            f"{present} groups (a share of {limit.share:g} needs at least "
            f"{int(np.ceil(1 / limit.share - _TOL))})",
        )
    need = excess / (1.0 - limit.share) if limit.share < 1 else excess
    idx = np.flatnonzero(alive & over[codes])
    # Group by group; within a group largest first, ties by loan order (idx is ascending).
    order = np.lexsort((idx, -balance[idx], codes[idx]))
    idx = idx[order]
    group = codes[idx]
    cumulative = np.cumsum(balance[idx])
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    offsets = np.repeat(cumulative[starts] - balance[idx][starts], np.diff(np.r_[starts, len(idx)]))
    before = cumulative - offsets - balance[idx]
    return idx[before < need[group] - _TOL * max(total, 1.0)]


def _trim_top(limit: TopLimit, balance: np.ndarray, alive: np.ndarray) -> np.ndarray:
    codes = limit.codes
    total = balance[alive].sum()
    obligors = np.bincount(codes[alive], weights=balance[alive], minlength=int(codes.max()) + 1)
    present = np.count_nonzero(obligors > 0)
    # Codes number obligors by their first loan in loan-id order, so ties go by that loan.
    if len(obligors) > limit.n:
        cut = np.partition(obligors, len(obligors) - limit.n)[len(obligors) - limit.n]
        contenders = np.flatnonzero(obligors >= cut)
    else:
        contenders = np.arange(len(obligors))
    ranked = contenders[np.lexsort((contenders, -obligors[contenders]))][: limit.n]
    excess = obligors[ranked].sum() - limit.share * total
    if excess <= _TOL * max(total, 1.0):
        return np.empty(0, dtype=np.intp)
    if min(limit.n, present) > limit.share * present + _TOL:
        raise InfeasibleLimit(
            limit.name,
            f"top {limit.n} obligors cannot stay within {limit.share:g} with {present} "
            f"obligors left (needs more than {int(np.ceil(limit.n / limit.share))})",
        )
    need = excess / (1.0 - limit.share)
    in_top = np.zeros(len(obligors), dtype=bool)
    in_top[ranked] = True
    idx = np.flatnonzero(alive & in_top[codes])
    idx = idx[np.lexsort((idx, -balance[idx]))]
    return _prefix_removal(idx, balance, np.asarray(need - _TOL * max(total, 1.0)))


def trim(
    balance: np.ndarray,
    *,
    alive: np.ndarray,
    limits: Sequence[GroupLimit | TopLimit],
) -> tuple[np.ndarray, int]:
    """Apply concentration limits to the ``alive`` loans.

    Returns
    -------
    removed_by : ndarray of int
        For each loan, the index in ``limits`` of the limit that removed it, else -1.
    passes : int
        How many passes over all limits it took to settle.
    """
    alive = alive.copy()
    removed_by = np.full(len(balance), -1, dtype=np.int64)
    for passes in range(1, MAX_PASSES + 1):
        changed = False
        for number, limit in enumerate(limits):
            if not alive.any():
                return removed_by, passes
            if isinstance(limit, TopLimit):
                gone = _trim_top(limit, balance, alive)
            else:
                gone = _trim_group(limit, balance, alive)
            if len(gone):
                alive[gone] = False
                removed_by[gone] = number
                changed = True
        if not changed:
            return removed_by, passes
    raise InfeasibleLimit("concentration", f"limits did not settle after {MAX_PASSES} passes")


def take_target(
    balance: np.ndarray, alive: np.ndarray, target: float, *, order: str, seed: int
) -> np.ndarray:
    """Which alive loans a target balance keeps: a prefix, in ``order``, within ``target``.

    ``order`` is ``"loan_id"`` (array order), ``"largest"``/``"smallest"`` (by balance,
    ties by loan id) or ``"random"`` (a shuffle of the loan-id order seeded by ``seed``).
    """
    idx = np.flatnonzero(alive)
    if order == "random":
        idx = idx[np.random.default_rng(seed).permutation(len(idx))]
    elif order == "largest":
        idx = idx[np.lexsort((idx, -balance[idx]))]
    elif order == "smallest":
        idx = idx[np.lexsort((idx, balance[idx]))]
    keep = np.zeros(len(balance), dtype=bool)
    within = np.cumsum(balance[idx]) <= target * (1 + 1e-12)
    keep[idx[within]] = True
    return keep


__all__ = ["MAX_PASSES", "GroupLimit", "InfeasibleLimit", "TopLimit", "take_target", "trim"]
