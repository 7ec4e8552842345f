"""The period's invariants: cash conserved, no negative balance, no PDL above the losses.

Checked after every period so a broken deal or a bug fails loudly, naming the period and
scenario, instead of producing plausible ledgers: collections + account draws + external
support equal fees + taxes + interest + principal + account deposits + purchases +
residual within :data:`TOLERANCE` (plus float noise on big deals).
"""

from __future__ import annotations

import numpy as np

from absstruct.errors import WaterfallError
from absstruct.waterfall.state import EngineState

TOLERANCE = 1e-6
_NOISE = 1e-12  # relative float noise allowed on large cash amounts


class ConservationCheck(EngineState):
    """Refuses a period that breaks an invariant, with a :class:`WaterfallError`."""

    def _check(self, t: int) -> None:
        f = self.flow
        inflow = (
            f["interest_collections"]
            + f["principal_collections"]
            + f["call_proceeds"]
            + f["guarantee_draws"]
            + f["undertaking_draws"]
            + f["account_draws"]
        )
        outflow = (
            f["fees_paid"]
            + f["taxes_paid"]
            + f["interest_paid"]
            + f["principal_paid"]
            + f["account_deposits"]
            + f["purchases"]
            + f["residual"]
        )
        gap = inflow - outflow
        self.deal_book.data["gap"][t] = gap
        tolerance = TOLERANCE + _NOISE * np.abs(inflow)
        s = _first(np.abs(gap) > tolerance)
        if s is not None:
            raise self._refusal(
                t,
                s,
                f"cash not conserved, gap {gap[s]:.6g} (in {inflow[s]:.2f}, out {outflow[s]:.2f})",
            )
        floor = -TOLERANCE - _NOISE * np.abs(inflow)
        for kind, values in (
            ("tranche", self.bal),
            ("account", self.acct),
            ("PDL", self.pdl),
        ):
            for name, vector in values.items():
                s = _first(vector < floor)
                if s is not None:
                    raise self._refusal(
                        t, s, f"{kind} {name!r} balance {vector[s]:.6g} is negative"
                    )
        for name in self.ranked:
            s = _first(self.paid_prin[name] > self.bal_bop[name] - floor)
            if s is not None:
                raise self._refusal(
                    t,
                    s,
                    f"tranche {name!r} got principal {self.paid_prin[name][s]:.2f} "
                    f"above its balance {self.bal_bop[name][s]:.2f}",
                )
        total_pdl = self._total(self.pdl.values())
        # Debited at default, the PDL carries at most the defaults not yet collected on.
        limit = self.cum_charged if self.at_default else self.cum_loss
        what = "defaults less their collections" if self.at_default else "cumulative losses"
        s = _first(total_pdl > limit - floor)
        if s is not None:
            raise self._refusal(t, s, f"PDL {total_pdl[s]:.2f} exceeds {what} {limit[s]:.2f}")

    def _refusal(self, t: int, s: int, problem: str) -> WaterfallError:
        """The error for scenario ``s`` in period ``t`` (0-based), named as users count."""
        return WaterfallError(f"period {t + 1}, scenario {self.names[s]!r}: {problem}")


def _first(flagged: np.ndarray) -> int | None:
    """The first scenario flagged, or None."""
    hits = np.flatnonzero(flagged)
    return int(hits[0]) if hits.size else None


__all__ = ["TOLERANCE", "ConservationCheck"]
