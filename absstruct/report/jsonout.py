"""Analyst outputs: versioned JSON, a tidy long table (CSV / Parquet) and one file per ledger.

JSON layout (``schema_version`` 2; ``result.schema.json`` beside this module is the JSON
Schema document, and :func:`absstruct.report.schema.validate` checks against it)::

    {
      "schema_version": 2,
      "generator": {"name": "absstruct", "version": "..."},
      "deal": {...},                    # name, currency, dates (ISO strings), day count
      "scenario": {...},                # the assumptions as given
      "summary": {"pricing": {"settlement_date": ..., "yield_convention": ...},
                  "residual_irr": ..., "residual_multiple": ...,
                  "trigger_status": {"<trigger>": <first breach or null>}},
      "tranches": [{"tranche": "Senior A", "size": ..., <tranche_metrics columns>}, ...],
      "ledgers": {"collateral": {"columns": [...], "rows": [[...], ...]}, ...},
      "grid": {"columns": [...], "rows": [...]} or null,   # tranche_metrics, every scenario
      "pool": {"summary": {...}, "strats": {...}, "exclusions": {...}} or null
    }

Deterministic: keys in a fixed order, floats in Python's shortest round-trip form, NaN and
infinities as ``null``, dates as ``YYYY-MM-DD``, no timestamps — identical inputs give
identical bytes.  Version 2 (from 1): a tranche object carries the shown scenario's row
of ``tranche_metrics`` under its own column names (``principal_loss_pct``,
``first_principal_date`` ... replace ``loss_pct``, ``window_start`` ...), the grid is that
table for every scenario, and the summary gains ``pricing`` and ``residual_multiple``.

The tidy table has one row per observation: ``ledger, name, period, date, measure,
value`` (``name`` is the tranche, account, trigger or step; ``pool`` / ``curves`` for the
pool-level ledgers); missing values are left out rather than written as empty cells.

Examples
--------
>>> from absstruct.report.sample import sample_report
>>> data = sample_report(n_periods=6, n_tranches=2)
>>> payload = result_payload(data)
>>> payload["schema_version"], list(payload["ledgers"])[:2]
(2, ['collateral', 'tranche_flows'])
>>> tidy = tidy_frame(data)
>>> list(tidy.columns)
['ledger', 'name', 'period', 'date', 'measure', 'value']
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from absstruct.errors import AbsStructError
from absstruct.report.atomic import atomic_path
from absstruct.report.data import LEDGER_KEYS, ReportData

SCHEMA_VERSION = 2
TIDY_COLUMNS: tuple[str, ...] = ("ledger", "name", "period", "date", "measure", "value")
# Which column names the entity in each ledger (None: one entity, named after the ledger).
_NAME_COLUMN: dict[str, str | None] = {
    "collateral": None,
    "tranche_flows": "tranche",
    "waterfall": "step",
    "accounts": "account",
    "triggers": "trigger",
    "curves": None,
}
_POOL_NAME = {"collateral": "pool", "curves": "curves"}


def _version() -> str:
    try:
        return metadata.version("absstruct")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "unknown"


def plain(value: Any) -> Any:
    """A JSON-ready value: dates as ISO strings, NaN/inf as None, numpy scalars unwrapped."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date().isoformat()
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return 0.0 if value == 0 else value  # no "-0.0"
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def file_frame(frame: pd.DataFrame, *, empty_text_as_missing: bool = False) -> pd.DataFrame:
    """A ledger as written to files: dates as ISO strings, everything else unchanged.

    With ``empty_text_as_missing`` (the CSV / Parquet ledger files), empty text is written
    as a missing value and a text column with no value left as an empty float column:
    a CSV cannot tell an empty text from a missing one, and pandas reads both as missing.
    Reading the CSV or Parquet back with pandas gives this frame again.
    """
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d").astype("str")
        elif pd.api.types.is_object_dtype(out[column]) and len(out[column].dropna()):
            first = out[column].dropna().iloc[0]
            if isinstance(first, dt.date):
                out[column] = [plain(v) for v in out[column]]
        if empty_text_as_missing and pd.api.types.is_string_dtype(out[column]):
            text = out[column].astype("str")
            text = text.mask(text == "")
            out[column] = text if text.notna().any() else np.full(len(text), np.nan)
    return out


def _table(frame: pd.DataFrame) -> dict[str, Any]:
    written = file_frame(frame)
    columns = [str(c) for c in written.columns]
    rows = [[plain(v) for v in row] for row in written.itertuples(index=False, name=None)]
    return {"columns": columns, "rows": rows}


def _trigger_status(data: ReportData) -> dict[str, int | None]:
    status: dict[str, int | None] = {}
    for name, group in data.triggers.groupby("trigger", sort=False):
        breached = group.loc[group["breached"].astype(bool), "period"]
        status[str(name)] = int(breached.iloc[0]) if len(breached) else None
    return status


def result_payload(data: ReportData) -> dict[str, Any]:
    """The JSON document (as Python objects) for a run, in its fixed key order."""
    pool = None
    if data.pool is not None:
        pool = {
            "summary": plain(dict(data.pool.summary)),
            "strats": {str(k): _table(v) for k, v in data.pool.strats.items()},
            "exclusions": _table(data.pool.exclusion_table()),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": {"name": "absstruct", "version": _version()},
        "deal": plain(dict(data.deal)),
        "scenario": plain(dict(data.scenario)),
        "summary": {
            "pricing": plain(dict(data.pricing)),
            "residual_irr": plain(data.residual_irr),
            "residual_multiple": plain(data.residual_multiple),
            "trigger_status": _trigger_status(data),
        },
        "tranches": [
            {str(k): plain(v) for k, v in row.items()}
            for row in file_frame(data.tranches).to_dict(orient="records")
        ],
        "ledgers": {name: _table(frame) for name, frame in data.ledgers().items()},
        "grid": None if data.grid is None else _table(data.grid),
        "pool": pool,
    }


def result_json(data: ReportData) -> str:
    """The JSON text for a run: deterministic bytes for identical inputs."""
    return json.dumps(result_payload(data), ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def tidy_frame(data: ReportData) -> pd.DataFrame:
    """Every ledger as one long table ``ledger, name, period, date, measure, value``."""
    parts = []
    for ledger, frame in data.ledgers().items():
        name_column = _NAME_COLUMN[ledger]
        keys = set(LEDGER_KEYS[ledger]) | {"priority"}
        measures = [
            c
            for c in frame.columns
            if c not in keys
            and (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
        ]
        names = (
            frame[name_column].astype("str")
            if name_column
            else pd.Series([_POOL_NAME[ledger]] * len(frame), dtype="str")
        )
        dates = file_frame(frame[["date"]])["date"].astype("str")
        for measure in measures:
            values = frame[measure].to_numpy(dtype=float)
            keep = np.isfinite(values)
            parts.append(
                pd.DataFrame(
                    {
                        "ledger": pd.Series([ledger] * int(keep.sum()), dtype="str"),
                        "name": names.to_numpy()[keep],
                        "period": frame["period"].to_numpy(dtype=np.int64)[keep],
                        "date": dates.to_numpy()[keep],
                        "measure": pd.Series([measure] * int(keep.sum()), dtype="str"),
                        "value": values[keep],
                    }
                )
            )
    tidy = pd.concat(parts, ignore_index=True)
    for column in ("ledger", "name", "date", "measure"):
        tidy[column] = tidy[column].astype("str")
    return tidy


def write_json(data: ReportData, path: str | os.PathLike[str]) -> None:
    """Write :func:`result_json` to ``path`` atomically."""
    text = result_json(data)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_tidy(data: ReportData, path: str | os.PathLike[str]) -> None:
    """Write the tidy long table to ``.csv`` or ``.parquet``, atomically."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise AbsStructError(f"{path}: the tidy table is written as .csv or .parquet")
    frame = tidy_frame(data)
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False, float_format=None)
        else:
            frame.to_parquet(tmp, index=False)


def write_ledger_folder(
    data: ReportData, folder: str | os.PathLike[str], *, fmt: str = "csv"
) -> list[Path]:
    """One file per table in ``folder``: tranches, each ledger, the grid, and result.json.

    Each file is written atomically; the folder is created when missing.
    """
    if fmt not in ("csv", "parquet"):
        raise AbsStructError(f"format: {fmt!r} is not csv or parquet")
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise AbsStructError(f"{folder}: exists and is not a folder")
    tables = {"tranches": data.tranches, **data.ledgers()}
    if data.grid is not None:
        tables["grid"] = data.grid
    written = []
    for name, frame in tables.items():
        target = folder / f"{name}.{fmt}"
        out = file_frame(frame, empty_text_as_missing=True)
        with atomic_path(target) as tmp:
            if fmt == "csv":
                out.to_csv(tmp, index=False)
            else:
                out.to_parquet(tmp, index=False)
        written.append(target)
    target = folder / "result.json"
    write_json(data, target)
    written.append(target)
    return written
