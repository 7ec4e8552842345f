"""Scenario grids: the product of assumption lists, run in ONE engine pass.

``grid(deal, tape, prepay=[...], default=[...], severity=[...], lag=[...])`` builds one
scenario per combination on top of the deal's base case, projects them together (the
projection aggregates the tape into cohorts once and shares it across every scenario) and
runs the waterfall once over the scenario arrays; the result holds per tranche and scenario
the pricing metrics of :func:`absstruct.analytics.metrics.tranche_metrics`.

The command-line list grammar is the assumption grammar of :mod:`absstruct.curves` with
several levels: ``"ABS 0.5%,1%,1.5%"`` is the curve kind followed by comma-separated levels.
An item without its own kind takes the previous item's form with its level replaced, so
``"CDR 3% x 1.5, 4%"`` is ``CDR 3% x 1.5`` and ``CDR 4% x 1.5``, and ``"CUM 8% over 24, 10%"``
keeps the timing.  Commas inside ``[...]`` vectors do not split.

Examples
--------
>>> split_levels("ABS 0.5%,1%, 1.5%", what="prepay")
('ABS 0.5%', 'ABS 1%', 'ABS 1.5%')
>>> split_levels("CPR [5%, 8%], PSA 150", what="prepay")
('CPR [5%, 8%]', 'PSA 150')
>>> split_levels("CUM 8% over 24, 10%", what="default")
('CUM 8% over 24', 'CUM 10% over 24')
>>> split_levels("40%,50%", what="severity")
('40%', '50%')
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from absstruct.analytics.metrics import Quotes, tranche_metrics
from absstruct.errors import AssumptionError, Problem

if TYPE_CHECKING:
    from absstruct.curves import Assumptions
    from absstruct.deal.model import Deal
    from absstruct.pricing import Convention
    from absstruct.waterfall.result import Result

GRID_KEYS: tuple[str, ...] = ("prepay", "default", "severity", "lag")
# The measures a grid table shows by default (columns of the metrics table).
GRID_MEASURES: tuple[str, ...] = (
    "yield",
    "wal",
    "principal_loss_pct",
    "interest_shortfall",
    "max_interest_shortfall",
    "modified_duration",
)
MAX_SCENARIOS = 10_000
_LEVEL = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?%?", re.IGNORECASE)
_KIND_HEAD = re.compile(r"^\s*[A-Za-z]+\b")


def _split_top(text: str) -> list[str]:
    """Split on commas outside ``[...]``."""
    items: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        if char == "," and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item.strip() for item in items]


def split_levels(text: str, *, what: str) -> tuple[str, ...]:
    """One assumption string per level from ``"KIND L1,L2,..."`` (see the module docstring).

    Raises
    ------
    AssumptionError
        Naming the option and item for an empty item, or a level that does not parse.
    """
    from absstruct.curves import parse_default, parse_prepay, parse_severity

    parser = {"prepay": parse_prepay, "default": parse_default, "severity": parse_severity}[what]
    raw = _split_top(str(text))
    problems: list[Problem] = []
    out: list[str] = []
    template: str | None = None
    for number, item in enumerate(raw, start=1):
        where = f"--{what} item {number}"
        if not item:
            problems.append(Problem(where=where, value=text, message="is empty (a stray comma?)"))
            continue
        full = item
        bare = _LEVEL.fullmatch(item) is not None
        if bare and template is not None:
            # Same form as the previous item, with this level in place of its level.
            full = _LEVEL.sub(item, template, count=1)
        elif _KIND_HEAD.match(item) and not item.lower().startswith("ramp"):
            template = item
        try:
            parser(full, where=where)
        except AssumptionError as error:
            problems.extend(error.problems)
            continue
        out.append(full)
    if problems:
        raise AssumptionError.from_problems(problems, source=f"--{what}")
    return tuple(out)


def split_lags(text: str) -> tuple[int, ...]:
    """Liquidation lags in months from ``"3,6,12"``.

    >>> split_lags("3, 6,12")
    (3, 6, 12)
    """
    problems: list[Problem] = []
    out: list[int] = []
    for number, item in enumerate(_split_top(str(text)), start=1):
        if not re.fullmatch(r"\d+", item) or int(item) > 360:
            problems.append(
                Problem(
                    where=f"--lag item {number}",
                    value=item,
                    message="is not a whole number of months in 0..360",
                )
            )
        else:
            out.append(int(item))
    if problems:
        raise AssumptionError.from_problems(problems, source="--lag")
    return tuple(out)


def grid_scenarios(
    deal: Deal,
    *,
    prepay: Sequence[Any] = (),
    default: Sequence[Any] = (),
    severity: Sequence[Any] = (),
    lag: Sequence[int] = (),
    base: Mapping[str, Any] | None = None,
) -> dict[str, Assumptions]:
    """The product of the lists on top of the base case: ``{name: Assumptions}``.

    An empty list keeps the base case's value.  Names read like ``prepay=ABS 1% default=CDR 2%``
    (only the varied keys).

    Examples
    --------
    >>> from absstruct.deal import load_deal
    >>> deal = load_deal("deals/us_auto.toml")
    >>> list(grid_scenarios(deal, prepay=["ABS 1%", "ABS 2%"], default=["CDR 0%"]))
    ['prepay=ABS 1% default=CDR 0%', 'prepay=ABS 2% default=CDR 0%']
    """
    from absstruct.deal.scenarios import assumptions_from_table

    table = dict(deal.pool.assumptions if base is None else base)
    lists = {"prepay": prepay, "default": default, "severity": severity, "lag": lag}
    varied = [(key, list(values)) for key, values in lists.items() if len(values)]
    count = 1
    for _, values in varied:
        count *= len(values)
    if count > MAX_SCENARIOS:
        raise AssumptionError(
            f"grid: {count:,} scenarios is more than {MAX_SCENARIOS:,}; shorten the lists"
        )
    out: dict[str, Assumptions] = {}
    for combo in itertools.product(*(values for _, values in varied)):
        changes = dict(zip((key for key, _ in varied), combo, strict=True))
        name = " ".join(f"{k}={v}" for k, v in changes.items()) or "base"
        out[name] = assumptions_from_table({**table, **changes}, where=f"grid[{name}]")
    return out


def read_scenario_file(path: str | Path, deal: Deal) -> dict[str, Assumptions]:
    """Scenarios from a file, each on top of the deal's base case.

    ``.toml``: one table per scenario (``[stress]`` with ``default = "CDR 8%"``...).
    ``.csv``: a header row with ``name`` (optional) and any of the assumption keys.
    """
    from absstruct.deal.scenarios import assumptions_from_table

    path = Path(path)
    if path.suffix.lower() not in (".toml", ".csv"):
        raise AssumptionError(f"{path.name}: a scenario file must be .toml or .csv")
    base = dict(deal.pool.assumptions)
    text = path.read_text(encoding="utf-8-sig")
    tables: dict[str, dict[str, Any]] = {}
    if path.suffix.lower() == ".toml":
        try:
            raw = tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise AssumptionError(f"{path.name}: not valid TOML: {error}") from None
        for name, table in raw.items():
            if not isinstance(table, dict):
                raise AssumptionError(
                    f"{path.name}: {name!r} must be a table of assumptions ([{name}])"
                )
            tables[str(name)] = table
    elif path.suffix.lower() == ".csv":
        for number, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
            name = (row.pop("name", None) or f"row {number}").strip()
            entry: dict[str, Any] = {
                k.strip(): v.strip() for k, v in row.items() if k and v and v.strip()
            }
            if "lag" in entry and entry["lag"].isdigit():
                entry["lag"] = int(entry["lag"])
            tables[name] = entry
    else:
        raise AssumptionError(f"{path.name}: a scenario file must be .toml or .csv")
    if not tables:
        raise AssumptionError(f"{path.name}: no scenario in the file")
    return {
        name: assumptions_from_table({**base, **table}, where=f"{path.name}: {name}", keys=table)
        for name, table in tables.items()
    }


@dataclass(frozen=True, kw_only=True)
class GridResult:
    """A grid run: its scenarios, the waterfall result and the metrics of every tranche.

    ``metrics`` is the long table (one row per scenario x tranche, with the scenario's
    assumptions in front); :meth:`table` pivots one measure to scenarios x tranches.
    """

    scenarios: pd.DataFrame
    metrics: pd.DataFrame
    result: Result
    engine_passes: int = 1

    def table(self, measure: str = "yield") -> pd.DataFrame:
        """``measure`` as scenarios (rows) x tranches (columns), in run order."""
        if measure not in self.metrics.columns:
            raise AssumptionError(
                f"measure: {measure!r} is not a grid column; allowed: "
                f"{', '.join(c for c in self.metrics.columns if c not in GRID_KEYS)}"
            )
        wide = self.metrics.pivot(index="scenario", columns="tranche", values=measure)
        return wide.loc[list(self.result.scenario_names), list(self.result.tranches)]


def grid(
    deal: Deal,
    tape: pd.DataFrame,
    *,
    prepay: Sequence[Any] = (),
    default: Sequence[Any] = (),
    severity: Sequence[Any] = (),
    lag: Sequence[int] = (),
    scenarios: Mapping[str, Assumptions] | None = None,
    quotes: Quotes | None = None,
    settlement: Any = None,
    convention: Convention | None = None,
    call: bool | None = None,
) -> GridResult:
    """Run the deal over a grid of scenarios in one engine pass and price every tranche.

    Parameters
    ----------
    deal, tape
        The deal and its (eligible) canonical tape.
    prepay, default, severity, lag : sequences
        Levels to combine (assumption strings / months); empty keeps the base case.
    scenarios : mapping of name to Assumptions, optional
        Explicit scenarios (e.g. from :func:`read_scenario_file`) instead of the lists.
    quotes, settlement, convention
        Passed to :func:`~absstruct.analytics.metrics.tranche_metrics`.
    call : bool, optional
        Exercise the clean-up call (default: the deal says).

    Returns
    -------
    GridResult
    """
    from absstruct.waterfall import run

    if scenarios is not None and any(len(v) for v in (prepay, default, severity, lag)):
        raise AssumptionError("grid: give a scenario file or level lists, not both")
    chosen = (
        dict(scenarios)
        if scenarios is not None
        else grid_scenarios(deal, prepay=prepay, default=default, severity=severity, lag=lag)
    )
    quotes = quotes or Quotes()
    quotes.check(t.name for t in deal.tranches)
    result = run(deal, tape, chosen, call=call)
    metrics = tranche_metrics(
        result, deal, settlement=settlement, quotes=quotes, convention=convention
    )
    rows = [
        {"scenario": name, **{k: _shown(getattr(a, k)) for k in GRID_KEYS}}
        for name, a in chosen.items()
    ]
    table = pd.DataFrame(rows, columns=["scenario", *GRID_KEYS])
    merged = table.merge(metrics, on="scenario", how="right", validate="one_to_many")
    return GridResult(scenarios=table, metrics=merged, result=result)


def _shown(value: Any) -> Any:
    return value if isinstance(value, (int, str)) else str(value)


__all__ = [
    "GRID_KEYS",
    "GRID_MEASURES",
    "GridResult",
    "grid",
    "grid_scenarios",
    "read_scenario_file",
    "split_lags",
    "split_levels",
]
