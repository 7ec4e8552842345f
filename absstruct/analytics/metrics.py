"""Tranche pricing metrics from a waterfall ``Result``: one row per scenario x tranche.

Every scenario of a tranche is priced at once on the ``(S, T)`` pricing kernels of
:mod:`absstruct.pricing`.  A tranche is quoted by a clean price per 100 of current face
(default: par), a yield, or a spread over a rate curve (Z-spread over a zero curve, I-spread
at the WAL over a term curve); the other measures follow from the quote.  Time runs from the
settlement date (default: the deal's closing date) on the convention's day count; yields are
bond-equivalent (semiannual) on the deal's day count unless another :class:`Convention` is
given, and every row says which convention it used.

A residual (``kind = "residual"``) tranche also gets its IRR (pyxirr, re-quoted in the
convention's compounding) and multiple for a purchase price: by default its initial balance
at par, or the overcollateralization it funds when it has no stated size.

Principal loss is the current face not repaid (``face - principal paid``); the interest
shortfall is the unpaid interest still owed after the last period, and ``max_interest_shortfall``
the largest ever owed (any missed coupon counts).

Examples
--------
>>> from absstruct.deal import load_deal
>>> from absstruct.waterfall import deal_tape, run
>>> deal = load_deal("deals/us_auto.toml")
>>> result = run(deal, deal_tape(deal), "base")
>>> table = tranche_metrics(result, deal, quotes=Quotes(prices={"B": 99.0}))
>>> row = table.set_index("tranche").loc["B"]
>>> round(float(row["price"]), 6), bool(row["yield"] > 0.052), row["convention"]
(99.0, True, 'semiannual 30/360')

One quote per scenario (a batch of jobs, each with its own price or yield), priced at once:

>>> two = run(deal, deal_tape(deal), ["base", "stress"])
>>> per = [Quotes(prices={"B": 99.0}), Quotes(yields={"B": 0.06})]
>>> b = tranche_metrics(two, deal, quotes=per).query("tranche == 'B'")
>>> b["quote"].tolist(), float(b["price"].iloc[0]), float(b["yield"].iloc[1])
(['price 99', 'yield 6%'], 99.0, 0.06)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from absstruct.compounding import FREQUENCIES, convert_rate, discount_factor
from absstruct.daycount import as_days, day_count_name, year_fraction
from absstruct.errors import PricingError, Problem
from absstruct.pricing import (
    Convention,
    present_value_kernel,
    risk_kernel,
    solve_yield_kernel,
    wal_kernel,
)
from absstruct.quotes import check_tranches
from absstruct.ratecurve import RateCurve

if TYPE_CHECKING:
    from absstruct.deal.model import Deal
    from absstruct.waterfall.result import Result

PAR = 100.0
# A loss or shortfall below this many currency units is float noise, not a loss.
LOSS_TOLERANCE = 0.01

METRIC_COLUMNS: tuple[str, ...] = (
    "scenario",
    "tranche",
    "kind",
    "original_balance",
    "face",
    "quote",
    "price",
    "accrued",
    "dirty_price",
    "yield",
    "convention",
    "wal",
    "first_principal_date",
    "last_principal_date",
    "expected_final_date",
    "macaulay_duration",
    "modified_duration",
    "convexity",
    "flat_spread",
    "i_spread",
    "z_spread",
    "spread_compounding",
    "principal_loss",
    "principal_loss_pct",
    "interest_shortfall",
    "max_interest_shortfall",
    "residual_irr",
    "residual_multiple",
    "residual_purchase_price",
    "residual_irr_convention",
)


@dataclass(frozen=True, kw_only=True)
class Quotes:
    """How each tranche is quoted: clean price per 100, yield, or spread over ``curve``.

    Tranches not named are priced at par.  ``benchmark_yield`` (same convention as the
    yields) gives a flat spread.  Decimals throughout (``yields={"A": 0.031}``).

    Examples
    --------
    >>> Quotes(prices={"A": 99.5}, yields={"A": 0.03}).check(["A", "B"])
    Traceback (most recent call last):
    ...
    absstruct.errors.PricingError: quotes: 1 problem
      A: is quoted twice (price and yield); give one quote per tranche
    """

    prices: Mapping[str, float] = field(default_factory=dict)
    yields: Mapping[str, float] = field(default_factory=dict)
    spreads: Mapping[str, float] = field(default_factory=dict)
    curve: RateCurve | None = None
    benchmark_yield: float | None = None

    def check(self, tranches: Any) -> None:
        """Raise naming every unknown tranche, double quote, bad price or spread without curve."""
        names = list(tranches)
        for option, quoted in (
            ("--price", self.prices),
            ("--yield", self.yields),
            ("--spread", self.spreads),
        ):
            check_tranches(dict(quoted), names, option=option)
        problems: list[Problem] = []
        seen: dict[str, str] = {}
        for kind, quoted in (
            ("price", self.prices),
            ("yield", self.yields),
            ("spread", self.spreads),
        ):
            for name in quoted:
                if name in seen:
                    problems.append(
                        Problem(
                            where=name,
                            message=f"is quoted twice ({seen[name]} and {kind}); "
                            "give one quote per tranche",
                        )
                    )
                seen[name] = kind
        for name, price in self.prices.items():
            if not (np.isfinite(price) and price > 0):
                problems.append(
                    Problem(where=f"price {name}", value=price, message="must be above 0")
                )
        if self.spreads and self.curve is None:
            problems.append(
                Problem(where="--spread", message="a spread needs a rate curve (--curve FILE)")
            )
        if problems:
            raise PricingError.from_problems(problems, source="quotes")

    def describe(self, name: str) -> str:
        """The quote of one tranche in words (``price 99.5``, ``yield 3.1%``, ``par``)."""
        if name in self.prices:
            return f"price {self.prices[name]:g}"
        if name in self.yields:
            return f"yield {self.yields[name] * 100:g}%"
        if name in self.spreads and self.curve is not None:
            kind = "z-spread" if self.curve.kind == "zero" else "i-spread"
            return f"{kind} {self.spreads[name] * 10_000:g}bp"
        return "par"


def default_convention(deal: Deal) -> Convention:
    """Bond-equivalent (semiannual) yield on the deal's day count."""
    return Convention(compounding="semiannual", day_count=day_count_name(deal.dates.day_count))


def tranche_losses(result: Result, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Principal loss (original balance not repaid) and largest interest shortfall per scenario.

    Both ``(S,)`` in money; amounts under :data:`LOSS_TOLERANCE` are set to 0.
    """
    ledger = result.tranches[name]
    original = float(result.original_balances[name])
    loss = np.maximum(original - np.asarray(ledger["principal_paid"]).sum(axis=1), 0.0)
    shortfall = np.asarray(ledger["interest_shortfall"]).max(axis=1, initial=0.0)
    return (
        np.where(loss > LOSS_TOLERANCE, loss, 0.0),
        np.where(shortfall > LOSS_TOLERANCE, shortfall, 0.0),
    )


def z_spread_kernel(
    times: np.ndarray, amounts: np.ndarray, present_value: np.ndarray, curve: RateCurve
) -> np.ndarray:
    """Z-spreads ``(S,)`` that discount ``amounts (S, T)`` to ``present_value`` on ``curve``.

    Bisection on every row at once (the value falls as the spread rises); rows that cannot
    be bracketed in [-50%, +500%] or have no positive flow come back NaN.

    Examples
    --------
    >>> flat = RateCurve(tenors=(1.0,), rates=(0.05,), compounding="annual")
    >>> pv = np.array([106 / 1.06])
    >>> round(float(z_spread_kernel(np.array([1.0]), np.array([[106.0]]), pv, flat)[0]), 10)
    0.01
    """
    times = np.asarray(times, float)
    amounts = np.atleast_2d(np.asarray(amounts, float))
    target = np.asarray(present_value, float)
    rates = np.asarray(curve.rate(times), float)
    frequency = FREQUENCIES[curve.compounding]
    floor = -frequency - rates.min(initial=0.0) + 1e-9 if frequency else -0.5
    lo = np.full(target.shape, max(-0.5, floor))
    hi = np.full(target.shape, 5.0)

    def value(spread: np.ndarray) -> np.ndarray:
        factors = discount_factor(
            rates[None, :] + spread[:, None], times[None, :], curve.compounding
        )
        return np.sum(amounts * factors, axis=-1)

    ok = (value(lo) >= target) & (value(hi) <= target) & (target > 0)
    for _ in range(100):
        middle = 0.5 * (lo + hi)
        above = value(middle) > target
        lo = np.where(above, middle, lo)
        hi = np.where(above, hi, middle)
    return np.where(ok, 0.5 * (lo + hi), np.nan)


# How a tranche is quoted in one scenario (codes of the per-scenario quote arrays).
PAR_QUOTE, PRICE_QUOTE, YIELD_QUOTE, SPREAD_QUOTE = 0, 1, 2, 3


@dataclass(frozen=True, kw_only=True)
class _QuoteBook:
    """One :class:`Quotes` for every scenario, or one per scenario, checked once.

    ``rows`` holds one entry (shared by all scenarios) or one per scenario; the curve is
    common to all of them.
    """

    rows: tuple[Quotes, ...]
    n_scenarios: int
    curve: RateCurve | None
    benchmark: np.ndarray

    @classmethod
    def build(cls, quotes: Quotes | Sequence[Quotes] | None, S: int, tranches: Any) -> _QuoteBook:
        if quotes is None or isinstance(quotes, Quotes):
            rows: tuple[Quotes, ...] = (quotes or Quotes(),)
        else:
            rows = tuple(quotes)
            if len(rows) != S:
                raise PricingError(f"quotes: {len(rows)} quotes given for {S} scenarios")
            kinds = {type(q).__name__ for q in rows if not isinstance(q, Quotes)}
            if kinds:
                raise PricingError(f"quotes: expected Quotes per scenario, got {', '.join(kinds)}")
        names = list(tranches)
        checked: set[int] = set()
        for quote in rows:
            if id(quote) not in checked:  # a Quotes shared by many scenarios is checked once
                quote.check(names)
                checked.add(id(quote))
        curve = rows[0].curve
        if any(q.curve != curve for q in rows[1:]):
            raise PricingError("quotes: per-scenario quotes must all use the same curve")
        benchmark = np.array(
            [np.nan if q.benchmark_yield is None else q.benchmark_yield for q in rows]
        )
        return cls(rows=rows, n_scenarios=S, curve=curve, benchmark=np.resize(benchmark, S))

    def check_yields(self, convention: Convention) -> None:
        """A quoted yield must have a price in the convention's compounding."""
        f = convention.frequency
        for quote in self.rows:
            for name, value in quote.yields.items():
                if not np.isfinite(value) or (f and value <= -f):
                    raise PricingError(
                        f"--yield {name}: {value:.6g} has no price: a {convention.compounding} "
                        f"yield must be finite and above {-f * 100:g}%"
                    )

    def codes(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Per scenario: how ``name`` is quoted (``*_QUOTE`` code) and the quoted value."""
        code = np.zeros(len(self.rows), dtype=np.int8)
        value = np.full(len(self.rows), np.nan)
        for s, quote in enumerate(self.rows):
            for kind, quoted in (
                (PRICE_QUOTE, quote.prices),
                (YIELD_QUOTE, quote.yields),
                (SPREAD_QUOTE, quote.spreads),
            ):
                if name in quoted:
                    code[s], value[s] = kind, float(quoted[name])
                    break
        return np.resize(code, self.n_scenarios), np.resize(value, self.n_scenarios)

    def describe(self, scenario: int, name: str) -> str:
        return self.rows[scenario if len(self.rows) > 1 else 0].describe(name)

    def describe_all(self, name: str) -> Any:
        if len(self.rows) == 1:
            return self.rows[0].describe(name)
        return [quote.describe(name) for quote in self.rows]


def _quoted_measures(
    code: np.ndarray,
    value: np.ndarray,
    times: np.ndarray,
    cash: np.ndarray,
    face: np.ndarray,
    accrued: float,
    wal: np.ndarray,
    curve: RateCurve | None,
    convention: Convention,
) -> tuple[np.ndarray, ...]:
    """Price, yield, durations and spreads of every scenario from its own quote, at once.

    Prices (par included) and zero-curve spreads give a price and the yield is solved;
    yields and term-curve spreads give the yield and the price follows.  A quoted spread
    is reported as given.
    """
    f = convention.frequency
    S = code.shape[0]
    price = np.full(S, np.nan)
    yields = np.full(S, np.nan)
    spread = code == SPREAD_QUOTE
    on_term = spread & (curve is not None and curve.kind == "term")
    on_zero = spread & (curve is not None and curve.kind != "term")
    given_yield = code == YIELD_QUOTE
    yields[given_yield] = value[given_yield]
    rate_at_wal = np.full(S, np.nan)
    if curve is not None:
        rate_at_wal = np.asarray(
            convert_rate(curve.rate(np.nan_to_num(wal)), curve.compounding, convention.compounding)
        )
        rate_at_wal = np.where(np.isfinite(wal), rate_at_wal, np.nan)
    yields[on_term] = rate_at_wal[on_term] + value[on_term]
    if on_zero.any() and curve is not None:
        for level in np.unique(value[on_zero]):  # usually one spread level for many scenarios
            rows = on_zero & (value == level)
            factors = curve.discount(times, level)
            price[rows] = 100.0 * np.sum(cash[rows] * factors, axis=-1) / face[rows] - accrued
    by_price = code <= PRICE_QUOTE
    price[by_price] = np.where(code[by_price] == PRICE_QUOTE, value[by_price], PAR)
    solve = by_price | on_zero
    if solve.any():
        target = (price[solve] + accrued) / 100.0 * face[solve]
        yields[solve] = solve_yield_kernel(times, cash[solve], target, f)
    pv_yield = np.nan_to_num(yields)
    pv = present_value_kernel(times, cash, pv_yield, f)
    from_yield = given_yield | on_term
    price[from_yield] = 100.0 * pv[from_yield] / face[from_yield] - accrued
    _, macaulay, modified, convexity = risk_kernel(times, cash, pv_yield, f)
    i_spread = np.full(S, np.nan)
    z_spread = np.full(S, np.nan)
    if curve is not None:
        i_spread = yields - rate_at_wal
        i_spread[on_term] = value[on_term]
        if curve.kind == "zero":
            dirty_value = (price + accrued) / 100.0 * face
            z_spread = z_spread_kernel(times, cash, np.nan_to_num(dirty_value), curve)
            z_spread = np.where(np.isfinite(price), z_spread, np.nan)
            z_spread[on_zero] = value[on_zero]
    return price, yields, macaulay, modified, convexity, i_spread, z_spread


def _settlement(deal: Deal, settlement: Any) -> dt.date:
    if settlement is None:
        return deal.dates.closing
    settled: dt.date = as_days(settlement).item()
    return settled


def _dates_or_none(dates: np.ndarray, mask: np.ndarray, last: bool) -> Any:
    """Per row the first (or last) date where ``mask`` holds, else None."""
    T = mask.shape[1]
    position = T - 1 - np.argmax(mask[:, ::-1], axis=1) if last else np.argmax(mask, axis=1)
    return np.where(mask.any(axis=1), dates[position], None) if T else [None] * mask.shape[0]


def _residual_measures(
    cash: np.ndarray,
    dates: list[dt.date],
    settle: dt.date,
    stake: float,
    compounding: str,
) -> dict[str, Any]:
    """IRR (re-quoted in ``compounding``, time on ACT/365F) and multiple per scenario.

    Every scenario is solved at once: the IRR discounts the flows after settlement to the
    purchase price, as :func:`absstruct.spreads.residual_irr` (pyxirr's XIRR) does one
    scenario at a time; a residual returning nothing has an IRR of -100% annual effective.
    """
    S = cash.shape[0]
    irr = np.full(S, np.nan)
    multiple = np.full(S, np.nan)
    if stake > 0:
        times = np.maximum(np.asarray(year_fraction(settle, as_days(dates), "ACT/365F")), 0.0)
        frequency = FREQUENCIES[compounding]
        irr = solve_yield_kernel(times, cash, np.full(S, stake), frequency)
        nothing = ~np.any(cash > 0, axis=1)
        irr[nothing] = -float(frequency or np.inf)
        multiple = cash.sum(axis=1) / stake
    return {
        "residual_irr": irr,
        "residual_multiple": multiple,
        "residual_purchase_price": np.full(S, stake if stake > 0 else np.nan),
        "residual_irr_convention": f"{compounding} ACT/365F",
    }


def tranche_metrics(
    result: Result,
    deal: Deal,
    *,
    settlement: Any = None,
    quotes: Quotes | Sequence[Quotes] | None = None,
    convention: Convention | None = None,
    residual_price: float | None = None,
) -> pd.DataFrame:
    """Price, yield, spreads, WAL, window, durations, losses per scenario x tranche.

    Parameters
    ----------
    result : Result
        A waterfall run (any number of scenarios).
    deal : Deal
        The deal that produced it (tranche kinds, coupons, day counts, closing date).
    settlement : date-like, optional
        Default: the deal's closing date.  Flows on or before it are left out.
    quotes : Quotes or sequence of Quotes, optional
        Per-tranche price, yield or spread; default par for every tranche.  A sequence
        gives one ``Quotes`` per scenario (in ``result.scenario_names`` order, all on the
        same curve): each scenario is priced at its own quote, still all at once.
    convention : Convention, optional
        Yield compounding and the day count that measures time; default semiannual
        (bond-equivalent) on the deal's day count.
    residual_price : float, optional
        Money paid for the residual tranche (default: its initial balance, at par).

    Returns
    -------
    pandas.DataFrame
        :data:`METRIC_COLUMNS`, one row per scenario x tranche (scenario-major).
    """
    S = result.n_scenarios
    book = _QuoteBook.build(quotes, S, result.tranches)
    if residual_price is not None and not (np.isfinite(residual_price) and residual_price > 0):
        raise PricingError(f"residual price: {residual_price} must be above 0 (money paid)")
    convention = convention or default_convention(deal)
    book.check_yields(convention)
    settle = _settlement(deal, settlement)
    dates = list(result.payment_dates)
    day64 = as_days(dates)
    after = day64 > np.datetime64(settle, "D")
    if not after.any():
        raise PricingError(f"settlement: {settle} is on or after the last payment date {dates[-1]}")
    times = np.where(after, np.asarray(year_fraction(settle, day64, convention.day_count)), 0.0)
    kinds = {t.name: t.kind for t in deal.tranches}
    day_counts = {t.name: t.day_count for t in deal.tranches}
    notes_total = sum(b for n, b in result.original_balances.items() if kinds.get(n) == "note")
    frames = []
    for name, ledger in result.tranches.items():
        original = float(result.original_balances[name])
        principal = np.where(after, np.asarray(ledger["principal_paid"], float), 0.0)
        interest = np.where(after, np.asarray(ledger["interest_paid"], float), 0.0)
        residual = np.where(after, np.asarray(ledger["residual_paid"], float), 0.0)
        cash = principal + interest + residual
        paid_before = np.flatnonzero(~after)
        face = (
            np.asarray(ledger["balance"], float)[:, paid_before[-1]]
            if paid_before.size
            else np.full(S, original)
        )
        start = dates[paid_before[-1]] if paid_before.size else deal.dates.closing
        coupon = np.asarray(result.coupons.get(name, np.zeros(len(dates))), float)
        period = int(paid_before[-1]) + 1 if paid_before.size else 0
        accrued = (
            100.0
            * float(coupon[min(period, len(coupon) - 1)])
            * float(year_fraction(start, settle, day_count_name(day_counts.get(name, "30/360"))))
        )
        has_face = face > LOSS_TOLERANCE
        safe_face = np.where(has_face, face, 1.0)
        code, value = book.codes(name)
        wal = wal_kernel(times, principal)
        curve = book.curve
        if has_face.any():
            price, yields, macaulay, modified, convexity, i_spread, z_spread = _quoted_measures(
                code, value, times, cash, safe_face, accrued, wal, curve, convention
            )
            bad = ~np.isfinite(yields) | ~has_face
            unsolved = np.flatnonzero(bad & has_face & (code != PAR_QUOTE))
            if unsolved.size:
                first = int(unsolved[0])
                raise PricingError(
                    f"{name}: no yield solves {book.describe(first, name)} in scenario "
                    f"{result.scenario_names[first]!r} (the tranche has no positive cash "
                    "flow after settlement, or the quote is out of range)"
                )
            price, yields = np.where(has_face, price, np.nan), np.where(bad, np.nan, yields)
            macaulay, modified, convexity = (
                np.where(bad, np.nan, v) for v in (macaulay, modified, convexity)
            )
        else:
            price = yields = macaulay = modified = convexity = np.full(S, np.nan)
            z_spread = i_spread = np.full(S, np.nan)
        loss = np.maximum(face - principal.sum(axis=1), 0.0)
        loss = np.where(loss > LOSS_TOLERANCE, loss, 0.0)
        shortfall = np.asarray(ledger["interest_shortfall"], float)
        shortfall = np.where(shortfall > LOSS_TOLERANCE, shortfall, 0.0)
        frame: dict[str, Any] = {
            "scenario": list(result.scenario_names),
            "tranche": name,
            "kind": kinds.get(name, "note"),
            "original_balance": original,
            "face": face,
            "quote": book.describe_all(name) if has_face.any() else "-",
            "price": price,
            "accrued": np.where(has_face, accrued, np.nan),
            "dirty_price": price + accrued,
            "yield": yields,
            "convention": str(convention),
            "wal": wal,
            "first_principal_date": _dates_or_none(
                np.array(dates, dtype=object), principal > 0, False
            ),
            "last_principal_date": _dates_or_none(
                np.array(dates, dtype=object), principal > 0, True
            ),
            "expected_final_date": _dates_or_none(np.array(dates, dtype=object), cash > 0, True),
            "macaulay_duration": macaulay,
            "modified_duration": modified,
            "convexity": convexity,
            "flat_spread": yields - book.benchmark,
            "i_spread": i_spread,
            "z_spread": z_spread,
            "spread_compounding": curve.compounding if curve is not None else "",
            "principal_loss": loss,
            "principal_loss_pct": np.where(has_face, loss / safe_face, np.nan),
            "interest_shortfall": shortfall[:, -1],
            "max_interest_shortfall": shortfall.max(axis=1, initial=0.0),
        }
        if kinds.get(name) == "residual":
            stake = (
                residual_price
                if residual_price is not None
                else original
                if original > 0
                else float(result.pool.initial_balance) - notes_total
            )
            frame.update(_residual_measures(cash, dates, settle, stake, convention.compounding))
        else:
            frame.update(
                {
                    "residual_irr": np.full(S, np.nan),
                    "residual_multiple": np.full(S, np.nan),
                    "residual_purchase_price": np.full(S, np.nan),
                    "residual_irr_convention": "",
                }
            )
        frames.append(pd.DataFrame(frame))
    table = pd.concat(frames, ignore_index=True)
    order = {n: i for i, n in enumerate(result.scenario_names)}
    table = table.sort_values(
        "scenario", key=lambda c: c.map(order), kind="stable", ignore_index=True
    )
    return table[list(METRIC_COLUMNS)]


__all__ = [
    "LOSS_TOLERANCE",
    "METRIC_COLUMNS",
    "Quotes",
    "default_convention",
    "tranche_losses",
    "tranche_metrics",
    "z_spread_kernel",
]
