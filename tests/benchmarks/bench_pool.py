"""Benchmark: pool selection on a 1,000,000-loan tape, as a ratio to reading that tape.

Run ``python tests/benchmarks/bench_pool.py [--rows 1000000] [--repeat 2]``.

A synthetic ``us_auto`` tape is written to a temporary CSV, then in the same run:

- read: ``absstruct.tape.load_tape(path)`` (read + map + validate, canonical template);
- pool: ``select_pool`` with four eligibility rules, obligor / state / top-10 limits, the
  summary and every default strat.

Prints both times (best of ``--repeat``) and ``pool / read`` (goal <= 0.5).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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
        max_obligor=0.0005,
        max_region=0.10,
        top_obligors=TopObligorLimit(n=10, max=0.002),
    ),
)


def best_of(repeat: int, func: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="loans in the tape")
    parser.add_argument("--repeat", type=int, default=2, help="runs per timing (best kept)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "tape.csv"
        synth_tape(args.rows, profile="us_auto", seed=1).to_csv(path, index=False)
        read_seconds, tape = best_of(args.repeat, lambda: load_tape(path))
    pool_seconds, pool = best_of(args.repeat, lambda: select_pool(tape, CRITERIA))
    counts = pool.exclusion_counts[["rule", "excluded_count"]].values.tolist()
    print(f"loans             {len(tape):,d}")
    print(f"eligible          {pool.summary.count:,d}  excluded by rule {counts}")
    print(f"strats            {len(pool.strats)} tables")
    print(f"read (load_tape)  {read_seconds:8.3f} s")
    print(f"pool              {pool_seconds:8.3f} s")
    print(f"pool / read       {pool_seconds / read_seconds:8.3f}  (goal <= 0.5)")


if __name__ == "__main__":
    main()
