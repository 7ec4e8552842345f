"""Fit default, prepayment and severity curves by loan age from a static-pool history.

:func:`fit_curves` turns a :class:`~absstruct.analytics.history.LoanHistory` into MDR and SMM
vectors by months on book (balance-weighted over the loans observed at each age), a severity,
the default timing curve of the seasoned vintages and the lifetime cumulative default rate.
:func:`project_loans` is the small pure-numpy projection the fit is checked with (SIFMA order:
defaults on the prior performing balance before scheduled amortization, prepayments after).
:func:`assumptions_toml` writes the fitted curves in the assumptions-file format.

Examples
--------
>>> import numpy as np
>>> flows = project_loans(
...     original_balance=np.array([100.0]), rate=np.array([0.0]), term=np.array([2]),
...     mdr=np.array([[0.1, 0.1]]), smm=np.array([[0.0, 0.0]]), severity=np.array([0.5]),
...     curve_index=np.array([0]))
>>> flows["defaults"].round(6).tolist(), flows["scheduled_principal"].round(6).tolist()
([[10.0, 4.5]], [[45.0, 40.5]])
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from absstruct.analytics.history import APPROXIMATIONS, LoanHistory, schedule_fraction

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
    flows = project_loans(
        original_balance=history.original_balance[mask],
        rate=history.rate[mask],
        term=history.term[mask],
        mdr=mdr[None, :],
        smm=smm[None, :],
        severity=np.array([severity]),
        curve_index=np.zeros(int(mask.sum()), dtype=np.int64),
    )
    fitted_lifetime = float(flows["defaults"].sum() / original) if original > 0 else float("nan")
    if timing.size == 0 and flows["defaults"].sum() > 0:
        # No seasoned vintage: the fitted curves' own default timing stands in.
        curve = flows["defaults"].sum(axis=0)
        timing = curve / curve.sum()
    return SegmentCurves(
        segment=label,
        loans=int(mask.sum()),
        original_balance=original,
        mdr=tuple(float(x) for x in mdr),
        smm=tuple(float(x) for x in smm),
        severity=max(0.0, min(1.0, severity)),
        timing=tuple(float(x) for x in timing),
        lifetime_default_observed=observed_lifetime,
        lifetime_default_fitted=fitted_lifetime,
        reliable_ages=reliable_ages,
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


def project_loans(
    *,
    original_balance: np.ndarray,
    rate: np.ndarray,
    term: np.ndarray,
    mdr: np.ndarray,
    smm: np.ndarray,
    severity: np.ndarray,
    curve_index: np.ndarray,
    amortization: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Project level-pay loans from origination under curves by age (loans x ages arrays).

    ``mdr``/``smm`` are ``(K, A)`` curves (padded with their last value past ``A``),
    ``severity`` has length K and ``curve_index`` picks each loan's curve.  Recovery lag is
    zero: loss and recovery are booked in the default month.
    """
    b0 = np.asarray(original_balance, dtype=float)
    n = np.asarray(term, dtype=np.int64)
    width = int(n.max(initial=1))
    ages = np.arange(0, width + 1)
    codes = (
        np.asarray(amortization, dtype=object)
        if amortization is not None
        else np.full(b0.shape, "level_pay", dtype=object)
    )
    frac = schedule_fraction(codes, rate, n, ages)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(frac[:, :-1] > 0, frac[:, 1:] / frac[:, :-1], 0.0)

    def by_age(curves: np.ndarray) -> np.ndarray:
        curves = np.asarray(curves, dtype=float)
        padded = np.pad(curves, ((0, 0), (0, max(0, width - curves.shape[1]))), mode="edge")
        return padded[:, :width][np.asarray(curve_index)]

    mdr_l, smm_l = by_age(mdr), by_age(smm)
    sev = np.asarray(severity, dtype=float)[np.asarray(curve_index)]
    out = {
        k: np.zeros((len(b0), width))
        for k in ("performing_balance", "defaults", "scheduled_principal", "prepayments")
    }
    perf = b0.copy()
    for t in range(width):  # periods, never loans
        alive = t < n
        new_def = np.where(alive, perf * mdr_l[:, t], 0.0)
        surviving = perf - new_def
        after_schedule = surviving * ratio[:, t]
        prepay = after_schedule * smm_l[:, t]
        out["defaults"][:, t] = new_def
        out["scheduled_principal"][:, t] = np.where(alive, surviving - after_schedule, 0.0)
        out["prepayments"][:, t] = np.where(alive, prepay, 0.0)
        perf = np.where(alive, after_schedule - prepay, 0.0)
        out["performing_balance"][:, t] = perf
    out["net_loss"] = out["defaults"] * sev[:, None]
    out["recoveries"] = out["defaults"] - out["net_loss"]
    return out


def _percent(value: float) -> str:
    return f"{100.0 * value:.4f}%"


def _vector(kind: str, values: tuple[float, ...]) -> str:
    return f"{kind} [" + ", ".join(_percent(v) for v in values) + "]"


def _segment_table(curves: SegmentCurves) -> list[str]:
    return [
        f'prepay = "{_vector("SMM", curves.smm)}"',
        f'default = "{_vector("MDR", curves.mdr)}"',
        f'severity = "{_percent(curves.severity)}"',
        f"lag = {curves.recovery_lag}",
        'curve_index = "age"',
        f"# loans {curves.loans}; lifetime gross default observed "
        f"{_percent(curves.lifetime_default_observed)}, fitted "
        f"{_percent(curves.lifetime_default_fitted)}",
    ]


def _toml_key(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def assumptions_toml(fitted: FittedCurves, *, generated: dt.date | None = None) -> str:
    """The fitted curves as an assumptions file (a ``[base]`` table plus one per segment).

    Vectors are indexed by loan age (month 1 first) and padded with their last value.

    Examples
    --------
    >>> curves = SegmentCurves(segment="all", loans=1, original_balance=1.0,
    ...                        mdr=(0.01, 0.02), smm=(0.0, 0.05), severity=0.9)
    >>> print(assumptions_toml(FittedCurves(by=None, chargeoff_lag=5, pool=curves)).split(
    ...     "[base]")[1].strip().splitlines()[0])
    prepay = "SMM [0.0000%, 5.0000%]"
    """
    lines = [
        "# Assumptions fitted from static-pool history by absstruct history.",
        f"# Fitted on: {fitted.fitted_on or 'the whole tape'}"
        + (f"; generated {generated.isoformat()}" if generated else ""),
        "# Approximations:",
        *[f"#  - {text}" for text in fitted.approximations],
        "",
    ]
    if fitted.by is not None:
        lines += [f"segment_by = {_toml_key(fitted.by)}", ""]
    lines += ["[base]", *_segment_table(fitted.pool), ""]
    for curves in fitted.segments:
        lines += [f"[segments.{_toml_key(curves.segment)}]", *_segment_table(curves), ""]
    return "\n".join(lines)


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
    "project_loans",
]
