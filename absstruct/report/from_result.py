"""Build the report view (:class:`ReportData`) from a waterfall ``Result``.

The ledgers map one to one; the tranche table prices every note from its own cash flows
with the pricing kernels (all scenarios at once): clean price 100 unless ``prices`` says
otherwise, settlement at closing, yields bond-equivalent (semiannual) on the deal's day
count.  With more than one scenario the per-scenario yield / WAL / loss table becomes the
scenario grid.  The "curves as used" are the pool-level rates the projection realised,
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
>>> data = from_waterfall_result(run(deal, flows), deal=deal)
>>> data.tranche_flows[["tranche", "period", "principal", "ending_balance"]].head(2).values.tolist()
[['A', 1, 50.0, 40.0], ['A', 2, 40.0, 0.0]]
>>> data.tranches.loc[0, ["window_start", "window_end"]].tolist()
[1, 2]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from absstruct.errors import AbsStructError
from absstruct.projection.flows import POOL_COLUMNS
from absstruct.report.data import ReportData

_MONTHS = {"monthly": 1, "quarterly": 3, "semiannual": 6, "annual": 12}
BEY_FREQUENCY = 2  # bond-equivalent: semiannual compounding (CONVENTIONS.md)


def _settlement(result: Any, deal: Any, settlement: Any) -> dt.date:
    if settlement is not None:
        return pd.Timestamp(settlement).date()
    if deal is not None:
        return deal.dates.closing
    first = pd.Timestamp(result.payment_dates[0])
    return (first - pd.DateOffset(months=1)).date()


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
    facts["compounding"] = "semiannual (bond-equivalent)"
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


def _price_table(
    result: Any,
    deal: Any,
    settlement: dt.date,
    dates: pd.DatetimeIndex,
    prices: Mapping[str, float],
) -> dict[str, dict[str, np.ndarray]]:
    """Yield, WAL, modified duration, window and loss per tranche over every scenario."""
    from absstruct.daycount import year_fraction
    from absstruct.pricing import risk_kernel, solve_yield_kernel, wal_kernel

    day_count = deal.dates.day_count if deal is not None else "30/360"
    times = np.asarray(
        year_fraction(np.datetime64(settlement), dates.values.astype("datetime64[D]"), day_count),
        dtype=float,
    )
    out: dict[str, dict[str, np.ndarray]] = {}
    for name, ledger in result.tranches.items():
        size = float(result.original_balances.get(name, 0.0))
        principal = np.asarray(ledger["principal_paid"], dtype=float)
        cash = principal + np.asarray(ledger["interest_paid"], dtype=float)
        price = float(prices.get(name, 100.0))
        n_s = cash.shape[0]
        nan = np.full(n_s, np.nan)
        if size > 0:
            yields = solve_yield_kernel(
                times, cash, np.full(n_s, price / 100 * size), BEY_FREQUENCY
            )
            _, _, modified, _ = risk_kernel(times, cash, np.nan_to_num(yields), BEY_FREQUENCY)
            modified = np.where(np.isfinite(yields), modified, np.nan)
            wal = wal_kernel(times, principal)
            loss = np.asarray(ledger["writedown"], dtype=float).sum(axis=1) / size
        else:
            yields, modified, wal, loss = nan, nan, nan, nan
        paid = principal > 1e-9
        start = np.where(paid.any(axis=1), paid.argmax(axis=1) + 1, 0)
        end = np.where(paid.any(axis=1), paid.shape[1] - paid[:, ::-1].argmax(axis=1), 0)
        out[name] = {
            "price": np.full(n_s, price if size > 0 else np.nan),
            "yield": yields,
            "wal": wal,
            "modified_duration": modified,
            "window_start": start,
            "window_end": end,
            "loss_pct": loss,
        }
    return out


def _residual_irr(
    result: Any, s: int, settlement: dt.date, dates: pd.DatetimeIndex
) -> float | None:
    from absstruct.errors import PricingError
    from absstruct.pricing import CashFlows
    from absstruct.spreads import residual_irr

    residual = np.zeros(len(dates))
    for ledger in result.tranches.values():
        if "residual_paid" in ledger.arrays:
            residual += np.asarray(ledger["residual_paid"][s], dtype=float)
    notes = sum(result.original_balances.values())
    # The residual holder's stake: its stated size, else the overcollateralization it funds.
    stake = float(result.pool.initial_balance) - notes
    if not np.any(residual > 0) or stake <= 0:
        return None
    try:
        flows = CashFlows(
            dates=[d.date() for d in dates], interest=np.zeros(len(dates)), principal=residual
        )
        return float(
            residual_irr(
                flows, settlement=settlement, purchase_price=stake, compounding="semiannual"
            ).irr
        )
    except (PricingError, AttributeError):
        return None


def from_waterfall_result(
    result: Any,
    *,
    scenario: int | str = 0,
    deal: Any = None,
    prices: Mapping[str, float] | None = None,
    spreads_bp: Mapping[str, float] | None = None,
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
    prices : mapping, optional
        Tranche -> clean price per 100 (default 100, par).
    spreads_bp : mapping, optional
        Tranche -> spread in basis points from the pricing step, shown as given.
    settlement : date, optional
        Default: the deal's closing date.
    """
    s = result.scenario_index(scenario)
    if not 0 <= s < result.n_scenarios:
        raise AbsStructError(f"scenario: {scenario!r} is not one of {list(result.scenario_names)}")
    dates = pd.DatetimeIndex(pd.to_datetime(list(result.payment_dates)))
    settle = _settlement(result, deal, settlement)
    months = _MONTHS.get(deal.dates.frequency, 1) if deal is not None else 1
    collateral = _collateral(result, s, dates)
    measures = _price_table(result, deal, settle, dates, prices or {})
    pool_balance = float(result.pool.initial_balance)
    rows = []
    cumulative = 0.0
    for name in result.tranches:
        size = float(result.original_balances.get(name, 0.0))
        cumulative += size
        coupon = np.asarray(result.coupons.get(name, [np.nan]), dtype=float)
        m = measures[name]
        rows.append(
            {
                "tranche": name,
                "size": size,
                "pct_pool": size / pool_balance if pool_balance else np.nan,
                "coupon": float(coupon[0]) if size > 0 and coupon.size else np.nan,
                "credit_enhancement": 1 - cumulative / pool_balance if size > 0 else np.nan,
                "price": m["price"][s],
                "yield": m["yield"][s],
                "spread_bp": float((spreads_bp or {}).get(name, np.nan)),
                "wal": m["wal"][s],
                "window_start": int(m["window_start"][s]),
                "window_end": int(m["window_end"][s]),
                "modified_duration": m["modified_duration"][s],
                "loss_pct": m["loss_pct"][s],
            }
        )
    grid = None
    if result.n_scenarios > 1:
        grid_rows = [
            {
                "scenario": result.scenario_names[k],
                "tranche": name,
                "yield": measures[name]["yield"][k],
                "wal": measures[name]["wal"][k],
                "loss_pct": measures[name]["loss_pct"][k],
            }
            for k in range(result.n_scenarios)
            for name in result.tranches
            if result.original_balances.get(name, 0.0) > 0
        ]
        grid = pd.DataFrame(grid_rows)
    return ReportData(
        deal=_deal_facts(result, deal),
        scenario=_scenario_facts(result, s, deal),
        tranches=pd.DataFrame(rows),
        collateral=collateral,
        tranche_flows=_tranche_flows(result, s, dates),
        waterfall=_waterfall(result, s, dates),
        accounts=_accounts(result, s, dates),
        triggers=_triggers(result, s, dates, deal),
        curves=_curves(collateral, pool_balance, months),
        residual_irr=_residual_irr(result, s, settle, dates),
        grid=grid,
    )
