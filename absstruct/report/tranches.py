"""The report's tranche figures, taken from the product's one pricing path.

A report never prices a tranche itself: its tranche table, its scenario grid and its
residual IRR are rows of :func:`absstruct.analytics.metrics.tranche_metrics`, the table
``absstruct run --price``, ``grid`` and ``batch`` print.  :func:`report_metrics` accepts
that table as given (the CLI computes it once and hands the same frame to the printed
table, the JSON and the workbook), or computes it from :class:`Quotes` — by default every
tranche at par, settled on the deal's closing date, as ``run --price`` does.

:func:`tranche_table` puts the deal's structure (size, share of the pool, coupon, credit
enhancement) beside one scenario's metric rows, column names unchanged.

Examples
--------
>>> from absstruct.deal import load_deal
>>> from absstruct.waterfall import deal_tape, run
>>> deal = load_deal("deals/us_auto.toml")
>>> result = run(deal, deal_tape(deal), ["base", "stress"])
>>> metrics = report_metrics(result, deal, Quotes(prices={"B": 99.0}))
>>> table = tranche_table(result, metrics, "stress")
>>> table.loc[[0, 4], ["tranche", "quote", "price"]].values.tolist()
[['A-1', 'par', 100.0], ['B', 'price 99', 99.0]]
>>> pricing_facts(metrics, deal.dates.closing)["yield_convention"]
'semiannual 30/360'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from absstruct.analytics.metrics import METRIC_COLUMNS, Quotes, tranche_metrics
from absstruct.errors import AbsStructError

# The deal's structure, shown before the metric columns of each tranche.
STRUCTURE_COLUMNS: tuple[str, ...] = ("tranche", "size", "pct_pool", "coupon", "credit_enhancement")
# Metric columns a tranche row carries (the scenario is the report's own).
TRANCHE_METRIC_COLUMNS: tuple[str, ...] = tuple(
    c for c in METRIC_COLUMNS if c not in ("scenario", "tranche")
)


def report_metrics(
    result: Any, deal: Any, pricing: Any = None, *, settlement: Any = None
) -> pd.DataFrame | None:
    """The ``tranche_metrics`` table a report shows, checked against ``result``.

    Parameters
    ----------
    result : absstruct.waterfall.Result
    deal : Deal or None
        Needed to compute metrics; without one (and without a table) there are none.
    pricing : DataFrame, Quotes or sequence of Quotes, optional
        A table made by ``tranche_metrics`` (extra columns such as a grid's levels are
        kept), or the quotes to compute it with.  Default: par for every tranche.
    settlement : date-like, optional
        Passed to ``tranche_metrics`` when the table is computed here.

    Returns
    -------
    DataFrame or None
        None when there is neither a table nor a deal to compute one.

    Raises
    ------
    AbsStructError
        When ``pricing`` is of another type, or a given table lacks metric columns or a
        (scenario, tranche) row of the run.
    """
    if isinstance(pricing, pd.DataFrame):
        _check_metrics(pricing, result)
        return pricing
    if pricing is None or isinstance(pricing, Quotes) or _is_quote_sequence(pricing):
        if deal is None:
            if pricing is not None:
                raise AbsStructError("pricing: quotes need the deal (deal=...) to price with")
            return None
        return tranche_metrics(result, deal, settlement=settlement, quotes=pricing)
    raise AbsStructError(
        f"pricing: expected the DataFrame of tranche_metrics or Quotes, not "
        f"{type(pricing).__name__}"
    )


def _is_quote_sequence(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and all(isinstance(v, Quotes) for v in value)
    )


def _check_metrics(metrics: pd.DataFrame, result: Any) -> None:
    problems = []
    missing = [c for c in METRIC_COLUMNS if c not in metrics.columns]
    if missing:
        problems.append(f"missing columns {missing}")
    else:
        scenarios, tranches = metrics["scenario"].astype(str), metrics["tranche"].astype(str)
        keys = set(zip(scenarios, tranches, strict=True))
        absent = [
            f"{s}/{t}"
            for s in result.scenario_names
            for t in result.tranches
            if (str(s), str(t)) not in keys
        ]
        if absent:
            problems.append(f"no row for scenario/tranche {', '.join(absent[:5])}")
        if metrics.duplicated(["scenario", "tranche"]).any():
            problems.append("a scenario/tranche appears twice")
    if problems:
        raise AbsStructError(
            "pricing: not the tranche_metrics table of this run: " + "; ".join(problems)
        )


def tranche_table(result: Any, metrics: pd.DataFrame | None, scenario: str) -> pd.DataFrame:
    """One row per tranche, senior first: the structure, then ``scenario``'s metric rows.

    Credit enhancement is the share of the original pool below a note (subordination
    and overcollateralization); tranches without a size have none.
    """
    pool_balance = float(result.pool.initial_balance)
    names = list(result.tranches)
    sizes = np.array([float(result.original_balances.get(n, 0.0)) for n in names])
    below = pool_balance - np.cumsum(sizes)
    coupons = []
    for name, size in zip(names, sizes, strict=True):
        coupon = np.asarray(result.coupons.get(name, [np.nan]), dtype=float)
        coupons.append(float(coupon[0]) if size > 0 and coupon.size else np.nan)
    has_size = sizes > 0
    table = pd.DataFrame(
        {
            "tranche": pd.Series(names, dtype="str"),
            "size": sizes,
            "pct_pool": sizes / pool_balance if pool_balance else np.full(len(names), np.nan),
            "coupon": coupons,
            "credit_enhancement": np.where(
                has_size & (pool_balance > 0), below / (pool_balance or 1.0), np.nan
            ),
        }
    )
    if metrics is None:
        return table
    rows = metrics[metrics["scenario"].astype(str) == str(scenario)]
    rows = rows.set_index(rows["tranche"].astype(str)).reindex(names)
    for column in TRANCHE_METRIC_COLUMNS:
        table[column] = rows[column].to_numpy()
    return table


def _first_residual(rows: pd.DataFrame, column: str) -> float | None:
    values = rows.loc[rows["kind"] == "residual", column].to_numpy(dtype=float, na_value=np.nan)
    values = values[np.isfinite(values)]
    return float(values[0]) if values.size else None


def residual_figures(table: pd.DataFrame) -> tuple[float | None, float | None]:
    """IRR and multiple of the (first) residual tranche of a :func:`tranche_table`."""
    if "kind" not in table.columns:
        return None, None
    return _first_residual(table, "residual_irr"), _first_residual(table, "residual_multiple")


def pricing_facts(metrics: pd.DataFrame | None, settlement: dt.date | None) -> dict[str, Any]:
    """The settlement date and the conventions the metrics used (empty without metrics)."""
    if metrics is None or metrics.empty:
        return {}
    facts: dict[str, Any] = {}
    if settlement is not None:
        facts["settlement_date"] = settlement
    for key, column in (
        ("yield_convention", "convention"),
        ("spread_compounding", "spread_compounding"),
        ("residual_irr_convention", "residual_irr_convention"),
    ):
        given = [str(v) for v in metrics[column].dropna().unique() if str(v)]
        if given:
            facts[key] = given[0]
    return facts


__all__ = [
    "STRUCTURE_COLUMNS",
    "TRANCHE_METRIC_COLUMNS",
    "pricing_facts",
    "report_metrics",
    "residual_figures",
    "tranche_table",
]
