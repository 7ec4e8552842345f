"""When defaulted loans stop counting (``losses.debit``), what the clean-up call pays for
them, and the example deals' loss allocation: hand-checked periods on hand-built flows."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from absstruct.deal import validate_deal
from absstruct.errors import DealError
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
from absstruct.waterfall import run

from .test_waterfall_examples import example

DATES = {
    "cutoff": dt.date(2026, 6, 30),
    "closing": dt.date(2026, 6, 30),
    "first_payment": dt.date(2026, 7, 31),
    "legal_final": dt.date(2027, 6, 30),
    "roll": "none",
}


def deal_of(**sections: Any):
    raw: dict[str, Any] = {"schema_version": 1, "name": "losses", "dates": dict(DATES)}
    raw.update(sections)
    return validate_deal(raw)


def flows_of(rows: list[list[dict[str, float]]], initial: float = 100.0) -> PoolFlows:
    """Scenarios of periods, each period a dict of pool columns (missing: 0)."""
    S, T = len(rows), len(rows[0])
    arrays = {c: np.zeros((S, T)) for c in POOL_COLUMNS}
    for s, periods in enumerate(rows):
        for t, period in enumerate(periods):
            for column, value in period.items():
                arrays[column][s, t] = value
    names = tuple(f"s{i}" for i in range(S))
    return PoolFlows(arrays=arrays, initial_balance=initial, scenario_names=names)


# Pool 100; period 1: 10 defaults (performing 90, 10 in foreclosure); period 2: liquidated,
# loss 4 and recovery 6 (paid with principal). Zero coupons; interest 4 (scenario 0) or 12
# (scenario 1) in period 1 and 4 in period 2.
DEFAULT_THEN_RECOVERY = [
    [
        {"performing_balance": 90, "new_defaults": 10, "in_foreclosure": 10,
         "interest_collections": interest},
        {"performing_balance": 90, "principal_loss": 4, "principal_recovery": 6,
         "principal_collections": 6, "interest_collections": 4},
        {"performing_balance": 0, "principal_collections": 90},
    ]
    for interest in (4.0, 12.0)
]  # fmt: skip
TRANCHES = [
    {"name": "A", "size": 80.0, "coupon": 0.0},
    {"name": "B", "size": 20.0, "coupon": 0.0},
    {"name": "R", "kind": "residual"},
]
PDL_WATERFALL = {
    "interest": [{"step": "cure_pdl"}, {"step": "pay_residual"}],
    "principal": [{"step": "pay_principal", "tranches": ["A", "B"]}],
}


def test_pdl_debited_at_default_and_credited_by_recoveries() -> None:
    # Scenario 0 (interest 4, 4):
    #   P1: debit 10 to B (bottom-up); cure 4 from interest -> B PDL 6; the 4 pays A (76).
    #   P2: recovery 6 credits the PDL senior first: B 6 -> 0; the 6 in principal funds pays
    #       A (70); interest 4 has nothing to cure -> residual 4.  Notes 90 = pool 90.
    # Scenario 1 (interest 12, 4):
    #   P1: debit 10, cure 10 -> A 70, residual 2.
    #   P2: recovery 6 finds no PDL: it is revenue -> residual 6 + 4 = 10; A stays 70.
    deal = deal_of(tranches=TRANCHES, losses={"allocation": "pdl", "debit": "default"},
                   waterfall=PDL_WATERFALL)  # fmt: skip
    result = run(deal, flows_of(DEFAULT_THEN_RECOVERY))
    a, b, r = (result.tranches[n] for n in ("A", "B", "R"))
    assert b["pdl"][0][:2].tolist() == pytest.approx([6.0, 0.0])
    assert b["pdl_cured"][0][:2].tolist() == pytest.approx([4.0, 0.0])
    assert b["pdl_credited"][0][:2].tolist() == pytest.approx([0.0, 6.0])
    assert a["balance"][0][:2].tolist() == pytest.approx([76.0, 70.0])
    assert r["residual_paid"][0][:2].tolist() == pytest.approx([0.0, 4.0])
    assert b["pdl"][1][:2].tolist() == pytest.approx([0.0, 0.0])
    assert b["pdl_credited"][1][:2].tolist() == pytest.approx([0.0, 0.0])
    assert a["balance"][1][:2].tolist() == pytest.approx([70.0, 70.0])
    assert r["residual_paid"][1][:2].tolist() == pytest.approx([2.0, 10.0])
    # Pool balance is the performing balance only.
    assert result.deal["pool_balance"][0][:2].tolist() == pytest.approx([90.0, 90.0])
    # Nothing is written down: both classes are repaid in period 3.
    assert sum(t["writedown"].sum() for t in result.tranches.values()) == pytest.approx(0.0)


def test_pdl_debited_at_liquidation() -> None:
    # Scenario 0, debited at liquidation: P1 nothing to debit, pool 90 + 10 in foreclosure;
    #   interest 4 -> residual.  P2: debit the loss 4 to B; the recovery 6 pays A (74);
    #   interest 4 cures B's 4 -> A 70.  Same end state, later.
    deal = deal_of(tranches=TRANCHES, losses={"allocation": "pdl"}, waterfall=PDL_WATERFALL)
    result = run(deal, flows_of(DEFAULT_THEN_RECOVERY[:1]))
    a, b, r = (result.tranches[n] for n in ("A", "B", "R"))
    assert b["pdl"][0][:2].tolist() == pytest.approx([0.0, 0.0])
    assert b["pdl_cured"][0][:2].tolist() == pytest.approx([0.0, 4.0])
    assert a["balance"][0][:2].tolist() == pytest.approx([80.0, 70.0])
    assert r["residual_paid"][0][:2].tolist() == pytest.approx([4.0, 0.0])
    assert result.deal["pool_balance"][0][:2].tolist() == pytest.approx([100.0, 90.0])


@pytest.mark.parametrize(
    ("debit", "b_writedowns", "a_balances", "residual"),
    [
        # At liquidation: P1 pool 90 + 10 = 100 = notes, no write-down (the old engine wrote B
        #   down by 10 here); P2 the recovery 6 pays A (74), notes 94 > pool 90: B down 4.
        ("loss", [0.0, 4.0], [80.0, 74.0], [4.0, 4.0]),
        # At default: P1 pool 90 < notes 100: B down 10; P2 the recovery 6 is revenue (the
        #   notes already dropped by the whole default) -> residual 6 + 4, A stays 80.
        ("default", [10.0, 0.0], [80.0, 80.0], [4.0, 10.0]),
    ],
)
def test_writedown_timing(debit, b_writedowns, a_balances, residual) -> None:
    deal = deal_of(
        tranches=TRANCHES,
        losses={"allocation": "writedown", "debit": debit},
        waterfall={"interest": [{"step": "pay_residual"}], "principal": PDL_WATERFALL["principal"]},
    )
    result = run(deal, flows_of(DEFAULT_THEN_RECOVERY[:1]))
    assert result.tranches["B"]["writedown"][0][:2].tolist() == pytest.approx(b_writedowns)
    assert result.tranches["A"]["balance"][0][:2].tolist() == pytest.approx(a_balances)
    assert result.tranches["R"]["residual_paid"][0][:2].tolist() == pytest.approx(residual)


CALL_FLOWS = [
    [
        # Pool 100 -> 35 performing + 10 defaulted awaiting recovery (45 collected): 45 is at
        # most 50% of the initial pool, so the seller calls in period 1.
        {"performing_balance": 35, "new_defaults": 10, "in_foreclosure": 10,
         "principal_collections": 45, "interest_collections": 1.0},
        {"performing_balance": 0, "principal_collections": 35, "principal_recovery": 5,
         "principal_loss": 5},
    ]
]  # fmt: skip


@pytest.mark.parametrize(
    ("call", "proceeds", "a_principal", "a_writedown", "residual"),
    [
        # Interest 1.0 pays A's 0.9 (90 x 12% / 12), 0.1 joins principal. Performing 35 at
        #   par, nothing for the defaulted: 45 + 35 + 0.1 = 80.1 to A, 9.9 written down.
        ({"pct": 0.5}, 35.0, 80.1, 9.9, 0.0),
        # Defaulted bought at par too: 45 + 45 + 0.1 = 90.1 -> A in full, residual 0.1.
        ({"pct": 0.5, "defaulted_price": 1.0}, 45.0, 90.0, 0.0, 0.1),
        # Defaulted at 60%: 35 + 6 = 41 -> 86.1 to A, 3.9 written down.
        ({"pct": 0.5, "defaulted_price": 0.6}, 41.0, 86.1, 3.9, 0.0),
        # minimum = "notes": the seller adds the 9.9 A still lacks after the waterfalls.
        ({"pct": 0.5, "minimum": "notes"}, 44.9, 90.0, 0.0, 0.0),
    ],
)
def test_call_price(call, proceeds, a_principal, a_writedown, residual) -> None:
    deal = deal_of(
        tranches=[{"name": "A", "size": 90.0, "coupon": 0.12}, {"name": "R", "kind": "residual"}],
        call=call,
        waterfall={
            "interest": [
                {"step": "pay_interest", "tranche": "A"},
                {"step": "transfer", "from": "interest_funds", "to": "principal_funds"},
            ],
            "principal": [{"step": "pay_principal", "tranche": "A"}],
        },
    )
    result = run(deal, flows_of(CALL_FLOWS))
    a = result.tranches["A"]
    assert result.deal["called"][0].tolist() == [1.0, 0.0]
    assert result.deal["call_proceeds"][0][0] == pytest.approx(proceeds)
    assert a["interest_paid"][0][0] == pytest.approx(0.9)
    assert a["principal_paid"][0][0] == pytest.approx(a_principal)
    assert a["writedown"][0][0] == pytest.approx(a_writedown)
    assert result.tranches["R"]["residual_paid"][0][0] == pytest.approx(residual)


def test_bad_debit_is_named() -> None:
    with pytest.raises(DealError, match=r"losses\.debit"):
        deal_of(tranches=TRANCHES, losses={"debit": "charge_off"}, waterfall=PDL_WATERFALL)
    with pytest.raises(DealError, match=r"call\.defaulted_price"):
        deal_of(tranches=TRANCHES, call={"pct": 0.1, "defaulted_price": -1},
                waterfall=PDL_WATERFALL)  # fmt: skip


# -- the example deals ------------------------------------------------------------------------


def test_cn_consumer_subordinated_not_written_down_at_the_call() -> None:
    # Debited at default, the defaulted balance is cured from excess spread before anything
    # reaches 次级 as residual; the call buys performing loans at par (which equal the notes
    # less the PDL) and the defaulted ones at 15%.
    _, _, result = example("cn_consumer_revolving")
    s = result.scenario_index("base")
    (t,) = np.flatnonzero(result.deal["called"][s] > 0)
    pool = result.pool
    price = pool["performing_balance"][s][t] + 0.15 * pool["in_foreclosure"][s][t]
    assert result.deal["call_proceeds"][s][t] == pytest.approx(price)
    assert result.tranches["次级"]["writedown"][s].sum() == pytest.approx(0.0, abs=0.01)
    for name in ("优先A", "优先B", "次级"):
        assert result.tranches[name]["pdl"][s][t - 1] == pytest.approx(0.0, abs=0.01)


def test_mortgage_stress_writes_down_only_realized_losses() -> None:
    # Stated balance: loans in foreclosure stay in the pool until liquidated (12-month lag),
    # so nothing is written down before the first loss, and never more than the losses.
    _, _, result = example("mortgage")
    s = result.scenario_index("stress")
    writedowns = sum(t["writedown"][s] for t in result.tranches.values())
    losses = result.pool["principal_loss"][s]
    first_loss = int(np.flatnonzero(losses > 0)[0])
    assert first_loss == 12
    assert writedowns[: first_loss + 1].sum() == 0.0
    assert np.all(np.cumsum(writedowns) <= np.cumsum(losses) + 1e-6)
    notes = result.deal["notes_balance"][s]
    assert np.all(notes[:-1] <= result.deal["pool_balance"][s][:-1] + 1e-6)


def test_us_auto_notes_track_pool_less_target_oc() -> None:
    # Charged off at default: the pool balance is the performing balance. Once the target
    # (12% of the pool) is reached the notes stay at pool - OC; the notes are never paid
    # below it; when the 1.5% floor binds (the pool near 12.5% of the initial) the target
    # stops falling with the pool and the notes may lag it.
    _, _, result = example("us_auto")
    d = result.deal
    for s in range(len(result.scenario_names)):
        alive = d["called"][s].cumsum() == 0
        pool = d["pool_balance"][s]
        assert np.allclose(pool[alive], result.pool["performing_balance"][s][alive])
        gap = d["notes_balance"][s] - (pool - d["oc_target"][s])
        reached = int(np.flatnonzero(np.abs(gap) < 0.01)[0])
        assert reached <= 6
        assert np.all(gap[alive] > -0.01)
        pct_binds = alive & (np.abs(d["oc_target"][s] - 0.12 * pool) < 0.01)
        pct_binds[:reached] = False
        assert pct_binds.sum() > 15
        assert np.all(np.abs(gap[pct_binds]) < 0.01)


def _revolving_deal(concentration: dict[str, Any]):
    return deal_of(
        pool={"concentration": concentration},
        tranches=TRANCHES,
        revolving={
            "periods": 1,
            "rep_lines": [
                {"weight": 0.6, "rate": 0.15, "term": 6, "amortization": "level_pay",
                 "grade": "A", "region": "Shanghai"},
                {"weight": 0.4, "rate": 0.18, "term": 6, "amortization": "level_pay",
                 "grade": "B", "region": "Beijing"},
            ],
        },
        waterfall={"interest": [{"step": "pay_residual"}],
                   "principal": [{"step": "purchase"}, *PDL_WATERFALL["principal"]]},
    )  # fmt: skip


def test_rep_line_mix_within_concentration_limits() -> None:
    # Grade A is 60% of each purchase: a 50% limit per grade is broken, a 60% one is not;
    # regions are 60/40 too.  Checked before anything runs.
    flows = flows_of([[{"performing_balance": 50, "principal_collections": 50}] * 3])
    bad = _revolving_deal({"max_by": {"grade": 0.5}, "max_region": 0.55})
    with pytest.raises(DealError) as caught:
        run(bad, flows)
    message = str(caught.value)
    assert "revolving.rep_lines.grade: 'A' takes 60.00% of each purchase" in message
    assert "above the pool limit max_by.grade of 50.00%" in message
    assert "revolving.rep_lines.region: 'Shanghai' takes 60.00%" in message
    assert "'B'" not in message
    good = _revolving_deal({"max_by": {"grade": 0.6}, "max_obligor": 0.01})
    assert run(good, flows).deal["purchases"][0][0] == pytest.approx(50.0)


@pytest.mark.parametrize(
    ("curable", "breached", "a_paid", "b_paid"),
    [
        # P3: OC 95 / 90 = 1.056 >= 1.02 again: cured, pro-rata 55:35 of 18 -> 11 and 7.
        (True, [0.0, 1.0, 0.0], 11.0, 7.0),
        # Not curable: still sequential, all 18 to A.
        (False, [0.0, 1.0, 1.0], 18.0, 0.0),
    ],
)
def test_oc_trigger_curable_or_not(curable, breached, a_paid, b_paid) -> None:
    # Pool 100, A 60 / B 35 pro-rata, OC test pool / notes (both after the previous payment
    # date) below 1.02 -> sequential.
    # P1: OC 100 / 95 = 1.053, passes; 5 defaults (pool 95), nothing collected.
    # P2: OC 95 / 95 = 1.0 < 1.02: breached; interest 5 joins principal, paid sequentially
    #     -> A 55, B 35.
    # P3: principal 18 collected (pool 77); see the table.
    deal = deal_of(
        tranches=[{"name": "A", "size": 60.0, "coupon": 0.0},
                  {"name": "B", "size": 35.0, "coupon": 0.0}, {"name": "R", "kind": "residual"}],
        triggers=[{"name": "oc", "kind": "oc_ratio", "threshold": 1.02, "curable": curable,
                   "effects": ["sequential"]}],
        waterfall={
            "interest": [{"step": "transfer", "from": "interest_funds", "to": "principal_funds"}],
            "principal": [{"step": "pay_principal", "tranches": ["A", "B"], "mode": "pro_rata"}],
        },
    )  # fmt: skip
    flows = flows_of(
        [
            [
                {"performing_balance": 95, "new_defaults": 5, "principal_loss": 5},
                {"performing_balance": 95, "interest_collections": 5},
                {"performing_balance": 77, "principal_collections": 18},
                {"performing_balance": 0, "principal_collections": 77},
            ]
        ]
    )
    result = run(deal, flows)
    assert result.triggers["oc"]["value"][0][:3].tolist() == pytest.approx([100 / 95, 1.0, 95 / 90])
    assert result.triggers["oc"]["breached"][0][:3].tolist() == breached
    a, b = result.tranches["A"], result.tranches["B"]
    assert a["principal_paid"][0][:2].tolist() == pytest.approx([0.0, 5.0])
    assert b["principal_paid"][0][:2].tolist() == pytest.approx([0.0, 0.0])
    assert a["principal_paid"][0][2] == pytest.approx(a_paid)
    assert b["principal_paid"][0][2] == pytest.approx(b_paid)


def test_mortgage_oc_trigger_alone_switches_to_sequential() -> None:
    # The mortgage deal with its OC test only, stress case: pro-rata until the OC ratio
    # (pool / notes after the previous payment date) falls below 101%, then M gets nothing
    # while A is outstanding.
    deal, tape, _ = example("mortgage")
    oc = next(t for t in deal.triggers if t.name == "oc_test")
    result = run(deal.model_copy(update={"triggers": (oc,)}), tape, "stress")
    ledger = result.triggers["oc_test"]
    first = int(np.flatnonzero(ledger["breached"][0] > 0)[0])
    assert ledger["value"][0][first] < 1.01 <= ledger["value"][0][first - 1]
    m_paid = result.tranches["M"]["principal_paid"][0]
    a_left = result.tranches["A"]["balance"][0] > 0
    assert np.all(m_paid[:first] > 0)
    breached = ledger["breached"][0] > 0
    assert np.all(m_paid[breached & a_left] == 0.0)
