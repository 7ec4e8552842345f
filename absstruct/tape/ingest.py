"""Read a loan tape through a mapping template into the canonical frame, with every problem.

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tape.csv"
>>> _ = path.write_text(
...     "loan_id,original_balance,current_balance,rate,original_term,remaining_term,amortization\\n"
...     "0001,1000,800,0.12,12,9,level_pay\\n0002,500,500,12.5,6,6,level_pay\\n")
>>> report = read_tape(path)
>>> report.frame["loan_id"].tolist()
['0001', '0002']
>>> [str(p) for p in report.errors]  # doctest: +ELLIPSIS
['row 3, column rate: 12.5 looks like a percent; ...']
>>> report.summary()["loans"], report.summary()["errors"]
(2, 1)
"""

from __future__ import annotations

import datetime as dt
import os
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from absstruct.errors import MAX_LISTED, TapeError
from absstruct.tape.mapping import Mapped, map_columns, template_headers
from absstruct.tape.parse import is_blank
from absstruct.tape.readers import RawTable, describe_error_cell, normalise_header, read_raw
from absstruct.tape.report import ProblemLog, TapeReport
from absstruct.tape.schema import CANONICAL_ORDER, COLUMNS
from absstruct.tape.template import Template, load_template
from absstruct.tape.validate import duplicate_ids, validate

_LEADING_ZERO = re.compile(r"^[+-]?0\d")


def read_tape(
    path: str | os.PathLike[str],
    *,
    template: str | os.PathLike[str] | Template = "canonical",
    cutoff: dt.date | str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> TapeReport:
    """Read, map and validate a tape; bad rows become problems, never exceptions.

    Parameters
    ----------
    path : path-like
        ``.csv`` (``.csv.gz``, ``.txt``), ``.xlsx``/``.xls`` or ``.parquet``.
    template : str, path or Template
        A shipped template name (see :func:`template_names`) or a ``.toml`` path.
    cutoff : date or ISO string, optional
        Cut-off date for derived fields (remaining term from dates).
    encoding : str, optional
        Text encoding of a CSV; detected when omitted (UTF-8, UTF-8 with BOM, GBK/GB18030).
    sheet : str, optional
        Spreadsheet sheet name (default: the first sheet).

    Returns
    -------
    TapeReport
        Problems name rows as the user sees them: for CSV the line number (header = row
        1), for spreadsheets the sheet row (a title above the header counts), for Parquet
        the 1-based record number.

    Raises
    ------
    TapeError
        Only when the file cannot be read at all (missing, empty, undecodable, not a
        table) or the template is invalid.
    """
    spec = load_template(template)
    at = _as_date(cutoff)
    known, typed, coded, numbers = template_headers(spec)
    raw = read_raw(
        path,
        encoding=encoding,
        sheet=sheet,
        text_headers=_TextHeaders(typed),
        coded_headers=coded,
        number_headers=numbers,
        header_hints=known,
    )
    log = ProblemLog(rows=raw.rows)
    for problem in raw.problems:
        log.add(problem)
    _report_error_cells(raw, log)
    with ThreadPoolExecutor(max_workers=1) as worker:
        # Hashing a million loan ids is the slowest check; Arrow does it without the GIL,
        # so it runs beside the mapping of the other columns.
        ahead = {"loan_id": lambda ids: worker.submit(duplicate_ids, ids)}
        mapped = map_columns(raw, spec, cutoff=at, log=log, ahead=ahead)
        validate(mapped, log=log)
    frame = _canonical_frame(mapped, raw)
    return TapeReport(
        frame=frame,
        problems=tuple(log.problems),
        counts=dict(log.counts),
        source=str(path),
        template=spec.name,
        encoding=raw.encoding,
        sheet=raw.sheet,
        cutoff=at,
    )


def load_tape(
    path: str | os.PathLike[str],
    *,
    template: str | os.PathLike[str] | Template = "canonical",
    cutoff: dt.date | str | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
) -> pd.DataFrame:
    """The canonical frame of a clean tape; raises :class:`TapeError` listing every error."""
    report = read_tape(path, template=template, cutoff=cutoff, encoding=encoding, sheet=sheet)
    if not report.ok:
        raise tape_error(report)
    return report.frame


def tape_error(report: TapeReport) -> TapeError:
    """One error naming the exact error count and listing the first errors."""
    errors = report.errors
    lines = [f"{report.source}: {report.error_count} error(s) in the tape"]
    lines += [f"  {p}" for p in errors[:MAX_LISTED]]
    if report.error_count > MAX_LISTED:
        lines.append(f"  ... and {report.error_count - MAX_LISTED} more")
    return TapeError("\n".join(lines), problems=errors)


def _report_error_cells(raw: RawTable, log: ProblemLog) -> None:
    """One problem per error cell (the count exact, the first few listed per column)."""
    for column, hits in raw.error_cells.items():
        for rule in sorted({describe_error_cell(cell, raw.sheet)[0] for _, cell in hits}):
            mask = np.zeros(len(raw.frame), dtype=bool)
            values = np.empty(len(raw.frame), dtype=object)
            messages = np.empty(len(raw.frame), dtype=object)
            for at, cell in hits:
                cell_rule, message = describe_error_cell(cell, raw.sheet)
                if cell_rule == rule:
                    mask[at], values[at], messages[at] = True, cell.text, message
            log.mask(mask, column=column, rule=rule, values=values, messages=messages)


class _TextHeaders:
    """Every header is text except those the template parses as numbers or dates."""

    def __init__(self, typed: set[str]) -> None:
        self.typed = typed

    def __contains__(self, header: object) -> bool:
        return header not in self.typed


def _as_date(value: dt.date | str | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise TapeError(f"cutoff {value!r} is not a date like 2026-06-30") from None


def _canonical_frame(mapped: Mapped, raw: RawTable) -> pd.DataFrame:
    data: dict[str, object] = {}
    for name in CANONICAL_ORDER:
        values = mapped.values.get(name)
        if values is None:
            continue
        kind = COLUMNS[name].kind
        if kind == "integer":
            data[name] = _integer(values)
        elif kind in ("text", "code"):
            data[name] = pd.Series(values, dtype="str").array
        else:
            data[name] = values
    taken = set(data)
    for header, series in mapped.extras.items():
        name = _snake(header)
        if name in taken:
            name = f"source_{name}"
        while name in taken:
            name += "_"
        taken.add(name)
        data[name] = _safe_numeric(series)
    # copy=False: the arrays are ours already; consolidating them would copy every column.
    return pd.DataFrame(data, index=pd.RangeIndex(mapped.n), copy=False)


def _integer(values: np.ndarray) -> object:
    """int64 when complete; nullable Int64 with gaps; float64 if a fraction slipped in."""
    gap = np.isnan(values)
    # One cast serves as both the whole-number test and the result (NaN and values beyond
    # int64 cast to garbage that never equals the float, so they fail the test or are gaps).
    with np.errstate(invalid="ignore"):
        whole = values.astype("int64")
    if not ((whole == values) | gap).all():
        return values  # a not_whole_number error is already reported
    if gap.any():
        return pd.arrays.IntegerArray(np.where(gap, 0, whole), gap)
    return whole


def _snake(header: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", str(header))  # camelCase -> camel_Case
    name = re.sub(r"[^\w]+", "_", normalise_header(spaced)).strip("_")
    return name or "column"


def _safe_numeric(series: pd.Series) -> pd.Series:
    """Extra text columns become numbers only when nothing could be lost (no leading zeros)."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype("str")
    if not (pd.api.types.is_string_dtype(series.dtype) and series.dtype != object):
        return series.reset_index(drop=True)
    head = series.dropna().head(50)
    if head.empty or pd.to_numeric(head, errors="coerce").isna().any():
        return series.reset_index(drop=True)
    numbers = pd.to_numeric(series, errors="coerce")
    lost = numbers.isna().to_numpy() & ~is_blank(series)
    if lost.any() or series.str.strip().str.match(_LEADING_ZERO).fillna(False).any():
        return series.reset_index(drop=True)
    return numbers.reset_index(drop=True)
