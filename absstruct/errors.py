"""The exception hierarchy and the problem records that validation collects.

Every error names where (file, row, column, or a deal-file field path such as
``tranches[2].coupon``), what was found, and what is allowed.  Validators collect
all problems first and raise once, so a user fixes a file in one pass.

Examples
--------
>>> p = Problem(where="tranches[2].coupon", value=-0.01, rule="minimum", message="is below 0")
>>> str(p)
'tranches[2].coupon: -0.01 is below 0'
>>> err = DealError.from_problems([p], source="deal.toml")
>>> print(err)
deal.toml: 1 problem
  tranches[2].coupon: -0.01 is below 0
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

# How many problems an exception message lists before summarising the rest.
MAX_LISTED = 25


@dataclass(frozen=True, kw_only=True)
class Problem:
    """One thing wrong with an input.

    Parameters
    ----------
    where : str
        Location as the user sees it: ``"row 17, column rate"`` or ``"tranches[2].coupon"``.
    value : Any
        The offending value (``None`` when a value is missing).
    rule : str
        Short machine-readable rule name, used to group problems in summaries.
    message : str
        What is wrong and what is allowed, without the location.
    severity : {"error", "warning"}
    """

    where: str
    value: Any = None
    rule: str = "invalid"
    message: str = ""
    severity: Severity = "error"
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        shown = (
            ""
            if self.value is None
            else f"{self.value!r} "
            if isinstance(self.value, str)
            else f"{self.value} "
        )
        return f"{self.where}: {shown}{self.message}".rstrip()


class AbsStructError(Exception):
    """Base of every error absstruct raises on purpose (bad input, impossible request)."""

    def __init__(self, message: str, *, problems: Sequence[Problem] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.problems: tuple[Problem, ...] = tuple(problems)

    def __str__(self) -> str:
        return self.message

    @classmethod
    def from_problems(
        cls, problems: Iterable[Problem], *, source: str | None = None, what: str = "problem"
    ) -> AbsStructError:
        """Build one error listing every problem (the first ``MAX_LISTED`` of them)."""
        items = list(problems)
        head = f"{source}: " if source else ""
        noun = what if len(items) == 1 else what + "s"
        lines = [f"{head}{len(items)} {noun}"]
        lines += [f"  {p}" for p in items[:MAX_LISTED]]
        if len(items) > MAX_LISTED:
            lines.append(f"  ... and {len(items) - MAX_LISTED} more")
        return cls("\n".join(lines), problems=items)


class TapeError(AbsStructError):
    """A loan tape (or its mapping template) cannot be read or is invalid."""


class DealError(AbsStructError):
    """A deal file, pool rule set or structure definition is invalid."""


class AssumptionError(AbsStructError):
    """A prepayment, default, severity or other assumption input is invalid."""


class WaterfallError(AbsStructError):
    """The waterfall broke an invariant (cash not conserved, a negative balance)."""


class PricingError(AbsStructError):
    """A pricing request has no answer (no yield solves the price, unknown tranche...)."""


__all__ = [
    "AbsStructError",
    "AssumptionError",
    "DealError",
    "PricingError",
    "Problem",
    "TapeError",
    "WaterfallError",
]
