"""Benchmark: the waterfall over 1,000 scenarios x 360 periods x 6 tranches, with triggers
and a reserve, against one scenario.  Goal: total time <= 20x one scenario.

Run: ``python tests/benchmarks/bench_waterfall.py [--scenarios 1000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np

from absstruct.deal import validate_deal
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
from absstruct.waterfall import run

PERIODS = 360


def deal():
    names = ["A1", "A2", "A3", "B", "C", "D"]
    sizes = ["30%", "25%", "20%", "10%", "6%", "4%"]
    return validate_deal(
        {
            "schema_version": 1,
            "name": "benchmark",
            "dates": {
                "cutoff": dt.date(2026, 6, 30),
                "closing": dt.date(2026, 7, 15),
                "first_payment": dt.date(2026, 8, 15),
                "legal_final": dt.date(2056, 7, 15),
            },
            "tranches": [
                {"name": n, "size": s, "coupon": 0.04 + 0.005 * i}
                for i, (n, s) in enumerate(zip(names, sizes, strict=True))
            ]
            + [{"name": "R", "kind": "residual"}],
            "fees": [{"name": "servicer", "rate": 0.0025}, {"name": "trustee", "fixed": 1000}],
            "accounts": [
                {
                    "name": "reserve",
                    "initial": "1%",
                    "target": {"pct": 0.015, "base": "current_pool", "floor": 0.005},
                    "may_pay": ["fees", "interest", "principal"],
                    "release_excess": "interest",
                }
            ],
            "losses": {"allocation": "pdl"},
            "oc": {"pct": 0.08, "floor": 0.01},
            "triggers": [
                {
                    "name": "cnl",
                    "kind": "cumulative_net_loss",
                    "threshold": [{"period": 1, "value": 0.01}, {"period": 60, "value": 0.03}],
                    "effects": ["sequential", "trap"],
                },
                {
                    "name": "oc",
                    "kind": "oc_ratio",
                    "threshold": 1.02,
                    "curable": True,
                    "effects": ["sequential"],
                },
                {
                    "name": "reserve_low",
                    "kind": "reserve_below_target",
                    "account": "reserve",
                    "threshold": 0.5,
                    "curable": True,
                },
            ],
            "waterfall": {
                "interest": [
                    {"step": "pay_fee", "fee": "servicer", "draw_from": ["reserve"]},
                    {"step": "pay_fee", "fee": "trustee", "draw_from": ["reserve"]},
                    {
                        "step": "pay_interest",
                        "tranches": ["A1", "A2", "A3"],
                        "draw_from": ["reserve"],
                    },
                    {"step": "pay_interest", "tranche": "B"},
                    {"step": "pay_interest", "tranche": "C"},
                    {"step": "pay_interest", "tranche": "D"},
                    {"step": "cure_pdl"},
                    {"step": "fund_reserve", "account": "reserve"},
                    {"step": "transfer", "from": "interest_funds", "to": "principal_funds"},
                ],
                "principal": [
                    {
                        "step": "pay_principal",
                        "tranches": names,
                        "mode": "pro_rata",
                        "amount": "target",
                        "draw_from": ["reserve"],
                    },
                    {"step": "pay_residual"},
                ],
            },
        }
    )


def flows(scenarios: int, seed: int = 7) -> PoolFlows:
    """Level-pay pool of 100m, scenario-varying CPR / CDR / severity."""
    rng = np.random.default_rng(seed)
    smm = 1 - (1 - rng.uniform(0.02, 0.15, (scenarios, 1))) ** (1 / 12)
    mdr = 1 - (1 - rng.uniform(0.0, 0.08, (scenarios, 1))) ** (1 / 12)
    severity = rng.uniform(0.2, 0.7, (scenarios, 1))
    r, n = 0.06 / 12, PERIODS
    sched = (1 - (1 + r) ** -(n - np.arange(n + 1))) / (1 - (1 + r) ** -n)  # balance factors
    arrays = {c: np.zeros((scenarios, PERIODS)) for c in POOL_COLUMNS}
    perf = np.full(scenarios, 100e6)
    for t in range(PERIODS):
        default = perf * mdr[:, 0]
        live = perf - default
        scheduled = live * (1 - sched[t + 1] / sched[t])
        prepay = (live - scheduled) * smm[:, 0]
        arrays["new_defaults"][:, t] = default
        arrays["principal_loss"][:, t] = default * severity[:, 0]
        arrays["principal_collections"][:, t] = scheduled + prepay + default * (1 - severity[:, 0])
        arrays["interest_collections"][:, t] = live * r
        perf = live - scheduled - prepay
        arrays["performing_balance"][:, t] = perf
    return PoolFlows(
        arrays=arrays,
        initial_balance=100e6,
        scenario_names=tuple(f"s{i}" for i in range(scenarios)),
    )


def timed(structure, pool: PoolFlows, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run(structure, pool)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    structure = deal()
    many = flows(args.scenarios)
    one = PoolFlows(
        arrays={k: v[:1] for k, v in many.arrays.items()},
        initial_balance=many.initial_balance,
        scenario_names=("s0",),
    )
    run(structure, one)  # warm up imports and caches
    single = timed(structure, one, args.repeat)
    total = timed(structure, many, args.repeat)
    print(f"waterfall: {PERIODS} periods x 6 tranches, 3 triggers, a reserve, PDL")
    print(f"  1 scenario:        {single * 1000:8.1f} ms")
    print(
        f"  {args.scenarios} scenarios: {total * 1000:8.1f} ms "
        f"({total / args.scenarios * 1e6:.0f} us per scenario)"
    )
    print(f"  ratio:             {total / single:8.2f}x one scenario (goal <= 20x)")


if __name__ == "__main__":
    main()
