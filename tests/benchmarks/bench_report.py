"""Benchmark: investor workbook write time vs the engine run that produced it.

A 360-period deal with 8 tranches (7 notes and the residual) over a 100-scenario grid
(CPR 0-18% x CDR 0-9%): the engine (projection + waterfall, all scenarios at once) runs
and the workbook for it (the report view: ``tranche_metrics`` of every scenario at par,
as ``absstruct run -o`` computes it, and the ledgers; then the .xlsx) is written, in
turn, a few times; the figures are medians.  Goal: workbook time <= 1x engine
time.  Also times the JSON and tidy Parquet.

Run: ``python tests/benchmarks/bench_report.py``
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from absstruct.curves import Assumptions  # noqa: E402
from absstruct.deal import parse_deal  # noqa: E402
from absstruct.report import write_result  # noqa: E402
from absstruct.report.data import report_data  # noqa: E402
from absstruct.tape import load_tape  # noqa: E402
from absstruct.waterfall import run  # noqa: E402

NOTES = [
    ("A1", 0.40),
    ("A2", 0.20),
    ("A3", 0.10),
    ("B", 0.08),
    ("C", 0.06),
    ("D", 0.05),
    ("E", 0.04),
]


def deal_text(balance: float) -> str:
    lines = [
        "schema_version = 1",
        'name = "Benchmark Mortgage Trust"',
        "[dates]",
        "cutoff = 2026-06-30",
        "closing = 2026-06-30",
        "first_payment = 2026-07-25",
        "legal_final = 2056-12-25",
        'roll = "none"',
        "[[fees]]",
        'name = "Servicing"',
        "rate = 0.0025",
        "[[accounts]]",
        'name = "Reserve"',
        'initial = "0.5%"',
        'target = { pct = 0.005, base = "initial_pool" }',
        "[[triggers]]",
        'name = "CNL"',
        'kind = "cumulative_net_loss"',
        "threshold = 0.05",
        'effects = ["sequential"]',
    ]
    for k, (name, share) in enumerate(NOTES):
        lines += [
            "[[tranches]]",
            f'name = "{name}"',
            f"size = {balance * share:.2f}",
            f"coupon = {0.03 + 0.005 * k:.4f}",
        ]
    lines += ["[[tranches]]", 'name = "R"', 'kind = "residual"']
    lines += ["[[waterfall.interest]]", 'step = "pay_fee"', 'fee = "Servicing"']
    for name, _ in NOTES:
        lines += ["[[waterfall.interest]]", 'step = "pay_interest"', f'tranche = "{name}"']
    lines += ["[[waterfall.interest]]", 'step = "fund_reserve"', 'account = "Reserve"']
    lines += ["[[waterfall.interest]]", 'step = "pay_residual"']
    names = ", ".join(f'"{n}"' for n, _ in NOTES)
    lines += ["[[waterfall.principal]]", 'step = "pay_principal"', f"tranches = [{names}]"]
    lines += ["[[waterfall.principal]]", 'step = "pay_residual"']
    return "\n".join(lines) + "\n"


def main() -> None:
    tape = load_tape(ROOT / "deals" / "tapes" / "mortgage.csv")
    balance = float(tape["current_balance"].sum())
    deal = parse_deal(deal_text(balance))
    scenarios = {
        f"CPR {cpr}% CDR {cdr}%": Assumptions.from_strings(
            prepay=f"CPR {cpr}%", default=f"CDR {cdr}%", severity="40%"
        )
        for cpr in range(0, 20, 2)
        for cdr in range(0, 10)
    }
    repeats = 5
    folder = Path(tempfile.mkdtemp())
    timings: dict[str, list[float]] = {
        "engine": [],
        "view": [],
        "xlsx": [],
        "json": [],
        "parquet": [],
    }
    # Engine and writers alternate within each repeat, so a busy machine slows both alike.
    for _ in range(repeats):
        start = time.perf_counter()
        result = run(deal, tape, scenarios)
        timings["engine"].append(time.perf_counter() - start)
        start = time.perf_counter()
        data = report_data(result, deal=deal)
        timings["view"].append(time.perf_counter() - start)
        for kind in ("xlsx", "json", "parquet"):
            start = time.perf_counter()
            write_result(data, folder / f"deal.{kind}")
            timings[kind].append(time.perf_counter() - start)
    print(
        f"deal: {len(tape)} loans, {result.n_periods} periods, {len(result.tranches)} tranches, "
        f"{result.n_scenarios} scenarios; median of {repeats} repeats"
    )
    engine = statistics.median(timings["engine"])
    view = statistics.median(timings["view"])
    workbook = statistics.median(
        [v + x for v, x in zip(timings["view"], timings["xlsx"], strict=True)]
    )
    print(f"engine run (projection + waterfall):  {engine:8.3f} s")
    print(f"report view (tranche_metrics x 100):  {view:8.3f} s")
    print(
        f"workbook (view + .xlsx):              {workbook:8.3f} s"
        f"   ratio {workbook / engine:5.2f}x   (goal <= 1x)"
    )
    for kind, label in (
        ("json", "json (view + .json):"),
        ("parquet", "parquet (view + tidy .parquet):"),
    ):
        total = statistics.median(
            [v + x for v, x in zip(timings["view"], timings[kind], strict=True)]
        )
        print(f"{label:38s}{total:8.3f} s   ratio {total / engine:5.2f}x")
    size = (folder / "deal.xlsx").stat().st_size
    print(f"workbook size: {size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
