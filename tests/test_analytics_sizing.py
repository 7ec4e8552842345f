"""Sizing: each sized note loses nothing under its stress and loses at size + 0.1% of the pool."""

from __future__ import annotations

import pytest

from absstruct.analytics.metrics import tranche_losses
from absstruct.analytics.sizing import (
    parse_stresses,
    size_tranches,
    sized_deal_text,
    write_sized_deal,
)
from absstruct.deal import load_deal
from absstruct.errors import AssumptionError, DealError
from absstruct.waterfall import deal_tape, run

AUTO = load_deal("deals/us_auto.toml")
AUTO_TAPE = deal_tape(AUTO)


@pytest.fixture(scope="module")
def sized():
    return size_tranches(AUTO, AUTO_TAPE, {"C": 6.0, "D": 4.0})


def _loss(deal, name: str, multiple: float) -> float:
    result = run(deal, AUTO_TAPE, {"stress": _stress(multiple)})
    return float(tranche_losses(result, name)[0][0])


def _stress(multiple: float):
    from absstruct.deal.scenarios import assumptions_from_table

    return assumptions_from_table({**AUTO.pool.assumptions, "default": f"CDR 2% x {multiple}"})


def _with_size(deal, name: str, size: float):
    tranches = tuple(
        t.model_copy(update={"size": size}) if t.name == name else t for t in deal.tranches
    )
    return deal.model_copy(update={"tranches": tranches})


@pytest.mark.parametrize(("name", "multiple"), [("C", 6.0), ("D", 4.0)])
def test_zero_loss_at_the_size_and_a_loss_at_size_plus_a_tenth_percent(sized, name, multiple):
    sizes = sized.sizes()
    pool = sized.pool_balance
    at = _loss(sized.deal, name, multiple)
    above = _loss(_with_size(sized.deal, name, sizes[name] + 0.001 * pool), name, multiple)
    print(f"{name}: size {sizes[name]:,.2f} loss {at} / +0.1% {above}")
    assert at == 0.0
    assert above > 0.0
    row = sized.table.set_index("tranche").loc[name]
    assert row["loss_at_stress"] == 0.0 and row["loss_above"] > 0.0


def test_credit_enhancement_adds_up(sized):
    table = sized.table.set_index("tranche")
    pool = sized.pool_balance
    sizes = sized.sizes()
    assert table.loc["D", "subordination"] == pytest.approx(0.0)
    assert table.loc["C", "subordination"] == pytest.approx(sizes["D"] / pool)
    oc = (pool - sum(sizes.values())) / pool
    assert table.loc["C", "oc"] == pytest.approx(oc)
    assert table.loc["C", "reserve"] == pytest.approx(0.01)
    assert table.loc["C", "credit_enhancement"] == pytest.approx(sizes["D"] / pool + oc + 0.01)
    # Unstressed notes keep their deal sizes.
    assert sizes["A-1"] == pytest.approx(0.12 * pool)


def test_written_deal_reloads_with_the_sizes(sized, tmp_path):
    target = tmp_path / "sized.toml"
    write_sized_deal(sized, "deals/us_auto.toml", target)
    again = load_deal(target)
    pool = sized.pool_balance
    for name in ("C", "D"):
        written = again.tranche(name).size_amount(pool)
        assert sized.sizes()[name] - 1e-7 * pool <= written <= sized.sizes()[name]
    # The tape path moved with the file: the copy still finds its tape.
    assert len(deal_tape(again)) == len(AUTO_TAPE)
    assert "# US auto-loan ABS" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("text", "shares", "expected"),
    [
        ('[[tranches]]\nname = "A"\nsize = 5.0\n', {"A": 0.5}, 'size = "50.000000%"'),
        ("[[tranches]]\nname = 'A'\ncoupon = 0.01\n", {"A": 0.25}, 'size = "25.000000%"'),
        ('[[tranches]]\nname = "A"\nsize = "80%" # x\n', {"A": 0.123456789}, '"12.345678%" # x'),
    ],
)
def test_sized_text_rewrites_only_size_lines(text, shares, expected):
    assert expected in sized_deal_text(text, shares)


def test_sized_text_names_a_missing_block():
    with pytest.raises(DealError, match="no \\[\\[tranches\\]\\] block named B"):
        sized_deal_text('[[tranches]]\nname = "A"\n', {"B": 0.1})


@pytest.mark.parametrize(
    ("text", "match"),
    [("A=5x,B", "is not TRANCHE=MULTIPLE"), ("A=0x", "above 0"), ("A=2x,A=3x", "repeats")],
)
def test_bad_stress_text(text, match):
    with pytest.raises(AssumptionError, match=match):
        parse_stresses(text)


@pytest.mark.parametrize(
    ("stresses", "error", "match"),
    [
        ({"Z": 3.0}, DealError, "'Z' is not a tranche of the deal"),
        ({"Certificates": 3.0}, DealError, "is the residual"),
        ({"D": 80.0}, AssumptionError, "above a 100% default rate"),
    ],
)
def test_bad_stresses(stresses, error, match):
    with pytest.raises(error, match=match):
        size_tranches(AUTO, AUTO_TAPE, stresses)
