"""Malformed deal files: each gives a DealError naming the field path, through the library
and through the CLI (exit 1, one readable message, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from absstruct.cli import main
from absstruct.deal import load_deal
from absstruct.errors import DealError

BASE = """\
schema_version = 1
name = "malformed-test"

[dates]
cutoff = 2026-06-30
closing = 2026-07-15
first_payment = 2026-08-15
legal_final = 2031-08-15
frequency = "monthly"

[pool]
tape = "tape.csv"
balance = 1_000_000.0

[pool.assumptions]
prepay = "CPR 10%"
default = "CDR 2%"
severity = "40%"

[pool.scenarios.stress]
default = "CDR 6%"

[[tranches]]
name = "A1"
size = "40%"
coupon = "4%"

[[tranches]]
name = "A2"
size = "35%"
coupon = 0.045

[[tranches]]
name = "B"
size = "15%"
coupon = "6%"
deferrable = true

[[tranches]]
name = "R"
kind = "residual"

[[fees]]
name = "servicer"
rate = "1%"

[[taxes]]
name = "vat"
rate = "3.26%"

[[accounts]]
name = "reserve"
initial = "1%"
target = { pct = "1%", base = "current_pool", floor = "0.5%" }

[[accounts]]
name = "spare"
target = { amount = 1000.0 }

[oc]
pct = "5%"
initial_pct = "8%"
step_down = 2028-08-15

[[triggers]]
name = "cnl"
kind = "cumulative_net_loss"
threshold = 0.05
effects = ["sequential"]

[[support]]
name = "guarantor"
kind = "guarantee"
limit = 50_000.0

[[support]]
name = "sponsor"
kind = "shortfall_undertaking"

[call]
pct = "10%"

[[waterfall.interest]]
step = "pay_tax"
tax = "vat"

[[waterfall.interest]]
step = "pay_fee"
fee = "servicer"
draw_from = ["reserve"]

[[waterfall.interest]]
step = "pay_interest"
tranches = ["A1", "A2"]
draw_from = ["reserve"]
support = ["sponsor"]

[[waterfall.interest]]
step = "pay_interest"
tranche = "B"

[[waterfall.interest]]
step = "fund_reserve"
account = "reserve"

[[waterfall.interest]]
step = "transfer"
from = "reserve"
to = "spare"
amount = "excess"

[[waterfall.principal]]
step = "pay_principal"
tranches = ["A1", "A2", "B"]
when = "cnl"

[[waterfall.principal]]
step = "pay_principal"
tranches = ["A1", "A2", "B"]
mode = "pro_rata"
"""


def _replace(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def _append(extra: str):
    return lambda text: text + extra


# (case id, edit of the base text, text the one error message must contain)
CASES = [
    (
        "unknown tranche in a waterfall step",
        _replace('step = "pay_interest"\ntranche = "B"', 'step = "pay_interest"\ntranche = "A3"'),
        "waterfall.interest[3].tranche: 'A3' is not a tranche; tranches: A1, A2, B, R",
    ),
    (
        "tranche sizes above 100% of the pool",
        _replace('size = "15%"', 'size = "30%"'),
        "tranches[2].size: '30%' takes the tranche sizes to 105.0000% of the pool, above 100%",
    ),
    (
        "tranche amounts above the stated pool balance",
        lambda t: t.replace('size = "40%"', "size = 600_000.0").replace(
            'size = "35%"', "size = 500_000.0"
        ),
        "tranches[1].size: 500000.0 takes the tranche sizes to 1,100,000.00, above the pool",
    ),
    (
        "negative coupon",
        _replace("coupon = 0.045", "coupon = -0.01"),
        "tranches[1].coupon: -0.01 is below 0",
    ),
    (
        "closing before cut-off",
        _replace("closing = 2026-07-15", "closing = 2026-06-01"),
        "dates.closing: '2026-06-01' is before the cut-off date 2026-06-30",
    ),
    (
        "step-down before closing",
        _replace("step_down = 2028-08-15", "step_down = 2026-07-01"),
        "oc.step_down: '2026-07-01' is before the closing date 2026-07-15",
    ),
    (
        "trigger threshold out of range",
        _replace("threshold = 0.05", "threshold = 1.5"),
        "triggers[0].threshold: 1.5 is out of range for a cumulative_net_loss trigger (0 to 1)",
    ),
    (
        "misspelled key",
        _replace('coupon = "6%"', 'cupon = "6%"'),
        "tranches[2].cupon: is not a known key; allowed: name, kind, rank, size, coupon",
    ),
    ("misspelled section", _append('\n[trigers]\nname = "x"\n'), "trigers: is not a known key"),
    (
        "missing tape",
        _replace('tape = "tape.csv"', 'tape = "missing.csv"'),
        "pool.tape: 'missing.csv' does not exist next to the deal file",
    ),
    (
        "reserve target without a base",
        _replace(
            'target = { pct = "1%", base = "current_pool", floor = "0.5%" }',
            'target = { pct = "1%" }',
        ),
        "accounts[0].target.base: is required with target.pct; bases: current_pool",
    ),
    (
        "circular transfer",
        _append('\n[[waterfall.principal]]\nstep = "transfer"\nfrom = "spare"\nto = "reserve"\n'),
        "waterfall.principal[2].to: 'reserve' closes a circular transfer spare -> reserve -> spare",
    ),
    (
        "unknown step",
        _replace('step = "pay_tax"', 'step = "pay_taxes"'),
        "waterfall.interest[0].step: 'pay_taxes' is not a waterfall step; steps: pay_tax",
    ),
    (
        "unknown fee",
        _replace('fee = "servicer"', 'fee = "servicr"'),
        "waterfall.interest[1].fee: 'servicr' is not a fee; fees: servicer",
    ),
    (
        "unknown account drawn",
        _replace('draw_from = ["reserve"]', 'draw_from = ["reserv"]'),
        "waterfall.interest[1].draw_from[0]: 'reserv' is not an account; accounts: reserve, spare",
    ),
    (
        "unknown trigger",
        _replace('when = "cnl"', 'when = "cdr"'),
        "waterfall.principal[0].when: 'cdr' is not a trigger; triggers: cnl",
    ),
    (
        "unsupported schema version",
        _replace("schema_version = 1", "schema_version = 2"),
        "schema_version: 2 is not allowed; expected 1",
    ),
    (
        "not a date",
        _replace("cutoff = 2026-06-30", 'cutoff = "June"'),
        "dates.cutoff: 'June' is not a date like 2026-06-30",
    ),
    (
        "bad percent",
        _replace('coupon = "4%"', 'coupon = "four"'),
        "tranches[0].coupon: 'four' is not a number or a percent like '4.5%'",
    ),
    (
        "repeated tranche name",
        _replace('name = "B"\nsize', 'name = "A2"\nsize'),
        "tranches: tranche names repeat: A2",
    ),
    (
        "unknown frequency",
        _replace('frequency = "monthly"', 'frequency = "weekly"'),
        "dates.frequency: 'weekly' is not allowed; expected 'monthly', 'quarterly'",
    ),
    (
        "bad base-case assumption",
        _replace('prepay = "CPR 10%"', 'prepay = "XYZ 10%"'),
        "pool.assumptions.prepay: 'XYZ 10%'",
    ),
    (
        "bad scenario override",
        _replace('default = "CDR 6%"', "lag = -1"),
        "pool.scenarios.stress.lag",
    ),
    (
        "guarantee named as a shortfall undertaking",
        _replace('support = ["sponsor"]', 'support = ["guarantor"]'),
        "waterfall.interest[2].support[0]: 'guarantor' is not a shortfall_undertaking",
    ),
    (
        "cure_pdl without a PDL",
        _append('\n[[waterfall.interest]]\nstep = "cure_pdl"\n'),
        "waterfall.interest[6].step: 'cure_pdl' needs losses.allocation = 'pdl'",
    ),
    (
        "acceleration without its waterfall",
        _replace('effects = ["sequential"]', 'effects = ["accelerate"]'),
        "triggers[0].effects: 'accelerate' needs a waterfall.acceleration to switch to",
    ),
    (
        "tranche without a name",
        _replace('name = "R"\nkind', "kind"),
        "tranches[3].name: is required",
    ),
    (
        "both tranche and tranches",
        _replace('tranche = "B"', 'tranche = "B"\ntranches = ["B"]'),
        "waterfall.interest[3]: give exactly one of 'tranche' or 'tranches'",
    ),
    (
        "shortfall trigger on a deferrable tranche",
        _append(
            '\n[[triggers]]\nname = "eod"\nkind = "interest_shortfall"\ntranches = ["B"]\n'
            "threshold = 0.0\n"
        ),
        "triggers[1].tranches[0]: 'B' defers interest (deferrable = true)",
    ),
    (
        "bad eligibility rule",
        _append('\n[[pool.eligibility]]\nname = "x"\ncolumn = "rate"\nmax = "lots"\n'),
        'pool.eligibility[0] ("x").max',
    ),
    (
        "excess transfer without a target",
        _replace(
            'from = "reserve"\nto = "spare"\namount = "excess"',
            'from = "spare"\nto = "reserve"\namount = 5.0',
        ),
        None,
    ),
]


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "tape.csv").write_text("loan_id,current_balance\nL1,100\n", encoding="utf-8")
    path = tmp_path / "deal.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_base_deal_is_valid(tmp_path: Path) -> None:
    deal = load_deal(_write(tmp_path, BASE))
    assert [t.name for t in deal.ranked_tranches] == ["A1", "A2", "B", "R"]
    assert deal.tranches[0].coupon == pytest.approx(0.04)
    variant = deal.model_copy(update={"name": "variant"})
    assert variant.name == "variant" and deal.name == "malformed-test"


BAD = [case for case in CASES if case[2] is not None]


def test_at_least_twenty_malformed_cases() -> None:
    assert len(BAD) >= 20


@pytest.mark.parametrize(("edit", "expected"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_malformed_deal_names_the_field(tmp_path: Path, runner, edit, expected: str) -> None:
    path = _write(tmp_path, edit(BASE))
    with pytest.raises(DealError) as info:
        load_deal(path)
    message = str(info.value)
    if expected not in message:
        print(f"expected: {expected}\ngot:\n{message}")
    assert expected in message
    result = runner.invoke(main, ["run", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("error: deal.toml: ")
    assert expected in result.stderr
    assert result.stdout == ""


def test_a_sound_variant_still_loads(tmp_path: Path) -> None:
    (good,) = [case for case in CASES if case[2] is None]
    deal = load_deal(_write(tmp_path, good[1](BASE)))
    step = deal.waterfall.interest[5]
    assert (step.source, step.to, step.amount) == ("spare", "reserve", 5.0)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    text = BASE
    for edit, _ in [c[1:] for c in BAD][:8]:
        try:
            text = edit(text)
        except AssertionError:  # an earlier edit changed the text this one looks for
            continue
    with pytest.raises(DealError) as info:
        load_deal(_write(tmp_path, text))
    assert len(info.value.problems) >= 6
    # (The step-down date is after the earlier closing date the same edits made.)
    for where in (
        "waterfall.interest[3].tranche",
        "tranches[1].coupon",
        "dates.closing",
        "triggers[0].threshold",
        "tranches[2].cupon",
        "tranches[1].size",
    ):
        assert where in str(info.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schema_version = 1\nname = [", "deal.toml: not valid TOML"),
        ("schema_version = 1\n", "dates: is required"),
    ],
)
def test_unreadable_or_empty_deal(tmp_path: Path, runner, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    result = runner.invoke(main, ["run", str(path)])
    assert result.exit_code == 1
    assert expected in result.stderr


def test_missing_deal_file(runner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["run", str(tmp_path / "nope.toml")])
    assert result.exit_code == 1
    assert "nope.toml: no such deal file" in result.stderr


def test_malformed_deal_through_a_subprocess(tmp_path: Path) -> None:
    path = _write(tmp_path, _replace('tranche = "B"', 'tranche = "A3"')(BASE))
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "run", str(path)],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert done.returncode == 1
    assert "waterfall.interest[3].tranche: 'A3' is not a tranche" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""
