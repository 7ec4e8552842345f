"""Find the error cells of an XLSX sheet, which the spreadsheet reader returns as blanks.

The fast reader (calamine) hands back ``#N/A``, ``#DIV/0!``, ``#VALUE!``, ``#REF!`` ... and
formulas saved without a calculated result as empty cells (and drops a trailing row made
only of such formulas).  A tape must not read them as blanks, so the sheet's XML part is
read once more looking only for the two markers of such cells: the error type ``t="e"``
and a formula element with no value after it.  Cost: one decompression pass and two
literal-prefix scans, with Python work only per hit.

Examples
--------
>>> import pathlib, tempfile
>>> from openpyxl import Workbook
>>> book = Workbook()
>>> sheet = book.active
>>> sheet.title = "Loans"
>>> sheet.append(["loan_id", "rate"])
>>> sheet.append(["A1", "#N/A"])
>>> sheet["B2"].data_type = "e"  # an error cell, as Excel saves it
>>> sheet.append(["A2", "=1/0"])  # a formula openpyxl saves without a result
>>> path = pathlib.Path(tempfile.mkdtemp()) / "tape.xlsx"
>>> book.save(path)
>>> [(cell.reference, cell.text, cell.kind) for cell in find_error_cells(path, "Loans")]
[('B2', '#N/A', 'error'), ('B3', '=1/0', 'uncalculated')]
"""

from __future__ import annotations

import os
import posixpath
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Literal
from xml.etree import ElementTree

# XML formats whose error cells can be found; binary .xls/.xlsb and .ods are not scanned.
SCANNED_SUFFIXES = (".xlsx", ".xlsm")
CHUNK_BYTES = 1 << 22

_ROOT = re.compile(rb"<(\w+:)?worksheet[\s>]")
_REFERENCE = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]{1,3})([0-9]+)["']""")
_TYPE = re.compile(rb"""\st\s*=\s*["']([A-Za-z]+)["']""")
# Literal patterns: the regex engine then skips ahead as fast as ``bytes.find``.
_ERROR_TYPES = (re.compile(rb't="e"'), re.compile(rb"t='e'"))
# The last row of ``<dimension ref="A1:R100001"/>`` (or of a one-cell ``ref="A1"``).
_DIMENSION = re.compile(
    rb"""<(?:\w+:)?dimension\s+ref\s*=\s*["'](?:[^"':]*:)?[A-Za-z]*([0-9]+)["']"""
)
_ROW_NUMBER = re.compile(rb"""<(?:\w+:)?row\s[^>]*?\br\s*=\s*["']([0-9]+)["']""")
_UNREADABLE = (
    OSError,
    EOFError,
    KeyError,
    ValueError,
    ElementTree.ParseError,
    zipfile.BadZipFile,
    zlib.error,
)


@dataclass(frozen=True, kw_only=True, order=True)
class ErrorCell:
    """A cell the reader returned blank although the workbook holds something else there.

    Attributes
    ----------
    row, column : int
        0-based sheet position (row 0 is sheet row 1, column 0 is column A).
    text : str
        The error value (``"#N/A"``) or the formula (``"=1/0"``; ``"="`` when the formula
        text is shared from another cell).
    kind : {"error", "uncalculated"}
        An error value, or a formula saved with no calculated result.
    """

    row: int
    column: int
    text: str
    kind: Literal["error", "uncalculated"]

    @property
    def reference(self) -> str:
        """``"B3"``: the cell as the spreadsheet names it."""
        return f"{column_letters(self.column)}{self.row + 1}"


def column_letters(index: int) -> str:
    """Spreadsheet column letters of a 0-based column index.

    >>> column_letters(0), column_letters(25), column_letters(26), column_letters(701)
    ('A', 'Z', 'AA', 'ZZ')
    """
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return letters


def _column_index(letters: bytes) -> int:
    index = 0
    for byte in letters.upper():
        index = index * 26 + byte - ord("A") + 1
    return index - 1


def find_error_cells(path: str | os.PathLike[str], sheet: str) -> tuple[ErrorCell, ...]:
    """Every error cell and uncalculated formula of ``sheet``, in row then column order.

    Returns ``()`` for formats that are not scanned (see :data:`SCANNED_SUFFIXES`) and for
    a workbook whose parts cannot be located (the reader has judged it readable already).
    """
    if not os.fspath(path).lower().endswith(SCANNED_SUFFIXES):
        return ()
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet)
            if part is None:
                return ()
            with archive.open(part) as stream:
                found = _scan(stream)
            if found is None:  # a hit without a cell reference: walk the XML instead
                with archive.open(part) as stream:
                    found = list(_walk(stream))
    except _UNREADABLE:
        return ()  # parts it cannot follow: the reader has already judged the file readable
    return tuple(sorted(found))


def last_row(path: str | os.PathLike[str], sheet: str) -> int | None:
    """The sheet's last row number (1-based) as its XML states it, or None when unknown.

    The ``<dimension>`` element at the start of the part, which Excel and LibreOffice
    always write; without it (openpyxl's write-only mode) the last ``<row r=...>``, which
    costs one decompression pass.  A reader range shorter than this may have left out
    trailing rows of formulas saved without results.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            part = _sheet_part(archive, sheet)
            if part is None:
                return None
            with archive.open(part) as stream:
                head = stream.read(1 << 16)
                declared = _DIMENSION.search(head)
                if declared:
                    return int(declared.group(1))
                previous, last = b"", head
                while chunk := stream.read(CHUNK_BYTES):
                    previous, last = last, chunk
    except _UNREADABLE:
        return None
    # The last row's opening tag is within the last two reads (a row is far below 4 MB).
    numbers = _ROW_NUMBER.findall(previous + last)
    return int(numbers[-1]) if numbers else None


# --------------------------------------------------------------------------- locating the part


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _relationships(archive: zipfile.ZipFile, part: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, resolved target part) of ``part``."""
    folder, name = posixpath.split(part)
    rels = posixpath.join(folder, "_rels", name + ".rels")
    if rels not in archive.namelist():
        return {}
    out: dict[str, tuple[str, str]] = {}
    for element in ElementTree.fromstring(archive.read(rels)).iter():
        if _local(element.tag) != "Relationship":
            continue
        target = element.get("Target", "")
        resolved = (
            target.lstrip("/")
            if target.startswith("/")
            else posixpath.normpath(posixpath.join(folder, target))
        )
        out[element.get("Id", "")] = (element.get("Type", ""), resolved)
    return out


def _sheet_part(archive: zipfile.ZipFile, sheet: str) -> str | None:
    workbook = next(
        (
            target
            for kind, target in _relationships(archive, "").values()
            if kind.endswith("/officeDocument")
        ),
        "xl/workbook.xml",
    )
    targets = _relationships(archive, workbook)
    for element in ElementTree.fromstring(archive.read(workbook)).iter():
        if _local(element.tag) != "sheet" or element.get("name") != sheet:
            continue
        rid = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
        return targets.get(rid, ("", None))[1]
    return None


# --------------------------------------------------------------------------- scanning


def _scan(stream: IO[bytes]) -> list[ErrorCell] | None:
    """Scan the part chunk by chunk (cut after a complete row); None if a hit has no ``r``."""
    found: list[ErrorCell] = []
    carry = b""
    patterns: _Patterns | None = None
    while True:
        chunk = stream.read(CHUNK_BYTES)
        data = carry + chunk if carry else chunk
        if patterns is None:
            root = _ROOT.search(data, 0, 1 << 16)
            patterns = _Patterns((root.group(1) or b"") if root else b"")
        if chunk:
            cut = data.rfind(patterns.row_end)
            if cut < 0:
                carry = data
                continue
            cut += len(patterns.row_end)
        else:
            cut = len(data)
        if not patterns.collect(data, cut, found):
            return None
        if not chunk:
            return found
        carry = data[cut:]


class _Patterns:
    """The byte patterns for one namespace prefix (``x:`` in some exports, usually none)."""

    def __init__(self, prefix: bytes) -> None:
        p = re.escape(prefix)
        self.row_end = b"</" + prefix + b"row>"
        self.cell_open = re.compile(rb"<" + p + rb"c[\s>/]")
        self.cell_open_text = b"<" + prefix + b"c"
        self.cell_close = b"</" + prefix + b"c>"
        # A formula (element or self-closing shared reference) and then no value, or an
        # empty one, before the cell closes.
        self.uncalculated = re.compile(
            rb"<" + p + rb"f\b([^>]*?)(?:/>|>([^<]*)</" + p + rb"f>)\s*"
            rb"(?:(<" + p + rb"v\s*/>|<" + p + rb"v>\s*</" + p + rb"v>)\s*)?</" + p + rb"c>"
        )
        self.value = re.compile(rb"<" + p + rb"v>([^<]*)</" + p + rb"v>")
        self.formula = re.compile(rb"<" + p + rb"f\b[^>]*>([^<]*)</" + p + rb"f>")

    def _cell_tag(self, data: bytes, at: int) -> tuple[int, bytes] | None:
        """Start and opening tag of the cell holding position ``at``."""
        start = data.rfind(self.cell_open_text, 0, at + 1)
        while start >= 0 and not self.cell_open.match(data, start):
            start = data.rfind(self.cell_open_text, 0, start)
        if start < 0:
            return None
        return start, data[start : data.find(b">", start) + 1]

    def collect(self, data: bytes, end: int, found: list[ErrorCell]) -> bool:
        """Add the hits in ``data[:end]``; False when a hit cell has no reference."""
        hits = [m for pattern in _ERROR_TYPES for m in pattern.finditer(data, 0, end)]
        for match in hits:
            located = self._cell_tag(data, match.start())
            if located is None:
                continue
            start, tag = located
            if (
                start + len(tag) <= match.start()
                or not data[match.start() - 1 : match.start()].isspace()
            ):
                continue  # not the cell's own type attribute
            closed = tag.endswith(b"/>")
            body_end = start + len(tag) if closed else data.find(self.cell_close, start, end)
            body = data[start + len(tag) : body_end if body_end >= 0 else end]
            value = self.value.search(body)
            text = value.group(1).decode("utf-8", "replace") if value else ""
            if not _add(found, tag, text or "#ERROR", "error"):
                return False
        for match in self.uncalculated.finditer(data, 0, end):
            located = self._cell_tag(data, match.start())
            if located is None:
                continue
            tag = located[1]
            kind = _TYPE.search(tag)
            cell_type = kind.group(1) if kind else b"n"
            if cell_type == b"e" or (cell_type == b"str" and match.group(3)):
                continue  # an error (counted above) or a formula whose result is ""
            formula = (match.group(2) or b"").decode("utf-8", "replace")
            if not _add(found, tag, "=" + _unescape(formula), "uncalculated"):
                return False
        return True


def _add(found: list[ErrorCell], tag: bytes, text: str, kind: str) -> bool:
    reference = _REFERENCE.search(tag)
    if reference is None:
        return False
    found.append(
        ErrorCell(
            row=int(reference.group(2)) - 1,
            column=_column_index(reference.group(1)),
            text=text,
            kind="error" if kind == "error" else "uncalculated",
        )
    )
    return True


def _unescape(text: str) -> str:
    return (
        text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", '"')
        .replace("&apos;", "'")
        .replace("&amp;", "&")
    )


def _walk(stream: IO[bytes]) -> Iterator[ErrorCell]:
    """Slow path for cells without ``r``: count rows and cells as the XML lists them."""
    row = -1
    column = -1
    for event, element in ElementTree.iterparse(stream, events=("start", "end")):
        name = _local(element.tag)
        if event == "start":
            if name == "row":
                given = element.get("r")
                row = int(given) - 1 if given and given.isdigit() else row + 1
                column = -1
            elif name == "c":
                reference = _REFERENCE.search(b" r='" + element.get("r", "").encode() + b"'")
                column = _column_index(reference.group(1)) if reference else column + 1
            continue
        if name != "c":
            if name == "row":
                element.clear()
            continue
        parts = {_local(child.tag): child for child in element}
        value = parts.get("v")
        value_text = value.text if value is not None else None
        if element.get("t") == "e":
            yield ErrorCell(row=row, column=column, text=value_text or "#ERROR", kind="error")
        elif "f" in parts and not value_text:
            if element.get("t") == "str" and value is not None:
                continue
            formula = parts["f"].text or ""
            yield ErrorCell(row=row, column=column, text="=" + formula, kind="uncalculated")
