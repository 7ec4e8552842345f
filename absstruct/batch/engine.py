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


def execute_group(task: Task) -> list[JobOutcome]:
    """Evaluate one group of jobs: read once, one engine pass over every scenario, price."""
    raise NotImplementedError


__all__ = [
    "SUMMARY_COLUMNS",
    "JobOutcome",
    "Task",
    "dt",
    "execute_group",
    "failure_rows",
    "np",
]
