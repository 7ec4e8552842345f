"""The deal's collateral assumptions: the base case and named scenarios as ``Assumptions``.

A scenario is the base-case table (``[pool.assumptions]``) updated by the scenario's own
keys (``[pool.scenarios.NAME]``), validated by :class:`absstruct.curves.Assumptions`.

Examples
--------
>>> a = assumptions_from_table({"prepay": "ABS 1.5%", "default": "CDR 3%"})
>>> a.prepay
'ABS 1.5%'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from absstruct.errors import AbsStructError, DealError, Problem

if TYPE_CHECKING:
    from absstruct.curves import Assumptions
    from absstruct.deal.model import Deal

BASE = "base"


def assumptions_from_table(
    table: Mapping[str, Any],
    *,
    where: str = "pool.assumptions",
    keys: Mapping[str, Any] | None = None,
) -> Assumptions:
    """Validate one assumptions table; problems name ``where.key``.

    ``keys`` (a scenario's own table) limits which problems are reported under ``where``:
    a bad base-case key is reported once, under ``pool.assumptions``.
    """
    from absstruct.curves import Assumptions

    try:
        return Assumptions.from_mapping(dict(table), where=where)
    except AbsStructError as error:
        problems = list(error.problems)
        if keys:
            own = {f"{where}.{k}" for k in keys}
            problems = [p for p in problems if p.where in own or p.where.split("[")[0] in own]
        if not problems:
            raise DealError(f"{where}: invalid assumptions") from None
        raise DealError.from_problems(problems) from None


def scenario_names(deal: Deal) -> tuple[str, ...]:
    """``base`` followed by the deal's named scenarios, in file order."""
    return (BASE, *(n for n in deal.pool.scenarios if n != BASE))


def deal_scenarios(deal: Deal, names: Sequence[str] | None = None) -> dict[str, Assumptions]:
    """Assumptions for the named scenarios (default: base and every named scenario)."""
    chosen = list(names) if names is not None else list(scenario_names(deal))
    known = scenario_names(deal)
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise DealError.from_problems(
            [
                Problem(
                    where="scenario",
                    value=n,
                    rule="reference",
                    message=f"is not a scenario of the deal; scenarios: {', '.join(known)}",
                )
                for n in unknown
            ]
        )
    base = dict(deal.pool.assumptions)
    out = {}
    for name in chosen:
        if name == BASE:
            out[name] = assumptions_from_table(base)
        else:
            table = deal.pool.scenarios[name]
            out[name] = assumptions_from_table(
                {**base, **table}, where=f"pool.scenarios.{name}", keys=table
            )
    return out


__all__ = ["BASE", "assumptions_from_table", "deal_scenarios", "scenario_names"]
