"""Benchmark: pool selection on a 1,000,000-loan tape, as a ratio to reading that tape.

Run ``python tests/benchmarks/bench_pool.py [--rows 1000000] [--repeat 3]``.

A synthetic ``us_auto`` tape is reshaped to look like a real auto pool (states skewed
towards CA / TX / FL, obligors clustered: households with two loans, fleet obligors with
hundreds to thousands) and written to a temporary CSV.  Then, alternating in the same run
so both see the same machine load:

- read: ``absstruct.tape.load_tape(path)`` (read + map + validate, canonical template);
- pool: ``select_pool`` with four eligibility rules and limits that all bind (obligor
  <= 0.2%, region <= 10%, grade <= 35%, top-10 obligors <= 1%), the summary and every
  default strat, on the tape as read and on the same tape in shuffled row order.

Prints the median of ``--repeat`` runs of each and ``pool / read`` (goal <= 0.5), the
ratio within each repeat, and what the lazily built frames cost on first access
(``eligible``, ``excluded``).

``--allocator command`` (the default) sets the process up as the ``absstruct`` command
sets its own (``absstruct.memory.keep_freed_memory``: freed arrays are reused rather than
handed back to the kernel and faulted in again); ``--allocator glibc`` keeps glibc's
defaults, as a program that imports the library without that call gets.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from absstruct.memory import keep_freed_memory
from absstruct.pool import (
    ConcentrationLimits,
    EligibilityRule,
    PoolCriteria,
    TopObligorLimit,
    select_pool,
)
from absstruct.tape import load_tape, synth_tape

CRITERIA = PoolCriteria(
    eligibility=(
        EligibilityRule(name="current", column="days_past_due", equals=0),
        EligibilityRule(name="seasoned", column="seasoning", min=1),
        EligibilityRule(name="balance band", column="current_balance", between=(500, 80_000)),
        EligibilityRule(name="rate cap", column="rate", max=0.20),
    ),
    concentration=ConcentrationLimits(
        max_obligor=0.002,
        max_region=0.10,
        max_by={"grade": 0.35},
        top_obligors=TopObligorLimit(n=10, max=0.01),
    ),
)

# Rough shares of a US auto pool by state; the rest spread evenly over the other states.
STATE_SHARES = {"CA": 0.14, "TX": 0.12, "FL": 0.09, "NY": 0.06, "PA": 0.045, "IL": 0.04}


def realistic(tape: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Skew the states and cluster the obligors of a synthetic tape (seeded)."""
    rng = np.random.default_rng(seed)
    n = len(tape)
    states = np.unique(tape["region"].to_numpy().astype(str))
    rest = [s for s in states if s not in STATE_SHARES]
    spread = (1 - sum(STATE_SHARES.values())) / len(rest)
    shares = np.array([STATE_SHARES.get(s, spread) for s in states])
    region = states[rng.choice(len(states), n, p=shares / shares.sum())]
    # Fleet obligors: sizes falling from 5,000 loans (about 3% of loans in all);
    # 10% of the other loans in two-loan households; everyone else borrows once.
    fleet_sizes = np.minimum(np.round(5_000 / np.arange(1, 51) ** 0.8).astype(int), n // 100 + 1)
    fleet = np.repeat(np.arange(len(fleet_sizes)), fleet_sizes)[:n]
    others = n - len(fleet)
    pairs = others // 20
    household = np.repeat(np.arange(pairs), 2)
    single = np.arange(others - 2 * pairs) + pairs
    labels = np.concatenate(
        [
            np.char.add("F", fleet.astype(str)),
            np.char.add("B", (household + 10**7).astype(str)),
            np.char.add("B", (single + 10**7).astype(str)),
        ]
    )
    return tape.assign(region=region, obligor_id=labels[rng.permutation(n)])


def timed(func: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = func(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="loans in the tape")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median kept)")
    parser.add_argument(
        "--allocator",
        choices=["command", "glibc"],
        default="command",
        help="allocator settings: as the absstruct command runs, or glibc's defaults",
    )
    args = parser.parse_args()
    tuned = args.allocator == "command" and keep_freed_memory()
    reads: list[float] = []
    pools: list[float] = []
    shuffled_pools: list[float] = []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tape.csv"
        realistic(synth_tape(args.rows, profile="us_auto", seed=1), seed=2).to_csv(
            path, index=False
        )
        for _ in range(args.repeat):
            seconds, tape = timed(load_tape, path)
            reads.append(seconds)
            seconds, pool = timed(select_pool, tape, CRITERIA)
            pools.append(seconds)
            seconds, again = timed(select_pool, tape.sample(frac=1.0, random_state=3), CRITERIA)
            shuffled_pools.append(seconds)
    eligible_seconds, eligible = timed(getattr, pool, "eligible")
    excluded_seconds, _ = timed(getattr, pool, "excluded")
    same = eligible.equals(again.eligible) and pool.summary == again.summary
    read, cut, cut_shuffled = (statistics.median(t) for t in (reads, pools, shuffled_pools))
    print(f"allocator         {'as the absstruct command' if tuned else 'glibc defaults'}")
    print(f"loans             {len(tape):,d}")
    print(f"eligible          {pool.summary.count:,d}")
    for row in pool.exclusion_counts.itertuples(index=False):
        print(f"  {row.stage:<13} {row.rule:<14} {row.excluded_count:>9,d} excluded")
    print(f"strats            {len(pool.strats)} tables")
    print(f"top-10 obligors   {pool.summary.top10_obligor_share:.4%} of the pool")
    print(f"read (load_tape)  {read:8.3f} s   runs {', '.join(f'{t:.3f}' for t in reads)}")
    print(f"pool              {cut:8.3f} s   runs {', '.join(f'{t:.3f}' for t in pools)}")
    print(f"pool, rows shuffled {cut_shuffled:6.3f} s   same result: {same}")
    print(f"pool / read       {cut / read:8.3f}  (goal <= 0.5; medians of each)")
    print(f"shuffled / read   {cut_shuffled / read:8.3f}")
    # Other work on the machine slows the two unevenly (the reader uses threads): show the
    # ratio within each repeat too, and the one of the least disturbed read.
    pairs = [p / r for p, r in zip(pools, reads, strict=True)]
    quietest = pairs[reads.index(min(reads))]
    print(
        f"per repeat        {', '.join(f'{x:.3f}' for x in pairs)}  "
        f"(median {statistics.median(pairs):.3f}; at the fastest read {quietest:.3f})"
    )
    print(f"first access      eligible {eligible_seconds:.3f} s, excluded {excluded_seconds:.3f} s")


if __name__ == "__main__":
    main()
