"""Scenario grids: the level-list grammar, one engine pass, equal to separate runs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import absstruct.waterfall as waterfall
from absstruct.analytics.grid import (
    grid,
    grid_scenarios,
    read_scenario_file,
    split_lags,
    split_levels,
)
from absstruct.analytics.metrics import Quotes, tranche_metrics
from absstruct.deal import load_deal
from absstruct.errors import AssumptionError
from absstruct.waterfall import deal_tape, run

AUTO = load_deal("deals/us_auto.toml")
AUTO_TAPE = deal_tape(AUTO)


@pytest.mark.parametrize(
    ("text", "what", "expected"),
    [
        ("ABS 0.5%,1%,1.5%", "prepay", ("ABS 0.5%", "ABS 1%", "ABS 1.5%")),
        ("CDR 0%, 2% ,4%,8%", "default", ("CDR 0%", "CDR 2%", "CDR 4%", "CDR 8%")),
        ("CDR 3% x 1.5, 4%", "default", ("CDR 3% x 1.5", "CDR 4% x 1.5")),
        ("CUM 8% over 24, 10%", "default", ("CUM 8% over 24", "CUM 10% over 24")),
        ("CPR [5%, 8%], PSA 150, 200", "prepay", ("CPR [5%, 8%]", "PSA 150", "PSA 200")),
        ("SDA 100", "default", ("SDA 100",)),
        ("40%,0.5", "severity", ("40%", "0.5")),
        ("cpr 5%,6%", "prepay", ("cpr 5%", "cpr 6%")),
    ],
)
def test_split_levels(text, what, expected):
    assert split_levels(text, what=what) == expected


@pytest.mark.parametrize(
    ("text", "what", "match"),
    [
        ("ABS 1%,,2%", "prepay", "item 2"),
        ("CDR 1%, FOO 2%", "default", "unknown curve 'FOO'"),
        ("ABS 1%, 150%", "prepay", "item 2: .ABS 150%. ABS 1.5 is above 100%"),
        ("40%, 140%", "severity", "above 100%"),
    ],
)
def test_split_levels_errors(text, what, match):
    with pytest.raises(AssumptionError, match=match):
        split_levels(text, what=what)


def test_split_lags():
    assert split_lags("0, 3,12") == (0, 3, 12)
    with pytest.raises(AssumptionError, match="--lag item 2"):
        split_lags("3,x")


@settings(max_examples=40, deadline=None)
@given(st.lists(st.decimals(min_value=0, max_value=99, places=2), min_size=1, max_size=6))
def test_levels_keep_their_kind_and_order(levels):
    text = "CPR " + ",".join(f"{v}%" for v in levels)
    out = split_levels(text, what="prepay")
    assert out == tuple(f"CPR {v}%" for v in levels)


def test_grid_is_one_engine_pass_equal_to_separate_runs(monkeypatch):
    calls = []
    real = waterfall.run

    def counting(deal, collateral, scenarios=None, **kwargs):
        calls.append(len(scenarios))
        return real(deal, collateral, scenarios, **kwargs)

    monkeypatch.setattr(waterfall, "run", counting)
    found = grid(
        AUTO,
        AUTO_TAPE,
        prepay=["ABS 0.5%", "ABS 1.5%"],
        default=["CDR 0%", "CDR 8%", "CDR 20%"],
        quotes=Quotes(prices={"D": 99.0}),
    )
    assert calls == [6]
    assert found.result.n_scenarios == 6
    assert list(found.scenarios["prepay"]) == ["ABS 0.5%"] * 3 + ["ABS 1.5%"] * 3
    monkeypatch.setattr(waterfall, "run", real)
    name = "prepay=ABS 0.5% default=CDR 20%"
    alone = run(
        AUTO,
        AUTO_TAPE,
        {name: grid_scenarios(AUTO, prepay=["ABS 0.5%"], default=["CDR 20%"])[name]},
    )
    expected = tranche_metrics(alone, AUTO, quotes=Quotes(prices={"D": 99.0}))
    got = found.metrics[found.metrics.scenario == name].reset_index(drop=True)
    for column in ("yield", "wal", "principal_loss_pct", "max_interest_shortfall"):
        np.testing.assert_allclose(
            got[column].to_numpy(float), expected[column].to_numpy(float), rtol=1e-12, atol=1e-12
        )
    assert found.table("yield").shape == (6, len(AUTO.tranches))
    with pytest.raises(AssumptionError, match="is not a grid column"):
        found.table("colour")


def test_grid_without_lists_is_the_base_case():
    assert list(grid_scenarios(AUTO)) == ["base"]


def test_scenario_files(tmp_path):
    toml = tmp_path / "s.toml"
    toml.write_text('[mild]\ndefault = "CDR 1%"\n[harsh]\ndefault = "CDR 9%"\nlag = 6\n')
    chosen = read_scenario_file(toml, AUTO)
    assert list(chosen) == ["mild", "harsh"]
    assert chosen["harsh"].lag == 6 and chosen["harsh"].prepay == "ABS 1.5%"
    csv = tmp_path / "s.csv"
    csv.write_text("name,default,severity\nx,CDR 2%,40%\ny,CDR 4%,\n")
    chosen = read_scenario_file(csv, AUTO)
    assert chosen["x"].severity == "40%" and chosen["y"].severity == "50%"
    bad = tmp_path / "bad.csv"
    bad.write_text("name,default\nz,CDR lots\n")
    with pytest.raises(Exception, match=r"bad\.csv: z\.default"):
        read_scenario_file(bad, AUTO)
    with pytest.raises(AssumptionError, match=r"must be \.toml or \.csv"):
        read_scenario_file(tmp_path / "s.txt", AUTO)


def test_too_many_scenarios_is_refused():
    levels = [f"CDR {i / 10}%" for i in range(101)]
    with pytest.raises(AssumptionError, match="more than 10,000"):
        grid_scenarios(AUTO, default=levels, prepay=levels)
