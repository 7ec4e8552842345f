"""The ledgers a run writes: the field names of each kind and their period-row buffers.

Kept apart from the engine because :mod:`absstruct.waterfall.run` and the reports rely on
the field names without needing the period loop; the buffers are written one row per period
and handed out as read-only ``(S, T)`` views.
"""

from __future__ import annotations

import numpy as np

TRANCHE_FIELDS = (
    "balance",
    "interest_due",
    "interest_paid",
    "interest_shortfall",
    "principal_paid",
    "writedown",
    "pdl",
    "pdl_cured",
    "residual_paid",
    "pdl_credited",
)
ACCOUNT_FIELDS = ("balance", "target", "deposit", "draw")
FEE_FIELDS = ("due", "paid", "unpaid")
TRIGGER_FIELDS = ("value", "threshold", "breached")
SUPPORT_FIELDS = ("draw", "used")
DEAL_FIELDS = (
    "pool_balance",
    "interest_collections",
    "principal_collections",
    "call_proceeds",
    "guarantee_draws",
    "undertaking_draws",
    "account_draws",
    "fees_paid",
    "taxes_paid",
    "interest_paid",
    "principal_paid",
    "account_deposits",
    "purchases",
    "residual",
    "notes_balance",
    "oc_target",
    "principal_distribution",
    "accelerated",
    "revolving",
    "called",
    "gap",
)


class Book:
    """Ledger buffers of shape (T, S): a row per period, written once per period.

    Examples
    --------
    >>> book = Book(2, 3, ("draw", "used"))
    >>> book.data["draw"][1] = 5.0
    >>> book.arrays()["draw"].tolist()
    [[0.0, 5.0], [0.0, 5.0], [0.0, 5.0]]
    """

    def __init__(self, periods: int, scenarios: int, fields: tuple[str, ...]) -> None:
        self.fields = fields
        self.data = {name: np.zeros((periods, scenarios)) for name in fields}

    def arrays(self) -> dict[str, np.ndarray]:
        """(S, T) views, read-only."""
        out = {}
        for name, buffer in self.data.items():
            view = buffer.T
            view.flags.writeable = False
            out[name] = view
        return out


__all__ = [
    "ACCOUNT_FIELDS",
    "DEAL_FIELDS",
    "FEE_FIELDS",
    "SUPPORT_FIELDS",
    "TRANCHE_FIELDS",
    "TRIGGER_FIELDS",
    "Book",
]
