"""Breakeven default level of a tranche, solved in batches of candidate levels per engine pass.

The breakeven is the highest default level at which the tranche takes no principal loss
(and, solved alongside, the highest with no interest shortfall: no coupon ever missed).  The
level is measured ``on`` one of three axes, every other assumption staying at the base case
(or the given overrides):

``cdr``
    a flat annual default rate: ``CDR level`` (decimal, 0.05 = 5% CDR);
``multiple``
    a multiple of the base-case default curve (``CDR 3%`` at 2.5 is ``CDR 3% x 2.5``);
``cnl``
    a lifetime cumulative net loss as a share of the cut-off pool: a ``CUM`` default of
    ``level / severity`` spread by the base case's CUM timing, or else evenly over the pool's
    balance-weighted remaining term.

Each engine pass runs a whole batch of candidate levels as scenarios (one projection, one
waterfall over the scenario arrays; the tape is aggregated into cohorts once, before the
first pass): the first pass spreads ``batch`` levels over
``[0, upper]``, each later pass ``batch`` levels inside the bracket ``[last level with no
loss, first level with a loss]``, until the bracket is narrower than ``tolerance``.  The
reported level is the bracket's lower end, a level actually run with no loss.

Loss need not grow with the default level: a trigger, an acceleration or the clean-up call
can make a tranche lose in a narrow band and not just above it.  The solver follows the
*first* loss it sees on each pass's grid (the conservative reading); a band narrower than the
first pass's spacing can be stepped over, so raise ``batch`` when the structure has one.

Examples
--------
>>> from absstruct.deal import load_deal
>>> from absstruct.waterfall import deal_tape
>>> deal = load_deal("deals/cn_consumer_revolving.toml")
>>> found = breakeven(deal, deal_tape(deal), "优先B", on="multiple")
>>> found.passes <= 5, found.upper_bracket - found.level <= 1e-4
(True, True)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from absstruct.analytics.metrics import tranche_losses
from absstruct.errors import AssumptionError, DealError

if TYPE_CHECKING:
    from absstruct.curves import Assumptions, Curve
    from absstruct.deal.model import Deal
    from absstruct.projection import CohortBook

Axis = Literal["cdr", "multiple", "cnl"]
AXES: tuple[str, ...] = ("cdr", "multiple", "cnl")
DEFAULT_BATCH = 32
DEFAULT_TOLERANCE = 1e-4
_MAX_PASSES = 40
_MULTIPLIER = re.compile(
    r"^(?P<body>.*?)\s*(?:x|\*|×)\s*(?P<mult>[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class BreakevenResult:
    """The breakeven levels of one tranche and how they were found.

    ``level`` / ``shortfall_level`` are ``None`` when the tranche already takes a loss (a
    shortfall) at level 0; ``capped`` / ``shortfall_capped`` say no loss happened even at
    ``upper`` (the highest level the grammar allows), so the true breakeven is above it.
    ``default`` is the default assumption at ``level`` as the deal file would write it.
    """

    tranche: str
    on: str
    level: float | None
    shortfall_level: float | None
    default: str | None
    shortfall_default: str | None
    upper_bracket: float | None
    shortfall_upper_bracket: float | None
    capped: bool
    shortfall_capped: bool
    upper: float
    tolerance: float
    passes: int
    scenarios_run: int

    def as_dict(self) -> dict[str, Any]:
        """A flat record for JSON or a one-row table."""
        return asdict(self)


def _base_table(deal: Deal, overrides: Mapping[str, Any]) -> dict[str, Any]:
    return {**deal.pool.assumptions, **{k: v for k, v in overrides.items() if v is not None}}


def _curve_limit(curve: Curve) -> float:
    """The largest multiple of ``curve`` the assumption grammar accepts."""
    peak = max(curve.values) * curve.multiplier
    if curve.kind == "CUM":
        peak = curve.values[0] * curve.multiplier
    if not peak > 0:
        return math.inf
    limit = {"PSA": 100.0 / 0.06, "SDA": 100.0 / 0.006}.get(curve.kind, 1.0)
    return limit / peak


def _number(value: float) -> str:
    return repr(round(float(value), 12))


class _Axis:
    """Maps a level on one axis to the default assumption string, with the axis's upper end."""

    def __init__(self, on: str, table: Mapping[str, Any], tape: pd.DataFrame) -> None:
        from absstruct.curves import parse_default, parse_severity

        if on not in AXES:
            raise AssumptionError(f"on: {on!r} is not one of {', '.join(AXES)}")
        self.on = on
        default = table.get("default", 0.0)
        curve = parse_default(default, where="pool.assumptions.default")
        if on == "cdr":
            self.upper = 1.0
        elif on == "multiple":
            text = str(default) if isinstance(default, str) else f"CDR {_number(float(default))}"
            found = _MULTIPLIER.match(text)
            self.body, self.multiplier = (
                (found["body"], float(found["mult"])) if found else (text, 1.0)
            )
            self.upper = _curve_limit(curve)
            if math.isinf(self.upper):
                raise AssumptionError(
                    f"--on multiple: the base-case default {default!r} is zero; a multiple of "
                    "it is always zero (use --on cdr or cnl)"
                )
        else:
            severity = parse_severity(table.get("severity", 0.0), where="severity")
            levels = {v * severity.multiplier for v in severity.values}
            if len(levels) != 1 or not min(levels) > 0:
                raise AssumptionError(
                    f"--on cnl: needs one flat severity above 0, got {table.get('severity')!r}"
                )
            self.severity = min(min(levels), 1.0)
            self.upper = self.severity
            if curve.kind == "CUM":
                self.timing = "[" + ", ".join(_number(t) for t in curve.timing) + "]"
            else:
                balance = tape["current_balance"].to_numpy(dtype=float)
                remaining = tape["remaining_term"].to_numpy(dtype=float)
                months = max(round(float(np.sum(balance * remaining) / np.sum(balance))), 1)
                self.timing = f"over {months}"

    def default(self, level: float) -> str:
        if self.on == "cdr":
            return f"CDR {_number(level)}"
        if self.on == "multiple":
            return f"{self.body} x {_number(self.multiplier * level)}"
        return f"CUM {_number(min(level / self.severity, 1.0))} {self.timing}"


def _first_bad(levels: np.ndarray, bad: np.ndarray) -> int | None:
    hits = np.flatnonzero(bad)
    return int(hits[0]) if hits.size else None


def breakeven(
    deal: Deal,
    tape: pd.DataFrame,
    tranche: str,
    *,
    on: Axis | str = "cdr",
    prepay: Any = None,
    severity: Any = None,
    lag: int | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    batch: int = DEFAULT_BATCH,
    upper: float | None = None,
    call: bool | None = None,
) -> BreakevenResult:
    """Highest default level on ``on`` with no principal loss (and no interest shortfall).

    Parameters
    ----------
    deal, tape
        The deal and its eligible canonical tape.
    tranche : str
        A tranche with a balance.
    on : {"cdr", "multiple", "cnl"}
    prepay, severity, lag : optional
        Overrides of the base case (assumption strings / months).
    tolerance : float
        Width of the final bracket (in the axis's units).
    batch : int
        Candidate levels per criterion per engine pass (2..1000).
    upper : float, optional
        Search no higher than this (default: the highest level the grammar allows).
    call : bool, optional
        Exercise the clean-up call (default: the deal says).

    Returns
    -------
    BreakevenResult
    """
    from absstruct.deal.scenarios import assumptions_from_table
    from absstruct.waterfall import run
    from absstruct.waterfall.run import collateral_book

    names = [t.name for t in deal.tranches]
    if tranche not in names:
        raise DealError(f"--tranche: unknown tranche {tranche!r}; the deal has {', '.join(names)}")
    if not (tolerance > 0 and math.isfinite(tolerance)):
        raise AssumptionError(f"tolerance: {tolerance} must be above 0")
    if not 2 <= batch <= 1000:
        raise AssumptionError(f"batch: {batch} must be in 2..1000")
    table = _base_table(deal, {"prepay": prepay, "severity": severity, "lag": lag})
    axis = _Axis(on, table, tape)
    top = axis.upper if upper is None else min(float(upper), axis.upper)
    if not top > 0:
        raise AssumptionError(f"upper: {upper} must be above 0")

    passes = 0
    scenarios_run = 0
    book: CohortBook | None = None

    def evaluate(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        nonlocal passes, scenarios_run, book
        chosen: dict[str, Assumptions] = {}
        for level in levels:
            text = axis.default(float(level))
            chosen[f"{on}={_number(level)}"] = assumptions_from_table(
                {**table, "default": text}, where=f"breakeven {on}={_number(level)}"
            )
        if book is None:  # the tape is aggregated once; every pass projects from the book
            book = collateral_book(deal, tape, chosen)
        result = run(deal, book, chosen, call=call)
        if result.original_balances[tranche] <= 0:
            raise DealError(f"--tranche: {tranche!r} has no balance; a breakeven needs a note")
        passes += 1
        scenarios_run += len(levels)
        loss, shortfall = tranche_losses(result, tranche)
        return loss > 0, shortfall > 0

    # brackets[c] = (highest level seen good, lowest level seen bad or None)
    levels = np.linspace(0.0, top, max(batch, 2))
    bad_loss, bad_short = evaluate(levels)
    brackets: list[tuple[float | None, float | None]] = []
    for bad in (bad_loss, bad_short):
        i = _first_bad(levels, bad)
        if i is None:
            brackets.append((top, None))
        elif i == 0:
            brackets.append((None, 0.0))
        else:
            brackets.append((float(levels[i - 1]), float(levels[i])))

    def open_brackets() -> list[int]:
        return [
            c
            for c, (a, b) in enumerate(brackets)
            if a is not None and b is not None and b - a > tolerance
        ]

    while open_brackets():
        if passes >= _MAX_PASSES:
            break
        todo = open_brackets()
        candidates = np.unique(
            np.concatenate(
                [
                    np.linspace(brackets[c][0], brackets[c][1], batch + 2)[1:-1]  # type: ignore[arg-type]
                    for c in todo
                ]
            )
        )
        flags = evaluate(candidates)
        for c in todo:
            a, b = brackets[c]
            inside = (candidates > a) & (candidates < b)
            points, bad = candidates[inside], flags[c][inside]
            i = _first_bad(points, bad)
            if i is None:
                brackets[c] = (float(points[-1]) if points.size else a, b)
            else:
                brackets[c] = (float(points[i - 1]) if i > 0 else a, float(points[i]))
    (level, above), (short_level, short_above) = brackets
    return BreakevenResult(
        tranche=tranche,
        on=on,
        level=level,
        shortfall_level=short_level,
        default=None if level is None else axis.default(level),
        shortfall_default=None if short_level is None else axis.default(short_level),
        upper_bracket=above,
        shortfall_upper_bracket=short_above,
        capped=above is None,
        shortfall_capped=short_above is None,
        upper=top,
        tolerance=tolerance,
        passes=passes,
        scenarios_run=scenarios_run,
    )


def loss_at(
    deal: Deal,
    tape: pd.DataFrame,
    tranche: str,
    levels: Any,
    *,
    on: Axis | str = "cdr",
    prepay: Any = None,
    severity: Any = None,
    lag: int | None = None,
    call: bool | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Principal loss and largest interest shortfall of ``tranche`` at each level (one pass).

    The check behind a breakeven: at the reported level both are 0, just above it positive.
    """
    from absstruct.deal.scenarios import assumptions_from_table
    from absstruct.waterfall import run

    table = _base_table(deal, {"prepay": prepay, "severity": severity, "lag": lag})
    axis = _Axis(on, table, tape)
    chosen = {
        f"{on}={_number(level)}": assumptions_from_table({**table, "default": axis.default(level)})
        for level in np.atleast_1d(np.asarray(levels, dtype=float))
    }
    return tranche_losses(run(deal, tape, chosen, call=call), tranche)


__all__ = ["AXES", "BreakevenResult", "breakeven", "loss_at"]
