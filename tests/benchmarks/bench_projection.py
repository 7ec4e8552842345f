"""Projection benchmark against the naive loan-level reference on the same synthetic tape.

    python tests/benchmarks/bench_projection.py

Prints seconds, speed-up ratios (naive / cohort engine), the 100-scenario cost relative to
one scenario, what a projection costs once the tape is aggregated (``aggregate``), and the
peak memory of the 1,000,000 x 60 cohort run.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from absstruct.curves import Assumptions
from absstruct.projection import aggregate, project

NAIVE = Path(__file__).resolve().parents[2].parent / "shared" / "bench" / "naive_projection.py"


def _naive_module():
    spec = importlib.util.spec_from_file_location("naive_projection", NAIVE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def as_tape(balance, rate, remaining, age) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "current_balance": balance,
            "rate": rate,
            "remaining_term": remaining,
            "original_term": remaining + age,
            "amortization": pd.Categorical(np.full(len(balance), "level_pay")),
        }
    )


# Same assumptions as naive_project's defaults: 15% CPR, 4% CDR, 60% severity, 3-month lag,
# curves by projection period, no advancing.
BASE = Assumptions(prepay="CPR 15%", default="CDR 4%", severity="60%", lag=3, basis="period")


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def case(naive, n_loans: int, periods: int) -> tuple[float, float, pd.DataFrame]:
    arrays = naive.synthetic_tape(n_loans, periods)
    tape = as_tape(*arrays)
    naive_s, reference = timed(naive.naive_project, *arrays, periods)
    ours_s, flows = timed(project, tape, BASE, periods=periods)
    gap = np.max(np.abs(flows["performing_balance"][0] - reference[5, :periods]))
    print(
        f"{n_loans:>9,} loans x {periods} periods: naive {naive_s:.3f} s, cohort "
        f"{ours_s:.3f} s, ratio {naive_s / ours_s:.1f}x  (max balance gap vs naive "
        f"{gap / reference[5, 0]:.1e} of the pool)"
    )
    return naive_s, ours_s, tape


def main() -> None:
    if not NAIVE.exists():
        sys.exit("../shared/bench/naive_projection.py is not beside the project")
    naive = _naive_module()
    _, one_s, tape = case(naive, 1_000_000, 60)
    grid = [
        BASE.replace(prepay=f"CPR {c}%", default=f"CDR {d}%", severity=f"{s}%")
        for c in (5, 10, 15, 20, 25)
        for d in (1, 2, 4, 6, 8)
        for s in (40, 60, 80, 100)
    ]
    many_s, _ = timed(project, tape, grid, periods=60)
    print(
        f"{len(grid)} scenarios on 1,000,000 x 60: {many_s:.3f} s = "
        f"{many_s / one_s:.2f}x one scenario (goal <= 2x)"
    )
    book_s, book = timed(aggregate, tape, periods=60, by_age=False)
    again_s, _ = timed(project, book, BASE)
    print(
        f"aggregate the 1,000,000-loan tape once: {book_s:.3f} s; then one scenario from the "
        f"book: {again_s:.4f} s ({one_s / again_s:.0f}x faster than projecting from the tape)"
    )
    adv_s, _ = timed(project, tape, BASE.replace(advance=True), periods=60)
    print(f"one scenario with P&I advancing (loss cap aggregated loan by loan): {adv_s:.3f} s")
    case(naive, 100_000, 360)
    tracemalloc.start()
    project(tape, BASE, periods=60)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"peak memory (numpy allocations traced) of the 1,000,000 x 60 run: "
        f"{peak / 2**30:.2f} GB (goal <= 2 GB; the tape frame itself is extra)"
    )


if __name__ == "__main__":
    main()
