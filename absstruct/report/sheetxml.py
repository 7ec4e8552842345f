"""Fast cell data for the workbook: ``<sheetData>`` written as text, spliced into the file.

openpyxl lays out everything around the cells (styles, tables, charts, widths, print
set-up); serialising tens of thousands of cells through its element writer is what costs,
so :mod:`absstruct.report.xlsx` writes each sheet with no rows, and this module renders
the rows directly as SpreadsheetML and puts them into the package.  Text is written as
inline strings (``t="inlineStr"``): a value such as ``=SUM(A1)`` is a string, never a
formula.

Data blocks are rendered a column at a time (:func:`float_cells`, :func:`int_cells`,
:func:`serial_cells`, :func:`text_cells`, :func:`value_cells`), each distinct number or
text formatted once, and joined into rows by :func:`rows_xml` with one format call per
row: no per-cell objects.  Numbers are written as Python's shortest round-trip text
(``repr``), so a cell reads back as exactly the float that was written.

Examples
--------
>>> print(row_xml(3, [("a<b", 1, "s"), (2.5, 0, "n"), (None, 0, "n")]))
<row r="3"><c r="A3" s="1" t="inlineStr"><is><t>a&lt;b</t></is></c><c r="B3"><v>2.5</v></c></row>
>>> import numpy as np
>>> numbers = row_numbers(2, 2)
>>> columns = [text_cells(np.array(["x", "=1+1"], dtype=object), 0),
...            float_cells(np.array([0.5, np.nan]), 2)]
>>> for row in rows_xml(numbers, ["A", "B"], columns).split("</row>")[:-1]:
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
from openpyxl.drawing.spreadsheet_drawing import SpreadsheetDrawing
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._writer import WorksheetWriter
from openpyxl.writer.excel import ExcelWriter

_EMPTY = "<sheetData></sheetData>"
_EPOCH = dt.datetime(1899, 12, 30)
_EPOCH_US = np.datetime64("1899-12-30", "us")
_DAY_US = 86_400_000_000
# Deflate level of the package.  Cell XML is repetitive: level 1 packs it to within about a
# fifth of the default level's size in a quarter of the time, and writing is what we time.
COMPRESS_LEVEL = 1
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
    space = ' xml:space="preserve"' if value != value.strip() else ""
    return f'"{s} t="inlineStr"><is><t{space}>{_escape(value)}</t></is></c>'


def cell_body(value: Any, style: int) -> str:
    """A ``<c>`` element after its reference (from the closing quote), '' when none is written.

    >>> cell_body(2.5, 3), cell_body(None, 0), cell_body(None, 3)
    ('" s="3"><v>2.5</v></c>', '', '" s="3"/>')
    """
    s = f' s="{style}"' if style else ""
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return f'"{s}><v>{value!r}</v></c>'
        value = None
    elif kind is int:
        return f'"{s}><v>{value}</v></c>'
    if value is None:
        return f'"{s}/>' if style else ""
    if isinstance(value, str):
        return _text_body(value, s)
    if isinstance(value, bool):
        return f'"{s} t="b"><v>{int(value)}</v></c>'
    if isinstance(value, (dt.date, dt.datetime)):
        return f'"{s}><v>{excel_serial(value)}</v></c>'
    if isinstance(value, float):
        return cell_body(float(value), style)
    return f'"{s}><v>{value}</v></c>'


def cell_xml(ref: str, value: Any, style: int) -> str:
    """One ``<c>`` element ('' for an empty, unstyled cell)."""
    body = cell_body(value, style)
    return f'<c r="{ref}{body}' if body else ""


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
# Each returns, for every row of a column, the cell's text after its reference (see
# :func:`cell_body`): '' where nothing is written (a missing value in an unstyled column).


def row_numbers(first: int, count: int) -> list[str]:
    """Row numbers ``first .. first + count - 1`` as text.

    >>> row_numbers(4, 3)
    ['4', '5', '6']
    """
    return list(map(str, range(first, first + count)))


def _spread(bodies: list[str], codes: np.ndarray, style: int) -> list[str]:
    """``bodies[code]`` for each row; code -1 (missing) gives an empty cell."""
    if (codes < 0).any():
        bodies = [*bodies, f'" s="{style}"/>' if style else ""]  # what code -1 picks
    return list(map(bodies.__getitem__, codes.tolist()))


def float_texts(values: np.ndarray) -> list[str]:
    """``repr`` of each (finite) float, formatted in bulk.

    Arrow's cast writes the same shortest round-trip digits as ``repr`` about three times
    faster; it differs only in layout: whole numbers lack ``.0`` (added here), and its
    exponent thresholds are not Python's (those values, rare in ledgers, use ``repr``).

    >>> float_texts(np.array([0.1 + 0.2, 5.0, -0.0, 2.5e-05, 1e16, 1234.5]))
    ['0.30000000000000004', '5.0', '-0.0', '2.5e-05', '1e+16', '1234.5']
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    array = np.asarray(values, dtype=float)
    strings = pc.cast(pa.array(array), pa.string())
    whole = pc.invert(pc.match_substring(strings, "."))
    strings = pc.if_else(whole, pc.binary_join_element_wise(strings, ".0", ""), strings)
    texts: list[str] = strings.to_pylist()
    magnitude = np.abs(array)
    # Where repr writes an exponent (below 1e-4, from 1e16) or Arrow does: repr decides.
    odd = ((magnitude < 1e-4) & (array != 0)) | (magnitude >= 1e16)
    odd |= pc.match_substring(strings, "e", ignore_case=True).to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(odd).tolist():
        texts[i] = repr(float(array[i]))
    return texts


def float_cells(values: np.ndarray, style: int) -> list[str]:
    """A float column; NaN and infinities are written as empty cells.

    >>> float_cells(np.array([1.5, 0.0, 1.5, -0.0, np.nan]), 0)
    ['"><v>1.5</v></c>', '"><v>0.0</v></c>', '"><v>1.5</v></c>', '"><v>-0.0</v></c>', '']
    """
    head, texts, tail = float_columns([values], [style])[0]
    return [f"{head}{text}{tail}" for text in texts]


# A column of cells as (head, texts, tail): cell i is ``<c r="{ref}`` + head + texts[i] +
# tail.  Columns of cell bodies (see :func:`cell_body`) have an empty head and tail.
Column = tuple[str, list[str], str]


def float_columns(columns: Sequence[np.ndarray], styles: Sequence[int]) -> list[Column]:
    """Several float columns (see :func:`float_cells`) with one formatting call for them all.

    Each distinct value of a column is formatted once (ledgers repeat values, zeros above
    all), and the distinct values of every column go through :func:`float_texts` together:
    its cost is mostly per call.  A column with no empty cell comes back as its numbers,
    the markup around them given once, as head and tail.

    >>> float_columns([np.array([2.5, 2.5]), np.array([1.0, np.nan])], [3, 0])
    [('" s="3"><v>', ['2.5', '2.5'], '</v></c>'), ('', ['"><v>1.0</v></c>', ''], '')]
    """
    plans = []
    for values in columns:
        array = np.asarray(values, dtype=float)
        finite = np.isfinite(array)
        # Hashing puts 0.0 and -0.0 together: only share texts when no value is -0.0.
        if finite.all() and not np.signbit(array[array == 0]).any():
            codes, uniques = pd.factorize(array)
        else:
            codes, uniques = (
                np.where(finite, np.arange(len(array)), -1),
                np.where(finite, array, 0.0),
            )
        plans.append((codes, uniques))
    texts = float_texts(np.concatenate([u for _, u in plans])) if plans else []
    out = []
    start = 0
    for (codes, uniques), style in zip(plans, styles, strict=True):
        s = f' s="{style}"' if style else ""
        chunk = texts[start : start + len(uniques)]
        start += len(uniques)
        if (codes >= 0).all():
            out.append((f'"{s}><v>', list(map(chunk.__getitem__, codes.tolist())), "</v></c>"))
        else:
            out.append(("", _spread([f'"{s}><v>{t}</v></c>' for t in chunk], codes, style), ""))
    return out


def int_cells(values: np.ndarray, style: int) -> list[str]:
    """An integer column (no missing values).

    >>> int_cells(np.array([3, 4, 3]), 5)
    ['" s="5"><v>3</v></c>', '" s="5"><v>4</v></c>', '" s="5"><v>3</v></c>']
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=np.int64))
    s = f' s="{style}"' if style else ""
    return _spread([f'"{s}><v>{v}</v></c>' for v in uniques.tolist()], codes, style)


def serial_cells(values: np.ndarray, style: int) -> list[str]:
    """A datetime64 column as Excel serial days (NaT: empty), like :func:`excel_serial`.

    >>> serial_cells(np.array(["2025-01-31T12:00", "NaT"], dtype="datetime64[ns]"), 4)
    ['" s="4"><v>45688.5</v></c>', '" s="4"/>']
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
    return _spread([f'"{s}><v>{v}</v></c>' for v in serials], codes, style)


def text_cells(values: np.ndarray, style: int) -> list[str]:
    """A text column as inline strings (None / NaN: empty); each distinct text escaped once.

    >>> text_cells(np.array([" a", None], dtype=object), 0)
    ['" t="inlineStr"><is><t xml:space="preserve"> a</t></is></c>', '']
    """
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    s = f' s="{style}"' if style else ""
    return _spread([_text_body(str(v), s) for v in uniques.tolist()], np.asarray(codes), style)


def value_cells(values: Sequence[Any], style: int) -> list[str]:
    """A column of plain Python values of any type, one by one (mixed columns).

    >>> value_cells([True, 2, None], 0)
    ['" t="b"><v>1</v></c>', '"><v>2</v></c>', '']
    """
    return [cell_body(value, style) for value in values]


def rows_xml(
    numbers: Sequence[str], letters: Sequence[str], columns: Sequence[list[str] | Column]
) -> str:
    """``<row>`` elements for a block of rows whose cells are given column by column.

    ``columns[j]`` holds column ``letters[j]``'s cell bodies (see :func:`cell_body`) or a
    :data:`Column`.  Each row is one ``str.format`` of a template holding the references
    and the markup the column's cells share; a column with empty cells is written cell by
    cell instead, since an empty cell has no reference either.

    >>> rows_xml(["4"], ["A", "B", "C"], [['"><v>1</v></c>'], ('"><v>', ['2'], '</v></c>'), ['']])
    '<row r="4"><c r="A4"><v>1</v></c><c r="B4"><v>2</v></c></row>'
    """
    fields = []
    args: list[Sequence[str]] = [numbers]
    for letter, column in zip(letters, columns, strict=True):
        head, texts, tail = column if isinstance(column, tuple) else ("", column, "")
        args.append(texts)
        field = f"{{{len(args) - 1}}}"
        if not head and "" in texts:
            start = f'<c r="{letter}'
            args[-1] = [f"{start}{n}{b}" if b else "" for n, b in zip(numbers, texts, strict=True)]
            fields.append(field)
        else:
            markup = (f'<c r="{letter}{{0}}', _braced(head), field, _braced(tail))
            fields.append("".join(markup))
    template = '<row r="{0}">' + "".join(fields) + "</row>"
    return "".join(map(template.format, *args))


def _braced(text: str) -> str:
    """``text`` as literal text inside a format template."""
    return text.replace("{", "{{").replace("}", "}}")


class _MemoryExcelWriter(ExcelWriter):
    """openpyxl's package writer, serialising each sheet in memory.

    openpyxl streams every sheet through a temporary file it then reads back and deletes;
    our sheets hold no cells when openpyxl writes them, so memory serves, and the file
    system round trips (the slowest part of a save on some systems) go.
    """

    def write_worksheet(self, ws: Any) -> None:
        # ExcelWriter.write_worksheet, the sheet written to a buffer.
        ws._drawing = SpreadsheetDrawing()
        ws._drawing.charts = ws._charts
        ws._drawing.images = ws._images
        writer = WorksheetWriter(ws, out=io.BytesIO())
        writer.write()
        ws._rels = writer._rels
        self._archive.writestr(ws.path[1:], writer.read())
        self.manifest.append(ws)


def write_package(book: Any, path: str | os.PathLike[str], sheet_data: Mapping[int, str]) -> None:
    """Save an openpyxl ``book`` to ``path`` with ``sheet_data`` spliced in.

    ``sheet_data`` maps a sheet number (1-based) to its ``<sheetData>`` text; those sheets
    were saved with no rows.  openpyxl writes its package to memory uncompressed, so every
    part is compressed once, on the way to ``path``, at :data:`COMPRESS_LEVEL`.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        _MemoryExcelWriter(book, archive).save()
    with (
        zipfile.ZipFile(buffer) as source,
        zipfile.ZipFile(
            path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
        ) as target,
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
            # A ZipInfo keeps its own method and level: set both.
            target.writestr(
                info, payload, compress_type=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL
            )
