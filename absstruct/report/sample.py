"""A synthetic, self-consistent run to preview and test the report writers.

:func:`sample_report` projects a level-pay pool at a constant CPR / CDR and severity
and runs a plain sequential waterfall (servicing fee, note interest in order, reserve
top-up, principal in order, residual to the last tranche) over S scenarios at once.  It
exists so the writers can be shown and checked without a deal file; it is not the deal
engine (``absstruct.waterfall``) and its figures are not a model of any real deal.

Examples
--------
>>> data = sample_report(n_periods=24, n_tranches=3, n_scenarios=4)
>>> len(data.collateral), len(data.tranche_flows), len(data.grid)
(24, 72, 12)
>>> bool((data.tranche_flows["ending_balance"] >= -1e-9).all())
True
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from absstruct.projection.flows import POOL_COLUMNS
from absstruct.report.data import PoolReport, ReportData

_CLASS_LETTERS = "ABCDEFGHIJ"


def _monthly_dates(first: dt.date, n: int) -> list[dt.date]:
    out = []
    for i in range(n):
        month = first.month - 1 + i
        out.append(dt.date(first.year + month // 12, month % 12 + 1, min(first.day, 28)))
    return out


def _tranche_names(n: int) -> list[str]:
    return [f"Senior {_CLASS_LETTERS[i]}" for i in range(n - 1)] + ["Sub"]


def _bond_yield(flows: np.ndarray, times: np.ndarray, price: float) -> float:
    """Bond-equivalent yield solving price = sum CF / (1 + y/2)^(2t) (Newton)."""
    y = 0.05
    for _ in range(60):
        disc = (1 + y / 2) ** (-2 * times)
        value = float(np.sum(flows * disc)) - price
        slope = float(np.sum(-times * flows * disc / (1 + y / 2)))
        if slope == 0:
            break
        step = value / slope
        y -= step
        if abs(step) < 1e-12:
            break
    return y


def _run(
    *,
    balance: float,
    wac: float,
    term: int,
    n_periods: int,
    cpr: np.ndarray,
    cdr: np.ndarray,
    severity: float,
    sizes: np.ndarray,
    coupons: np.ndarray,
    servicing: float,
    reserve_target: float,
) -> dict[str, np.ndarray]:
    """The vectorised toy engine: every state is an array over scenarios."""
    n_s, n_t, n_k = len(cpr), n_periods, len(sizes)
    smm = 1 - (1 - cpr) ** (1 / 12)
    mdr = 1 - (1 - cdr) ** (1 / 12)
    r = wac / 12
    out = {name: np.zeros((n_s, n_t)) for name in POOL_COLUMNS}
    notes = {
        k: np.zeros((n_s, n_k, n_t))
        for k in ("beginning_balance", "interest_due", "interest_paid", "principal", "writedown")
    }
    steps = np.zeros((n_s, 2 + 2 * n_k, n_t))
    reserve = np.zeros((n_s, 4, n_t))
    perf = np.full(n_s, balance)
    bal = np.tile(sizes, (n_s, 1)).astype(float)
    res = np.full(n_s, reserve_target)
    for t in range(n_t):
        remaining = term - t
        defaults = perf * mdr
        live = perf - defaults
        sched = live * (r / ((1 + r) ** remaining - 1)) if remaining > 0 else live
        interest = live * r
        prepay = (live - sched) * smm
        loss = defaults * severity
        recovery = defaults - loss
        new_perf = live - sched - prepay
        fee = perf * servicing / 12
        cols = {
            "performing_balance": new_perf,
            "new_defaults": defaults,
            "expected_amortization": sched,
            "voluntary_prepayments": prepay,
            "actual_amortization": sched,
            "expected_interest": perf * r,
            "interest_lost": defaults * r,
            "actual_interest": interest,
            "servicing_fee": fee,
            "principal_recovery": recovery,
            "principal_loss": loss,
            "amortized_default_balance_in_recovery": defaults,
            "principal_collections": sched + prepay + recovery,
            "interest_collections": interest,
        }
        for name, values in cols.items():
            out[name][:, t] = values
        cash = interest.copy()
        paid_fee = np.minimum(cash, fee)
        cash -= paid_fee
        steps[:, 0, t] = paid_fee
        notes["beginning_balance"][:, :, t] = bal
        due = bal * coupons / 12
        due[:, -1] = 0.0  # the residual tranche earns what is left, not a coupon
        draw = np.zeros(n_s)
        for k in range(n_k - 1):
            short = np.maximum(due[:, k] - cash, 0.0)
            take = np.minimum(short, res - draw)
            draw += take
            paid = np.minimum(due[:, k], cash + take)
            cash = cash + take - paid
            notes["interest_due"][:, k, t] = due[:, k]
            notes["interest_paid"][:, k, t] = paid
            steps[:, 1 + k, t] = paid
        res_after = res - draw
        topup = np.minimum(cash, np.maximum(reserve_target - res_after, 0.0))
        cash -= topup
        steps[:, n_k, t] = topup
        reserve[:, :, t] = np.stack([res, topup, draw, res_after + topup], axis=1)
        res = res_after + topup
        # Excess spread covers this period's losses (turbo), then the rest is residual.
        cover = np.minimum(cash, loss)
        cash -= cover
        available = sched + prepay + recovery + cover
        for k in range(n_k):
            pay = np.minimum(available, bal[:, k])
            available -= pay
            bal[:, k] -= pay
            notes["principal"][:, k, t] = pay
            steps[:, n_k + 1 + k, t] = pay
        residual = cash + available
        notes["interest_paid"][:, -1, t] = residual
        steps[:, 2 * n_k + 1, t] = residual
        excess = bal.sum(axis=1) - new_perf
        excess = np.where(excess > 1e-6, excess, 0.0)  # ignore rounding dust
        for k in range(n_k - 1, -1, -1):
            cut = np.minimum(excess, bal[:, k])
            bal[:, k] -= cut
            excess -= cut
            notes["writedown"][:, k, t] = cut
        perf = new_perf
    out["in_foreclosure"] = np.zeros((n_s, n_t))
    out["amortization_from_defaults"] = np.zeros((n_s, n_t))
    out["fee_income"] = np.zeros((n_s, n_t))
    return {"pool": out, "notes": notes, "steps": steps, "reserve": reserve}  # type: ignore[dict-item]


def sample_report(
    *,
    n_periods: int = 60,
    n_tranches: int = 3,
    n_scenarios: int = 1,
    balance: float = 100_000_000.0,
    wac: float = 0.12,
    cpr: float = 0.08,
    cdr: float = 0.03,
    severity: float = 0.6,
    first_payment: dt.date = dt.date(2025, 1, 25),
) -> ReportData:
    """Run the synthetic deal and return its :class:`ReportData`.

    Scenario ``i`` of the grid scales the CDR by ``1 + i / 2``; scenario 0 is the base
    case the ledgers show.
    """
    names = _tranche_names(n_tranches)
    weights = np.array([0.70 / max(n_tranches - 1, 1)] * (n_tranches - 1) + [0.0])
    if n_tranches > 1:
        weights[0] += 0.10
        weights[-1] = 1 - weights[:-1].sum()
    else:
        weights = np.array([1.0])
    sizes = balance * weights
    coupons = np.array([0.035 + 0.01 * k for k in range(n_tranches)])
    multiples = 1 + np.arange(n_scenarios) / 2
    cdrs = np.minimum(cdr * multiples, 0.95)
    run = _run(
        balance=balance,
        wac=wac,
        term=n_periods,
        n_periods=n_periods,
        cpr=np.full(n_scenarios, cpr),
        cdr=cdrs,
        severity=severity,
        sizes=sizes,
        coupons=coupons,
        servicing=0.01,
        reserve_target=0.01 * balance,
    )
    dates = _monthly_dates(first_payment, n_periods)
    date_col = pd.to_datetime(dates)
    periods = np.arange(1, n_periods + 1)
    pool = run["pool"]
    collateral = pd.DataFrame({"period": periods, "date": date_col})
    for name in POOL_COLUMNS:
        collateral[name] = pool[name][0]
    notes = run["notes"]
    flows = []
    for k, name in enumerate(names):
        begin = notes["beginning_balance"][0, k]
        frame = pd.DataFrame({"tranche": name, "period": periods, "date": date_col})
        frame["beginning_balance"] = begin
        frame["interest_due"] = notes["interest_due"][0, k]
        frame["interest_paid"] = notes["interest_paid"][0, k]
        frame["interest_shortfall"] = np.maximum(frame["interest_due"] - frame["interest_paid"], 0)
        frame["principal"] = notes["principal"][0, k]
        frame["writedown"] = notes["writedown"][0, k]
        frame["ending_balance"] = begin - frame["principal"] - frame["writedown"]
        flows.append(frame)
    tranche_flows = pd.DataFrame(pd.concat(flows, ignore_index=True))
    step_names = (
        ["Servicing fee"]
        + [f"{n} interest" for n in names[:-1]]
        + ["Reserve top-up"]
        + [f"{n} principal" for n in names]
        + [f"{names[-1]} residual"]
    )
    steps = run["steps"][0]
    waterfall = pd.DataFrame(
        {
            "period": np.repeat(periods, len(step_names)),
            "date": np.repeat(date_col, len(step_names)),
            "priority": np.tile(np.arange(1, len(step_names) + 1), n_periods),
            "step": np.tile(step_names, n_periods),
            "paid": steps.T.reshape(-1),
        }
    )
    reserve = run["reserve"][0]
    accounts = pd.DataFrame(
        {
            "account": "Reserve account",
            "period": periods,
            "date": date_col,
            "beginning_balance": reserve[0],
            "deposit": reserve[1],
            "withdrawal": reserve[2],
            "ending_balance": reserve[3],
            "target": 0.01 * balance,
        }
    )
    cum_loss = np.cumsum(pool["principal_loss"][0]) / balance
    threshold = np.where(periods <= n_periods // 2, 0.02, 0.04)
    triggers = pd.DataFrame(
        {
            "trigger": "Cumulative net loss",
            "metric": "cumulative_loss",
            "period": periods,
            "date": date_col,
            "value": cum_loss,
            "threshold": threshold,
            "breached": cum_loss > threshold,
        }
    )
    smm = np.full(n_periods, 1 - (1 - cpr) ** (1 / 12))
    mdr = np.full(n_periods, 1 - (1 - cdrs[0]) ** (1 / 12))
    curves = pd.DataFrame(
        {
            "period": periods,
            "date": date_col,
            "smm": smm,
            "cpr": np.full(n_periods, cpr),
            "mdr": mdr,
            "cdr": np.full(n_periods, cdrs[0]),
            "severity": np.full(n_periods, severity),
        }
    )
    times = periods / 12.0
    summary_rows = []
    grid_rows = []
    for s in range(n_scenarios):
        for k, name in enumerate(names):
            principal = notes["principal"][s, k]
            cash = principal + notes["interest_paid"][s, k]
            paid = principal.sum()
            wal = float((times * principal).sum() / paid) if paid > 0 else float("nan")
            y = _bond_yield(cash, times, sizes[k]) if sizes[k] > 0 else float("nan")
            disc = (1 + y / 2) ** (-2 * times)
            macaulay = float((times * cash * disc).sum() / (cash * disc).sum())
            nonzero = np.nonzero(principal > 1e-6)[0]
            row = {
                "tranche": name,
                "size": sizes[k],
                "pct_pool": sizes[k] / balance,
                "coupon": coupons[k] if k < n_tranches - 1 else float("nan"),
                "credit_enhancement": sizes[k + 1 :].sum() / balance,
                "quote": "par",
                "price": 100.0,
                "yield": y,
                "flat_spread": y - 0.03,
                "wal": wal,
                "first_principal_date": dates[nonzero[0]] if len(nonzero) else None,
                "last_principal_date": dates[nonzero[-1]] if len(nonzero) else None,
                "modified_duration": macaulay / (1 + y / 2),
                "principal_loss_pct": (
                    notes["writedown"][s, k].sum() / sizes[k] if sizes[k] else 0.0
                ),
            }
            if s == 0:
                summary_rows.append(row)
            grid_rows.append(
                {
                    "scenario": f"CDR {cdrs[s]:.2%}",
                    "cdr": cdrs[s],
                    "tranche": name,
                    "yield": row["yield"],
                    "wal": row["wal"],
                    "principal_loss_pct": row["principal_loss_pct"],
                }
            )
    residual = notes["interest_paid"][0, -1] + notes["principal"][0, -1]
    residual_irr = _bond_yield(residual, times, sizes[-1]) if sizes[-1] > 0 else None
    pool_report = PoolReport(
        summary={
            "loan_count": 4_210,
            "current_balance": balance,
            "wac": wac,
            "wam": float(n_periods),
            "wa_seasoning": 0.0,
        },
        strats={
            "Rate": pd.DataFrame(
                {
                    "bucket": ["< 10%", "10-14%", ">= 14%"],
                    "count": [1_200, 2_010, 1_000],
                    "balance": [balance * 0.3, balance * 0.5, balance * 0.2],
                    "pct_balance": [0.3, 0.5, 0.2],
                }
            )
        },
        exclusions=pd.DataFrame(
            {
                "loan_id": ["L-000017", '=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0"],
                "rule": ["days_past_due <= 30", "rate > 0", "rate > 0"],
                "value": ["45", "0", "-0.01"],
                "balance": [12_000.0, 8_500.0, 3_000.0],
            }
        ),
    )
    return ReportData(
        deal={
            "deal_name": "Sample Consumer Loan Trust 2025-1",
            "currency": "CNY",
            "cutoff_date": dt.date(first_payment.year, first_payment.month, 1)
            - dt.timedelta(days=1),
            "closing_date": first_payment - dt.timedelta(days=20),
            "first_payment_date": first_payment,
            "payment_frequency": "monthly",
            "day_count": "30/360",
            "original_pool_balance": balance,
        },
        scenario={
            "scenario": "base",
            "prepayment": f"CPR {cpr:.0%}",
            "default": f"CDR {cdr:.0%}",
            "severity": severity,
            "recovery_lag": 0,
            "servicing_fee_rate": 0.01,
        },
        tranches=pd.DataFrame(summary_rows),
        collateral=collateral,
        tranche_flows=tranche_flows,
        waterfall=waterfall,
        accounts=accounts,
        triggers=triggers,
        curves=curves,
        residual_irr=residual_irr,
        pricing={
            "settlement_date": first_payment - dt.timedelta(days=20),
            "yield_convention": "semiannual 30/360",
        },
        grid=pd.DataFrame(grid_rows) if n_scenarios > 1 else None,
        pool=pool_report,
    )
