"""Batch runs: many (deal, tape, scenario) jobs on local processes or a Dask cluster.

``run_jobs(jobs, client=None, *, workers=None, out_dir=None, resume=False)`` returns the
summary DataFrame (one row per job x tranche); ``load_jobs(path)`` reads a TOML or CSV
jobs file.  The command line is ``absstruct batch JOBS``.
"""

from absstruct.batch.jobs import Job, JobsFileError, PriceInput, load_jobs
from absstruct.batch.runner import run_jobs

__all__ = ["Job", "JobsFileError", "PriceInput", "load_jobs", "run_jobs"]
