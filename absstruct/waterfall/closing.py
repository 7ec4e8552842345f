"""Closing a period: redemption at the call, revolving purchases, write-downs, the ledger row.

After the waterfalls have paid, the period is closed: the seller makes the notes whole at a
call with ``minimum = "notes"``, what the revolving period bought joins the pool, notes the
pool no longer covers are written down, and every balance and flow is written to its
ledger row, carrying what is unpaid into the next period.
"""

from __future__ import annotations

import numpy as np

from absstruct.waterfall.state import EngineState


class PeriodClose(EngineState):
    """The end of a period, after the waterfalls."""

    def _redeem_at_call(self, called: np.ndarray) -> np.ndarray:
        """``call.minimum = "notes"``: the seller adds to the call price what the notes still
        lack after the waterfalls (unpaid interest, then principal); returns the addition."""
        extra = np.zeros(self.S)
        for name in self.notes:
            interest = np.where(called, self.int_due[name], 0.0)
            self.int_due[name] = self.int_due[name] - interest
            self.paid_int[name] = self.paid_int[name] + interest
            principal = np.where(called, self.bal[name], 0.0)
            self.bal[name] = self.bal[name] - principal
            self.paid_prin[name] = self.paid_prin[name] + principal
            extra = extra + interest + principal
        return extra

    def _revolve(self, t: int) -> np.ndarray:
        spent = self.flow["purchases"]
        rev = self.deal.revolving
        if rev is None or self.unit is None or not spent.any():
            return np.zeros(self.S)
        face = spent / rev.price
        self.cum_purchase = self.cum_purchase + face
        later = self.T - t - 1
        for name, unit in self.unit.items():
            if name in self.pool and later > 0:
                self.pool[name][:, t + 1 :] += face[:, None] * unit[:, :later]
        self.pool["performing_balance"][:, t] += face
        return face

    def _writedowns(self, pool_eop: np.ndarray) -> None:
        self.writedown = {n: np.zeros(self.S) for n in self.ranked}
        excess = np.zeros(self.S)
        if self.deal.losses.allocation == "writedown":
            excess = np.maximum(self._sum(self.bal[n] for n in self.notes) - pool_eop, 0.0)
        for name in reversed(self.ranked):
            cut = np.minimum(excess, self.bal[name])
            cut = np.where(self.final, self.bal[name], cut)
            self.bal[name] = self.bal[name] - cut
            self.writedown[name] = cut
            excess = excess - cut
            self.pdl[name] = np.minimum(self.pdl[name], self.bal[name])

    def _record(
        self,
        t: int,
        interest_in: np.ndarray,
        principal_in: np.ndarray,
        proceeds: np.ndarray,
        pool_eop: np.ndarray,
        called_now: np.ndarray,
    ) -> None:
        f = self.flow
        f["pool_balance"] = pool_eop
        f["interest_collections"] = interest_in
        f["principal_collections"] = principal_in
        f["call_proceeds"] = proceeds
        f["account_draws"] = self._total(self.acct_out.values())
        f["account_deposits"] = self._total(self.acct_in.values())
        f["fees_paid"] = self._total(self.fee_paid.values())
        f["taxes_paid"] = self._total(self.tax_paid.values())
        f["interest_paid"] = self._sum(self.paid_int.values())
        f["principal_paid"] = self._sum(self.paid_prin.values())
        f["notes_balance"] = self._total(self.bal[n] for n in self.notes)
        f["oc_target"] = self.oc_target
        f["principal_distribution"] = self.pda
        f["accelerated"] = (self.accelerated & self.alive).astype(float)
        f["revolving"] = self._revolving_now().astype(float)
        f["called"] = called_now.astype(float)
        for name, value in f.items():
            if name != "gap":
                self.deal_book.data[name][t] = value
        for name in self.ranked:
            rows = self.tranche_book[name].data
            self.int_unpaid[name] = np.where(self.final, 0.0, self.int_due[name])
            rows["balance"][t] = self.bal[name]
            rows["interest_due"][t] = self.int_due0[name]
            rows["interest_paid"][t] = self.paid_int[name]
            rows["interest_shortfall"][t] = self.int_due[name]
            rows["principal_paid"][t] = self.paid_prin[name]
            rows["writedown"][t] = self.writedown[name]
            rows["pdl"][t] = self.pdl[name]
            rows["pdl_cured"][t] = self.pdl_cured[name]
            rows["pdl_credited"][t] = self.pdl_credited[name]
            rows["residual_paid"][t] = self.residual_to[name]
        for trig in self.deal.triggers:
            if trig.kind == "interest_shortfall":
                self.shortfall_value[trig.name] = self._sum(self.int_due[n] for n in trig.tranches)
        for name, book in self.account_book.items():
            book.data["balance"][t] = self.acct[name]
            book.data["target"][t] = self.targets[name]
            book.data["deposit"][t] = self.acct_in[name]
            book.data["draw"][t] = self.acct_out[name]
        for fees, due0, due, paid, unpaid in (
            (self.fee_book, self.fee_due0, self.fee_due, self.fee_paid, self.fee_unpaid),
            (self.tax_book, self.tax_due0, self.tax_due, self.tax_paid, self.tax_unpaid),
        ):
            for name, book in fees.items():
                book.data["due"][t] = due0[name]
                book.data["paid"][t] = paid[name]
                book.data["unpaid"][t] = due[name]
                unpaid[name] = np.where(self.final, 0.0, due[name])
        for name, book in self.support_book.items():
            book.data["draw"][t] = self.sup_draw[name]
            book.data["used"][t] = self.sup_used[name]


__all__ = ["PeriodClose"]
