"""Benchmark: 10,000 scenario jobs on one deal with a 100,000-loan tape, 2 local workers.

Reports the batch's wall time as a ratio to (one job's time x jobs / workers): what the
same jobs would cost run one at a time on the same workers.  Goal: <= 0.05x (grouping the
jobs of one deal and tape into scenario-array passes is the point).

The deal is the example US auto deal (``deals/us_auto.toml``) pointed at a seeded
synthetic 100,000-loan tape of the same profile; the jobs are a 100 x 100 grid of ABS
prepayment speeds and CDRs.

    python tests/benchmarks/bench_batch.py [JOBS] [LOANS] [WORKERS]
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def build_book(folder: Path, n_loans: int) -> Path:
    """The example auto deal, re-pointed at a synthetic tape of ``n_loans`` loans."""
    from absstruct.resources import deals_dir
    from absstruct.tape import synth_tape

    synth_tape(n_loans, profile="us_auto", seed=2026, cutoff="2026-06-30").to_csv(
        folder / "tape.csv", index=False
    )
    text = (deals_dir() / "us_auto.toml").read_text(encoding="utf-8")
    text = text.replace('tape = "tapes/us_auto.csv"', 'tape = "tape.csv"')
    deal = folder / "deal.toml"
    deal.write_text(text, encoding="utf-8")
    return deal


def grid_jobs(deal: Path, n_jobs: int) -> list:
    from absstruct.batch.jobs import jobs_from_mapping

    side = math.ceil(math.sqrt(n_jobs))
    prepays = [f"ABS {0.5 + 2.0 * i / side:.4f}%" for i in range(side)]
    defaults = [f"CDR {12.0 * i / side:.4f}%" for i in range(side)]
    document = {
        "grid": [{"deal": str(deal), "prepay": prepays, "default": defaults, "price": {"B": 99}}]
    }
    return list(jobs_from_mapping(document, base=deal.parent))[:n_jobs]


def one_job_seconds(job) -> float:
    """One job alone, start to finish in this process: read deal and tape, run, price."""
    from absstruct.batch import engine
    from absstruct.batch.runner import plan_jobs

    (task,) = plan_jobs([job]).tasks
    engine._group_cache.clear()
    start = time.perf_counter()
    (outcome,) = engine.execute_group(task)
    seconds = time.perf_counter() - start
    if not outcome.ok:
        raise SystemExit(f"the single job failed: {outcome.rows[0]['error']}")
    return seconds


def main() -> None:
    n_jobs = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    n_loans = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    from absstruct.batch import run_jobs

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        deal = build_book(folder, n_loans)
        jobs = grid_jobs(deal, n_jobs)
        single = min(one_job_seconds(jobs[len(jobs) // 2]) for _ in range(2))
        start = time.perf_counter()
        summary = run_jobs(jobs, workers=workers, out_dir=folder / "out", progress=sys.stderr)
        wall = time.perf_counter() - start
        failed = int((summary["status"] == "failed").sum())
        written = len(list((folder / "out" / "jobs").glob("*.parquet")))
    serial = single * n_jobs / workers
    print(f"tape: {n_loans:,} loans; jobs: {n_jobs:,} on {workers} local workers")
    print(f"one job alone:             {single:8.3f} s")
    print(f"one-by-one estimate:       {serial:8.1f} s  (one job x {n_jobs:,} / {workers})")
    print(f"batch wall time:           {wall:8.1f} s  ({written:,} job files, {failed} failed)")
    print(f"ratio batch / one-by-one:  {wall / serial:8.4f}x  (goal <= 0.05x)")


if __name__ == "__main__":
    main()
