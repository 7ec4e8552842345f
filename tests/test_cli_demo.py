"""``absstruct demo`` and the top-level command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from openpyxl import load_workbook

from absstruct.cli import COMMANDS, main


def test_demo_runs_the_bundled_consumer_deal_in_a_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "demo.xlsx"
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "demo", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # the example deal is found without the source tree as working folder
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "优先A" in done.stdout and "scenario base" in done.stdout
    assert "Summary" in load_workbook(out).sheetnames


@pytest.mark.parametrize("example", ["us_auto", "mortgage"])
def test_demo_other_examples(runner, example: str) -> None:
    result = runner.invoke(main, ["demo", "--deal", example])
    assert result.exit_code == 0, result.output
    assert "scenario base" in result.stdout


def test_demo_unknown_example_is_a_usage_error(runner) -> None:
    result = runner.invoke(main, ["demo", "--deal", "nope"])
    assert result.exit_code == 2
    assert "nope" in result.stderr


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help(runner, name: str) -> None:
    result = runner.invoke(main, [name, "-h"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_top_level_help_lists_every_command(runner) -> None:
    result = runner.invoke(main, ["-h"])
    assert result.exit_code == 0
    for name in COMMANDS:
        assert name in result.stdout
