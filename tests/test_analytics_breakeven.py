"""Breakeven: no loss at the reported level, a loss just above it, few engine passes."""

from __future__ import annotations

import pytest

import absstruct.waterfall as waterfall
from absstruct.analytics.breakeven import breakeven, loss_at
from absstruct.deal import load_deal
from absstruct.errors import AbsStructError, AssumptionError, DealError
from absstruct.waterfall import deal_tape

AUTO = load_deal("deals/us_auto.toml")
AUTO_TAPE = deal_tape(AUTO)
CN = load_deal("deals/cn_consumer_revolving.toml")
CN_TAPE = deal_tape(CN)


@pytest.mark.parametrize(
    ("deal", "tape", "tranche", "on"),
    [
        (AUTO, AUTO_TAPE, "D", "cdr"),
        (AUTO, AUTO_TAPE, "B", "multiple"),
        (CN, CN_TAPE, "优先B", "cdr"),
        (CN, CN_TAPE, "优先A", "cnl"),
    ],
)
def test_no_loss_at_the_level_and_a_loss_just_above(deal, tape, tranche, on):
    found = breakeven(deal, tape, tranche, on=on)
    assert found.level is not None and not found.capped
    assert found.upper_bracket - found.level <= 1e-4
    assert found.passes <= 5, f"{found.passes} engine passes"
    loss, _ = loss_at(deal, tape, tranche, [found.level, found.level + 1e-3], on=on)
    print(f"{tranche} {on}: level {found.level} loss there {loss[0]}, +1e-3 {loss[1]}")
    assert loss[0] == 0.0
    assert loss[1] > 0.0


def test_shortfall_breakeven_is_solved_in_the_same_passes():
    found = breakeven(AUTO, AUTO_TAPE, "D", on="multiple")
    assert found.shortfall_level is not None and not found.shortfall_capped
    _, shortfall = loss_at(
        AUTO, AUTO_TAPE, "D", [found.shortfall_level, found.shortfall_level + 1e-3], on="multiple"
    )
    assert shortfall[0] == 0.0 and shortfall[1] > 0.0
    assert found.default.startswith("CDR 2% x ")


def test_each_pass_is_one_engine_run_over_a_batch(monkeypatch):
    calls = []
    real = waterfall.run

    def counting(deal, collateral, scenarios=None, **kwargs):
        calls.append(len(scenarios))
        return real(deal, collateral, scenarios, **kwargs)

    monkeypatch.setattr(waterfall, "run", counting)
    found = breakeven(AUTO, AUTO_TAPE, "C", on="cdr", batch=16)
    assert len(calls) == found.passes
    assert sum(calls) == found.scenarios_run
    assert max(calls) <= 32


def test_a_tranche_that_never_loses_is_capped():
    found = breakeven(AUTO, AUTO_TAPE, "A-1", on="cdr", upper=0.05)
    assert found.capped and found.level == 0.05 and found.passes == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"tranche": "Z"}, DealError, "unknown tranche 'Z'"),
        ({"tranche": "Certificates"}, DealError, "has no balance"),
        ({"tranche": "D", "on": "loss"}, AssumptionError, "is not one of cdr, multiple, cnl"),
        ({"tranche": "D", "tolerance": 0.0}, AssumptionError, "must be above 0"),
        ({"tranche": "D", "severity": "[40%, 60%]", "on": "cnl"}, AssumptionError, "flat"),
        ({"tranche": "D", "prepay": "ABS 200%"}, AbsStructError, "prepay"),
    ],
)
def test_bad_breakeven_inputs(kwargs, error, match):
    with pytest.raises(error, match=match):
        breakeven(AUTO, AUTO_TAPE, **kwargs)


def test_the_tape_is_aggregated_once_for_every_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    from absstruct.projection.schedules import LoanArrays

    reads = []
    original = LoanArrays.from_tape.__func__

    def counted(cls, tape, **kwargs):
        reads.append(len(tape))
        return original(cls, tape, **kwargs)

    monkeypatch.setattr(LoanArrays, "from_tape", classmethod(counted))
    found = breakeven(AUTO, AUTO_TAPE, "D", on="cdr")
    assert found.passes >= 2
    assert reads == [len(AUTO_TAPE)]  # one aggregation, however many passes
