"""The period engine: periods x steps over scenario arrays, cash conserved every period.

Every state variable (a tranche balance, an account balance, a PDL, a trigger state) is a
numpy vector over the S scenarios; Python loops over periods and steps only.  All
arithmetic is elementwise, so scenario ``s`` of an S-scenario run equals a one-scenario
run of that scenario exactly.

Each period ``t``:

1. collections (interest, principal, call proceeds) of scenarios not yet called; the pool
   balance is the performing balance plus, unless charged off at default, the defaulted
   balance awaiting liquidation;
2. triggers tested on the determination date (losses and pool balance of the collection
   period, note balances before payment); non-curable breaches stay breached;
3. losses debited to the PDL bottom-up -- realized losses at liquidation, or (``losses.debit
   = "default"``) the defaulted balance at default, credited senior first by what is later
   collected on it; a guarantee pays defaulted principal;
4. accounts release their excess over target (unless a trap is breached);
5. the interest waterfall, then the principal waterfall -- or, once accelerated, the
   acceleration waterfall on both pots; what a waterfall leaves is residual (a
   ``transfer`` step to ``principal_funds`` or a ``turbo`` step puts excess spread to work);
   in the last period (or at the call) the accounts are emptied into the principal funds
   after the interest waterfall (into the combined pot once accelerated), so they pay the
   notes before any residual;
6. write-downs; revolving purchases join the pool; the conservation check: collections +
   account draws + external support = fees + taxes + interest + principal + account
   deposits + revolving purchases + residual, within 1e-6 (plus float noise on big deals).

This module is the period loop; the parts it calls live beside it: the balances in
:mod:`~absstruct.waterfall.state` (ledger buffers in :mod:`~absstruct.waterfall.ledgers`),
targets, triggers and losses in :mod:`~absstruct.waterfall.enhancement`, the steps in
:mod:`~absstruct.waterfall.executors`, the period close in
:mod:`~absstruct.waterfall.closing` and the invariants in
:mod:`~absstruct.waterfall.conservation`.
"""

from __future__ import annotations

import numpy as np

from absstruct.waterfall.closing import PeriodClose
from absstruct.waterfall.conservation import TOLERANCE, ConservationCheck
from absstruct.waterfall.enhancement import CreditEnhancement
from absstruct.waterfall.executors import StepExecutor
from absstruct.waterfall.ledgers import (
    ACCOUNT_FIELDS,
    DEAL_FIELDS,
    FEE_FIELDS,
    SUPPORT_FIELDS,
    TRANCHE_FIELDS,
    TRIGGER_FIELDS,
)


class Engine(CreditEnhancement, StepExecutor, PeriodClose, ConservationCheck):
    """One run of a deal over S scenarios; build, then :meth:`run`."""

    # -- the period loop --------------------------------------------------------------------
    def run(self) -> Engine:
        for t in range(self.T):
            self._period(t)
        return self

    def _period(self, t: int) -> None:
        deal, S = self.deal, self.S
        self.t = t
        self.alive = ~self.called
        self.alive_rows[t] = self.alive
        alive = self.alive
        pool_bop = self._pool_balance(t - 1)
        perf = self._col("performing_balance", t)
        defaulted = self._col("in_foreclosure", t)
        pool_eop = self._pool_balance(t)
        loss = self._col("principal_loss", t)
        self.cum_loss = self.cum_loss + loss
        new_defaults = self._col("new_defaults", t)
        self.cum_default = self.cum_default + new_defaults
        # Cash collected on loans already defaulted: what credits a PDL debited at default.
        recovered = self._col("principal_recovery", t) + self._col("amortization_from_defaults", t)
        self.cum_charged = self.cum_charged + new_defaults - recovered
        interest_in = self._col("interest_collections", t)
        principal_in = self._col("principal_collections", t)
        last = t == self.T - 1
        called_now = np.zeros(S, dtype=bool)
        proceeds = np.zeros(S)
        if deal.call is not None:
            called_now = (
                self.call & alive & (pool_eop > 0) & (pool_eop <= deal.call.pct * self.initial)
            )
            price = deal.call.price * perf + deal.call.defaulted_price * defaulted
            proceeds = np.where(called_now, price, 0.0)
        self.final = called_now | last
        notes_bop = self._sum(self.bal[n] for n in self.notes)
        self._open_period()

        self.targets = {a.name: self._account_target(a, pool_eop, notes_bop) for a in deal.accounts}
        self.pool_bop = pool_bop
        self.loss = loss
        self._triggers(t, pool_eop, notes_bop)
        revenue = self._losses(loss, new_defaults, recovered)

        # Amounts due this period.
        self.fee_due = {}
        for fee in deal.fees:
            accrued = fee.rate * pool_bop * self.schedule.fee_accrual[fee.name][t]
            self.fee_due[fee.name] = self.fee_unpaid[fee.name] + (accrued + fee.fixed) * alive
        self.tax_due = {x.name: self.tax_unpaid[x.name] + x.rate * interest_in for x in deal.taxes}
        self.int_due = {}
        for tranche in deal.ranked_tranches:
            n = tranche.name
            accrual = self.schedule.coupons[n][t] * self.schedule.tranche_accrual[n][t]
            carried = self.int_unpaid[n] * (1.0 + accrual if tranche.interest_on_unpaid else 1.0)
            self.int_due[n] = carried + self.bal[n] * accrual
        self.fee_due0 = {k: v.copy() for k, v in self.fee_due.items()}
        self.tax_due0 = {k: v.copy() for k, v in self.tax_due.items()}
        self.int_due0 = {k: v.copy() for k, v in self.int_due.items()}
        self.oc_target = self._oc_target(t, pool_eop)
        pda = np.maximum(notes_bop - np.maximum(pool_eop - self.oc_target, 0.0), 0.0)
        self.pda = np.where(self.final, notes_bop, pda)
        self.pda_left = self.pda.copy()

        pots = {"interest_funds": interest_in.copy(), "principal_funds": principal_in + proceeds}
        # Collections on defaults the PDL no longer carries are revenue.
        pots["principal_funds"] = pots["principal_funds"] - revenue
        pots["interest_funds"] = pots["interest_funds"] + revenue
        self._guarantee(loss, pots)
        self._release(pots)

        acc = self.accelerated
        normal = ~acc
        if deal.waterfall.acceleration and acc.any():
            self._empty_accounts(self.final & acc, pots, "interest_funds")
            combined = {
                "interest_funds": np.where(
                    acc, pots["interest_funds"] + pots["principal_funds"], 0
                ),
                "principal_funds": np.zeros(S),
            }
            self._waterfall(deal.waterfall.acceleration, combined, "interest_funds", acc, True)
            self._residual(combined["interest_funds"] + combined["principal_funds"])
            active_pots = {k: np.where(normal, v, 0.0) for k, v in pots.items()}
        else:
            normal = np.ones(S, dtype=bool)
            active_pots = pots
        self._waterfall(deal.waterfall.interest, active_pots, "interest_funds", normal, False)
        self._residual(active_pots["interest_funds"])
        active_pots["interest_funds"] = np.zeros(S)
        # Accounts still holding cash at the end pay the notes before any residual.
        self._empty_accounts(self.final & normal, active_pots, "principal_funds")
        self._waterfall(deal.waterfall.principal, active_pots, "principal_funds", normal, False)
        self._residual(active_pots["principal_funds"])

        if deal.call is not None and deal.call.minimum == "notes":
            proceeds = proceeds + self._redeem_at_call(called_now)
        purchased = self._revolve(t)
        self._writedowns(pool_eop + purchased)
        self._record(t, interest_in, principal_in, proceeds, pool_eop + purchased, called_now)
        self._check(t)
        self.called = self.called | called_now


__all__ = [
    "ACCOUNT_FIELDS",
    "DEAL_FIELDS",
    "FEE_FIELDS",
    "SUPPORT_FIELDS",
    "TOLERANCE",
    "TRANCHE_FIELDS",
    "TRIGGER_FIELDS",
    "Engine",
]
