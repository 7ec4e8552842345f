"""``absstruct pool`` end to end: text, JSON, workbook, bad deal files (exit 1, no traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from absstruct.cli import main
from tests.conftest import ROOT

HEADER = (
    "loan_id,obligor_id,original_balance,current_balance,rate,original_term,remaining_term,"
    "amortization,days_past_due,grade,region,maturity_date\n"
)
TAPE_CSV = (
    HEADER
    + """L1,o1,120,100,0.05,36,12,level_pay,0,A,CA,2026-01-01
L2,o2,300,300,0.10,36,24,level_pay,0,B,NY,2027-01-01
L3,o3,800,600,0.20,60,36,level_pay,0,B,CA,2029-06-01
L4,o4,300,250,0.30,36,30,level_pay,45,E,TX,2027-03-01
L5,o5,60,50,0.12,24,24,level_pay,0,,NY,2026-06-01
L6,o1,900,700,0.08,60,59,level_pay,0,=SUM(A1),TX,2031-05-01
"""
)

GOOD_POOL = """
[pool]
tape = "tape.csv"
template = "canonical"

[[pool.eligibility]]
name = "current"
column = "days_past_due"
equals = 0

[[pool.eligibility]]
name = "rate cap"
column = "rate"
max = "25%"

[pool.concentration]
max_region = 0.6
"""


def write_deal(folder: Path, pool_toml: str, *, tape: str = TAPE_CSV) -> Path:
    (folder / "tape.csv").write_text(tape, encoding="utf-8")
    deal = folder / "deal.toml"
    deal.write_text(pool_toml, encoding="utf-8")
    return deal


def test_text_output(runner, tmp_path: Path) -> None:
    deal = write_deal(tmp_path, GOOD_POOL)
    result = runner.invoke(main, ["pool", str(deal)])
    assert result.exit_code == 0, result.output
    assert "eligible           5 loans" in result.output
    assert "excluded           1 loans" in result.output
    assert "current" in result.output and "rate cap" in result.output


def test_json_is_deterministic_and_conserves(runner, tmp_path: Path) -> None:
    deal = write_deal(tmp_path, GOOD_POOL)
    first = runner.invoke(main, ["pool", str(deal), "--json"])
    second = runner.invoke(main, ["pool", str(deal), "--json"])
    assert first.exit_code == 0, first.output
    assert first.stdout == second.stdout
    payload = json.loads(first.stdout)
    assert payload["tape"] == {"count": 6, "balance": 2000.0}
    assert payload["eligible"]["count"] + payload["excluded"]["count"] == 6
    assert payload["eligible"]["balance"] + payload["excluded"]["balance"] == 2000.0
    rules = {row["rule"]: row["excluded_count"] for row in payload["exclusions"]}
    assert rules == {"current": 1, "rate cap": 0, "max_region": 0}
    assert payload["summary"]["wac"] == pytest.approx(
        (100 * 0.05 + 300 * 0.10 + 600 * 0.20 + 50 * 0.12 + 700 * 0.08) / 1750
    )


def test_workbook_sheets_and_inert_text(runner, tmp_path: Path) -> None:
    deal = write_deal(tmp_path, GOOD_POOL)
    out = tmp_path / "out" / "pool.xlsx"
    result = runner.invoke(main, ["pool", str(deal), "-o", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames[:3] == ["Summary", "Strats", "Exclusions"]
    strats = book["Strats"]
    cells = [c.value for row in strats.iter_rows() for c in row]
    assert "=SUM(A1)" in cells  # the grade value stays text
    assert all(c.data_type != "f" for row in strats.iter_rows() for c in row)
    # Row 1 is the block title of the labelled workbook; the table header follows.
    header = [c.value for c in book["Exclusions"][2]]
    assert header[:3] == ["Stage", "Rule", "Excluded loans"]


def test_tape_option_and_template_override(runner, tmp_path: Path) -> None:
    deal = write_deal(tmp_path, GOOD_POOL.replace('tape = "tape.csv"\n', ""))
    result = runner.invoke(main, ["pool", str(deal)])
    assert result.exit_code == 1
    assert "pool.tape is not set; give --tape TAPE" in result.stderr
    result = runner.invoke(
        main, ["pool", str(deal), "--tape", str(tmp_path / "tape.csv"), "--template", "canonical"]
    )
    assert result.exit_code == 0, result.output


BAD_DEALS = [
    (
        '[[pool.eligibility]]\nname = "grade A-D"\ncolumn = "grde"\nin = ["A"]\n',
        "pool.eligibility[0] (\"grade A-D\").column: 'grde' is not a tape column",
    ),
    (
        '[[pool.eligibility]]\nname = "g"\ncolumn = "grade"\nmin = 3\n',
        "needs a number or date column but 'grade' holds text",
    ),
    (
        '[[pool.eligibility]]\nname = "r"\ncolumn = "rate"\nequals = "high"\n',
        "does not match column 'rate', which holds a number",
    ),
    (
        '[[pool.eligibility]]\nname = "r"\ncolumn = "rate"\nmax = "lots"\n',
        "pool.eligibility[0] (\"r\").max: 'lots' has the wrong type",
    ),
    (
        '[[pool.eligibility]]\nname = "d"\ncolumn = "rate"\nbefore = 2020-01-01\n',
        "before: 2020-01-01 needs a date column",
    ),
    ("[pool.concentration]\nmax_region = 1.5\n", "max_region: 1.5 is above 100%"),
    ('[pool.concentration]\nmax_by = { grade = "120%" }\n', "max_by.grade: '120%' is above 100%"),
    ("[pool.concentration]\ntop_obligors = { n = 0, max = 0.1 }\n", "top_obligors.n: 0"),
    ("[pool.concentration]\nmax_by = { purpose = 0.3 }\n", "'purpose' is not a tape column"),
    ("[pool.concentration]\nmax_region = 0.2\n", "max_region: 0.2 cannot hold"),
    (
        '[[pool.eligibility]]\nname = "none"\ncolumn = "rate"\nmin = 0.5\n',
        "no loan of 6 passes every rule",
    ),
    ('[[pool.eligibility]]\nname = "empty"\ncolumn = "rate"\n', "rule has no condition"),
    (
        '[[pool.eligibility]]\nname = "typo"\ncolumn = "rate"\nmaxx = 1\n',
        'pool.eligibility[0] ("typo").maxx: is not a known key',
    ),
    ("target_balance = -1\n", "pool.target_balance: -1"),
    ("[pool.strats]\nrate = [0.2, 0.1]\n", "strats.rate: edges [0.2, 0.1] are not strictly"),
    ("eligibility = [\n", "not valid TOML"),
]


@pytest.mark.parametrize(("pool_toml", "message"), BAD_DEALS)
def test_bad_rules_exit_1_without_traceback(runner, tmp_path: Path, pool_toml: str, message: str):
    header = '[pool]\ntape = "tape.csv"\n'
    deal = write_deal(tmp_path, header + pool_toml)
    result = runner.invoke(main, ["pool", str(deal)])
    assert result.exit_code == 1, result.output
    assert message in result.stderr, result.stderr
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.output + result.stderr
    assert result.stdout == ""


def test_missing_tape_and_usage_errors(runner, tmp_path: Path) -> None:
    deal = write_deal(tmp_path, GOOD_POOL.replace("tape.csv", "absent.csv"))
    result = runner.invoke(main, ["pool", str(deal)])
    assert result.exit_code == 1 and "absent.csv" in result.stderr
    deal = write_deal(tmp_path, GOOD_POOL)
    assert runner.invoke(main, ["pool", str(deal), "-o", "x.csv"]).exit_code == 2
    assert runner.invoke(main, ["pool", str(deal), "--cutoff", "June"]).exit_code == 2
    assert runner.invoke(main, ["pool", "-h"]).exit_code == 0


def test_subprocess_json_and_error(tmp_path: Path) -> None:
    deal = write_deal(tmp_path, GOOD_POOL)
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "pool", str(deal), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["eligible"]["count"] == 5
    bad = write_deal(tmp_path, '[pool]\ntape = "tape.csv"\n[pool.concentration]\nmax_region = 2\n')
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "pool", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 1
    assert "max_region: 2 is above 100%" in done.stderr
    assert "Traceback" not in done.stderr


def test_lendingclub_through_the_cli(runner, tmp_path: Path, lendingclub_path: Path) -> None:
    deal = tmp_path / "lc.toml"
    deal.write_text(
        '[pool]\ntemplate = "lendingclub"\n'
        '[[pool.eligibility]]\nname = "36-month"\ncolumn = "original_term"\nequals = 36\n'
        "[pool.concentration]\nmax_region = 0.15\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["pool", str(deal), "--tape", str(lendingclub_path), "--json"])
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["tape"]["count"] == 42_535
    first = {row["rule"]: row["excluded_count"] for row in payload["exclusions"]}
    assert first["36-month"] == 11_001  # the 60-month loans
    assert payload["eligible"]["count"] + payload["excluded"]["count"] == 42_535
