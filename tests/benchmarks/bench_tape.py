"""Benchmark: tape read + map + validate against bare readers of the same file.

Run ``python tests/benchmarks/bench_tape.py [--rows 1000000] [--xlsx-rows 100000]``.
Prints seconds and the ratios the issue asks for:

- CSV: ``read_tape`` / ``pandas.read_csv(path, engine="pyarrow")`` (goal <= 2.0);
- XLSX: ``read_tape`` / openpyxl read-only iteration over every cell (goal <= 0.2).

Each timing is the best of ``--repeat`` runs; files are synthetic (``us_auto`` profile).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def best_of(repeat: int, func: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def write_xlsx(frame: pd.DataFrame, path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("tape")
    sheet.append(list(frame.columns))
    for row in frame.itertuples(index=False, name=None):
        sheet.append([v.item() if hasattr(v, "item") else v for v in row])
    book.save(path)


def openpyxl_iterate(path: Path) -> int:
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True, data_only=True)
    cells = 0
    for row in book.worksheets[0].iter_rows(values_only=True):
        cells += len(row)
    book.close()
    return cells


def main() -> None:
    from absstruct.tape import read_tape, synth_tape

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="CSV tape rows")
    parser.add_argument("--xlsx-rows", type=int, default=100_000, help="XLSX tape rows")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats (best of)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        csv_path = Path(folder) / "tape.csv"
        synth_tape(args.rows, profile="us_auto", seed=7).to_csv(csv_path, index=False)
        bare = best_of(args.repeat, lambda: pd.read_csv(csv_path, engine="pyarrow"))
        ours = best_of(args.repeat, lambda: read_tape(csv_path))
        report = read_tape(csv_path)
        assert report.ok and len(report.frame) == args.rows, report.summary()
        print(
            f"CSV  {args.rows:>9,} rows  pandas.read_csv(pyarrow) {bare:7.3f} s  "
            f"read_tape {ours:7.3f} s  ratio {ours / bare:5.2f}x  (goal <= 2.0x)"
        )

        xlsx_path = Path(folder) / "tape.xlsx"
        write_xlsx(synth_tape(args.xlsx_rows, profile="us_auto", seed=8), xlsx_path)
        iterate = best_of(1, lambda: openpyxl_iterate(xlsx_path))
        ours_x = best_of(args.repeat, lambda: read_tape(xlsx_path))
        report = read_tape(xlsx_path)
        assert report.ok and len(report.frame) == args.xlsx_rows, report.summary()
        print(
            f"XLSX {args.xlsx_rows:>9,} rows  openpyxl read-only iteration {iterate:7.3f} s  "
            f"read_tape {ours_x:7.3f} s  ratio {ours_x / iterate:5.2f}x  (goal <= 0.2x)"
        )


if __name__ == "__main__":
    main()
