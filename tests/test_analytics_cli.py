"""absstruct grid / breakeven / size / run --price through the real CLI: output and bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from absstruct.cli import main
from tests.conftest import ROOT

AUTO = "deals/us_auto.toml"
CN = "deals/cn_consumer_revolving.toml"


def invoke(runner, *args):
    return runner.invoke(main, list(args), catch_exceptions=False)


def test_grid_text_tables(runner):
    out = invoke(runner, "grid", AUTO, "--prepay", "ABS 0.5%,1.5%", "--default", "CDR 0%,8%")
    assert out.exit_code == 0, out.output
    assert "yield (semiannual 30/360)" in out.stdout
    assert "prepay=ABS 1.5% default=CDR 8%" in out.stdout
    assert "principal_loss_pct" in out.stdout
    assert "4 scenarios in one engine pass" in out.stderr


def test_grid_json_and_output_file(runner, tmp_path):
    target = tmp_path / "grid.csv"
    out = invoke(
        runner,
        "grid",
        CN,
        "--default",
        "CDR 5%,60%",
        "--price",
        "优先B=99",
        "--json",
        "-o",
        str(target),
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)["rows"]
    assert len(rows) == 2 * 3
    b = [r for r in rows if r["tranche"] == "优先B"]
    assert all(r["price"] == 99.0 and r["convention"] == "semiannual ACT/365F" for r in b)
    written = pd.read_csv(target)
    assert list(written["default"].unique()) == ["CDR 5%", "CDR 60%"]


def test_grid_with_a_scenario_file(runner, tmp_path):
    scenarios = tmp_path / "s.toml"
    scenarios.write_text('[calm]\ndefault = "CDR 1%"\n[storm]\ndefault = "CDR 25%"\n')
    out = invoke(runner, "grid", AUTO, "--scenarios", str(scenarios), "--full")
    assert out.exit_code == 0, out.output
    assert "pricing — scenario storm" in out.stdout
    assert "conventions: yields semiannual 30/360" in out.stdout


def test_run_prints_the_pricing_table(runner, tmp_path):
    curve = tmp_path / "curve.csv"
    curve.write_text("tenor,rate\n1Y,3.9%\n3Y,4.1%\n")
    out = invoke(
        runner,
        "run",
        AUTO,
        "--scenario",
        "base",
        "--price",
        "B=99.5",
        "--spread",
        "C=150bp",
        "--curve",
        str(curve),
    )
    assert out.exit_code == 0, out.output
    assert "pricing — scenario base" in out.stdout
    assert "spreads in bp, curve semiannual" in out.stdout
    out = invoke(runner, "run", AUTO, "--scenario", "base", "--yield", "D=7%", "--json")
    pricing = json.loads(out.stdout)["pricing"]
    d = next(r for r in pricing if r["tranche"] == "D")
    assert d["yield"] == 0.07 and d["quote"] == "yield 7%"
    cert = next(r for r in pricing if r["tranche"] == "Certificates")
    assert cert["residual_irr"] is not None and cert["residual_multiple"] > 1


def test_breakeven_text_and_json(runner):
    out = invoke(runner, "breakeven", AUTO, "--tranche", "D", "--on", "multiple")
    assert out.exit_code == 0, out.output
    assert "no principal loss up to:" in out.stdout and "engine passes" in out.stdout
    out = invoke(runner, "breakeven", AUTO, "--tranche", "D", "--json", "--batch", "16")
    record = json.loads(out.stdout)
    assert record["on"] == "cdr" and record["upper_bracket"] - record["level"] <= 1e-4


def test_size_text_json_and_written_deal(runner, tmp_path):
    target = tmp_path / "sized.toml"
    out = invoke(runner, "size", AUTO, "--stress", "D=4x", "--write-deal", str(target))
    assert out.exit_code == 0, out.output
    assert "credit_enhancement" in out.stdout and target.exists()
    out = invoke(runner, "size", AUTO, "--stress", "D=4x", "--json")
    rows = json.loads(out.stdout)["tranches"]
    d = next(r for r in rows if r["tranche"] == "D")
    assert d["loss_at_stress"] == 0 and d["loss_above"] > 0


@pytest.fixture()
def bad_curves(tmp_path):
    unsorted = tmp_path / "unsorted.csv"
    unsorted.write_text("tenor,rate\n3Y,4%\n1Y,3%\n")
    duplicate = tmp_path / "duplicate.csv"
    duplicate.write_text("tenor,rate\n1Y,4%\n1Y,3%\n")
    return unsorted, duplicate


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", AUTO, "--scenario", "base", "--price", "B=0"], "must be above 0"),
        (["run", AUTO, "--scenario", "base", "--price", "B=-3"], "B=-3"),
        (["run", AUTO, "--scenario", "base", "--yield", "D=-250%"], "no price"),
        (["run", AUTO, "--scenario", "base", "--price", "Q=99"], "unknown tranche 'Q'"),
        (["run", AUTO, "--scenario", "base", "--spread", "B=1%"], "needs a rate curve"),
        (["grid", AUTO, "--default", "CDR 1%", "--price", "Q=99"], "unknown tranche 'Q'"),
        (["grid", AUTO, "--prepay", "ABS 1%,,2%"], "--prepay item 2"),
        (["breakeven", AUTO, "--tranche", "Q"], "unknown tranche 'Q'"),
        (["size", AUTO, "--stress", "A=5x,B=3x"], "'A' is not a tranche of the deal"),
        (["size", AUTO, "--stress", "D=five"], "is not TRANCHE=MULTIPLE"),
    ],
)
def test_bad_inputs_exit_1_without_traceback(runner, args, message):
    out = runner.invoke(main, args)
    assert out.exit_code == 1, out.output
    assert "error: " in out.stderr and message in out.stderr, out.stderr
    assert "Traceback" not in out.output


@pytest.mark.parametrize(("which", "message"), [(0, "tenors must be sorted"), (1, "1.0")])
def test_bad_curve_exits_1(runner, bad_curves, which, message):
    args = ["run", AUTO, "--scenario", "base", "--spread", "B=100bp"]
    out = runner.invoke(main, [*args, "--curve", str(bad_curves[which])])
    assert out.exit_code == 1, out.output
    assert message in out.stderr and "Traceback" not in out.output


def test_usage_errors_exit_2(runner):
    assert runner.invoke(main, ["breakeven", AUTO]).exit_code == 2
    assert runner.invoke(main, ["breakeven", AUTO, "--tranche", "D", "--on", "x"]).exit_code == 2
    out = runner.invoke(main, ["grid", AUTO, "--prepay", "ABS 1%", "--scenarios", "s.toml"])
    assert out.exit_code == 2
    for command in ("grid", "breakeven", "size"):
        assert runner.invoke(main, [command, "-h"]).exit_code == 0


def test_subprocess_breakeven_and_a_bad_stress():
    ok = subprocess.run(
        [sys.executable, "-m", "absstruct", "breakeven", AUTO, "--tranche", "C", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["tranche"] == "C"
    bad = subprocess.run(
        [sys.executable, "-m", "absstruct", "size", AUTO, "--stress", "Z=2x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
