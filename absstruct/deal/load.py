"""Read a deal file: TOML -> :class:`~absstruct.deal.model.Deal`, every problem reported once.

Validation runs in two passes and collects everything before raising one
:class:`~absstruct.errors.DealError`: the models check each field (types, ranges, unknown
keys), then :mod:`absstruct.deal.checks` checks what fields say about each other
(references to tranches, accounts, fees and triggers; dates in order; sizes within the
pool; circular transfers; the tape file).  Every line names the field path the way the
file spells it: ``waterfall.interest[3].tranche: 'A3' is not a tranche; tranches: A1, A2, B``.

Examples
--------
>>> text = '''
... schema_version = 1
... name = "demo"
... [dates]
... cutoff = 2026-06-30
... closing = 2026-07-15
... first_payment = 2026-08-15
... legal_final = 2030-08-15
... [[tranches]]
... name = "A"
... size = "90%"
... coupon = "5%"
... [[waterfall.interest]]
... step = "pay_interest"
... tranche = "A2"
... '''
>>> parse_deal(text)
Traceback (most recent call last):
...
absstruct.errors.DealError: 1 problem
  waterfall.interest[0].tranche: 'A2' is not a tranche; tranches: A
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from absstruct.deal import model as m
from absstruct.deal import steps as s
from absstruct.deal.checks import cross_checks
from absstruct.errors import DealError, Problem

_STEP_CLASSES: dict[str, type[BaseModel]] = {
    "pay_tax": s.PayTax,
    "pay_fee": s.PayFee,
    "pay_interest": s.PayInterest,
    "pay_principal": s.PayPrincipal,
    "turbo": s.Turbo,
    "fund_reserve": s.FundReserve,
    "cure_pdl": s.CurePDL,
    "pay_residual": s.PayResidual,
    "transfer": s.Transfer,
    "purchase": s.Purchase,
}
# The model behind each field path (list indices and dict keys dropped), for naming the
# keys allowed where an unknown one was found.
_MODELS: dict[str, type[BaseModel]] = {
    "": m.Deal,
    "dates": m.Dates,
    "pool": m.PoolSection,
    "tranches": m.Tranche,
    "tranches.floating": m.Floating,
    "indices.*": m.IndexCurve,
    "fees": m.Fee,
    "taxes": m.Tax,
    "accounts": m.Account,
    "accounts.target": m.AccountTarget,
    "waterfall": s.Waterfalls,
    "losses": m.Losses,
    "oc": m.Overcollateralization,
    "triggers": m.Trigger,
    "triggers.threshold": m.ThresholdStep,
    "revolving": m.Revolving,
    "revolving.rep_lines": m.RepLine,
    "call": m.CleanupCall,
    "support": m.Support,
}
# Criteria keys of [pool] belong to the pool engine's loader.
_CRITERIA_KEYS = (
    "eligibility",
    "concentration",
    "strats",
    "target_balance",
    "target_order",
    "seed",
)
_UNION_TAGS = {"float", "str", "int", "bool", "date", "none", "tuple"}


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items() if name != "criteria"]


def _model_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    parts: list[str] = []
    for index, part in enumerate(loc):
        if isinstance(part, int):
            continue
        if part in _STEP_CLASSES and index and isinstance(loc[index - 1], int):
            return _STEP_CLASSES[part] if index == len(loc) - 1 else None
        if parts == ["indices"]:
            part = "*"
        parts.append(str(part))
    return _MODELS.get(".".join(parts))


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    kept: list[Any] = []
    for index, part in enumerate(loc):
        if isinstance(part, str):
            if part in _UNION_TAGS or "[" in part or part.startswith("function-"):
                continue
            if part in _STEP_CLASSES and index and isinstance(loc[index - 1], int):
                continue
        kept.append(part)
    return tuple(kept)


def field_path(loc: tuple[Any, ...], prefix: str = "") -> str:
    """``('waterfall', 'interest', 3, 'tranche')`` -> ``waterfall.interest[3].tranche``."""
    where = prefix
    for part in loc:
        if isinstance(part, int):
            where += f"[{part}]"
        else:
            where += f".{part}" if where else str(part)
    return where


def _message(item: Mapping[str, Any]) -> tuple[str, Any]:
    kind = item["type"]
    ctx = item.get("ctx") or {}
    value = item.get("input")
    if isinstance(value, (Mapping, list, tuple)):
        value = None
    text = str(item["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
    match kind:
        case "greater_than_equal":
            return f"is below {ctx.get('ge')}", value
        case "greater_than":
            return f"must be above {ctx.get('gt')}", value
        case "less_than_equal":
            return f"is above {ctx.get('le')}", value
        case "less_than":
            return f"must be below {ctx.get('lt')}", value
        case "missing":
            return "is required", None
        case "literal_error":
            return f"is not allowed; expected {ctx.get('expected')}", value
        case "union_tag_invalid":
            steps = ", ".join(s.STEP_NAMES)
            return f"is not a waterfall step; steps: {steps}", ctx.get("tag")
        case "union_tag_not_found":
            return f"needs a 'step' key; steps: {', '.join(s.STEP_NAMES)}", None
        case "tuple_type" | "list_type":
            return "is not a list; write [...]", value
        case "finite_number":
            return "is not a finite number", value
        case "too_short":
            return "is empty; give at least one", None
        case kind if kind.startswith(("date_", "datetime_")):
            return "is not a date like 2026-06-30", value
        case kind if kind.startswith(("float_", "int_")):
            return "is not a number", value
        case "bool_type" | "bool_parsing":
            return "is not true or false", value
        case "string_type":
            return "is not text", value
    return text, value


def problems_from(error: ValidationError, *, prefix: str = "") -> list[Problem]:
    """Turn a pydantic ValidationError into problems naming TOML field paths."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for item in error.errors():
        loc = tuple(item["loc"])
        cleaned = _clean_loc(loc)
        where = field_path(cleaned, prefix)
        if item["type"] == "union_tag_invalid" or item["type"] == "union_tag_not_found":
            where = field_path((*cleaned, "step"), prefix)
        if item["type"] == "extra_forbidden":
            parent = _model_for(loc[:-1])
            allowed = ", ".join(_keys_of(parent)) if parent else ""
            message = "is not a known key" + (f"; allowed: {allowed}" if allowed else "")
            value = None
        else:
            message, value = _message(item)
        union = len(cleaned) != len(loc) and item["type"] not in (
            "union_tag_invalid",
            "union_tag_not_found",
            "extra_forbidden",
        )
        if where in seen and union:  # one line per field no member of a union accepts
            continue
        seen[where] = len(problems)
        problems.append(Problem(where=where, value=value, rule=item["type"], message=message))
    return problems


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DealError(f"{path.name}: no such deal file") from None
    except IsADirectoryError:
        raise DealError(f"{path.name}: is a folder, not a deal file") from None
    try:
        return tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise DealError(f"{path.name}: not UTF-8 text ({error.reason})") from None
    except tomllib.TOMLDecodeError as error:
        raise DealError(f"{path.name}: not valid TOML: {error}") from None


def _split_pool(raw: Any) -> tuple[Any, dict[str, Any]]:
    """The deal-level [pool] keys and the criteria keys."""
    if not isinstance(raw, Mapping):
        return raw, {}
    own = {k: v for k, v in raw.items() if k not in _CRITERIA_KEYS}
    criteria = {k: v for k, v in raw.items() if k in _CRITERIA_KEYS}
    return own, criteria


def _pool_criteria(criteria: dict[str, Any]) -> tuple[Any, list[Problem]]:
    if not criteria:
        return None, []
    from absstruct.pool.criteria import load_pool_criteria

    try:
        return load_pool_criteria(criteria, path="pool"), []
    except DealError as error:
        return None, list(error.problems) or [Problem(where="pool", message=str(error))]


def validate_deal(
    raw: Mapping[str, Any], *, base_dir: Path | None = None, source: str | None = None
) -> m.Deal:
    """Validate a parsed deal table (what ``tomllib`` returns) into a :class:`Deal`.

    Parameters
    ----------
    raw : Mapping
        The deal file's content.
    base_dir : pathlib.Path, optional
        The deal file's folder: tape and index CSV paths are relative to it.  Without it
        files are not looked for.
    source : str, optional
        The file name put at the head of the error message.
    """
    problems: list[Problem] = []
    data = dict(raw)
    own_pool, criteria_raw = _split_pool(data.get("pool", {}))
    if "pool" in data:
        data["pool"] = own_pool
    if isinstance(own_pool, Mapping) and "criteria" in own_pool:
        problems.append(
            Problem(where="pool.criteria", rule="extra_forbidden", message="is not a known key")
        )
        data["pool"] = {k: v for k, v in own_pool.items() if k != "criteria"}
    criteria, criteria_problems = _pool_criteria(criteria_raw)
    problems += criteria_problems

    deal: m.Deal | None = None
    try:
        deal = m.Deal.model_validate(data)
    except ValidationError as error:
        problems += problems_from(error)
    problems += cross_checks(data, base_dir=base_dir, deal=deal)
    errors = [p for p in problems if p.severity == "error"]
    if errors or deal is None:
        raise DealError.from_problems(errors or problems, source=source)

    updates: dict[str, Any] = {}
    pool = deal.pool
    if base_dir is not None and pool.tape is not None:
        pool = pool.model_copy(update={"tape": str((base_dir / pool.tape).resolve())})
    if base_dir is not None and pool.template is not None and pool.template.endswith(".toml"):
        # A template given as a file is, like the tape, relative to the deal file's folder.
        pool = pool.model_copy(update={"template": str((base_dir / pool.template).resolve())})
    if criteria is not None:
        pool = pool.model_copy(update={"criteria": criteria})
    updates["pool"] = pool
    if base_dir is not None:
        updates["indices"] = {
            name: _load_index(curve, base_dir) for name, curve in deal.indices.items()
        }
    return deal.model_copy(update=updates)


def _load_index(curve: m.IndexCurve, base_dir: Path) -> m.IndexCurve:
    if curve.csv is None:
        return curve
    import pandas as pd

    frame = pd.read_csv(base_dir / curve.csv)
    rates = TypeAdapter(tuple[m.Rate, ...]).validate_python(list(frame["rate"]))
    return curve.model_copy(update={"rates": rates, "csv": str((base_dir / curve.csv).resolve())})


def parse_deal(text: str, *, base_dir: Path | None = None, source: str | None = None) -> m.Deal:
    """Validate deal-file text (TOML); see :func:`validate_deal`."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DealError(f"{source or 'deal'}: not valid TOML: {error}") from None
    return validate_deal(raw, base_dir=base_dir, source=source)


def load_deal(path: str | Path) -> m.Deal:
    """Read and validate a deal file; raise one :class:`DealError` listing every problem.

    Parameters
    ----------
    path : str or pathlib.Path
        The ``.toml`` deal file.  Its tape and index CSV paths are relative to its folder.
    """
    file = Path(path)
    raw = _read_toml(file)
    return validate_deal(raw, base_dir=file.resolve().parent, source=file.name)


__all__ = ["field_path", "load_deal", "parse_deal", "problems_from", "validate_deal"]
