"""Deal files that load: the examples, the template, calendars and schedules, scenarios,
index curves from CSV, quarterly deals, and frozen models with variants by copy."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pydantic
import pytest

from absstruct.deal import load_deal, parse_deal, validate_deal
from absstruct.deal.calendar import (
    add_months,
    collection_period_ends,
    count_periods,
    payment_dates,
    roll,
)
from absstruct.deal.load import _MODELS, _STEP_CLASSES, _keys_of
from absstruct.deal.scenarios import deal_scenarios
from absstruct.errors import DealError
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
from absstruct.waterfall import run
from absstruct.waterfall.schedule import build_schedule

from .conftest import ROOT

D = dt.date
HOLIDAYS = {D(2026, 10, 1), D(2026, 10, 2), D(2026, 10, 5)}


@pytest.mark.parametrize(
    ("day", "convention", "expected"),
    [
        (D(2026, 8, 15), "following", D(2026, 8, 17)),  # Saturday -> Monday
        (D(2026, 8, 15), "preceding", D(2026, 8, 14)),
        (D(2026, 8, 15), "none", D(2026, 8, 15)),
        (D(2026, 10, 31), "following", D(2026, 11, 2)),
        (D(2026, 10, 31), "modified_following", D(2026, 10, 30)),  # stays in October
        (D(2026, 10, 1), "following", D(2026, 10, 6)),  # National Day holidays + weekend
        (D(2026, 10, 3), "preceding", D(2026, 9, 30)),
        (D(2026, 8, 17), "following", D(2026, 8, 17)),  # a business day stays
    ],
)
def test_roll(day: dt.date, convention: str, expected: dt.date) -> None:
    assert roll(day, convention, HOLIDAYS) == expected


@pytest.mark.parametrize(
    ("day", "months", "on_day", "expected"),
    [
        (D(2026, 1, 31), 1, None, D(2026, 2, 28)),
        (D(2028, 1, 31), 1, None, D(2028, 2, 29)),
        (D(2026, 6, 30), 2, 31, D(2026, 8, 31)),
        (D(2026, 11, 15), 3, None, D(2027, 2, 15)),
        (D(2026, 3, 15), -3, None, D(2025, 12, 15)),
    ],
)
def test_add_months(day, months, on_day, expected) -> None:
    assert add_months(day, months, on_day=on_day) == expected


def test_payment_schedule_keeps_the_payment_day_after_a_roll() -> None:
    dates = payment_dates(D(2026, 1, 31), 4, months=1, day=31, convention="modified_following")
    # 31 Jan Sat -> Fri 30; 28 Feb Sat -> Fri 27; 31 Mar Tue; 30 Apr Thu.
    assert dates == [D(2026, 1, 30), D(2026, 2, 27), D(2026, 3, 31), D(2026, 4, 30)]
    assert payment_dates(D(2026, 8, 15), 3, months=3) == [
        D(2026, 8, 17),
        D(2026, 11, 16),
        D(2027, 2, 15),
    ]


def test_period_counts_and_collection_periods() -> None:
    assert count_periods(D(2026, 8, 15), D(2033, 3, 15)) == 80
    assert count_periods(D(2026, 8, 15), D(2027, 8, 14), months=3) == 4
    assert count_periods(D(2026, 8, 15), D(2026, 8, 1)) == 0
    assert collection_period_ends(D(2026, 6, 30), 3) == [
        D(2026, 7, 31),
        D(2026, 8, 31),
        D(2026, 9, 30),
    ]


@pytest.mark.parametrize("name", ["us_auto", "mortgage", "cn_consumer_revolving"])
def test_example_deals_load(name: str) -> None:
    deal = load_deal(ROOT / "deals" / f"{name}.toml")
    assert Path(deal.pool.tape or "").is_file()
    assert deal.pool.criteria is not None and deal.pool.criteria.eligibility
    scenarios = deal_scenarios(deal)
    assert next(iter(scenarios)) == "base"
    assert len(scenarios) == 1 + len(deal.pool.scenarios)


def test_us_auto_schedule_rolls_weekends_and_holidays() -> None:
    deal = load_deal(ROOT / "deals" / "us_auto.toml")
    schedule = build_schedule(deal, 4)
    # 15 Aug 2026 is a Saturday; 15 Nov a Sunday; 15 Sep and 15 Oct business days.
    assert schedule.payment_dates == (
        D(2026, 8, 17),
        D(2026, 9, 15),
        D(2026, 10, 15),
        D(2026, 11, 16),
    )
    # A-1 ACT/360 from closing (22 July): 26 days, then 29, 30, 32.
    assert (schedule.tranche_accrual["A-1"] * 360).round(9).tolist() == [26, 29, 30, 32]
    # 30/360 keeps whole months after the stub: 25, then 28 (17 Aug -> 15 Sep), 30, 31.
    assert (schedule.tranche_accrual["A-2"] * 360).round(9).tolist() == [25, 28, 30, 31]


def test_scenario_is_the_base_case_updated() -> None:
    deal = load_deal(ROOT / "deals" / "us_auto.toml")
    stress = deal_scenarios(deal, ["stress"])["stress"]
    assert (stress.prepay, stress.default, stress.severity, stress.lag) == (
        "ABS 1.5%",
        "CDR 6%",
        "60%",
        3,
    )
    with pytest.raises(DealError, match="scenario: 'boom' is not a scenario of the deal"):
        deal_scenarios(deal, ["boom"])


def test_models_are_frozen_and_variants_are_copies() -> None:
    deal = load_deal(ROOT / "deals" / "us_auto.toml")
    with pytest.raises(pydantic.ValidationError):
        deal.name = "changed"  # type: ignore[misc]
    cheaper = deal.tranches[0].model_copy(update={"coupon": 0.03})
    variant = deal.model_copy(update={"tranches": (cheaper, *deal.tranches[1:])})
    assert variant.tranches[0].coupon == 0.03
    assert deal.tranches[0].coupon == pytest.approx(0.044)


def test_template_parses_and_documents_every_key() -> None:
    text = (ROOT / "templates" / "deal_template.toml").read_text(encoding="utf-8")
    deal = parse_deal(text)  # no folder: files are not looked for
    assert deal.revolving is not None and deal.call is not None
    undocumented = sorted(
        f"{path or 'top'}.{key}"
        for path, model in _MODELS.items()
        for key in _keys_of(model)
        if not any(form in text for form in (f"{key} =", f"[{key}", f".{key}]", f".{key}."))
    )
    assert undocumented == [], undocumented
    for step in _STEP_CLASSES:
        assert step in text


def test_index_curve_from_csv(tmp_path: Path) -> None:
    (tmp_path / "sofr.csv").write_text("period,rate\n1,0.05\n2,0.06\n", encoding="utf-8")
    text = """
schema_version = 1
name = "floater"
[dates]
cutoff = 2026-06-30
closing = 2026-06-30
first_payment = 2026-07-31
legal_final = 2026-10-31
roll = "none"
[indices.SOFR]
csv = "sofr.csv"
[[tranches]]
name = "A"
size = 100.0
floating = { index = "SOFR", margin = "1%", cap = "6.5%" }
[[waterfall.interest]]
step = "pay_interest"
tranche = "A"
"""
    path = tmp_path / "floater.toml"
    path.write_text(text, encoding="utf-8")
    deal = load_deal(path)
    assert deal.indices["SOFR"].rates == (0.05, 0.06)
    schedule = build_schedule(deal, 3)
    # 5% + 1%; 6% + 1% capped at 6.5%; the last rate repeats.
    assert schedule.coupons["A"].tolist() == pytest.approx([0.06, 0.065, 0.065])
    (tmp_path / "sofr.csv").unlink()
    with pytest.raises(DealError, match=r"indices\.SOFR\.csv: 'sofr.csv' does not exist"):
        load_deal(path)


def test_quarterly_deal_sums_three_months_per_period() -> None:
    deal = validate_deal(
        {
            "schema_version": 1,
            "name": "quarterly",
            "dates": {
                "cutoff": D(2026, 6, 30),
                "closing": D(2026, 6, 30),
                "first_payment": D(2026, 9, 30),
                "legal_final": D(2027, 6, 30),
                "frequency": "quarterly",
                "roll": "none",
            },
            "tranches": [
                {"name": "A", "size": 90.0, "coupon": 0.04},
                {"name": "R", "kind": "residual"},
            ],
            "waterfall": {
                "interest": [{"step": "pay_interest", "tranche": "A"}],
                "principal": [{"step": "pay_principal", "tranche": "A"}],
            },
        }
    )
    arrays = {c: np.zeros((1, 12)) for c in POOL_COLUMNS}
    arrays["principal_collections"][:] = 100.0 / 12
    arrays["interest_collections"][:] = 1.0
    arrays["performing_balance"][:] = 100.0 - np.arange(1, 13) * 100.0 / 12
    flows = PoolFlows(arrays=arrays, initial_balance=100.0, scenario_names=("base",))
    result = run(deal, flows)
    assert result.n_periods == 4
    assert result.pool["principal_collections"][0].tolist() == pytest.approx([25.0] * 4)
    assert result.pool["performing_balance"][0].tolist() == pytest.approx([75, 50, 25, 0])
    # 90 x 4% x 1/4 (30/360 quarter) = 0.9 of interest in the first quarter.
    assert result.tranches["A"]["interest_paid"][0][0] == pytest.approx(0.9)


def test_a_deal_without_tape_cannot_run_from_the_cli(runner, tmp_path: Path) -> None:
    from absstruct.cli import main

    path = tmp_path / "no_tape.toml"
    path.write_text(
        'schema_version = 1\nname = "x"\n[dates]\ncutoff = 2026-06-30\nclosing = 2026-06-30\n'
        'first_payment = 2026-07-31\nlegal_final = 2027-06-30\n[[tranches]]\nname = "A"\n'
        'coupon = 0.01\n[[waterfall.interest]]\nstep = "pay_interest"\ntranche = "A"\n',
        encoding="utf-8",
    )
    result = runner.invoke(main, ["run", str(path)])
    assert result.exit_code == 1
    assert "pool.tape: the deal names no tape; give one" in result.stderr


def test_rep_lines_must_pass_pool_eligibility(tmp_path: Path) -> None:
    text = (ROOT / "deals" / "cn_consumer_revolving.toml").read_text(encoding="utf-8")
    text = text.replace(
        'name = "未逾期 (not past due)"',
        'name = "rate cap"\ncolumn = "rate"\nmax = "15.5%"\n[[pool.eligibility]]'
        '\nname = "未逾期 (not past due)"',
    )
    (tmp_path / "tapes").mkdir()
    (tmp_path / "tapes" / "cn_consumer.csv").write_bytes(
        (ROOT / "deals" / "tapes" / "cn_consumer.csv").read_bytes()
    )
    path = tmp_path / "cn.toml"
    path.write_text(text, encoding="utf-8")
    deal = load_deal(path)
    flows = PoolFlows(
        arrays={c: np.zeros((1, 3)) for c in POOL_COLUMNS},
        initial_balance=1e6,
        scenario_names=("base",),
    )
    with pytest.raises(
        DealError,
        match=r"revolving\.rep_lines\[1\]: fails the pool eligibility "
        r"rule 'rate cap' \(rate\)",
    ):
        run(deal, flows, unit_flows=flows)
