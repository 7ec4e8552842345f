"""A small declarative workbook builder over openpyxl.

A workbook is described as data — :class:`Sheet` objects holding :class:`Table`,
:class:`KeyValues` and :class:`Note` blocks stacked top to bottom, plus :class:`Chart`
definitions that refer to tables by name — and :func:`write_xlsx` renders it with
openpyxl's streaming (write-only) writer, the cell rows themselves written as text by
:mod:`absstruct.report.sheetxml` (much faster), then renames it into place.

Every table becomes a named, banded, filterable Excel table (ListObject) with a number
format per column kind; sheets get a frozen header, column widths that fit their
contents, and a landscape, fit-to-width print set-up.  Text is always written as a
string cell: a loan id such as ``=HYPERLINK(...)`` stays inert text and is never altered.

Examples
--------
>>> import pandas as pd, pathlib, tempfile
>>> from openpyxl import load_workbook
>>> frame = pd.DataFrame({"period": [1, 2], "balance": [1000.0, 500.0], "id": ["=1+1", "b"]})
>>> sheet = Sheet(title="Flows", blocks=(Table(name="flows", frame=frame),))
>>> path = pathlib.Path(tempfile.mkdtemp()) / "book.xlsx"
>>> write_xlsx([sheet], path)
>>> ws = load_workbook(path)["Flows"]
>>> ws["B2"].number_format, ws["C2"].value, ws["C2"].data_type
('#,##0.00', '=1+1', 's')
>>> list(ws.tables)
['flows']
"""

from __future__ import annotations

import datetime as dt
import os
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from copy import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from absstruct.errors import AbsStructError
from absstruct.report.atomic import atomic_path
from absstruct.report.columns import (
    CONTROL_CHARACTERS,
    display_width,
    first_control_character,
    format_sample,
    plain_value,
    table_cells,
    widest_samples,
)
from absstruct.report.sheetxml import (
    LETTERS,
    row_numbers,
    row_xml,
    rows_xml,
    write_package,
)

# Number formats by column kind; one place so every sheet formats a kind alike.
NUMBER_FORMATS: dict[str, str] = {
    "money": "#,##0.00",
    "amount": "#,##0",
    "number": "#,##0.00",
    "count": "#,##0",
    "int": "0",
    "percent": "0.00%",
    "rate": "0.000%",
    "price": "0.000",
    "years": "0.00",
    "bp": "#,##0",
    "factor": "0.000000",
    "date": "yyyy-mm-dd",
    "text": "@",
    "bool": "General",
}
ColumnKind = Literal[
    "money",
    "amount",
    "number",
    "count",
    "int",
    "percent",
    "rate",
    "price",
    "years",
    "bp",
    "factor",
    "date",
    "text",
    "bool",
]

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,254}$")
_SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
HEADER_FILL = "4472C4"  # the blue of TableStyleMedium2's header row
HEADER_WRAP = 16  # header characters a column widens for before the text wraps
HEADER_TWO_LINES = 30.0  # points: a header row that wraps onto two lines
CHART_WIDTH_CM = 15.0
CHART_HEIGHT_CM = 8.0
# Grid cells a chart covers at the default column width and row height (with a margin).
_ROWS_PER_CHART = 18
_COLS_PER_CHART = 9
# Axis formats: whole units on money axes, the ticks need no cents.
_AXIS_FORMATS = {"money": "#,##0", "amount": "#,##0", "number": "#,##0"}


@dataclass(frozen=True, kw_only=True)
class Table:
    """A DataFrame written as a named Excel table.

    Parameters
    ----------
    name : str
        Excel table name, unique in the workbook (letters, digits, ``_``, ``.``).
    frame : pandas.DataFrame
        The data; its column labels become the header row.
    title : str, optional
        A bold caption written on the row above the table.
    kinds : Mapping[str, str]
        Column label -> kind (a key of ``NUMBER_FORMATS``); unlisted columns are
        inferred from their dtype (dates -> date, integers -> count, floats -> money).
    color_scale : tuple of str
        Columns that get a red-yellow-green colour scale.
    style : str
        Built-in table style.
    """

    name: str
    frame: pd.DataFrame
    title: str | None = None
    kinds: Mapping[str, str] = field(default_factory=dict)
    color_scale: tuple[str, ...] = ()
    style: str = "TableStyleMedium2"


@dataclass(frozen=True, kw_only=True)
class KeyValues:
    """A two-column "label: value" block (deal facts, summary figures).

    ``kinds`` maps a label to the kind that formats its value.
    """

    title: str
    pairs: Sequence[tuple[str, Any]]
    kinds: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Note:
    """A line of text (a sheet heading or a remark)."""

    text: str
    heading: bool = False


@dataclass(frozen=True, kw_only=True)
class Chart:
    """A native Excel chart over columns of a table (on any sheet).

    Parameters
    ----------
    kind : {"line", "stacked_column", "column"}
    table : str
        Name of the :class:`Table` holding the data.
    x : str
        Column used for the categories (period, date, scenario).
    y : tuple of str
        Columns plotted as series (one series each).
    title : str
    x_title, y_title : str
    y_kind : str
        Kind of the y values; sets the axis number format.
    split_by : str, optional
        For a long table sorted by this column: one series per distinct value of
        ``split_by`` (each a contiguous block of rows) for the single ``y`` column.
    label_every : int
        Label every n-th category only (long category axes stay readable).
    """

    kind: Literal["line", "stacked_column", "column"]
    table: str
    x: str
    y: tuple[str, ...]
    title: str
    x_title: str = ""
    y_title: str = ""
    y_kind: str = "money"
    split_by: str | None = None
    label_every: int = 1


Block = Table | KeyValues | Note


@dataclass(frozen=True, kw_only=True)
class Sheet:
    """One worksheet: blocks stacked top to bottom and charts placed beside them.

    ``freeze`` freezes the panes below the header of the first table when that table is
    the sheet's first block (after at most a heading), and repeats it on printed pages.
    ``charts`` are anchored to the right of the blocks, one under another, or at
    ``chart_column`` when given (1-based column number), starting at ``chart_row``,
    ``charts_per_row`` side by side.
    """

    title: str
    blocks: Sequence[Block]
    charts: Sequence[Chart] = ()
    freeze: bool = True
    chart_column: int | None = None
    chart_row: int = 1
    charts_per_row: int = 1


@dataclass(frozen=True)
class _Placed:
    sheet: str
    header_row: int
    first_col: int
    frame: pd.DataFrame


def _infer_kind(series: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(series):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "date"
    if pd.api.types.is_integer_dtype(series):
        return "count"
    if pd.api.types.is_float_dtype(series):
        return "money"
    if isinstance(series.dtype, pd.StringDtype):
        return "text"
    sample = series.dropna()
    if len(sample) and isinstance(sample.iloc[0], dt.date):
        return "date"
    return "text"


def _check_kind(kind: str, where: str) -> str:
    if kind not in NUMBER_FORMATS:
        raise AbsStructError(
            f"{where}: unknown column kind {kind!r}; use one of {', '.join(NUMBER_FORMATS)}"
        )
    return kind


def column_kinds(table: Table) -> list[str]:
    """The kind of each column of ``table`` (given, else inferred from its dtype)."""
    kinds = []
    for label in table.frame.columns:
        given = table.kinds.get(str(label))
        kinds.append(
            _check_kind(given, f"table {table.name}, column {label}")
            if given
            else _infer_kind(table.frame[label])
        )
    return kinds


def _check_sheets(sheets: Sequence[Sheet]) -> dict[str, tuple[Sheet, Table]]:
    problems: list[str] = []
    titles: set[str] = set()
    tables: dict[str, tuple[Sheet, Table]] = {}
    for sheet in sheets:
        if not sheet.title or len(sheet.title) > 31 or _SHEET_FORBIDDEN.search(sheet.title):
            problems.append(
                f"sheet {sheet.title!r}: a sheet name has 1-31 characters and none of []:*?/\\"
            )
        if sheet.title.lower() in titles:
            problems.append(f"sheet {sheet.title!r}: appears twice")
        titles.add(sheet.title.lower())
        for block in sheet.blocks:
            if not isinstance(block, Table):
                continue
            if not _TABLE_NAME.match(block.name) or re.fullmatch(r"[A-Za-z]{1,3}\d+", block.name):
                problems.append(
                    f"table {block.name!r}: a table name starts with a letter or _ and holds "
                    "letters, digits, _ or . (and is not a cell reference)"
                )
            if block.name.lower() in {n.lower() for n in tables}:
                problems.append(f"table {block.name!r}: appears twice")
            labels = [str(c) for c in block.frame.columns]
            if len(set(labels)) != len(labels):
                problems.append(f"table {block.name!r}: column labels repeat: {labels}")
            tables[block.name] = (sheet, block)
    for sheet in sheets:
        for chart in sheet.charts:
            if chart.table not in tables:
                problems.append(f"chart {chart.title!r}: no table named {chart.table!r}")
                continue
            columns = [str(c) for c in tables[chart.table][1].frame.columns]
            for column in (chart.x, *chart.y, *([chart.split_by] if chart.split_by else [])):
                if column not in columns:
                    problems.append(
                        f"chart {chart.title!r}: table {chart.table!r} has no column {column!r}"
                    )
    if problems:
        raise AbsStructError("workbook definition: " + "; ".join(problems))
    return tables


class _SheetWriter:
    """Streams one sheet's blocks row by row, recording where each table landed."""

    def __init__(
        self, book: Any, sheet: Sheet, kinds: Mapping[str, list[str]] | None = None
    ) -> None:
        from openpyxl.formatting.formatting import ConditionalFormattingList

        self.book = book
        self.sheet = sheet
        self.ws = book.create_sheet(title=sheet.title)
        # The streaming worksheet lacks this list; its writer reads it when saving.
        self.ws.conditional_formatting = ConditionalFormattingList()
        self.row = 0
        self.widths: dict[int, int] = {}
        self.heights: dict[int, float] = {}
        self.placed: dict[str, _Placed] = {}
        self.parts: list[str] = []  # the sheet's <row> elements, in order
        self.sheet_data = ""
        self._styles: dict[tuple[str, bool, bool], Any] = {}
        self.kinds = kinds or {}  # table name -> column kinds, when already worked out
        self._color_scale: Any = None

    # cells -------------------------------------------------------------------------------
    def _proto(self, kind: str, bold: bool = False, header: bool = False) -> Any:
        key = (kind, bold, header)
        if key not in self._styles:
            from openpyxl.cell import WriteOnlyCell
            from openpyxl.styles import Alignment, Font, PatternFill

            cell = WriteOnlyCell(self.ws)
            cell.number_format = NUMBER_FORMATS[kind] if kind != "text" else "General"
            if header:
                # Explicit header colours: every viewer shows them, table style or not.
                cell.font = Font(bold=True, color="FFFFFF")
                cell.fill = PatternFill("solid", fgColor=HEADER_FILL)
                cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
            elif bold:
                cell.font = Font(bold=True)
            if kind == "text" and not header:
                cell.alignment = Alignment(horizontal="left")
            self._styles[key] = cell._style
        return self._styles[key]

    def _cell(self, value: Any, kind: str, bold: bool = False) -> Any:
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import TYPE_STRING

        cell = WriteOnlyCell(self.ws)
        if isinstance(value, str):
            if CONTROL_CHARACTERS.search(value):
                raise AbsStructError(
                    f"sheet {self.sheet.title!r}, row {self.row + 1}: {value!r} holds a control "
                    "character a workbook cannot store"
                )
            cell._value = value
            # Text from tapes and deal files is data, never a formula.
            cell.data_type = TYPE_STRING
        else:
            cell.value = value
        cell._style = copy(self._proto(kind, bold))
        return cell

    def _header_cell(self, text: str) -> tuple[str, Any]:
        """A header cell as (text, style): the header row is all text in one style."""
        if CONTROL_CHARACTERS.search(text):
            raise AbsStructError(
                f"sheet {self.sheet.title!r}, row {self.row + 1}: {text!r} holds a control "
                "character a workbook cannot store"
            )
        self._proto("text")  # styles are registered in first-use order: keep that order
        return text, self._proto("text", header=True)

    def _widen(self, col: int, text: str, cap: int = 48) -> None:
        width = min(display_width(text) + 2, cap)
        if width > self.widths.get(col, 0):
            self.widths[col] = width

    def _style_id(self, style: Any) -> int:
        """The workbook's id for a cell style (registered on first use)."""
        return int(self.book._cell_styles.add(style))

    def _emit(self, cells: list[Any]) -> None:
        """Write a row of cells (titles, notes, headers, key-value lines).

        A cell is an openpyxl cell or a (value, style) pair.
        """
        self.row += 1
        if cells:
            values = [
                (value, self._style_id(style), "")
                for value, style in (
                    cell if isinstance(cell, tuple) else (cell._value, cell._style)
                    for cell in cells
                )
            ]
            self.parts.append(row_xml(self.row, values, self.heights.get(self.row)))

    # blocks ------------------------------------------------------------------------------
    def note(self, block: Note) -> None:
        from openpyxl.styles import Font

        cell = self._cell(block.text, "text")
        if block.heading:
            cell.font = Font(bold=True, size=14)
        else:
            cell.font = Font(italic=True)
        self._emit([cell])

    def key_values(self, block: KeyValues) -> None:
        self._emit([self._cell(block.title, "text", bold=True)])
        for label, value in block.pairs:
            value = plain_value(value)
            kind = block.kinds.get(label) or (
                "text"
                if isinstance(value, str)
                else "count"
                if isinstance(value, int) and not isinstance(value, bool)
                else "number"
            )
            if isinstance(value, dt.date) and "date" not in block.kinds.get(label, "date"):
                kind = "date"
            if isinstance(value, (dt.date, dt.datetime)):
                kind = "date"
            _check_kind(kind, f"block {block.title}, {label}")
            self._widen(1, str(label), cap=40)
            self._widen(2, format_sample(value, kind), cap=40)
            self._emit([self._cell(str(label), "text"), self._cell(value, kind)])

    def table(self, block: Table) -> None:
        from openpyxl.formatting.rule import ColorScaleRule, Rule
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.filters import AutoFilter
        from openpyxl.worksheet.table import Table as XlTable
        from openpyxl.worksheet.table import TableColumn, TableStyleInfo

        if block.title:
            self._emit([self._cell(block.title, "text", bold=True)])
        frame = block.frame
        labels = [str(c) for c in frame.columns]
        kinds = self.kinds.get(block.name) or column_kinds(block)
        header_row = self.row + 1
        longest = max((display_width(label) for label in labels), default=0)
        if longest > HEADER_WRAP:
            # Viewers do not all grow a row for wrapped text: give the header two lines.
            self.heights[header_row] = HEADER_TWO_LINES
        self._emit([self._header_cell(label) for label in labels])
        for col, label in enumerate(labels, start=1):
            # Long headers wrap onto two lines rather than widen the column.
            self._widen(col, label, cap=HEADER_WRAP)
        if frame.empty:
            self._emit([self._cell("—", "text")])
            self.placed[block.name] = _Placed(self.sheet.title, header_row, 1, frame)
            return
        styles = [self._proto(k) for k in kinds]
        series_list = [series for _label, series in frame.items()]
        step = max(1, len(frame) // 50)
        for col, (series, kind) in enumerate(zip(series_list, kinds, strict=True), start=1):
            # Widths from a sample of about 50 values a column.
            samples = widest_samples(series, kind, step)
            if samples:
                self._widen(col, max(samples, key=display_width))
        bad = first_control_character(series_list)
        if bad is not None:
            raise AbsStructError(
                f"sheet {self.sheet.title!r}, row {self.row + 1 + bad[0]}: {bad[1]!r} holds a "
                "control character a workbook cannot store"
            )
        # Whole columns at once; strings are inline strings: data, never a formula.
        numbers = row_numbers(self.row + 1, len(frame))
        style_ids = [self._style_id(style) for style in styles]
        columns = table_cells(series_list, style_ids)
        self.parts.append(rows_xml(numbers, LETTERS[: len(columns)], columns))
        self.row += len(frame)
        ws = self.ws
        last_row = self.row
        ref = f"A{header_row}:{get_column_letter(len(labels))}{last_row}"
        table = XlTable(displayName=block.name, ref=ref)
        # The streaming writer cannot read headers back from cells: name columns here.
        table.tableColumns = [
            TableColumn(id=i, name=label) for i, label in enumerate(labels, start=1)
        ]
        table.autoFilter = AutoFilter(ref=ref)
        table.tableStyleInfo = TableStyleInfo(
            name=block.style, showRowStripes=True, showColumnStripes=False
        )
        with warnings.catch_warnings():
            # The columns were named above; openpyxl warns about streaming sheets regardless.
            warnings.simplefilter("ignore", UserWarning)
            ws.add_table(table)
        for label in block.color_scale:
            col = get_column_letter(labels.index(label) + 1)
            if self._color_scale is None:
                # One red-yellow-green scale shared by every rule (openpyxl builds them slowly).
                self._color_scale = ColorScaleRule(
                    start_type="min",
                    start_color="F8696B",
                    mid_type="percentile",
                    mid_value=50,
                    mid_color="FFEB84",
                    end_type="max",
                    end_color="63BE7B",
                ).colorScale
            ws.conditional_formatting.add(
                f"{col}{header_row + 1}:{col}{last_row}",
                Rule(type="colorScale", colorScale=self._color_scale),
            )
        self.placed[block.name] = _Placed(self.sheet.title, header_row, 1, frame)

    def layout(self) -> None:
        for index, block in enumerate(self.sheet.blocks):
            if index:
                self._emit([])  # one blank row between blocks
            if isinstance(block, Table):
                self.table(block)
            elif isinstance(block, KeyValues):
                self.key_values(block)
            else:
                self.note(block)

    def finish(self) -> None:
        from openpyxl.utils import get_column_letter
        from openpyxl.worksheet.properties import PageSetupProperties

        ws = self.ws
        for col, width in sorted(self.widths.items()):
            ws.column_dimensions[get_column_letter(col)].width = max(width, 8)
        first = self.sheet.blocks[0] if self.sheet.blocks else None
        heading = 1 if isinstance(first, Note) else 0
        lead = self.sheet.blocks[heading] if len(self.sheet.blocks) > heading else None
        if self.sheet.freeze and isinstance(lead, Table) and lead.name in self.placed:
            header_row = self.placed[lead.name].header_row
            ws.freeze_panes = f"B{header_row + 1}"
            ws.print_title_rows = f"{header_row}:{header_row}"
        ws.page_setup.orientation = "landscape"
        ws.page_setup.paperSize = 9  # A4
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
        ws.print_options.gridLines = False
        # openpyxl writes the sheet around an empty sheetData; the rows go in when saving.
        self.sheet_data = "<sheetData>" + "".join(self.parts) + "</sheetData>"


def _chart(chart: Chart, placed: _Placed, ws_of: Mapping[str, Any]) -> Any:
    from openpyxl.chart import BarChart, LineChart, Reference, Series
    from openpyxl.chart.data_source import NumFmt

    frame = placed.frame
    labels = [str(c) for c in frame.columns]
    data_ws = ws_of[placed.sheet]
    first, last = placed.header_row + 1, placed.header_row + max(len(frame), 1)
    if chart.kind == "line":
        obj: Any = LineChart()
    else:
        obj = BarChart()
        obj.type = "col"
        if chart.kind == "stacked_column":
            obj.grouping = "stacked"
            obj.overlap = 100
        obj.gapWidth = 40
    obj.title = chart.title
    obj.width, obj.height = CHART_WIDTH_CM, CHART_HEIGHT_CM
    obj.y_axis.title = chart.y_title or None
    obj.x_axis.title = chart.x_title or None
    obj.y_axis.numFmt = NumFmt(
        formatCode=_AXIS_FORMATS.get(chart.y_kind, NUMBER_FORMATS.get(chart.y_kind, "General")),
        sourceLinked=False,
    )
    # openpyxl hides axes unless told otherwise; investors need to read them.
    obj.x_axis.delete = False
    obj.y_axis.delete = False
    obj.legend.position = "b"
    if chart.label_every > 1:
        obj.x_axis.tickLblSkip = chart.label_every
        obj.x_axis.tickMarkSkip = chart.label_every
    x_col = labels.index(chart.x) + 1
    if chart.split_by:
        keys = frame[chart.split_by].tolist()
        y_col = labels.index(chart.y[0]) + 1
        blocks: list[tuple[Any, int, int]] = []
        start = 0
        for i in range(1, len(keys) + 1):
            if i == len(keys) or keys[i] != keys[start]:
                blocks.append((keys[start], first + start, first + i - 1))
                start = i
        for key, lo, hi in blocks:
            values = Reference(data_ws, min_col=y_col, min_row=lo, max_row=hi)
            series = Series(values, title=str(key))
            obj.series.append(series)
        lo, hi = blocks[0][1], blocks[0][2]
        obj.set_categories(Reference(data_ws, min_col=x_col, min_row=lo, max_row=hi))
    else:
        for label in chart.y:
            col = labels.index(label) + 1
            values = Reference(data_ws, min_col=col, min_row=placed.header_row, max_row=last)
            obj.add_data(values, titles_from_data=True)
        obj.set_categories(Reference(data_ws, min_col=x_col, min_row=first, max_row=last))
    if chart.kind == "line":
        for series in obj.series:
            series.smooth = False
            series.marker.symbol = "none"
    return obj


def write_xlsx(sheets: Sequence[Sheet], path: str | os.PathLike[str]) -> None:
    """Render ``sheets`` into an ``.xlsx`` file at ``path``, atomically.

    Raises
    ------
    AbsStructError
        When the definition is inconsistent (bad sheet or table names, a chart naming a
        missing table or column, an unknown column kind): all problems in one message.
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    if not sheets:
        raise AbsStructError(f"{path}: a workbook needs at least one sheet")
    tables = _check_sheets(sheets)
    # Unknown kinds fail before any file is touched.
    kinds = {name: column_kinds(table) for name, (_sheet, table) in tables.items()}
    book = Workbook(write_only=True)
    writers = [_SheetWriter(book, sheet, kinds) for sheet in sheets]
    placed: dict[str, _Placed] = {}
    for writer in writers:
        writer.layout()
        placed.update(writer.placed)
    ws_of = {writer.sheet.title: writer.ws for writer in writers}
    for writer in writers:
        column = writer.sheet.chart_column or (max(writer.widths, default=0) + 2)
        per_row = max(writer.sheet.charts_per_row, 1)
        for index, chart in enumerate(writer.sheet.charts):
            obj = _chart(chart, placed[chart.table], ws_of)
            col = column + (index % per_row) * _COLS_PER_CHART
            row = writer.sheet.chart_row + (index // per_row) * _ROWS_PER_CHART
            writer.ws.add_chart(obj, f"{get_column_letter(col)}{row}")
        writer.finish()
    with atomic_path(path) as tmp:
        write_package(book, tmp, {index: w.sheet_data for index, w in enumerate(writers, start=1)})


def table_ranges(path: str | os.PathLike[str]) -> dict[str, tuple[str, str]]:
    """Table name -> (sheet title, cell range) of a written workbook (for checks and tests)."""
    from openpyxl import load_workbook

    book = load_workbook(Path(path))
    return {name: (ws.title, ref) for ws in book.worksheets for name, ref in ws.tables.items()}


def unique_labels(labels: Iterable[str]) -> list[str]:
    """Make column labels unique by suffixing repeats (`` (2)``, `` (3)``...).

    >>> unique_labels(["a", "b", "a"])
    ['a', 'b', 'a (2)']
    """
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        count = seen.get(label, 0) + 1
        seen[label] = count
        out.append(label if count == 1 else f"{label} ({count})")
    return out
