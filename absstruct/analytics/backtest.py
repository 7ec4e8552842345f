"""Back-test: fit curves on early vintages, project later vintages from origination, compare.

The later vintages are re-based to origination (:func:`~absstruct.analytics.calibrate.rebased_tape`)
and projected through :func:`absstruct.projection.project` under the fitted curves as
:class:`~absstruct.curves.Assumptions` (:func:`~absstruct.analytics.calibrate.to_assumptions`):
the same assumptions ``--fit-out`` writes.  Each (segment, vintage) group is one engine call;
the cohort engine aggregates each loan once, so the calls together cost one pass over the
loans.

Examples
--------
>>> parse_month("2009-12")
datetime.date(2009, 12, 31)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from absstruct.analytics.calibrate import FittedCurves, fit_curves, rebased_tape, to_assumptions
from absstruct.analytics.history import (
    HistorySpec,
    LoanHistory,
    load_history,
    vintage_table,
)
from absstruct.curves import Assumptions
from absstruct.errors import AbsStructError, Problem, TapeError
from absstruct.projection import project

#: The quantities compared, actual vs projected, over each vintage's life.
METRICS: tuple[str, ...] = ("principal_collected", "defaults", "recoveries", "net_loss")


@dataclass(frozen=True, kw_only=True)
class BacktestResult:
    """Fitted curves, the error table by vintage and the cumulative curves behind it."""

    fitted: FittedCurves
    assumptions: Assumptions  # the fitted curves as projected (and as --fit-out writes them)
    train_until: dt.date
    errors: pd.DataFrame  # one row per test vintage and segment
    totals: pd.DataFrame  # one row per metric over all test vintages
    curves: pd.DataFrame  # test vintages by age: actual vs projected cumulative net loss
    warnings: tuple[Problem, ...] = ()

    def frames(self) -> dict[str, pd.DataFrame]:
        """Named tables for the writers (one workbook sheet each)."""
        return {
            "backtest_errors": self.errors,
            "backtest_totals": self.totals,
            "backtest_curves": self.curves,
            "fitted_summary": self.fitted.summary(),
            "fitted_curves": self.fitted.table(),
        }


def parse_month(text: str) -> dt.date:
    """``"2009-12"`` (or an ISO date) -> the last day of that month."""
    try:
        if len(text) == 7:
            start = dt.date.fromisoformat(text + "-01")
        else:
            start = dt.date.fromisoformat(text).replace(day=1)
    except ValueError:
        raise AbsStructError(f"train_until: {text!r} is not a month like 2009-12") from None
    following = (start.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return following - dt.timedelta(days=1)


def _actuals(history: LoanHistory) -> dict[str, np.ndarray]:
    paths = history.paths
    return {
        "principal_collected": paths.scheduled_principal.sum(axis=1)
        + paths.prepayments.sum(axis=1),
        "defaults": history.chargeoff,
        "recoveries": history.recoveries - history.recovery_fees,
        "net_loss": history.chargeoff - history.recoveries + history.recovery_fees,
    }


#: Engine column behind each projected metric (principal collected = scheduled + prepaid).
_ENGINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "principal_collected": ("actual_amortization", "voluntary_prepayments"),
    "defaults": ("new_defaults",),
    "recoveries": ("principal_recovery",),
    "net_loss": ("principal_loss",),
}


def _projected(
    history: LoanHistory, assumptions: Assumptions, codes: np.ndarray, groups: int, periods: int
) -> dict[str, np.ndarray]:
    """Each group's pool flows from origination: metric -> ``(groups, periods)`` array."""
    tape = rebased_tape(history)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(groups + 1))
    out = {metric: np.zeros((groups, periods)) for metric in METRICS}
    for g in range(groups):
        rows = order[bounds[g] : bounds[g + 1]]
        flows = project(tape.iloc[rows], assumptions, periods=periods)
        for metric, columns in _ENGINE_COLUMNS.items():
            out[metric][g] = sum(flows[c][0] for c in columns)
    return out


def backtest(
    tape: pd.DataFrame,
    *,
    spec: HistorySpec,
    train_until: dt.date,
    known_until: dt.date | None = None,
    source: str = "tape",
) -> BacktestResult:
    """Fit on loans originated up to ``train_until``; project the rest from origination.

    Parameters
    ----------
    known_until : datetime.date or None
        Observation date of the training history (as an analyst on that date would see it);
        ``None`` uses every outcome of the training vintages.

    Raises
    ------
    TapeError
        When the tape fails the history checks, or either side of the split is empty.
    """
    orig = (
        pd.to_datetime(tape["origination_date"], errors="coerce")
        if ("origination_date" in tape.columns)
        else None
    )
    if orig is None:
        load_history(tape, spec, source=source)  # raises with the full list of problems
        raise TapeError(f"{source}: column origination_date is missing")
    cut = pd.Timestamp(train_until)
    train_mask = (orig <= cut).to_numpy()
    test_mask = (orig > cut).to_numpy()
    if not train_mask.any() or not test_mask.any():
        side = "before" if not train_mask.any() else "after"
        raise TapeError(
            f"{source}: train_until {train_until:%Y-%m}: no loans originated {side} it; "
            f"the tape spans {orig.min():%Y-%m} to {orig.max():%Y-%m}"
        )
    full = load_history(tape, spec, source=source)  # validates every row once
    train = load_history(
        tape[train_mask].reset_index(drop=True),
        dataclasses.replace(spec, as_of=known_until),
        source=source,
    )
    test = load_history(tape[test_mask].reset_index(drop=True), spec, source=source)
    fitted = fit_curves(train, fitted_on=f"loans originated up to {train_until:%Y-%m}")
    warnings = list(full.warnings)
    fitted_segments = {c.segment for c in fitted.segments}
    for missing in sorted(set(test.segment.tolist()) - fitted_segments):
        if spec.by is not None:
            warnings.append(
                Problem(
                    where=f"segment {spec.by}={missing}",
                    rule="segment_not_in_training",
                    message="has no loans in the training vintages; the pool curve is used",
                    severity="warning",
                )
            )
    actual = _actuals(test)
    keys = pd.DataFrame({"segment": test.segment, "vintage": test.vintage})
    codes = keys.groupby(["segment", "vintage"], sort=True).ngroup().to_numpy(dtype=np.int64)
    groups = int(codes.max(initial=-1)) + 1
    periods = int(test.term.max(initial=1))
    width = max(periods, *(len(c.mdr) for c in (fitted.pool, *fitted.segments)))
    assumptions = to_assumptions(fitted, width=width)
    projected = _projected(test, assumptions, codes, groups, periods)
    data = {"loans": np.ones(len(keys)), "original_balance": test.original_balance}
    for metric in METRICS:
        data[f"actual_{metric}"] = actual[metric]
    grouped = (
        pd.concat([keys, pd.DataFrame(data)], axis=1)
        .groupby(["segment", "vintage"], sort=True)
        .sum()
        .reset_index()
    )
    grouped["loans"] = grouped["loans"].astype(np.int64)
    for metric in METRICS:
        grouped[f"projected_{metric}"] = projected[metric].sum(axis=1)
    for metric in METRICS:
        act, proj = grouped[f"actual_{metric}"], grouped[f"projected_{metric}"]
        grouped[f"error_{metric}"] = proj - act
        grouped[f"error_{metric}_pct_of_original"] = (proj - act) / grouped["original_balance"]
    totals = pd.DataFrame(
        {
            "metric": list(METRICS),
            "actual": [float(actual[m].sum()) for m in METRICS],
            "projected": [float(projected[m].sum()) for m in METRICS],
        }
    )
    original = float(test.original_balance.sum())
    totals["error"] = totals["projected"] - totals["actual"]
    totals["actual_pct_of_original"] = totals["actual"] / original
    totals["projected_pct_of_original"] = totals["projected"] / original
    totals["error_pct_of_original"] = totals["error"] / original
    totals["mean_abs_vintage_error_pct"] = [
        float(grouped[f"error_{m}_pct_of_original"].abs().mean()) for m in METRICS
    ]
    return BacktestResult(
        fitted=fitted,
        assumptions=assumptions,
        train_until=train_until,
        errors=grouped,
        totals=totals,
        curves=_curves(test, grouped, projected["net_loss"]),
        warnings=tuple(warnings),
    )


def _curves(test: LoanHistory, grouped: pd.DataFrame, net_loss: np.ndarray) -> pd.DataFrame:
    """Cumulative net loss by age, actual vs projected, per test vintage and segment."""
    actual = vintage_table(test)[["segment", "vintage", "age", "original_balance", "cum_net_loss"]]
    g, width = net_loss.shape
    proj = pd.DataFrame(
        {
            "segment": np.repeat(grouped["segment"].to_numpy(dtype=object), width),
            "vintage": np.repeat(grouped["vintage"].to_numpy(dtype=object), width),
            "age": np.tile(np.arange(1, width + 1), g),
            "projected_cum_net_loss": (
                np.cumsum(net_loss, axis=1) / grouped["original_balance"].to_numpy()[:, None]
            ).ravel(),
        }
    )
    merged = actual.merge(proj, on=["segment", "vintage", "age"], how="left")
    return merged.rename(columns={"cum_net_loss": "actual_cum_net_loss"})


__all__ = ["METRICS", "BacktestResult", "backtest", "parse_month"]
