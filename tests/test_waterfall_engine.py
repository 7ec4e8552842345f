"""The waterfall engine on hand-built pool flows: hand-checked periods, every step type,
conservation, and the scenario-array run equal to one-scenario runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pytest

from absstruct.deal import validate_deal
from absstruct.errors import DealError, WaterfallError
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
from absstruct.waterfall import run
from absstruct.waterfall.engine import Engine
from absstruct.waterfall.schedule import build_schedule

DATES = {
    "cutoff": dt.date(2026, 6, 30),
    "closing": dt.date(2026, 6, 30),
    "first_payment": dt.date(2026, 7, 31),
    "legal_final": dt.date(2030, 12, 31),
    "roll": "none",
    "day_count": "30/360",
}


def deal_of(**sections: Any):
    """A deal from keyword sections on top of a minimal base (30/360, month-end dates)."""
    raw: dict[str, Any] = {"schema_version": 1, "name": "test", "dates": dict(DATES)}
    raw.update(sections)
    return validate_deal(raw)


def flows_of(
    principal: list[list[float]],
    interest: list[list[float]],
    *,
    loss: list[list[float]] | None = None,
    initial: float = 100.0,
    names: tuple[str, ...] | None = None,
) -> PoolFlows:
    """Pool flows where the performing balance falls by principal and losses."""
    p = np.asarray(principal, dtype=float)
    S, T = p.shape
    lo = np.zeros((S, T)) if loss is None else np.asarray(loss, dtype=float)
    arrays = {c: np.zeros((S, T)) for c in POOL_COLUMNS}
    arrays["principal_collections"] = p
    arrays["interest_collections"] = np.asarray(interest, dtype=float)
    arrays["principal_loss"] = lo
    arrays["new_defaults"] = lo
    arrays["performing_balance"] = initial - np.cumsum(p + lo, axis=1)
    return PoolFlows(
        arrays=arrays,
        initial_balance=initial,
        scenario_names=names or tuple(f"s{i}" for i in range(S)),
    )


SEQ_DEAL = dict(
    tranches=[
        {"name": "A", "size": 60.0, "coupon": 0.12},
        {"name": "B", "size": 30.0, "coupon": 0.24},
        {"name": "R", "kind": "residual"},
    ],
    fees=[{"name": "trustee", "rate": 0.12, "fixed": 0.5}],
    waterfall={
        "interest": [
            {"step": "pay_fee", "fee": "trustee"},
            {"step": "pay_interest", "tranche": "A"},
            {"step": "pay_interest", "tranche": "B"},
        ],
        "principal": [{"step": "pay_principal", "tranches": ["A", "B"]}],
    },
)


@pytest.mark.parametrize(
    ("on_unpaid", "a_due", "b_due", "residual"),
    [
        # Carried flat: period 2 A due 10 x 1% + 0.1 = 0.2; B due 0.6 + 0.6 = 1.2;
        #   interest 3.0 -> fee 1.0, A 0.2, B 1.2, residual 0.6 (+ principal 10).
        (False, 0.2, 1.2, 10.6),
        # Carried at the coupon (the default): A's 0.1 earns 1% -> 0.101, due 0.201; B's 0.6
        #   earns 2% -> 0.612, due 1.212; residual 3.0 - 1.0 - 0.201 - 1.212 = 0.587 (+ 10).
        (True, 0.201, 1.212, 10.587),
    ],
)
def test_sequential_hand_checked(on_unpaid, a_due, b_due, residual):
    # Pool 100; A 60 at 12%, B 30 at 24%, 30/360 monthly (1/12 a period).
    # Period 1: fee = 12% x 100 / 12 + 0.5 = 1.5; A interest 60 x 1% = 0.6; B 30 x 2% = 0.6.
    #   Interest 2.0 -> fee 1.5, A 0.5 (short 0.1), B 0 (short 0.6); residual 0.
    #   Principal 50 -> A 50 (A 10 left), B 0.
    # Period 2: fee = 12% x 50 / 12 + 0.5 = 1.0; A due 10 x 1% + the carried 0.1 (with or
    #   without interest on it, see the table); B due 30 x 2% + the carried 0.6.
    #   Principal 50 -> A 10, B 30, residual 10.
    tranches = [dict(t, interest_on_unpaid=on_unpaid) for t in SEQ_DEAL["tranches"][:2]]
    deal = deal_of(**{**SEQ_DEAL, "tranches": [*tranches, SEQ_DEAL["tranches"][2]]})
    result = run(deal, flows_of([[50.0, 50.0]], [[2.0, 3.0]]))
    a, b, r = (result.tranches[n] for n in ("A", "B", "R"))
    assert result.fees["trustee"]["due"][0].tolist() == pytest.approx([1.5, 1.0])
    assert result.fees["trustee"]["paid"][0].tolist() == pytest.approx([1.5, 1.0])
    assert a["interest_due"][0].tolist() == pytest.approx([0.6, a_due])
    assert a["interest_paid"][0].tolist() == pytest.approx([0.5, a_due])
    assert a["interest_shortfall"][0].tolist() == pytest.approx([0.1, 0.0])
    assert b["interest_due"][0].tolist() == pytest.approx([0.6, b_due])
    assert b["interest_paid"][0].tolist() == pytest.approx([0.0, b_due])
    assert a["principal_paid"][0].tolist() == pytest.approx([50.0, 10.0])
    assert b["principal_paid"][0].tolist() == pytest.approx([0.0, 30.0])
    assert r["residual_paid"][0].tolist() == pytest.approx([0.0, residual])
    assert a["balance"][0].tolist() == pytest.approx([10.0, 0.0])


def test_pro_rata_switches_to_sequential_on_trigger():
    # A 60 / B 30 pro-rata (2:1). Period 1: principal 30 -> A 20, B 10.
    # Cumulative loss after period 2 is 6 / 100 = 6% > 5%: sequential from period 2 on.
    # Period 2: principal 30 -> all to A (A 40 -> 10).
    tranches = SEQ_DEAL["tranches"]
    deal = deal_of(
        tranches=tranches,
        triggers=[
            {
                "name": "cnl",
                "kind": "cumulative_net_loss",
                "threshold": 0.05,
                "effects": ["sequential"],
            }
        ],
        waterfall={
            "interest": [{"step": "pay_interest", "tranches": ["A", "B"]}],
            "principal": [{"step": "pay_principal", "tranches": ["A", "B"], "mode": "pro_rata"}],
        },
    )
    flows = flows_of([[30.0, 30.0, 34.0]], [[0.0, 0.0, 0.0]], loss=[[0.0, 6.0, 0.0]])
    result = run(deal, flows)
    assert result.tranches["A"]["principal_paid"][0].tolist() == pytest.approx([20.0, 30.0, 10.0])
    assert result.tranches["B"]["principal_paid"][0].tolist() == pytest.approx([10.0, 0.0, 20.0])
    assert result.triggers["cnl"]["breached"][0].tolist() == [0.0, 1.0, 1.0]
    assert result.tranches["B"]["writedown"][0].tolist() == pytest.approx([0.0, 0.0, 0.0])
    # The pro-rata interest group shares a shortfall in proportion to the amounts due.
    assert result.tranches["A"]["interest_shortfall"][0][0] == pytest.approx(0.6)


def test_reserve_draws_and_refills_to_target():
    # Reserve starts at 2, target 2% of the current pool. Period 1 interest 0.2 against
    # A interest due 0.6 -> 0.4 drawn. Period 1 pool 50 -> target 1; balance 1.6 stays
    # (no deposit needed), no release without release_excess.
    deal = deal_of(
        tranches=SEQ_DEAL["tranches"],
        accounts=[{"name": "rsv", "initial": 2.0, "target": {"pct": 0.02, "base": "current_pool"}}],
        waterfall={
            "interest": [
                {"step": "pay_interest", "tranche": "A", "draw_from": ["rsv"]},
                {"step": "pay_interest", "tranche": "B"},
                {"step": "fund_reserve", "account": "rsv"},
            ],
            "principal": [{"step": "pay_principal", "tranches": ["A", "B"]}],
        },
    )
    result = run(deal, flows_of([[50.0, 10.0, 40.0]], [[0.2, 2.0, 2.0]]))
    acct = result.accounts["rsv"]
    assert acct["draw"][0][0] == pytest.approx(0.4)
    assert acct["balance"][0][0] == pytest.approx(1.6)
    assert acct["target"][0][:2].tolist() == pytest.approx([1.0, 0.8])
    # Last period: the account is emptied and its cash flows through the waterfall.
    assert acct["balance"][0][-1] == 0.0
    assert result.tranches["A"]["interest_paid"][0][0] == pytest.approx(0.6)


def test_pdl_debited_bottom_up_and_cured_from_excess_interest():
    # Loss 35 in period 1: B (30) takes 30, A takes 5. Interest 4 pays A 0.6, B 0.6, then
    # cures 2.8 of PDL, senior first (A 5 -> 2.2), moving it to principal funds.
    deal = deal_of(
        tranches=SEQ_DEAL["tranches"],
        losses={"allocation": "pdl"},
        waterfall={
            "interest": [
                {"step": "pay_interest", "tranche": "A"},
                {"step": "pay_interest", "tranche": "B"},
                {"step": "cure_pdl"},
            ],
            "principal": [{"step": "pay_principal", "tranches": ["A", "B"]}],
        },
    )
    result = run(deal, flows_of([[10.0, 55.0]], [[4.0, 0.0]], loss=[[35.0, 0.0]]))
    a, b = result.tranches["A"], result.tranches["B"]
    assert a["pdl"][0][0] == pytest.approx(2.2)
    assert b["pdl"][0][0] == pytest.approx(30.0)
    assert a["pdl_cured"][0][0] == pytest.approx(2.8)
    assert a["principal_paid"][0][0] == pytest.approx(12.8)
    # Final period: A gets 47.2 of 55, B 7.8; B's last 22.2 is written down.
    assert b["writedown"][0][-1] == pytest.approx(22.2)


def test_clean_up_call_and_guarantee():
    # Call at 10%: pool after period 2 is 8 <= 10 -> proceeds 8 in period 2; nothing after.
    deal = deal_of(
        tranches=SEQ_DEAL["tranches"],
        call={"pct": 0.10},
        support=[{"name": "g", "kind": "guarantee", "limit": 3.0}],
        waterfall=SEQ_DEAL["waterfall"] | {"interest": [{"step": "pay_interest", "tranche": "A"}]},
    )
    flows = flows_of(
        [[50.0, 40.0, 8.0], [50.0, 40.0, 8.0]],
        [[1, 1, 1], [1, 1, 1]],
        loss=[[0, 2.0, 0], [0, 2.0, 0]],
    )
    result = run(deal, flows, call=[True, False])
    called = result.deal["called"]
    assert called[0].tolist() == [0.0, 1.0, 0.0] and called[1].tolist() == [0.0, 0.0, 0.0]
    assert result.deal["call_proceeds"][0][1] == pytest.approx(8.0)
    assert result.pool["principal_collections"][0][2] == 0.0
    assert result.support["g"]["draw"][0].tolist() == pytest.approx([0.0, 2.0, 0.0])
    # Period 1: A interest 0.6 of 1 (residual 0.4), A principal 50.
    # Called (scenario 0), period 2: 40 + 2 (guarantee) + 8 (call) = 50 retires A 10 and
    # B 30; residual 10 + interest 1 - 0.1 = 10.9; nothing in period 3.
    # Not called (scenario 1): period 2 residual 2 + 0.9; period 3 residual 8 + 1.
    residual = result.tranches["R"]["residual_paid"]
    assert residual[0].tolist() == pytest.approx([0.4, 10.9, 0.0])
    assert residual[1].tolist() == pytest.approx([0.4, 2.9, 9.0])


def test_shortfall_undertaking_covers_interest_up_to_its_limit():
    deal = deal_of(
        tranches=SEQ_DEAL["tranches"],
        support=[{"name": "u", "kind": "shortfall_undertaking", "limit": 0.5}],
        waterfall={
            "interest": [{"step": "pay_interest", "tranche": "A", "support": ["u"]}],
            "principal": [{"step": "pay_principal", "tranches": ["A", "B"]}],
        },
    )
    result = run(deal, flows_of([[50.0, 50.0]], [[0.2, 0.0]]))
    # A due 0.6; 0.2 from collections, 0.4 from the undertaking; period 2 due 0.1, 0.1 drawn.
    assert result.support["u"]["draw"][0].tolist() == pytest.approx([0.4, 0.1])
    assert result.support["u"]["used"][0][-1] == pytest.approx(0.5)
    assert result.deal["undertaking_draws"][0].tolist() == pytest.approx([0.4, 0.1])


def test_oc_target_turbo_and_trap():
    # Notes 90 of 100; target OC 20% of current pool. Period 1 pool 80 -> target 16;
    # notes may be 64: PDA = 90 - 64 = 26 from principal 20 + excess interest 6.
    deal = deal_of(
        tranches=[{"name": "A", "size": 90.0, "coupon": 0.0}, {"name": "R", "kind": "residual"}],
        oc={"pct": 0.2},
        waterfall={
            "interest": [
                {"step": "pay_interest", "tranche": "A"},
                {"step": "transfer", "from": "interest_funds", "to": "principal_funds"},
            ],
            "principal": [
                {"step": "pay_principal", "tranche": "A", "amount": "target"},
                {"step": "pay_residual"},
            ],
        },
    )
    result = run(deal, flows_of([[20.0, 80.0]], [[10.0, 0.0]]))
    assert result.deal["principal_distribution"][0][0] == pytest.approx(26.0)
    assert result.tranches["A"]["principal_paid"][0][0] == pytest.approx(26.0)
    assert result.tranches["R"]["residual_paid"][0][0] == pytest.approx(4.0)


def test_acceleration_switches_waterfall():
    # A senior interest shortfall in period 1 accelerates from period 2: everything pays A.
    deal = deal_of(
        tranches=SEQ_DEAL["tranches"],
        triggers=[
            {
                "name": "eod",
                "kind": "interest_shortfall",
                "tranches": ["A"],
                "threshold": 0.0,
                "effects": ["accelerate"],
            }
        ],
        waterfall={
            "interest": [
                {"step": "pay_interest", "tranche": "A"},
                {"step": "pay_interest", "tranche": "B"},
            ],
            "principal": [{"step": "pay_principal", "tranches": ["A", "B"], "mode": "pro_rata"}],
            "acceleration": [
                {"step": "pay_interest", "tranche": "A"},
                {"step": "pay_principal", "tranche": "A"},
                {"step": "pay_interest", "tranche": "B"},
                {"step": "pay_principal", "tranche": "B"},
            ],
        },
    )
    result = run(deal, flows_of([[30.0, 30.0, 30.0]], [[0.1, 5.0, 5.0]]))
    assert result.deal["accelerated"][0].tolist() == [0.0, 1.0, 1.0]
    a = result.tranches["A"]
    assert a["principal_paid"][0][0] == pytest.approx(20.0)  # pro-rata 2:1 before
    # Period 2: 30 + 5 = 35 in one pot; A interest 40 x 1% = 0.4 plus 0.5 carried, which
    # earns 1% (0.005) -> 35 - 0.905 = 34.095.
    assert a["principal_paid"][0][1] == pytest.approx(34.095)
    events = result.trigger_events(0)
    # The period-1 shortfall is tested on period 2's determination date.
    assert set(zip(events["trigger"], events["event"], events["period"], strict=True)) == {
        ("eod", "breached", 2),
        ("acceleration", "started", 2),
    }


def test_revolving_purchases_add_shifted_unit_flows():
    # Unit flows: one unit pays 0.5 principal in each of its first two periods.
    deal = deal_of(
        tranches=[{"name": "A", "size": 100.0, "coupon": 0.0}, {"name": "R", "kind": "residual"}],
        revolving={
            "periods": 1,
            "rep_lines": [{"weight": 1, "rate": 0.1, "term": 2, "amortization": "equal_principal"}],
        },
        waterfall={
            "interest": [{"step": "pay_residual"}],
            "principal": [{"step": "purchase"}, {"step": "pay_principal", "tranche": "A"}],
        },
    )
    pool = flows_of([[40.0, 60.0, 0.0, 0.0]], [[0.0] * 4])
    unit_arrays = {c: np.zeros((1, 4)) for c in POOL_COLUMNS}
    unit_arrays["principal_collections"][0, :2] = 0.5
    unit_arrays["performing_balance"][0, :2] = [0.5, 0.0]
    unit = PoolFlows(arrays=unit_arrays, initial_balance=1.0, scenario_names=("s0",))
    result = run(deal, pool, unit_flows=unit)
    # Period 1 buys 40; periods 2 and 3 collect 20 each from it.  The run lasts one
    # revolving period plus the unit flows' horizon: 5 periods.
    assert result.deal["purchases"][0].tolist() == pytest.approx([40.0, 0, 0, 0, 0])
    assert result.pool["principal_collections"][0].tolist() == pytest.approx([40, 80, 20, 0, 0])
    assert result.tranches["A"]["principal_paid"][0].tolist() == pytest.approx([0, 80, 20, 0, 0])
    assert result.pool["performing_balance"][0][0] == pytest.approx(100.0)


def test_engine_refuses_broken_conservation():
    deal = deal_of(**SEQ_DEAL)
    flows = flows_of([[50.0, 50.0]], [[2.0, 3.0]])
    engine = Engine(
        deal, dict(flows.arrays), 100.0, build_schedule(deal, 2), scenario_names=("s0",)
    )
    original = engine._residual

    def leaky(amount, tranche=None):  # drops a cent of residual on the floor
        original(amount - 0.01, tranche)

    engine._residual = leaky  # type: ignore[method-assign]
    with pytest.raises(WaterfallError, match=r"period 1, scenario 's0': cash not conserved"):
        engine.run()


def test_sizes_above_the_pool_are_refused_at_run_time():
    deal = deal_of(
        tranches=[{"name": "A", "size": 120.0, "coupon": 0.01}],
        waterfall={"interest": [{"step": "pay_interest", "tranche": "A"}]},
    )
    with pytest.raises(DealError, match=r"tranches\[0\]\.size: 120.0 takes the tranche sizes"):
        run(deal, flows_of([[50.0, 50.0]], [[2.0, 3.0]]))


def test_call_flags_must_match_scenarios():
    deal = deal_of(**SEQ_DEAL, call={"pct": 0.1})
    with pytest.raises(DealError, match="call: 3 flags given for 1 scenarios"):
        run(deal, flows_of([[50.0, 50.0]], [[2.0, 3.0]]), call=[True, True, False])


def test_last_period_reserve_pays_notes_before_residual():
    # Pool 100 pays 50, then 10 and loses 40; notes 90. Period 2: the reserve (10, no
    # target) is emptied into the principal funds after the interest waterfall: 10 + 10
    # pays A 10 and B 10, B's last 20 is written down, and the interest waterfall's own
    # pay_residual step sees none of the reserve.
    deal = deal_of(
        tranches=[
            {"name": "A", "size": 60.0, "coupon": 0.0},
            {"name": "B", "size": 30.0, "coupon": 0.0},
            {"name": "R", "kind": "residual"},
        ],
        accounts=[{"name": "rsv", "initial": 10.0}],
        waterfall={
            "interest": [{"step": "pay_residual"}],
            "principal": [{"step": "pay_principal", "tranches": ["A", "B"]}],
        },
    )
    result = run(deal, flows_of([[50.0, 10.0]], [[1.0, 1.0]], loss=[[0.0, 40.0]]))
    b = result.tranches["B"]
    assert result.accounts["rsv"]["draw"][0].tolist() == pytest.approx([0.0, 10.0])
    assert b["principal_paid"][0].tolist() == pytest.approx([0.0, 10.0])
    assert b["writedown"][0].tolist() == pytest.approx([0.0, 20.0])
    assert result.tranches["R"]["residual_paid"][0].tolist() == pytest.approx([1.0, 1.0])
