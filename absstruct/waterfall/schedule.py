"""The deal's dates turned into numbers: per-period accrual fractions, coupons, thresholds.

Dates live here, at the boundary; the engine only sees arrays indexed by period.

Examples
--------
>>> import datetime as dt
>>> from absstruct.deal.model import Dates
>>> dates = Dates(cutoff=dt.date(2026, 6, 30), closing=dt.date(2026, 7, 15),
...               first_payment=dt.date(2026, 8, 17), legal_final=dt.date(2027, 7, 15))
>>> period_count(dates)
11
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from absstruct.deal.calendar import (
    MONTHS_PER_PERIOD,
    collection_period_ends,
    count_periods,
    payment_dates,
)
from absstruct.errors import DealError

if TYPE_CHECKING:
    from absstruct.deal.model import Dates, Deal


def period_count(dates: Dates) -> int:
    """Payment periods from the first payment date to the legal final maturity."""
    months = MONTHS_PER_PERIOD[dates.frequency]
    return count_periods(dates.first_payment, dates.legal_final, months=months)


def _year_fraction(start: list[dt.date], end: list[dt.date], day_count: str) -> np.ndarray:
    from absstruct.daycount import year_fraction

    starts = np.array(start, dtype="datetime64[D]")
    ends = np.array(end, dtype="datetime64[D]")
    return np.asarray(year_fraction(starts, ends, day_count), dtype=float)


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """Per-period numbers for ``T`` periods (index ``t - 1`` is period ``t``)."""

    payment_dates: tuple[dt.date, ...]
    collection_ends: tuple[dt.date, ...]
    tranche_accrual: dict[str, np.ndarray]  # year fraction of each period, by tranche
    coupons: dict[str, np.ndarray]  # coupon rate of each period, by tranche
    fee_accrual: dict[str, np.ndarray]
    thresholds: dict[str, np.ndarray]
    before_step_down: np.ndarray  # bool

    @property
    def periods(self) -> int:
        return len(self.payment_dates)


def _index_rates(deal: Deal, name: str, count: int) -> np.ndarray:
    curve = deal.indices.get(name)
    if curve is None or not curve.rates:
        raise DealError(f"indices.{name}: no rates (give rates = [...] or a csv)")
    rates = np.asarray(curve.rates, dtype=float)
    if len(rates) >= count:
        return rates[:count]
    return np.concatenate([rates, np.full(count - len(rates), rates[-1])])


def build_schedule(deal: Deal, periods: int) -> Schedule:
    """Dates and per-period numbers for the first ``periods`` periods of ``deal``."""
    d = deal.dates
    months = MONTHS_PER_PERIOD[d.frequency]
    pay = payment_dates(
        d.first_payment,
        periods,
        months=months,
        day=d.payment_day,
        convention=d.roll,
        holidays=set(d.holidays),
    )
    starts = [d.closing, *pay[:-1]]
    accrual = {t.name: _year_fraction(starts, pay, t.day_count) for t in deal.tranches}
    coupons: dict[str, np.ndarray] = {}
    for tranche in deal.tranches:
        if tranche.floating is not None:
            f = tranche.floating
            rate = _index_rates(deal, f.index, periods) + f.margin
            if f.floor is not None:
                rate = np.maximum(rate, f.floor)
            if f.cap is not None:
                rate = np.minimum(rate, f.cap)
            coupons[tranche.name] = rate
        else:
            coupons[tranche.name] = np.full(periods, float(tranche.coupon or 0.0))
    fee_accrual = {
        fee.name: _year_fraction(starts, pay, fee.day_count or d.day_count) for fee in deal.fees
    }
    thresholds = {
        trig.name: np.array([trig.threshold_at(t) for t in range(1, periods + 1)], dtype=float)
        for trig in deal.triggers
    }
    step_down = deal.oc.step_down if deal.oc is not None else None
    before = np.array([step_down is not None and day < step_down for day in pay], dtype=bool)
    return Schedule(
        payment_dates=tuple(pay),
        collection_ends=tuple(collection_period_ends(d.cutoff, periods, months=months)),
        tranche_accrual=accrual,
        coupons=coupons,
        fee_accrual=fee_accrual,
        thresholds=thresholds,
        before_step_down=before,
    )


__all__ = ["Schedule", "build_schedule", "period_count"]
