"""Run many jobs: plan (hash, skip, group), execute on processes or a Dask cluster, write results.

The same task function, :func:`absstruct.batch.engine.execute_group`, runs everywhere: on
a local ``ProcessPoolExecutor`` by default, or on a ``distributed.Client`` when one is
given.  Each task is one (deal, tape) group, or a chunk of one, evaluated as a single
scenario-array engine pass.  Results come back to this process, which writes each job's
file as soon as it arrives (atomically) and the combined summary at the end, so workers
need no shared output folder.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

import pandas as pd

from absstruct.batch.engine import (
    DealInputs,
    JobOutcome,
    Record,
    Task,
    deal_inputs,
    execute_group,
    failure_rows,
    records_frame,
    records_table,
    summary_schema,
)
from absstruct.batch.jobs import Job, file_sha256, job_hash, load_jobs
from absstruct.batch.progress import Progress
from absstruct.errors import AbsStructError
from absstruct.memory import keep_freed_memory
from absstruct.report.atomic import atomic_path
from absstruct.report.frames import write_frame

# Scenarios per engine pass: large enough that a pass costs about what one scenario
# costs, small enough that the (S x periods) arrays of a long deal stay well under 1 GB.
DEFAULT_CHUNK = 500
JOBS_FOLDER = "jobs"

TaskFunction = Callable[[Task], list[JobOutcome]]


@dataclass(frozen=True, kw_only=True)
class Plan:
    """What a batch will do: every job's hash, which already have results, and the tasks."""

    jobs: tuple[Job, ...]
    keys: tuple[str, ...]
    finished: frozenset[str]
    tasks: tuple[Task, ...]

    @property
    def pending_count(self) -> int:
        return sum(len(task.jobs) for task in self.tasks)


def job_file(out_dir: Path, key: str) -> Path:
    """The result file of the job with content hash ``key``."""
    return out_dir / JOBS_FOLDER / f"{key}.parquet"


def cashflow_file(out_dir: Path, key: str) -> Path:
    """The tranche cash-flow file of a job whose output kind is ``cashflows``."""
    return out_dir / JOBS_FOLDER / f"{key}.cashflows.parquet"


def plan_jobs(
    jobs: Sequence[Job],
    *,
    out_dir: Path | None = None,
    resume: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    min_tasks: int = 1,
) -> Plan:
    """Hash every job, drop those already finished (``resume``), group and chunk the rest.

    Jobs sharing a (deal, tape) pair form one group; a group is cut into chunks of at most
    ``chunk_size`` scenarios, and further when there are fewer than ``min_tasks`` tasks so
    every worker has work.  Identical jobs (same hash) are computed once.
    """
    if chunk_size < 1:
        raise AbsStructError(f"chunk size: {chunk_size} is below 1")
    digests: dict[Path, str] = {}
    deal_reads: dict[Path, DealInputs] = {}

    def digest(path: Path) -> str:
        if path not in digests:
            digests[path] = file_sha256(path)
        return digests[path]

    keys: list[str] = []
    for job in jobs:
        if job.deal not in deal_reads:
            deal_reads[job.deal] = deal_inputs(job.deal)
        reads = deal_reads[job.deal]
        own_tape = reads.tape if job.tape is None else None
        keys.append(job_hash(job, digest, own_tape, reads.files))
    finished: set[str] = set()
    if resume and out_dir is not None:
        finished = {key for key in set(keys) if job_file(out_dir, key).exists()}
    groups: dict[tuple[Path, Path | None], dict[str, Job]] = defaultdict(dict)
    for key, job in zip(keys, jobs, strict=True):
        if key not in finished:
            groups[(job.deal, job.tape)].setdefault(key, job)
    pending = sum(len(members) for members in groups.values())
    # Cut big groups so that at least min_tasks tasks exist (each worker then reads the
    # tape once and keeps it for every later chunk of the same group).
    size = max(1, min(chunk_size, -(-pending // max(min_tasks, 1)))) if pending else chunk_size
    tasks: list[Task] = []
    for (deal, tape), members in groups.items():
        items = list(members.items())
        for start in range(0, len(items), size):
            tasks.append(Task(deal=deal, tape=tape, jobs=tuple(items[start : start + size])))
    return Plan(
        jobs=tuple(jobs), keys=tuple(keys), finished=frozenset(finished), tasks=tuple(tasks)
    )


def run_jobs(
    jobs: Sequence[Job] | str | os.PathLike[str],
    client: Any = None,
    *,
    workers: int | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    resume: bool = False,
    chunk_size: int = DEFAULT_CHUNK,
    progress: TextIO | None = None,
) -> pd.DataFrame:
    """Run batch jobs and return the summary: one row per job x tranche.

    Parameters
    ----------
    jobs : sequence of Job, or a jobs file path (.toml / .csv)
    client : distributed.Client, optional
        Run the tasks on this Dask cluster; local processes when ``None``.
    workers : int, optional
        Local worker processes (default: the number of CPUs); ignored with ``client``.
    out_dir : path, optional
        Write ``jobs/<hash>.parquet`` per finished job and ``summary.parquet`` /
        ``summary.xlsx``; nothing is written when ``None``.
    resume : bool
        Skip jobs whose content hash already has a result file in ``out_dir``.
    chunk_size : int
        Most scenarios evaluated in one engine pass.
    progress : text stream, optional
        Where the progress line goes (the CLI passes stderr); silent when ``None``.

    Returns
    -------
    pandas.DataFrame
        ``SUMMARY_COLUMNS``, jobs in input order, tranches in deal order; a failed job has
        one row with ``status == "failed"`` and its ``error`` message.
    """
    if not isinstance(jobs, Sequence) or isinstance(jobs, str):
        jobs = load_jobs(Path(jobs))
    # Every job needs a distinct origin: the summary and messages name jobs by it.
    jobs = [
        job if job.origin else replace(job, origin=f"jobs[{i}]", label=job.label or f"jobs[{i}]")
        for i, job in enumerate(jobs)
    ]
    if resume and out_dir is None:
        raise AbsStructError("resume needs an output folder (-o DIR) holding earlier results")
    folder = None if out_dir is None else Path(out_dir)
    if workers is not None and workers < 1:
        raise AbsStructError(f"workers: {workers} is below 1")
    n_workers = _worker_count(client, workers)
    if folder is not None and resume:
        _remove_partial_files(folder / JOBS_FOLDER)
    plan = plan_jobs(
        jobs, out_dir=folder, resume=resume, chunk_size=chunk_size, min_tasks=n_workers
    )
    bar = Progress(total=plan.pending_count, stream=progress, skipped=_skipped(plan))
    return run_plan(plan, client=client, workers=n_workers, out_dir=folder, progress=bar)


def run_plan(
    plan: Plan,
    *,
    client: Any,
    workers: int,
    out_dir: Path | None,
    progress: Progress,
    task_function: TaskFunction = execute_group,
) -> pd.DataFrame:
    """Execute a plan's tasks, write each job's file as it finishes, then the summary."""
    outcomes: dict[str, JobOutcome] = {}
    if client is not None:
        stream = _dask_outcomes(plan.tasks, client, task_function)
    else:
        stream = _local_outcomes(plan.tasks, workers, task_function)
    for task_outcomes in stream:
        for outcome in task_outcomes:
            if out_dir is not None and outcome.ok:
                _write_job(out_dir, outcome)
            # Keep only what the summary needs; the cash flows are already on disk.
            outcomes[outcome.key] = outcome.without_cashflows()
        progress.advance(
            done=sum(o.ok for o in task_outcomes), failed=sum(not o.ok for o in task_outcomes)
        )
    summary = _assemble(plan, outcomes, out_dir)
    if out_dir is not None:
        write_summary(summary, out_dir)
    return summary


# --------------------------------------------------------------------------- executors


def _worker_count(client: Any, workers: int | None) -> int:
    if client is not None:
        with contextlib.suppress(Exception):
            return max(1, sum(client.nthreads().values()))
        return 1
    return workers or os.cpu_count() or 1


def _local_outcomes(
    tasks: Sequence[Task], workers: int, task_function: TaskFunction = execute_group
) -> Iterator[list[JobOutcome]]:
    """Run tasks on local processes, yielding each task's outcomes as it finishes."""
    if not tasks:
        return
    # spawn, not fork: the caller may hold threads (a Dask client, a GUI) that fork would copy.
    context = multiprocessing.get_context("spawn")
    # The workers are processes of ours: they keep freed arrays for reuse (absstruct.memory).
    pool = ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=context, initializer=keep_freed_memory
    )
    try:
        futures: dict[Future[list[JobOutcome]], Task] = {
            pool.submit(task_function, task): task for task in tasks
        }
        for future in as_completed(futures):
            # A dead worker (BrokenProcessPool) or a task that could not be sent fails
            # only that task's jobs.
            yield _outcomes_or_failures(futures[future], future.result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _dask_outcomes(
    tasks: Sequence[Task], client: Any, task_function: TaskFunction = execute_group
) -> Iterator[list[JobOutcome]]:
    """Run tasks on a Dask cluster through ``client``, yielding outcomes as tasks finish."""
    if not tasks:
        return
    from distributed import as_completed as dask_as_completed

    futures = {
        client.submit(
            task_function, task, pure=False, key=f"absstruct-batch-{i}-{_task_id(task)}"
        ): task
        for i, task in enumerate(tasks)
    }
    try:
        for future in dask_as_completed(list(futures)):
            yield _outcomes_or_failures(futures[future], future.result)
    finally:
        client.cancel([f for f in futures if not f.done()])


def _outcomes_or_failures(task: Task, result: Callable[[], list[JobOutcome]]) -> list[JobOutcome]:
    """A task's outcomes, or all of its jobs failed when the task itself could not finish
    (its worker died, the cluster lost it)."""
    try:
        return result()
    except Exception as error:
        message = f"the worker running this job's group failed: {type(error).__name__}: {error}"
        return [JobOutcome.failure(key, job, message) for key, job in task.jobs]


def _task_id(task: Task) -> str:
    return task.jobs[0][0][:12] if task.jobs else "empty"


# --------------------------------------------------------------------------- outputs


def _write_job(folder: Path, outcome: JobOutcome) -> None:
    # The cash flows go first: the summary file is the "finished" mark that resume checks.
    if outcome.cashflows is not None:
        write_frame(outcome.cashflows, cashflow_file(folder, outcome.key))
    import pyarrow.parquet as pq

    with atomic_path(job_file(folder, outcome.key)) as tmp:
        pq.write_table(records_table(outcome.rows), tmp)


def _remove_partial_files(jobs_dir: Path) -> None:
    """Delete the temporary files (``.<hash>.*``) an interrupted batch's atomic writes left."""
    if not jobs_dir.is_dir():
        return
    for leftover in jobs_dir.glob(".*.parquet"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _skipped(plan: Plan) -> int:
    return sum(key in plan.finished for key in plan.keys)


def _assemble(plan: Plan, outcomes: Mapping[str, JobOutcome], folder: Path | None) -> pd.DataFrame:
    """One frame in job order: fresh outcomes from memory, earlier ones from their files."""
    import pyarrow.parquet as pq

    records: list[Record] = []
    for key, job in zip(plan.keys, plan.jobs, strict=True):
        outcome = outcomes.get(key)
        if outcome is not None:
            rows: Sequence[Record] = outcome.rows
        elif folder is not None and key in plan.finished:
            rows = pq.read_table(job_file(folder, key), schema=summary_schema()).to_pylist()
        else:  # only reachable when a task vanished without an answer
            rows = failure_rows(key, job, "no result came back for this job")
        # Identical jobs share one result; each keeps its own name in the summary.
        records.extend({**row, "label": job.label, "origin": job.origin} for row in rows)
    return records_frame(records)


def write_summary(summary: pd.DataFrame, out_dir: Path) -> None:
    """``summary.parquet`` and ``summary.xlsx`` (one named, filterable table), atomically."""
    from absstruct.report.xlsx import Sheet, Table, write_xlsx

    write_frame(summary, out_dir / "summary.parquet")
    # The report's streaming writer: a 100,000-row summary in seconds, not minutes.
    table = Table(name="summary", frame=summary)
    write_xlsx([Sheet(title="summary", blocks=(table,))], out_dir / "summary.xlsx")


def failed_count(summary: pd.DataFrame) -> int:
    """How many jobs in a summary failed."""
    failed = summary.loc[summary["status"] == "failed", "origin"]
    return int(failed.nunique())


__all__ = ["DEFAULT_CHUNK", "Plan", "failed_count", "job_file", "plan_jobs", "run_jobs"]
