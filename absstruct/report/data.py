"""The tidy view of a run that every writer consumes: :class:`ReportData`.

A waterfall ``Result`` (plus, optionally, its tranche metrics, a pool and a scenario grid)
is turned into plain DataFrames once, by :func:`report_data`; the workbook, JSON, CSV and
Parquet writers read only this view, so they agree with one another by construction.  The
tranche figures are the rows of :func:`absstruct.analytics.metrics.tranche_metrics` (the
table ``absstruct run --price`` prints), never a second pricing of the report's own.

Ledgers are long tables sorted by their key columns, one row per (name, period):

========================  ===============================================================
frame                     columns (required first; more are kept and shown)
========================  ===============================================================
``collateral``            period, date, then the SIFMA pool columns (``POOL_COLUMNS``)
``tranche_flows``         tranche, period, date, beginning_balance, interest_due,
                          interest_paid, interest_shortfall, principal, writedown,
                          ending_balance
``waterfall``             period, date, priority, step, paid
``accounts``              account, period, date, beginning_balance, deposit, withdrawal,
                          ending_balance
``triggers``              trigger, metric, period, date, value, threshold, breached
``curves``                period, date, smm, cpr, mdr, cdr, severity
``tranches`` (summary)    tranche, size, pct_pool, coupon, credit_enhancement, then the
                          shown scenario's ``tranche_metrics`` columns (kind, face,
                          quote, price, accrued, dirty_price, yield, convention, wal,
                          first/last_principal_date, expected_final_date, durations,
                          convexity, spreads, losses, shortfalls, residual IRR ...)
``grid`` (optional)       scenario, tranche, measures: the ``tranche_metrics`` table of
                          every scenario (a grid's level columns kept)
========================  ===============================================================

Examples
--------
>>> from absstruct.report.sample import sample_report
>>> data = sample_report(n_periods=12, n_tranches=3)
>>> list(data.ledgers())
['collateral', 'tranche_flows', 'waterfall', 'accounts', 'triggers', 'curves']
>>> data.tranches["tranche"].tolist()
['Senior A', 'Senior B', 'Sub']
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from absstruct.errors import AbsStructError

LEDGER_KEYS: dict[str, tuple[str, ...]] = {
    "collateral": ("period", "date"),
    "tranche_flows": ("tranche", "period", "date"),
    "waterfall": ("period", "date", "priority", "step"),
    "accounts": ("account", "period", "date"),
    "triggers": ("trigger", "metric", "period", "date"),
    "curves": ("period", "date"),
}
TRANCHE_FLOW_COLUMNS: tuple[str, ...] = (
    "beginning_balance",
    "interest_due",
    "interest_paid",
    "interest_shortfall",
    "principal",
    "writedown",
    "ending_balance",
)
ACCOUNT_COLUMNS: tuple[str, ...] = ("beginning_balance", "deposit", "withdrawal", "ending_balance")
TRIGGER_COLUMNS: tuple[str, ...] = ("value", "threshold", "breached")
CURVE_COLUMNS: tuple[str, ...] = ("smm", "cpr", "mdr", "cdr", "severity")

# Kind of each known column, shared by the workbook (number formats) and the JSON schema docs.
COLUMN_KINDS: dict[str, str] = {
    "period": "int",
    "date": "date",
    "priority": "int",
    "size": "money",
    "pct_pool": "percent",
    "coupon": "rate",
    "credit_enhancement": "percent",
    "price": "price",
    "accrued": "price",
    "dirty_price": "price",
    "yield": "rate",
    "spread_bp": "bp",
    "flat_spread": "rate",
    "i_spread": "rate",
    "z_spread": "rate",
    "wal": "years",
    "window_start": "int",
    "window_end": "int",
    "first_principal_date": "date",
    "last_principal_date": "date",
    "expected_final_date": "date",
    "settlement_date": "date",
    "final_period": "int",
    "macaulay_duration": "years",
    "modified_duration": "years",
    "convexity": "number",
    "loss_pct": "percent",
    "face": "money",
    "principal_loss": "money",
    "principal_loss_pct": "percent",
    "interest_shortfall": "money",
    "max_interest_shortfall": "money",
    "residual_multiple": "factor",
    "residual_purchase_price": "money",
    "value": "rate",
    "threshold": "rate",
    "breached": "bool",
    "smm": "rate",
    "cpr": "rate",
    "mdr": "rate",
    "cdr": "rate",
    "severity": "percent",
    "cumulative_loss_pct": "rate",
    "factor": "factor",
    "wac": "rate",
    "wam": "number",
    "wa_seasoning": "number",
    "wa_score": "number",
    "loan_count": "count",
    "count": "count",
    "loans": "count",
    "excluded_count": "count",
    "failed_count": "count",
    "top10_obligor_share": "percent",
    "wa_original_term": "number",
    "pct_balance": "percent",
    "pct_count": "percent",
    "residual_irr": "rate",
    "servicing_fee_rate": "rate",
}


@dataclass(frozen=True, kw_only=True)
class PoolReport:
    """The pool selection as reported: summary figures, strat tables and exclusions.

    ``exclusions`` is one row per excluded loan (loan_id, rule, value); the exclusion
    summary (rule, loans, balance) is derived from it unless ``exclusion_summary`` is given.
    """

    summary: Mapping[str, Any]
    strats: Mapping[str, pd.DataFrame] = field(default_factory=dict)
    exclusions: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"loan_id": [], "rule": [], "value": []})
    )
    exclusion_summary: pd.DataFrame | None = None

    def exclusion_table(self) -> pd.DataFrame:
        """Excluded loans and balance by rule."""
        if self.exclusion_summary is not None:
            return self.exclusion_summary
        frame = self.exclusions
        if frame.empty or "rule" not in frame:
            return pd.DataFrame({"rule": pd.Series([], dtype=str), "loans": []})
        grouped = frame.groupby("rule", sort=True)
        out = grouped.size().rename("loans").reset_index()
        if "balance" in frame:
            out["balance"] = grouped["balance"].sum().to_numpy()
        return out


@dataclass(frozen=True, kw_only=True)
class ReportData:
    """Everything a report shows about one run, as tidy tables (see the module docs).

    ``pricing`` holds the settlement date and the conventions the tranche metrics used
    (``yield_convention``, ``spread_compounding``, ``residual_irr_convention``).
    """

    deal: Mapping[str, Any]
    scenario: Mapping[str, Any]
    tranches: pd.DataFrame
    collateral: pd.DataFrame
    tranche_flows: pd.DataFrame
    waterfall: pd.DataFrame
    accounts: pd.DataFrame
    triggers: pd.DataFrame
    curves: pd.DataFrame
    residual_irr: float | None = None
    residual_multiple: float | None = None
    pricing: Mapping[str, Any] = field(default_factory=dict)
    grid: pd.DataFrame | None = None
    pool: PoolReport | None = None

    def __post_init__(self) -> None:
        problems = []
        for name, keys in LEDGER_KEYS.items():
            frame = getattr(self, name)
            missing = [k for k in keys if k not in frame.columns]
            if missing:
                problems.append(f"{name}: missing columns {missing}")
        if "tranche" not in self.tranches.columns:
            problems.append("tranches: missing column 'tranche'")
        if self.grid is not None:
            for key in ("scenario", "tranche"):
                if key not in self.grid.columns:
                    problems.append(f"grid: missing column {key!r}")
        if problems:
            raise AbsStructError("report data: " + "; ".join(problems))

    def ledgers(self) -> dict[str, pd.DataFrame]:
        """The period-by-period ledgers by name, in a fixed order."""
        return {name: getattr(self, name) for name in LEDGER_KEYS}

    @property
    def tranche_names(self) -> list[str]:
        return [str(t) for t in self.tranches["tranche"]]

    def cumulative_loss(self) -> pd.DataFrame:
        """Cumulative net loss as a fraction of the original pool, by period."""
        frame = self.collateral
        original = float(self.deal.get("original_pool_balance") or 0.0)
        losses = (
            frame["principal_loss"].cumsum() if "principal_loss" in frame else 0.0 * frame["period"]
        )
        pct = losses / original if original > 0 else losses * float("nan")
        return pd.DataFrame(
            {"period": frame["period"], "date": frame["date"], "cumulative_loss_pct": pct}
        )


def report_data(
    result: Any,
    *,
    deal: Any = None,
    scenario: int | str = 0,
    pool: Any = None,
    pricing: Any = None,
    grid: Any = None,
    settlement: Any = None,
) -> ReportData:
    """The :class:`ReportData` view of a run.

    ``result`` may already be a ``ReportData`` (returned with ``pool`` and ``grid``
    attached when given), a waterfall ``Result`` (read by
    :func:`absstruct.report.from_result.from_waterfall_result`), or any object with a
    ``report_data()`` method.

    ``pricing`` is the table :func:`absstruct.analytics.metrics.tranche_metrics` made for
    this run (used as given), or the ``Quotes`` to make it with; when it is None and a
    ``deal`` is given the tranches are priced at par, settled on the deal's closing date
    (``settlement`` overrides the date; give the one the table was priced at).

    Raises
    ------
    AbsStructError
        When ``result`` is none of these, ``pricing`` is not a metrics table of this
        run (or quotes), or pricing is given for a run that is already a ``ReportData``.
    """
    from dataclasses import replace

    if isinstance(result, ReportData):
        if pricing is not None:
            raise AbsStructError(
                "pricing: this run is already a ReportData (priced when it was made); "
                "give pricing with the waterfall Result"
            )
        data = result
    elif hasattr(result, "tranches") and hasattr(result, "payment_dates"):
        from absstruct.report.from_result import from_waterfall_result
        from absstruct.report.tranches import report_metrics

        metrics = report_metrics(result, deal, pricing, settlement=settlement)
        data = from_waterfall_result(
            result, scenario=scenario, deal=deal, metrics=metrics, settlement=settlement
        )
    else:
        method = getattr(result, "report_data", None)
        if not callable(method):
            raise AbsStructError(
                f"cannot report on a {type(result).__name__}: expected a waterfall Result "
                "or ReportData"
            )
        data = method()
    changes: dict[str, Any] = {}
    if pool is not None:
        changes["pool"] = pool if isinstance(pool, PoolReport) else pool_report(pool)
    if grid is not None:
        changes["grid"] = grid_frame(grid)
    return replace(data, **changes) if changes else data


def pool_report(pool: Any) -> PoolReport:
    """A :class:`PoolReport` from a pool selection.

    Reads ``.summary`` (an object with ``to_dict()``, a mapping or a one-row frame),
    ``.strats`` (name -> table), ``.excluded`` (one row per excluded loan) and, when
    present, ``.exclusion_counts`` (the per-rule summary).
    """
    summary = getattr(pool, "summary", {})
    if hasattr(summary, "to_dict") and not isinstance(summary, (pd.DataFrame, pd.Series)):
        summary = summary.to_dict()
    elif isinstance(summary, pd.DataFrame):
        summary = (
            dict(zip(summary.iloc[:, 0], summary.iloc[:, 1], strict=True))
            if summary.shape[1] == 2
            else summary.iloc[0].to_dict()
        )
    elif isinstance(summary, pd.Series):
        summary = summary.to_dict()
    strats = getattr(pool, "strats", {}) or {}
    kwargs: dict[str, Any] = {"summary": dict(summary), "strats": dict(strats)}
    excluded = getattr(pool, "excluded", None)
    if isinstance(excluded, pd.DataFrame):
        kwargs["exclusions"] = excluded
    counts = getattr(pool, "exclusion_counts", None)
    if isinstance(counts, pd.DataFrame):
        kwargs["exclusion_summary"] = counts
    return PoolReport(**kwargs)


def grid_frame(grid: Any) -> pd.DataFrame:
    """A scenario grid as a long table (``scenario``, ``tranche``, measures)."""
    frame = grid if isinstance(grid, pd.DataFrame) else getattr(grid, "frame", None)
    if callable(frame):
        frame = frame()
    if not isinstance(frame, pd.DataFrame):
        raise AbsStructError(
            f"cannot report a {type(grid).__name__} as a scenario grid: expected a DataFrame "
            "with scenario and tranche columns"
        )
    return frame
