"""Property tests over random structures and scenarios: cash is conserved every period,
balances never go negative, no tranche gets more principal than its balance, the PDL never
exceeds cumulative losses (debited at liquidation) or the defaults not yet collected on
(debited at default), and an S-scenario run equals S one-scenario runs exactly."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from absstruct.deal import validate_deal
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
from absstruct.waterfall import run

DATES = {
    "cutoff": dt.date(2026, 6, 30),
    "closing": dt.date(2026, 7, 10),
    "first_payment": dt.date(2026, 8, 15),
    "legal_final": dt.date(2036, 8, 15),
    "roll": "following",
}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def structures(draw: Any) -> dict[str, Any]:
    """A random but valid deal: 1-5 notes, fees, a reserve, triggers, losses mode, call."""
    n = draw(st.integers(1, 5))
    shares = draw(st.lists(st.floats(0.02, 0.5), min_size=n, max_size=n))
    scale = min(1.0, 0.98 / sum(shares))
    names = [f"T{i}" for i in range(n)]
    tranches = [
        {
            "name": name,
            "size": f"{share * scale * 100:.6f}%",
            "coupon": draw(st.floats(0.0, 0.15)),
            "day_count": draw(st.sampled_from(["30/360", "ACT/360", "ACT/365F"])),
            "interest_on_unpaid": draw(st.booleans()),
        }
        for name, share in zip(names, shares, strict=True)
    ]
    tranches.append({"name": "R", "kind": "residual"})
    reserve = draw(st.booleans())
    accounts = []
    draw_from: list[str] = []
    if reserve:
        accounts.append(
            {
                "name": "rsv",
                "initial": draw(st.floats(0.0, 5.0)),
                "target": {
                    "pct": draw(st.floats(0.0, 0.05)),
                    "base": "current_pool",
                    "floor": draw(st.floats(0.0, 0.02)),
                },
                "may_pay": ["fees", "interest", "principal"],
                "release_excess": draw(st.sampled_from([None, "interest", "principal"])),
            }
        )
        accounts[0] = {k: v for k, v in accounts[0].items() if v is not None}
        draw_from = ["rsv"]
    triggers = [
        {
            "name": "cnl",
            "kind": "cumulative_net_loss",
            "threshold": draw(st.floats(0.0, 0.2)),
            "curable": draw(st.booleans()),
            "effects": ["sequential", "trap"],
        },
        {
            "name": "oc",
            "kind": "oc_ratio",
            "threshold": draw(st.floats(0.9, 1.3)),
            "curable": True,
            "effects": ["sequential"],
        },
    ]
    accelerate = draw(st.booleans())
    if accelerate:
        triggers.append(
            {
                "name": "eod",
                "kind": "interest_shortfall",
                "tranches": [names[0]],
                "threshold": 0.0,
                "effects": ["accelerate"],
            }
        )
    losses = draw(st.sampled_from(["pdl", "writedown", "none"]))
    mode = draw(st.sampled_from(["sequential", "pro_rata"]))
    interest: list[dict[str, Any]] = [
        {"step": "pay_fee", "fee": "trustee", "draw_from": draw_from},
        {
            "step": "pay_interest",
            "tranches": names[:2],
            "draw_from": draw_from,
            "support": ["undertaking"],
        },
        *({"step": "pay_interest", "tranche": name} for name in names[2:]),
    ]
    if losses == "pdl":
        interest.append({"step": "cure_pdl"})
    if reserve:
        interest.append({"step": "fund_reserve", "account": "rsv"})
    if draw(st.booleans()):
        interest.append({"step": "turbo", "when": "cnl"})
    interest.append(
        {
            "step": "transfer",
            "from": "interest_funds",
            "to": "principal_funds",
            "amount": draw(st.sampled_from(["all", "losses", 1.5])),
        }
    )
    principal: list[dict[str, Any]] = [
        {"step": "pay_principal", "tranches": names, "mode": mode, "draw_from": draw_from}
    ]
    if draw(st.booleans()):
        principal.insert(0, {"step": "pay_principal", "tranche": names[0], "amount": "target"})
    raw: dict[str, Any] = {
        "schema_version": 1,
        "name": "random",
        "dates": DATES,
        "tranches": tranches,
        "fees": [
            {
                "name": "trustee",
                "rate": draw(st.floats(0.0, 0.02)),
                "fixed": draw(st.floats(0.0, 0.3)),
            }
        ],
        "accounts": accounts,
        "losses": {"allocation": losses, "debit": draw(st.sampled_from(["loss", "default"]))},
        "oc": {"pct": draw(st.floats(0.0, 0.2)), "floor": 0.01},
        "triggers": triggers,
        "support": [
            {"name": "undertaking", "kind": "shortfall_undertaking", "limit": 2.0},
            {"name": "guarantee", "kind": "guarantee", "limit": draw(st.floats(0.0, 5.0))},
        ],
        "waterfall": {"interest": interest, "principal": principal},
    }
    if accelerate:
        raw["waterfall"]["acceleration"] = [
            {"step": "pay_fee", "fee": "trustee"},
            {"step": "pay_interest", "tranches": names},
            {"step": "pay_principal", "tranches": names},
        ]
    if draw(st.booleans()):
        raw["call"] = {
            "pct": draw(st.floats(0.01, 0.3)),
            "defaulted_price": draw(st.floats(0.0, 1.0)),
            "minimum": draw(st.sampled_from(["none", "notes"])),
        }
    return raw


@st.composite
def pool_flows(draw: Any) -> PoolFlows:
    """S random scenarios of T periods on a 100 pool, SIFMA-consistent: defaults leave the
    performing balance, wait ``lag`` periods in foreclosure, then split into a loss and a
    recovery (paid with the principal collections)."""
    S = draw(st.integers(1, 4))
    T = draw(st.integers(2, 18))
    lag = draw(st.integers(0, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    weights = rng.random((S, T)) ** 2
    weights /= weights.sum(axis=1, keepdims=True)
    default_share = rng.random((S, 1)) * draw(st.floats(0.0, 0.6))
    scheduled = 100.0 * weights * (1 - default_share)
    defaults = 100.0 * weights * default_share
    liquidated = np.zeros((S, T))
    liquidated[:, lag:] = defaults[:, : T - lag]
    loss = liquidated * rng.uniform(0.2, 1.0, (S, 1))
    perf = 100.0 - np.cumsum(scheduled + defaults, axis=1)
    perf[:, -1] = 0.0
    bop = np.concatenate([np.full((S, 1), 100.0), perf[:, :-1]], axis=1)
    arrays = {c: np.zeros((S, T)) for c in POOL_COLUMNS}
    arrays.update(
        performing_balance=np.maximum(perf, 0.0),
        new_defaults=defaults,
        in_foreclosure=np.cumsum(defaults - liquidated, axis=1),
        principal_recovery=liquidated - loss,
        principal_loss=loss,
        principal_collections=scheduled + liquidated - loss,
        interest_collections=bop * rng.uniform(0.0, 0.02, (S, 1)),
    )
    return PoolFlows(
        arrays=arrays, initial_balance=100.0, scenario_names=tuple(f"s{i}" for i in range(S))
    )


def _ledgers(result: Any) -> dict[str, np.ndarray]:
    out = {f"deal.{k}": v for k, v in result.deal.arrays.items()}
    for group in (result.tranches, result.accounts, result.fees, result.triggers, result.support):
        for name, ledger in group.items():
            out |= {f"{name}.{k}": v for k, v in ledger.arrays.items()}
    return out


@SETTINGS
@given(raw=structures(), flows=pool_flows(), seed=st.integers(0, 2**16))
def test_conservation_and_invariants(raw: dict[str, Any], flows: PoolFlows, seed: int) -> None:
    deal = validate_deal(raw)
    calls = np.random.default_rng(seed).random(flows.n_scenarios) < 0.5
    result = run(deal, flows, call=calls)  # the engine raises on any broken invariant
    d = result.deal
    inflow = (
        d["interest_collections"]
        + d["principal_collections"]
        + d["call_proceeds"]
        + d["guarantee_draws"]
        + d["undertaking_draws"]
        + d["account_draws"]
    )
    outflow = (
        d["fees_paid"]
        + d["taxes_paid"]
        + d["interest_paid"]
        + d["principal_paid"]
        + d["account_deposits"]
        + d["purchases"]
        + d["residual"]
    )
    np.testing.assert_allclose(inflow, outflow, atol=1e-6, rtol=0)
    pool = result.pool
    if deal.losses.debit == "default":
        limit = np.cumsum(pool["new_defaults"] - pool["principal_recovery"], axis=1)
    else:
        limit = np.cumsum(pool["principal_loss"], axis=1)
    total_pdl = sum(t["pdl"] for t in result.tranches.values())
    assert np.all(total_pdl <= limit + 1e-9)
    for name, ledger in result.tranches.items():
        balance = ledger["balance"]
        assert np.all(balance >= -1e-9), name
        start = np.concatenate(
            [np.full((flows.n_scenarios, 1), result.original_balances[name]), balance[:, :-1]],
            axis=1,
        )
        assert np.all(ledger["principal_paid"] <= start + 1e-9), name
        retired = ledger["principal_paid"].sum(axis=1) + ledger["writedown"].sum(axis=1)
        np.testing.assert_allclose(retired, result.original_balances[name], atol=1e-6)
    for ledger in result.accounts.values():
        assert np.all(ledger["balance"] >= -1e-9)
        assert np.all(ledger["balance"][:, -1] == 0.0)  # nothing left in an account
    used = result.support["undertaking"]["used"]
    assert np.all(used <= 2.0 + 1e-12)
    if deal.call is not None and deal.call.minimum == "notes":
        # Redeemed in full at the call: no note written down or short of interest then.
        called = d["called"] > 0
        for tranche in deal.tranches:
            if tranche.kind == "note":
                ledger = result.tranches[tranche.name]
                assert np.all(ledger["writedown"][called] == 0.0), tranche.name
                assert np.all(ledger["interest_shortfall"][called] == 0.0), tranche.name


@SETTINGS
@given(raw=structures(), flows=pool_flows())
def test_scenario_array_equals_single_scenario_runs(raw: dict[str, Any], flows: PoolFlows):
    deal = validate_deal(raw)
    calls = [bool(i % 2) for i in range(flows.n_scenarios)]
    together = _ledgers(run(deal, flows, call=calls))
    for s, name in enumerate(flows.scenario_names):
        single = PoolFlows(
            arrays={k: v[s : s + 1] for k, v in flows.arrays.items()},
            initial_balance=flows.initial_balance,
            scenario_names=(name,),
        )
        alone = _ledgers(run(deal, single, call=[calls[s]]))
        for key, values in alone.items():
            assert np.array_equal(together[key][s], values[0]), (name, key)


@SETTINGS
@given(flows=pool_flows(), split=st.floats(0.1, 0.9))
def test_sequential_order_and_pro_rata_shares(flows: PoolFlows, split: float) -> None:
    tranches = [
        {"name": "A", "size": 90.0 * split, "coupon": 0.0},
        {"name": "B", "size": 90.0 * (1 - split), "coupon": 0.0},
    ]
    for mode in ("sequential", "pro_rata"):
        deal = validate_deal(
            {
                "schema_version": 1,
                "name": "order",
                "dates": DATES,
                "tranches": tranches,
                "waterfall": {
                    "interest": [{"step": "pay_residual"}],
                    "principal": [{"step": "pay_principal", "tranches": ["A", "B"], "mode": mode}],
                },
            }
        )
        result = run(deal, flows)
        a, b = result.tranches["A"], result.tranches["B"]
        # Before the last period (which writes down whatever is left):
        paid_b = b["principal_paid"][:, :-1]
        if mode == "sequential":
            a_open = np.concatenate(
                [np.full((flows.n_scenarios, 1), 90.0 * split), a["balance"][:, :-2]], axis=1
            )
            assert np.all((paid_b == 0) | (a_open - a["principal_paid"][:, :-1] <= 1e-9))
        else:
            share = split
            total = a["principal_paid"] + b["principal_paid"]
            np.testing.assert_allclose(a["principal_paid"], total * share, atol=1e-9)
