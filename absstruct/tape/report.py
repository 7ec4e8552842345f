"""The result of reading a tape: the canonical frame, every problem found, and a summary.

Problems are found with numpy masks over whole columns.  The count of every rule is exact;
:class:`Problem` objects are made only for the first :data:`SHOWN_PER_CHECK` hits of each
(rule, column) pair, so a million bad rows cost a count, not a million objects.

Examples
--------
>>> import numpy as np, pandas as pd
>>> log = ProblemLog(rows=np.array([2, 3, 4]))
>>> log.mask(np.array([False, True, True]), column="rate", rule="rate_looks_like_percent",
...          message="looks like a percent", values=np.array([0.1, 12.5, 9.0]))
>>> [str(p) for p in log.problems]
['row 3, column rate: 12.5 looks like a percent', 'row 4, column rate: 9.0 looks like a percent']
>>> log.counts
{'rate_looks_like_percent': ('error', 2)}
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from absstruct.errors import Problem, Severity

# Problems listed per (rule, column); the counts stay exact.
SHOWN_PER_CHECK = 50


class ProblemLog:
    """Collects problems from boolean masks (internal builder, not part of the API)."""

    def __init__(self, *, rows: np.ndarray) -> None:
        self.rows = rows
        self.problems: list[Problem] = []
        self.counts: dict[str, tuple[Severity, int]] = {}

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)
        self._count(problem.rule, problem.severity, 1)

    def _count(self, rule: str, severity: Severity, n: int) -> None:
        old = self.counts.get(rule)
        if old is None:
            self.counts[rule] = (severity, n)
        else:
            worst: Severity = "error" if "error" in (old[0], severity) else "warning"
            self.counts[rule] = (worst, old[1] + n)

    def mask(
        self,
        mask: np.ndarray,
        *,
        column: str,
        rule: str,
        message: str = "",
        values: Any = None,
        severity: Severity = "error",
        messages: Any = None,
    ) -> None:
        """Record a problem for every True in ``mask`` (materialising the first few)."""
        hits = np.flatnonzero(mask)
        if not len(hits):
            return
        self._count(rule, severity, len(hits))
        for index in hits[:SHOWN_PER_CHECK]:
            value = None if values is None else _plain(values[index])
            self.problems.append(
                Problem(
                    where=f"row {int(self.rows[index])}, column {column}",
                    value=value,
                    rule=rule,
                    message=message if messages is None else str(messages[index]),
                    severity=severity,
                )
            )


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else str(value)[:10]
    if isinstance(value, (pd.Timestamp, dt.datetime)):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    item = getattr(value, "item", None)
    return item() if callable(item) else value


@dataclass(frozen=True, kw_only=True)
class TapeReport:
    """A read tape: canonical ``frame``, ``problems`` (errors and warnings) and a summary.

    Attributes
    ----------
    frame : pandas.DataFrame
        Canonical columns in schema order, then extra source columns (snake_case).
    problems : tuple of Problem
        Listed problems (up to 50 per rule and column; ``counts`` are exact).
    counts : dict
        rule -> (severity, exact count).
    source, template, encoding, sheet : str
        What was read and how.
    cutoff : datetime.date or None
        The cut-off date used for derived fields.
    """

    frame: pd.DataFrame
    problems: tuple[Problem, ...]
    counts: dict[str, tuple[Severity, int]] = field(default_factory=dict)
    source: str = ""
    template: str = ""
    encoding: str = ""
    sheet: str = ""
    cutoff: dt.date | None = None

    @property
    def errors(self) -> tuple[Problem, ...]:
        """Listed error-level problems."""
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Listed warning-level problems."""
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def error_count(self) -> int:
        """Exact number of error-level problems (listed or not)."""
        return sum(n for severity, n in self.counts.values() if severity == "error")

    @property
    def warning_count(self) -> int:
        """Exact number of warnings (listed or not)."""
        return sum(n for severity, n in self.counts.values() if severity == "warning")

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return self.error_count == 0

    def summary(self) -> dict[str, Any]:
        """Loans, balance, WAC, WAM and problems by rule, as plain JSON-ready values.

        WAC and WAM weight each loan's rate and remaining term by its current balance,
        over the loans whose three values are known.
        """
        frame = self.frame
        balance = _column(frame, "current_balance")
        rate = _column(frame, "rate")
        remaining = _column(frame, "remaining_term")
        known = ~(np.isnan(balance) | np.isnan(rate) | np.isnan(remaining))
        weight = balance[known].sum()
        wac = float((rate[known] * balance[known]).sum() / weight) if weight > 0 else None
        wam = float((remaining[known] * balance[known]).sum() / weight) if weight > 0 else None
        return {
            "source": self.source,
            "template": self.template,
            "encoding": self.encoding or None,
            "sheet": self.sheet or None,
            "cutoff": self.cutoff.isoformat() if self.cutoff else None,
            "loans": len(frame),
            "balance": float(np.nansum(balance)),
            "original_balance": float(np.nansum(_column(frame, "original_balance"))),
            "wac": wac,
            "wam": wam,
            "errors": self.error_count,
            "warnings": self.warning_count,
            "problems_by_rule": {
                rule: {"severity": severity, "count": count}
                for rule, (severity, count) in sorted(self.counts.items())
            },
        }


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
