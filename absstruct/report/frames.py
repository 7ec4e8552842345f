"""Write DataFrames by file extension (.csv, .parquet, .xlsx, .json), atomically.

This is the analyst-output writer shared by every command that has a ``-o FILE`` option;
the formatted investor workbook lives in its own module.

Examples
--------
>>> import pandas as pd, pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "flows.csv"
>>> write_frame(pd.DataFrame({"period": [1, 2], "balance": [100.0, 50.0]}), path)
>>> print(path.read_text().strip())
period,balance
1,100.0
2,50.0
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from absstruct.errors import AbsStructError
from absstruct.report.atomic import atomic_path

FRAME_SUFFIXES = (".csv", ".parquet", ".xlsx", ".json")


def _check_suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FRAME_SUFFIXES:
        raise AbsStructError(
            f"{path}: cannot write {suffix or 'a file without an extension'!r}; "
            f"use one of {', '.join(FRAME_SUFFIXES)}"
        )
    return suffix


def _write_xlsx(frames: Mapping[str, pd.DataFrame], tmp: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.cell.cell import TYPE_STRING

    book = Workbook(write_only=False)
    book.remove(book.active)
    for sheet_name, frame in frames.items():
        sheet = book.create_sheet(title=sheet_name[:31])
        sheet.append([str(c) for c in frame.columns])
        for row in frame.itertuples(index=False, name=None):
            sheet.append([None if _is_missing(v) else _plain(v) for v in row])
        # Text that looks like a formula must stay a string cell, never a formula.
        for row_cells in sheet.iter_rows(min_row=2):
            for cell in row_cells:
                if cell.data_type == "f":
                    cell.data_type = TYPE_STRING
        sheet.freeze_panes = "A2"
    book.save(tmp)


def _is_missing(value: object) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: object) -> object:
    """Convert numpy / pandas scalars to the plain Python values openpyxl understands."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def write_frame(frame: pd.DataFrame, path: str | os.PathLike[str], *, sheet: str = "data") -> None:
    """Write one DataFrame to ``path``; the format follows the extension."""
    write_frames({sheet: frame}, path)


def write_frames(frames: Mapping[str, pd.DataFrame], path: str | os.PathLike[str]) -> None:
    """Write several named DataFrames to one file.

    ``.xlsx`` gets one sheet per frame; ``.json`` one object keyed by name (records);
    ``.csv`` and ``.parquet`` accept exactly one frame (write a folder of files for more).
    """
    path = Path(path)
    suffix = _check_suffix(path)
    if suffix in (".csv", ".parquet") and len(frames) != 1:
        raise AbsStructError(
            f"{path}: {suffix} holds one table but {len(frames)} were given; "
            "write .xlsx or .json, or one file per table"
        )
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            next(iter(frames.values())).to_csv(tmp, index=False)
        elif suffix == ".parquet":
            next(iter(frames.values())).to_parquet(tmp, index=False)
        elif suffix == ".xlsx":
            _write_xlsx(frames, tmp)
        else:
            payload = {
                name: json.loads(frame.to_json(orient="records", date_format="iso"))
                for name, frame in frames.items()
            }
            tmp.write_text(
                json.dumps(payload, ensure_ascii=False, indent=1, sort_keys=False) + "\n",
                encoding="utf-8",
            )
