"""Eligibility rules meet a tape: type checks with the rule's path, then vectorised tests.

:func:`check_rules` finds every rule that names an unknown column or compares a column
with values of the wrong type, and raises one :class:`~absstruct.errors.DealError`.
:func:`failures` returns a boolean matrix (rules x loans): ``True`` where a loan fails.

Examples
--------
>>> import pandas as pd
>>> from absstruct.pool.criteria import EligibilityRule
>>> tape = pd.DataFrame({"loan_id": ["a", "b", "c"], "grade": ["A", "E", None],
...                      "rate": [0.05, 0.30, 0.10]})
>>> rules = (EligibilityRule(name="grade A-D", column="grade", in_=("A", "B", "C", "D")),
...          EligibilityRule(name="rate cap", column="rate", max="25%"))
>>> failures(tape, rules).tolist()
[[False, True, True], [False, True, False]]
>>> failures(pd.DataFrame({"loan_id": ["a"]}), rules[:1])
Traceback (most recent call last):
...
absstruct.errors.DealError: 1 problem
  pool.eligibility[0] ("grade A-D").column: 'grade' is not a tape column; columns: loan_id
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd

from absstruct.errors import DealError, Problem
from absstruct.pool.criteria import EligibilityRule, rule_path

ColumnKind = Literal["number", "date", "text", "bool"]

# Columns a rule may name although a tape need not carry them: derived on the fly.
DERIVED_COLUMNS: tuple[str, ...] = ("seasoning",)


def with_derived(tape: pd.DataFrame) -> pd.DataFrame:
    """Add ``seasoning`` (original minus remaining term, months) when the tape lacks it."""
    if "seasoning" in tape.columns:
        return tape
    if {"original_term", "remaining_term"} <= set(tape.columns):
        seasoning = tape["original_term"] - tape["remaining_term"]
        return tape.assign(seasoning=seasoning)
    return tape


def column_kind(series: pd.Series) -> ColumnKind:
    """Classify a column by what rules may compare it with."""
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_numeric_dtype(series):
        return "number"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    return "text"


def _value_kind(value: Any) -> ColumnKind:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, dt.date):
        return "date"
    return "text"


_KIND_WORDS = {
    "number": "a number",
    "date": "a date",
    "text": "text",
    "bool": "true/false",
}
_ORDERED = ("min", "max", "between", "before", "after")


def _fits(value: Any, kind: ColumnKind) -> bool:
    found = _value_kind(value)
    if kind == "date" and found == "text":
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            return False
        return True
    if kind == "number" and found == "bool":
        return False
    return found == kind


def check_rules(
    tape: pd.DataFrame, rules: Sequence[EligibilityRule], *, path: str = "pool"
) -> list[Problem]:
    """Every reason a rule cannot be applied to ``tape`` (unknown column, wrong value type)."""
    tape = with_derived(tape)
    columns = list(tape.columns)
    problems: list[Problem] = []
    for index, rule in enumerate(rules):
        where = rule_path(path, index, rule.name)
        if rule.column not in tape.columns:
            problems.append(
                Problem(
                    where=f"{where}.column",
                    value=rule.column,
                    rule="unknown_column",
                    message=f"is not a tape column; columns: {', '.join(map(str, columns))}",
                )
            )
            continue
        kind = column_kind(tape[rule.column])
        for key, given in rule.conditions().items():
            values = given if isinstance(given, tuple) else (given,)
            if key in _ORDERED and kind not in ("number", "date"):
                message = (
                    f"needs a number or date column but {rule.column!r} holds "
                    f"{_KIND_WORDS[kind]}; use equals / in / not_in"
                )
            elif key in ("before", "after") and kind != "date":
                message = f"needs a date column but {rule.column!r} holds {_KIND_WORDS[kind]}"
            elif not all(_fits(v, kind) for v in values):
                message = f"does not match column {rule.column!r}, which holds {_KIND_WORDS[kind]}"
            else:
                continue
            shown = list(given) if isinstance(given, tuple) else given
            problems.append(
                Problem(where=f"{where}.{key}", value=shown, rule="wrong_type", message=message)
            )
    return problems


def _as_array(series: pd.Series, kind: ColumnKind) -> np.ndarray:
    if kind == "number":
        return series.to_numpy(dtype=float, na_value=np.nan)
    if kind == "date":
        return series.to_numpy(dtype="datetime64[ns]")
    return series.to_numpy()


def _scalar(value: Any, kind: ColumnKind) -> Any:
    if kind == "date":
        if isinstance(value, str):
            value = dt.date.fromisoformat(value)
        return np.datetime64(value, "ns")
    if kind == "number":
        return float(value)
    return value


def rule_passes(tape: pd.DataFrame, rule: EligibilityRule) -> np.ndarray:
    """Boolean array: which loans pass ``rule`` (the column must exist and fit)."""
    series = tape[rule.column]
    kind = column_kind(series)
    missing = series.isna().to_numpy()
    passes = np.ones(len(series), dtype=bool)
    values = _as_array(series, kind)
    conditions = rule.conditions()
    with np.errstate(invalid="ignore"):
        if "equals" in conditions:
            passes &= values == _scalar(conditions["equals"], kind)
        if "not_equals" in conditions:
            passes &= values != _scalar(conditions["not_equals"], kind)
        low, high = conditions.get("between", (conditions.get("min"), conditions.get("max")))
        if low is not None:
            passes &= values >= _scalar(low, kind)
        if high is not None:
            passes &= values <= _scalar(high, kind)
        if "after" in conditions:
            passes &= values > _scalar(conditions["after"], kind)
        if "before" in conditions:
            passes &= values < _scalar(conditions["before"], kind)
    if "in" in conditions:
        passes &= series.isin([_scalar(v, kind) for v in conditions["in"]]).to_numpy()
    if "not_in" in conditions:
        passes &= ~series.isin([_scalar(v, kind) for v in conditions["not_in"]]).to_numpy()
    # A missing value is unknown: it fails unless the rule allows it.
    return np.where(missing, rule.allow_missing, passes)


def failures(
    tape: pd.DataFrame, rules: Sequence[EligibilityRule], *, path: str = "pool"
) -> np.ndarray:
    """``(len(rules), len(tape))`` boolean matrix, ``True`` where a loan fails a rule."""
    problems = check_rules(tape, rules, path=path)
    if problems:
        raise DealError.from_problems(problems)
    tape = with_derived(tape)
    matrix = np.zeros((len(rules), len(tape)), dtype=bool)
    for index, rule in enumerate(rules):
        matrix[index] = ~rule_passes(tape, rule)
    return matrix


__all__ = [
    "DERIVED_COLUMNS",
    "check_rules",
    "column_kind",
    "failures",
    "rule_passes",
    "with_derived",
]
