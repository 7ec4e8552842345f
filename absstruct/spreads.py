"""Spreads and returns over dated cash flows: flat, I-, Z-spread, discount margin, residual IRR.

- **Flat spread**: yield minus a benchmark yield quoted the same way.
- **I-spread**: yield minus the term-curve rate at the tranche's WAL, re-quoted in the yield's
  compounding.
- **Z-spread**: the constant ``s`` added to every zero rate (in the curve's compounding) so the
  discounted flows equal the dirty price; time from settlement uses the convention's day count.
- **Discount margin** (floating-rate notes): coupons are projected at index + quoted margin on
  the note's day count; each period is discounted at ``1 + (index + DM) τ``.  The index is a
  flat assumed rate or simple forwards from a zero curve (curve time ACT/365F).
- **Residual IRR**: pyxirr's ``xirr`` gives an annual effective rate on ACT/365F; it is
  re-quoted explicitly in the requested compounding, and the multiple is cash returned / paid.

Examples
--------
>>> from absstruct.pricing import CashFlows
>>> flows = CashFlows(dates=["2025-01-01", "2026-01-01"], interest=[0, 0], principal=[0, 121])
>>> r = residual_irr(flows, settlement="2024-01-01", purchase_price=100.0, compounding="annual")
>>> r.multiple, round(r.irr_annual_effective, 6)  # 731 days: 1.21 ** (365 / 731) - 1
(1.21, 0.099857)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyxirr

from absstruct.compounding import FREQUENCIES, convert_rate, discount_factor
from absstruct.daycount import DateLike, as_days, day_count_name, year_fraction
from absstruct.errors import PricingError
from absstruct.pricing import (
    Accrual,
    CashFlows,
    Convention,
    PriceResult,
    accrued_interest,
    price_from_yield,
)
from absstruct.ratecurve import RateCurve

_CURVE_DAY_COUNT = "ACT/365F"  # time axis of a curve's tenors when projecting index forwards


@dataclass(frozen=True, kw_only=True)
class SpreadResult:
    """A spread and the clean price it goes with, stating how it is quoted."""

    kind: str  # "flat", "i-spread", "z-spread" or "discount-margin"
    spread: float
    price: float
    compounding: str
    day_count: str
    benchmark_rate: float | None = None


@dataclass(frozen=True, kw_only=True)
class ResidualResult:
    """IRR and multiple of a residual (subordinated) tranche bought for ``purchase_price``.

    ``irr`` is quoted in ``convention`` (its day count is always ACT/365F, pyxirr's);
    ``irr_annual_effective`` is pyxirr's own figure.
    """

    irr: float
    irr_annual_effective: float
    multiple: float
    purchase_price: float
    cash_returned: float
    convention: Convention


def _solve_decreasing(
    value_at: Callable[[float], float], target: float, *, start: float = 0.0, what: str
) -> float:
    """Root of a decreasing function ``value_at(s) = target`` by bracketed bisection-secant."""
    lo, hi = start - 0.01, start + 0.01
    f_lo, f_hi = value_at(lo) - target, value_at(hi) - target
    for _ in range(200):
        if f_lo >= 0 >= f_hi:
            break
        if f_lo < 0:
            lo, hi, f_hi = lo - 2 * (hi - lo), lo, f_lo
            f_lo = value_at(lo) - target
        else:
            lo, hi, f_lo = hi, hi + 2 * (hi - lo), f_hi
            f_hi = value_at(hi) - target
    if not (f_lo >= 0 >= f_hi) or not (np.isfinite(f_lo) and np.isfinite(f_hi)):
        raise PricingError(f"no {what} solves the price: no bracket found")
    for _ in range(300):
        if f_lo == f_hi:
            break
        guess = hi - f_hi * (hi - lo) / (f_hi - f_lo)
        middle = 0.5 * (lo + hi)
        # Secant inside the bracket unless it stalls near an end; then bisect.
        point = guess if lo + 0.05 * (hi - lo) < guess < hi - 0.05 * (hi - lo) else middle
        f_point = value_at(point) - target
        if f_point == 0:
            return point
        if f_point > 0:
            lo, f_lo = point, f_point
        else:
            hi, f_hi = point, f_point
        if hi - lo <= 1e-15 * (1 + abs(lo)):
            break
    return lo - f_lo * (hi - lo) / (f_hi - f_lo) if f_hi != f_lo else 0.5 * (lo + hi)


def _dirty_value(price: float, accrued: float, face: float) -> float:
    if not (np.isfinite(price) and price > 0):
        raise PricingError(f"price: {price} must be above 0 (clean price per 100 of face)")
    return (price + accrued) * face / 100.0


def _timed(
    flows: CashFlows, settlement: DateLike, day_count: str, face: float | None
) -> tuple[np.ndarray, np.ndarray, CashFlows, float]:
    settle = as_days(settlement)
    after = flows.after(settle)
    times = np.asarray(year_fraction(settle, after.dates, day_count), dtype=float)
    face = float(after.principal.sum()) if face is None else float(face)
    if not (np.isfinite(face) and face > 0):
        raise PricingError(f"face: {face} must be above 0")
    if not np.any(after.total > 0):
        raise PricingError(f"no spread solves the price: no positive cash flow after {settle}")
    return times, after.total, after, face


def flat_spread(result: PriceResult, benchmark_yield: float) -> SpreadResult:
    """Yield over a benchmark yield quoted in the same convention.

    Examples
    --------
    >>> from absstruct.pricing import CashFlows, price_from_yield
    >>> cf = CashFlows(dates=["2025-01-01"], interest=[5.0], principal=[100.0])
    >>> r = price_from_yield(cf, settlement="2024-01-01", yield_=0.05)
    >>> round(flat_spread(r, 0.04).spread, 12)
    0.01
    """
    return SpreadResult(
        kind="flat",
        spread=result.yield_ - benchmark_yield,
        price=result.price,
        compounding=result.convention.compounding,
        day_count=result.convention.day_count,
        benchmark_rate=benchmark_yield,
    )


def i_spread(result: PriceResult, curve: RateCurve) -> SpreadResult:
    """Yield minus the curve rate at the WAL (curve rate re-quoted in the yield's compounding)."""
    if not np.isfinite(result.wal):
        raise PricingError("i-spread: the tranche pays no principal after settlement (no WAL)")
    benchmark = convert_rate(
        curve.rate(result.wal), curve.compounding, result.convention.compounding
    )
    return SpreadResult(
        kind="i-spread",
        spread=result.yield_ - benchmark,
        price=result.price,
        compounding=result.convention.compounding,
        day_count=result.convention.day_count,
        benchmark_rate=benchmark,
    )


def price_from_i_spread(
    flows: CashFlows,
    *,
    settlement: DateLike,
    curve: RateCurve,
    spread: float,
    convention: Convention | None = None,
    face: float | None = None,
    accrual: Accrual | None = None,
) -> PriceResult:
    """Price at yield = curve rate at the WAL + ``spread`` (WAL does not depend on the yield)."""
    convention = convention or Convention()
    after = flows.after(settlement)
    times = year_fraction(as_days(settlement), after.dates, convention.day_count)
    paid = after.principal.sum()
    if not paid > 0:
        raise PricingError("i-spread: the tranche pays no principal after settlement (no WAL)")
    wal = float(np.sum(np.asarray(times) * after.principal) / paid)
    benchmark = convert_rate(curve.rate(wal), curve.compounding, convention.compounding)
    return price_from_yield(
        flows,
        settlement=settlement,
        yield_=benchmark + spread,
        convention=convention,
        face=face,
        accrual=accrual,
    )


def z_spread_value(
    flows: CashFlows,
    *,
    settlement: DateLike,
    curve: RateCurve,
    spread: float,
    day_count: str = "30/360",
) -> float:
    """Present value (money) of the flows after settlement on ``curve`` + ``spread``."""
    settle = as_days(settlement)
    after = flows.after(settle)
    times = year_fraction(settle, after.dates, day_count_name(day_count))
    return float(np.sum(after.total * curve.discount(times, spread)))


def z_spread(
    flows: CashFlows,
    *,
    settlement: DateLike,
    price: float,
    curve: RateCurve,
    day_count: str = "30/360",
    face: float | None = None,
    accrual: Accrual | None = None,
) -> SpreadResult:
    """The Z-spread over a zero curve that reprices the flows to the clean ``price`` per 100.

    Examples
    --------
    On a flat 5% annual zero curve, flows priced at a 6% annual yield have a 1% Z-spread:

    >>> from absstruct.pricing import CashFlows, price_from_yield, Convention
    >>> from absstruct.ratecurve import RateCurve
    >>> cf = CashFlows(dates=["2025-01-01", "2026-01-01"], interest=[6, 6], principal=[0, 100])
    >>> annual = Convention(compounding="annual", day_count="30/360")
    >>> p = price_from_yield(cf, settlement="2024-01-01", yield_=0.06, convention=annual).price
    >>> flat = RateCurve(tenors=(1.0,), rates=(0.05,), compounding="annual")
    >>> round(z_spread(cf, settlement="2024-01-01", price=p, curve=flat).spread, 12)
    0.01
    """
    if curve.kind != "zero":
        raise PricingError(f"{curve.name}: a Z-spread needs a zero curve, not a {curve.kind} curve")
    day_count = day_count_name(day_count)
    times, amounts, _, face = _timed(flows, settlement, day_count, face)
    target = _dirty_value(price, accrued_interest(accrual, settlement=settlement), face)
    rates = np.asarray(curve.rate(times))
    compounding = curve.compounding
    floor = (
        -FREQUENCIES[compounding] - np.min(rates, initial=0.0) if FREQUENCIES[compounding] else None
    )

    def value_at(s: float) -> float:
        if floor is not None and s <= floor:
            return float("inf")
        return float(np.sum(amounts * discount_factor(rates + s, times, compounding)))

    spread = _solve_decreasing(value_at, target, what="Z-spread")
    return SpreadResult(
        kind="z-spread", spread=spread, price=price, compounding=compounding, day_count=day_count
    )


def price_from_z_spread(
    flows: CashFlows,
    *,
    settlement: DateLike,
    spread: float,
    curve: RateCurve,
    day_count: str = "30/360",
    face: float | None = None,
    accrual: Accrual | None = None,
) -> SpreadResult:
    """Clean price per 100 of the flows discounted on ``curve`` + ``spread``."""
    _, _, _, face = _timed(flows, settlement, day_count_name(day_count), face)
    value = z_spread_value(
        flows, settlement=settlement, curve=curve, spread=spread, day_count=day_count
    )
    price = 100.0 * value / face - accrued_interest(accrual, settlement=settlement)
    return SpreadResult(
        kind="z-spread",
        spread=spread,
        price=price,
        compounding=curve.compounding,
        day_count=day_count_name(day_count),
    )


@dataclass(frozen=True, kw_only=True)
class FloatingNote:
    """Terms of a floating-rate note for discount-margin pricing.

    ``face`` is the current face at settlement, ``accrual_start`` the start of the current
    interest period, ``current_index`` the fixing already set for it (``None``: projected like
    the later periods).
    """

    face: float
    margin: float
    accrual_start: DateLike
    day_count: str = "ACT/360"
    current_index: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "accrual_start", as_days(self.accrual_start))
        object.__setattr__(self, "day_count", day_count_name(self.day_count, where="day_count"))
        if not (np.isfinite(self.face) and self.face > 0):
            raise PricingError(f"face: {self.face} must be above 0")
        if not np.isfinite(self.margin):
            raise PricingError(f"margin: {self.margin} is not finite")


@dataclass(frozen=True, kw_only=True, eq=False)
class FloaterProjection:
    """Projected coupons of a floater: per period index rate, accrual fraction, flows."""

    flows: CashFlows
    index_rates: np.ndarray
    accrual_fractions: np.ndarray  # full period, note day count
    discount_fractions: np.ndarray  # first period from settlement, then full periods
    accrued: float  # per 100 of face


def project_floater(
    note: FloatingNote,
    *,
    dates: Any,
    principal: Any,
    settlement: DateLike,
    index: float | RateCurve,
) -> FloaterProjection:
    """Project a floater's coupons: balance × (index + margin) × accrual fraction."""
    settle = as_days(settlement)
    dates = np.array(as_days(dates), ndmin=1)
    principal = np.array(principal, dtype=float, ndmin=1)
    if len(dates) != len(principal) or len(dates) == 0:
        raise PricingError(
            f"floater: {len(dates)} payment dates and {len(principal)} principal amounts; "
            "need the same positive number"
        )
    if dates[0] <= settle or note.accrual_start > settle or np.any(dates[1:] <= dates[:-1]):
        raise PricingError(
            f"floater: need accrual_start {note.accrual_start} <= settlement {settle} < first "
            f"payment {dates[0]}, and increasing payment dates"
        )
    starts = np.concatenate([[note.accrual_start], dates[:-1]])
    tau = np.asarray(year_fraction(starts, dates, note.day_count), dtype=float)
    first_discount = np.concatenate([[settle], dates[:-1]])
    discount_tau = np.asarray(year_fraction(first_discount, dates, note.day_count), dtype=float)
    if isinstance(index, RateCurve):
        t0 = np.asarray(year_fraction(settle, np.maximum(starts, settle), _CURVE_DAY_COUNT))
        t1 = np.asarray(year_fraction(settle, dates, _CURVE_DAY_COUNT))
        index_rates = (index.discount(t0) / index.discount(t1) - 1.0) / (t1 - t0)
    else:
        index_rates = np.full(len(dates), float(index))
    if note.current_index is not None:
        index_rates[0] = note.current_index
    balance = note.face - np.concatenate([[0.0], np.cumsum(principal)[:-1]])
    interest = balance * (index_rates + note.margin) * tau
    accrued = (
        100.0
        * (index_rates[0] + note.margin)
        * year_fraction(note.accrual_start, settle, note.day_count)
    )
    return FloaterProjection(
        flows=CashFlows(dates=dates, interest=interest, principal=principal),
        index_rates=index_rates,
        accrual_fractions=tau,
        discount_fractions=discount_tau,
        accrued=float(accrued),
    )


def _floater_value(projection: FloaterProjection, margin: float) -> float:
    growth = 1.0 + (projection.index_rates + margin) * projection.discount_fractions
    if np.any(growth <= 0):
        return float("inf")
    return float(np.sum(projection.flows.total / np.cumprod(growth)))


def price_from_discount_margin(
    note: FloatingNote,
    *,
    dates: Any,
    principal: Any,
    settlement: DateLike,
    index: float | RateCurve,
    discount_margin: float,
) -> SpreadResult:
    """Clean price per 100 of a floater discounted at index + ``discount_margin``.

    Examples
    --------
    A floater discounted at its own margin, settled on a coupon date, is worth par:

    >>> note = FloatingNote(face=1000.0, margin=0.012, accrual_start="2024-01-15")
    >>> r = price_from_discount_margin(note, dates=["2024-04-15", "2024-07-15"],
    ...     principal=[400.0, 600.0], settlement="2024-01-15", index=0.05, discount_margin=0.012)
    >>> round(r.price, 10)
    100.0
    """
    projection = project_floater(
        note, dates=dates, principal=principal, settlement=settlement, index=index
    )
    price = 100.0 * _floater_value(projection, discount_margin) / note.face - projection.accrued
    return SpreadResult(
        kind="discount-margin",
        spread=discount_margin,
        price=price,
        compounding="per period (simple)",
        day_count=note.day_count,
    )


def discount_margin(
    note: FloatingNote,
    *,
    dates: Any,
    principal: Any,
    settlement: DateLike,
    index: float | RateCurve,
    price: float,
) -> SpreadResult:
    """The discount margin that prices the floater at the clean ``price`` per 100."""
    projection = project_floater(
        note, dates=dates, principal=principal, settlement=settlement, index=index
    )
    target = _dirty_value(price, projection.accrued, note.face)
    margin = _solve_decreasing(
        lambda m: _floater_value(projection, m), target, start=note.margin, what="discount margin"
    )
    return SpreadResult(
        kind="discount-margin",
        spread=margin,
        price=price,
        compounding="per period (simple)",
        day_count=note.day_count,
    )


def residual_irr(
    flows: CashFlows,
    *,
    settlement: DateLike,
    purchase_price: float,
    compounding: str = "annual",
) -> ResidualResult:
    """IRR and multiple of a residual tranche bought at settlement for ``purchase_price``.

    ``purchase_price`` is money paid (not per 100: a residual has no face).  The IRR comes from
    ``pyxirr.xirr`` on ACT/365F as an annual effective rate and is re-quoted in
    ``compounding`` (``"semiannual"`` for bond-equivalent).  A residual returning nothing
    has an IRR of -100% annual effective.
    """
    convention = Convention(compounding=compounding, day_count="ACT/365F")
    if not (np.isfinite(purchase_price) and purchase_price > 0):
        raise PricingError(f"purchase_price: {purchase_price} must be above 0")
    settle = as_days(settlement)
    after = flows.after(settle)
    returned = float(after.total.sum())
    if not np.any(after.total > 0):
        effective = -1.0
    else:
        dates = [settle.item(), *(d.item() for d in after.dates)]
        amounts = [-float(purchase_price), *after.total.tolist()]
        found = pyxirr.xirr(dates, amounts, day_count=pyxirr.DayCount.ACT_365F, silent=True)
        if found is None or not np.isfinite(found):
            raise PricingError(
                f"residual IRR: no rate solves purchase price {purchase_price} for these flows"
            )
        effective = float(found)
    irr = float(convert_rate(effective, "annual", convention.compounding))
    if effective == -1.0:
        irr = -float(FREQUENCIES[convention.compounding] or np.inf)
    return ResidualResult(
        irr=irr,
        irr_annual_effective=effective,
        multiple=returned / purchase_price,
        purchase_price=float(purchase_price),
        cash_returned=returned,
        convention=convention,
    )


__all__ = [
    "FloaterProjection",
    "FloatingNote",
    "ResidualResult",
    "SpreadResult",
    "discount_margin",
    "flat_spread",
    "i_spread",
    "price_from_discount_margin",
    "price_from_i_spread",
    "price_from_z_spread",
    "project_floater",
    "residual_irr",
    "z_spread",
    "z_spread_value",
]
