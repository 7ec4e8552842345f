"""Build the report view (:class:`ReportData`) from a waterfall ``Result``.

The ledgers map one to one.  The tranche figures are not computed here: the tranche table
is the deal's structure beside the shown scenario's rows of the ``tranche_metrics`` table
it is given (:mod:`absstruct.report.tranches`), and with more than one scenario that whole
table is the scenario grid, so a report says exactly what ``absstruct run --price`` says.
The "curves as used" are the pool-level rates the projection realised,
period by period (SMM, MDR, severity, annualised to CPR / CDR).

Examples
--------
>>> import numpy as np
>>> from absstruct.deal import parse_deal
>>> from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
>>> from absstruct.waterfall import run
>>> deal = parse_deal('''
... schema_version = 1
... name = "demo"
... [dates]
... cutoff = 2026-06-30
... closing = 2026-06-30
... first_payment = 2026-07-31
... legal_final = 2026-08-31
... roll = "none"
... [[tranches]]
... name = "A"
... size = 90.0
... coupon = 0.12
... [[tranches]]
... name = "R"
... kind = "residual"
... [[waterfall.interest]]
... step = "pay_interest"
... tranche = "A"
... [[waterfall.principal]]
... step = "pay_principal"
... tranche = "A"
... ''')
>>> arrays = {c: np.zeros((1, 2)) for c in POOL_COLUMNS}
>>> arrays["performing_balance"][:] = [[50.0, 0.0]]
>>> arrays["principal_collections"][:] = [[50.0, 50.0]]
>>> arrays["interest_collections"][:] = [[1.0, 0.5]]
>>> flows = PoolFlows(arrays=arrays, initial_balance=100.0, scenario_names=("base",))
>>> from absstruct.analytics.metrics import tranche_metrics
>>> result = run(deal, flows)
>>> data = from_waterfall_result(result, deal=deal, metrics=tranche_metrics(result, deal))
>>> data.tranche_flows[["tranche", "period", "principal", "ending_balance"]].head(2).values.tolist()
[['A', 1, 50.0, 40.0], ['A', 2, 40.0, 0.0]]
>>> data.tranches.loc[0, ["first_principal_date", "last_principal_date"]].tolist()
[datetime.date(2026, 7, 31), datetime.date(2026, 8, 31)]
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from absstruct.errors import AbsStructError
from absstruct.projection.flows import POOL_COLUMNS
from absstruct.report.data import ReportData
from absstruct.report.tranches import pricing_facts, residual_figures, tranche_table

_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}


def _deal_facts(result: Any, deal: Any) -> dict[str, Any]:
    facts: dict[str, Any] = {"deal_name": result.deal_name, "currency": result.currency}
    if deal is not None:
        facts.update(
            {
                "cutoff_date": deal.dates.cutoff,
                "closing_date": deal.dates.closing,
                "first_payment_date": deal.dates.first_payment,
                "payment_frequency": deal.dates.frequency,
                "day_count": deal.dates.day_count,
            }
        )
    else:
        facts["first_payment_date"] = result.payment_dates[0]
    facts["original_pool_balance"] = float(result.pool.initial_balance)
    return facts


def _scenario_facts(result: Any, s: int, deal: Any) -> dict[str, Any]:
    name = result.scenario_names[s]
    facts: dict[str, Any] = {"scenario": name}
    if deal is not None:
        table = dict(deal.pool.assumptions)
        table.update(deal.pool.scenarios.get(name, {}))
        for key, value in table.items():
            facts[str(key)] = value if isinstance(value, (str, int, float, bool)) else str(value)
    return facts


def _collateral(result: Any, s: int, dates: pd.DatetimeIndex) -> pd.DataFrame:
    pool = result.pool
    n = min(pool.n_periods, len(dates))
    columns: dict[str, Any] = {"period": np.arange(1, n + 1), "date": dates[:n]}
    for name in POOL_COLUMNS:
        if name in pool.arrays:
            columns[name] = np.asarray(pool.arrays[name][s][:n], dtype=float)
    return pd.DataFrame(columns)


def _shift_in(ending: np.ndarray, opening: float) -> np.ndarray:
    return np.concatenate([[opening], ending[:-1]])


def _tranche_flows(result: Any, s: int, dates: pd.DatetimeIndex) -> pd.DataFrame:
    periods = np.arange(1, len(dates) + 1)
    frames = []
    for name, ledger in result.tranches.items():
        arrays = {k: np.asarray(v[s], dtype=float) for k, v in ledger.arrays.items()}
        ending = arrays.get("balance", np.zeros(len(dates)))
        columns: dict[str, Any] = {"tranche": name, "period": periods, "date": dates}
        columns["beginning_balance"] = _shift_in(ending, result.original_balances.get(name, 0.0))
        for column, source in (
            ("interest_due", "interest_due"),
            ("interest_paid", "interest_paid"),
            ("interest_shortfall", "interest_shortfall"),
            ("principal", "principal_paid"),
            ("writedown", "writedown"),
        ):
            columns[column] = arrays.get(source, np.zeros(len(dates)))
        columns["ending_balance"] = ending
        for extra in ("residual_paid", "pdl", "pdl_cured"):
            if extra in arrays:
                columns[extra] = arrays[extra]
        # One constructor per tranche: adding columns one at a time copies the frame each time.
        frames.append(pd.DataFrame(columns))
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


# What a recipient's waterfall column pays; the step reads "<recipient> <kind>", e.g.
# "A-1 interest" (taxes and fees are named alone).  The workbook translates the kind.
STEP_KINDS: tuple[str, ...] = ("interest", "deposit", "principal", "residual")


def _waterfall(result: Any, s: int, dates: pd.DatetimeIndex) -> pd.DataFrame:
    """Payments by recipient in priority order: taxes, fees, interest, reserves, principal."""
    columns: list[tuple[str, Any]] = []
    for name, ledger in result.taxes.items():
        columns.append((f"{name}", ledger["paid"][s] if "paid" in ledger.arrays else 0))
    for name, ledger in result.fees.items():
        columns.append((f"{name}", ledger["paid"][s]))
    for name, ledger in result.tranches.items():
        if np.any(ledger["interest_due"][s] > 0) or np.any(ledger["interest_paid"][s] > 0):
            columns.append((f"{name} interest", ledger["interest_paid"][s]))
    for name, ledger in result.accounts.items():
        columns.append((f"{name} deposit", ledger["deposit"][s]))
    for name, ledger in result.tranches.items():
        if result.original_balances.get(name, 0.0) > 0:
            columns.append((f"{name} principal", ledger["principal_paid"][s]))
    for name, ledger in result.tranches.items():
        if "residual_paid" in ledger.arrays and np.any(ledger["residual_paid"][s] != 0):
            columns.append((f"{name} residual", ledger["residual_paid"][s]))
    n_steps, n = len(columns), len(dates)
    paid = np.zeros((n, n_steps))
    for j, (_, values) in enumerate(columns):
        paid[:, j] = np.broadcast_to(np.asarray(values, dtype=float), (n,))
    return pd.DataFrame(
        {
            "period": np.repeat(np.arange(1, n + 1), n_steps),
            "date": np.repeat(dates, n_steps),
            "priority": np.tile(np.arange(1, n_steps + 1), n),
            "step": pd.Series(np.tile([c[0] for c in columns], n), dtype="str"),
            "paid": paid.reshape(-1),
        }
    )


def _accounts(result: Any, s: int, dates: pd.DatetimeIndex) -> pd.DataFrame:
    periods = np.arange(1, len(dates) + 1)
    frames = []
    for name, ledger in result.accounts.items():
        ending = np.asarray(ledger["balance"][s], dtype=float)
        deposit = np.asarray(ledger["deposit"][s], dtype=float)
        draw = np.asarray(ledger["draw"][s], dtype=float)
        frame = pd.DataFrame({"account": name, "period": periods, "date": dates})
        frame["beginning_balance"] = _shift_in(ending, float(ending[0] - deposit[0] + draw[0]))
        frame["deposit"] = deposit
        frame["withdrawal"] = draw
        frame["ending_balance"] = ending
        if "target" in ledger.arrays:
            frame["target"] = np.asarray(ledger["target"][s], dtype=float)
        frames.append(frame)
    if not frames:
        return pd.DataFrame(
            {"account": pd.Series([], dtype="str"), "period": [], "date": pd.to_datetime([])}
        )
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def _triggers(result: Any, s: int, dates: pd.DatetimeIndex, deal: Any) -> pd.DataFrame:
    kinds = {t.name: t.kind for t in deal.triggers} if deal is not None else {}
    periods = np.arange(1, len(dates) + 1)
    frames = []
    for name, ledger in result.triggers.items():
        kind = kinds.get(name) or kinds.get(name.removesuffix(" trigger"), "trigger")
        frame = pd.DataFrame(
            {"trigger": name, "metric": kind, "period": periods, "date": dates},
        )
        frame["value"] = np.asarray(ledger["value"][s], dtype=float)
        frame["threshold"] = np.asarray(ledger["threshold"][s], dtype=float)
        frame["breached"] = np.asarray(ledger["breached"][s]) > 0
        frames.append(frame)
    if not frames:
        return pd.DataFrame(
            {
                "trigger": pd.Series([], dtype="str"),
                "metric": pd.Series([], dtype="str"),
                "period": pd.Series([], dtype="int64"),
                "date": pd.to_datetime([]),
                "value": pd.Series([], dtype=float),
                "threshold": pd.Series([], dtype=float),
                "breached": pd.Series([], dtype=bool),
            }
        )
    return pd.DataFrame(pd.concat(frames, ignore_index=True))


def _curves(collateral: pd.DataFrame, initial: float, months: int) -> pd.DataFrame:
    """Pool-level rates the projection realised (SIFMA definitions, per period)."""
    perf = collateral["performing_balance"].to_numpy(dtype=float)
    prior = np.concatenate([[initial], perf[:-1]])
    defaults = collateral["new_defaults"].to_numpy(dtype=float)
    sched = collateral["actual_amortization"].to_numpy(dtype=float)
    prepay = collateral["voluntary_prepayments"].to_numpy(dtype=float)
    loss = collateral["principal_loss"].to_numpy(dtype=float)
    liquidated = collateral["amortized_default_balance_in_recovery"].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mdr = np.where(prior > 0, defaults / prior, np.nan)
        base = prior - defaults - sched
        smm = np.where(base > 0, prepay / base, np.nan)
        severity = np.where(liquidated > 0, loss / liquidated, np.nan)
    per_year = 12 / months
    return pd.DataFrame(
        {
            "period": collateral["period"],
            "date": collateral["date"],
            "smm": smm,
            "cpr": 1 - (1 - smm) ** per_year,
            "mdr": mdr,
            "cdr": 1 - (1 - mdr) ** per_year,
            "severity": severity,
        }
    )


def from_waterfall_result(
    result: Any,
    *,
    scenario: int | str = 0,
    deal: Any = None,
    metrics: pd.DataFrame | None = None,
    settlement: Any = None,
) -> ReportData:
    """The report view of one scenario of a waterfall ``Result`` (all scenarios in the grid).

    Parameters
    ----------
    result : absstruct.waterfall.Result
    scenario : int or str
        The scenario whose ledgers are shown (position or name).
    deal : absstruct.deal.model.Deal, optional
        Adds dates, day count, assumptions and trigger kinds.
    metrics : DataFrame, optional
        The ``tranche_metrics`` table of ``result`` (see
        :func:`absstruct.report.tranches.report_metrics`); without it the tranche table
        holds the structure only.
    settlement : date, optional
        The date the metrics were priced at, shown beside them (default: the deal's
        closing date, ``tranche_metrics``' default).
    """
    s = result.scenario_index(scenario)
    if not 0 <= s < result.n_scenarios:
        raise AbsStructError(f"scenario: {scenario!r} is not one of {list(result.scenario_names)}")
    dates = pd.DatetimeIndex(pd.to_datetime(list(result.payment_dates)))
    months = _MONTHS.get(deal.dates.frequency, 1) if deal is not None else 1
    collateral = _collateral(result, s, dates)
    tranches = tranche_table(result, metrics, result.scenario_names[s])
    residual_irr, residual_multiple = residual_figures(tranches)
    if settlement is not None:
        settle: dt.date | None = pd.Timestamp(settlement).date()
    else:
        settle = deal.dates.closing if deal is not None else None
    return ReportData(
        deal=_deal_facts(result, deal),
        scenario=_scenario_facts(result, s, deal),
        tranches=tranches,
        collateral=collateral,
        tranche_flows=_tranche_flows(result, s, dates),
        waterfall=_waterfall(result, s, dates),
        accounts=_accounts(result, s, dates),
        triggers=_triggers(result, s, dates, deal),
        curves=_curves(collateral, float(result.pool.initial_balance), months),
        residual_irr=residual_irr,
        residual_multiple=residual_multiple,
        pricing=pricing_facts(metrics, settle),
        grid=metrics if metrics is not None and result.n_scenarios > 1 else None,
    )
