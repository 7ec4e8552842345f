"""The engine's state: one numpy vector per balance over the S scenarios, and its primitives.

Every part of the engine (credit enhancement, step executors, the period close, the
conservation check) reads and moves the same balances; this base class holds them, the
ledger buffers they are written to, this period's flow books, and the few primitives all
parts share (moving cash in or out of an account, drawing on support, totals), so that each
part depends on the state only and not on the others.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from absstruct.waterfall.ledgers import (
    ACCOUNT_FIELDS,
    DEAL_FIELDS,
    FEE_FIELDS,
    SUPPORT_FIELDS,
    TRANCHE_FIELDS,
    TRIGGER_FIELDS,
    Book,
)

if TYPE_CHECKING:
    from absstruct.deal.model import Deal
    from absstruct.waterfall.schedule import Schedule


class EngineState:
    """The balances of one run of a deal over S scenarios, and this period's flows."""

    # Set each period by the period loop (see :meth:`_open_period`).
    t: int
    alive: np.ndarray
    final: np.ndarray
    loss: np.ndarray
    pool_bop: np.ndarray
    flow: dict[str, np.ndarray]
    paid_int: dict[str, np.ndarray]
    paid_prin: dict[str, np.ndarray]
    residual_to: dict[str, np.ndarray]
    pdl_cured: dict[str, np.ndarray]
    pdl_credited: dict[str, np.ndarray]
    acct_in: dict[str, np.ndarray]
    acct_out: dict[str, np.ndarray]
    sup_draw: dict[str, np.ndarray]
    fee_paid: dict[str, np.ndarray]
    tax_paid: dict[str, np.ndarray]
    bal_bop: dict[str, np.ndarray]
    targets: dict[str, np.ndarray]
    fee_due: dict[str, np.ndarray]
    tax_due: dict[str, np.ndarray]
    int_due: dict[str, np.ndarray]
    fee_due0: dict[str, np.ndarray]
    tax_due0: dict[str, np.ndarray]
    int_due0: dict[str, np.ndarray]
    oc_target: np.ndarray
    pda: np.ndarray
    pda_left: np.ndarray
    sequential: np.ndarray
    trap: np.ndarray
    writedown: dict[str, np.ndarray]

    def __init__(
        self,
        deal: Deal,
        pool: Mapping[str, np.ndarray],
        initial_balance: float,
        schedule: Schedule,
        *,
        scenario_names: tuple[str, ...],
        unit: Mapping[str, np.ndarray] | None = None,
        call: np.ndarray | None = None,
    ) -> None:
        self.deal = deal
        self.names = scenario_names
        self.S = len(scenario_names)
        self.T = schedule.periods
        self.schedule = schedule
        self.initial = float(initial_balance)
        # Copies: revolving purchases add to the pool as the run goes.
        self.pool = {k: np.array(v[:, : self.T], dtype=float) for k, v in pool.items()}
        self.unit = unit
        self.call = (
            np.zeros(self.S, dtype=bool)
            if call is None or deal.call is None
            else np.asarray(call, dtype=bool)
        )
        zeros = np.zeros(self.S)
        self.ranked = [t.name for t in deal.ranked_tranches]
        self.notes = [t.name for t in deal.ranked_tranches if t.kind == "note"]
        residual = deal.residual_tranche
        self.residual_name = residual.name if residual is not None else None
        sizes = {t.name: t.size_amount(self.initial) for t in deal.tranches}
        self.original = sizes
        self.bal = {n: np.full(self.S, sizes[n]) for n in self.ranked}
        self.int_unpaid = {n: zeros.copy() for n in self.ranked}
        self.pdl = {n: zeros.copy() for n in self.ranked}
        self.fee_unpaid = {f.name: zeros.copy() for f in deal.fees}
        self.tax_unpaid = {x.name: zeros.copy() for x in deal.taxes}
        self.acct = {a.name: np.full(self.S, a.initial_amount(self.initial)) for a in deal.accounts}
        self.sup_used = {x.name: zeros.copy() for x in deal.support}
        self.trig = {x.name: np.zeros(self.S, dtype=bool) for x in deal.triggers}
        self.shortfall_value = {x.name: zeros.copy() for x in deal.triggers}
        self.accelerated = np.zeros(self.S, dtype=bool)
        self.revolving_ended = np.zeros(self.S, dtype=bool)
        self.called = np.zeros(self.S, dtype=bool)
        self.cum_loss = zeros.copy()
        self.cum_default = zeros.copy()
        self.cum_purchase = zeros.copy()
        self.cum_charged = zeros.copy()  # defaults less what was collected on them
        self.at_default = deal.losses.debit == "default"
        T, S = self.T, self.S
        self.tranche_book = {n: Book(T, S, TRANCHE_FIELDS) for n in self.ranked}
        self.account_book = {a.name: Book(T, S, ACCOUNT_FIELDS) for a in deal.accounts}
        self.fee_book = {f.name: Book(T, S, FEE_FIELDS) for f in deal.fees}
        self.tax_book = {x.name: Book(T, S, FEE_FIELDS) for x in deal.taxes}
        self.trigger_book = {x.name: Book(T, S, TRIGGER_FIELDS) for x in deal.triggers}
        self.support_book = {x.name: Book(T, S, SUPPORT_FIELDS) for x in deal.support}
        self.deal_book = Book(T, S, DEAL_FIELDS)
        self.alive_rows = np.zeros((T, S), dtype=bool)

    def _open_period(self) -> None:
        """Zero this period's flow books (each a vector over scenarios)."""
        S = self.S

        def zeros(names: Iterable[str]) -> dict[str, np.ndarray]:
            return {name: np.zeros(S) for name in names}

        self.flow = zeros(DEAL_FIELDS)
        self.paid_int = zeros(self.ranked)
        self.paid_prin = zeros(self.ranked)
        self.residual_to = zeros(self.ranked)
        self.pdl_cured = zeros(self.ranked)
        self.pdl_credited = zeros(self.ranked)
        self.acct_in = zeros(self.acct)
        self.acct_out = zeros(self.acct)
        self.sup_draw = zeros(self.sup_used)
        self.fee_paid = zeros(self.fee_unpaid)
        self.tax_paid = zeros(self.tax_unpaid)
        self.bal_bop = {n: self.bal[n].copy() for n in self.ranked}

    # -- reading the pool -------------------------------------------------------------------
    def _col(self, name: str, t: int) -> np.ndarray:
        column = self.pool.get(name)
        if column is None:
            return np.zeros(self.S)
        return column[:, t] * self.alive

    def _pool_balance(self, t: int) -> np.ndarray:
        """Pool balance after period ``t``'s collections (index -1: the cut-off).

        Charged off at default, it is the performing balance; otherwise a defaulted loan
        counts at its balance until it is liquidated (stated balance).
        """
        if t < 0:
            return np.full(self.S, self.initial) * self.alive
        balance = self.pool["performing_balance"][:, t]
        if not self.at_default:
            balance = balance + self.pool["in_foreclosure"][:, t]
        return balance * self.alive

    def _revolving_now(self) -> np.ndarray:
        rev = self.deal.revolving
        if rev is None or self.t >= rev.periods:
            return np.zeros(self.S, dtype=bool)
        return ~self.revolving_ended & ~self.final & ~self.accelerated & self.alive

    # -- moving cash ------------------------------------------------------------------------
    def _account_out(self, name: str, amount: np.ndarray) -> None:
        self.acct[name] = self.acct[name] - amount
        self.acct_out[name] = self.acct_out[name] + amount

    def _account_in(self, name: str, amount: np.ndarray) -> None:
        self.acct[name] = self.acct[name] + amount
        self.acct_in[name] = self.acct_in[name] + amount

    def _support_draw(self, name: str, wanted: np.ndarray) -> np.ndarray:
        sup = next(x for x in self.deal.support if x.name == name)
        room = np.full(self.S, np.inf) if sup.limit is None else sup.limit - self.sup_used[name]
        draw = np.minimum(np.maximum(wanted, 0.0), np.maximum(room, 0.0))
        self.sup_used[name] = self.sup_used[name] + draw
        self.sup_draw[name] = self.sup_draw[name] + draw
        return draw

    # -- arithmetic -------------------------------------------------------------------------
    @staticmethod
    def _sum(vectors: Iterable[np.ndarray]) -> np.ndarray:
        total: np.ndarray | None = None
        for vector in vectors:
            total = vector.copy() if total is None else total + vector
        return total if total is not None else np.zeros(0)

    def _total(self, vectors: Iterable[np.ndarray]) -> np.ndarray:
        """Sum over ``vectors``, zeros when there are none."""
        return self._sum([np.zeros(self.S), *vectors])

    def _share(self, part: np.ndarray, whole: np.ndarray) -> np.ndarray:
        """``part / whole``, 0 where ``whole`` is 0."""
        return np.divide(part, whole, out=np.zeros(self.S), where=whole > 0)


__all__ = ["EngineState"]
