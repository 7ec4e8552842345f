"""Term and zero rate curves: read from CSV or TOML, validated, interpolated.

A :class:`RateCurve` is a list of (tenor in years, rate) points with a stated compounding.
Rates are interpolated linearly between tenors and held flat beyond the ends.  A *zero* curve
discounts: ``DF(t) = (1 + z(t)/f)^(-f t)``; a *term* (par-yield) curve is read only for its
rate at a tenor (I-spread at the WAL).

Files
-----
CSV, two columns ``tenor,rate``::

    tenor,rate
    3M,4.10%
    1Y,3.95%
    5Y,0.0375

TOML, the same points plus the curve's conventions::

    kind = "zero"              # or "term"
    compounding = "semiannual"
    tenors = ["3M", "1Y", "5Y"]
    rates = ["4.10%", "3.95%", 0.0375]

Tenors are years (``0.25``) or ``30D``, ``2W``, ``6M``, ``5Y``; rates are decimals
(``0.0395``), percents (``"3.95%"``) or basis points (``"395bp"``).  Tenors must be strictly
increasing: an unsorted or duplicated tenor is an error, as is a decimal rate above 1 (a
percent written without ``%``).

Examples
--------
>>> curve = RateCurve(tenors=(1.0, 3.0), rates=(0.04, 0.05), compounding="annual")
>>> curve.rate(2.0), curve.rate(10.0)
(0.045, 0.05)
>>> round(float(curve.discount(2.0)), 10) == round(1.045 ** -2, 10)
True
"""

from __future__ import annotations

import csv
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Final, Literal

import numpy as np

from absstruct.compounding import compounding_name, discount_factor
from absstruct.errors import PricingError, Problem

CurveKind = Literal["zero", "term"]
CURVE_KINDS: Final[tuple[str, ...]] = ("zero", "term")

_TENOR = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([DWMY])\s*$", re.IGNORECASE)
_TENOR_UNIT_YEARS: Final[dict[str, float]] = {"D": 1 / 365, "W": 7 / 365, "M": 1 / 12, "Y": 1.0}


@dataclass(frozen=True, kw_only=True)
class RateCurve:
    """A validated rate curve: strictly increasing tenors (years) and decimal rates.

    Examples
    --------
    >>> RateCurve(tenors=(2.0, 1.0), rates=(0.04, 0.05))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    absstruct.errors.PricingError: curve: 1 problem
      tenors[1]: 1.0 is not above the tenor before it (2.0); tenors must be sorted ...
    """

    tenors: tuple[float, ...]
    rates: tuple[float, ...]
    compounding: str = "semiannual"
    kind: CurveKind = "zero"
    name: str = "curve"

    def __post_init__(self) -> None:
        object.__setattr__(self, "tenors", tuple(float(t) for t in self.tenors))
        object.__setattr__(self, "rates", tuple(float(r) for r in self.rates))
        problems: list[Problem] = []
        try:
            object.__setattr__(
                self, "compounding", compounding_name(self.compounding, where="compounding")
            )
        except PricingError as error:
            problems.extend(error.problems)
        if self.kind not in CURVE_KINDS:
            problems.append(
                Problem(where="kind", value=self.kind, message="is not 'zero' or 'term'")
            )
        problems += _point_problems(self.tenors, self.rates, where=lambda i, col: f"{col}s[{i}]")
        if problems:
            raise PricingError.from_problems(problems, source=self.name)

    def rate(self, years: Any) -> Any:
        """The rate at ``years`` (linear between tenors, flat beyond the ends)."""
        out = np.interp(np.asarray(years, float), self.tenors, self.rates)
        return float(out) if np.ndim(out) == 0 else out

    def discount(self, years: Any, spread: Any = 0.0) -> np.ndarray:
        """Discount factors at ``years`` on the zero rates plus ``spread`` (curve compounding)."""
        years = np.asarray(years, float)
        return discount_factor(np.asarray(self.rate(years)) + spread, years, self.compounding)

    def shifted(self, shift: float) -> RateCurve:
        """The curve with every rate moved by ``shift`` (parallel bump)."""
        return replace(self, rates=tuple(r + shift for r in self.rates))


def _point_problems(
    tenors: Sequence[float], rates: Sequence[float], *, where: Any
) -> list[Problem]:
    problems: list[Problem] = []
    if len(tenors) != len(rates):
        return [Problem(where="curve", message=f"has {len(tenors)} tenors and {len(rates)} rates")]
    if not tenors:
        return [Problem(where="curve", message="has no points; give at least one tenor and rate")]
    seen: dict[float, int] = {}
    for i, (tenor, rate) in enumerate(zip(tenors, rates, strict=True)):
        if not np.isfinite(tenor) or tenor < 0:
            problems.append(
                Problem(where=where(i, "tenor"), value=tenor, message="must be 0 or more years")
            )
        elif tenor in seen:
            problems.append(
                Problem(
                    where=where(i, "tenor"),
                    value=tenor,
                    rule="duplicate",
                    message=f"duplicates the tenor at {where(seen[tenor], 'tenor')}",
                )
            )
        elif i > 0 and np.isfinite(tenors[i - 1]) and tenor < tenors[i - 1]:
            problems.append(
                Problem(
                    where=where(i, "tenor"),
                    value=tenor,
                    rule="unsorted",
                    message=f"is not above the tenor before it ({tenors[i - 1]}); "
                    "tenors must be sorted shortest first",
                )
            )
        seen.setdefault(tenor, i)
        if not np.isfinite(rate):
            problems.append(Problem(where=where(i, "rate"), value=rate, message="is not finite"))
        elif abs(rate) > 1:
            problems.append(
                Problem(
                    where=where(i, "rate"),
                    value=rate,
                    message="is above 100% as a decimal; write 4.1% or 0.041",
                )
            )
    return problems


def parse_tenor(text: Any) -> float:
    """Tenor in years from ``0.25``, ``"3M"``, ``"2W"``, ``"30D"``, ``"5Y"``.

    Examples
    --------
    >>> parse_tenor("18M"), parse_tenor(2)
    (1.5, 2.0)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    match = _TENOR.match(str(text))
    if match:
        return float(match.group(1)) * _TENOR_UNIT_YEARS[match.group(2).upper()]
    try:
        return float(str(text))
    except ValueError:
        raise ValueError(f"is not a tenor like 0.25, 3M or 5Y: {text!r}") from None


def parse_rate(text: Any) -> float:
    """A decimal rate from ``0.041``, ``"4.1%"`` or ``"410bp"``.

    Examples
    --------
    >>> parse_rate("4.1%"), parse_rate("410bp"), parse_rate(0.041)
    (0.041, 0.041, 0.041)
    """
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        return float(text)
    raw = str(text).strip().lower()
    try:
        if raw.endswith("%"):
            return round(float(raw[:-1]) / 100, 15)
        if raw.endswith("bp"):
            return round(float(raw[:-2]) / 10_000, 15)
        return float(raw)
    except ValueError:
        raise ValueError(f"is not a rate like 0.041, 4.1% or 410bp: {text!r}") from None


def read_curve(
    path: str | Path,
    *,
    compounding: str | None = None,
    kind: CurveKind | None = None,
) -> RateCurve:
    """Read a curve from ``.csv`` (columns tenor, rate) or ``.toml``; validate every point.

    ``compounding`` and ``kind`` given here override the file's; otherwise a TOML file's own
    values apply, and a CSV curve is a semiannual zero curve unless told otherwise.
    Every problem (file, row, column, value) is collected and raised once as a PricingError.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        raw_tenors, raw_rates, where, settings = _read_csv(path)
    elif suffix == ".toml":
        raw_tenors, raw_rates, where, settings = _read_toml(path)
    else:
        raise PricingError(f"{path.name}: a curve file must be .csv or .toml, not {suffix!r}")
    problems: list[Problem] = []
    tenors: list[float] = []
    rates: list[float] = []
    for i, (tenor_text, rate_text) in enumerate(zip(raw_tenors, raw_rates, strict=True)):
        for column, text, parse, sink in (
            ("tenor", tenor_text, parse_tenor, tenors),
            ("rate", rate_text, parse_rate, rates),
        ):
            try:
                sink.append(parse(text))
            except ValueError as error:
                problems.append(Problem(where=where(i, column), message=str(error)))
                sink.append(float("nan"))
    problems += [
        p for p in _point_problems(tenors, rates, where=where) if "nan" not in str(p.value)
    ]
    if problems:
        raise PricingError.from_problems(problems, source=path.name)
    return RateCurve(
        tenors=tuple(tenors),
        rates=tuple(rates),
        compounding=compounding or settings.get("compounding", "semiannual"),
        kind=kind or settings.get("kind", "zero"),
        name=path.name,
    )


def _read_csv(path: Path) -> tuple[list[Any], list[Any], Any, dict[str, Any]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.reader(handle))
    if not rows:
        raise PricingError(f"{path.name}: empty curve file; need a header tenor,rate")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in ("tenor", "rate") if c not in header]
    if missing:
        raise PricingError(
            f"{path.name}: header {rows[0]} lacks column(s) {', '.join(missing)}; need tenor,rate"
        )
    t_col, r_col = header.index("tenor"), header.index("rate")
    body = [row for row in rows[1:] if any(cell.strip() for cell in row)]
    tenors = [row[t_col] if t_col < len(row) else "" for row in body]
    rates = [row[r_col] if r_col < len(row) else "" for row in body]

    def where(i: int, column: str) -> str:
        return f"row {i + 2}, column {column}"

    return tenors, rates, where, {}


def _read_toml(path: Path) -> tuple[list[Any], list[Any], Any, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise PricingError(f"{path.name}: not valid TOML: {error}") from None
    section = data.get("curve", data)
    tenors, rates = section.get("tenors"), section.get("rates")
    if not isinstance(tenors, list) or not isinstance(rates, list):
        raise PricingError(
            f"{path.name}: need two lists, tenors = [...] and rates = [...] "
            "(at the top or under [curve])"
        )
    if len(tenors) != len(rates):
        raise PricingError(f"{path.name}: {len(tenors)} tenors but {len(rates)} rates")
    settings = {k: section[k] for k in ("compounding", "kind") if k in section}

    def where(i: int, column: str) -> str:
        return f"{column}s[{i}]"

    return tenors, rates, where, settings


__all__ = ["CURVE_KINDS", "RateCurve", "parse_rate", "parse_tenor", "read_curve"]
