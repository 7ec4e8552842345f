"""``absstruct price`` end to end: CliRunner and a real subprocess; errors exit 1 or 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from absstruct.cli import main
from tests.conftest import ROOT

FLOWS = (
    "date,interest,principal\n2024-07-15,3,0\n2025-01-15,3,0\n2025-07-15,3,0\n2026-01-15,3,100\n"
)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {
        "flows": tmp_path / "flows.csv",
        "curve": tmp_path / "curve.csv",
        "bad_curve": tmp_path / "bad.csv",
    }
    paths["flows"].write_text(FLOWS)
    paths["curve"].write_text("tenor,rate\n6M,4%\n2Y,4%\n")
    paths["bad_curve"].write_text("tenor,rate\n1Y,4%\n6M,4%\n6M,5%\n")
    return paths


def test_price_to_yield_json(runner, files) -> None:
    result = runner.invoke(
        main, ["price", str(files["flows"]), "--settle", "2024-01-15", "--price", "100", "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["yield"] == pytest.approx(0.06, abs=1e-12)
    assert (record["compounding"], record["day_count"]) == ("semiannual", "30/360")
    assert record["first_principal_date"] == "2026-01-15" and record["wal"] == 2.0


def test_z_spread_with_curve_and_output_file(runner, files, tmp_path: Path) -> None:
    out = tmp_path / "priced.csv"
    args = ["price", str(files["flows"]), "--settle", "2024-01-15", "--z-spread", "200bp"]
    result = runner.invoke(main, [*args, "--curve", str(files["curve"]), "-o", str(out)])
    assert result.exit_code == 0, result.output
    row = pd.read_csv(out).iloc[0]
    # Flat 4% semiannual curve + 200bp = a 6% yield: par.
    assert row["price"] == pytest.approx(100.0, abs=1e-9)
    assert row["z_spread"] == pytest.approx(0.02, abs=1e-10)
    assert row["i_spread"] == pytest.approx(0.02, abs=1e-10)


@pytest.mark.parametrize(
    ("extra", "code", "message"),
    [
        (["--price", "0"], 1, "error: --price: price '0' must be above 0"),
        (["--price", "abc"], 1, "error: --price: price 'abc' is not a number"),
        (["--yield", "6"], 1, "needs a unit: like 3.1% or 310bp"),
        (["--z-spread", "1%", "--curve", "BAD"], 1, "row 3, column tenor: 0.5 is not above"),
        (["--price", "99", "--day-count", "30E/360"], 2, "Invalid value for '--day-count'"),
        (["--price", "99", "--yield", "5%"], 2, "give exactly one of"),
        (["--z-spread", "1%"], 2, "--z-spread needs --curve"),
    ],
)
def test_bad_inputs_exit_without_traceback(runner, files, extra, code, message) -> None:
    extra = [str(files["bad_curve"]) if e == "BAD" else e for e in extra]
    result = runner.invoke(main, ["price", str(files["flows"]), "--settle", "2024-01-15", *extra])
    assert result.exit_code == code, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_settlement_after_every_flow(runner, files) -> None:
    args = ["price", str(files["flows"]), "--settle", "2027-01-01", "--price", "99"]
    result = runner.invoke(main, args)
    assert result.exit_code == 1 and "no cash flow after settlement 2027-01-01" in result.output


def test_subprocess_prints_table_and_help(files) -> None:
    args = [
        sys.executable,
        "-m",
        "absstruct",
        "price",
        str(files["flows"]),
        "--settle",
        "2024-01-15",
        "--yield",
        "5%",
    ]
    done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    lines = dict(line.split(None, 1) for line in done.stdout.splitlines())
    assert float(lines["price"]) == pytest.approx(
        3 * (1 - 1.025**-4) / 0.025 + 100 * 1.025**-4, abs=1e-8
    )
    bad = subprocess.run(
        [*args[:-2], "--price", "-1"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert bad.returncode == 1 and bad.stderr.startswith("error: --price")
    assert "Traceback" not in bad.stderr
    helped = subprocess.run(
        [sys.executable, "-m", "absstruct", "price", "-h"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert helped.returncode == 0 and "--z-spread" in helped.stdout
