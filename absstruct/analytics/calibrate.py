"""Fit default, prepayment and severity curves by loan age from a static-pool history.

:func:`fit_curves` turns a :class:`~absstruct.analytics.history.LoanHistory` into MDR and SMM
vectors by months on book (balance-weighted over the loans observed at each age), a severity,
the default timing curve of the seasoned vintages and the lifetime cumulative default rate.
:func:`to_assumptions` turns the fitted curves into projection
:class:`~absstruct.curves.Assumptions`; the fit is checked, and later vintages back-tested, by
projecting :func:`rebased_tape` (loans at origination) through :func:`absstruct.projection.project`.
:func:`assumptions_toml` writes those assumptions as a file.

Examples
--------
>>> curves = SegmentCurves(segment="all", loans=1, original_balance=1.0,
...                        mdr=(0.0, 0.1), smm=(0.0, 0.0), severity=0.5)
>>> to_assumptions(FittedCurves(by=None, chargeoff_lag=5, pool=curves)).default
'MDR [0%, 10%]'
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from absstruct.analytics.history import APPROXIMATIONS, LoanHistory
from absstruct.curves import Assumptions, SegmentAssumptions
from absstruct.errors import TapeError
from absstruct.projection import project

#: Ages whose observed performing balance is below this share of the segment's original
#: balance are too thin to estimate a rate; the curve carries its last reliable value there.
MIN_EXPOSURE_SHARE = 0.002


@dataclass(frozen=True, kw_only=True)
class SegmentCurves:
    """Fitted curves of one segment, indexed by loan age 1..len(mdr)."""

    segment: str
    loans: int
    original_balance: float
    mdr: tuple[float, ...]
    smm: tuple[float, ...]
    severity: float
    recovery_lag: int = 0
    timing: tuple[float, ...] = ()
    lifetime_default_observed: float = float("nan")
    lifetime_default_fitted: float = float("nan")
    reliable_ages: int = 0

    @property
    def cdr(self) -> np.ndarray:
        """Annualised default rate by age: 1 - (1 - MDR)^12."""
        return 1.0 - (1.0 - np.asarray(self.mdr)) ** 12

    @property
    def cpr(self) -> np.ndarray:
        """Annualised prepayment rate by age: 1 - (1 - SMM)^12."""
        return 1.0 - (1.0 - np.asarray(self.smm)) ** 12


@dataclass(frozen=True, kw_only=True)
class FittedCurves:
    """Curves by segment plus the pool-wide curve every unknown segment falls back to."""

    by: str | None
    chargeoff_lag: int
    pool: SegmentCurves
    segments: tuple[SegmentCurves, ...] = ()
    fitted_on: str = ""
    approximations: tuple[str, ...] = field(default=APPROXIMATIONS)

    def curves_for(self, segment: str) -> SegmentCurves:
        """The segment's curves, or the pool's when the segment was not in the fit."""
        for curves in self.segments:
            if curves.segment == segment:
                return curves
        return self.pool

    def table(self) -> pd.DataFrame:
        """Curves by segment and age, with CDR/CPR and the timing curve."""
        frames = []
        for curves in (self.pool, *self.segments) if self.segments else (self.pool,):
            ages = np.arange(1, len(curves.mdr) + 1)
            timing = np.zeros(len(ages))
            timing[: min(len(curves.timing), len(ages))] = curves.timing[: len(ages)]
            frames.append(
                pd.DataFrame(
                    {
                        "segment": curves.segment,
                        "age": ages,
                        "mdr": curves.mdr,
                        "cdr": curves.cdr,
                        "smm": curves.smm,
                        "cpr": curves.cpr,
                        "default_timing": timing,
                        "default_timing_cum": np.cumsum(timing),
                        "reliable": ages <= curves.reliable_ages,
                    }
                )
            )
        return pd.concat(frames, ignore_index=True)

    def summary(self) -> pd.DataFrame:
        """One row per segment: loans, severity, lifetime default observed and fitted."""
        rows = [self.pool, *self.segments] if self.segments else [self.pool]
        return pd.DataFrame(
            {
                "segment": [c.segment for c in rows],
                "loans": [c.loans for c in rows],
                "original_balance": [c.original_balance for c in rows],
                "severity": [c.severity for c in rows],
                "recovery_lag": [c.recovery_lag for c in rows],
                "lifetime_default_observed": [c.lifetime_default_observed for c in rows],
                "lifetime_default_fitted": [c.lifetime_default_fitted for c in rows],
                "reliable_ages": [c.reliable_ages for c in rows],
            }
        )


def _rate(numerator: np.ndarray, denominator: np.ndarray, floor: float) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > floor, numerator / np.maximum(denominator, floor), 0.0)


def _carry_thin_ages(values: np.ndarray, reliable: np.ndarray) -> tuple[np.ndarray, int]:
    """Replace rates at thin ages by the last reliable value (the vector grammar's padding)."""
    if not reliable.any():
        return np.zeros_like(values), 0
    index = np.where(reliable, np.arange(len(values)), -1)
    last_good = np.maximum.accumulate(index)
    first = int(np.argmax(reliable))
    last_good = np.where(last_good < 0, first, last_good)
    return values[last_good], int(np.flatnonzero(reliable)[-1]) + 1


def _seasoned_vintages(history: LoanHistory) -> np.ndarray:
    """Loans whose whole vintage (and segment) has a known final outcome."""
    keys = pd.DataFrame({"s": history.segment, "v": history.vintage, "r": history.resolved})
    return keys.groupby(["s", "v"])["r"].transform("all").to_numpy(dtype=bool)


def _fit_one(history: LoanHistory, mask: np.ndarray, label: str) -> SegmentCurves:
    p = history.paths
    term = int(history.term[mask].max(initial=1))
    exposure = p.start_balance[mask].sum(axis=0)[:term]
    defaults = p.defaults[mask].sum(axis=0)[:term]
    prepay = p.prepayments[mask].sum(axis=0)[:term]
    base = p.prepay_base[mask].sum(axis=0)[:term]
    original = float(history.original_balance[mask].sum())
    reliable = exposure >= MIN_EXPOSURE_SHARE * original
    mdr, reliable_ages = _carry_thin_ages(np.clip(_rate(defaults, exposure, 0.0), 0, 1), reliable)
    # The last scheduled instalment leaves no balance to prepay: SMM there is undefined (0).
    smm, _ = _carry_thin_ages(np.clip(_rate(prepay, base, 1e-6 * original), 0, 1), reliable)
    chargeoff = history.chargeoff[mask].sum()
    net_recovery = (history.recoveries[mask] - history.recovery_fees[mask]).sum()
    severity = float((chargeoff - net_recovery) / chargeoff) if chargeoff > 0 else 1.0
    seasoned = mask & _seasoned_vintages(history)
    if seasoned.any() and p.defaults[seasoned].sum() > 0:
        by_age = p.defaults[seasoned].sum(axis=0)[:term]
        timing = by_age / by_age.sum()
        observed_lifetime = float(
            p.defaults[seasoned].sum() / history.original_balance[seasoned].sum()
        )
    else:
        timing = np.array([])
        observed_lifetime = float("nan")
    curves = SegmentCurves(
        segment=label,
        loans=int(mask.sum()),
        original_balance=original,
        mdr=tuple(float(x) for x in mdr),
        smm=tuple(float(x) for x in smm),
        severity=max(0.0, min(1.0, severity)),
        lifetime_default_observed=observed_lifetime,
        reliable_ages=reliable_ages,
    )
    # The segment's own loans from origination under its curves, through the engine.
    alone = FittedCurves(by=None, chargeoff_lag=history.spec.chargeoff_lag, pool=curves)
    defaults = project(rebased_tape(history, mask), to_assumptions(alone))["new_defaults"][0]
    fitted_lifetime = float(defaults.sum() / original) if original > 0 else float("nan")
    if timing.size == 0 and defaults.sum() > 0:
        # No seasoned vintage: the fitted curves' own default timing stands in.
        timing = defaults / defaults.sum()
    return dataclasses.replace(
        curves,
        timing=tuple(float(x) for x in timing),
        lifetime_default_fitted=fitted_lifetime,
    )


def fit_curves(history: LoanHistory, *, fitted_on: str = "") -> FittedCurves:
    """Fit MDR, SMM, severity and default timing by age, pool-wide and per segment.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from absstruct.analytics.history import HistorySpec, load_history
    >>> tape = pd.DataFrame({
    ...     "loan_id": ["1", "2"], "origination_date": pd.to_datetime(["2020-01-01"] * 2),
    ...     "original_balance": [1000.0, 1000.0], "original_term": [12, 12], "rate": [0.0, 0.0],
    ...     "status": ["paid_off", "defaulted"],
    ...     "last_payment_date": pd.to_datetime(["2021-01-01", "2020-03-01"]),
    ...     "principal_received": [1000.0, 166.67], "recoveries": [0.0, 83.33],
    ...     "recovery_fees": [0.0, 0.0]})
    >>> fitted = fit_curves(load_history(tape, HistorySpec(chargeoff_lag=5)))
    >>> round(fitted.pool.mdr[6], 4), round(fitted.pool.severity, 4)   # age 7 = 2 + 5
    (0.625, 0.9)
    """
    pool = _fit_one(history, np.ones(len(history.original_balance), dtype=bool), "all")
    segments: tuple[SegmentCurves, ...] = ()
    if history.spec.by is not None:
        labels = sorted(set(history.segment.tolist()))
        segments = tuple(_fit_one(history, history.segment == s, str(s)) for s in labels)
    return FittedCurves(
        by=history.spec.by,
        chargeoff_lag=history.spec.chargeoff_lag,
        pool=pool,
        segments=segments,
        fitted_on=fitted_on,
    )


def extend_curve(values: tuple[float, ...] | np.ndarray, width: int) -> np.ndarray:
    """Extend a curve by age to ``width`` ages for loans longer than any in the fit.

    The final age of a curve is the maturity month, where charge-offs inferred after
    maturity pile up and nothing is left to prepay; it is no guide to later ages.  The
    extension repeats the mean of the 12 ages before it.

    Examples
    --------
    >>> extend_curve((0.01, 0.02, 0.5), 5).tolist()
    [0.01, 0.02, 0.5, 0.015, 0.015]
    """
    curve = np.asarray(values, dtype=float)
    if width <= curve.size:
        return curve[:width]
    body = curve[:-1] if curve.size > 1 else curve
    tail = float(body[-12:].mean()) if body.size else 0.0
    return np.concatenate([curve, np.full(width - curve.size, tail)])


#: Tape columns the projection engine reads; a segment column among them keeps its values.
_PROJECTION_COLUMNS = (
    "original_balance",
    "current_balance",
    "rate",
    "original_term",
    "remaining_term",
    "amortization",
)


def rebased_tape(history: LoanHistory, mask: np.ndarray | None = None) -> pd.DataFrame:
    """The history's loans as a tape at origination (age 0), ready for the projection engine.

    ``current_balance`` = ``original_balance`` and ``remaining_term`` = ``original_term``; the
    segment column (``spec.by``) carries the history's segment labels.

    Examples
    --------
    >>> from absstruct.analytics.history import HistorySpec, load_history
    >>> tape = pd.DataFrame({
    ...     "loan_id": ["1"], "origination_date": pd.to_datetime(["2020-01-01"]),
    ...     "original_balance": [1000.0], "original_term": [12], "rate": [0.1],
    ...     "status": ["paid_off"], "last_payment_date": pd.to_datetime(["2020-06-01"]),
    ...     "principal_received": [1000.0]})
    >>> row = rebased_tape(load_history(tape, HistorySpec())).to_dict(orient="records")[0]
    >>> row["current_balance"], row["remaining_term"], row["amortization"]
    (1000.0, 12, 'level_pay')
    """
    rows = np.ones(len(history.original_balance), dtype=bool) if mask is None else mask
    frame = pd.DataFrame(
        {
            "original_balance": history.original_balance[rows],
            "current_balance": history.original_balance[rows],
            "rate": history.rate[rows],
            "original_term": history.term[rows],
            "remaining_term": history.term[rows],
            "amortization": history.amortization[rows],
        }
    )
    by = history.spec.by
    if by is not None:
        labels = history.segment[rows]
        if by not in frame.columns:
            frame[by] = labels
        elif not (frame[by].astype("string").to_numpy(dtype=object) == labels).all():
            # The engine labels segments by the column's text; both must name the same loans.
            raise TapeError(
                f"column {by}: segment labels differ from the projected values; "
                "segment by a column the projection does not read"
            )
    return frame


def _percent(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    text = f"{100.0 * value:.6f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _vector(kind: str, values: tuple[float, ...] | np.ndarray) -> str:
    return f"{kind} [" + ", ".join(_percent(float(v)) for v in values) + "]"


def _curve_strings(curves: SegmentCurves, width: int) -> dict[str, str]:
    """One segment's curves in the assumptions grammar, extended to ``width`` ages."""
    return {
        "prepay": _vector("SMM", extend_curve(curves.smm, width)),
        "default": _vector("MDR", extend_curve(curves.mdr, width)),
        "severity": _percent(curves.severity),
    }


def to_assumptions(fitted: FittedCurves, *, width: int | None = None) -> Assumptions:
    """The fitted curves as projection :class:`~absstruct.curves.Assumptions` (by loan age).

    The pool curve is the base case; each fitted segment is an override on ``segment_by``
    (segments not in the fit follow the base case).  Every vector is extended to ``width``
    ages (default: the longest fitted curve) with :func:`extend_curve`, so loans longer than
    the fit never run on the maturity month's rate.  Vectors are written to 1e-8.

    Examples
    --------
    >>> curves = SegmentCurves(segment="all", loans=1, original_balance=1.0,
    ...                        mdr=(0.01, 0.02), smm=(0.0, 0.05), severity=0.9)
    >>> a = to_assumptions(FittedCurves(by=None, chargeoff_lag=5, pool=curves))
    >>> a.prepay, a.default, a.severity, a.basis
    ('SMM [0%, 5%]', 'MDR [1%, 2%]', '90%', 'age')
    """
    everything = (fitted.pool, *fitted.segments)
    width = width if width is not None else max(len(c.mdr) for c in everything)
    return Assumptions(
        **_curve_strings(fitted.pool, width),
        lag=fitted.pool.recovery_lag,
        basis="age",
        segment_by=fitted.by if fitted.segments else None,
        segments={
            c.segment: SegmentAssumptions(**_curve_strings(c, width)) for c in fitted.segments
        },
    )


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    # JSON string escapes are valid TOML basic-string escapes.
    return json.dumps(str(value), ensure_ascii=False)


def assumptions_toml(
    assumptions: Assumptions,
    *,
    fitted: FittedCurves | None = None,
    generated: dt.date | None = None,
) -> str:
    """An assumptions file: the keys of ``assumptions``, one ``[segments.X]`` table per segment.

    ``Assumptions.from_mapping(tomllib.loads(text))`` reads it back to ``assumptions``; in a
    deal file the same keys go under ``[pool.assumptions]``.  ``fitted`` adds comments (what
    the fit used, the approximations, lifetime defaults observed and fitted).

    Examples
    --------
    >>> import tomllib
    >>> a = Assumptions(prepay="SMM [0%, 5%]", default="MDR [1%]", severity="90%")
    >>> Assumptions.from_mapping(tomllib.loads(assumptions_toml(a))) == a
    True
    """
    lines = ["# Collateral assumptions (absstruct curves grammar; vectors by loan age)."]
    if fitted is not None:
        lines += [
            "# Fitted from static-pool history on: "
            + (fitted.fitted_on or "the whole tape")
            + (f"; generated {generated.isoformat()}" if generated else ""),
            "# Approximations:",
            *[f"#  - {text}" for text in fitted.approximations],
            *[
                f"# {c.segment}: {c.loans} loans; lifetime gross default observed "
                f"{_percent(c.lifetime_default_observed)}, fitted "
                f"{_percent(c.lifetime_default_fitted)}"
                for c in (fitted.pool, *fitted.segments)
            ],
        ]
    data = assumptions.model_dump(exclude_none=True)
    segments = data.pop("segments", {})
    lines += ["", *(f"{key} = {_toml_value(value)}" for key, value in data.items())]
    for label, table in segments.items():
        lines += ["", f"[segments.{json.dumps(str(label), ensure_ascii=False)}]"]
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def extrapolate_lifetime(summary: pd.DataFrame, fitted: FittedCurves) -> pd.DataFrame:
    """Add each vintage's lifetime gross default: observed when seasoned, else grossed up.

    A young vintage's default-to-date is divided by the share of lifetime defaults its
    segment's seasoned vintages had reached by the same age (the timing curve).  When that
    share is below 10% the ratio is unstable and the fitted curves' lifetime rate stands in.
    """
    rates, methods = [], []
    for row in summary.itertuples(index=False):
        curves = fitted.curves_for(str(row.segment))
        cum_timing = np.cumsum(np.asarray(curves.timing, dtype=float))
        observed = float(row.gross_default_rate)
        if bool(row.seasoned) or cum_timing.size == 0:
            rates.append(observed)
            methods.append("observed")
            continue
        age = int(min(max(row.months_observed, 0), cum_timing.size))
        share = float(cum_timing[age - 1]) if age >= 1 else 0.0
        if share >= 0.10:
            rates.append(observed / share)
            methods.append("timing curve")
        else:
            rates.append(curves.lifetime_default_fitted)
            methods.append("fitted curves")
    out = summary.copy()
    out["lifetime_default_rate"] = rates
    out["lifetime_method"] = methods
    return out


__all__ = [
    "MIN_EXPOSURE_SHARE",
    "FittedCurves",
    "SegmentCurves",
    "assumptions_toml",
    "extend_curve",
    "extrapolate_lifetime",
    "fit_curves",
    "rebased_tape",
    "to_assumptions",
]
