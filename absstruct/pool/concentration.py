"""Concentration trimming and target-balance selection: pure numpy kernels.

Trimming policy (deterministic, documented for investors):

1. Loans are held in loan-id order; ``rank`` is that position.
2. Limits are applied in a fixed order: ``max_obligor``, ``max_region``, each ``max_by``
   column as written, then ``top_obligors``.  Each limit is brought within bounds before
   the next is looked at.  Shares are of the CURRENT pool balance, so removing loans
   raises every other group's share; passes over all limits repeat until none is exceeded.
3. A limit ``s`` trims all its over-limit groups at once.  If groups ``C`` go over, the
   pool left once each sits at its limit is ``T' = U / (1 - |C| s)`` (``U`` the balance
   of the other groups; a group joins ``C`` while it would exceed ``s T'``), so group
   ``g`` must shed at least ``B_g - s T'`` (for a single group ``(B - s T) / (1 - s)``,
   the smallest ``x`` with ``B - x <= s (T - x)``).  The group's largest loans go first
   (ties by loan id) until at least that much is removed; whole loans may overshoot and
   push other groups over, so the limit is checked again.  This is the least removal
   that keeps the limit: the same loans go as when over-limit groups lose their largest
   loan one at a time.
4. For ``top_obligors`` the over-limit group is the current top ``n`` obligors (largest
   balance first, ties by the obligor's first loan id); their largest loans go first.
5. A limit that no pool can meet (``s`` times the number of groups below 100%) is an
   error rather than a silently emptied pool.

How it runs (none of it changes which loans go): a large group keeps a queue of its
largest loans in removal order from step to step, started at a balance guessed from a
sample; a group limit looks only at groups above half its cap (with many groups, from a
watch list kept between steps); the top obligors come from a shortlist kept between
steps; feasibility is settled on a lower bound of the groups present when it can be.
Obligor codes may merge obligors outside the groups a limit can reach
(:class:`~absstruct.pool.columns.Merged`): trimming raises
:class:`~absstruct.pool.columns.InexactGroups` where a merged code could change the
result, and the caller starts again on exact groups.

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

from absstruct.pool.columns import InexactGroups, Merged

# Relative tolerance on money comparisons (shares are exact up to float sums).
_TOL = 1e-9
MAX_PASSES = 500
# Over-limit groups up to this many loans are trimmed together by one sort; larger ones
# one by one, sorting only as many of their largest loans as the removal can need.
_SMALL_GROUP = 4096


@dataclass(frozen=True, kw_only=True)
class GroupLimit:
    """Each group (``codes``, integers 0..k-1) holds at most ``share``."""

    name: str
    codes: np.ndarray
    share: float
    merged: Merged | None = None  # how the codes merge obligors (ObligorGroups)


@dataclass(frozen=True, kw_only=True)
class TopLimit:
    """The ``n`` largest obligors together hold at most ``share``.

    Obligors of equal balance rank by ``first`` (per code: the position of the obligor's
    first loan); by the codes themselves when ``first`` is None, i.e. when codes number
    obligors by first appearance.
    """

    name: str
    codes: np.ndarray
    n: int
    share: float
    first: np.ndarray | None = None
    merged: Merged | None = None  # how the codes merge obligors (ObligorGroups)


class InfeasibleLimit(ValueError):
    """A limit no non-empty pool can meet; carries the limit name and a reason."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


def _ranked(positions: np.ndarray, values: np.ndarray, count: int) -> np.ndarray:
    """The ``count`` largest of ``positions`` (balances ``values``) and every loan tying the
    smallest of them, in removal order (largest first, ties by position).  Sorts only
    those, after a partition."""
    if count < len(values):
        top = np.flatnonzero(
            values >= np.partition(values, len(values) - count)[len(values) - count]
        )
    else:
        top = np.arange(len(values))
    return positions[top[descending(values[top])]]


def descending(values: np.ndarray) -> np.ndarray:
    """Indices of ``values`` largest first, equal values in index order: what a stable sort
    gives, from the (several times faster) unstable one plus a sort of the ties alone.

    >>> descending(np.array([5.0, 7.0, 5.0, 9.0, 5.0])).tolist()
    [3, 1, 0, 2, 4]
    """
    order = np.argsort(-values)
    ranked = values[order]
    tied = ranked[1:] == ranked[:-1]
    if tied.any():
        # Each run of equal values gets its indices in ascending order: sort (run, index)
        # packed into one integer.
        run = np.cumsum(np.r_[False, ~tied])
        idx = np.flatnonzero(np.r_[tied, False] | np.r_[False, tied])
        order[idx] = np.sort(run[idx] * len(values) + order[idx]) % len(values)
    return order


def _largest_first(positions: np.ndarray, balance: np.ndarray, need: float) -> np.ndarray:
    """The largest of ``positions`` (ties by position) while less than ``need`` is removed.

    Sorts only the ``k`` largest: any ``k`` loans at or above the mean hold at least
    ``k`` times the mean, so ``need / mean + 1`` of them always cover ``need``.
    """
    if need <= 0 or not len(positions):
        return positions[:0]
    values = balance[positions]
    ranked = _ranked(positions, values, _enough(values, need))
    values = balance[ranked]
    before = np.cumsum(values) - values
    return np.sort(ranked[before < need])


def _enough(values: np.ndarray, need: float) -> int:
    """How many of the largest ``values`` surely cover ``need`` (see _largest_first)."""
    mean = values.sum() / len(values)
    return len(values) if mean <= 0 else min(len(values), int(need / mean) + 2)


def _grouped_largest_first(
    positions: np.ndarray, codes: np.ndarray, balance: np.ndarray, need: np.ndarray
) -> np.ndarray:
    """Per group (``codes[positions]``): largest first while below the group's need."""
    group = codes[positions]
    order = np.lexsort((positions, -balance[positions], group))
    positions, group = positions[order], group[order]
    values = balance[positions]
    cumulative = np.cumsum(values)
    starts = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    lengths = np.diff(np.r_[starts, len(positions)])
    before = cumulative - values - np.repeat(cumulative[starts] - values[starts], lengths)
    return positions[before < need[group]]


class _GroupState:
    """Group balances of one grouping over the loans still in the pool, kept as loans go.

    Limits that group by the same codes (``max_obligor`` and ``top_obligors``) share one.
    """

    def __init__(
        self,
        codes: np.ndarray,
        balance: np.ndarray,
        live: np.ndarray,
        merged: tuple[Merged, np.ndarray] | None = None,
        *,
        nonnegative: bool | None = None,
    ):
        """Every loan given is in the pool at the start (``live``, kept up to date by the
        caller); ``merged``: how codes merge obligors, and the bucket of each loan."""
        self.codes = np.asarray(codes, dtype=np.intp)
        self.size = int(self.codes.max()) + 1 if len(self.codes) else 0
        if merged is not None:
            self.size = max(self.size, merged[0].exact + 1)
        self.counts = np.bincount(self.codes, minlength=self.size)
        self.totals = np.bincount(self.codes, weights=balance, minlength=self.size)
        self.balance = balance
        self.live = live
        self.shortlist: np.ndarray | None = None  # see _top_contenders
        self.listed_loans: np.ndarray | None = None  # the shortlist's loans
        self.floor = -np.inf
        # Per large group: its largest loans in removal order (see _from_queue).
        self.queues: dict[int, np.ndarray] = {}
        if nonnegative is None:
            nonnegative = not len(balance) or float(balance.min()) >= 0
        self.nonnegative = nonnegative
        # Per share: groups that may come within half of it, and the pool they were
        # picked at (see watched).
        self.watch_lists: dict[float, tuple[np.ndarray, float]] = {}
        # The merged code is no group: it keeps a balance of 0 and so never goes over or
        # ranks; the bound on its obligors stands while balances only fall.
        self.merged = None if merged is None else merged[0]
        self.buckets = None if merged is None else merged[1]
        self.merged_max = -np.inf if self.merged is None else self.merged.bound
        self.merged_total = 0.0  # balance of the merged obligors
        if self.merged is not None:
            if not self.nonnegative:
                raise InexactGroups  # negative balances: the bound bounds nothing
            self._set_merged_aside()
        # Groups present when last counted (the merged code left out), and loans removed
        # since (see fewest_present).
        self.counted = int(np.count_nonzero(self.totals > 0))
        self.removed_since = 0

    def _set_merged_aside(self, removed: bool = False) -> None:
        """Move the merged code's balance (or the change to it) out of ``totals``."""
        if self.merged is not None:
            code = self.merged.exact
            self.merged_total = (self.merged_total if removed else 0.0) + self.totals[code]
            self.totals[code] = 0.0

    def refresh(self, kept: np.ndarray) -> None:
        """Recompute the balances from scratch (subtraction leaves rounding behind);
        ``kept`` is the balance of loans still in the pool, 0 for those gone."""
        # A group with no loan left sums zeros only: exactly 0.0, as remove() leaves it.
        self.totals = np.bincount(self.codes, weights=kept, minlength=self.size)
        self._set_merged_aside()
        self.watch_lists.clear()  # picked from the kept sums, which may sit lower
        # Residues left by subtraction may have counted as present.
        self.counted = int(np.count_nonzero(self.totals > 0))
        self.removed_since = 0
        # Fresh sums may sit a rounding error above the kept ones: widen the shortlist's
        # bound by as much rather than rebuild it.
        self.floor = self.floor + _TOL * max(abs(self.floor), 1.0)

    def remove(self, gone: np.ndarray, balance: np.ndarray) -> None:
        codes = self.codes[gone]
        if len(gone) > self.size:  # few groups: sum by group, then subtract once each
            self.totals -= np.bincount(codes, weights=balance[gone], minlength=self.size)
            self.counts -= np.bincount(codes, minlength=self.size)
        else:
            np.subtract.at(self.totals, codes, balance[gone])
            np.subtract.at(self.counts, codes, 1)
        self._set_merged_aside(removed=True)  # before the residues: its count is no group's
        self.totals[codes[self.counts[codes] == 0]] = 0.0  # no rounding residue
        # Merged loans gone show in the merged balance instead.
        merged = 0 if self.merged is None else int(np.count_nonzero(codes == self.merged.exact))
        self.removed_since += len(gone) - merged

    def present(self) -> int:
        """Groups with a positive balance (merged obligors counted by bucket, so at most
        as many as there are)."""
        self.counted = int(np.count_nonzero(self.totals > 0))
        self.removed_since = 0
        if self.merged is None or self.buckets is None:
            return self.counted
        inside = np.flatnonzero(self.live & (self.codes == self.merged.exact))
        sums = np.bincount(self.buckets[inside], weights=self.balance[inside])
        return self.counted + int(np.count_nonzero(sums > 0))

    def fewest_present(self) -> int:
        """At least this many groups are present: the last count less the loans removed
        since (each empties one group at most), and as many merged obligors as their
        balance needs at the bound each.  Cheaper than :meth:`present`."""
        fewest = self.counted - self.removed_since
        if self.merged is not None and self.merged.bound > 0:
            # Shaved by a rounding margin: the merged balance is kept by subtraction.
            fewest += int(max(self.merged_total, 0.0) * (1 - 1e-9) / self.merged.bound)
        return fewest

    def watched(self, share: float, total: float) -> np.ndarray | None:
        """Groups that may be above ``share`` of half the pool ``total`` (None: every
        group may).

        With many groups, those above a quarter of the cap are listed once and the list
        kept while the pool stays above half the pool it was made at: balances only
        fall, so a group left out stays below ``share * total / 2``.
        """
        if self.size <= _SMALL_GROUP or not self.nonnegative or not total > 0:
            return None
        listed = self.watch_lists.get(share)
        if listed is None or total < listed[1] / 2:
            listed = (np.flatnonzero(self.totals > share * total / 4), total)
            self.watch_lists[share] = listed
        return listed[0]


def _group_step(
    limit: GroupLimit, state: _GroupState, balance: np.ndarray, live: np.ndarray, total: float
) -> np.ndarray:
    """Loans the group limit removes now (empty when every group is within it)."""
    share, tol = limit.share, _TOL * max(total, 1.0)
    groups = state.totals
    # Only groups above half the cap can be over, or join while the pool T' (below) stays
    # above half the pool: work on those alone (a few among a million obligors).
    half = total / 2
    if total > 0 and share < 1:
        if state.merged_max - share * half > tol:
            raise InexactGroups  # a merged group may hide one near the limit
        listed = state.watched(share, total)
        watch = (
            np.flatnonzero(groups - share * half > tol)
            if listed is None
            else listed[groups[listed] - share * half > tol]
        )
    else:
        watch = np.arange(len(groups))
    over, after, lowest = _over_limit(groups[watch], share, total, tol)
    if lowest < half and len(watch) < len(groups):
        if state.merged is not None:
            raise InexactGroups  # every group takes part, merged ones too
        watch = np.arange(len(groups))
        over, after, _ = _over_limit(groups, share, total, tol)
    if not over.any():
        return np.empty(0, dtype=np.intp)
    # A limit's feasibility only improves with more groups: count them only when the
    # lower bound does not settle it.
    if share * state.fewest_present() < 1 - _TOL and share * state.present() < 1 - _TOL:
        if state.merged is not None:
            raise InexactGroups  # a merged code counts one group: the count is too low
        present = state.present()
        raise InfeasibleLimit(
            limit.name,
            f"{share:g} cannot hold: trimming the largest loans first leaves "
            f"{present} groups (a share of {share:g} needs at least "
            f"{int(np.ceil(1 / share - _TOL))})",
        )
    codes = watch[over]
    values = groups[codes]
    if after is None:
        shed = (values - share * total) / (1 - share) if share < 1 else values - total
    else:
        shed = values - share * after
    need = np.zeros(len(groups))
    need[codes] = shed - tol
    # Large groups are read off their queues; the small ones sorted together.
    large = state.counts[codes] > _SMALL_GROUP
    pieces = [_from_queue(state, int(code), balance, live, need[code]) for code in codes[large]]
    if not large.all():
        small = np.zeros(len(groups), dtype=bool)
        small[codes[~large]] = True
        candidates = np.flatnonzero(live & small[state.codes])
        if len(candidates):  # a group may be over while empty, when the pool sums to <= 0
            pieces.append(_grouped_largest_first(candidates, state.codes, balance, need))
    return np.sort(np.concatenate(pieces)) if pieces else np.empty(0, dtype=np.intp)


def _over_limit(
    groups: np.ndarray, share: float, total: float, tol: float
) -> tuple[np.ndarray, float | None, float]:
    """Which ``groups`` (balances) are over ``share`` of the pool left once every over-limit
    group sits at its limit, ``T' = U / (1 - k s)`` (``U`` the balance of the other groups;
    a group joins while it would exceed ``s T'``); ``T'`` (None when no such pool exists
    or nothing is over: each over group then steps as if it were alone); and the lowest
    ``T'`` tried on the way.

    While that stays above half the pool, only groups above half the cap can take part
    (the caller checks): the result is the same whether or not the others are given.
    """
    over = groups - share * total > tol
    after: float | None = None
    lowest = np.inf
    while share < 1 and over.any():
        k = int(np.count_nonzero(over))
        if k * share >= 1 - _TOL:
            return over, None, lowest  # no such pool
        # Sorted before adding: the sum must not depend on how groups are numbered.
        after = (total - np.sort(groups[over]).sum()) / (1 - k * share)
        lowest = min(lowest, after)
        grown = groups - share * after > tol
        if np.array_equal(grown, over):
            break
        over = grown
    return over, after, lowest


# A large group's queue holds this share more loans than its first removal needs, so the
# next steps (the same limit again, or the next pass) take from it without a new sort.
_QUEUE_HEADROOM = 0.25


def _from_queue(
    state: _GroupState, code: int, balance: np.ndarray, live: np.ndarray, need: float
) -> np.ndarray:
    """What ``_largest_first`` takes from a large group, read off the group's queue.

    The queue is the group's largest loans in removal order, every loan tying its
    smallest included: loans only leave the pool, so its live loans stay the group's
    largest, in order.  When they hold at least ``need``, the loans taken are a prefix
    of them and no loan outside can be reached (balances are not negative); otherwise
    the queue is rebuilt, larger, from the group's live loans.
    """
    if need <= 0:
        return np.empty(0, dtype=np.intp)
    queue = state.queues.get(code)
    if queue is not None:
        queue = queue[live[queue]]
        values = balance[queue]
        before = np.cumsum(values) - values
        if len(queue) and before[-1] + values[-1] >= need:
            taken = int(np.count_nonzero(before < need))
            state.queues[code] = queue[taken:]
            return queue[:taken]
    positions = np.flatnonzero(live & (state.codes == code))
    if not state.nonnegative:
        return _largest_first(positions, balance, need)
    values = balance[positions]
    top = _covering(values, (1 + _QUEUE_HEADROOM) * need)
    if top is not None:
        queue = positions[top[descending(values[top])]]
    else:
        enough = _enough(values, need)
        queue = _ranked(positions, values, enough + int(_QUEUE_HEADROOM * enough))
    values = balance[queue]
    before = np.cumsum(values) - values
    taken = int(np.count_nonzero(before < need))
    state.queues[code] = queue[taken:]
    return queue[:taken]  # _group_step sorts what all groups give


# Loans sampled (one in this many) to guess the balance above which a group's largest
# loans hold a removal, before counting them exactly.
_SAMPLE_EVERY = 16


def _covering(values: np.ndarray, need: float) -> np.ndarray | None:
    """Indices of every value at or above a bound, guessed from a sample, such that they
    hold at least ``need`` (checked); None when the guess falls short or the values are
    too few to sample.  Values must not be negative.

    Usually far fewer than the ``need / mean`` a partition must keep: the largest loans
    are above the mean.
    """
    if len(values) < 64 * _SAMPLE_EVERY:
        return None
    sample = np.sort(values[::_SAMPLE_EVERY])[::-1]
    reach = np.searchsorted(np.cumsum(sample), 1.25 * need / _SAMPLE_EVERY)
    if reach >= len(sample):
        return None
    top = np.flatnonzero(values >= sample[reach])
    return top if values[top].sum() >= need else None


def _largest(values: np.ndarray, size: int) -> tuple[np.ndarray, float]:
    """Indices of at least the ``size`` largest ``values``, and a bound every value left out
    lies below.

    A bound guessed from a sample (to keep about twice ``size``) saves partitioning all
    the values; when it keeps too few, the exact partition decides.
    """
    sample = values[::_SAMPLE_EVERY]
    keep = 2 * size // _SAMPLE_EVERY + 1
    if len(sample) > 4 * keep:
        # Without the smallest value, which often repeats (empty groups): a partition
        # slows down many times over on repeated values.
        sample = sample[sample > sample.min()]
    if len(sample) > 4 * keep:
        bound = np.partition(sample, len(sample) - keep)[len(sample) - keep]
        kept = np.flatnonzero(values >= bound)
        if len(kept) >= size:
            return kept, float(bound)  # every value left out is below the bound
    split = np.argpartition(values, len(values) - size - 1)
    return split[len(values) - size :], float(values[split[len(values) - size - 1]])


def _top_contenders(state: _GroupState, n: int) -> np.ndarray:
    """Obligors that may be among the ``n`` largest: all whose balance ties the n-th or more.

    A shortlist of the largest obligors is kept between steps; balances only fall, so
    while its n-th largest is above the largest balance left out, the top is inside it.
    """
    obligors = state.totals
    if len(obligors) <= n:
        return np.arange(len(obligors))
    if state.shortlist is None:
        size = min(len(obligors), max(8 * n, 256))
        if size == len(obligors):
            state.shortlist, state.floor = np.arange(len(obligors)), -np.inf
        else:
            state.shortlist, state.floor = _largest(obligors, size)
        state.listed_loans = None
    listed = obligors[state.shortlist]
    if len(listed) >= n:
        cut = np.partition(listed, len(listed) - n)[len(listed) - n]
        if cut > state.floor:
            return state.shortlist[listed >= cut]
    state.shortlist = None  # the top may reach past the shortlist: look at everyone
    cut = np.partition(obligors, len(obligors) - n)[len(obligors) - n]
    return np.flatnonzero(obligors >= cut)


def _top_step(
    limit: TopLimit, state: _GroupState, balance: np.ndarray, live: np.ndarray, total: float
) -> np.ndarray:
    """Loans the top-``n`` limit removes now: the top obligors' largest loans first."""
    obligors = state.totals
    contenders = _top_contenders(state, limit.n)
    if state.merged is not None and (
        len(contenders) < limit.n
        or bool((contenders == state.merged.exact).any())
        or state.merged_max >= obligors[contenders].min()
    ):
        raise InexactGroups  # a merged group may hide one of the top obligors
    key = contenders if limit.first is None else limit.first[contenders]
    ranked = contenders[np.lexsort((key, -obligors[contenders]))][: limit.n]
    excess = obligors[ranked].sum() - limit.share * total
    tol = _TOL * max(total, 1.0)
    if excess <= tol:
        return np.empty(0, dtype=np.intp)

    def infeasible(present: int) -> bool:
        return min(limit.n, present) > limit.share * present + _TOL

    # From n obligors on, more obligors only help: count them only when the lower bound
    # does not settle it.
    fewest = state.fewest_present()
    if (fewest < limit.n or infeasible(fewest)) and infeasible(state.present()):
        if state.merged is not None:
            raise InexactGroups  # a merged code counts one obligor: the count is too low
        present = state.present()
        raise InfeasibleLimit(
            limit.name,
            f"top {limit.n} obligors cannot stay within {limit.share:g} with {present} "
            f"obligors left (needs more than {int(np.ceil(limit.n / limit.share))})",
        )
    need = excess / (1.0 - limit.share)
    in_top = np.zeros(len(obligors), dtype=bool)
    in_top[ranked] = True
    if state.shortlist is not None:  # the top obligors' loans are among the shortlist's
        if state.listed_loans is None:
            listed = np.zeros(len(obligors), dtype=bool)
            listed[state.shortlist] = True
            state.listed_loans = np.flatnonzero(listed[state.codes])
        idx = state.listed_loans
        idx = idx[live[idx] & in_top[state.codes[idx]]]
    else:
        idx = np.flatnonzero(live & in_top[state.codes])
    return _largest_first(idx, balance, need - tol)


def trim(
    balance: np.ndarray,
    *,
    alive: np.ndarray,
    limits: Sequence[GroupLimit | TopLimit],
) -> tuple[np.ndarray, int]:
    """Apply concentration limits to the ``alive`` loans (positions in loan-id order).

    Returns
    -------
    removed_by : ndarray of int
        For each loan, the index in ``limits`` of the limit that removed it, else -1.
    passes : int
        How many passes over all limits it took to settle.
    """
    return Trimming(balance, alive=alive).run(limits)


class Trimming:
    """One trimming of the ``alive`` loans, prepared in steps: :func:`trim` in parts.

    A caller that knows some groupings early (region, grade) can :meth:`prepare` their
    group balances while it waits for others (obligors), then :meth:`run` the limits.
    A trimming runs once.

    >>> trimming = Trimming(np.array([60.0, 30.0, 10.0, 50.0]), alive=np.ones(4, bool))
    >>> region = np.array([0, 0, 0, 1])
    >>> trimming.prepare(region)
    >>> trimming.run([GroupLimit(name="max_region", codes=region, share=0.6)])[0].tolist()
    [0, -1, -1, -1]
    """

    def __init__(self, balance: np.ndarray, *, alive: np.ndarray) -> None:
        # Work on the alive loans only (still in loan-id order), then map back.
        self.size = len(balance)
        self.positions = np.flatnonzero(alive)
        self.balance = np.asarray(balance, dtype=float)[self.positions]
        self.live = np.ones(len(self.balance), dtype=bool)
        self.nonnegative = not len(self.balance) or float(self.balance.min()) >= 0
        self.states: dict[int, _GroupState] = {}

    def prepare(self, codes: np.ndarray, merged: Merged | None = None) -> None:
        """Sum the group balances of ``codes`` (a limit's, the same array object)."""
        if id(codes) in self.states:
            return
        own = np.asarray(codes)[self.positions]
        buckets = None if merged is None else (merged, np.asarray(merged.buckets)[self.positions])
        self.states[id(codes)] = _GroupState(
            own, self.balance, self.live, buckets, nonnegative=self.nonnegative
        )

    def run(self, limits: Sequence[GroupLimit | TopLimit]) -> tuple[np.ndarray, int]:
        """Trim to ``limits``; see :func:`trim`."""
        for limit in limits:
            self.prepare(limit.codes, limit.merged)
        removed, passes = _trim_alive(
            self.balance, self.live, [self.states[id(limit.codes)] for limit in limits], limits
        )
        removed_by = np.full(self.size, -1, dtype=np.int64)
        removed_by[self.positions] = removed
        return removed_by, passes


def _trim_alive(
    balance: np.ndarray,
    live: np.ndarray,
    states: list[_GroupState],
    limits: Sequence[GroupLimit | TopLimit],
) -> tuple[np.ndarray, int]:
    removed_by = np.full(len(balance), -1, dtype=np.int64)
    distinct = list({id(state): state for state in states}.values())
    total = float(balance.sum())
    left = len(balance)
    checked = False  # balances recomputed from scratch since the last removal
    for passes in range(1, MAX_PASSES + 1):
        changed = False
        for number, (limit, state) in enumerate(zip(limits, states, strict=True)):
            # Each limit is brought within bounds before the next is looked at.
            while left:
                if isinstance(limit, TopLimit):
                    gone = _top_step(limit, state, balance, live, total)
                else:
                    gone = _group_step(limit, state, balance, live, total)
                if not len(gone):
                    break
                live[gone] = False
                removed_by[gone] = number
                left -= len(gone)
                for other in distinct:
                    other.remove(gone, balance)
                total -= float(balance[gone].sum())
                changed = True
            if not left:
                return removed_by, passes
        if not changed:
            if checked:
                return removed_by, passes
            # Balances were kept by subtraction: confirm on fresh sums before settling.
            # Zero weights for loans gone: cheaper than gathering the live ones.
            kept = np.where(live, balance, 0.0)
            for state in distinct:
                state.refresh(kept)
            total = float(balance[live].sum())
            checked = True
        else:
            checked = False
    raise InfeasibleLimit("concentration", f"limits did not settle after {MAX_PASSES} passes")


def take_target(
    balance: np.ndarray, alive: np.ndarray, target: float, *, order: str, seed: int
) -> np.ndarray:
    """Which alive loans a target balance keeps, filling up to ``target`` in ``order``.

    Loans are taken in ``order`` while they fit; a loan that would take the pool over the
    target is skipped and the next one tried, so the pool ends as close to the target as
    that order allows without exceeding it.  ``order`` is ``"loan_id"`` (array order),
    ``"largest"``/``"smallest"`` (by balance, ties by loan id) or ``"random"`` (a shuffle
    of the loan-id order seeded by ``seed``).

    >>> take_target(np.array([50.0, 40.0, 30.0, 20.0]), np.ones(4, bool), 75.0,
    ...             order="loan_id", seed=0).tolist()   # 50 fits, 40 not, 30 not, 20 fits
    [True, False, False, True]
    """
    idx = np.flatnonzero(alive)
    if order == "random":
        idx = idx[np.random.default_rng(seed).permutation(len(idx))]
    elif order == "largest":
        idx = idx[np.lexsort((idx, -balance[idx]))]
    elif order == "smallest":
        idx = idx[np.lexsort((idx, balance[idx]))]
    keep = np.zeros(len(balance), dtype=bool)
    ceiling = target * (1 + 1e-12)
    taken = 0.0
    # Take the run of loans that fits, skip the one that does not, drop every loan larger
    # than the room left (it can never fit) and go on; a short loop settles long tails.
    for _ in range(64):
        if not len(idx):
            return keep
        running = taken + np.cumsum(balance[idx])
        fits = running <= ceiling
        stop = len(idx) if fits.all() else int(np.argmin(fits))
        keep[idx[:stop]] = True
        if stop == len(idx):
            return keep
        taken = float(running[stop - 1]) if stop else taken
        rest = idx[stop + 1 :]
        idx = rest[taken + balance[rest] <= ceiling]
    for position in idx:
        if taken + balance[position] <= ceiling:
            taken += balance[position]
            keep[position] = True
    return keep


__all__ = [
    "MAX_PASSES",
    "GroupLimit",
    "InfeasibleLimit",
    "TopLimit",
    "Trimming",
    "take_target",
    "trim",
]
