"""The pool cash-flow contract between projection and the waterfall.

Projection produces, for S scenarios and T periods, one ``(S, T)`` float array per
SIFMA column; index ``t - 1`` holds period ``t`` (period 0 is the cut-off).  Dates are
not part of the arrays: the deal attaches them at the boundary.

Examples
--------
>>> import numpy as np
>>> zeros = {name: np.zeros((2, 3)) for name in POOL_COLUMNS}
>>> flows = PoolFlows(arrays=zeros, initial_balance=100.0, scenario_names=("base", "stress"))
>>> flows.n_scenarios, flows.n_periods
(2, 3)
>>> list(flows.frame(1).columns[:3])
['period', 'performing_balance', 'new_defaults']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

# Column order follows the SIFMA Standard Formulas tables (CONVENTIONS.md), then the
# deal-level cash columns the waterfall consumes.
POOL_COLUMNS: tuple[str, ...] = (
    "performing_balance",  # end-of-period balance of performing loans
    "new_defaults",  # PERF(i-1) x MDR(i), before scheduled amortization
    "in_foreclosure",  # defaulted balance awaiting liquidation (end of period)
    "expected_amortization",  # scheduled principal of all loans not yet liquidated
    "voluntary_prepayments",
    "amortization_from_defaults",  # scheduled principal of loans in foreclosure
    "actual_amortization",  # scheduled principal paid by performing loans
    "expected_interest",
    "interest_lost",  # interest not paid by loans in foreclosure
    "actual_interest",  # interest paid by performing loans
    "servicing_fee",  # servicing strip on the performing balance (already inside interest)
    "fee_income",  # flat fees collected on flat_fee loans
    "principal_recovery",
    "principal_loss",
    "amortized_default_balance_in_recovery",  # ADB liquidated this period
    "principal_collections",  # cash principal to the deal (incl. advances when advancing)
    "interest_collections",  # cash interest + fees to the deal (incl. advances when advancing)
    "capitalized_interest",  # interest added to balances (payment holidays), not cash
)
# End-of-period stocks: a multi-month period keeps the last month's value; every other
# column is a flow that adds up.
BALANCE_COLUMNS: tuple[str, ...] = ("performing_balance", "in_foreclosure")
FLOW_COLUMNS: tuple[str, ...] = tuple(c for c in POOL_COLUMNS if c not in BALANCE_COLUMNS)
# The deal's cash, derived from the SIFMA columns once the advancing rule is applied.
CASH_COLUMNS: tuple[str, ...] = ("principal_collections", "interest_collections")
# What the loan-level SIFMA recursion produces for each loan.
LOAN_COLUMNS: tuple[str, ...] = tuple(c for c in POOL_COLUMNS if c not in CASH_COLUMNS)


@dataclass(frozen=True, kw_only=True)
class PoolFlows:
    """Pool cash flows for S scenarios by T periods.

    Parameters
    ----------
    arrays : Mapping[str, numpy.ndarray]
        ``POOL_COLUMNS`` name -> array of shape ``(S, T)``.
    initial_balance : float
        Pool balance at the cut-off date (period 0).
    scenario_names : tuple of str
        One label per scenario row.
    """

    arrays: Mapping[str, np.ndarray]
    initial_balance: float
    scenario_names: tuple[str, ...]

    def __post_init__(self) -> None:
        shapes = {np.shape(a) for a in self.arrays.values()}
        if len(shapes) != 1:
            raise ValueError(f"pool flow arrays disagree in shape: {sorted(shapes)}")
        (shape,) = shapes
        if len(shape) != 2 or shape[0] != len(self.scenario_names):
            raise ValueError(
                f"arrays of shape {shape} do not match {len(self.scenario_names)} scenarios"
            )

    @property
    def n_scenarios(self) -> int:
        return len(self.scenario_names)

    @property
    def n_periods(self) -> int:
        return int(np.shape(next(iter(self.arrays.values())))[1])

    def __getitem__(self, name: str) -> np.ndarray:
        return self.arrays[name]

    def frame(self, scenario: int = 0, dates: Sequence[object] | None = None) -> pd.DataFrame:
        """One scenario as a DataFrame by period (dates attached when given)."""
        data: dict[str, object] = {"period": np.arange(1, self.n_periods + 1)}
        if dates is not None:
            data["date"] = pd.to_datetime(list(dates))
        for name in POOL_COLUMNS:
            if name in self.arrays:
                data[name] = np.asarray(self.arrays[name][scenario], dtype=float)
        return pd.DataFrame(data)
