"""Pool criteria as data: eligibility rules, concentration limits, strat buckets.

These frozen models are what a deal file's ``[pool]`` table becomes.  They are checked
on their own here (shape, types, limits within 0-100%); whether a rule's column exists on
a tape, and whether its values have the column's type, is checked when the rule meets a
tape in :func:`absstruct.pool.selection.select_pool`.

Rule grammar (one ``[[pool.eligibility]]`` table per rule; every condition given must
hold, missing values fail unless ``allow_missing = true``)::

    [[pool.eligibility]]
    name = "grade A-D"           # used in the exclusion report
    column = "grade"             # any canonical or extra tape column, or "seasoning"
    in = ["A", "B", "C", "D"]    # equals / not_equals / min / max / between = [a, b]
                                 # in / not_in / before / after (dates, strict)

``min``, ``max`` and ``between`` are inclusive; ``before`` and ``after`` are strict.
Shares and bounds may be written as percent strings (``"15%"``) in a deal file.

Examples
--------
>>> rule = EligibilityRule(name="36-month", column="original_term", equals=36)
>>> rule.conditions()
{'equals': 36}
>>> criteria = load_pool_criteria(
...     {"tape": "t.csv", "eligibility": [{"name": "big", "column": "rate", "max": "25%"}],
...      "concentration": {"max_region": 0.15}})
>>> criteria.eligibility[0].max, criteria.concentration.max_region
(0.25, 0.15)
>>> load_pool_criteria({"concentration": {"max_region": 1.5}})
Traceback (most recent call last):
...
absstruct.errors.DealError: 1 problem
  pool.concentration.max_region: 1.5 is above 100% (a share of pool balance, 0 < share <= 1)
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from absstruct.errors import DealError, Problem


def _percent(value: Any) -> Any:
    """Turn ``"15%"`` into ``0.15`` (deal files are an edge where percent strings are allowed)."""
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return float(value.strip()[:-1].replace(",", "").replace("_", "")) / 100.0
        except ValueError:
            return value
    return value


def _check_share(value: float) -> float:
    if not value > 0:
        raise ValueError("is not above 0 (a share of pool balance, 0 < share <= 1)")
    if value > 1:
        raise ValueError("is above 100% (a share of pool balance, 0 < share <= 1)")
    return value


# A bound compares with a number or a date column; percent strings become decimals.
Bound = Annotated[StrictInt | StrictFloat | dt.date, BeforeValidator(_percent)]
# A value matched exactly (equals / in / not_in).
Scalar = StrictBool | StrictInt | StrictFloat | dt.date | StrictStr
Share = Annotated[float, BeforeValidator(_percent), AfterValidator(_check_share)]
Edges = tuple[float, ...]

_FROZEN = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True)

CONDITION_KEYS: tuple[str, ...] = (
    "equals",
    "not_equals",
    "min",
    "max",
    "between",
    "in",
    "not_in",
    "before",
    "after",
)


class EligibilityRule(BaseModel):
    """One eligibility test on one tape column; a loan is eligible when it passes every rule.

    Parameters
    ----------
    name : str
        How reports name the rule.
    column : str
        A canonical or extra tape column; ``seasoning`` (original minus remaining term)
        is derived when the tape has no such column.
    equals, not_equals : scalar, optional
    min, max : number or date, optional
        Inclusive bounds.
    between : (low, high), optional
        Inclusive range; not together with ``min``/``max``.
    in_, not_in : tuple of scalars, optional
        Allowed / forbidden values (``in`` in a deal file).
    before, after : date, optional
        Strict date bounds.
    allow_missing : bool
        When true a missing value passes; by default it fails.
    """

    model_config = _FROZEN

    name: str = Field(min_length=1)
    column: str = Field(min_length=1)
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    min: Bound | None = None
    max: Bound | None = None
    between: tuple[Bound, Bound] | None = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in")
    not_in: tuple[Scalar, ...] | None = None
    before: dt.date | None = None
    after: dt.date | None = None
    allow_missing: bool = False

    @field_validator("in_", "not_in")
    @classmethod
    def _non_empty(cls, value: tuple[Any, ...] | None) -> tuple[Any, ...] | None:
        if value is not None and not value:
            raise ValueError("needs at least one value")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> EligibilityRule:
        given = self.conditions()
        if not given:
            raise ValueError("rule has no condition; give one of " + ", ".join(CONDITION_KEYS))
        if self.between is not None and (self.min is not None or self.max is not None):
            raise ValueError("use either between or min/max, not both")
        low, high = self.between if self.between is not None else (self.min, self.max)
        if low is not None and high is not None:
            if _is_date(low) != _is_date(high):
                raise ValueError(f"bounds {low!r} and {high!r} mix a date and a number")
            if low > high:  # type: ignore[operator]
                raise ValueError(f"lower bound {low!r} is above upper bound {high!r}")
        if self.after is not None and self.before is not None and self.after >= self.before:
            raise ValueError(f"after {self.after} is not before before {self.before}")
        return self

    def conditions(self) -> dict[str, Any]:
        """The conditions this rule sets, keyed as in a deal file."""
        values = {
            "equals": self.equals,
            "not_equals": self.not_equals,
            "min": self.min,
            "max": self.max,
            "between": self.between,
            "in": self.in_,
            "not_in": self.not_in,
            "before": self.before,
            "after": self.after,
        }
        return {key: value for key, value in values.items() if value is not None}


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date)


class TopObligorLimit(BaseModel):
    """The ``n`` largest obligors together hold at most ``max`` of the pool balance."""

    model_config = _FROZEN

    n: int = Field(ge=1)
    max: Share


class ConcentrationLimits(BaseModel):
    """Maximum shares of pool balance; loans over a limit are trimmed (see ``select_pool``).

    Parameters
    ----------
    max_obligor : float, optional
        Per obligor (``obligor_id``, or ``loan_id`` when the tape has none).
    max_region : float, optional
        Per region (short for ``max_by = {region = ...}``).
    max_by : dict, optional
        Per value of any column, e.g. ``{"grade": 0.30, "product": 0.5}``.
    top_obligors : TopObligorLimit, optional
        The ``n`` largest obligors together.
    target_balance : float, optional
        Accepted here too (as in ``[pool.concentration]``); same as ``PoolCriteria.target_balance``.
    """

    model_config = _FROZEN

    max_obligor: Share | None = None
    max_region: Share | None = None
    max_by: dict[str, Share] = Field(default_factory=dict)
    top_obligors: TopObligorLimit | None = None
    target_balance: float | None = Field(default=None, gt=0)

    def group_limits(self) -> tuple[tuple[str, str, float], ...]:
        """``(limit name, column, share)`` for every per-group limit, in a fixed order."""
        limits: list[tuple[str, str, float]] = []
        if self.max_obligor is not None:
            limits.append(("max_obligor", "obligor_id", self.max_obligor))
        if self.max_region is not None:
            limits.append(("max_region", "region", self.max_region))
        for column, share in self.max_by.items():
            limits.append((f"max_by.{column}", column, share))
        return tuple(limits)


DEFAULT_CATEGORICAL: tuple[str, ...] = ("region", "grade", "product", "amortization")


class StratSpec(BaseModel):
    """Bucket edges for the stratification tables.

    Buckets are left-closed, ``[edge_i, edge_i+1)``; values below the first edge and at
    or above the last get their own bucket.  Columns absent from a tape are skipped
    unless the deal file set their edges explicitly.  ``numeric`` adds strats on any
    other numeric column; ``categorical`` lists the columns stratified by value.
    """

    model_config = _FROZEN

    current_balance: Edges = (
        0,
        5_000,
        10_000,
        15_000,
        20_000,
        25_000,
        30_000,
        50_000,
        100_000,
        250_000,
        500_000,
        1_000_000,
    )
    rate: Edges = (0, 0.05, 0.075, 0.10, 0.125, 0.15, 0.175, 0.20, 0.25, 0.30, 0.36)
    remaining_term: Edges = (0, 12, 24, 36, 48, 60, 84, 120, 180, 240, 360)
    original_term: Edges = (0, 12, 24, 36, 48, 60, 84, 120, 180, 240, 360)
    seasoning: Edges = (0, 1, 3, 6, 12, 24, 36, 60, 120)
    credit_score: Edges = (300, 580, 620, 660, 700, 740, 780, 820)
    days_past_due: Edges = (0, 1, 30, 60, 90, 120)
    numeric: dict[str, Edges] = Field(default_factory=dict)
    categorical: tuple[str, ...] = DEFAULT_CATEGORICAL

    @field_validator(
        "current_balance",
        "rate",
        "remaining_term",
        "original_term",
        "seasoning",
        "credit_score",
        "days_past_due",
    )
    @classmethod
    def _increasing(cls, edges: Edges) -> Edges:
        return _check_edges(edges)

    @field_validator("numeric")
    @classmethod
    def _numeric_increasing(cls, value: dict[str, Edges]) -> dict[str, Edges]:
        for edges in value.values():
            _check_edges(edges)
        return value

    def numeric_strats(self) -> tuple[tuple[str, Edges, bool], ...]:
        """``(column, edges, explicit)`` for every numeric strat, in report order."""
        named = (
            "current_balance",
            "rate",
            "remaining_term",
            "original_term",
            "seasoning",
            "credit_score",
            "days_past_due",
        )
        rows = [(name, getattr(self, name), name in self.model_fields_set) for name in named]
        rows += [(column, edges, True) for column, edges in self.numeric.items()]
        return tuple(rows)

    def categorical_explicit(self) -> bool:
        return "categorical" in self.model_fields_set


def _check_edges(edges: Edges) -> Edges:
    if not edges:
        raise ValueError("needs at least one bucket edge")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError(f"edges {list(edges)} are not strictly increasing")
    return edges


TargetOrder = Literal["random", "loan_id", "largest", "smallest"]


class PoolCriteria(BaseModel):
    """Everything that decides the pool cut: rules, limits, strats and an optional target.

    ``target_balance`` caps the eligible pool: loans are taken in ``target_order`` (a
    seeded shuffle of the loan-id order when ``"random"``); a loan that would take the
    pool over the target is skipped and the next one tried, so the pool fills as close to
    the target as that order allows.  Loans not taken are excluded as ``target_balance``.
    """

    model_config = _FROZEN

    eligibility: tuple[EligibilityRule, ...] = ()
    concentration: ConcentrationLimits | None = None
    strats: StratSpec = StratSpec()
    target_balance: float | None = Field(default=None, gt=0)
    target_order: TargetOrder = "random"
    seed: int = 20240601

    @model_validator(mode="after")
    def _one_target(self) -> PoolCriteria:
        inner = self.concentration.target_balance if self.concentration else None
        if inner is not None and self.target_balance is not None and inner != self.target_balance:
            raise ValueError(
                f"target_balance given twice ({self.target_balance} and "
                f"concentration.target_balance {inner}); give it once"
            )
        return self

    @property
    def effective_target(self) -> float | None:
        """The target balance wherever it was given."""
        if self.target_balance is not None:
            return self.target_balance
        return self.concentration.target_balance if self.concentration else None


# Keys of the deal file's [pool] table that belong to the deal loader, not to pool criteria.
DEAL_LEVEL_KEYS: frozenset[str] = frozenset(
    {"tape", "template", "cutoff", "encoding", "sheet", "assumptions", "scenarios", "revolving"}
)
CRITERIA_KEYS: tuple[str, ...] = (
    "eligibility",
    "concentration",
    "strats",
    "target_balance",
    "target_order",
    "seed",
)


def rule_path(path: str, index: int, name: object) -> str:
    """``pool.eligibility[2] ("grade A-D")``: how messages point at a rule."""
    label = f' ("{name}")' if isinstance(name, str) and name else ""
    return f"{path}.eligibility[{index}]{label}"


# pydantic names the members of a union in an error's location; messages hide them.
_UNION_TAGS = frozenset({"int", "float", "bool", "str", "date"})
_EXPECTED = {
    "min": "a number, a percent string or a date",
    "max": "a number, a percent string or a date",
    "between": "a number, a percent string or a date",
    "before": "a date (2024-06-30)",
    "after": "a date (2024-06-30)",
}


def _problems_from(error: ValidationError, prefix: str, raw: Any) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for item in error.errors():
        loc = [
            part
            for part in item["loc"]
            if not (isinstance(part, str) and (part in _UNION_TAGS or part.startswith("function-")))
        ]
        union = len(loc) != len(item["loc"])
        where = prefix
        for part in loc:
            where += f"[{part}]" if isinstance(part, int) else f".{part}"
        message = item["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        value = item.get("input") if loc else None
        if union and item["type"] not in ("value_error", "assertion_error"):
            if where in seen:
                continue
            field = next((str(p) for p in reversed(loc) if isinstance(p, str)), "")
            expected = _EXPECTED.get(field, "text, a number, true/false or a date")
            message = f"has the wrong type; expected {expected}"
        seen.add(where)
        if item["type"] == "extra_forbidden":
            message = "is not a known key"
            value = None
        elif item["type"] == "missing":
            message = "is required"
            value = None
        elif isinstance(value, (Mapping, list, tuple)):
            value = None
        problems.append(Problem(where=where, value=value, rule=item["type"], message=message))
    return problems


def load_pool_criteria(
    mapping: Mapping[str, Any], *, path: str = "pool", source: str | None = None
) -> PoolCriteria:
    """Validate a deal file's ``[pool]`` table into :class:`PoolCriteria`.

    Deal-level keys (``tape``, ``template``, ``cutoff``, ``encoding``, ``sheet``,
    ``assumptions``, ``scenarios``, ``revolving``) are ignored.  Every problem is collected
    and raised once as a :class:`~absstruct.errors.DealError` naming the TOML field path.

    Parameters
    ----------
    mapping : Mapping
        The ``[pool]`` table as ``tomllib`` returns it.
    path : str
        Prefix of field paths in messages.
    source : str, optional
        The deal file's name, put at the head of the error message.
    """
    if not isinstance(mapping, Mapping):
        raise DealError(f"{path}: expected a table, got {type(mapping).__name__}")
    problems: list[Problem] = []
    for key in mapping:
        if key not in DEAL_LEVEL_KEYS and key not in CRITERIA_KEYS:
            allowed = ", ".join(CRITERIA_KEYS + tuple(sorted(DEAL_LEVEL_KEYS)))
            problems.append(
                Problem(
                    where=f"{path}.{key}",
                    rule="unknown_key",
                    message=f"is not a known key; allowed: {allowed}",
                )
            )

    rules: list[EligibilityRule] = []
    raw_rules = mapping.get("eligibility", [])
    if isinstance(raw_rules, Mapping):  # a single [pool.eligibility] table
        raw_rules = [raw_rules]
    if not isinstance(raw_rules, list):
        problems.append(
            Problem(
                where=f"{path}.eligibility",
                rule="type",
                message="must be an array of tables ([[pool.eligibility]])",
            )
        )
        raw_rules = []
    for index, raw in enumerate(raw_rules):
        name = raw.get("name") if isinstance(raw, Mapping) else None
        prefix = rule_path(path, index, name)
        try:
            rules.append(EligibilityRule.model_validate(raw))
        except ValidationError as error:
            problems += _problems_from(error, prefix, raw)

    parts: dict[str, Any] = {"eligibility": tuple(rules)}
    for key, model in (("concentration", ConcentrationLimits), ("strats", StratSpec)):
        if key in mapping:
            try:
                parts[key] = model.model_validate(mapping[key])
            except ValidationError as error:
                problems += _problems_from(error, f"{path}.{key}", mapping[key])
    scalars = {k: mapping[k] for k in ("target_balance", "target_order", "seed") if k in mapping}
    try:
        PoolCriteria.model_validate(scalars)
    except ValidationError as error:
        problems += _problems_from(error, path, mapping)
    if problems:
        raise DealError.from_problems(problems, source=source)
    try:
        return PoolCriteria.model_validate({**parts, **scalars})
    except ValidationError as error:
        raise DealError.from_problems(_problems_from(error, path, mapping), source=source) from None


__all__ = [
    "CONDITION_KEYS",
    "DEAL_LEVEL_KEYS",
    "ConcentrationLimits",
    "EligibilityRule",
    "PoolCriteria",
    "StratSpec",
    "TopObligorLimit",
    "load_pool_criteria",
    "rule_path",
]
