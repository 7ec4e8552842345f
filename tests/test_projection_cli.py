"""``absstruct project`` end to end: tables, files, JSON and errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from absstruct.cli import main
from tests.conftest import ROOT

SDA = ["--prepay", "SMM 1%", "--default", "MDR 1%", "--severity", "20%", "--lag", "12", "--advance"]


@pytest.fixture()
def sifma_tape(tmp_path: Path) -> Path:
    path = tmp_path / "tape.csv"
    pd.DataFrame(
        {
            "loan_id": ["L1", "L2"],
            "original_balance": [60e6, 40e6],
            "current_balance": [60e6, 40e6],
            "rate": [0.08, 0.08],
            "original_term": [360, 360],
            "remaining_term": [360, 360],
            "amortization": ["level_pay", "level_pay"],
        }
    ).to_csv(path, index=False)
    return path


def test_prints_table_and_published_totals(runner, sifma_tape: Path) -> None:
    result = runner.invoke(main, ["project", "--tape", str(sifma_tape), *SDA])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["period", "balance", "defaults"]
    totals = {
        line.split()[0]: float(line.split()[1].replace(",", ""))
        for line in lines[lines.index("totals") + 1 :]
    }
    assert totals["new_defaults"] == pytest.approx(47_576_640, abs=1)
    assert totals["principal_loss"] == pytest.approx(9_515_314, abs=1)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".parquet", ".json"])
def test_writes_every_column(runner, sifma_tape: Path, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"cf{suffix}"
    result = runner.invoke(
        main, ["project", "--tape", str(sifma_tape), *SDA, "--cutoff", "2024-06-30", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    if suffix == ".csv":
        frame = pd.read_csv(out)
    elif suffix == ".xlsx":
        frame = pd.read_excel(out, engine="openpyxl")
    elif suffix == ".parquet":
        frame = pd.read_parquet(out)
    else:
        frame = pd.DataFrame(json.loads(out.read_text())["pool_flows"])
    assert len(frame) == 360
    assert str(frame["date"].iloc[0])[:10] == "2024-07-31"
    assert frame["principal_recovery"].sum() == pytest.approx(37_446_547, abs=1)


def test_json_and_loan_level(runner, sifma_tape: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        main, ["project", "--tape", str(sifma_tape), *SDA, "--json", "--periods", "24"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["assumptions"]["prepay"] == "SMM 1%"
    assert len(payload["flows"]) == 24
    assert payload["initial_balance"] == 100e6
    out = tmp_path / "loans.csv"
    result = runner.invoke(
        main,
        [
            "project",
            "--tape",
            str(sifma_tape),
            *SDA,
            "--loan-level",
            "--periods",
            "24",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    loans = pd.read_csv(out)
    assert len(loans) == 48 and set(loans["loan_id"]) == {"L1", "L2"}
    first = loans[loans["period"] == 1].set_index("loan_id")["new_defaults"]
    assert first.to_dict() == pytest.approx({"L1": 600_000.0, "L2": 400_000.0})


BAD_OPTIONS = [
    (["--prepay", "CPR 120%"], "prepay: 'CPR 120%'"),
    (["--severity", "-10%"], "severity: '-10%'"),
    (["--default", "XDR 2%"], "unknown curve 'XDR'"),
    (["--prepay", "CPR [5%, x]"], "'x' is not a number"),
    (["--lag", "-3"], "lag: -3"),
    (["--servicing", "7 bps"], "servicing_fee: '7 bps'"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_assumptions_exit_1_without_traceback(
    runner, sifma_tape: Path, options: list[str], message: str
) -> None:
    result = runner.invoke(main, ["project", "--tape", str(sifma_tape), *options])
    assert result.exit_code == 1
    assert message in result.output
    assert "Traceback" not in result.output
    assert not isinstance(result.exception, AssertionError)


def test_usage_errors_exit_2(runner, sifma_tape: Path) -> None:
    assert runner.invoke(main, ["project"]).exit_code == 2
    result = runner.invoke(main, ["project", "--tape", str(sifma_tape), "--loan-level"])
    assert result.exit_code == 2 and "needs -o FILE" in result.output
    assert (
        runner.invoke(main, ["project", "--tape", str(sifma_tape), "--periods", "0"]).exit_code == 2
    )
    help_text = runner.invoke(main, ["project", "-h"]).output
    for option in ("--prepay", "--default", "--severity", "--lag", "--advance", "--loan-level"):
        assert option in help_text


def test_missing_tape_is_a_domain_error(runner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["project", "--tape", str(tmp_path / "none.csv")])
    assert result.exit_code == 1 and "error:" in result.output


def test_real_process(sifma_tape: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "absstruct",
            "project",
            "--tape",
            str(sifma_tape),
            "--prepay",
            "PSA 150",
            "--default",
            "SDA 100",
            "--severity",
            "20%",
            "--lag",
            "12",
            "--periods",
            "36",
            "--json",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["totals"]["new_defaults"] > 0
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "absstruct",
            "project",
            "--tape",
            str(sifma_tape),
            "--prepay",
            "WHAT 3",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("error:") and "Traceback" not in bad.stderr


def test_real_lendingclub_tape(runner, lendingclub_path: Path) -> None:
    result = runner.invoke(
        main,
        [
            "project",
            "--tape",
            str(lendingclub_path),
            "--template",
            "lendingclub",
            "--cutoff",
            "2011-12-31",
            "--prepay",
            "CPR 10%",
            "--default",
            "CDR 8%",
            "--severity",
            "90%",
            "--lag",
            "4",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output[-2000:]
    totals = json.loads(result.output)["totals"]
    assert totals["principal_recovery"] == pytest.approx(
        0.1 * totals["amortized_default_balance_in_recovery"], rel=1e-9
    )
