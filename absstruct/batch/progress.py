"""A progress line on stderr: done / failed / remaining and the time left.

On a terminal the line redraws in place; otherwise (a log file, CI) a plain line is
printed at most every ``interval`` seconds and once at the end.

Examples
--------
>>> import io
>>> stream = io.StringIO()
>>> bar = Progress(total=4, stream=stream, interval=0.0, clock=iter([0.0, 1.0, 2.0]).__next__)
>>> bar.advance(done=1)
>>> bar.advance(failed=1)
>>> print(stream.getvalue().strip())
batch: 1/4 done, 0 failed, 3 remaining, ETA 0:00:03
batch: 1/4 done, 1 failed, 2 remaining, ETA 0:00:02
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 24


class Progress:
    """Counts finished jobs and reports them on ``stream``.

    Parameters
    ----------
    total : int
        Jobs to run in this batch (jobs skipped on resume are not counted).
    stream : text stream, optional
        Where to report; ``None`` reports nothing.
    interval : float
        Least seconds between two plain-text lines (a terminal redraws on every update).
    clock : callable
        Seconds as a float; injectable for tests.
    """

    def __init__(
        self,
        *,
        total: int,
        stream: TextIO | None = sys.stderr,
        interval: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        skipped: int = 0,
    ) -> None:
        self.total = total
        self.done = 0
        self.failed = 0
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self.started = clock()
        self.last_line = -float("inf")
        self.tty = bool(stream is not None and getattr(stream, "isatty", lambda: False)())
        if stream is not None and skipped:
            stream.write(f"batch: {skipped} job(s) already have results; skipping them\n")

    @property
    def remaining(self) -> int:
        return self.total - self.done - self.failed

    def advance(self, *, done: int = 0, failed: int = 0) -> None:
        """Count ``done`` more successful and ``failed`` more failed jobs, then report."""
        self.done += done
        self.failed += failed
        if self.stream is None:
            return
        now = self.clock()
        if self.tty or self.remaining == 0 or now - self.last_line >= self.interval:
            self.last_line = now
            self._write(now)

    def line(self, now: float) -> str:
        """The report text at time ``now`` (ETA from the rate so far)."""
        finished = self.done + self.failed
        elapsed = max(now - self.started, 0.0)
        if self.remaining == 0:
            tail = f"in {_clock_text(elapsed)}"
        elif finished:
            tail = f"ETA {_clock_text(elapsed / finished * self.remaining)}"
        else:
            tail = "ETA unknown"
        counts = (
            f"{self.done}/{self.total} done, {self.failed} failed, "
            f"{self.remaining} remaining, {tail}"
        )
        if not self.tty:
            return f"batch: {counts}"
        filled = BAR_WIDTH * finished // max(self.total, 1)
        return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {counts}"

    def _write(self, now: float) -> None:
        if self.stream is None:
            return
        if self.tty:
            end = "\n" if self.remaining == 0 else ""
            self.stream.write("\r\x1b[2K" + self.line(now) + end)
        else:
            self.stream.write(self.line(now) + "\n")
        self.stream.flush()


def _clock_text(seconds: float) -> str:
    """``3725.2`` -> ``'1:02:05'``."""
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
