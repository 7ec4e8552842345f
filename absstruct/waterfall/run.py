"""``run(deal, collateral, scenarios) -> Result``: the waterfall's public entry point.

The collateral is either a canonical tape DataFrame (projected here under the deal's
scenarios) or already projected :class:`~absstruct.projection.flows.PoolFlows`.  Monthly
pool flows are summed into the deal's payment periods (quarterly deals take three months
per period).  Dates are attached here; the engine sees only arrays.

Examples
--------
>>> import numpy as np
>>> from absstruct.deal import parse_deal
>>> from absstruct.projection.flows import POOL_COLUMNS, PoolFlows
>>> deal = parse_deal('''
... schema_version = 1
... name = "two-period demo"
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
>>> result = run(deal, PoolFlows(arrays=arrays, initial_balance=100.0, scenario_names=("base",)))
>>> result.tranches["A"]["principal_paid"].tolist()
[[50.0, 40.0]]
>>> result.tranches["A"]["interest_paid"].round(4).tolist()  # 90 x 12% / 12, then 40 x 1%
[[0.9, 0.4]]
>>> result.tranches["R"]["residual_paid"].round(4).tolist()
[[0.1, 10.1]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from absstruct.deal.calendar import MONTHS_PER_PERIOD
from absstruct.errors import DealError, Problem
from absstruct.projection.book import CohortBook
from absstruct.projection.flows import BALANCE_COLUMNS, POOL_COLUMNS, PoolFlows
from absstruct.waterfall.engine import Engine
from absstruct.waterfall.result import Ledger, Result
from absstruct.waterfall.schedule import build_schedule, period_count

if TYPE_CHECKING:
    from absstruct.deal.model import Deal
    from absstruct.pool import Pool


def to_deal_periods(arrays: Mapping[str, np.ndarray], months: int) -> dict[str, np.ndarray]:
    """Monthly ``(S, M)`` pool arrays -> ``(S, ceil(M / months))`` deal-period arrays."""
    if months == 1:
        return {k: np.asarray(v, dtype=float) for k, v in arrays.items()}
    out = {}
    for name, values in arrays.items():
        values = np.asarray(values, dtype=float)
        S, M = values.shape
        n = math.ceil(M / months)
        padded = np.zeros((S, n * months))
        padded[:, :M] = values
        if name in BALANCE_COLUMNS and M:
            padded[:, M:] = values[:, -1:]
            out[name] = padded.reshape(S, n, months)[:, :, -1]
        else:
            out[name] = padded.reshape(S, n, months).sum(axis=2)
    return out


def _fit(arrays: Mapping[str, np.ndarray], periods: int, S: int) -> dict[str, np.ndarray]:
    """Cut or zero-pad every column to ``periods`` (a finished pool has nothing later)."""
    out = {}
    for name in POOL_COLUMNS:
        values = np.asarray(arrays.get(name, np.zeros((S, 0))), dtype=float)
        fitted = np.zeros((S, periods))
        n = min(periods, values.shape[1])
        fitted[:, :n] = values[:, :n]
        out[name] = fitted
    return out


def _call_mask(deal: Deal, call: bool | Sequence[bool] | None, S: int) -> np.ndarray:
    if deal.call is None:
        return np.zeros(S, dtype=bool)
    if call is None:
        return np.full(S, deal.call.exercise)
    if isinstance(call, (bool, np.bool_)):
        return np.full(S, bool(call))
    mask = np.asarray(call, dtype=bool)
    if mask.shape != (S,):
        raise DealError(f"call: {len(mask)} flags given for {S} scenarios")
    return mask


def _check_sizes(deal: Deal, pool_balance: float) -> None:
    problems = []
    total = 0.0
    for i, tranche in enumerate(deal.tranches):
        total += tranche.size_amount(pool_balance)
        if total > pool_balance * (1 + 1e-9) + 1e-6:
            problems.append(
                Problem(
                    where=f"tranches[{i}].size",
                    value=tranche.size,
                    rule="exceeds_pool",
                    message=f"takes the tranche sizes to {total:,.2f}, above the pool balance "
                    f"{pool_balance:,.2f}",
                )
            )
            break
    if problems:
        raise DealError.from_problems(problems, source=deal.name)


def rep_line_tape(deal: Deal) -> pd.DataFrame:
    """The revolving period's rep lines as a canonical tape of one unit of balance."""
    if deal.revolving is None:
        raise DealError("revolving: the deal has no revolving period")
    lines = deal.revolving.rep_lines
    total = sum(line.weight for line in lines)
    cutoff = pd.Timestamp(deal.dates.cutoff)
    rows = []
    for i, line in enumerate(lines):
        rows.append(
            {
                "loan_id": f"rep{i + 1}",
                "obligor_id": f"rep{i + 1}",
                "origination_date": cutoff,
                "maturity_date": cutoff + pd.DateOffset(months=line.term),
                "original_balance": line.weight / total,
                "current_balance": line.weight / total,
                "rate": line.rate,
                "original_term": line.term,
                "remaining_term": line.term,
                "amortization": line.amortization,
                "payment_frequency": "monthly",
                "days_past_due": 0,
                "status": "current",
                "region": line.region or "",
                "grade": line.grade or "",
                "product": line.product or "",
                "fee_rate": line.fee_rate,
            }
        )
    return pd.DataFrame(rows)


def _projection_periods(deal: Deal) -> int:
    months = MONTHS_PER_PERIOD[deal.dates.frequency]
    return period_count(deal.dates) * months


def _scenario_assumptions(deal: Deal, scenarios: Any) -> tuple[list[Any], tuple[str, ...]]:
    from absstruct.deal.scenarios import deal_scenarios

    if scenarios is None or (
        isinstance(scenarios, Sequence)
        and not isinstance(scenarios, str)
        and all(isinstance(s, str) for s in scenarios)
    ):
        chosen = deal_scenarios(deal, scenarios)
        return list(chosen.values()), tuple(chosen)
    if isinstance(scenarios, str):
        chosen = deal_scenarios(deal, [scenarios])
        return list(chosen.values()), tuple(chosen)
    if isinstance(scenarios, Mapping):
        return list(scenarios.values()), tuple(str(k) for k in scenarios)
    items = list(scenarios) if isinstance(scenarios, Sequence) else [scenarios]
    return items, tuple(f"scenario {i + 1}" for i in range(len(items)))


def project_collateral(
    deal: Deal, tape: pd.DataFrame | CohortBook, scenarios: Any = None
) -> PoolFlows:
    """Project a canonical tape (or its :func:`collateral_book`) under the deal's scenarios
    (names, Assumptions or a mapping)."""
    from absstruct.projection import project

    assumptions, names = _scenario_assumptions(deal, scenarios)
    return project(tape, assumptions, periods=_projection_periods(deal), names=names)


def collateral_book(deal: Deal, tape: pd.DataFrame, scenarios: Any = None) -> CohortBook:
    """The tape aggregated once over the deal's horizon, for many :func:`run` calls.

    Cohorts are split by every column the deal's scenarios (or ``scenarios``) segment by.
    """
    from absstruct.projection import aggregate

    assumptions, _ = _scenario_assumptions(deal, scenarios)
    return aggregate(tape, periods=_projection_periods(deal), scenarios=assumptions)


def unit_collateral(deal: Deal, scenarios: Any, names: tuple[str, ...]) -> PoolFlows:
    """Flows of one unit of the rep lines bought at age 0, under each scenario."""
    from absstruct.projection import RepLine, unit_flows

    if deal.revolving is None:
        raise DealError("revolving: the deal has no revolving period")
    assumptions, _ = _scenario_assumptions(deal, scenarios)
    lines = [
        RepLine(
            weight=line.weight,
            rate=line.rate,
            term=line.term,
            amortization=line.amortization,
            fee_rate=line.fee_rate,
        )
        for line in deal.revolving.rep_lines
    ]
    return unit_flows(lines, assumptions, periods=_projection_periods(deal), names=names)


def check_rep_lines(deal: Deal) -> None:
    """Each revolving rep line must pass the pool's eligibility rules on the columns it has,
    and the mix of every purchase must keep within the pool's per-group concentration limits.

    A share limit that holds for the pool at the cut-off and for every purchase holds for
    any mix of them, so checking the rep-line mix once covers the revolving period.  Limits
    per obligor are not checked: a rep line stands for many obligors.
    """
    criteria = deal.pool.criteria
    if deal.revolving is None or criteria is None:
        return
    from absstruct.pool.rules import rule_passes

    lines = rep_line_tape(deal)
    problems = []
    for rule in criteria.eligibility:
        if rule.column not in lines.columns or rule.column in ("loan_id", "obligor_id"):
            continue
        passes = np.asarray(rule_passes(lines, rule), dtype=bool)
        problems += [
            Problem(
                where=f"revolving.rep_lines[{i}]",
                rule="eligibility",
                message=f"fails the pool eligibility rule {rule.name!r} ({rule.column})",
            )
            for i in np.flatnonzero(~passes)
        ]
    limits = criteria.concentration.group_limits() if criteria.concentration else ()
    for name, column, share in limits:
        if column not in ("region", "grade", "product"):
            continue
        labelled = lines[lines[column] != ""]
        mix = labelled.groupby(column)["current_balance"].sum()
        for value, weight in mix.items():
            if weight > share + 1e-12:
                problems.append(
                    Problem(
                        where=f"revolving.rep_lines.{column}",
                        value=value,
                        rule="concentration",
                        message=f"takes {weight:.2%} of each purchase, above the pool "
                        f"limit {name} of {share:.2%}",
                    )
                )
    if problems:
        raise DealError.from_problems(problems, source=deal.name)


def deal_pool(deal: Deal, path: str | None = None) -> Pool:
    """Read the deal's tape (or ``path``) with its template and cut the pool.

    The pool carries the eligible loans, the exclusion report, the summary and the strats;
    a deal without eligibility or concentration criteria keeps every loan.
    """
    from absstruct.pool import PoolCriteria, select_pool
    from absstruct.tape.ingest import load_tape

    source = path or deal.pool.tape
    if source is None:
        raise DealError("pool.tape: the deal names no tape; give one")
    tape = load_tape(
        source,
        template=deal.pool.template or "canonical",
        cutoff=deal.pool.cutoff or deal.dates.cutoff,
        encoding=deal.pool.encoding,
        sheet=None if deal.pool.sheet is None else str(deal.pool.sheet),
    )
    return select_pool(tape, deal.pool.criteria or PoolCriteria())


def deal_tape(deal: Deal, path: str | None = None) -> pd.DataFrame:
    """The eligible loans of the deal's pool (see :func:`deal_pool`)."""
    return deal_pool(deal, path).eligible


def run(
    deal: Deal,
    collateral: pd.DataFrame | PoolFlows,
    scenarios: Any = None,
    *,
    call: bool | Sequence[bool] | None = None,
    unit_flows: PoolFlows | None = None,
) -> Result:
    """Run the deal's waterfall over every scenario at once.

    Parameters
    ----------
    deal : Deal
    collateral : pandas.DataFrame, CohortBook or PoolFlows
        A canonical tape or its :func:`collateral_book` (projected under ``scenarios``), or
        projected pool flows, monthly.
    scenarios : None, str, sequence of str, Mapping[str, Assumptions] or sequence of Assumptions
        With a tape: which scenarios (default: ``base`` and every named scenario of the
        deal).  Ignored with pool flows, which carry their own scenario names.
    call : bool or sequence of bool, optional
        Whether the clean-up call is exercised, for all or per scenario (default: the deal's
        ``call.exercise``).
    unit_flows : PoolFlows, optional
        Flows of one unit of the revolving rep lines bought at age 0 (monthly, same
        scenarios); projected from the rep lines when omitted.

    Returns
    -------
    Result
    """
    if isinstance(collateral, PoolFlows):
        flows = collateral
    elif isinstance(collateral, (pd.DataFrame, CohortBook)):
        flows = project_collateral(deal, collateral, scenarios)
    else:
        raise DealError(
            "collateral: expected a tape DataFrame, CohortBook or PoolFlows, "
            f"got {type(collateral).__name__}"
        )
    check_rep_lines(deal)
    S = flows.n_scenarios
    months = MONTHS_PER_PERIOD[deal.dates.frequency]
    pool = to_deal_periods(flows.arrays, months)
    pool_periods = next(iter(pool.values())).shape[1] if pool else 0
    unit = None
    if deal.revolving is not None:
        if unit_flows is None:
            unit_flows = unit_collateral(deal, scenarios, flows.scenario_names)
        if unit_flows.n_scenarios != S:
            raise DealError(f"unit_flows: {unit_flows.n_scenarios} scenarios, the pool has {S}")
        unit_arrays = to_deal_periods(unit_flows.arrays, months)
        unit_periods = next(iter(unit_arrays.values())).shape[1]
        pool_periods = max(pool_periods, deal.revolving.periods + unit_periods)
    periods = min(period_count(deal.dates), pool_periods)
    if periods < 1:
        raise DealError("dates: no payment period falls before dates.legal_final")
    _check_sizes(deal, flows.initial_balance)
    pool = _fit(pool, periods, S)
    if deal.revolving is not None:
        unit = _fit(unit_arrays, periods, S)
    schedule = build_schedule(deal, periods)
    engine = Engine(
        deal,
        pool,
        flows.initial_balance,
        schedule,
        scenario_names=flows.scenario_names,
        unit=unit,
        call=_call_mask(deal, call, S),
    ).run()
    return _result(deal, engine, flows)


def _ledgers(books: Mapping[str, Any], kind: str, dates: tuple[Any, ...]) -> dict[str, Ledger]:
    return {
        name: Ledger(name=name, kind=kind, arrays=book.arrays(), dates=dates)
        for name, book in books.items()
    }


def _result(deal: Deal, engine: Engine, flows: PoolFlows) -> Result:
    dates = engine.schedule.payment_dates
    alive = engine.alive_rows.T
    used = {}
    for name, values in engine.pool.items():
        masked = values * alive
        masked.flags.writeable = False
        used[name] = masked
    pool = PoolFlows(
        arrays=used, initial_balance=flows.initial_balance, scenario_names=flows.scenario_names
    )
    return Result(
        deal_name=deal.name,
        currency=deal.currency,
        scenario_names=flows.scenario_names,
        payment_dates=dates,
        pool=pool,
        tranches=_ledgers(engine.tranche_book, "tranche", dates),
        accounts=_ledgers(engine.account_book, "account", dates),
        fees=_ledgers(engine.fee_book, "fee", dates),
        taxes=_ledgers(engine.tax_book, "tax", dates),
        triggers=_ledgers(engine.trigger_book, "trigger", dates),
        support=_ledgers(engine.support_book, "support", dates),
        deal=Ledger(name="deal", kind="deal", arrays=engine.deal_book.arrays(), dates=dates),
        original_balances=dict(engine.original),
        coupons={k: v.copy() for k, v in engine.schedule.coupons.items()},
    )


__all__ = [
    "check_rep_lines",
    "collateral_book",
    "deal_tape",
    "project_collateral",
    "rep_line_tape",
    "run",
    "to_deal_periods",
    "unit_collateral",
]
