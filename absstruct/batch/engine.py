"""The batch task function: one (deal, tape) group of jobs as one scenario-array engine pass.

``execute_group`` is what runs on a worker, local process or Dask alike.  It reads the
deal and the tape once (kept per worker process, so later chunks of the same group reuse
them), builds one scenario per job, runs the waterfall over all of them in a single pass,
and prices each job's tranches.  Errors stay with the job that caused them: a broken deal
fails its group's jobs, a bad scenario or price fails only its own job.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from absstruct.batch.jobs import Job, describe
from absstruct.errors import AbsStructError

# One row per job x tranche.  Identity first, then status, then the pricing metrics.
SUMMARY_COLUMNS: tuple[str, ...] = (
    "job_id",
    "label",
    "origin",
    "deal",
    "tape",
    "scenario",
    "status",
    "error",
    "tranche",
    "price",
    "yield",
    "spread",
    "wal",
    "modified_duration",
    "principal_loss_pct",
    "interest_shortfall",
    "final_payment_date",
    "yield_convention",
)
FLOAT_COLUMNS = (
    "price",
    "yield",
    "spread",
    "wal",
    "modified_duration",
    "principal_loss_pct",
    "interest_shortfall",
)
TEXT_COLUMNS = tuple(c for c in SUMMARY_COLUMNS if c not in (*FLOAT_COLUMNS, "final_payment_date"))


@dataclass(frozen=True, kw_only=True)
class Task:
    """Jobs sharing one deal and tape, evaluated together: ``jobs`` holds (hash, job) pairs."""

    deal: Path
    tape: Path | None
    jobs: tuple[tuple[str, Job], ...]


Record = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class JobOutcome:
    """One job's result: its tranche records (``SUMMARY_COLUMNS``), cash flows when asked for.

    Records are plain dicts rather than DataFrames: ten thousand small frames would cost
    more than the engine pass that produced them.
    """

    key: str
    ok: bool
    rows: tuple[Record, ...]
    cashflows: pd.DataFrame | None = None

    @classmethod
    def failure(cls, key: str, job: Job, message: str) -> JobOutcome:
        return cls(key=key, ok=False, rows=failure_rows(key, job, message))

    def without_cashflows(self) -> JobOutcome:
        return self if self.cashflows is None else replace(self, cashflows=None)


def job_records(key: str, job: Job, records: Sequence[Record]) -> tuple[Record, ...]:
    """Complete tranche records with the job's identity columns and every summary column."""
    identity = {
        "job_id": key,
        "label": job.label,
        "origin": job.origin,
        "deal": str(job.deal),
        "tape": "" if job.tape is None else str(job.tape),
        "scenario": describe(job),
    }
    blank = dict.fromkeys(SUMMARY_COLUMNS)
    return tuple({**blank, **record, **identity} for record in records)


def failure_rows(key: str, job: Job, message: str) -> tuple[Record, ...]:
    """The single summary record of a failed job."""
    return job_records(key, job, [{"status": "failed", "error": message}])


def summary_schema() -> Any:
    """The Arrow schema of job files and the summary (fixed types, whatever the values)."""
    import pyarrow as pa

    types = {name: pa.float64() for name in FLOAT_COLUMNS}
    types["final_payment_date"] = pa.timestamp("ns")
    return pa.schema([(name, types.get(name, pa.string())) for name in SUMMARY_COLUMNS])


def records_table(records: Sequence[Record]) -> Any:
    """Records -> an Arrow table with :func:`summary_schema`."""
    import pyarrow as pa

    columns = {name: [r[name] for r in records] for name in SUMMARY_COLUMNS}
    return pa.Table.from_pydict(columns, schema=summary_schema())


def records_frame(records: Sequence[Record]) -> pd.DataFrame:
    """Records -> the summary DataFrame (string, float64 and datetime64[ns] columns)."""
    frame = records_table(records).to_pandas()
    for name in TEXT_COLUMNS:
        frame[name] = frame[name].astype("string")
    return frame


# --------------------------------------------------------------------------- worker cache

# Per worker process: the last few (deal, tape) groups read, so the chunks of one group
# that land on the same worker read and aggregate the tape once.  Keyed by file identity
# (path, size, mtime), so an edited file is read again.
_CACHE_SIZE = 4
_group_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


def _file_identity(path: Path | None) -> tuple[Any, ...]:
    if path is None:
        return (None,)
    try:
        stat = path.stat()
    except OSError:
        return (str(path), None)
    return (str(path), stat.st_size, stat.st_mtime_ns)


def cached(deal: Path, tape: Path | None, build: Callable[[], Any]) -> Any:
    """``build()`` once per worker process for this (deal, tape) pair and file state."""
    key = (*_file_identity(deal), *_file_identity(tape))
    if key in _group_cache:
        _group_cache.move_to_end(key)
        return _group_cache[key]
    value = build()
    _group_cache[key] = value
    while len(_group_cache) > _CACHE_SIZE:
        _group_cache.popitem(last=False)
    return value


def describe_error(error: BaseException) -> str:
    """An error as the summary shows it: our own messages as they are, others with their type."""
    if isinstance(error, AbsStructError):
        return str(error)
    if isinstance(error, FileNotFoundError):
        return f"{error.filename or error}: no such file"
    return f"{type(error).__name__}: {error}"


def deal_tape_path(deal: Path) -> Path | None:
    """The tape a deal file names (hashed for ``--resume``); ``None`` when it cannot be read.

    Read straight from the TOML (``[pool] tape``, relative to the deal file) rather than
    through full validation, so that even a deal that fails to load hashes its tape.
    """
    try:
        document = tomllib.loads(deal.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    pool = document.get("pool")
    tape = pool.get("tape") if isinstance(pool, dict) else None
    if not isinstance(tape, str) or not tape.strip():
        return None
    return (deal.resolve().parent / tape.strip()).resolve()


@dataclass(frozen=True, kw_only=True)
class GroupInputs:
    """What a group shares: the validated deal and its (eligible) tape, read once."""

    deal: Any
    tape: pd.DataFrame


def load_group(deal_path: Path, tape_path: Path | None) -> GroupInputs:
    """Read the deal, then its tape (the job's, or the deal's own) through the deal's template.

    When the deal has eligibility criteria the tape is cut to the eligible pool first, as
    ``absstruct pool`` does.
    """
    from absstruct.deal import load_deal
    from absstruct.tape import load_tape

    deal = load_deal(deal_path)
    pool = deal.pool
    path = tape_path if tape_path is not None else pool.tape
    if path is None:
        raise AbsStructError(f"{deal_path.name}: pool.tape is not set and the job names no tape")
    tape = load_tape(
        path,
        template=pool.template or "canonical",
        cutoff=pool.cutoff or deal.dates.cutoff,
        encoding=pool.encoding,
        sheet=None if pool.sheet is None else str(pool.sheet),
    )
    if pool.criteria is not None:
        from absstruct.pool.selection import select_pool

        tape = select_pool(tape, pool.criteria).eligible
    return GroupInputs(deal=deal, tape=tape)


def job_scenario(deal: Any, job: Job) -> tuple[Any, bool | None]:
    """The job's ``Assumptions`` (named scenario + overrides) and its clean-up call choice."""
    from absstruct.deal.scenarios import BASE, deal_scenarios

    name = job.scenario or BASE
    assumptions = deal_scenarios(deal, [name])[name]
    changes = {k: v for k, v in job.overrides if k != "call"}
    if changes:
        assumptions = assumptions.merged(changes)
    call = dict(job.overrides).get("call")
    return assumptions, None if call is None else bool(call)


def execute_group(task: Task) -> list[JobOutcome]:
    """Evaluate one group of jobs: read once, one engine pass over every scenario, price.

    Never raises for a job's own problem: each failure becomes that job's outcome.
    """
    try:
        inputs: GroupInputs = cached(task.deal, task.tape, lambda: load_group(task.deal, task.tape))
    except Exception as error:  # a broken deal or tape fails every job of its group
        message = describe_error(error)
        return [JobOutcome.failure(key, job, message) for key, job in task.jobs]
    outcomes: dict[str, JobOutcome] = {}
    scenarios: dict[str, tuple[Any, bool | None]] = {}
    for key, job in task.jobs:
        try:
            scenarios[key] = job_scenario(inputs.deal, job)
        except Exception as error:
            outcomes[key] = JobOutcome.failure(key, job, describe_error(error))
    jobs = dict(task.jobs)
    for keys, result, run_error in _run_isolating_failures(inputs, list(scenarios), scenarios):
        if run_error is not None:
            message = describe_error(run_error)
            outcomes.update({key: JobOutcome.failure(key, jobs[key], message) for key in keys})
            continue
        items = [(key, jobs[key], row) for row, key in enumerate(keys)]
        try:
            outcomes.update({o.key: o for o in price_jobs(items, inputs.deal, result)})
        except Exception:  # find the job(s) that broke pricing; the others keep their results
            for item in items:
                try:
                    outcomes.update({o.key: o for o in price_jobs([item], inputs.deal, result)})
                except Exception as failure:
                    outcomes[item[0]] = JobOutcome.failure(
                        item[0], item[1], describe_error(failure)
                    )
    return [outcomes[key] for key, _ in task.jobs]


def _run_isolating_failures(
    inputs: GroupInputs, keys: list[str], scenarios: dict[str, tuple[Any, bool | None]]
) -> list[tuple[list[str], Any, BaseException | None]]:
    """One engine pass over ``keys``; when it fails, halve until the failing scenarios are alone.

    A deal-level error (the deal itself cannot run) fails every scenario at once.
    """
    from absstruct.errors import DealError
    from absstruct.waterfall.run import run

    if not keys:
        return []
    calls = [scenarios[k][1] for k in keys]
    call = None if all(c is None for c in calls) else _call_flags(inputs.deal, calls)
    try:
        result = run(inputs.deal, inputs.tape, {k: scenarios[k][0] for k in keys}, call=call)
    except Exception as error:
        if len(keys) == 1 or isinstance(error, DealError):
            return [(keys, None, error)]
        middle = len(keys) // 2
        return _run_isolating_failures(inputs, keys[:middle], scenarios) + (
            _run_isolating_failures(inputs, keys[middle:], scenarios)
        )
    return [(keys, result, None)]


def _call_flags(deal: Any, calls: list[bool | None]) -> list[bool]:
    default = bool(deal.call.exercise) if deal.call is not None else False
    return [default if c is None else c for c in calls]


# --------------------------------------------------------------------------- pricing

# Yields are bond-equivalent (semiannual) on the tranche's own day count (CONVENTIONS.md).
YIELD_COMPOUNDING = "semiannual"
LEDGER_FIELDS = (
    "balance",
    "interest_paid",
    "principal_paid",
    "interest_shortfall",
    "writedown",
    "residual_paid",
)


def price_jobs(items: Sequence[tuple[str, Job, int]], deal: Any, result: Any) -> list[JobOutcome]:
    """Tranche records (and cash flows when asked) for each (key, job, scenario row) item.

    Pricing runs on the pricing kernels over all of a tranche's scenarios at once; rows the
    kernels cannot answer (a spread input, a curve, a tranche with nothing left to price)
    go through the dated one-tranche functions, which also word the reason.
    """
    checked: list[tuple[str, Job, int]] = []
    outcomes: dict[str, JobOutcome] = {}
    for key, job, row in items:
        problem = _pricing_problem(job, deal, result)
        if problem:
            outcomes[key] = JobOutcome.failure(key, job, problem)
        else:
            checked.append((key, job, row))
    dates = np.array(result.payment_dates, dtype="datetime64[D]")
    rows = np.array([row for _, _, row in checked], dtype=int)
    records: list[list[Record]] = [[] for _ in checked]
    flows: list[list[pd.DataFrame]] = [[] for _ in checked]
    for tranche in deal.tranches:
        ledger = result.tranches[tranche.name]
        values = {f: np.asarray(ledger[f], dtype=float)[rows] for f in LEDGER_FIELDS}
        original = float(result.original_balances[tranche.name])
        priced = _price_tranche(tranche, values, dates, original, checked, deal)
        for i, (key, job, _) in enumerate(checked):
            row_values = {f: v[i] for f, v in values.items()}
            records[i].append(
                {**_tranche_record(tranche, row_values, dates, original), **priced[i]}
            )
            if job.output == "cashflows":
                flows[i].append(_cashflow_frame(key, tranche.name, dates, row_values))
    for i, (key, job, _) in enumerate(checked):
        cashflows = pd.concat(flows[i], ignore_index=True) if flows[i] else None
        outcomes[key] = JobOutcome(
            key=key, ok=True, rows=job_records(key, job, records[i]), cashflows=cashflows
        )
    return [outcomes[key] for key, _, _ in items]


def _pricing_problem(job: Job, deal: Any, result: Any) -> str:
    unknown = sorted({p.tranche for p in job.pricing} - set(result.tranches))
    if unknown:
        return (
            f"pricing: {', '.join(unknown)} is not a tranche of {deal.name}; "
            f"tranches: {', '.join(result.tranches)}"
        )
    if job.curve is None and any(p.measure == "spread" for p in job.pricing):
        return "spread: pricing at a spread needs a curve (the job's curve field)"
    return ""


def _cashflow_frame(
    key: str, tranche: str, dates: np.ndarray, values: dict[str, np.ndarray]
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "job_id": key,
            "tranche": tranche,
            "period": np.arange(1, len(dates) + 1),
            "date": dates.astype("datetime64[ns]"),
            **values,
        }
    )


def _tranche_record(
    tranche: Any, values: dict[str, np.ndarray], dates: np.ndarray, original: float
) -> Record:
    paid = values["interest_paid"] + values["principal_paid"] + values["residual_paid"]
    last = np.flatnonzero(paid > 0)
    loss = 100.0 * float(values["writedown"].sum()) / original if original > 0 else 0.0
    return {
        "status": "ok",
        "error": "",
        "tranche": tranche.name,
        "principal_loss_pct": loss,
        "interest_shortfall": float(values["interest_shortfall"][-1]) if len(dates) else 0.0,
        "final_payment_date": dates[last[-1]].astype("datetime64[ns]").item()
        if last.size
        else None,
    }


def _price_tranche(
    tranche: Any,
    values: dict[str, np.ndarray],
    dates: np.ndarray,
    original: float,
    items: Sequence[tuple[str, Job, int]],
    deal: Any,
) -> list[Record]:
    """Price one tranche in every item's scenario: kernels first, dated functions for the rest.

    The face is the tranche balance at settlement (its original balance before the first
    payment); the default input is a price of par.
    """
    from absstruct.daycount import as_days, year_fraction
    from absstruct.pricing import Convention, risk_kernel, solve_yield_kernel, wal_kernel

    if tranche.kind == "residual":
        return [{} for _ in items]
    convention = Convention(compounding=YIELD_COMPOUNDING, day_count=tranche.day_count)
    frequency = convention.frequency
    out: list[Record | None] = [None] * len(items)
    by_settlement: dict[dt.date, list[int]] = {}
    for i, (_, job, _) in enumerate(items):
        by_settlement.setdefault(job.settlement or deal.dates.closing, []).append(i)
    for settlement, members in by_settlement.items():
        settle = as_days(settlement)
        keep = dates > settle
        before = int(np.sum(~keep))
        index = np.array(members)
        before_face = values["balance"][index, before - 1] if before else None
        face = before_face if before_face is not None else np.full(len(index), original)
        kernel_rows: list[int] = []
        targets: list[float] = []
        given_prices: list[float] = []
        given_yields: list[float] = []
        for position, i in enumerate(members):
            _, job, _ = items[i]
            given = next((p for p in job.pricing if p.tranche == tranche.name), None)
            if job.curve is not None or (given is not None and given.measure == "spread"):
                continue
            if not (face[position] > 0) or not keep.any():
                continue
            kernel_rows.append(position)
            if given is not None and given.measure == "yield":
                targets.append(np.nan)
                given_prices.append(np.nan)
                given_yields.append(given.value)
            else:
                price = given.value if given is not None else 100.0
                targets.append(price * face[position] / 100.0)
                given_prices.append(price)
                given_yields.append(np.nan)
        if kernel_rows:
            times = np.asarray(year_fraction(settle, dates[keep], convention.day_count), float)
            chosen = index[kernel_rows]
            interest = values["interest_paid"][chosen][:, keep]
            principal = values["principal_paid"][chosen][:, keep]
            amounts = interest + principal
            target = np.asarray(targets)
            solve = ~np.isnan(target)
            rate = np.asarray(given_yields)
            if solve.any():
                rate[solve] = solve_yield_kernel(times, amounts[solve], target[solve], frequency)
            pv, _, modified, _ = risk_kernel(times, amounts, rate, frequency)
            wal = wal_kernel(times, principal)
            for j, position in enumerate(kernel_rows):
                if np.isfinite(rate[j]) and pv[j] > 0:
                    # A price input is reported as given (the yield reprices it to ~1e-15).
                    price = given_prices[j] if solve[j] else 100.0 * pv[j] / face[position]
                    out[members[position]] = {
                        "price": float(price),
                        "yield": float(rate[j]),
                        "spread": float("nan"),
                        "wal": float(wal[j]),
                        "modified_duration": float(modified[j]),
                        "yield_convention": str(convention),
                    }
        for position, i in enumerate(members):
            if out[i] is None:
                out[i] = _tranche_price_one(
                    tranche, values, i, dates, settlement, items[i][1], float(face[position])
                )
    return [record or {} for record in out]


def _tranche_price_one(
    tranche: Any,
    values: dict[str, np.ndarray],
    i: int,
    dates: np.ndarray,
    settlement: dt.date,
    job: Job,
    face: float,
) -> Record:
    """One scenario through the dated pricing functions (spreads, curves, and every case
    the kernels leave blank, so that the reason is worded)."""
    from absstruct.errors import PricingError
    from absstruct.pricing import CashFlows, Convention, price_from_yield, yield_from_price
    from absstruct.spreads import price_from_z_spread, z_spread

    convention = Convention(compounding=YIELD_COMPOUNDING, day_count=tranche.day_count)
    flows = CashFlows(
        dates=dates, interest=values["interest_paid"][i], principal=values["principal_paid"][i]
    )
    given = next((p for p in job.pricing if p.tranche == tranche.name), None)
    curve = _read_curve(job.curve) if job.curve is not None else None
    try:
        if not face > 0:
            raise PricingError(f"face: the tranche is paid off by settlement {settlement}")
        spread = float("nan")
        if given is not None and given.measure == "yield":
            priced = price_from_yield(
                flows, settlement=settlement, yield_=given.value, convention=convention, face=face
            )
        else:
            if given is not None and given.measure == "spread":
                if curve is None:  # checked per job before pricing; kept for the type checker
                    raise PricingError("spread: pricing at a spread needs a curve")
                spread = given.value
                price = price_from_z_spread(
                    flows,
                    settlement=settlement,
                    spread=spread,
                    curve=curve,
                    day_count=tranche.day_count,
                    face=face,
                ).price
            else:
                price = given.value if given is not None else 100.0
            priced = yield_from_price(
                flows, settlement=settlement, price=price, convention=convention, face=face
            )
        if curve is not None and np.isnan(spread):
            spread = z_spread(
                flows,
                settlement=settlement,
                price=priced.price,
                curve=curve,
                day_count=tranche.day_count,
                face=face,
            ).spread
    except PricingError as error:
        return {"error": str(error), "yield_convention": str(convention)}
    return {
        "price": priced.price,
        "yield": priced.yield_,
        "spread": spread,
        "wal": priced.wal,
        "modified_duration": priced.modified,
        "yield_convention": str(convention),
    }


def _read_curve(path: Path) -> Any:
    from absstruct.ratecurve import read_curve

    return cached(path, None, lambda: read_curve(path))


__all__ = [
    "SUMMARY_COLUMNS",
    "GroupInputs",
    "JobOutcome",
    "Task",
    "deal_tape_path",
    "execute_group",
    "failure_rows",
    "job_scenario",
    "load_group",
    "price_jobs",
]
