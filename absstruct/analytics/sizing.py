"""Tranche sizing: the largest size of each note, top-down, that takes no loss under its stress.

A stress is a multiple of the base-case default assumption (``A=5x``: the base ``CDR 3%``
becomes ``CDR 3% x 5``; rating-agency style), every other assumption at the base case.  The
collateral is projected ONCE under all the stresses; each candidate capital structure is
then one waterfall run over those flows.

Sizing walks the stressed notes from the most senior down.  A note's size is found by
bisection on its balance, with the sizes above it fixed, the stressed notes below it not yet
sized (size 0) and notes without a stress at their deal-file size; the residual tranche (when
it has a stated size) absorbs the rest of the pool, otherwise the rest is
overcollateralization.  Because a junior note's coupon can change what reaches a senior one
(its interest may rank before the PDL cure), the walk is repeated on the whole sized structure
until every note is the largest with no loss given all the others (``rounds``).

Credit enhancement per note = subordination (notes and residual below it) +
overcollateralization (pool above all tranches) + the reserve accounts' initial balances, each
as a share of the pool.

Examples
--------
>>> from absstruct.deal import load_deal
>>> from absstruct.waterfall import deal_tape
>>> deal = load_deal("deals/cn_consumer_revolving.toml")
>>> sized = size_tranches(deal, deal_tape(deal), stresses={"优先A": 5.0, "优先B": 3.0})
>>> table = sized.table.set_index("tranche")
>>> bool(table.loc["优先A", "size_pct"] > 0.5), bool(table.loc["优先A", "loss_at_stress"] == 0)
(True, True)
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from absstruct.analytics.breakeven import _Axis
from absstruct.analytics.metrics import tranche_losses
from absstruct.errors import AssumptionError, DealError, Problem

if TYPE_CHECKING:
    from absstruct.deal.model import Deal
    from absstruct.projection.flows import PoolFlows

DEFAULT_TOLERANCE = 1e-5  # size resolution as a share of the pool
STEP_ABOVE = 1e-3  # the "size + 0.1%" check, as a share of the pool
_MAX_ROUNDS = 8


@dataclass(frozen=True, kw_only=True)
class SizingResult:
    """Sized tranches, their credit enhancement and the checks that hold the sizes.

    ``table`` has per tranche: stress, size, size_pct, deal_size, subordination, oc, reserve,
    credit_enhancement (shares of the pool), loss_at_stress and loss_above (principal loss
    under its stress at its size and at size + 0.1% of the pool).  ``deal`` is the sized deal.
    """

    table: pd.DataFrame
    deal: Deal
    pool_balance: float
    engine_runs: int
    rounds: int
    tolerance: float

    def sizes(self) -> dict[str, float]:
        """Tranche name -> sized balance."""
        return dict(zip(self.table["tranche"], self.table["size"], strict=True))


def parse_stresses(text: str, *, option: str = "--stress") -> dict[str, float]:
    """``"A=5x,B=3x,C=2"`` -> ``{"A": 5.0, "B": 3.0, "C": 2.0}``; every bad item at once.

    >>> parse_stresses("A=5x, B = 3X,C=2.5")
    {'A': 5.0, 'B': 3.0, 'C': 2.5}
    """
    problems: list[Problem] = []
    out: dict[str, float] = {}
    items = [item.strip() for item in str(text).split(",")]
    for number, item in enumerate(items, start=1):
        name, sep, value = (part.strip() for part in item.partition("="))
        where = f"item {number}"
        match = re.fullmatch(r"(\d+(?:\.\d*)?|\.\d+)\s*[xX]?", value)
        if not sep or not name or match is None:
            problems.append(
                Problem(where=where, value=item, message="is not TRANCHE=MULTIPLE (like A=5x)")
            )
        elif name in out:
            problems.append(Problem(where=where, value=item, message=f"repeats tranche {name!r}"))
        elif not float(match.group(1)) > 0:
            problems.append(Problem(where=where, value=item, message="multiple must be above 0"))
        else:
            out[name] = float(match.group(1))
    if problems:
        raise AssumptionError.from_problems(problems, source=option)
    return out


def _check_stresses(deal: Deal, stresses: Mapping[str, float]) -> None:
    names = [t.name for t in deal.tranches]
    kinds = {t.name: t.kind for t in deal.tranches}
    problems: list[Problem] = []
    if not stresses:
        problems.append(Problem(where="stresses", message="is empty; give e.g. A=5x"))
    for name, multiple in stresses.items():
        if name not in kinds:
            problems.append(
                Problem(
                    where=f"stress {name}",
                    value=name,
                    rule="reference",
                    message=f"is not a tranche of the deal; tranches: {', '.join(names)}",
                )
            )
        elif kinds[name] != "note":
            problems.append(
                Problem(
                    where=f"stress {name}",
                    value=name,
                    message="is the residual; it absorbs the rest of the pool and is not sized",
                )
            )
        if not (math.isfinite(multiple) and multiple > 0):
            problems.append(
                Problem(where=f"stress {name}", value=multiple, message="must be above 0")
            )
    if problems:
        raise DealError.from_problems(problems, source="stresses")


class _Structure:
    """Runs candidate capital structures over the flows projected once under the stresses."""

    def __init__(
        self, deal: Deal, flows: PoolFlows, unit: PoolFlows | None, row: dict[str, int]
    ) -> None:
        self.deal, self.flows, self.unit, self.row = deal, flows, unit, row
        self.pool = float(flows.initial_balance)
        self.runs = 0
        residual = deal.residual_tranche
        self.absorber = (
            residual.name if residual is not None and residual.size_amount(self.pool) > 0 else None
        )

    def with_sizes(self, sizes: Mapping[str, float]) -> Deal:
        full = dict(sizes)
        if self.absorber is not None:
            notes = sum(v for k, v in full.items() if k != self.absorber)
            full[self.absorber] = max(self.pool - notes, 0.0)
        tranches = tuple(
            t.model_copy(update={"size": float(full[t.name])}) if t.name in full else t
            for t in self.deal.tranches
        )
        return self.deal.model_copy(update={"tranches": tranches})

    def loss(self, sizes: Mapping[str, float], name: str) -> float:
        """Principal loss of ``name`` under its own stress with these sizes."""
        from absstruct.waterfall import run

        self.runs += 1
        result = run(self.with_sizes(sizes), self.flows, unit_flows=self.unit)
        loss, _ = tranche_losses(result, name)
        return float(loss[self.row[name]])

    def room(self, sizes: Mapping[str, float], name: str) -> float:
        """The most ``name`` can be with the other notes as they are."""
        others = sum(v for k, v in sizes.items() if k != name and k != self.absorber)
        return max(self.pool - others, 0.0)


def _largest(structure: _Structure, sizes: dict[str, float], name: str, step: float) -> float:
    """Largest size of ``name`` (to ``step`` money) with no loss, others fixed.

    Starts from the current size: a later round moves a size only a little, so the bracket is
    found by doubling steps away from it before bisecting.
    """
    room = structure.room(sizes, name)

    def ok(size: float) -> bool:
        return structure.loss({**sizes, name: size}, name) == 0

    guess = min(sizes.get(name, 0.0), room)
    if guess <= 0:
        if ok(room):
            return room
        lo, hi = 0.0, room
    elif ok(guess):
        lo, width = guess, step
        while True:
            if lo + width >= room:
                if ok(room):
                    return room
                hi = room
                break
            if not ok(lo + width):
                hi = lo + width
                break
            lo, width = lo + width, 2 * width
    else:
        hi, width = guess, step
        while True:
            if hi - width <= 0:
                lo = 0.0
                break
            if ok(hi - width):
                lo = hi - width
                break
            hi, width = hi - width, 2 * width
    while hi - lo > step:
        middle = 0.5 * (lo + hi)
        if ok(middle):
            lo = middle
        else:
            hi = middle
    return lo


def size_tranches(
    deal: Deal,
    tape: pd.DataFrame,
    stresses: Mapping[str, float],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    call: bool | None = None,
) -> SizingResult:
    """Size the stressed notes top-down so each takes no loss under its stress.

    Parameters
    ----------
    deal, tape
        The deal and its eligible canonical tape.
    stresses : mapping of tranche name to multiple
        Multiples of the base-case default assumption (``{"A": 5.0, "B": 3.0}``).
    tolerance : float
        Size resolution as a share of the pool balance (default 1e-5).
    call : bool, optional
        Exercise the clean-up call (default: the deal says).

    Returns
    -------
    SizingResult
    """
    from absstruct.deal.scenarios import assumptions_from_table
    from absstruct.waterfall.run import project_collateral, unit_collateral

    _check_stresses(deal, stresses)
    if not (0 < tolerance < STEP_ABOVE):
        raise AssumptionError(f"tolerance: {tolerance} must be above 0 and below {STEP_ABOVE}")
    table = dict(deal.pool.assumptions)
    axis = _Axis("multiple", table, tape)
    multiples = sorted(set(stresses.values()))
    too_high = [m for m in multiples if m > axis.upper]
    if too_high:
        raise AssumptionError(
            f"stresses: {', '.join(f'{m:g}x' for m in too_high)} of the base-case default "
            f"{table.get('default')!r} is above a 100% default rate (at most {axis.upper:.6g}x)"
        )
    scenarios = {
        f"{m:g}x": assumptions_from_table({**table, "default": axis.default(m)}, where="stress")
        for m in multiples
    }
    names = tuple(scenarios)
    flows = project_collateral(deal, tape, scenarios)
    unit = unit_collateral(deal, scenarios, names) if deal.revolving is not None else None
    if call is not None:
        deal = deal.model_copy(
            update={
                "call": None
                if deal.call is None
                else deal.call.model_copy(update={"exercise": call})
            }
        )
    row = {name: names.index(f"{stresses[name]:g}x") for name in stresses}
    structure = _Structure(deal, flows, unit, row)
    pool = structure.pool
    step = tolerance * pool
    ranked = [t for t in deal.ranked_tranches if t.kind == "note"]
    order = [t.name for t in ranked if t.name in stresses]
    sizes = {t.name: (0.0 if t.name in stresses else t.size_amount(pool)) for t in ranked}
    fixed = sum(v for k, v in sizes.items() if k not in stresses)
    if fixed > pool * (1 + 1e-9):
        raise DealError(
            f"stresses: the unstressed notes alone ({fixed:,.2f}) exceed the pool ({pool:,.2f})"
        )
    rounds = 0
    changed = True
    while changed and rounds < _MAX_ROUNDS:
        rounds += 1
        changed = False
        for name in order:
            found = _largest(structure, sizes, name, step)
            changed = changed or abs(found - sizes[name]) > step
            sizes[name] = found
    sized = structure.with_sizes(sizes)
    return SizingResult(
        table=_table(deal, structure, sizes, stresses, step),
        deal=sized,
        pool_balance=pool,
        engine_runs=structure.runs,
        rounds=rounds,
        tolerance=tolerance,
    )


def _table(
    deal: Deal,
    structure: _Structure,
    sizes: dict[str, float],
    stresses: Mapping[str, float],
    step: float,
) -> pd.DataFrame:
    pool = structure.pool
    sized = structure.with_sizes(sizes)
    amounts = {t.name: t.size_amount(pool) for t in sized.tranches}
    ranked = [t.name for t in sized.ranked_tranches]
    # The residual ranks below every note whatever its place in the file.
    if sized.residual_tranche is not None:
        ranked.remove(sized.residual_tranche.name)
        ranked.append(sized.residual_tranche.name)
    reserve = sum(a.initial_amount(pool) for a in sized.accounts) / pool
    oc = (pool - sum(amounts.values())) / pool
    rows = []
    for position, name in enumerate(ranked):
        below = sum(amounts[n] for n in ranked[position + 1 :]) / pool
        stressed = name in stresses
        loss = structure.loss(sizes, name) if stressed else math.nan
        above = math.nan
        if stressed:
            bumped = sizes[name] + STEP_ABOVE * pool
            if bumped <= structure.room(sizes, name) + 1e-9 * pool:
                above = structure.loss({**sizes, name: bumped}, name)
        original = deal.tranche(name)
        rows.append(
            {
                "tranche": name,
                "kind": original.kind,
                "stress": stresses.get(name, math.nan),
                "size": amounts[name],
                "size_pct": amounts[name] / pool,
                "deal_size": original.size_amount(pool),
                "subordination": below,
                "oc": oc,
                "reserve": reserve,
                "credit_enhancement": below + oc + reserve,
                "loss_at_stress": loss,
                "loss_above": above,
            }
        )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- sized deal file

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_NAME = re.compile(r"""^\s*name\s*=\s*(["'])(.*?)\1""")
_SIZE = re.compile(r"^(\s*size\s*=\s*)([^#\n]*?)(\s*(?:#.*)?)$")
_TAPE = re.compile(r"""^(\s*(?:tape|template)\s*=\s*)(["'])(.*?)\2(.*)$""")


def _percent(share: float) -> str:
    # Rounded down: a sized note written to the file never exceeds its solved size.
    return f'"{math.floor(share * 1e8) / 1e6:.6f}%"'


def sized_deal_text(text: str, shares: Mapping[str, float], *, moved: Any = None) -> str:
    """The deal-file ``text`` with each named tranche's ``size`` set to its pool share.

    Only the ``size = ...`` lines of ``[[tranches]]`` blocks change (a missing one is added
    after the tranche's ``name``); comments and layout stay.  ``moved(path) -> str`` rewrites
    the ``[pool]`` table's relative ``tape`` / ``template`` paths for a file saved elsewhere.

    >>> text = '[[tranches]]\\nname = "A"\\nsize = "80%"  # senior\\n[[tranches]]\\nname = "R"\\n'
    >>> print(sized_deal_text(text, {"A": 0.7512345678, "R": 0.2487654322}))
    [[tranches]]
    name = "A"
    size = "75.123456%"  # senior
    [[tranches]]
    name = "R"
    size = "24.876543%"
    <BLANKLINE>
    """
    lines = text.splitlines(keepends=True)
    out: list[str] = []
    section = ""
    block: list[str] = []
    done: set[str] = set()

    def flush() -> None:
        if section != "tranches":
            out.extend(block)
            return
        name = next((m.group(2) for line in block if (m := _NAME.match(line))), None)
        if name is None or name not in shares:
            out.extend(block)
            return
        value = _percent(shares[name])
        sized = False
        for i, line in enumerate(block):
            found = _SIZE.match(line.rstrip("\r\n"))
            if found:
                ending = line[len(line.rstrip("\r\n")) :]
                block[i] = f"{found.group(1)}{value}{found.group(3)}{ending}"
                sized = True
        if not sized:
            at = next(i for i, line in enumerate(block) if _NAME.match(line))
            block.insert(at + 1, f"size = {value}\n")
        done.add(name)
        out.extend(block)

    for line in lines:
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("#"):
            flush()
            section, block = header.group(1), [line]
            continue
        if section == "pool" and moved is not None:
            found = _TAPE.match(line)
            if found and (
                found.group(1).strip().startswith("tape") or found.group(3).endswith(".toml")
            ):
                quote = found.group(2)
                line = f"{found.group(1)}{quote}{moved(found.group(3))}{quote}{found.group(4)}"
                if not line.endswith("\n"):
                    line += "\n"
        block.append(line)
    flush()
    missing = sorted(set(shares) - done)
    if missing:
        raise DealError(
            f"cannot write the sized deal: no [[tranches]] block named {', '.join(missing)}"
        )
    return "".join(out)


def write_sized_deal(result: SizingResult, source: str | Path, target: str | Path) -> Path:
    """Write a copy of the deal file ``source`` with the sized tranche sizes, atomically."""
    from absstruct.report.atomic import atomic_path

    source, target = Path(source), Path(target)
    shares = {
        row.tranche: row.size_pct
        for row in result.table.itertuples()
        if not math.isnan(row.stress) or (row.kind == "residual" and row.size > 0)
    }
    base, new_base = source.resolve().parent, target.resolve().parent

    def moved(path: str) -> str:
        if os.path.isabs(path) or base == new_base or not (base / path).exists():
            return path
        return Path(os.path.relpath(base / path, new_base)).as_posix()

    text = sized_deal_text(source.read_text(encoding="utf-8"), shares, moved=moved)
    with atomic_path(target) as temporary:
        Path(temporary).write_text(text, encoding="utf-8")
    return target


__all__ = [
    "SizingResult",
    "parse_stresses",
    "size_tranches",
    "sized_deal_text",
    "write_sized_deal",
]
