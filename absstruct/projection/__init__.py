"""Collateral cash-flow projection: schedules and the pure-numpy projection kernels.

>>> from absstruct.projection import project, unit_flows, RepLine, period_dates, aggregate
"""

from absstruct.projection.book import CohortBook, aggregate
from absstruct.projection.engine import (
    RepLine,
    loan_frame,
    period_dates,
    project,
    project_loans,
    rate_grids,
    unit_flows,
)
from absstruct.projection.flows import POOL_COLUMNS, PoolFlows

__all__ = [
    "POOL_COLUMNS",
    "CohortBook",
    "PoolFlows",
    "RepLine",
    "aggregate",
    "loan_frame",
    "period_dates",
    "project",
    "project_loans",
    "rate_grids",
    "unit_flows",
]
