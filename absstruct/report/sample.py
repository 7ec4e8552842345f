"""A small run of the real engine, to preview and test the report writers without files.

:func:`sample_report` builds a level-pay pool in memory, a deal with sequential senior
notes and a subordinated residual class, and runs it through the product's own
projection, waterfall and tranche metrics (``absstruct.waterfall.run``,
``absstruct.report.data.report_data``) over S scenarios at once.  The deal is made up;
the arithmetic is the engine's.

Examples
--------
>>> data = sample_report(n_periods=24, n_tranches=3, n_scenarios=4)
>>> len(data.collateral), len(data.tranche_flows), len(data.grid)
(24, 72, 12)
>>> bool((data.tranche_flows["ending_balance"] >= -1e-9).all())
True
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from absstruct.report.data import ReportData

_CLASS_LETTERS = "ABCDEFGHIJ"
_CUTOFF = dt.date(2026, 6, 30)


def _deal_text(n_periods: int, n_tranches: int) -> str:
    """Sequential senior notes (90% of the pool) and a 10% subordinated residual class."""
    month = 6 + n_periods - 1  # the last payment month, counted from January 2026 (0)
    final = dt.date(_CUTOFF.year + month // 12, month % 12 + 1, 28)
    lines = [
        "schema_version = 1",
        'name = "Sample ABS"',
        "[dates]",
        f"cutoff = {_CUTOFF.isoformat()}",
        f"closing = {_CUTOFF.isoformat()}",
        "first_payment = 2026-07-28",
        "payment_day = 28",
        f"legal_final = {final.isoformat()}",
        'roll = "none"',
    ]
    seniors = [f"Senior {_CLASS_LETTERS[i]}" for i in range(max(n_tranches - 1, 0))]
    for i, name in enumerate(seniors):
        share = 90.0 / len(seniors)
        lines += ["[[tranches]]", f'name = "{name}"', f'size = "{share:.6f}%"']
        lines.append(f'coupon = "{3.5 + i:.2f}%"')
    lines += ["[[tranches]]", 'name = "Sub"', 'kind = "residual"']
    lines.append(f'size = "{10.0 if seniors else 100.0}%"')
    for name in seniors:
        lines += ["[[waterfall.interest]]", 'step = "pay_interest"', f'tranche = "{name}"']
    lines += ["[[waterfall.interest]]", 'step = "pay_residual"']
    for name in [*seniors, "Sub"]:
        lines += ["[[waterfall.principal]]", 'step = "pay_principal"', f'tranche = "{name}"']
    return "\n".join(lines) + "\n"


def sample_report(
    *,
    n_periods: int = 60,
    n_tranches: int = 3,
    n_scenarios: int = 1,
    balance: float = 100_000_000.0,
    wac: float = 0.12,
    cpr: float = 0.08,
    cdr: float = 0.03,
    severity: float = 0.6,
) -> ReportData:
    """Run the sample deal and return its :class:`ReportData`.

    The pool is 40 level-pay loans of ``n_periods`` months around ``wac``.  Scenario ``i``
    scales the CDR by ``1 + i / 2``; scenario 0 is the base case the ledgers show, and
    with several scenarios the grid holds every scenario's tranche metrics.
    """
    from absstruct.curves import Assumptions
    from absstruct.deal import parse_deal
    from absstruct.pool import PoolCriteria, select_pool
    from absstruct.report.data import report_data
    from absstruct.waterfall import run

    n_loans = 40
    tape = pd.DataFrame(
        {
            "loan_id": [f"S{i:04d}" for i in range(n_loans)],
            "original_balance": balance / n_loans,
            "current_balance": balance / n_loans,
            "rate": np.linspace(wac - 0.02, wac + 0.02, n_loans),
            "original_term": n_periods,
            "remaining_term": n_periods,
            "amortization": "level_pay",
        }
    )
    deal = parse_deal(_deal_text(n_periods, n_tranches))
    scenarios = {
        f"CDR x{1 + i / 2:g}": Assumptions.from_strings(
            prepay=f"CPR {cpr:.6%}",
            default=f"CDR {cdr * (1 + i / 2):.6%}",
            severity=f"{severity:.6%}",
        )
        for i in range(n_scenarios)
    }
    pool = select_pool(tape, PoolCriteria())
    return report_data(run(deal, pool.eligible, scenarios), deal=deal, pool=pool)


__all__ = ["sample_report"]
