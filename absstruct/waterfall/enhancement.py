"""Credit enhancement: account and OC targets, triggers, the PDL, guarantees, releases.

What protects the notes is decided before any step runs: the targets the accounts and the
overcollateralisation aim at, the trigger states for the determination date, the losses
debited to the PDL, what a guarantee pays and what the accounts release.  It is kept apart
from the step executors because it decides what the steps are gated on, not how they pay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from absstruct.waterfall.state import EngineState

if TYPE_CHECKING:
    from absstruct.deal.model import Account

_ABOVE = {"cumulative_net_loss", "cumulative_default", "interest_shortfall"}


class CreditEnhancement(EngineState):
    """Targets, triggers, loss ledgers, guarantees and account releases of a period."""

    # -- targets and tests ------------------------------------------------------------------
    def _account_target(self, account: Account, perf: np.ndarray, notes: np.ndarray) -> np.ndarray:
        target = account.target
        if target is None:
            return np.zeros(self.S)
        value = np.zeros(self.S)
        if target.pct is not None and target.base is not None:
            base = {"current_pool": perf, "initial_pool": self.initial * self.alive, "notes": notes}
            value = np.maximum(value, target.pct * base[target.base])
        if target.floor is not None:
            value = np.maximum(value, target.floor * self.initial)
        if target.amount is not None:
            value = np.maximum(value, target.amount)
        if target.cap is not None:
            value = np.minimum(value, target.cap)
        return np.where(self.alive & ~self.final, value, 0.0)

    def _oc_target(self, t: int, perf: np.ndarray) -> np.ndarray:
        oc = self.deal.oc
        if oc is None:
            return np.zeros(self.S)
        after = np.maximum(oc.pct * perf, oc.floor * self.initial)
        if oc.initial_pct is not None and self.schedule.before_step_down[t]:
            after = np.full(self.S, oc.initial_pct * self.initial)
        return np.minimum(after, perf)

    def _triggers(self, t: int, perf: np.ndarray, notes: np.ndarray) -> None:
        denominator = self.initial + self.cum_purchase
        seq = np.zeros(self.S, dtype=bool)
        trap = np.zeros(self.S, dtype=bool)
        for trig in self.deal.triggers:
            match trig.kind:
                case "cumulative_net_loss":
                    value = self.cum_loss / denominator
                case "cumulative_default":
                    value = self.cum_default / denominator
                case "pool_factor":
                    value = perf / denominator
                case "oc_ratio":
                    # Both after the previous payment date: the test cannot depend on the
                    # payments it decides.
                    pool = self.pool_bop
                    value = np.divide(pool, notes, out=np.full(self.S, np.inf), where=notes > 0)
                case "reserve_below_target":
                    name = trig.account or ""
                    target = self.targets[name]
                    value = np.divide(
                        self.acct[name], target, out=np.full(self.S, np.inf), where=target > 0
                    )
                case "interest_shortfall":
                    value = self.shortfall_value[trig.name]
            threshold = self.schedule.thresholds[trig.name][t]
            breached = value > threshold if trig.kind in _ABOVE else value < threshold
            breached = breached & self.alive
            state = breached if trig.curable else self.trig[trig.name] | breached
            self.trig[trig.name] = state
            if "sequential" in trig.effects:
                seq = seq | state
            if "trap" in trig.effects:
                trap = trap | state
            if "end_revolving" in trig.effects:
                self.revolving_ended = self.revolving_ended | state
            if "accelerate" in trig.effects:
                self.accelerated = self.accelerated | state
            book = self.trigger_book[trig.name].data
            book["value"][t] = value
            book["threshold"][t] = threshold
            book["breached"][t] = state
        self.sequential = seq
        self.trap = trap

    def _losses(
        self, loss: np.ndarray, new_defaults: np.ndarray, recovered: np.ndarray
    ) -> np.ndarray:
        """Debit the PDL; returns the collections on defaults that become revenue.

        Debited at liquidation: the realized losses, bottom-up.  Debited at default: the
        defaulted balance bottom-up, then what was collected on defaulted loans credits the
        ledgers senior first; the part of it no ledger carries is revenue.
        """
        pdl = self.deal.losses.allocation == "pdl"
        if not self.at_default:
            if pdl:
                self._debit(loss)
            return np.zeros(self.S)
        if not pdl:
            return recovered
        self._debit(new_defaults)
        remaining = recovered.copy()
        for name in self.ranked:
            credit = np.minimum(remaining, self.pdl[name])
            self.pdl[name] = self.pdl[name] - credit
            self.pdl_credited[name] = self.pdl_credited[name] + credit
            remaining = remaining - credit
        return remaining

    def _debit(self, amount: np.ndarray) -> None:
        remaining = amount.copy()
        for name in reversed(self.ranked):
            room = np.maximum(self.bal[name] - self.pdl[name], 0.0)
            debit = np.minimum(remaining, room)
            self.pdl[name] = self.pdl[name] + debit
            remaining = remaining - debit

    # -- support and accounts ---------------------------------------------------------------
    def _guarantee(self, loss: np.ndarray, pots: dict[str, np.ndarray]) -> None:
        uncovered = loss.copy()
        for sup in self.deal.support:
            if sup.kind != "guarantee":
                continue
            draw = self._support_draw(sup.name, uncovered)
            uncovered = uncovered - draw
            pots["principal_funds"] = pots["principal_funds"] + draw
            self.flow["guarantee_draws"] += draw

    def _release(self, pots: dict[str, np.ndarray]) -> None:
        for account in self.deal.accounts:
            name = account.name
            excess = np.zeros(self.S)
            if account.release_excess is not None:
                excess = np.maximum(self.acct[name] - self.targets[name], 0.0)
                excess = np.where(self.trap | self.final, 0.0, excess)
                pot = f"{account.release_excess}_funds"
                pots[pot] = pots[pot] + excess
            self._account_out(name, excess)

    def _empty_accounts(self, mask: np.ndarray, pots: dict[str, np.ndarray], pot: str) -> None:
        """Last period (or called): what the accounts still hold joins ``pot``."""
        for name in self.acct:
            emptied = np.where(mask, self.acct[name], 0.0)
            pots[pot] = pots[pot] + emptied
            self._account_out(name, emptied)


__all__ = ["CreditEnhancement"]
