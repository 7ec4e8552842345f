"""An empty quote map (``--price ""``, ``--yield ""``, ``--spread ""``) is an error naming the
option, in the parsers and through ``run`` / ``grid``; it used to price nothing and exit 0."""

from __future__ import annotations

import subprocess
import sys

import pytest

from absstruct.cli import main
from absstruct.errors import PricingError
from absstruct.quotes import parse_price_map, parse_spread_map, parse_yield_map
from tests.conftest import ROOT

AUTO = str(ROOT / "deals" / "us_auto.toml")

PARSERS = [
    (parse_price_map, "--price", "A=99.5"),
    (parse_yield_map, "--yield", "A=3.1%"),
    (parse_spread_map, "--spread", "A=120bp"),
]


@pytest.mark.parametrize(("parse", "option", "example"), PARSERS)
@pytest.mark.parametrize("text", ["", " ", ",", " , ,", "\t"])
def test_an_empty_map_names_the_option_and_an_example(parse, option, example, text):
    with pytest.raises(PricingError, match=rf"^{option}: empty; give TRANCHE=VALUE items such as "):
        parse(text)
    with pytest.raises(PricingError) as caught:
        parse(text)
    assert str(caught.value).endswith(example)


@pytest.mark.parametrize(("parse", "option", "example"), PARSERS)
def test_an_empty_item_beside_good_ones_is_named(parse, option, example):
    good = example.replace("A=", "B=")
    with pytest.raises(PricingError, match=rf"{option}: 1 problem\n  item 2: '' is not TRANCHE"):
        parse(f"{good},")
    with pytest.raises(PricingError, match=rf"item 1: 'A' is not TRANCHE=VALUE \(like {example}"):
        parse("A")


@pytest.mark.parametrize(("parse", "option", "example"), PARSERS)
def test_a_real_map_still_parses(parse, option, example):
    assert list(parse(example)) == ["A"]


@pytest.mark.parametrize(
    ("command", "option"),
    [
        (["run", AUTO, "--scenario", "base"], "--price"),
        (["run", AUTO, "--scenario", "base"], "--yield"),
        (["run", AUTO, "--scenario", "base"], "--spread"),
        (["grid", AUTO, "--prepay", "ABS 1%"], "--price"),
        (["grid", AUTO, "--prepay", "ABS 1%"], "--yield"),
    ],
)
def test_cli_refuses_an_empty_quote_option(runner, tmp_path, command, option):
    output = tmp_path / "out.json"
    out = runner.invoke(main, [*command, option, "", "-o", str(output)])
    assert out.exit_code == 1, out.output
    assert f"error: {option}: empty; give TRANCHE=VALUE items" in out.stderr, out.stderr
    assert "Traceback" not in out.output
    assert not output.exists()  # nothing half-written


def test_cli_refuses_an_empty_settle(runner):
    out = runner.invoke(main, ["run", AUTO, "--scenario", "base", "--settle", ""])
    assert out.exit_code == 2, out.output
    assert "--settle" in out.stderr and "Traceback" not in out.output


def test_subprocess_run_with_an_empty_yield_exits_1():
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "run", AUTO, "--scenario", "base", "--yield", ""],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "error: --yield: empty; give TRANCHE=VALUE items such as A=3.1%" in done.stderr
    assert "Traceback" not in done.stderr
    assert "pricing" not in done.stdout


def test_run_refuses_a_bad_quote_before_reading_the_tape(runner, tmp_path) -> None:
    """Quotes are parsed first: a missing tape is not even looked for."""
    from absstruct.cli import main
    from tests.conftest import ROOT

    result = runner.invoke(
        main,
        [
            "run",
            str(ROOT / "deals" / "us_auto.toml"),
            "--tape",
            str(tmp_path / "absent.csv"),
            "--price",
            "Z=99",
        ],
    )
    assert result.exit_code == 1
    assert "Z" in result.stderr and "absent.csv" not in result.stderr
