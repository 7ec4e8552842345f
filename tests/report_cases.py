"""A small deal run through the real waterfall, shared by the report tests."""

from __future__ import annotations

import numpy as np

from absstruct.deal import parse_deal
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
from absstruct.waterfall import run

DEAL_TOML = """
schema_version = 1
name = "Report Test Trust 2026-1"
currency = "CNY"
[dates]
cutoff = 2026-06-30
closing = 2026-06-30
first_payment = 2026-07-31
legal_final = 2029-12-31
roll = "none"
[pool]
assumptions = { prepay = "CPR 8%", default = "CDR 4%", severity = "60%" }
[pool.scenarios.stress]
default = "CDR 12%"
[[tranches]]
name = "Senior A"
size = 700.0
coupon = 0.04
[[tranches]]
name = "Senior B"
size = 200.0
coupon = 0.06
[[tranches]]
name = "Sub"
kind = "residual"
[[fees]]
name = "Servicing"
rate = 0.01
[[accounts]]
name = "Reserve"
initial = 10.0
target = { amount = 10.0 }
[[triggers]]
name = "CNL"
kind = "cumulative_net_loss"
threshold = 0.02
effects = ["sequential"]
[[waterfall.interest]]
step = "pay_fee"
fee = "Servicing"
[[waterfall.interest]]
step = "pay_interest"
tranche = "Senior A"
[[waterfall.interest]]
step = "pay_interest"
tranche = "Senior B"
[[waterfall.interest]]
step = "fund_reserve"
account = "Reserve"
[[waterfall.interest]]
step = "pay_residual"
[[waterfall.principal]]
step = "pay_principal"
tranches = ["Senior A", "Senior B"]
[[waterfall.principal]]
step = "pay_residual"
"""

N_PERIODS = 24
POOL_BALANCE = 1000.0


def pool_flows() -> PoolFlows:
    """Two scenarios of a straight-line pool: 'base' loses 0.1%/month, 'stress' 0.4%."""
    arrays = {c: np.zeros((2, N_PERIODS)) for c in POOL_COLUMNS}
    for s, mdr in enumerate((0.001, 0.004)):
        balance = POOL_BALANCE
        for t in range(N_PERIODS):
            defaults = balance * mdr
            principal = (balance - defaults) / (N_PERIODS - t)
            interest = (balance - defaults) * 0.12 / 12
            loss = defaults * 0.6
            balance -= defaults + principal
            arrays["performing_balance"][s, t] = balance
            arrays["new_defaults"][s, t] = defaults
            arrays["actual_amortization"][s, t] = principal
            arrays["expected_amortization"][s, t] = principal
            arrays["actual_interest"][s, t] = interest
            arrays["principal_loss"][s, t] = loss
            arrays["principal_recovery"][s, t] = defaults - loss
            arrays["amortized_default_balance_in_recovery"][s, t] = defaults
            arrays["principal_collections"][s, t] = principal + defaults - loss
            arrays["interest_collections"][s, t] = interest
    return PoolFlows(arrays=arrays, initial_balance=POOL_BALANCE, scenario_names=("base", "stress"))


def deal_and_result():
    deal = parse_deal(DEAL_TOML)
    return deal, run(deal, pool_flows())
