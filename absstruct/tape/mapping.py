"""Apply a mapping template to raw columns: find headers, parse, map codes, fill, derive.

Everything here works on whole columns (numpy arrays), and text work on distinct values
only.  Problems found while parsing (unparseable values, unknown codes, missing required
columns or cells) go to the :class:`~absstruct.tape.report.ProblemLog`; range and
consistency rules live in :mod:`absstruct.tape.validate`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from absstruct.errors import Problem
from absstruct.tape.excel_errors import ErrorCell
from absstruct.tape.parse import (
    DATE_DTYPE,
    DEFAULT_DATE_FORMATS,
    FIRST_DAY,
    LAST_DAY,
    add_months,
    months_between,
    parse_date,
    parse_number,
    parse_text,
)
from absstruct.tape.readers import RawTable, normalise_header
from absstruct.tape.report import ProblemLog
from absstruct.tape.schedule import scheduled_balance_fraction
from absstruct.tape.schema import CANONICAL_ORDER, COLUMNS, Column
from absstruct.tape.template import ColumnRule, Template

_RATE_COLUMNS = ("rate", "margin", "fee_rate", "participation")


@dataclass(kw_only=True)
class Mapped:
    """Canonical columns as arrays, where each came from, and the kept extra columns."""

    n: int
    # numpy arrays for numbers and dates; pandas "str" Series for text and codes
    values: dict[str, Any] = field(default_factory=dict)
    header: dict[str, str] = field(default_factory=dict)  # canonical -> header shown to users
    raw: dict[str, pd.Series] = field(default_factory=dict)  # canonical -> raw source column
    extras: dict[str, pd.Series] = field(default_factory=dict)
    # canonical -> (the values as parsed, work started on them in the background); the
    # result holds only while ``values[name]`` is still that same object.
    ahead: dict[str, tuple[Any, Future[Any]]] = field(default_factory=dict)

    def shown(self, column: str) -> str:
        return self.header.get(column, column)


_IDENTIFIERS = ("loan_id", "obligor_id")


def template_headers(template: Template) -> tuple[set[str], set[str], set[str], set[str]]:
    """Normalised headers the template may read; those parsed as numbers or dates; those
    holding codes or few distinct values (read dictionary-encoded: fast factorize); and
    those parsed as numbers only."""
    known: set[str] = set()
    typed: set[str] = set()
    coded: set[str] = set()
    numbers: set[str] = set()
    for name, column in COLUMNS.items():
        headers = {normalise_header(h) for h in template.headers_for(name)}
        known |= headers
        if column.kind in ("number", "integer", "date"):
            typed |= headers
            if column.kind != "date":
                numbers |= headers
        elif name not in _IDENTIFIERS:
            coded |= headers
    dates = typed - numbers
    return known, typed, coded - typed, numbers - dates


def map_columns(
    raw: RawTable,
    template: Template,
    *,
    cutoff: dt.date | None,
    log: ProblemLog,
    ahead: Mapping[str, Callable[[Any], Future[Any]]] | None = None,
) -> Mapped:
    """Parse every canonical column the template finds in ``raw``; derive and fill the rest.

    ``ahead`` starts work on a column as soon as it is parsed (e.g. hashing loan ids on
    another thread while the other columns are mapped); see :attr:`Mapped.ahead`.
    """
    frame = raw.frame
    index: dict[str, str] = {}
    for name in frame.columns:
        index.setdefault(normalise_header(name), name)
    mapped = Mapped(n=len(frame))
    used: set[str] = set()
    for name in CANONICAL_ORDER:
        column = COLUMNS[name]
        rule = template.rule(name)
        header = next(
            (index[k] for k in map(normalise_header, template.headers_for(name)) if k in index),
            None,
        )
        if header is None:
            continue
        used.add(header)
        mapped.header[name] = header
        mapped.raw[name] = frame[header]
        mapped.values[name] = _parse_column(frame[header], column, rule, header=header, log=log)
        if ahead and name in ahead:
            mapped.ahead[name] = (mapped.values[name], ahead[name](mapped.values[name]))
    _derive(mapped, template, cutoff=cutoff, log=log)
    _check_missing(mapped, template, log=log, error_cells=raw.error_cells)
    keep_raw = {normalise_header(h) for h in template.keep_raw}
    for name in frame.columns:
        if name not in used or normalise_header(name) in keep_raw:
            mapped.extras[name] = frame[name]
    return mapped


# --------------------------------------------------------------------------- parsing


def _parse_column(
    series: pd.Series, column: Column, rule: ColumnRule, *, header: str, log: ProblemLog
) -> np.ndarray:
    name = column.name
    if column.kind in ("number", "integer"):
        default_unit = "decimal" if name in _RATE_COLUMNS else ""
        if column.unit == "months":
            default_unit = "months"
        values, bad = parse_number(series, unit=rule.unit or default_unit, scale=rule.scale)
        log.mask(
            bad,
            column=header,
            rule="not_a_number",
            values=series,
            message=f"is not a number ({name})",
        )
        if column.kind == "integer":
            fractional = ~np.isnan(values) & (values != np.round(values))
            log.mask(
                fractional,
                column=header,
                rule="not_whole_number",
                values=series,
                message=f"is not a whole number ({name} is in whole {column.unit or 'units'})",
            )
        return values
    if column.kind == "date":
        values, bad = parse_date(series, formats=rule.formats)
        shown = ", ".join((*rule.formats, *DEFAULT_DATE_FORMATS[:4]))
        log.mask(
            bad,
            column=header,
            rule="not_a_date",
            values=series,
            message=(
                f"is not a date (tried {shown}, Excel serial numbers; "
                f"dates run {FIRST_DAY} to {LAST_DAY})"
            ),
        )
        return values
    if column.kind == "text" and not (rule.values or rule.strip_prefix):
        if isinstance(series.dtype, pd.CategoricalDtype):
            return _map_codes(series, column, rule, header=header, log=log)
        return parse_text(series)
    return _map_codes(series, column, rule, header=header, log=log)


def _code_key(value: str) -> str:
    return re.sub(r"[\s\-]+", "_", value.strip().casefold())


def _factorize_text(series: pd.Series) -> tuple[np.ndarray, list[object]]:
    """Codes and distinct values; free for dictionary-encoded (categorical) columns."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.codes.to_numpy(), list(series.cat.categories)
    codes, uniques = pd.factorize(parse_text(series), use_na_sentinel=True)
    return codes, list(uniques)


def _map_codes(
    series: pd.Series,
    column: Column,
    rule: ColumnRule,
    *,
    header: str,
    log: ProblemLog,
) -> pd.Series:
    """Map each distinct value (prefixes stripped, ``values`` looked up) to its code."""
    codes, uniques = _factorize_text(series)
    lookup = {_code_key(k): v for k, v in rule.values.items()}
    canonical = {_code_key(c): c for c in column.codes}
    mapped: list[str | None] = []
    unknown: list[bool] = []
    for raw in uniques:
        value = str(raw).strip()
        for prefix in rule.strip_prefix:
            if value.startswith(prefix):
                value = value[len(prefix) :].strip()
        key = _code_key(value)
        if not value:
            target: str | None = None
            unknown.append(False)
            mapped.append(None)
            continue
        if key in lookup:
            target = lookup[key]
        elif column.kind == "text":
            target = value
        else:
            target = canonical.get(key)
        unknown.append(target is None)
        mapped.append(target or None)  # mapping to "" means "blank: fill or derive"
    codes = np.where(codes < 0, len(mapped), codes)
    flags = np.array([*unknown, False], dtype=bool)
    if flags.any():
        allowed = ", ".join(column.codes)
        log.mask(
            flags[codes],
            column=header,
            rule="unknown_code",
            values=series,
            message=(
                f"is not a known {column.name} code; allowed: {allowed} (or map it "
                f"under [columns.{column.name}.values] in the template)"
            ),
        )
    return pd.Series(pd.array([*mapped, None], dtype="str").take(codes))


def _missing(values: np.ndarray | pd.Series) -> np.ndarray:
    if isinstance(values, pd.Series):
        return values.isna().to_numpy()
    if values.dtype.kind == "M":
        return np.isnat(values)
    return np.isnan(values)


def _empty(column: Column, n: int) -> np.ndarray | pd.Series:
    if column.kind in ("number", "integer"):
        return np.full(n, np.nan)
    if column.kind == "date":
        return np.full(n, np.datetime64("NaT"), dtype=DATE_DTYPE)
    return pd.Series(np.full(n, None, dtype=object), dtype="str")


def _fill(mapped: Mapped, name: str, fill: Callable[[], object] | object) -> None:
    """Fill the missing cells of ``name`` (creating the column when absent).

    ``fill`` is a scalar, an array/Series, or a function computing one (called only when
    something is missing, so derivations cost nothing on complete tapes).
    """
    values = mapped.values.get(name)
    if values is None and isinstance(fill, str):
        # A constant text column: one value repeated (arrow take, no Python objects).
        repeat = np.zeros(mapped.n, dtype=np.intp)
        mapped.values[name] = pd.Series(pd.array([fill], dtype="str").take(repeat))
        return
    if values is None and isinstance(fill, float):
        mapped.values[name] = np.full(mapped.n, fill)  # a default for an absent column
        return
    values = _empty(COLUMNS[name], mapped.n) if values is None else values
    gap = _missing(values)
    if not gap.any():
        mapped.values[name] = values
        return
    if callable(fill):
        fill = fill()
    if isinstance(values, pd.Series):
        other = pd.Series(fill, dtype="str") if not isinstance(fill, str) else fill
        mapped.values[name] = values.mask(gap, other)
        return
    values = values.copy()
    values[gap] = fill[gap] if isinstance(fill, np.ndarray) else fill
    mapped.values[name] = values


def _apply_default(mapped: Mapped, name: str, template: Template) -> None:
    rule = template.rule(name)
    default = rule.default if rule.default is not None else COLUMNS[name].default
    if default is None:
        return
    if COLUMNS[name].kind in ("number", "integer"):
        default = float(default)  # type: ignore[arg-type]
    _fill(mapped, name, default)


def _derive(mapped: Mapped, template: Template, *, cutoff: dt.date | None, log: ProblemLog) -> None:
    n = mapped.n
    derived = {name for name in COLUMNS if template.rule(name).derive}
    for name in CANONICAL_ORDER:
        if name not in derived:
            _apply_default(mapped, name, template)

    id_rule = template.rule("loan_id")
    if id_rule.derive == "row_number":
        width = max(6, len(str(n)))
        prefix = id_rule.id_prefix
        _fill(
            mapped,
            "loan_id",
            lambda: prefix + pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(width),
        )
    if "loan_id" in mapped.values:
        _fill(mapped, "obligor_id", mapped.values["loan_id"])

    values = mapped.values
    term = values.get("original_term")
    origination = values.get("origination_date")
    if term is not None and origination is not None:
        _fill(mapped, "maturity_date", lambda: add_months(origination, term))

    if template.rule("remaining_term").derive == "dates":
        _derive_remaining(mapped, template, cutoff=cutoff, log=log)
    _apply_default(mapped, "remaining_term", template)

    if template.rule("current_balance").derive == "schedule":
        needed = ("original_balance", "rate", "original_term", "remaining_term", "amortization")
        if all(k in values for k in needed):

            def scheduled() -> np.ndarray:
                fraction = scheduled_balance_fraction(
                    rate=values["rate"],
                    original_term=values["original_term"],
                    age=values["original_term"] - values["remaining_term"],
                    amortization=values["amortization"].to_numpy(dtype=object, na_value=None),
                )
                return values["original_balance"] * fraction

            _fill(mapped, "current_balance", scheduled)
    _apply_default(mapped, "current_balance", template)

    if template.rule("status").derive == "days_past_due" and "days_past_due" in values:
        dpd = values["days_past_due"]
        _fill(mapped, "status", lambda: np.where(dpd > 0, "delinquent", "current"))
    for name in derived:
        _apply_default(mapped, name, template)


def _derive_remaining(
    mapped: Mapped, template: Template, *, cutoff: dt.date | None, log: ProblemLog
) -> None:
    values = mapped.values
    term = values.get("original_term")
    if cutoff is None:
        if template.rule("remaining_term").without_cutoff == "original_term" and term is not None:
            _fill(mapped, "remaining_term", term)
        return
    at = np.full(mapped.n, np.datetime64(cutoff, "D")).astype(DATE_DTYPE)
    origination = values.get("origination_date")
    maturity = values.get("maturity_date")
    if origination is not None and term is not None:
        age = months_between(origination, at)
        after = age < 0
        log.mask(
            after,
            column=mapped.shown("origination_date"),
            rule="originated_after_cutoff",
            values=origination,
            severity="warning",
            message=f"is after the cut-off date {cutoff.isoformat()}; age counted as 0",
        )
        _fill(mapped, "remaining_term", np.clip(term - np.maximum(age, 0), 0, None))
    if maturity is not None:
        months = months_between(at, maturity)
        left = months + (_day(maturity) > _day(at))
        _fill(mapped, "remaining_term", np.clip(left, 0, None))


def _day(dates: np.ndarray) -> np.ndarray:
    return (
        dates.astype("datetime64[D]") - dates.astype("datetime64[M]").astype("datetime64[D]")
    ).astype("int64")


def _check_missing(
    mapped: Mapped,
    template: Template,
    *,
    log: ProblemLog,
    error_cells: dict[str, list[tuple[int, ErrorCell]]],
) -> None:
    for column in COLUMNS.values():
        if not column.required:
            continue
        values = mapped.values.get(column.name)
        if values is None:
            looked = ", ".join(template.headers_for(column.name)) or "(none configured)"
            if template.rule(column.name).derive == "dates":
                looked += "; or give a cut-off date (--cutoff) to derive it from the dates"
            log.add(
                Problem(
                    where=f"column {column.name}",
                    value=None,
                    rule="missing_column",
                    message=(
                        f"required column not found; looked for header(s): {looked}. "
                        "Add the header or map it in the template"
                    ),
                )
            )
            continue
        if mapped.n == 0:
            continue
        gap = _missing(values)
        if column.name in mapped.raw:
            gap = gap & (
                mapped.raw[column.name].isna().to_numpy() | _blank_raw(mapped.raw[column.name])
            )
        # A spreadsheet error cell is reported as such already; it is not also "blank".
        for at, _ in error_cells.get(mapped.header.get(column.name, ""), ()):
            gap[at] = False
        log.mask(
            gap,
            column=mapped.shown(column.name),
            rule="missing_value",
            message=f"is blank; {column.name} is required",
        )


def _blank_raw(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_string_dtype(series.dtype) or series.dtype == object:
        return (series.astype("str").str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return np.zeros(len(series), dtype=bool)
