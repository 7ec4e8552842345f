"""Pool selection: eligibility rules, concentration limits, exclusions and stratification tables.

>>> from absstruct.pool import EligibilityRule, select_pool
>>> callable(select_pool), EligibilityRule.__name__
(True, 'EligibilityRule')
"""

from absstruct.pool.criteria import (
    ConcentrationLimits,
    EligibilityRule,
    PoolCriteria,
    StratSpec,
    TopObligorLimit,
    load_pool_criteria,
)
from absstruct.pool.selection import Pool, select_pool
from absstruct.pool.strats import PoolSummary, stratify

__all__ = [
    "ConcentrationLimits",
    "EligibilityRule",
    "Pool",
    "PoolCriteria",
    "PoolSummary",
    "StratSpec",
    "TopObligorLimit",
    "load_pool_criteria",
    "select_pool",
    "stratify",
]
