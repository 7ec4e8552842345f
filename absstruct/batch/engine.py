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


@dataclass(frozen=True, kw_only=True)
class JobOutcome:
    """One job's result: its tranche rows (``SUMMARY_COLUMNS``), cash flows when asked for."""

    key: str
    ok: bool
    rows: pd.DataFrame
    cashflows: pd.DataFrame | None = None

    @classmethod
    def failure(cls, key: str, job: Job, message: str) -> JobOutcome:
        return cls(key=key, ok=False, rows=failure_rows(key, job, message))

    def without_cashflows(self) -> JobOutcome:
        return self if self.cashflows is None else replace(self, cashflows=None)


def summary_frame(key: str, job: Job, records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Tranche records -> a frame with every summary column, in order, with fixed dtypes."""
    frame = pd.DataFrame(list(records), columns=list(SUMMARY_COLUMNS))
    frame["job_id"] = key
    frame["label"] = job.label
    frame["origin"] = job.origin
    frame["deal"] = str(job.deal)
    frame["tape"] = "" if job.tape is None else str(job.tape)
    frame["scenario"] = describe(job)
    for name in FLOAT_COLUMNS:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
    for name in TEXT_COLUMNS:
        frame[name] = frame[name].astype("string")
    frame["final_payment_date"] = pd.to_datetime(frame["final_payment_date"]).astype(
        "datetime64[ns]"
    )
    return frame


def failure_rows(key: str, job: Job, message: str) -> pd.DataFrame:
    """The single summary row of a failed job."""
    return summary_frame(key, job, [{"status": "failed", "error": message}])


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
    for keys, result, error in _run_isolating_failures(inputs, list(scenarios), scenarios):
        for row, key in enumerate(keys):
            if error is not None:
                outcomes[key] = JobOutcome.failure(key, jobs[key], describe_error(error))
                continue
            try:
                outcomes[key] = price_job(key, jobs[key], inputs.deal, result, row)
            except Exception as failure:
                outcomes[key] = JobOutcome.failure(key, jobs[key], describe_error(failure))
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


def price_job(key: str, job: Job, deal: Any, result: Any, row: int) -> JobOutcome:
    """Tranche rows (and cash flows when asked) for scenario ``row`` of ``result``."""
    settlement = job.settlement or deal.dates.closing
    inputs = {p.tranche: p for p in job.pricing}
    unknown = sorted(set(inputs) - set(result.tranches))
    if unknown:
        raise AbsStructError(
            f"pricing: {', '.join(unknown)} is not a tranche of {deal.name}; "
            f"tranches: {', '.join(result.tranches)}"
        )
    curve = _read_curve(job.curve) if job.curve is not None else None
    if curve is None and any(p.measure == "spread" for p in job.pricing):
        raise AbsStructError("spread: pricing at a spread needs a curve (the job's curve field)")
    dates = np.array(result.payment_dates, dtype="datetime64[D]")
    records = []
    flows_frames = []
    for tranche in deal.tranches:
        ledger = result.tranches[tranche.name]
        values = {f: np.asarray(ledger[f][row], dtype=float) for f in LEDGER_FIELDS}
        record = _tranche_record(tranche, values, dates, result.original_balances[tranche.name])
        record.update(_tranche_price(tranche, values, dates, settlement, inputs, curve, record))
        records.append(record)
        if job.output == "cashflows":
            flows_frames.append(
                pd.DataFrame(
                    {
                        "job_id": key,
                        "tranche": tranche.name,
                        "period": np.arange(1, len(dates) + 1),
                        "date": dates.astype("datetime64[ns]"),
                        **values,
                    }
                )
            )
    cashflows = pd.concat(flows_frames, ignore_index=True) if flows_frames else None
    return JobOutcome(key=key, ok=True, rows=summary_frame(key, job, records), cashflows=cashflows)


def _tranche_record(
    tranche: Any, values: dict[str, np.ndarray], dates: np.ndarray, original: float
) -> dict[str, Any]:
    paid = values["interest_paid"] + values["principal_paid"] + values["residual_paid"]
    last = np.flatnonzero(paid > 0)
    return {
        "status": "ok",
        "error": "",
        "tranche": tranche.name,
        "principal_loss_pct": 100.0 * values["writedown"].sum() / original if original > 0 else 0.0,
        "interest_shortfall": float(values["interest_shortfall"][-1]) if len(dates) else 0.0,
        "final_payment_date": dates[last[-1]] if last.size else None,
    }


def _tranche_price(
    tranche: Any,
    values: dict[str, np.ndarray],
    dates: np.ndarray,
    settlement: dt.date,
    inputs: dict[str, Any],
    curve: Any,
    record: dict[str, Any],
) -> dict[str, Any]:
    """Price, yield, spread, WAL and modified duration; a tranche with nothing to price
    (a residual, or a note with no flow after settlement) gets blanks and a note."""
    from absstruct.errors import PricingError
    from absstruct.pricing import CashFlows, Convention, price_from_yield, yield_from_price
    from absstruct.spreads import price_from_z_spread, z_spread

    if tranche.kind == "residual":
        return {}
    convention = Convention(compounding=YIELD_COMPOUNDING, day_count=tranche.day_count)
    flows = CashFlows(
        dates=dates, interest=values["interest_paid"], principal=values["principal_paid"]
    )
    before = int(np.sum(dates <= np.datetime64(settlement, "D")))
    face = float(values["balance"][before - 1]) if before else None
    given = inputs.get(tranche.name)
    try:
        if face is not None and face <= 0:
            raise PricingError(f"face: the tranche is paid off by settlement {settlement}")
        spread = float("nan")
        if given is not None and given.measure == "yield":
            priced = price_from_yield(
                flows, settlement=settlement, yield_=given.value, convention=convention, face=face
            )
        else:
            if given is not None and given.measure == "spread":
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
    "price_job",
]
