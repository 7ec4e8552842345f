"""The step executors: one waterfall's steps run in order, each dispatched with ``match``.

A step pays fees, taxes, interest or principal from a pot of cash, funds or transfers to an
account, cures the PDL, buys revolving collateral or pays the residual, gated by its
``when``/``unless`` triggers; a shortfall is drawn from the step's accounts and support.
Kept apart from the period loop, which decides which waterfall runs on which pot.
"""

from __future__ import annotations

import numpy as np

from absstruct.deal import steps as st
from absstruct.waterfall.state import EngineState


class StepExecutor(EngineState):
    """Runs the steps of a waterfall over this period's pots."""

    # -- steps ------------------------------------------------------------------------------
    def _gate(self, step: st._Step, active: np.ndarray) -> np.ndarray:
        gate = active
        if step.when is not None:
            gate = gate & self.trig[step.when]
        if step.unless is not None:
            gate = gate & ~self.trig[step.unless]
        return gate

    def _waterfall(
        self,
        steps: tuple[st.Step, ...],
        pots: dict[str, np.ndarray],
        pot: str,
        active: np.ndarray,
        accelerated: bool,
    ) -> None:
        for step in steps:
            gate = self._gate(step, active)
            match step:
                case st.PayTax(tax=name):
                    paid = self._pay(self.tax_due[name], gate, pots, pot, step)
                    self.tax_due[name] = self.tax_due[name] - paid
                    self.tax_paid[name] = self.tax_paid[name] + paid
                case st.PayFee(fee=name):
                    paid = self._pay(self.fee_due[name], gate, pots, pot, step)
                    self.fee_due[name] = self.fee_due[name] - paid
                    self.fee_paid[name] = self.fee_paid[name] + paid
                case st.PayInterest():
                    self._pay_interest(step, gate, pots, pot)
                case st.PayPrincipal():
                    self._pay_principal(step, step.targets, gate, pots, pot)
                case st.Turbo():
                    names = step.targets or tuple(self.notes)
                    self._pay_principal(step, names, gate, pots, pot)
                case st.FundReserve(account=name):
                    gate = gate & ~self.final
                    need = np.maximum(self.targets[name] - self.acct[name], 0.0)
                    amount = np.where(self.trap, pots[pot], np.minimum(pots[pot], need))
                    amount = np.where(gate, amount, 0.0)
                    pots[pot] = pots[pot] - amount
                    self._account_in(name, amount)
                case st.CurePDL(tranche=one):
                    for name in (one,) if one else self.ranked:
                        cure = np.where(gate, np.minimum(pots[pot], self.pdl[name]), 0.0)
                        self.pdl[name] = self.pdl[name] - cure
                        self.pdl_cured[name] = self.pdl_cured[name] + cure
                        pots[pot] = pots[pot] - cure
                        if not accelerated and pot != "principal_funds":
                            pots["principal_funds"] = pots["principal_funds"] + cure
                        else:
                            pots[pot] = pots[pot] + cure
                case st.PayResidual(tranche=name):
                    amount = np.where(gate, pots[pot], 0.0)
                    pots[pot] = pots[pot] - amount
                    self._residual(amount, name)
                case st.Transfer():
                    self._transfer(step, gate, pots)
                case st.Purchase():
                    amount = np.where(gate & self._revolving_now(), pots[pot], 0.0)
                    pots[pot] = pots[pot] - amount
                    self.flow["purchases"] += amount

    def _pay(
        self,
        due: np.ndarray,
        gate: np.ndarray,
        pots: dict[str, np.ndarray],
        pot: str,
        step: st._Drawing,
    ) -> np.ndarray:
        """Pay ``due`` from the pot, then draw the shortfall from accounts and support."""
        due = np.where(gate, due, 0.0)
        paid = np.minimum(pots[pot], due)
        pots[pot] = pots[pot] - paid
        return paid + self._draw(due - paid, step)

    def _draw(self, shortfall: np.ndarray, step: st._Drawing) -> np.ndarray:
        """Cover ``shortfall`` from the step's accounts, then its shortfall undertakings."""
        drawn = np.zeros(self.S)
        for account in step.draw_from:
            draw = np.minimum(np.maximum(self.acct[account], 0.0), shortfall)
            self._account_out(account, draw)
            shortfall = shortfall - draw
            drawn = drawn + draw
        for name in step.support:
            draw = self._support_draw(name, shortfall)
            self.flow["undertaking_draws"] += draw
            shortfall = shortfall - draw
            drawn = drawn + draw
        return drawn

    def _pay_interest(
        self, step: st.PayInterest, gate: np.ndarray, pots: dict[str, np.ndarray], pot: str
    ) -> None:
        names = step.targets
        if len(names) == 1:
            (name,) = names
            paid = self._pay(self.int_due[name], gate, pots, pot, step)
            self.int_due[name] = self.int_due[name] - paid
            self.paid_int[name] = self.paid_int[name] + paid
            return
        total_due = self._sum(self.int_due[n] for n in names)
        paid_total = self._pay(total_due, gate, pots, pot, step)
        handed = np.zeros(self.S)
        for name in names:
            share = self._share(self.int_due[name], total_due)
            paid = np.minimum(paid_total * share, self.int_due[name])
            self.int_due[name] = self.int_due[name] - paid
            self.paid_int[name] = self.paid_int[name] + paid
            handed = handed + paid
        pots[pot] = pots[pot] + (paid_total - handed)  # rounding crumbs stay in the pot

    def _pay_principal(
        self,
        step: st.PayPrincipal | st.Turbo,
        names: tuple[str, ...],
        gate: np.ndarray,
        pots: dict[str, np.ndarray],
        pot: str,
    ) -> None:
        by_target = isinstance(step, st.PayPrincipal) and step.amount == "target"
        outstanding = self._sum(self.bal[n] for n in names)
        limit = np.minimum(pots[pot], self.pda_left) if by_target else pots[pot]
        cash = np.where(gate, np.minimum(limit, outstanding), 0.0)
        pots[pot] = pots[pot] - cash
        if step.draw_from or step.support:
            # Principal falls due in full only in the last period (or at the call).
            cash = cash + self._draw(np.where(gate & self.final, outstanding - cash, 0.0), step)
        pro_rata = isinstance(step, st.PayPrincipal) and step.mode == "pro_rata"
        remaining = cash.copy()
        sequential_pay = {}
        for name in names:
            pay = np.minimum(remaining, self.bal[name])
            sequential_pay[name] = pay
            remaining = remaining - pay
        handed = np.zeros(self.S)
        for name in names:
            pay = sequential_pay[name]
            if pro_rata:
                share = self._share(self.bal[name], outstanding)
                shared = np.minimum(cash * share, self.bal[name])
                pay = np.where(self.sequential, pay, shared)
            self.bal[name] = self.bal[name] - pay
            self.paid_prin[name] = self.paid_prin[name] + pay
            handed = handed + pay
        pots[pot] = pots[pot] + (cash - handed)  # nothing left to pay: back to the pot
        if by_target:
            self.pda_left = np.maximum(self.pda_left - handed, 0.0)

    def _transfer(self, step: st.Transfer, gate: np.ndarray, pots: dict[str, np.ndarray]) -> None:
        source, to = step.source, step.to
        if to not in st.POTS:
            gate = gate & ~self.final  # no cash parked in an account after the end
        available = pots[source] if source in st.POTS else self.acct[source]
        match step.amount:
            case "all":
                amount = available
            case "excess":
                amount = np.maximum(self.acct[source] - self.targets[source], 0.0)
            case "losses":
                amount = np.minimum(available, self.loss)
            case "to_target":
                need = np.maximum(self.targets[to] - self.acct[to], 0.0)
                amount = np.minimum(available, need)
            case number:
                amount = np.minimum(available, float(number))
        amount = np.where(gate, np.maximum(amount, 0.0), 0.0)
        if source in st.POTS:
            pots[source] = pots[source] - amount
        else:
            self._account_out(source, amount)
        if to in st.POTS:
            pots[to] = pots[to] + amount
        else:
            self._account_in(to, amount)

    def _residual(self, amount: np.ndarray, tranche: str | None = None) -> None:
        name = tranche or self.residual_name
        if name is not None:
            self.residual_to[name] = self.residual_to[name] + amount
        self.flow["residual"] += amount


__all__ = ["StepExecutor"]
