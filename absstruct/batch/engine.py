"""The batch task function: one (deal, tape) group of jobs as one scenario-array engine pass.

``execute_group`` is what runs on a worker, local process or Dask alike.  It reads the
deal and the tape and aggregates the tape into cohorts once (kept per worker process, so
later chunks of the same group start from the aggregated book), builds one scenario per
job, runs the waterfall over all of them in a single pass, and prices each job's tranches
with the product's tranche metrics.  Errors stay with the job that caused them: a broken deal
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

from absstruct.analytics.metrics import LOSS_TOLERANCE
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
    "accrued",
    "residual_irr",
    "residual_multiple",
)
FLOAT_COLUMNS = (
    "price",
    "yield",
    "spread",
    "wal",
    "modified_duration",
    "principal_loss_pct",
    "interest_shortfall",
    "accrued",
    "residual_irr",
    "residual_multiple",
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


@dataclass(frozen=True, kw_only=True)
class DealInputs:
    """The files a deal file reads besides itself, found for hashing (``--resume``).

    ``tape`` is the deal's own tape; ``files`` are (role, path) pairs: ``template`` for the
    tape mapping template (a file the deal names, or the shipped template of that name) and
    ``indices.NAME`` for each index-rate CSV.
    """

    tape: Path | None = None
    files: tuple[tuple[str, Path], ...] = ()


def deal_inputs(deal: Path) -> DealInputs:
    """The tape, mapping template and index-rate CSVs a deal file reads.

    Read straight from the TOML rather than through full validation, so that even a deal
    that fails to load hashes what it names.  Paths resolve as the loaders resolve them:
    the tape and index CSVs relative to the deal file, the template as
    :func:`absstruct.tape.template.load_template` finds it.
    """
    try:
        document = tomllib.loads(deal.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return DealInputs()
    folder = deal.resolve().parent
    pool = document.get("pool")
    pool = pool if isinstance(pool, dict) else {}
    tape = _text(pool.get("tape"))
    files: list[tuple[str, Path]] = []
    template = template_file(_text(pool.get("template")) or "canonical")
    if template is not None:
        files.append(("template", template))
    indices = document.get("indices")
    for name, curve in (indices if isinstance(indices, dict) else {}).items():
        csv_name = _text(curve.get("csv")) if isinstance(curve, dict) else None
        if csv_name:
            files.append((f"indices.{name}", (folder / csv_name).resolve()))
    return DealInputs(tape=None if tape is None else (folder / tape).resolve(), files=tuple(files))


def deal_tape_path(deal: Path) -> Path | None:
    """The tape a deal file names (hashed for ``--resume``); ``None`` when it cannot be read."""
    return deal_inputs(deal).tape


def template_file(name: str) -> Path | None:
    """The file behind a tape template name or path (``None`` when there is none)."""
    from absstruct.resources import templates_dir

    path = Path(name)
    if name.endswith(".toml") or path.exists():
        return path.resolve()
    shipped = templates_dir() / "tapes" / f"{name}.toml"
    return shipped if shipped.exists() else None


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True, kw_only=True)
class GroupInputs:
    """What a group shares, made once per worker: the validated deal, its eligible tape and
    that tape aggregated into cohorts over the deal's horizon (every chunk projects from it).
    """

    deal: Any
    tape: pd.DataFrame
    book: Any


def load_group(deal_path: Path, tape_path: Path | None) -> GroupInputs:
    """Read the deal, then its pool (the job's tape or the deal's own) as ``absstruct run``
    does: :func:`absstruct.waterfall.deal_pool` reads it through the deal's template and
    cuts it to the eligible loans; then aggregate it once (``collateral_book``)."""
    from absstruct.deal import load_deal
    from absstruct.waterfall import deal_pool
    from absstruct.waterfall.run import collateral_book

    deal = load_deal(deal_path)
    tape = deal_pool(deal, None if tape_path is None else str(tape_path)).eligible
    return GroupInputs(deal=deal, tape=tape, book=collateral_book(deal, tape))


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
        result = run(inputs.deal, inputs.book, {k: scenarios[k][0] for k in keys}, call=call)
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

    The numbers are :func:`absstruct.analytics.metrics.tranche_metrics`, the product's one
    pricing function (``absstruct run --price`` prints the same): jobs sharing a settlement
    date and curve are priced together, each scenario at its own job's quotes.
    """
    from absstruct.analytics.metrics import tranche_metrics

    outcomes: dict[str, JobOutcome] = {}
    groups: dict[tuple[dt.date | None, Path | None], list[tuple[str, Job, int]]] = {}
    for key, job, row in items:
        problem = _pricing_problem(job, deal, result)
        if problem:
            outcomes[key] = JobOutcome.failure(key, job, problem)
        else:
            groups.setdefault((job.settlement, job.curve), []).append((key, job, row))
    for (settlement, curve_path), members in groups.items():
        rows = [row for _, _, row in members]
        chosen = result if rows == list(range(result.n_scenarios)) else select(result, rows)
        curve = None if curve_path is None else _read_curve(curve_path)
        table = tranche_metrics(
            chosen,
            deal,
            settlement=settlement,
            quotes=[job_quotes(job, curve) for _, job, _ in members],
        )
        columns = {name: table[name].tolist() for name in METRICS_USED}
        records = [
            _summary_record(dict(zip(columns, row, strict=True)))
            for row in zip(*columns.values(), strict=True)
        ]
        width = len(chosen.tranches)
        for i, (key, job, row) in enumerate(members):
            flows = None
            if job.output == "cashflows":
                flows = pd.concat(
                    [_cashflow_frame(key, name, result, row) for name in result.tranches],
                    ignore_index=True,
                )
            outcomes[key] = JobOutcome(
                key=key,
                ok=True,
                rows=job_records(key, job, records[i * width : (i + 1) * width]),
                cashflows=flows,
            )
    return [outcomes[key] for key, _, _ in items]


def job_quotes(job: Job, curve: Any = None) -> Any:
    """A job's pricing inputs as the :class:`~absstruct.analytics.metrics.Quotes` they are.

    Examples
    --------
    >>> from absstruct.batch.jobs import PriceInput
    >>> job = Job(deal=Path("d.toml"), pricing=(PriceInput(tranche="A", measure="yield",
    ...     value=0.031),))
    >>> job_quotes(job).yields
    {'A': 0.031}
    """
    from absstruct.analytics.metrics import Quotes

    by_measure: dict[str, dict[str, float]] = {"price": {}, "yield": {}, "spread": {}}
    for given in job.pricing:
        by_measure[given.measure][given.tranche] = given.value
    return Quotes(
        prices=by_measure["price"],
        yields=by_measure["yield"],
        spreads=by_measure["spread"],
        curve=curve,
    )


def select(result: Any, rows: Sequence[int]) -> Any:
    """The ``result`` of only the scenarios in ``rows`` (every ledger cut to those rows)."""
    index = np.asarray(rows, dtype=int)

    def cut(ledgers: dict[str, Any]) -> dict[str, Any]:
        return {
            name: replace(ledger, arrays={f: v[index] for f, v in ledger.arrays.items()})
            for name, ledger in ledgers.items()
        }

    pool = replace(
        result.pool,
        arrays={f: v[index] for f, v in result.pool.arrays.items()},
        scenario_names=tuple(result.scenario_names[i] for i in rows),
    )
    return replace(
        result,
        scenario_names=pool.scenario_names,
        pool=pool,
        tranches=cut(result.tranches),
        accounts=cut(result.accounts),
        fees=cut(result.fees),
        taxes=cut(result.taxes),
        triggers=cut(result.triggers),
        support=cut(result.support),
        deal=cut({"deal": result.deal})["deal"],
    )


PAID_OFF = "face: the tranche is paid off by settlement; nothing to price"
# The tranche_metrics columns a summary record is made of.
METRICS_USED = (
    "tranche",
    "kind",
    "face",
    "price",
    "accrued",
    "yield",
    "z_spread",
    "i_spread",
    "wal",
    "modified_duration",
    "principal_loss_pct",
    "interest_shortfall",
    "expected_final_date",
    "convention",
    "residual_irr",
    "residual_multiple",
)


def _summary_record(metrics: Record) -> Record:
    """One ``tranche_metrics`` row as a summary record."""
    spread = metrics["z_spread"]
    if spread != spread:  # NaN: no zero curve; the I-spread on a term curve, if any
        spread = metrics["i_spread"]
    final = metrics["expected_final_date"]
    paid_off = metrics["kind"] == "note" and not metrics["face"] > LOSS_TOLERANCE
    return {
        "status": "ok",
        "error": PAID_OFF if paid_off else "",
        "tranche": metrics["tranche"],
        "price": metrics["price"],
        "accrued": metrics["accrued"],
        "yield": metrics["yield"],
        "spread": spread,
        "wal": metrics["wal"],
        "modified_duration": metrics["modified_duration"],
        "principal_loss_pct": metrics["principal_loss_pct"],
        "interest_shortfall": metrics["interest_shortfall"],
        "final_payment_date": None if final is None else pd.Timestamp(final),
        "yield_convention": metrics["convention"],
        "residual_irr": metrics["residual_irr"],
        "residual_multiple": metrics["residual_multiple"],
    }


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


def _cashflow_frame(key: str, tranche: str, result: Any, row: int) -> pd.DataFrame:
    ledger = result.tranches[tranche]
    dates = np.array(result.payment_dates, dtype="datetime64[D]")
    return pd.DataFrame(
        {
            "job_id": key,
            "tranche": tranche,
            "period": np.arange(1, len(dates) + 1),
            "date": dates.astype("datetime64[ns]"),
            **{f: np.asarray(ledger[f], dtype=float)[row] for f in LEDGER_FIELDS},
        }
    )


def _read_curve(path: Path) -> Any:
    from absstruct.ratecurve import read_curve

    return cached(path, None, lambda: read_curve(path))


__all__ = [
    "SUMMARY_COLUMNS",
    "DealInputs",
    "GroupInputs",
    "JobOutcome",
    "Task",
    "deal_inputs",
    "deal_tape_path",
    "execute_group",
    "failure_rows",
    "job_quotes",
    "job_scenario",
    "load_group",
    "price_jobs",
    "select",
]
