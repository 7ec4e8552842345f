"""The waterfall engine: periods x steps over scenario arrays, with ledgers out.

:func:`run` takes a :class:`~absstruct.deal.model.Deal` and a tape or projected
:class:`~absstruct.projection.flows.PoolFlows` and returns a frozen :class:`Result`.
"""

from absstruct.waterfall.result import Ledger, Result
from absstruct.waterfall.run import deal_pool, deal_tape, run

__all__ = ["Ledger", "Result", "deal_pool", "deal_tape", "run"]
