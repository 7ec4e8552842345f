"""Regressions for bad deal files found by fuzzing the example deals.

Each mutation once gave a traceback (the cross-checks iterated a ``true`` where a list
belongs, compared a TOML date-time with a date, looked up a file name too long for the
system) or was silently accepted (``inf`` sizes and fees, ``"nan%"``).  Each now gives one
DealError naming the field path.
"""

from __future__ import annotations

import copy
import datetime as dt
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from absstruct.cli import main
from absstruct.deal.load import validate_deal
from absstruct.errors import DealError

from .conftest import ROOT

DEALS = ROOT / "deals"
US_AUTO = tomllib.loads((DEALS / "us_auto.toml").read_text(encoding="utf-8"))


def mutated(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    raw = copy.deepcopy(US_AUTO)
    change(raw)
    return raw


def put(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(raw: dict[str, Any]) -> None:
        node: Any = raw
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        # Cross-checks iterated these: TypeError 'bool' object is not iterable.
        (
            ("waterfall", "principal", 0, "draw_from"),
            True,
            r"principal\[0\]\.draw_from: True is not a list",
        ),
        (
            ("waterfall", "interest", 2, "tranches"),
            True,
            r"interest\[2\]\.tranches: True is not a list",
        ),
        (("triggers", 0, "effects"), -1, r"triggers\[0\]\.effects: -1 is not a list"),
        (
            ("waterfall", "interest", 0, "support"),
            -0.5,
            r"interest\[0\]\.support: -0.5 is not a list",
        ),
        # ", ".join() of a may_pay list holding a number: TypeError.
        (("accounts", 0, "may_pay", 1), 360, r"accounts\[0\]\.may_pay\[1\]: 360 is not allowed"),
        # A list where a name belongs was looked up in a dict: unhashable type.
        (
            ("waterfall", "principal", 0, "draw_from", 0),
            ["reserve"],
            r"draw_from\[0\]: is not text",
        ),
        # A date-time compared with a date: TypeError.
        (("dates", "closing"), dt.datetime(2026, 6, 1, 10), r"dates\.closing: .*is not a date"),
        # Infinite and NaN numbers passed the models.
        (("tranches", 0, "size"), float("inf"), r"tranches\[0\]\.size: inf is not a finite amount"),
        (("tranches", 0, "size"), "inf%", r"tranches\[0\]\.size: 'inf%' is not a finite percent"),
        (("tranches", 0, "coupon"), "nan%", r"tranches\[0\]\.coupon: 'nan%' is not a finite"),
        (("fees", 1, "fixed"), float("inf"), r"fees\[1\]\.fixed: inf is not a finite number"),
        (("fees", 1, "fixed"), float("nan"), r"fees\[1\]\.fixed: nan is not a finite number"),
        (("oc", "pct"), float("nan"), r"oc\.pct: nan is not a finite number"),
        # is_file() raised OSError (name too long) or ValueError (NUL byte).
        (("pool", "tape"), "x" * 5000, r"pool\.tape: 'x+' does not exist next to the deal file"),
        (("pool", "tape"), "a\x00b", r"pool\.tape: .* does not exist next to the deal file"),
    ],
)
def test_mutated_deal_gives_one_deal_error(path: tuple[Any, ...], value: Any, message: str) -> None:
    with pytest.raises(DealError, match=message):
        validate_deal(mutated(put(path, value)), base_dir=DEALS, source="us_auto.toml")


def test_a_midnight_date_time_is_its_day_in_the_order_checks() -> None:
    # 2026-06-01T00:00 validates as a date, so the order check must still see it.
    raw = mutated(put(("dates", "closing"), dt.datetime(2026, 6, 1)))
    with pytest.raises(DealError, match=r"dates\.closing: '2026-06-01' is before the cut-off"):
        validate_deal(raw, base_dir=DEALS, source="us_auto.toml")


def _write(folder: Path, old: str, new: str) -> Path:
    """The example deal with one line edited, beside a link to its tapes."""
    text = (DEALS / "us_auto.toml").read_text(encoding="utf-8")
    assert old in text
    (folder / "tapes").symlink_to(DEALS / "tapes", target_is_directory=True)
    path = folder / "deal.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_cli_run_names_the_field_path(runner, tmp_path: Path) -> None:
    deal = _write(tmp_path, 'amount = "target"\ndraw_from = ["reserve"]', "draw_from = true")
    result = runner.invoke(main, ["run", str(deal)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "waterfall.principal[0].draw_from: True is not a list" in result.stderr


def test_cli_run_in_a_subprocess(tmp_path: Path) -> None:
    deal = _write(tmp_path, 'size = "12%"', 'size = "inf%"')
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "run", str(deal)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "tranches[0].size: 'inf%' is not a finite percent" in done.stderr
    assert "Traceback" not in done.stderr
