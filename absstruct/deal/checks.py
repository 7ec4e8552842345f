"""Cross-field checks of a deal file: what its fields say about each other.

The checks read the raw TOML tables (so a broken section elsewhere never hides a problem
here) and name every problem by its field path: references to tranches, fees, taxes,
accounts, triggers and support; dates in order; sizes within the pool; trigger
thresholds in range; reserve targets with a base; circular account transfers; the tape
file; the assumptions and scenarios.

Examples
--------
>>> raw = {"dates": {}, "tranches": [{"name": "A", "coupon": 0.05}],
...        "waterfall": {"interest": [{"step": "pay_fee", "fee": "trustee"}]}}
>>> [str(p) for p in cross_checks(raw)]
["waterfall.interest[0].fee: 'trustee' is not a fee; fees: (none)"]
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from absstruct.deal.steps import POTS
from absstruct.errors import AbsStructError, Problem

# Which account permission a step's draw needs.
_DRAW_NEEDS = {"pay_fee": "fees", "pay_tax": "taxes", "pay_interest": "interest"}
_DRAW_NEEDS |= {"pay_principal": "principal", "turbo": "principal"}
# Allowed threshold ranges by trigger kind (inclusive).
_THRESHOLD_RANGE = {
    "cumulative_net_loss": (0.0, 1.0),
    "cumulative_default": (0.0, 1.0),
    "pool_factor": (0.0, 1.0),
    "reserve_below_target": (0.0, 1.0),
    "oc_ratio": (0.0, 10.0),
    "interest_shortfall": (0.0, float("inf")),
}


def _table(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    return value if isinstance(value, Mapping) else {}


def _rows(raw: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = raw.get(key)
    if not isinstance(value, list):
        return []
    return [row if isinstance(row, Mapping) else {} for row in value]


def _names(rows: list[Mapping[str, Any]]) -> list[str]:
    return [str(r["name"]) for r in rows if isinstance(r.get("name"), str)]


def _list(value: Any) -> list[Any]:
    """A list field as a list; anything else is the models' type error to report."""
    return value if isinstance(value, list) else []


def _date(value: Any) -> dt.date | None:
    """A TOML date; a date-time counts as its day (comparing it with a date would raise)."""
    if isinstance(value, dt.datetime):
        return value.date()
    return value if isinstance(value, dt.date) else None


def _is_file(folder: Path, name: str) -> bool:
    """Whether ``name`` is a file beside the deal; a name the system cannot even look up
    (too long, a NUL byte) is no file either."""
    try:
        return (folder / name).is_file()
    except (OSError, ValueError):
        return False


def _listing(names: list[Any]) -> str:
    return ", ".join(map(str, names)) if names else "(none)"


def _number(value: Any) -> float | None:
    from absstruct.deal.model import parse_percent

    try:
        parsed = parse_percent(value)
    except ValueError:
        return None
    if isinstance(parsed, bool) or not isinstance(parsed, (int, float)):
        return None
    return float(parsed)


def _percent_share(value: Any) -> float | None:
    if isinstance(value, str) and value.strip().endswith("%"):
        return _number(value)
    return None


class _Checker:
    def __init__(self, raw: Mapping[str, Any], base_dir: Path | None) -> None:
        self.raw = raw
        self.base_dir = base_dir
        self.problems: list[Problem] = []
        self.tranches = _rows(raw, "tranches")
        self.fees = _rows(raw, "fees")
        self.taxes = _rows(raw, "taxes")
        self.accounts = _rows(raw, "accounts")
        self.triggers = _rows(raw, "triggers")
        self.support = _rows(raw, "support")
        self.tranche_names = _names(self.tranches)
        self.account_names = _names(self.accounts)
        self.trigger_names = _names(self.triggers)
        self.targets = {
            str(a.get("name")): isinstance(a.get("target"), Mapping) for a in self.accounts
        }

    def add(self, where: str, value: Any, message: str, rule: str = "reference") -> None:
        self.problems.append(Problem(where=where, value=value, rule=rule, message=message))

    def ref(self, where: str, value: Any, names: list[str], noun: str, plural: str) -> bool:
        """True when ``value`` names one of ``names``; a name that is not text is
        the models' type error, so it is neither reported here nor looked up."""
        if not isinstance(value, str):
            return value is None
        if value not in names:
            self.add(where, value, f"is not {noun}; {plural}: {_listing(names)}")
            return False
        return True

    # -- sections ---------------------------------------------------------------------------
    def unique(self) -> None:
        for key, rows in (
            ("fees", self.fees),
            ("taxes", self.taxes),
            ("accounts", self.accounts),
            ("triggers", self.triggers),
            ("support", self.support),
        ):
            seen: set[str] = set()
            for i, name in enumerate(r.get("name") for r in rows):
                if isinstance(name, str) and name in seen:
                    self.add(f"{key}[{i}].name", name, "repeats an earlier name", "duplicate")
                if isinstance(name, str):
                    seen.add(name)
        for i, name in enumerate(r.get("name") for r in self.accounts):
            if name in POTS:
                self.add(f"accounts[{i}].name", name, "is reserved for the period's pots")

    def dates(self) -> None:
        d = _table(self.raw, "dates")
        order = [("cutoff", "the cut-off date"), ("closing", "the closing date")]
        order += [("first_payment", "the first payment date"), ("legal_final", "legal final")]
        known: list[tuple[str, str, dt.date]] = [
            (k, label, day) for k, label in order if (day := _date(d.get(k))) is not None
        ]
        for (_, label_a, a), (key_b, _, b) in itertools.pairwise(known):
            if b < a if key_b == "closing" else b <= a:
                self.add(f"dates.{key_b}", b.isoformat(), f"is before {label_a} {a.isoformat()}")
        pool_cut = _date(_table(self.raw, "pool").get("cutoff"))
        cutoff = _date(d.get("cutoff"))
        if pool_cut is not None and cutoff is not None and pool_cut != cutoff:
            self.add(
                "pool.cutoff",
                pool_cut.isoformat(),
                f"differs from dates.cutoff {cutoff.isoformat()}",
                "inconsistent",
            )
        step_down = _date(_table(self.raw, "oc").get("step_down"))
        closing = _date(d.get("closing"))
        if step_down is not None and closing is not None and step_down < closing:
            self.add(
                "oc.step_down",
                step_down.isoformat(),
                f"is before the closing date {closing.isoformat()}",
                "order",
            )
        oc = _table(self.raw, "oc")
        if "step_down" in oc and "initial_pct" not in oc:
            self.add("oc.initial_pct", None, "is required with a step_down date", "missing")

    def tranches_(self) -> None:
        indices = list(_table(self.raw, "indices"))
        ranks: dict[int, int] = {}
        total_amount = 0.0
        total_share = 0.0
        pool_balance = _number(_table(self.raw, "pool").get("balance"))
        for i, t in enumerate(self.tranches):
            kind = t.get("kind", "note")
            has_fixed, has_float = "coupon" in t, "floating" in t
            if kind == "note" and has_fixed == has_float:
                self.add(f"tranches[{i}].coupon", None, "give one of coupon or floating", "missing")
            if kind == "residual" and (has_fixed or has_float):
                self.add(f"tranches[{i}].coupon", None, "a residual tranche has no coupon")
            floating = t.get("floating")
            if isinstance(floating, Mapping):
                self.ref(
                    f"tranches[{i}].floating.index",
                    floating.get("index"),
                    indices,
                    "an index",
                    "indices",
                )
            rank = t.get("rank")
            if isinstance(rank, int):
                if rank in ranks:
                    self.add(
                        f"tranches[{i}].rank",
                        rank,
                        f"repeats the rank of tranches[{ranks[rank]}]",
                        "duplicate",
                    )
                ranks[rank] = i
            size = t.get("size", 0)
            share = _percent_share(size)
            if share is not None:
                total_share += share
                if total_share > 1.0 + 1e-12:
                    self.add(
                        f"tranches[{i}].size",
                        size,
                        f"takes the tranche sizes to {total_share:.4%} of the pool, above 100%",
                        "exceeds_pool",
                    )
            elif isinstance(size, (int, float)) and not isinstance(size, bool):
                total_amount += float(size)
                if pool_balance is not None and total_amount > pool_balance * (1 + 1e-12):
                    self.add(
                        f"tranches[{i}].size",
                        size,
                        f"takes the tranche sizes to {total_amount:,.2f}, above the pool "
                        f"balance {pool_balance:,.2f} (pool.balance)",
                        "exceeds_pool",
                    )

    def indices_(self) -> None:
        for name, curve in _table(self.raw, "indices").items():
            if not isinstance(curve, Mapping):
                continue
            if ("rates" in curve) == ("csv" in curve):
                self.add(f"indices.{name}", None, "give one of rates or csv", "missing")
            csv = curve.get("csv")
            if (
                isinstance(csv, str)
                and self.base_dir is not None
                and not _is_file(self.base_dir, csv)
            ):
                self.add(
                    f"indices.{name}.csv",
                    csv,
                    "does not exist next to the deal file",
                    "missing_file",
                )

    def accounts_(self) -> None:
        for i, a in enumerate(self.accounts):
            target = a.get("target")
            if not isinstance(target, Mapping):
                continue
            where = f"accounts[{i}].target"
            if "pct" in target and "base" not in target:
                self.add(
                    f"{where}.base",
                    None,
                    "is required with target.pct; bases: current_pool, initial_pool, notes",
                    "missing",
                )
            if "base" in target and "pct" not in target:
                self.add(f"{where}.pct", None, "is required with target.base", "missing")
            if not any(k in target for k in ("pct", "floor", "amount")):
                self.add(where, None, "has no base: give pct with base, floor or amount", "missing")

    def pool(self) -> None:
        pool = _table(self.raw, "pool")
        tape = pool.get("tape")
        if (
            isinstance(tape, str)
            and self.base_dir is not None
            and not _is_file(self.base_dir, tape)
        ):
            self.add("pool.tape", tape, "does not exist next to the deal file", "missing_file")
        if "revolving" in pool:
            self.add("pool.revolving", None, "belongs at the top level: [revolving]", "misplaced")
        self.assumptions(pool)

    def assumptions(self, pool: Mapping[str, Any]) -> None:
        try:
            from absstruct.deal.scenarios import assumptions_from_table
        except ImportError:  # the curves module is not there yet
            return
        base = pool.get("assumptions", {})
        if not isinstance(base, Mapping):
            return
        try:
            assumptions_from_table(base, where="pool.assumptions")
        except AbsStructError as error:
            self.problems += list(error.problems) or [
                Problem(where="pool.assumptions", message=str(error))
            ]
        scenarios = pool.get("scenarios", {})
        if not isinstance(scenarios, Mapping):
            return
        for name, table in scenarios.items():
            if not isinstance(table, Mapping):
                continue
            try:
                assumptions_from_table(
                    {**base, **table}, where=f"pool.scenarios.{name}", keys=table
                )
            except AbsStructError as error:
                self.problems += list(error.problems) or [
                    Problem(where=f"pool.scenarios.{name}", message=str(error))
                ]

    def triggers_(self) -> None:
        waterfall = _table(self.raw, "waterfall")
        for i, t in enumerate(self.triggers):
            kind = t.get("kind")
            low, high = _THRESHOLD_RANGE.get(str(kind), (float("-inf"), float("inf")))
            threshold = t.get("threshold")
            values: list[tuple[str, Any]] = []
            if isinstance(threshold, list):
                values = [
                    (f"triggers[{i}].threshold[{j}].value", step.get("value"))
                    for j, step in enumerate(threshold)
                    if isinstance(step, Mapping)
                ]
                periods = [s.get("period") for s in threshold if isinstance(s, Mapping)]
                numbers = [p for p in periods if isinstance(p, int)]
                if len(numbers) == len(periods) and numbers != sorted(set(numbers)):
                    self.add(
                        f"triggers[{i}].threshold",
                        None,
                        "steps must have increasing periods",
                        "order",
                    )
            elif threshold is not None:
                values = [(f"triggers[{i}].threshold", threshold)]
            for where, raw_value in values:
                value = _number(raw_value)
                if value is not None and not low <= value <= high:
                    self.add(
                        where,
                        raw_value,
                        f"is out of range for a {kind} trigger ({low:g} to {high:g})",
                        "range",
                    )
            if kind == "reserve_below_target":
                account = t.get("account")
                if account is None:
                    self.add(
                        f"triggers[{i}].account",
                        None,
                        "is required for a reserve_below_target trigger",
                        "missing",
                    )
                elif self.ref(
                    f"triggers[{i}].account", account, self.account_names, "an account", "accounts"
                ) and not self.targets.get(account):
                    self.add(f"triggers[{i}].account", account, "has no target to compare with")
            if kind == "interest_shortfall" and not t.get("tranches"):
                self.add(
                    f"triggers[{i}].tranches",
                    None,
                    "is required for an interest_shortfall trigger",
                    "missing",
                )
            deferrable = {str(r.get("name")) for r in self.tranches if r.get("deferrable") is True}
            for j, name in enumerate(_list(t.get("tranches"))):
                known = self.ref(
                    f"triggers[{i}].tranches[{j}]",
                    name,
                    self.tranche_names,
                    "a tranche",
                    "tranches",
                )
                if known and kind == "interest_shortfall" and name in deferrable:
                    self.add(
                        f"triggers[{i}].tranches[{j}]",
                        name,
                        "defers interest (deferrable = true): its shortfall is no default",
                        "inconsistent",
                    )
            effects = _list(t.get("effects"))
            if "accelerate" in effects and not waterfall.get("acceleration"):
                self.add(
                    f"triggers[{i}].effects",
                    "accelerate",
                    "needs a waterfall.acceleration to switch to",
                    "missing",
                )
            if "end_revolving" in effects and "revolving" not in self.raw:
                self.add(
                    f"triggers[{i}].effects",
                    "end_revolving",
                    "needs a [revolving] section",
                    "missing",
                )

    def support_(self) -> None:
        pass

    # -- waterfalls -------------------------------------------------------------------------
    def waterfalls(self) -> None:
        waterfall = _table(self.raw, "waterfall")
        edges: dict[str, set[str]] = {}
        losses = _table(self.raw, "losses").get("allocation", "none")
        support_kinds = {str(r.get("name")): r.get("kind") for r in self.support}
        for section in ("interest", "principal", "acceleration"):
            for i, step in enumerate(_rows(waterfall, section)):
                self.step(f"waterfall.{section}[{i}]", section, step, losses, support_kinds)
                if step.get("step") == "transfer":
                    self.transfer(f"waterfall.{section}[{i}]", step, edges)

    def step(
        self,
        where: str,
        section: str,
        step: Mapping[str, Any],
        losses: Any,
        support_kinds: dict[str, Any],
    ) -> None:
        kind = step.get("step")
        fee_names, tax_names = _names(self.fees), _names(self.taxes)
        if "tranche" in step:
            self.ref(
                f"{where}.tranche", step["tranche"], self.tranche_names, "a tranche", "tranches"
            )
        for j, name in enumerate(_list(step.get("tranches"))):
            self.ref(f"{where}.tranches[{j}]", name, self.tranche_names, "a tranche", "tranches")
        if kind == "pay_fee":
            self.ref(f"{where}.fee", step.get("fee"), fee_names, "a fee", "fees")
        if kind == "pay_tax":
            self.ref(f"{where}.tax", step.get("tax"), tax_names, "a tax", "taxes")
        if kind == "fund_reserve":
            account = step.get("account")
            if (
                self.ref(f"{where}.account", account, self.account_names, "an account", "accounts")
                and account in self.targets
                and not self.targets[account]
            ):
                self.add(f"{where}.account", account, "has no target to fund to")
        for key in ("when", "unless"):
            if key in step:
                self.ref(f"{where}.{key}", step[key], self.trigger_names, "a trigger", "triggers")
        for j, account in enumerate(_list(step.get("draw_from"))):
            if self.ref(
                f"{where}.draw_from[{j}]", account, self.account_names, "an account", "accounts"
            ):
                need = _DRAW_NEEDS.get(str(kind))
                row = next((a for a in self.accounts if a.get("name") == account), {})
                may_pay = row.get("may_pay", ["fees", "interest"])
                if need is None:
                    self.add(f"{where}.draw_from[{j}]", account, f"a {kind} step cannot draw")
                elif isinstance(may_pay, list) and need not in may_pay:
                    self.add(
                        f"{where}.draw_from[{j}]",
                        account,
                        f"may not pay {need}; its may_pay: {_listing(may_pay)}",
                    )
        for j, name in enumerate(_list(step.get("support"))):
            names = list(support_kinds)
            known = self.ref(f"{where}.support[{j}]", name, names, "a support provider", "support")
            if known and support_kinds.get(name) != "shortfall_undertaking":
                self.add(
                    f"{where}.support[{j}]",
                    name,
                    "is not a shortfall_undertaking (a guarantee covers losses itself)",
                )
        if kind == "cure_pdl":
            if losses != "pdl":
                self.add(f"{where}.step", kind, "needs losses.allocation = 'pdl'", "inconsistent")
            if section == "principal":
                self.add(
                    f"{where}.step",
                    kind,
                    "cures from interest funds: put it in waterfall.interest",
                    "misplaced",
                )
        if kind == "purchase" and "revolving" not in self.raw:
            self.add(f"{where}.step", kind, "needs a [revolving] section", "inconsistent")
        if kind == "pay_principal" and step.get("amount") == "target" and "oc" not in self.raw:
            self.add(f"{where}.amount", "target", "needs an [oc] target section", "inconsistent")

    def transfer(self, where: str, step: Mapping[str, Any], edges: dict[str, set[str]]) -> None:
        places = [*self.account_names, *POTS]
        source, to = step.get("from"), step.get("to")
        ok = self.ref(f"{where}.from", source, places, "an account or pot", "allowed")
        ok = self.ref(f"{where}.to", to, places, "an account or pot", "allowed") and ok
        if not ok or not isinstance(source, str) or not isinstance(to, str):
            return
        if source == to:
            self.add(f"{where}.to", to, "is the same as 'from'", "circular")
            return
        amount = step.get("amount", "all")
        if amount == "excess" and not self.targets.get(source):
            self.add(f"{where}.amount", amount, f"needs a target on account {source!r}")
        if amount == "to_target" and not self.targets.get(to):
            self.add(f"{where}.amount", amount, f"needs a target on account {to!r}")
        if source in POTS or to in POTS:
            return
        edges.setdefault(source, set()).add(to)
        path = _cycle(edges, to, source)
        if path:
            self.add(
                f"{where}.to",
                to,
                f"closes a circular transfer {' -> '.join([source, *path])}",
                "circular",
            )


def _cycle(edges: dict[str, set[str]], start: str, goal: str) -> list[str] | None:
    """A path of transfers from ``start`` back to ``goal``, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        if node == goal:
            return path
        if node in seen:
            continue
        seen.add(node)
        stack += [(nxt, [*path, nxt]) for nxt in sorted(edges.get(node, ()))]
    return None


def cross_checks(
    raw: Mapping[str, Any], *, base_dir: Path | None = None, deal: Any = None
) -> list[Problem]:
    """Every cross-field problem of a raw deal table (empty when consistent).

    ``deal`` (the validated model, when the fields validated) is accepted for checks that
    need parsed values; the raw tables are enough for the ones here.
    """
    checker = _Checker(raw, base_dir)
    checker.unique()
    checker.dates()
    checker.tranches_()
    checker.indices_()
    checker.accounts_()
    checker.pool()
    checker.triggers_()
    checker.waterfalls()
    return checker.problems


__all__ = ["cross_checks"]
