"""Regressions for bad cash-flow files given to ``absstruct price`` (found by fuzzing):
a cell that is no number or no date raised a ValueError from numpy; each is now a
problem naming the column and index."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from absstruct.cli import main
from absstruct.errors import PricingError
from absstruct.pricing import CashFlows


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (["2024-07-15,x,20"], r"interest\[0\]: 'x' is not a number"),
        (["2024-07-15,1,TRUE"], r"principal\[0\]: .*True.* is not a number"),
        (["2024-02-30,1,20"], r"date\[0\]: '2024-02-30' is not a date like 2024-06-30"),
        (["2024-07-15,1,20", ",1,20"], r"dates?\[1\]: is missing"),
        (["2024-07-15,1,20", "soon,1,20"], r"date\[1\]: 'soon' is not a date"),
    ],
)
def test_bad_cells_in_a_flows_file(runner, tmp_path: Path, rows: list[str], message: str) -> None:
    path = tmp_path / "flows.csv"
    path.write_text("\n".join(["date,interest,principal", *rows]) + "\n", encoding="utf-8")
    result = runner.invoke(main, ["price", str(path), "--settle", "2024-06-30", "--price", "99"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert re.search(message, result.stderr), result.stderr


def test_from_frame_lists_every_bad_cell_at_once() -> None:
    frame = pd.DataFrame(
        {"date": ["2024-07-15", "x"], "interest": ["1", "y"], "principal": [1.0, None]}
    )
    with pytest.raises(PricingError, match=r"2 problems\n  date\[1\]: 'x' .*\n  interest\[1\]"):
        CashFlows.from_frame(frame)
