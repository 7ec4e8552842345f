"""Pool summary and stratification tables, by balance-weighted bincounts.

Every strat row has: ``bucket, count, pct_count, balance, pct_balance, wac, wam,
wa_score`` (weighted by current balance; ``wa_score`` over loans that carry a score, NaN
when none do).  Numeric buckets are left-closed ``[a, b)``; missing values get a
``missing`` row, so every strat's rows add up to the pool.

Examples
--------
>>> import pandas as pd
>>> pool = pd.DataFrame({"loan_id": ["1", "2", "3"], "current_balance": [100.0, 300.0, 600.0],
...                      "rate": [0.05, 0.10, 0.20], "remaining_term": [12, 24, 36],
...                      "original_term": [36, 36, 60], "grade": ["A", "B", "B"]})
>>> table = stratify(pool, "current_balance", edges=(0, 250, 500))
>>> table[["bucket", "count", "balance", "wac"]]
         bucket  count  balance   wac
0    0 to < 250      1    100.0  0.05
1  250 to < 500      1    300.0  0.10
2         ≥ 500      1    600.0  0.20
>>> stratify(pool, "grade")[["bucket", "count", "pct_balance"]]
  bucket  count  pct_balance
0      A      1          0.1
1      B      2          0.9
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from absstruct.pool.columns import InexactGroups, Merged

STRAT_COLUMNS: tuple[str, ...] = (
    "bucket",
    "count",
    "pct_count",
    "balance",
    "pct_balance",
    "wac",
    "wam",
    "wa_score",
)
MISSING = "missing"
# Columns whose buckets read as whole numbers ("12-23", "360+").
_WHOLE = frozenset({"original_term", "remaining_term", "seasoning", "days_past_due"})
_PERCENT = frozenset({"rate", "margin", "fee_rate"})
DPD_EDGES: tuple[float, ...] = (0, 1, 30, 60, 90, 120)


def _fmt(value: float, column: str) -> str:
    if column in _PERCENT:
        return f"{value:.2%}"
    if column in _WHOLE or float(value).is_integer():
        return f"{value:,.0f}" if column not in _WHOLE else f"{value:.0f}"
    return f"{value:,.2f}"


def bucket_labels(column: str, edges: Sequence[float]) -> list[str]:
    """Labels for the ``len(edges) + 1`` buckets: below, between and at-or-above the edges.

    >>> bucket_labels("remaining_term", (0, 12, 24))
    ['< 0', '0-11', '12-23', '24+']
    >>> bucket_labels("rate", (0.05, 0.1))
    ['< 5.00%', '5.00% to < 10.00%', '≥ 10.00%']
    """
    labels = [f"< {_fmt(edges[0], column)}"]
    whole = column in _WHOLE and all(float(e).is_integer() for e in edges)
    for low, high in itertools.pairwise(edges):
        if whole:
            top = int(high) - 1
            labels.append(f"{int(low)}" if top == int(low) else f"{int(low)}-{top}")
        else:
            labels.append(f"{_fmt(low, column)} to < {_fmt(high, column)}")
    labels.append(f"{int(edges[-1])}+" if whole else f"≥ {_fmt(edges[-1], column)}")
    return labels


def _numbers(frame: pd.DataFrame, column: str) -> np.ndarray:
    if column not in frame.columns:
        return np.full(len(frame), np.nan)
    return frame[column].to_numpy(dtype=float, na_value=np.nan)


def bucket_codes(values: np.ndarray, edges: Sequence[float]) -> np.ndarray:
    """Bucket of each value: how many edges lie at or below it; ``len(edges) + 1`` if NaN.

    Counting edges by comparison beats a binary search when edges are few.

    >>> bucket_codes(np.array([5.0, 0.0, 12.0, np.nan, -1.0]), (0, 10)).tolist()
    [1, 1, 2, 3, 0]
    """
    codes: np.ndarray = np.zeros(len(values), dtype=np.uint8 if len(edges) < 254 else np.intp)
    above = np.empty(len(values), dtype=bool)  # one scratch array for every edge
    for edge in edges:
        np.greater_equal(values, edge, out=above)  # NaN compares False
        np.add(codes, above, out=codes)
    np.isnan(values, out=above)
    codes[above] = len(edges) + 1
    return codes


def sorted_categories(codes: np.ndarray, names: Sequence[Any]) -> tuple[np.ndarray, list[str]]:
    """Relabel factor ``codes`` (-1 or ``len(names)`` for missing) in sorted name order.

    Returns the new codes and the labels, ``missing`` last.

    >>> codes, labels = sorted_categories(np.array([0, 1, -1, 0]), ["B", "A"])
    >>> codes.tolist(), labels
    ([1, 0, 2, 1], ['A', 'B', 'missing'])
    """
    text = [str(name) for name in names]
    labels = [*sorted(text), MISSING]
    no_sentinel = not len(codes) or int(codes.min()) >= 0
    if no_sentinel and labels[:-1] == text:
        return codes, labels  # numbered in sorted order already: nothing to relabel
    rank = np.empty(len(text) + 1, dtype=np.intp)
    rank[np.argsort(np.asarray(text, dtype=object), kind="stable")] = np.arange(len(text))
    rank[len(text)] = len(text)
    return rank[codes if no_sentinel else np.where(codes < 0, len(text), codes)], labels


# Per averaged column: (weight, balance x value); weight None means the balance itself
# (no value missing), product None means no loan carries a value.
Weights = dict[str, tuple[np.ndarray | None, np.ndarray | None]]
_AVERAGED = ("rate", "remaining_term", "credit_score")


def weights_of(balance: np.ndarray, values: Mapping[str, np.ndarray | None]) -> Weights:
    """Averaging weights from arrays: ``values`` maps each averaged column to its numbers.

    Averages run over the loans that carry a value, so a missing score does not count as 0.
    """
    weights: Weights = {}
    for column in _AVERAGED:
        numbers = values.get(column)
        present = None if numbers is None else ~np.isnan(numbers)
        if numbers is None or present is None or not present.any():
            weights[column] = (np.zeros(len(balance)), None)
        elif present.all():
            weights[column] = (None, balance * numbers)
        else:
            weights[column] = (
                np.where(present, balance, 0.0),
                np.where(present, balance * np.nan_to_num(numbers), 0.0),
            )
    return weights


def strat_weights(frame: pd.DataFrame) -> Weights:
    """Averaging weights of a pool frame, computed once and shared by its strats."""
    balance = frame["current_balance"].to_numpy(dtype=float, na_value=0.0)
    return weights_of(balance, {c: _numbers(frame, c) for c in _AVERAGED if c in frame.columns})


def strat_table(
    codes: np.ndarray, labels: Sequence[str], balance: np.ndarray, weights: Weights
) -> pd.DataFrame:
    """Aggregate by integer ``codes`` (0..len(labels)-1); keep non-empty buckets in order."""
    return strat_tables([(codes, labels)], balance, weights)[0]


# Joint keys of batched strats stay below this many cells (their sums stay in cache).
_MAX_CELLS = 1 << 16


def strat_tables(
    coded: Sequence[tuple[np.ndarray, Sequence[str]]],
    balance: np.ndarray,
    weights: Weights,
    *,
    max_cells: int = _MAX_CELLS,
) -> list[pd.DataFrame]:
    """Several strat tables from ``(codes, labels)`` pairs over the same loans.

    Strats are batched: their codes combine into one joint key per batch (up to
    ``max_cells`` cells), so a batch costs one ``bincount`` per weight however many strats
    it holds; each strat's sums are the joint sums added over the other strats' axes.

    >>> balance = np.array([100.0, 300.0, 600.0])
    >>> weights = weights_of(balance, {"rate": np.array([0.05, 0.10, 0.20])})
    >>> size, grade = strat_tables([(np.array([0, 1, 1]), ["small", "large"]),
    ...                             (np.array([1, 0, 1]), ["A", "B"])], balance, weights)
    >>> size[["bucket", "balance", "wac"]].values.tolist()
    [['small', 100.0, 0.05], ['large', 900.0, 0.16666666666666666]]
    >>> grade[["bucket", "count", "balance"]].values.tolist()
    [['A', 1, 300.0], ['B', 2, 700.0]]
    """
    return JointKeys.of(coded, max_cells=max_cells).tables(balance, weights)


@dataclass(frozen=True, kw_only=True)
class JointKeys:
    """The batched joint keys of several strats, built before knowing which loans count.

    Building the keys is most of a strat's cost and does not depend on the cut, so a
    caller can build them early and later sum only the loans it keeps
    (:meth:`tables` with ``keep``).  A kept loan's sums are the same additions in the
    same order as over the kept loans alone.

    >>> keys = JointKeys.of([(np.array([0, 1, 1]), ["small", "large"])])
    >>> balance = np.array([100.0, 300.0, 600.0])
    >>> table, = keys.tables(balance, weights_of(balance, {}), keep=np.array([1, 0, 1], bool))
    >>> table[["bucket", "count", "balance"]].values.tolist()
    [['small', 1, 100.0], ['large', 1, 600.0]]
    """

    labels: tuple[tuple[str, ...], ...]  # per strat
    batches: tuple[tuple[int, ...], ...]  # strat numbers per batch
    keys: tuple[np.ndarray, ...]  # per batch: joint cell of every loan

    @classmethod
    def of(
        cls, coded: Sequence[tuple[np.ndarray, Sequence[str]]], *, max_cells: int = _MAX_CELLS
    ) -> JointKeys:
        batches: list[list[int]] = []
        cells = max_cells + 1
        for number, (_, labels) in enumerate(coded):
            if cells * len(labels) > max_cells or not batches:
                batches.append([])
                cells = 1
            batches[-1].append(number)
            cells *= len(labels)
        keys = []
        for batch in batches:
            # In place: a million-loan key is 8 MB, and each strat would make two more.
            joint = np.array(coded[batch[0]][0], dtype=np.intp)
            for number in batch[1:]:
                codes, labels = coded[number]
                joint *= len(labels)
                joint += codes
            keys.append(joint)
        return cls(
            labels=tuple(tuple(labels) for _, labels in coded),
            batches=tuple(map(tuple, batches)),
            keys=tuple(keys),
        )

    def tables(
        self, balance: np.ndarray, weights: Weights, *, keep: np.ndarray | None = None
    ) -> list[pd.DataFrame]:
        """One table per strat over the loans ``keep`` marks (all when None)."""
        tables: dict[int, pd.DataFrame] = {}
        left_out = None if keep is None else np.logical_not(keep)
        scratch = None  # one key array for every batch: 8 MB a million loans
        for batch, joint in zip(self.batches, self.keys, strict=True):
            shape = tuple(len(self.labels[number]) for number in batch)
            cells = int(np.prod(shape))
            if left_out is not None:  # loans not kept go to one extra cell, dropped after
                scratch = np.empty_like(joint) if scratch is None else scratch
                np.copyto(scratch, joint)
                scratch[left_out] = cells
                joint = scratch
            built = _batch_tables(
                [self.labels[number] for number in batch], shape, joint, balance, weights
            )
            tables.update(zip(batch, built, strict=True))
        return [tables[number] for number in range(len(self.labels))]


def _batch_tables(
    labels: Sequence[Sequence[str]],
    shape: tuple[int, ...],
    joint: np.ndarray,
    balance: np.ndarray,
    weights: Weights,
) -> list[pd.DataFrame]:
    cells = int(np.prod(shape))
    # ``joint`` may hold one extra cell (``cells``) of loans left out: sum it, drop it.
    size = cells + 1

    def sums(values: np.ndarray | None = None) -> np.ndarray:
        return np.bincount(joint, weights=values, minlength=size)[:cells]

    count = sums()
    money = sums(balance)
    averaged: dict[str, tuple[np.ndarray | None, np.ndarray] | None] = {}
    for column in _AVERAGED:
        weight, product = weights[column]
        if product is None:
            averaged[column] = None
            continue
        averaged[column] = (None if weight is None else sums(weight), sums(product))
    tables = []
    for axis, strat_labels in enumerate(labels):
        others = tuple(a for a in range(len(shape)) if a != axis)

        def margin(values: np.ndarray, others: tuple[int, ...] = others) -> np.ndarray:
            return values.reshape(shape).sum(axis=others) if others else values

        tables.append(
            _strat_frame(
                strat_labels,
                margin(count),
                margin(money),
                {
                    column: None
                    if pair is None
                    else (None if pair[0] is None else margin(pair[0]), margin(pair[1]))
                    for column, pair in averaged.items()
                },
            )
        )
    return tables


def _strat_frame(
    labels: Sequence[str],
    count: np.ndarray,
    money: np.ndarray,
    averaged: Mapping[str, tuple[np.ndarray | None, np.ndarray] | None],
) -> pd.DataFrame:
    """One strat table from bucket sums; ``averaged`` holds (weight or None, product)."""

    def weighted(column: str) -> np.ndarray:
        pair = averaged[column]
        if pair is None:
            return np.full(len(labels), np.nan)
        weight, product = pair
        with np.errstate(invalid="ignore", divide="ignore"):
            return product / (money if weight is None else weight)

    wac, wam, wa_score = weighted("rate"), weighted("remaining_term"), weighted("credit_score")
    total_count = count.sum()
    total_money = money.sum()
    keep = count > 0
    return pd.DataFrame(
        {
            "bucket": pd.array(np.asarray(labels, dtype=object)[keep], dtype="string"),
            "count": count[keep].astype(np.int64),
            "pct_count": count[keep] / total_count if total_count else 0.0,
            "balance": money[keep],
            "pct_balance": money[keep] / total_money if total_money else 0.0,
            "wac": wac[keep],
            "wam": wam[keep],
            "wa_score": wa_score[keep],
        }
    )


def stratify(
    frame: pd.DataFrame,
    column: str,
    *,
    edges: Sequence[float] | None = None,
    weights: Weights | None = None,
) -> pd.DataFrame:
    """One strat table of ``frame`` by ``column``: numeric buckets when ``edges`` are given,
    otherwise one row per value (sorted), plus ``missing`` when values are missing."""
    balance = frame["current_balance"].to_numpy(dtype=float, na_value=0.0)
    weights = strat_weights(frame) if weights is None else weights
    if edges is not None:
        codes = bucket_codes(frame[column].to_numpy(dtype=float, na_value=np.nan), edges)
        labels = [*bucket_labels(column, edges), MISSING]
        return strat_table(codes, labels, balance, weights)
    # Unsorted factorize is cheap; the few distinct values are sorted afterwards.
    codes, uniques = pd.factorize(frame[column], sort=False, use_na_sentinel=True)
    codes, labels = sorted_categories(codes, list(uniques))
    return strat_table(codes, labels, balance, weights)


@dataclass(frozen=True, kw_only=True)
class PoolSummary:
    """Headline figures of a pool (all averages weighted by current balance)."""

    count: int
    current_balance: float
    original_balance: float
    average_balance: float
    max_balance: float
    wac: float
    wam: float
    wa_original_term: float
    wa_seasoning: float
    wa_score: float | None
    top10_obligor_share: float
    grade_mix: dict[str, float]
    score_mix: dict[str, float]
    dpd_mix: dict[str, float]
    amortization_mix: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready values (NaN becomes None)."""
        return {key: _plain(value) for key, value in asdict(self).items()}

    def to_frame(self) -> pd.DataFrame:
        """Two columns, ``metric`` and ``value`` (mixes flattened to ``grade_mix.A`` ...)."""
        rows: list[tuple[str, Any]] = []
        for key, value in self.to_dict().items():
            if isinstance(value, dict):
                rows += [(f"{key}.{name}", share) for name, share in value.items()]
            else:
                rows.append((key, value))
        return pd.DataFrame(
            {
                "metric": pd.array([r[0] for r in rows], dtype="string"),
                "value": pd.array([r[1] for r in rows], dtype="Float64"),
            }
        )


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (float, np.floating)):
        return None if np.isnan(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def _weighted(values: np.ndarray | None, balance: np.ndarray) -> float:
    if values is None:
        return float("nan")
    present = ~np.isnan(values)
    if present.all():  # the common case, without copying through a mask
        weight = balance.sum()
        return float((values * balance).sum() / weight) if weight else float("nan")
    weight = balance[present].sum()
    return float((values[present] * balance[present]).sum() / weight) if weight else float("nan")


def _mix(table: pd.DataFrame | None) -> dict[str, float]:
    if table is None:
        return {}
    return dict(
        zip(table["bucket"].tolist(), table["pct_balance"].astype(float).tolist(), strict=True)
    )


SUMMARY_NUMBERS: tuple[str, ...] = (
    "original_balance",
    "rate",
    "remaining_term",
    "original_term",
    "seasoning",
    "credit_score",
)
MIX_COLUMNS: tuple[str, ...] = ("grade", "credit_score", "days_past_due", "amortization")


def pool_summary(
    *,
    balance: np.ndarray,
    numbers: Mapping[str, np.ndarray | None],
    mixes: Mapping[str, pd.DataFrame | None],
    obligor_codes: np.ndarray,
) -> PoolSummary:
    """The summary from the pool's arrays (one entry per loan, in loan-id order).

    ``numbers`` maps each of ``SUMMARY_NUMBERS`` to its values (None when the tape lacks
    the column); ``mixes`` maps each of ``MIX_COLUMNS`` to its strat table (None when
    absent); ``obligor_codes`` are integer obligor groups.  The same as
    :func:`with_mixes` of :func:`pool_figures`, which let a caller work out the figures
    while the strat tables are built.
    """
    return with_mixes(
        pool_figures(balance=balance, numbers=numbers, obligor_codes=obligor_codes), mixes
    )


def pool_figures(
    *,
    balance: np.ndarray,
    numbers: Mapping[str, np.ndarray | None],
    obligor_codes: np.ndarray,
    merged: Merged | None = None,
) -> PoolSummary:
    """The summary without its mixes (left empty), as in :func:`pool_summary`.

    ``merged``: how the obligor codes merge obligors (see
    :class:`~absstruct.pool.columns.Merged`); raises
    :class:`~absstruct.pool.columns.InexactGroups` when a merged one could be in the top
    ten.
    """
    total = float(balance.sum())
    count = len(balance)
    by_obligor: np.ndarray = np.bincount(obligor_codes, weights=balance) if count else np.zeros(0)
    if merged is not None:
        # Merged obligors hold at most the bound each: when ten exact obligors reach it,
        # they are a top ten (ties add up alike).
        if count and float(balance.min()) < 0:
            raise InexactGroups  # negative balances: the bound bounds nothing
        named = by_obligor[: merged.exact]
        tenth = np.partition(named, len(named) - 10)[len(named) - 10] if len(named) >= 10 else 0
        if tenth < merged.bound and (len(named) >= 10 or merged.exact < len(by_obligor)):
            raise InexactGroups
        by_obligor = named
    if len(by_obligor) > 10:
        by_obligor = np.partition(by_obligor, len(by_obligor) - 10)[-10:]
    # Sorted before adding, so the sum does not depend on how obligors were numbered.
    top10 = float(np.sort(by_obligor).sum() / total) if total else float("nan")
    score = numbers.get("credit_score")
    scored = score is not None and not np.isnan(score).all()
    original = numbers.get("original_balance")
    return PoolSummary(
        count=count,
        current_balance=total,
        original_balance=float("nan") if original is None else float(original.sum()),
        average_balance=total / count if count else float("nan"),
        max_balance=float(balance.max()) if count else float("nan"),
        wac=_weighted(numbers.get("rate"), balance),
        wam=_weighted(numbers.get("remaining_term"), balance),
        wa_original_term=_weighted(numbers.get("original_term"), balance),
        wa_seasoning=_weighted(numbers.get("seasoning"), balance),
        wa_score=_weighted(score, balance) if scored else None,
        top10_obligor_share=top10,
        grade_mix={},
        score_mix={},
        dpd_mix={},
        amortization_mix={},
    )


def with_mixes(figures: PoolSummary, mixes: Mapping[str, pd.DataFrame | None]) -> PoolSummary:
    """``figures`` with the mixes read off the strat tables ``mixes`` (see pool_summary);
    an empty pool has none, nor a pool without scores a score mix."""
    if not figures.count:
        return figures
    return replace(
        figures,
        grade_mix=_mix(mixes.get("grade")),
        score_mix=_mix(mixes.get("credit_score")) if figures.wa_score is not None else {},
        dpd_mix=_mix(mixes.get("days_past_due")),
        amortization_mix=_mix(mixes.get("amortization")),
    )


def summarize(
    frame: pd.DataFrame,
    *,
    score_edges: Sequence[float],
    dpd_edges: Sequence[float] = DPD_EDGES,
    strats: Mapping[str, pd.DataFrame] | None = None,
    obligor_codes: np.ndarray | None = None,
) -> PoolSummary:
    """The pool summary of an eligible tape (``seasoning`` derived when absent).

    ``strats`` (tables already built with the same edges) and ``obligor_codes`` (integer
    obligor groups of ``frame``'s rows) are reused when given rather than recomputed.
    """
    balance = frame["current_balance"].to_numpy(dtype=float, na_value=0.0)
    numbers = {c: _numbers(frame, c) for c in SUMMARY_NUMBERS if c in frame.columns}
    if "seasoning" not in frame.columns and {"original_term", "remaining_term"} <= set(frame):
        numbers["seasoning"] = numbers["original_term"] - numbers["remaining_term"]
    if obligor_codes is None:
        obligor = frame["obligor_id"] if "obligor_id" in frame.columns else frame["loan_id"]
        obligor_codes = pd.factorize(obligor)[0] if len(frame) else np.zeros(0, int)
    edges = {"credit_score": score_edges, "days_past_due": dpd_edges}
    mixes: dict[str, pd.DataFrame | None] = {}
    for column in MIX_COLUMNS:
        if column not in frame.columns or not len(frame):
            mixes[column] = None
        elif strats is not None and column in strats:
            mixes[column] = strats[column]
        else:
            mixes[column] = stratify(frame, column, edges=edges.get(column))
    return pool_summary(balance=balance, numbers=numbers, mixes=mixes, obligor_codes=obligor_codes)


__all__ = [
    "DPD_EDGES",
    "MISSING",
    "MIX_COLUMNS",
    "STRAT_COLUMNS",
    "SUMMARY_NUMBERS",
    "JointKeys",
    "PoolSummary",
    "bucket_codes",
    "bucket_labels",
    "pool_figures",
    "pool_summary",
    "sorted_categories",
    "strat_table",
    "strat_tables",
    "stratify",
    "summarize",
    "weights_of",
    "with_mixes",
]
