"""The three example deals end to end: period 1 checked by hand, every period against a
golden CSV (tolerances), and the CLI on them (CliRunner and a subprocess).

Regenerate the golden files after an intended change with
``ABSSTRUCT_UPDATE_GOLDEN=1 python -m pytest tests/test_waterfall_examples.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from absstruct.cli import main
from absstruct.deal import load_deal
from absstruct.waterfall import deal_tape, run

from .conftest import ROOT

DEALS = ROOT / "deals"
GOLDEN = ROOT / "tests" / "golden"
EXAMPLES = ("us_auto", "mortgage", "cn_consumer_revolving")
GOLDEN_FIELDS = (
    "balance",
    "interest_paid",
    "interest_shortfall",
    "principal_paid",
    "writedown",
    "pdl",
    "residual_paid",
    "deposit",
    "draw",
    "paid",
    "breached",
)


@cache
def example(name: str):
    deal = load_deal(DEALS / f"{name}.toml")
    tape = deal_tape(deal)
    return deal, tape, run(deal, tape)


def golden_frame(result) -> pd.DataFrame:
    frames = []
    for s, scenario in enumerate(result.scenario_names):
        frame = result.frame(s)
        keep = [c for c in frame.columns if "." not in c or c.rsplit(".", 1)[1] in GOLDEN_FIELDS]
        frame = frame[keep].copy()
        frame.insert(0, "scenario", scenario)
        frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.mark.parametrize("name", EXAMPLES)
def test_full_period_golden(name: str) -> None:
    _, _, result = example(name)
    calculated = golden_frame(result)
    path = GOLDEN / f"{name}.csv"
    if os.environ.get("ABSSTRUCT_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        calculated.to_csv(path, index=False, float_format="%.6f")
    expected = pd.read_csv(path, encoding="utf-8")
    assert list(expected.columns) == list(calculated.columns)
    assert expected["date"].tolist() == calculated["date"].tolist()
    for column in expected.columns[3:]:
        want = expected[column].to_numpy(dtype=float)
        got = calculated[column].to_numpy(dtype=float)
        close = np.isclose(got, want, rtol=1e-7, atol=0.01)
        if not close.all():
            rows = np.flatnonzero(~close)[:5]
            shown = "\n".join(
                f"  {expected['scenario'][i]} period {expected['period'][i]}: "
                f"expected {want[i]:.6f}, calculated {got[i]:.6f}"
                for i in rows
            )
            pytest.fail(f"{name}.csv column {column}:\n{shown}")


def test_us_auto_period_one_by_hand() -> None:
    _, tape, result = example("us_auto")
    pool = 36_153_252.78  # eligible balance (days past due <= 30)
    assert tape["current_balance"].sum() == pytest.approx(pool, abs=0.005)
    s, t = 0, 0
    a1 = result.tranches["A-1"]
    # A-1 is 12% of the pool at 4.40% ACT/360, closing 2026-07-22 to 2026-08-17: 26 days.
    assert a1["interest_paid"][s][t] == pytest.approx(0.12 * pool * 0.044 * 26 / 360)
    # A-2 at 4.55%, 30/360: 22 July to 17 August is 25 days.
    a2 = result.tranches["A-2"]
    assert a2["interest_paid"][s][t] == pytest.approx(0.26 * pool * 0.0455 * 25 / 360)
    # Servicer 1% a year of the pool (30/360, 25 days) plus the trustee's 500.
    fees = result.deal["fees_paid"][s][t]
    assert fees == pytest.approx(0.01 * pool * 25 / 360 + 500)
    # Principal distribution amount: notes 91% of the pool less (pool after period 1 less
    # the OC target of 12% of it, above the 1.5% floor).
    pool_1 = result.deal["pool_balance"][s][t]
    pda = 0.91 * pool - (pool_1 - 0.12 * pool_1)
    assert result.deal["principal_distribution"][s][t] == pytest.approx(pda)
    # Available: principal collections plus interest left after fees and interest; all of it
    # goes to A-1 (below the PDA), nothing to the certificates.
    available = (
        result.deal["principal_collections"][s][t]
        + result.deal["interest_collections"][s][t]
        - fees
        - result.deal["interest_paid"][s][t]
    )
    assert a1["principal_paid"][s][t] == pytest.approx(min(available, pda))
    assert result.tranches["Certificates"]["residual_paid"][s][t] == 0.0
    # The reserve (1% of the pool) is at its non-declining target: nothing moves.
    reserve = result.accounts["reserve"]
    assert reserve["balance"][s][t] == pytest.approx(0.01 * pool)
    assert reserve["target"][s][t] == pytest.approx(0.01 * pool)


def test_mortgage_period_one_by_hand() -> None:
    _, tape, result = example("mortgage")
    pool = 211_410_388.25
    assert tape["current_balance"].sum() == pytest.approx(pool, abs=0.005)
    s, t = 0, 0
    # A: SOFR 4.30% + 0.35% = 4.65%, ACT/360, 30 July to 25 August = 26 days.
    a = result.tranches["A"]
    assert a["interest_paid"][s][t] == pytest.approx(0.92 * pool * 0.0465 * 26 / 360)
    assert result.coupons["A"][0] == pytest.approx(0.0465)
    # M: 4.75% 30/360, 25 days.
    m = result.tranches["M"]
    assert m["interest_paid"][s][t] == pytest.approx(0.04 * pool * 0.0475 * 25 / 360)
    # Fees: servicing 0.25% and trustee 0.01% a year (30/360, 25 days) plus 1,000.
    assert result.fees["servicing"]["paid"][s][t] == pytest.approx(0.0025 * pool * 25 / 360)
    assert result.fees["trustee"]["paid"][s][t] == pytest.approx(0.0001 * pool * 25 / 360 + 1000)
    # Principal pro-rata 92 : 4 : 2.5 while no trigger is breached.
    collected = result.deal["principal_collections"][s][t]
    assert a["principal_paid"][s][t] == pytest.approx(collected * 92 / 98.5)
    assert m["principal_paid"][s][t] == pytest.approx(collected * 4 / 98.5)
    # OC test: pool / notes after the previous payment date = 100 / 98.5.
    assert result.triggers["oc_test"]["value"][s][t] == pytest.approx(1 / 0.985)


def test_mortgage_switches_to_sequential_after_the_loss_trigger() -> None:
    _, _, result = example("mortgage")
    breached = result.triggers["cumulative_loss"]["breached"][0] > 0
    first = int(np.flatnonzero(breached)[0])
    m_paid = result.tranches["M"]["principal_paid"][0]
    a_balance = result.tranches["A"]["balance"][0]
    assert m_paid[first - 1] > 0  # pro-rata before
    assert np.all(m_paid[first:][a_balance[first:] > 0] == 0)  # sequential after, until A is paid


def test_cn_consumer_period_one_by_hand() -> None:
    _, tape, result = example("cn_consumer_revolving")
    pool = 30_815_812.07  # 正常类, not past due
    assert tape["current_balance"].sum() == pytest.approx(pool, abs=0.005)
    s, t = 0, 0
    d = result.deal
    interest = d["interest_collections"][s][t]
    # VAT 3.26% of interest collections.
    assert result.taxes["增值税"]["paid"][s][t] == pytest.approx(0.0326 * interest)
    # 优先A: 75% at 2.60%, ACT/365, 20 July to 26 August = 37 days.
    a = result.tranches["优先A"]
    assert a["interest_paid"][s][t] == pytest.approx(0.75 * pool * 0.026 * 37 / 365)
    # Trustee 0.05% a year of the pool, ACT/365, 37 days.
    assert result.fees["受托人"]["paid"][s][t] == pytest.approx(0.0005 * pool * 37 / 365)
    # Liquidity reserve: starts at 0.8% of the pool, topped up to 1% of the notes (85%).
    reserve = result.accounts["流动性储备"]
    assert reserve["deposit"][s][t] == pytest.approx(0.01 * 0.85 * pool - 0.008 * pool)
    # PDL debited at default (违约贷款): period 1's defaults go to 次级's ledger and excess
    # interest cures them in full (nothing recovered yet with a 3-month lag).
    defaults = result.pool["new_defaults"][s][t]
    assert 0 < defaults < 0.01 * pool
    sub = result.tranches["次级"]
    assert sub["pdl_cured"][s][t] == pytest.approx(defaults)
    assert sub["pdl"][s][t] == pytest.approx(0.0, abs=1e-6)
    # Revolving: principal collections and the cured PDL buy new receivables; no note
    # principal is paid.
    assert d["purchases"][s][t] == pytest.approx(d["principal_collections"][s][t] + defaults)
    assert d["principal_paid"][s][:12].sum() == 0.0
    assert d["revolving"][s][:12].tolist() == [1.0] * 12
    # What interest leaves after the cure goes to 次级.
    residual = (
        interest
        - result.deal["taxes_paid"][s][t]
        - result.deal["fees_paid"][s][t]
        - result.deal["interest_paid"][s][t]
        - reserve["deposit"][s][t]
        - defaults
    )
    assert result.tranches["次级"]["residual_paid"][s][t] == pytest.approx(residual)


def test_cn_consumer_stress_ends_revolving_early() -> None:
    _, _, result = example("cn_consumer_revolving")
    stress = result.scenario_index("stress")
    revolving = result.deal["revolving"][stress]
    breached = result.triggers["加速清偿事件"]["breached"][stress]
    first = int(np.flatnonzero(breached)[0])
    assert first < 12
    assert revolving[first:].sum() == 0.0
    assert revolving[:first].tolist() == [1.0] * first


def test_run_cli_prints_the_summary(runner) -> None:
    result = runner.invoke(main, ["run", str(DEALS / "us_auto.toml"), "--scenario", "stress"])
    assert result.exit_code == 0, result.output
    assert "scenario stress" in result.stdout
    assert "A-1" in result.stdout and "final_date" in result.stdout
    assert "cnl breached" in result.stdout
    assert "1447 loans" in result.stderr


def test_run_cli_json_and_output_file(runner, tmp_path: Path) -> None:
    out = tmp_path / "ledgers.parquet"
    result = runner.invoke(
        main,
        [
            "run",
            str(DEALS / "mortgage.toml"),
            "--default",
            "CDR 4%",
            "--no-call",
            "--json",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    (scenario,) = payload["scenarios"]
    assert scenario["scenario"] == "custom"
    assert [row["tranche"] for row in scenario["tranches"]] == ["A", "M", "B", "Residual"]
    frame = pd.read_parquet(out)
    assert set(frame["scenario"]) == {"custom"}
    assert frame["gap"].abs().max() < 1e-6


def test_run_cli_usage_errors(runner) -> None:
    both = runner.invoke(
        main, ["run", str(DEALS / "us_auto.toml"), "--scenario", "stress", "--prepay", "ABS 2%"]
    )
    assert both.exit_code == 2
    unknown = runner.invoke(main, ["run", str(DEALS / "us_auto.toml"), "--scenario", "nope"])
    assert unknown.exit_code == 1
    assert "scenario: 'nope' is not a scenario of the deal; scenarios: base, stress, fast" in (
        unknown.stderr
    )
    bad = runner.invoke(main, ["run", str(DEALS / "us_auto.toml"), "--prepay", "fast"])
    assert bad.exit_code == 1 and "options.prepay" in bad.stderr
    assert "Traceback" not in bad.output


def test_run_cli_through_a_subprocess() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "absstruct",
            "run",
            str(DEALS / "cn_consumer_revolving.toml"),
            "--scenario",
            "severe",
            "--json",
        ],
        capture_output=True,
        text=True,
        encoding="utf-8",
        check=False,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["currency"] == "CNY"
    tranches = payload["scenarios"][0]["tranches"]
    assert [t["tranche"] for t in tranches] == ["优先A", "优先B", "次级"]
    events = {e["trigger"] for e in payload["scenarios"][0]["events"]}
    assert "加速清偿事件" in events


def test_revolving_deal_scenario_array_equals_single_runs() -> None:
    from absstruct.projection.flows import PoolFlows
    from absstruct.waterfall.run import project_collateral, unit_collateral

    deal, tape, _ = example("cn_consumer_revolving")
    flows = project_collateral(deal, tape)
    unit = unit_collateral(deal, None, flows.scenario_names)
    calls = [True, False, True]
    together = run(deal, flows, call=calls, unit_flows=unit)

    def one(pool: PoolFlows, s: int) -> PoolFlows:
        return PoolFlows(
            arrays={k: v[s : s + 1] for k, v in pool.arrays.items()},
            initial_balance=pool.initial_balance,
            scenario_names=(pool.scenario_names[s],),
        )

    for s, name in enumerate(flows.scenario_names):
        alone = run(deal, one(flows, s), call=[calls[s]], unit_flows=one(unit, s))
        for tranche, ledger in alone.tranches.items():
            for field, values in ledger.arrays.items():
                assert np.array_equal(together.tranches[tranche][field][s], values[0]), (
                    name,
                    tranche,
                    field,
                )
        for field, values in alone.deal.arrays.items():
            assert np.array_equal(together.deal[field][s], values[0]), (name, field)
