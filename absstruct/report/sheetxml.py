"""Fast cell data for the workbook: ``<sheetData>`` written as text, spliced into the file.

openpyxl lays out everything around the cells (styles, tables, charts, widths, print
set-up); serialising tens of thousands of cells through its element writer is what costs,
so :mod:`absstruct.report.xlsx` writes each sheet with no rows, and this module renders
the rows directly as SpreadsheetML and puts them into the saved package.  Text is written
as inline strings (``t="inlineStr"``): a value such as ``=SUM(A1)`` is a string, never a
formula.

Examples
--------
>>> print(row_xml(3, [("a<b", 1, "s"), (2.5, 0, "n"), (None, 0, "n")]))
<row r="3"><c r="A3" s="1" t="inlineStr"><is><t>a&lt;b</t></is></c><c r="B3"><v>2.5</v></c></row>
"""

from __future__ import annotations

import datetime as dt
import math
import os
import shutil
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from openpyxl.utils import get_column_letter

_EMPTY = "<sheetData></sheetData>"
_EPOCH = dt.datetime(1899, 12, 30)
_LETTERS = [get_column_letter(i) for i in range(1, 703)]  # A .. ZZ


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def excel_serial(value: dt.date | dt.datetime) -> float | int:
    """Days since 1899-12-30 (Excel's 1900 date system), fractional for times."""
    if not isinstance(value, dt.datetime):
        return (value - _EPOCH.date()).days
    delta = value.replace(tzinfo=None) - _EPOCH
    if delta.seconds == 0 and delta.microseconds == 0:
        return delta.days
    return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400


def cell_xml(ref: str, value: Any, style: int) -> str:
    """One ``<c>`` element ('' for an empty, unstyled cell)."""
    s = f' s="{style}"' if style else ""
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return f'<c r="{ref}"{s}><v>{value!r}</v></c>'
        value = None
    elif kind is int:
        return f'<c r="{ref}"{s}><v>{value}</v></c>'
    if value is None:
        return f'<c r="{ref}"{s}/>' if style else ""
    if isinstance(value, str):
        space = ' xml:space="preserve"' if value != value.strip() else ""
        return f'<c r="{ref}"{s} t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'
    if isinstance(value, bool):
        return f'<c r="{ref}"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (dt.date, dt.datetime)):
        return f'<c r="{ref}"{s}><v>{excel_serial(value)}</v></c>'
    if isinstance(value, float):
        return cell_xml(ref, float(value), style)
    return f'<c r="{ref}"{s}><v>{value}</v></c>'


def row_xml(row: int, cells: Sequence[tuple[Any, int, str]], height: float | None = None) -> str:
    """One ``<row>``: ``cells`` are (value, style id, kind) from column A on."""
    parts = []
    letters = _LETTERS
    for index, (value, style, _kind) in enumerate(cells):
        text = cell_xml(f"{letters[index]}{row}", value, style)
        if text:
            parts.append(text)
    extra = f' ht="{height}" customHeight="1"' if height else ""
    return f'<row r="{row}"{extra}>{"".join(parts)}</row>'


def sheet_data_xml(
    rows: Iterable[Sequence[tuple[Any, int, str]]], heights: Mapping[int, float]
) -> str:
    """The ``<sheetData>`` element for rows numbered from 1 (empty rows are skipped)."""
    body = [
        row_xml(number, cells, heights.get(number))
        for number, cells in enumerate(rows, start=1)
        if cells
    ]
    return "<sheetData>" + "".join(body) + "</sheetData>"


def splice(path: str | os.PathLike[str], sheet_data: Mapping[int, str]) -> None:
    """Put ``sheet_data`` (sheet number, 1-based -> ``<sheetData>`` text) into a saved package.

    Rewrites the package next to itself and renames it over ``path``.
    """
    path = Path(path)
    rebuilt = path.with_name(path.name + ".splice")
    try:
        with (
            zipfile.ZipFile(path) as source,
            zipfile.ZipFile(rebuilt, "w", compression=zipfile.ZIP_DEFLATED) as target,
        ):
            for info in source.infolist():
                payload = source.read(info.filename)
                name = info.filename
                if name.startswith("xl/worksheets/sheet") and name.endswith(".xml"):
                    number = int(name[len("xl/worksheets/sheet") : -len(".xml")])
                    if number in sheet_data:
                        text = payload.decode("utf-8")
                        if text.count(_EMPTY) != 1:
                            raise ValueError(f"{name}: expected one empty sheetData")
                        payload = text.replace(_EMPTY, sheet_data[number]).encode("utf-8")
                target.writestr(info, payload, compress_type=zipfile.ZIP_DEFLATED)
        shutil.move(rebuilt, path)
    finally:
        if rebuilt.exists():
            rebuilt.unlink()
