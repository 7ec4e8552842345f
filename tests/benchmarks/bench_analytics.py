"""Analytics benchmark: a 100-scenario grid and a breakeven solve on a 1,000,000-loan tape.

    python tests/benchmarks/bench_analytics.py [N_LOANS]

The example consumer deal (``deals/cn_consumer_revolving.toml``) with a synthetic tape of
``N_LOANS`` loans in its Chinese export layout, written to a temporary Parquet file and read
through the deal's template and eligibility rules.  Prints seconds and ratios to one
single-scenario run (projection + waterfall): the 100-scenario grid (goal <= 3x) and the
breakeven solve with its number of engine passes (goal <= 10x).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from absstruct.analytics.breakeven import breakeven
from absstruct.analytics.grid import grid
from absstruct.deal import load_deal
from absstruct.tape import synth_tape
from absstruct.waterfall import deal_tape, run

DEAL = Path(__file__).resolve().parents[2] / "deals" / "cn_consumer_revolving.toml"


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    value = function(*args, **kwargs)
    return time.perf_counter() - start, value


def main(n_loans: int = 1_000_000) -> None:
    deal = load_deal(DEAL)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cn_consumer.parquet"
        seconds, raw = timed(synth_tape, n_loans, profile="cn_consumer", seed=7)
        raw.to_parquet(path)
        print(f"synthetic tape: {n_loans:,} loans in {seconds:.2f} s")
        seconds, tape = timed(deal_tape, deal, str(path))
        print(f"read through the deal's template: {len(tape):,} eligible loans in {seconds:.2f} s")
    run(deal, tape, "base")  # warm-up: imports and first-touch allocations
    single = min(timed(run, deal, tape, "base")[0] for _ in range(2))
    print(f"one single-scenario run: {single:.3f} s")
    prepay = [f"CPR {level}%" for level in (4, 6, 8, 10, 12, 14, 16, 18, 20, 22)]
    default = [f"CDR {level}%" for level in (0, 1, 2, 3, 5, 8, 12, 16, 20, 30)]
    seconds, found = timed(grid, deal, tape, prepay=prepay, default=default)
    scenarios = found.result.n_scenarios
    print(
        f"grid of {scenarios} scenarios (metrics included): {seconds:.3f} s = "
        f"{seconds / single:.2f}x one run (goal <= 3x)"
    )
    seconds, solved = timed(breakeven, deal, tape, "优先B", on="multiple")
    print(
        f"breakeven 优先B on multiple: level {solved.level:.6f}, {solved.passes} engine passes, "
        f"{solved.scenarios_run} scenarios, {seconds:.3f} s = {seconds / single:.2f}x one run "
        "(goal <= 10x)"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
