"""``absstruct batch JOBS``: run many jobs on local processes or an existing Dask cluster."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from absstruct.batch.runner import DEFAULT_CHUNK, failed_count, run_jobs
from absstruct.cli._common import info
from absstruct.errors import AbsStructError


@click.command(
    "batch",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("jobs_file", metavar="JOBS", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Local worker processes (default: one per CPU). Ignored with --scheduler.",
)
@click.option(
    "--scheduler",
    metavar="tcp://HOST:PORT",
    default=None,
    help="Run on this existing dask.distributed scheduler instead of local processes.",
)
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for jobs/<hash>.parquet per job and summary.parquet / summary.xlsx "
    "(default: print the summary as CSV on stdout).",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Skip jobs whose inputs (content hash) already have a result in the -o folder.",
)
@click.option(
    "--chunk",
    type=click.IntRange(min=1),
    default=DEFAULT_CHUNK,
    show_default=True,
    help="Most scenarios evaluated in one engine pass (bounds memory per task).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress line on stderr.")
def command(
    jobs_file: Path,
    workers: int | None,
    scheduler: str | None,
    out_dir: Path | None,
    resume: bool,
    chunk: int,
    quiet: bool,
) -> None:
    """Run every job of a JOBS file (.toml or .csv) and summarise them.

    Jobs sharing a deal and tape read and aggregate the tape once and run as one
    scenario-array pass.  Each finished job is written at once to DIR/jobs/<hash>.parquet;
    the summary (one row per job x tranche with the metrics `absstruct run --price` reports:
    clean price, accrued, yield, spread, WAL, modified duration, principal loss as a
    fraction of face, interest shortfall, final payment date, residual IRR and multiple,
    status, error) goes to DIR/summary.parquet and DIR/summary.xlsx.  A failing job is
    recorded with its message and the rest continue; the exit code is 1 when any job
    failed.  Re-run with --resume after an interruption: jobs whose inputs (deal, tape,
    mapping template, index-rate CSVs, curve, scenario, quotes) are unchanged are skipped.
    """
    if resume and out_dir is None:
        raise click.UsageError("--resume needs -o DIR (the folder holding earlier results)")
    progress = None if quiet else sys.stderr
    client = _connect(scheduler) if scheduler else None
    try:
        summary = run_jobs(
            jobs_file,
            client,
            workers=workers,
            out_dir=out_dir,
            resume=resume,
            chunk_size=chunk,
            progress=progress,
        )
    except KeyboardInterrupt:
        info("batch: interrupted; finished jobs are kept, run again with --resume")
        sys.exit(130)
    finally:
        if client is not None:
            client.close()
    failed = failed_count(summary)
    jobs = summary["origin"].nunique()
    if out_dir is None:
        click.echo(summary.to_csv(index=False), nl=False)
    else:
        info(f"batch: summary of {jobs} job(s) written to {out_dir / 'summary.parquet'} and .xlsx")
    if failed:
        info(f"batch: {failed} of {jobs} job(s) failed; see the error column")
        sys.exit(1)


def _connect(address: str) -> Any:
    """A ``distributed.Client`` to an existing scheduler, with a readable error when unreachable."""
    from distributed import Client

    try:
        return Client(address, timeout="10s")
    except (OSError, TimeoutError) as error:
        raise AbsStructError(f"--scheduler {address}: cannot connect ({error})") from None
    except ValueError as error:
        raise AbsStructError(
            f"--scheduler {address}: not a scheduler address like tcp://127.0.0.1:8786 ({error})"
        ) from None
