"""The loan-level projection: the SIFMA recursion stepped period by period, loan by loan.

This is the literal form of the Standard Formulas (CONVENTIONS.md), vectorized over loans
with a loop over periods.  It serves small tapes, loan-level output and, because it shares
no algebra with the cohort path, the cross-check that both agree.  Pure numpy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from absstruct.projection.flows import LOAN_COLUMNS
from absstruct.projection.schedules import Schedule


def recurse(
    schedule: Schedule,
    balance: np.ndarray,
    monthly_rate: np.ndarray,
    *,
    smm: np.ndarray,
    mdr: np.ndarray,
    severity: np.ndarray,
    lag: int,
    advance: bool,
    servicing: float,
    pool_mdr: Callable[[int, np.ndarray], np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """Step the SIFMA recursion; every output is ``(loans, T)`` in currency.

    ``smm``/``mdr``/``severity`` are ``(loans, T)``.  ``pool_mdr(i, performing)`` when given
    replaces ``mdr[:, i-1]`` from the pool's state (cumulative-default curves).
    """
    n, T = schedule.principal.shape
    out = {name: np.zeros((n, T)) for name in LOAN_COLUMNS}
    perf = balance.astype(float).copy()
    fcl = np.zeros(n)
    b = schedule.balance
    for i in range(1, T + 1):
        b_prev = b[:, i - 1]
        safe = b_prev > 0
        denom = np.where(safe, b_prev, 1.0)
        paid = np.where(safe, schedule.principal[:, i - 1] / denom, 0.0)
        cap = np.where(safe, schedule.capitalized[:, i - 1] / denom, 0.0)
        int_rate = np.where(safe, schedule.interest[:, i - 1] / denom, 0.0)
        fee_rate = np.where(safe, schedule.fee[:, i - 1] / denom, 0.0)
        ratio = np.where(safe, b[:, i] / denom, 0.0)
        m = mdr[:, i - 1] if pool_mdr is None else pool_mdr(i, perf)
        s = np.minimum(smm[:, i - 1], 1.0 - m)
        new = perf * m
        out["new_defaults"][:, i - 1] = new  # read back below when lag is 0
        adb = np.zeros(n)
        loss = np.zeros(n)
        if i > lag:
            d = i - lag
            defaulted = out["new_defaults"][:, d - 1]
            if advance:
                b_def = b[:, d - 1]
                adb = np.where(b_def > 0, defaulted * b_prev / np.where(b_def > 0, b_def, 1), 0)
            else:
                adb = defaulted
            loss = np.minimum(defaulted * severity[:, d - 1], adb)
        live = perf - new
        actual_am = live * paid
        vol = perf * ratio * s
        if advance:
            pipeline = fcl + new - adb
            am_def = pipeline * paid
            cap_def = pipeline * cap
            expected_int = (perf + fcl) * int_rate
            lost = (fcl + new) * int_rate
            fcl_next = pipeline - am_def + cap_def
        else:
            am_def = np.zeros(n)
            cap_def = np.zeros(n)
            lost = (fcl + new) * monthly_rate
            expected_int = live * int_rate + lost
            fcl_next = fcl + new - adb
        column = i - 1
        out["new_defaults"][:, column] = new
        out["voluntary_prepayments"][:, column] = vol
        out["actual_amortization"][:, column] = actual_am
        out["amortization_from_defaults"][:, column] = am_def
        out["expected_amortization"][:, column] = actual_am + am_def
        out["actual_interest"][:, column] = live * int_rate
        out["interest_lost"][:, column] = lost
        out["expected_interest"][:, column] = expected_int
        out["fee_income"][:, column] = live * fee_rate
        out["servicing_fee"][:, column] = live * servicing / 12.0
        out["amortized_default_balance_in_recovery"][:, column] = adb
        out["principal_loss"][:, column] = loss
        out["principal_recovery"][:, column] = adb - loss
        out["capitalized_interest"][:, column] = live * cap + cap_def
        perf = live - actual_am + live * cap - vol
        fcl = fcl_next
        out["performing_balance"][:, column] = perf
        out["in_foreclosure"][:, column] = fcl
    return out
