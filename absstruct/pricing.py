"""Price and yield of dated cash flows: accrued interest, WAL, durations, convexity.

A tranche is priced from its dated cash flows (payment dates, interest, principal), a
settlement date, its current face, and a :class:`Convention` (compounding + day count for the
time measure).  Time to each flow is ``t = year_fraction(settlement, date, day_count)``; flows
dated on or before settlement belong to the seller and are left out.  With a yield ``y``
compounded ``f`` times a year (CONVENTIONS.md, bond-equivalent when ``f = 2``)::

    PV        = Σ CFₖ (1 + y/f)^(-f tₖ)                 (continuous: Σ CFₖ e^(-y tₖ))
    dirty     = 100 PV / face           clean = dirty - accrued      (per 100 of current face)
    WAL       = Σ tₖ principalₖ / Σ principalₖ
    Macaulay  = Σ tₖ CFₖ (1 + y/f)^(-f tₖ) / PV
    modified  = Macaulay / (1 + y/f) = -(1/PV) dPV/dy
    convexity = (1/PV) d²PV/dy² = Σ CFₖ tₖ (tₖ + 1/f) (1 + y/f)^(-f tₖ - 2) / PV

Effective duration and convexity come from re-pricing at the yield bumped by ``± bump``.
Accrued interest runs from the last coupon date at the coupon on current face with the note's
own day count (:class:`Accrual`).

The ``*_kernel`` functions are pure numpy over arrays shaped ``(..., T)`` (many scenarios at
once) and hold the arithmetic; the public functions attach dates and conventions.

Examples
--------
A 2-year 6% semiannual bullet priced at par yields 6% bond-equivalent:

>>> flows = CashFlows(
...     dates=["2024-07-15", "2025-01-15", "2025-07-15", "2026-01-15"],
...     interest=[3.0, 3.0, 3.0, 3.0],
...     principal=[0.0, 0.0, 0.0, 100.0],
... )
>>> r = yield_from_price(flows, settlement="2024-01-15", price=100.0, face=100.0,
...                      convention=Convention(compounding="semiannual", day_count="30/360"))
>>> round(r.yield_, 12), round(r.wal, 12), round(r.macaulay, 6)
(0.06, 2.0, 1.914306)
>>> round(price_from_yield(flows, settlement="2024-01-15", yield_=0.05, face=100.0).price, 6)
101.880987
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from absstruct.compounding import FREQUENCIES, compounding_name, from_continuous, to_continuous
from absstruct.daycount import DateLike, as_days, day_count_name, year_fraction
from absstruct.errors import MAX_LISTED, PricingError, Problem

# Newton on the log of the present value converges from any start for non-negative flows;
# these bound the work and set the stopping rule (in continuously compounded rate units).
_MAX_ITERATIONS = 200
# Newton steps below this (relative) are one polishing step from machine precision.
_STEP_TOLERANCE = 1e-10

DEFAULT_BUMP = 0.0025  # 25 bp: the yield/curve shift used for effective duration/convexity


@dataclass(frozen=True, kw_only=True)
class Convention:
    """How a yield is quoted: compounding and the day count that measures time.

    Examples
    --------
    >>> Convention(compounding="BEY", day_count="act/365")
    Convention(compounding='semiannual', day_count='ACT/365F')
    >>> Convention(compounding="weekly", day_count="30/360")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    absstruct.errors.PricingError: convention: 1 problem
      compounding: 'weekly' is not a compounding; allowed: monthly, ...
    """

    compounding: str = "semiannual"
    day_count: str = "30/360"

    def __post_init__(self) -> None:
        problems: list[Problem] = []
        for attribute, normalize in (
            ("compounding", compounding_name),
            ("day_count", day_count_name),
        ):
            try:
                object.__setattr__(self, attribute, normalize(getattr(self, attribute)))
            except PricingError as error:
                problems.extend(error.problems)
        if problems:
            raise PricingError.from_problems(problems, source="convention")

    @property
    def frequency(self) -> int:
        """Compounding periods per year (0 for continuous)."""
        return FREQUENCIES[self.compounding]

    def __str__(self) -> str:
        return f"{self.compounding} {self.day_count}"


@dataclass(frozen=True, kw_only=True)
class Accrual:
    """Accrued-interest terms of a note: coupon, last coupon date, the note's day count.

    Examples
    --------
    >>> a = Accrual(coupon=0.06, start="2024-01-15", day_count="30/360")
    >>> round(accrued_interest(a, settlement="2024-02-15"), 10)
    0.5
    """

    coupon: float
    start: DateLike
    day_count: str = "30/360"

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_days(self.start))
        problems: list[Problem] = []
        if not np.isfinite(self.coupon):
            problems.append(Problem(where="coupon", value=self.coupon, message="is not finite"))
        try:
            object.__setattr__(self, "day_count", day_count_name(self.day_count))
        except PricingError as error:
            problems.extend(error.problems)
        if problems:
            raise PricingError.from_problems(problems, source="accrual")


@dataclass(frozen=True, kw_only=True, eq=False)
class CashFlows:
    """Dated cash flows of one tranche (or any instrument): dates, interest, principal.

    Arrays are copied, made read-only and checked: equal lengths, finite amounts, dates in
    non-decreasing order.

    Examples
    --------
    >>> cf = CashFlows(dates=["2024-02-25", "2024-03-25"], interest=[1, 1], principal=[10, 0])
    >>> cf.total.tolist()
    [11.0, 1.0]
    """

    dates: Any
    interest: Any
    principal: Any

    def __post_init__(self) -> None:
        dates = np.array(as_days(self.dates), ndmin=1)
        interest = np.array(self.interest, dtype=float, ndmin=1)
        principal = np.array(self.principal, dtype=float, ndmin=1)
        problems: list[Problem] = []
        if not (len(dates) == len(interest) == len(principal)):
            problems.append(
                Problem(
                    where="cash flows",
                    message=f"have {len(dates)} dates, {len(interest)} interest and "
                    f"{len(principal)} principal amounts; the three must be equal",
                )
            )
        else:
            for name, values in (("interest", interest), ("principal", principal)):
                for i in np.flatnonzero(~np.isfinite(values))[:5]:
                    problems.append(
                        Problem(
                            where=f"{name}[{i}]",
                            value=float(values[i]),
                            message="is not a finite amount",
                        )
                    )
            for i in np.flatnonzero(np.isnat(dates))[:5]:
                problems.append(Problem(where=f"dates[{i}]", message="is missing"))
            backwards = np.flatnonzero(dates[1:] < dates[:-1])[:5]
            for i in backwards:
                problems.append(
                    Problem(
                        where=f"dates[{i + 1}]",
                        value=str(dates[i + 1]),
                        message=f"is before dates[{i}] {dates[i]}; dates must be in order",
                    )
                )
        if problems:
            raise PricingError.from_problems(problems, source="cash flows")
        for array in (dates, interest, principal):
            array.flags.writeable = False
        object.__setattr__(self, "dates", dates)
        object.__setattr__(self, "interest", interest)
        object.__setattr__(self, "principal", principal)

    @property
    def total(self) -> np.ndarray:
        """Interest plus principal per date."""
        return self.interest + self.principal

    @classmethod
    def from_frame(
        cls,
        frame: Any,
        *,
        date: str = "date",
        interest: str = "interest",
        principal: str = "principal",
    ) -> CashFlows:
        """Build from a DataFrame (or mapping of columns) with date/interest/principal columns."""
        missing = [c for c in (date, interest, principal) if c not in frame]
        if missing:
            raise PricingError(
                f"cash flows: missing column(s) {', '.join(missing)}; "
                f"need {date}, {interest}, {principal}"
            )
        problems: list[Problem] = []
        days = _date_cells(frame[date], date, problems)
        amounts = [_amount_cells(frame[key], key, problems) for key in (interest, principal)]
        if problems:
            raise PricingError.from_problems(problems, source="cash flows")
        return cls(dates=days, interest=amounts[0], principal=amounts[1])

    def after(self, settlement: DateLike) -> CashFlows:
        """The flows dated strictly after ``settlement`` (what a buyer receives)."""
        keep = self.dates > as_days(settlement)
        return CashFlows(
            dates=self.dates[keep], interest=self.interest[keep], principal=self.principal[keep]
        )


def _amount_cells(column: Any, name: str, problems: list[Problem]) -> np.ndarray:
    """A column of amounts as floats; each cell that is no number becomes a problem."""
    cells = np.asarray(column, dtype=object).ravel()
    values = np.full(len(cells), np.nan)
    for i, cell in enumerate(cells):
        try:
            if isinstance(cell, (bool, np.bool_)):  # True is no amount
                raise TypeError
            values[i] = float(cell)
        except (TypeError, ValueError):
            if len(problems) < MAX_LISTED:
                problems.append(
                    Problem(where=f"{name}[{i}]", value=cell, message="is not a number")
                )
    return values


def _date_cells(column: Any, name: str, problems: list[Problem]) -> np.ndarray:
    """A column of dates as ``datetime64[D]``; each cell that is no date becomes a problem."""
    try:
        return as_days(column)
    except PricingError:
        pass
    cells = np.asarray(column, dtype=object).ravel()
    days = np.full(len(cells), np.datetime64("NaT"), dtype="datetime64[D]")
    for i, cell in enumerate(cells):
        try:
            days[i] = as_days(cell)
        except PricingError:
            if len(problems) >= MAX_LISTED:
                continue
            if cell is None or (isinstance(cell, float) and np.isnan(cell)):
                problems.append(Problem(where=f"{name}[{i}]", message="is missing"))
            else:
                shown = str(cell)
                problems.append(
                    Problem(
                        where=f"{name}[{i}]", value=shown, message="is not a date like 2024-06-30"
                    )
                )
    return days


@dataclass(frozen=True, kw_only=True)
class PriceResult:
    """Price, yield and risk of one tranche at one settlement, with the convention used.

    Prices and accrued are per 100 of current face; ``price`` is the clean price (the
    quote), ``dirty = clean + accrued``.  Durations in years, convexity in years².
    """

    price: float
    yield_: float
    accrued: float
    clean: float
    dirty: float
    present_value: float
    wal: float
    macaulay: float
    modified: float
    convexity: float
    effective_duration: float
    effective_convexity: float
    face: float
    settlement: dt.date
    convention: Convention

    def as_dict(self) -> dict[str, Any]:
        """A flat record (``yield`` without the underscore; convention as two fields)."""
        record = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        record["yield"] = record.pop("yield_")
        convention = record.pop("convention")
        record["compounding"] = convention.compounding
        record["day_count"] = convention.day_count
        return record


# ---------------------------------------------------------------------------------------------
# Kernels: pure numpy, arrays shaped (..., T) for amounts and times; rates shaped (...).


def present_value_kernel(times: Any, amounts: Any, rate: Any, frequency: int) -> np.ndarray:
    """Σ amounts · discount(rate, times); ``frequency`` 0 means continuous compounding."""
    times, amounts = np.asarray(times, float), np.asarray(amounts, float)
    x = _continuous(np.asarray(rate, float), frequency)
    return np.sum(amounts * np.exp(-x[..., None] * times), axis=-1)


def solve_yield_kernel(times: Any, amounts: Any, present_value: Any, frequency: int) -> np.ndarray:
    """Yield (in ``frequency`` compounding) that discounts ``amounts`` to ``present_value``.

    Solves ``ln Σ aₖ e^(-x tₖ) = ln PV`` for the continuously compounded rate ``x`` by Newton:
    the left side is convex and decreasing in ``x`` (its slope is minus the Macaulay
    duration), so Newton converges from any start.  Rows with a negative amount, no positive
    amount at ``t > 0``, or ``PV <= 0`` have no (unique) yield and come back as NaN.
    """
    times = np.asarray(times, float)
    amounts = np.asarray(amounts, float)
    target = np.asarray(present_value, float)
    times_b = np.broadcast_to(times, amounts.shape)
    positive = (amounts > 0) & (times_b > 0)
    solvable = (
        np.all(amounts >= 0, axis=-1)
        & np.any(positive, axis=-1)
        & (target > 0)
        & np.all(np.isfinite(amounts), axis=-1)
        & np.isfinite(target)
    )
    # At least one row, so that the per-row bookkeeping below also serves a single schedule.
    shape = np.broadcast_shapes(solvable.shape, target.shape) or (1,)
    log_amounts = np.where(positive, np.log(np.where(positive, amounts, 1.0)), -np.inf)
    log_target = np.log(np.where(solvable & (target > 0), target, 1.0))
    x = np.full(shape, 0.05)
    log_amounts = np.broadcast_to(log_amounts, shape + amounts.shape[-1:])
    times_b = np.broadcast_to(times_b, log_amounts.shape)
    log_target = np.broadcast_to(log_target, shape)
    # Newton converges quadratically, so a row is done one step after its step falls below
    # _STEP_TOLERANCE: that last step polishes it to machine precision.  Each iteration works
    # only on the rows still moving.
    active = np.broadcast_to(solvable, shape).copy()
    polished = np.zeros(shape, dtype=bool)
    for _ in range(_MAX_ITERATIONS):
        rows = np.nonzero(active)
        if not rows[0].size:
            break
        exponent = log_amounts[rows] - x[rows][:, None] * times_b[rows]
        top = np.max(exponent, axis=-1, keepdims=True)
        top = np.where(np.isfinite(top), top, 0.0)
        weights = np.exp(exponent - top)
        total = weights.sum(axis=-1)
        total = np.where(total > 0, total, 1.0)
        log_pv = top[:, 0] + np.log(total)
        duration = np.sum(weights * times_b[rows], axis=-1) / total
        step = (log_pv - log_target[rows]) / np.where(duration > 0, duration, 1.0)
        x[rows] = x[rows] + step
        small = np.abs(step) <= _STEP_TOLERANCE * (1.0 + np.abs(x[rows]))
        done = small & polished[rows]
        polished[rows] = polished[rows] | small
        active[tuple(r[done] for r in rows)] = False
    result = np.asarray(from_continuous(x, _name(frequency)), dtype=float)
    out_shape = np.broadcast_shapes(solvable.shape, target.shape)
    return np.where(solvable, result, np.nan).reshape(out_shape)


def risk_kernel(
    times: Any, amounts: Any, rate: Any, frequency: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Present value, Macaulay duration, modified duration and convexity at ``rate``."""
    times, amounts = np.asarray(times, float), np.asarray(amounts, float)
    rate = np.asarray(rate, float)
    x = _continuous(rate, frequency)
    discounted = amounts * np.exp(-x[..., None] * times)
    pv = discounted.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        macaulay = np.sum(discounted * times, axis=-1) / pv
        if frequency == 0:
            modified = macaulay
            convexity = np.sum(discounted * times * times, axis=-1) / pv
        else:
            growth = 1.0 + rate / frequency
            modified = macaulay / growth
            convexity = (
                np.sum(discounted * times * (times + 1.0 / frequency), axis=-1) / pv / growth**2
            )
    return pv, macaulay, modified, convexity


def wal_kernel(times: Any, principal: Any) -> np.ndarray:
    """Weighted average life Σ t·principal / Σ principal (NaN when no principal is paid)."""
    times, principal = np.asarray(times, float), np.asarray(principal, float)
    paid = principal.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(paid != 0, np.sum(times * principal, axis=-1) / paid, np.nan)


def _continuous(rate: np.ndarray, frequency: int) -> np.ndarray:
    return np.asarray(to_continuous(rate, _name(frequency)), dtype=float)


def _name(frequency: int) -> str:
    return {f: name for name, f in FREQUENCIES.items()}[frequency]


# ---------------------------------------------------------------------------------------------
# Dated API.


def accrued_interest(accrual: Accrual | None, *, settlement: DateLike) -> float:
    """Accrued interest per 100 of current face from ``accrual.start`` to ``settlement``.

    Examples
    --------
    >>> round(accrued_interest(Accrual(coupon=0.05, start="2024-05-25", day_count="ACT/360"),
    ...                        settlement="2024-06-04"), 10)
    0.1388888889
    """
    if accrual is None:
        return 0.0
    settle = as_days(settlement)
    if accrual.start > settle:
        raise PricingError(
            f"accrual.start: {accrual.start} is after settlement {settle}; "
            "the accrual start is the last coupon date on or before settlement"
        )
    return 100.0 * accrual.coupon * year_fraction(accrual.start, settle, accrual.day_count)


def effective_measures(
    present_value_at: Callable[[float], float], *, bump: float = DEFAULT_BUMP
) -> tuple[float, float]:
    """Effective duration and convexity from re-pricing at a shift of ``± bump``.

    ``present_value_at(shift)`` returns the dirty value with the yield (or the curve) moved by
    ``shift``; it may re-project the cash flows.  Duration ``(P₋ - P₊) / (2 P₀ Δ)``,
    convexity ``(P₋ + P₊ - 2 P₀) / (P₀ Δ²)``.

    Examples
    --------
    A value quadratic in the shift has exactly its slope and curvature:

    >>> d, c = effective_measures(lambda s: 100 * (1 - 4 * s + 10 * s * s), bump=0.01)
    >>> round(d, 9), round(c, 9)
    (4.0, 20.0)
    """
    if not bump > 0:
        raise PricingError(f"bump: {bump} must be above 0")
    base, down, up = present_value_at(0.0), present_value_at(-bump), present_value_at(bump)
    if not base > 0:
        raise PricingError(f"effective measures: base value {base} is not above 0")
    return (down - up) / (2.0 * base * bump), (down + up - 2.0 * base) / (base * bump * bump)


def weighted_average_life(
    flows: CashFlows, *, settlement: DateLike, day_count: str = "30/360"
) -> float:
    """WAL in years from ``settlement`` of the principal paid after it (NaN if none)."""
    after = flows.after(settlement)
    times = year_fraction(as_days(settlement), after.dates, day_count)
    return float(wal_kernel(times, after.principal))


def principal_window(flows: CashFlows, *, settlement: DateLike) -> tuple[Any, Any]:
    """First and last dates with principal paid after ``settlement`` (``None`` if none)."""
    after = flows.after(settlement)
    paid = after.dates[after.principal > 0]
    if len(paid) == 0:
        return None, None
    return paid[0].item(), paid[-1].item()


def _prepare(
    flows: CashFlows, settlement: DateLike, convention: Convention, face: float | None
) -> tuple[dt.date, CashFlows, np.ndarray, float]:
    settle = as_days(settlement)
    if settle.ndim != 0:
        raise PricingError(f"settlement: {settlement!r} must be one date")
    after = flows.after(settle)
    if len(after.dates) == 0:
        raise PricingError(f"no cash flow after settlement {settle}: nothing to price")
    times = np.asarray(year_fraction(settle, after.dates, convention.day_count), dtype=float)
    if face is None:
        face = float(after.principal.sum())
    if not (np.isfinite(face) and face > 0):
        raise PricingError(
            f"face: {face} must be above 0 (the current face the price is quoted on)"
        )
    return settle.item(), after, times, float(face)


def _result(
    after: CashFlows,
    times: np.ndarray,
    *,
    rate: float,
    settlement: dt.date,
    convention: Convention,
    face: float,
    accrued: float,
    bump: float,
) -> PriceResult:
    f = convention.frequency
    amounts = after.total
    pv, macaulay, modified, convexity = (float(v) for v in risk_kernel(times, amounts, rate, f))

    def bumped(shift: float) -> float:
        return float(present_value_kernel(times, amounts, rate + shift, f))

    eff_duration, eff_convexity = effective_measures(bumped, bump=bump)
    dirty = 100.0 * pv / face
    return PriceResult(
        price=dirty - accrued,
        yield_=float(rate),
        accrued=accrued,
        clean=dirty - accrued,
        dirty=dirty,
        present_value=pv,
        wal=float(wal_kernel(times, after.principal)),
        macaulay=macaulay,
        modified=modified,
        convexity=convexity,
        effective_duration=eff_duration,
        effective_convexity=eff_convexity,
        face=face,
        settlement=settlement,
        convention=convention,
    )


def price_from_yield(
    flows: CashFlows,
    *,
    settlement: DateLike,
    yield_: float,
    convention: Convention | None = None,
    face: float | None = None,
    accrual: Accrual | None = None,
    bump: float = DEFAULT_BUMP,
) -> PriceResult:
    """Clean/dirty price per 100 and the risk measures at a given yield.

    Parameters
    ----------
    flows : CashFlows
        The tranche's dated flows; those on or before ``settlement`` are ignored.
    settlement : date-like
    yield_ : float
        Decimal yield quoted in ``convention.compounding``.
    convention : Convention, default semiannual 30/360
    face : float, optional
        Current face at settlement; defaults to the principal still to be paid.
    accrual : Accrual, optional
        Coupon terms for accrued interest (none: clean equals dirty).
    bump : float
        Yield shift for effective duration and convexity.
    """
    convention = convention or Convention()
    if not np.isfinite(yield_) or (convention.frequency and yield_ <= -convention.frequency):
        raise PricingError(
            f"yield: {yield_} is not a usable {convention.compounding} yield "
            f"(must be finite and above {-convention.frequency or '-inf'})"
        )
    settle, after, times, face = _prepare(flows, settlement, convention, face)
    accrued = accrued_interest(accrual, settlement=settle)
    return _result(
        after,
        times,
        rate=yield_,
        settlement=settle,
        convention=convention,
        face=face,
        accrued=accrued,
        bump=bump,
    )


def yield_from_price(
    flows: CashFlows,
    *,
    settlement: DateLike,
    price: float,
    convention: Convention | None = None,
    face: float | None = None,
    accrual: Accrual | None = None,
    bump: float = DEFAULT_BUMP,
) -> PriceResult:
    """Solve the yield for a clean ``price`` per 100 of current face; report risk measures.

    Raises
    ------
    PricingError
        When ``price <= 0``, no flow is left after settlement, every flow is zero, or a flow
        is negative (no unique yield; see :func:`absstruct.spreads.residual_irr`).
    """
    convention = convention or Convention()
    if not (np.isfinite(price) and price > 0):
        raise PricingError(f"price: {price} must be above 0 (clean price per 100 of face)")
    settle, after, times, face = _prepare(flows, settlement, convention, face)
    accrued = accrued_interest(accrual, settlement=settle)
    dirty = price + accrued
    amounts = after.total
    if len(amounts) == 0:
        raise PricingError(f"no yield solves price {price}: no cash flow after settlement {settle}")
    if np.any(amounts < 0):
        raise PricingError(
            f"no unique yield for price {price}: {int(np.sum(amounts < 0))} cash flow(s) after "
            "settlement are negative; yields need non-negative flows (use an IRR instead)"
        )
    if not np.any(amounts > 0):
        raise PricingError(f"no yield solves price {price}: every cash flow after settlement is 0")
    if not dirty > 0:
        raise PricingError(
            f"no yield solves price {price}: the dirty price {dirty} (clean + accrued) is not "
            "above 0"
        )
    rate = float(solve_yield_kernel(times, amounts, dirty * face / 100.0, convention.frequency))
    if not np.isfinite(rate):
        raise PricingError(f"no yield solves price {price} for these cash flows")
    return _result(
        after,
        times,
        rate=rate,
        settlement=settle,
        convention=convention,
        face=face,
        accrued=accrued,
        bump=bump,
    )


def results_frame(results: Mapping[str, PriceResult]) -> Any:
    """One row per tranche name from :class:`PriceResult` records (a pandas DataFrame)."""
    import pandas as pd

    rows = [{"tranche": name, **result.as_dict()} for name, result in results.items()]
    return pd.DataFrame(rows)


__all__ = [
    "DEFAULT_BUMP",
    "Accrual",
    "CashFlows",
    "Convention",
    "PriceResult",
    "accrued_interest",
    "effective_measures",
    "present_value_kernel",
    "price_from_yield",
    "principal_window",
    "results_frame",
    "risk_kernel",
    "solve_yield_kernel",
    "wal_kernel",
    "weighted_average_life",
    "yield_from_price",
]
