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
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import numpy as np

from absstruct.deal import steps as st
from absstruct.errors import WaterfallError

if TYPE_CHECKING:
    from absstruct.deal.model import Account, Deal
    from absstruct.waterfall.schedule import Schedule

TOLERANCE = 1e-6
_NOISE = 1e-12  # relative float noise allowed on large cash amounts
_ABOVE = {"cumulative_net_loss", "cumulative_default", "interest_shortfall"}

TRANCHE_FIELDS = (
    "balance",
    "interest_due",
    "interest_paid",
    "interest_shortfall",
    "principal_paid",
    "writedown",
    "pdl",
    "pdl_cured",
    "residual_paid",
    "pdl_credited",
)
ACCOUNT_FIELDS = ("balance", "target", "deposit", "draw")
FEE_FIELDS = ("due", "paid", "unpaid")
TRIGGER_FIELDS = ("value", "threshold", "breached")
SUPPORT_FIELDS = ("draw", "used")
DEAL_FIELDS = (
    "pool_balance",
    "interest_collections",
    "principal_collections",
    "call_proceeds",
    "guarantee_draws",
    "undertaking_draws",
    "account_draws",
    "fees_paid",
    "taxes_paid",
    "interest_paid",
    "principal_paid",
    "account_deposits",
    "purchases",
    "residual",
    "notes_balance",
    "oc_target",
    "principal_distribution",
    "accelerated",
    "revolving",
    "called",
    "gap",
)


class _Book:
    """Ledger buffers of shape (T, S): a row per period, written once per period."""

    def __init__(self, periods: int, scenarios: int, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.data = {name: np.zeros((periods, scenarios)) for name in fields}

    def arrays(self) -> dict[str, np.ndarray]:
        """(S, T) views, read-only."""
        out = {}
        for name, buffer in self.data.items():
            view = buffer.T
            view.flags.writeable = False
            out[name] = view
        return out


class Engine:
    """One run of a deal over S scenarios; build, then :meth:`run`."""

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
        self.tranche_book = {n: _Book(T, S, TRANCHE_FIELDS) for n in self.ranked}
        self.account_book = {a.name: _Book(T, S, ACCOUNT_FIELDS) for a in deal.accounts}
        self.fee_book = {f.name: _Book(T, S, FEE_FIELDS) for f in deal.fees}
        self.tax_book = {x.name: _Book(T, S, FEE_FIELDS) for x in deal.taxes}
        self.trigger_book = {x.name: _Book(T, S, TRIGGER_FIELDS) for x in deal.triggers}
        self.support_book = {x.name: _Book(T, S, SUPPORT_FIELDS) for x in deal.support}
        self.deal_book = _Book(T, S, DEAL_FIELDS)
        self.alive_rows = np.zeros((T, S), dtype=bool)

    # -- the period loop --------------------------------------------------------------------
    def run(self) -> Engine:
        for t in range(self.T):
            self._period(t)
        return self

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
        self.perf = pool_eop
        notes_bop = self._sum(self.bal[n] for n in self.notes)
        self.notes_bop = notes_bop

        # Book keeping of this period's flows (each a vector over scenarios).
        self.flow = {k: np.zeros(S) for k in DEAL_FIELDS}
        self.paid_int = {n: np.zeros(S) for n in self.ranked}
        self.paid_prin = {n: np.zeros(S) for n in self.ranked}
        self.residual_to = {n: np.zeros(S) for n in self.ranked}
        self.pdl_cured = {n: np.zeros(S) for n in self.ranked}
        self.pdl_credited = {n: np.zeros(S) for n in self.ranked}
        self.acct_in = {a: np.zeros(S) for a in self.acct}
        self.acct_out = {a: np.zeros(S) for a in self.acct}
        self.sup_draw = {x: np.zeros(S) for x in self.sup_used}
        self.fee_paid = {f: np.zeros(S) for f in self.fee_unpaid}
        self.tax_paid = {x: np.zeros(S) for x in self.tax_unpaid}
        self.bal_bop = {n: self.bal[n].copy() for n in self.ranked}

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
            self._sweep_residual(combined["interest_funds"] + combined["principal_funds"])
            active_pots = {k: np.where(normal, v, 0.0) for k, v in pots.items()}
        else:
            normal = np.ones(S, dtype=bool)
            active_pots = pots
        self._waterfall(deal.waterfall.interest, active_pots, "interest_funds", normal, False)
        self._sweep_residual(active_pots["interest_funds"])
        active_pots["interest_funds"] = np.zeros(S)
        # Accounts still holding cash at the end pay the notes before any residual.
        self._empty_accounts(self.final & normal, active_pots, "principal_funds")
        self._waterfall(deal.waterfall.principal, active_pots, "principal_funds", normal, False)
        self._sweep_residual(active_pots["principal_funds"])

        if deal.call is not None and deal.call.minimum == "notes":
            proceeds = proceeds + self._redeem_at_call(called_now)
        purchased = self._revolve(t)
        self._writedowns(pool_eop + purchased)
        self._record(t, interest_in, principal_in, proceeds, pool_eop + purchased, called_now)
        self._check(t)
        self.called = self.called | called_now

    @staticmethod
    def _sum(vectors: Iterable[np.ndarray]) -> np.ndarray:
        total: np.ndarray | None = None
        for vector in vectors:
            total = vector.copy() if total is None else total + vector
        return total if total is not None else np.zeros(0)

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

    def _guarantee(self, loss: np.ndarray, pots: dict[str, np.ndarray]) -> None:
        uncovered = loss.copy()
        for sup in self.deal.support:
            if sup.kind != "guarantee":
                continue
            draw = self._support_draw(sup.name, uncovered)
            uncovered = uncovered - draw
            pots["principal_funds"] = pots["principal_funds"] + draw
            self.flow["guarantee_draws"] += draw

    def _support_draw(self, name: str, wanted: np.ndarray) -> np.ndarray:
        sup = next(x for x in self.deal.support if x.name == name)
        room = np.full(self.S, np.inf) if sup.limit is None else sup.limit - self.sup_used[name]
        draw = np.minimum(np.maximum(wanted, 0.0), np.maximum(room, 0.0))
        self.sup_used[name] = self.sup_used[name] + draw
        self.sup_draw[name] = self.sup_draw[name] + draw
        return draw

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

    def _account_out(self, name: str, amount: np.ndarray) -> None:
        self.acct[name] = self.acct[name] - amount
        self.acct_out[name] = self.acct_out[name] + amount

    def _account_in(self, name: str, amount: np.ndarray) -> None:
        self.acct[name] = self.acct[name] + amount
        self.acct_in[name] = self.acct_in[name] + amount

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
            share = np.divide(
                self.int_due[name], total_due, out=np.zeros(self.S), where=total_due > 0
            )
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
                share = np.divide(
                    self.bal[name], outstanding, out=np.zeros(self.S), where=outstanding > 0
                )
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

    def _sweep_residual(self, leftover: np.ndarray) -> None:
        self._residual(leftover)

    # -- end of period ----------------------------------------------------------------------
    def _revolving_now(self) -> np.ndarray:
        rev = self.deal.revolving
        if rev is None or self.t >= rev.periods:
            return np.zeros(self.S, dtype=bool)
        return ~self.revolving_ended & ~self.final & ~self.accelerated & self.alive

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
        f["account_draws"] = self._sum([np.zeros(self.S), *self.acct_out.values()])
        f["account_deposits"] = self._sum([np.zeros(self.S), *self.acct_in.values()])
        f["fees_paid"] = self._sum([np.zeros(self.S), *self.fee_paid.values()])
        f["taxes_paid"] = self._sum([np.zeros(self.S), *self.tax_paid.values()])
        f["interest_paid"] = self._sum(self.paid_int.values())
        f["principal_paid"] = self._sum(self.paid_prin.values())
        f["notes_balance"] = self._sum([np.zeros(self.S), *(self.bal[n] for n in self.notes)])
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

    def _check(self, t: int) -> None:
        f = self.flow
        inflow = (
            f["interest_collections"]
            + f["principal_collections"]
            + f["call_proceeds"]
            + f["guarantee_draws"]
            + f["undertaking_draws"]
            + f["account_draws"]
        )
        outflow = (
            f["fees_paid"]
            + f["taxes_paid"]
            + f["interest_paid"]
            + f["principal_paid"]
            + f["account_deposits"]
            + f["purchases"]
            + f["residual"]
        )
        gap = inflow - outflow
        self.deal_book.data["gap"][t] = gap
        tolerance = TOLERANCE + _NOISE * np.abs(inflow)
        bad = np.flatnonzero(np.abs(gap) > tolerance)
        if bad.size:
            s = int(bad[0])
            raise WaterfallError(
                f"period {t + 1}, scenario {self.names[s]!r}: cash not conserved, "
                f"gap {gap[s]:.6g} (in {inflow[s]:.2f}, out {outflow[s]:.2f})"
            )
        floor = -TOLERANCE - _NOISE * np.abs(inflow)
        for kind, values in (
            ("tranche", self.bal),
            ("account", self.acct),
            ("PDL", self.pdl),
        ):
            for name, vector in values.items():
                low = np.flatnonzero(vector < floor)
                if low.size:
                    s = int(low[0])
                    raise WaterfallError(
                        f"period {t + 1}, scenario {self.names[s]!r}: {kind} {name!r} "
                        f"balance {vector[s]:.6g} is negative"
                    )
        for name in self.ranked:
            over = np.flatnonzero(self.paid_prin[name] > self.bal_bop[name] - floor)
            if over.size:
                s = int(over[0])
                raise WaterfallError(
                    f"period {t + 1}, scenario {self.names[s]!r}: tranche {name!r} got "
                    f"principal {self.paid_prin[name][s]:.2f} above its balance "
                    f"{self.bal_bop[name][s]:.2f}"
                )
        total_pdl = self._sum([np.zeros(self.S), *self.pdl.values()])
        # Debited at default, the PDL carries at most the defaults not yet collected on.
        limit = self.cum_charged if self.at_default else self.cum_loss
        what = "defaults less their collections" if self.at_default else "cumulative losses"
        over = np.flatnonzero(total_pdl > limit - floor)
        if over.size:
            s = int(over[0])
            raise WaterfallError(
                f"period {t + 1}, scenario {self.names[s]!r}: PDL {total_pdl[s]:.2f} exceeds "
                f"{what} {limit[s]:.2f}"
            )


__all__ = ["ACCOUNT_FIELDS", "DEAL_FIELDS", "FEE_FIELDS", "TRANCHE_FIELDS", "Engine"]
