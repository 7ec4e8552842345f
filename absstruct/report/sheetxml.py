"""Fast cell data for the workbook: ``<sheetData>`` written as text, spliced into the file.

openpyxl lays out everything around the cells (styles, tables, charts, widths, print
set-up); serialising tens of thousands of cells through its element writer is what costs,
so :mod:`absstruct.report.xlsx` writes each sheet with no rows, and this module renders
the rows directly as SpreadsheetML and puts them into the package.  Text is written as
inline strings (``t="inlineStr"``): a value such as ``=SUM(A1)`` is a string, never a
formula.

Data blocks are rendered a column at a time (:func:`float_cells`, :func:`int_cells`,
:func:`serial_cells`, :func:`text_cells`, :func:`value_cells`) and joined into rows by
:func:`rows_xml`: no per-cell objects, each distinct number or text rendered once.
Numbers are written as Python's shortest round-trip text (``repr``), so a cell reads back
as exactly the float that was written.

Examples
--------
>>> print(row_xml(3, [("a<b", 1, "s"), (2.5, 0, "n"), (None, 0, "n")]))
<row r="3"><c r="A3" s="1" t="inlineStr"><is><t>a&lt;b</t></is></c><c r="B3"><v>2.5</v></c></row>
>>> import numpy as np
>>> numbers = row_numbers(2, 2)
>>> cells = [text_cells(np.array(["x", "=1+1"], dtype=object), "A", numbers, 0),
...          float_cells(np.array([0.5, np.nan]), "B", numbers, 2)]
>>> for row in rows_xml(numbers, cells).split("</row>")[:-1]:
...     print(row + "</row>")
<row r="2"><c r="A2" t="inlineStr"><is><t>x</t></is></c><c r="B2" s="2"><v>0.5</v></c></row>
<row r="3"><c r="A3" t="inlineStr"><is><t>=1+1</t></is></c><c r="B3" s="2"/></row>
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import zipfile
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from openpyxl.utils import get_column_letter

_EMPTY = "<sheetData></sheetData>"
_EPOCH = dt.datetime(1899, 12, 30)
_EPOCH_US = np.datetime64("1899-12-30", "us")
_DAY_US = 86_400_000_000
LETTERS = [get_column_letter(i) for i in range(1, 703)]  # A .. ZZ


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


def _text_body(value: str, s: str) -> str:
    """Everything of a text cell after its reference."""
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'{s} t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'


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
        return f'<c r="{ref}"{_text_body(value, s)}'
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
    letters = LETTERS
    for index, (value, style, _kind) in enumerate(cells):
        text = cell_xml(f"{letters[index]}{row}", value, style)
        if text:
            parts.append(text)
    extra = f' ht="{height}" customHeight="1"' if height else ""
    return f'<row r="{row}"{extra}>{"".join(parts)}</row>'


# Column renderers -------------------------------------------------------------------------
# Each returns one string per row: the whole ``<c>`` element, or '' where nothing is
# written (a missing value in an unstyled column).  ``numbers`` are the row numbers as
# text (see :func:`row_numbers`), shared by every column of a block.


def row_numbers(first: int, count: int) -> list[str]:
    """Row numbers ``first .. first + count - 1`` as text.

    >>> row_numbers(4, 3)
    ['4', '5', '6']
    """
    return list(map(str, range(first, first + count)))


def _from_bodies(
    bodies: Sequence[str], codes: np.ndarray, letter: str, numbers: Sequence[str], style: int
) -> list[str]:
    """Cells whose text after the reference is ``bodies[code]`` (code -1: missing)."""
    s = f' s="{style}"' if style else ""
    head = f'<c r="{letter}'
    table = [f'"{body}' for body in bodies]
    if (codes < 0).any():
        table.append(f'"{s}/>' if style else None)  # code -1 picks this last entry
    cells = [f"{head}{n}{table[c]}" for n, c in zip(numbers, codes.tolist(), strict=True)]
    if not style and len(table) > len(bodies):
        for i in np.flatnonzero(codes < 0).tolist():
            cells[i] = ""
    return cells


def float_cells(values: np.ndarray, letter: str, numbers: Sequence[str], style: int) -> list[str]:
    """Cells of a float column; NaN and infinities are written as empty cells.

    Each distinct value is formatted once (ledgers repeat values, zeros above all).

    >>> float_cells(np.array([1.5, 0.0, 1.5, -0.0]), "C", ["7", "8", "9", "10"], 0)
    ['<c r="C7"><v>1.5</v></c>', '<c r="C8"><v>0.0</v></c>', '<c r="C9"><v>1.5</v></c>', \
'<c r="C10"><v>-0.0</v></c>']
    """
    array = np.asarray(values, dtype=float)
    finite = np.isfinite(array)
    # Hashing puts 0.0 and -0.0 together: only share texts when no value is -0.0.
    if finite.all() and not np.signbit(array[array == 0]).any():
        codes, uniques = pd.factorize(array)
        texts = list(map(repr, uniques.tolist()))
    else:
        codes = np.where(finite, np.arange(len(array)), -1)
        texts = list(map(repr, np.where(finite, array, 0.0).tolist()))
    s = f' s="{style}"' if style else ""
    return _from_bodies([f"{s}><v>{t}</v></c>" for t in texts], codes, letter, numbers, style)


def int_cells(values: np.ndarray, letter: str, numbers: Sequence[str], style: int) -> list[str]:
    """Cells of an integer column (no missing values).

    >>> int_cells(np.array([3, 4]), "A", ["2", "3"], 5)
    ['<c r="A2" s="5"><v>3</v></c>', '<c r="A3" s="5"><v>4</v></c>']
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=np.int64))
    s = f' s="{style}"' if style else ""
    bodies = [f"{s}><v>{v}</v></c>" for v in uniques.tolist()]
    return _from_bodies(bodies, codes, letter, numbers, style)


def serial_cells(values: np.ndarray, letter: str, numbers: Sequence[str], style: int) -> list[str]:
    """Cells of a datetime64 column as Excel serial days (NaT: empty), like :func:`excel_serial`.

    >>> serial_cells(np.array(["2025-01-31", "NaT"], dtype="datetime64[ns]"), "B", ["2", "3"], 4)
    ['<c r="B2" s="4"><v>45688</v></c>', '<c r="B3" s="4"/>']
    """
    stamps = np.asarray(values).astype("datetime64[us]")
    present = ~np.isnat(stamps)
    micros = (stamps[present] - _EPOCH_US).astype(np.int64)
    codes = np.full(len(stamps), -1, dtype=np.int64)
    keys, uniques = pd.factorize(micros)
    codes[present] = keys
    serials: list[float | int] = []
    for total in uniques.tolist():
        days, rest = divmod(total, _DAY_US)
        seconds, micro = divmod(rest, 1_000_000)
        serials.append(days if rest == 0 else days + (seconds + micro / 1e6) / 86400)
    s = f' s="{style}"' if style else ""
    return _from_bodies([f"{s}><v>{v}</v></c>" for v in serials], codes, letter, numbers, style)


def text_cells(values: np.ndarray, letter: str, numbers: Sequence[str], style: int) -> list[str]:
    """Cells of a text column as inline strings (None / NaN: empty).

    Values must be ``str`` or missing; each distinct text is escaped once.

    >>> text_cells(np.array([" a", None], dtype=object), "D", ["2", "3"], 0)
    ['<c r="D2" t="inlineStr"><is><t xml:space="preserve"> a</t></is></c>', '']
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    s = f' s="{style}"' if style else ""
    bodies = [_text_body(str(v), s) for v in uniques.tolist()]
    return _from_bodies(bodies, np.asarray(codes), letter, numbers, style)


def value_cells(
    values: Sequence[Any], letter: str, numbers: Sequence[str], style: int
) -> list[str]:
    """Cells of a column of plain Python values of any type, one by one (mixed columns).

    >>> value_cells([True, 2, None], "E", ["1", "2", "3"], 0)
    ['<c r="E1" t="b"><v>1</v></c>', '<c r="E2"><v>2</v></c>', '']
    """
    return [
        cell_xml(f"{letter}{n}", value, style) for n, value in zip(numbers, values, strict=True)
    ]


def rows_xml(numbers: Sequence[str], columns: Sequence[Sequence[str]]) -> str:
    """``<row>`` elements for a block of rows whose cells are given column by column."""
    return "".join(
        f'<row r="{n}">{"".join(cells)}</row>'
        for n, cells in zip(numbers, zip(*columns, strict=True), strict=True)
    )


def write_package(book: Any, path: str | os.PathLike[str], sheet_data: Mapping[int, str]) -> None:
    """Save an openpyxl ``book`` to ``path`` with ``sheet_data`` spliced in.

    ``sheet_data`` maps a sheet number (1-based) to its ``<sheetData>`` text; those sheets
    were saved with no rows.  openpyxl writes its package to memory uncompressed, so every
    part is compressed once, on the way to ``path``.
    """
    from openpyxl.writer.excel import ExcelWriter

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        ExcelWriter(book, archive).save()
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as target,
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
            info.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(info, payload)
