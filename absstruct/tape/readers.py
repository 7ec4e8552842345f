"""Read a tape file (CSV, XLSX/XLS, Parquet) into raw columns with the user's row numbers.

Readers never interpret values beyond what is safe: columns the template will parse as
numbers or dates may be typed by the reader (fast path), every other column is read as
text so that ids such as ``"000123"`` keep their leading zeros.  A reader raises
:class:`~absstruct.errors.TapeError` only when the file cannot be read at all; rows with
the wrong number of fields become problems.

Examples
--------
>>> import pathlib, tempfile
>>> path = pathlib.Path(tempfile.mkdtemp()) / "t.csv"
>>> _ = path.write_text("id,amount\\n007,1.5\\n008,2\\n", encoding="utf-8")
>>> raw = read_raw(path, text_headers={"id"})
>>> raw.frame["id"].tolist(), raw.rows.tolist(), raw.encoding
(['007', '008'], [2, 3], 'utf-8')
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import re
from collections.abc import Collection, Container, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from absstruct.errors import Problem, TapeError
from absstruct.tape.excel_errors import (
    SCANNED_SUFFIXES,
    ErrorCell,
    find_error_cells,
    last_row,
)

SAMPLE_BYTES = 1 << 16
XLSX_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
PARQUET_SUFFIXES = (".parquet", ".pq")
# How many leading spreadsheet rows may sit above the header (titles, notes).
HEADER_SEARCH_ROWS = 30


@dataclass(frozen=True, kw_only=True)
class RawTable:
    """Columns as read, the row number the user sees for each, and reader problems."""

    frame: pd.DataFrame
    rows: np.ndarray
    kind: str
    encoding: str = ""
    sheet: str = ""
    problems: tuple[Problem, ...] = field(default=())
    # Spreadsheet cells read as blank that hold an error or an uncalculated formula:
    # column name -> [(frame position, cell)], reported by the caller (one count per cell).
    error_cells: dict[str, list[tuple[int, ErrorCell]]] = field(default_factory=dict)


def normalise_header(name: object) -> str:
    """Header as matched against templates: no BOM, trimmed, case-folded, single spaces."""
    return " ".join(str(name).replace("\ufeff", "").split()).casefold()


def read_raw(
    path: str | os.PathLike[str],
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    text_headers: Container[str] | None = None,
    coded_headers: Collection[str] = (),
    number_headers: Collection[str] = (),
    header_hints: Collection[str] = (),
) -> RawTable:
    """Read ``path`` by its extension.

    Parameters
    ----------
    text_headers : collection of str, optional
        Normalised headers (see :func:`normalise_header`) a CSV reader must keep as text.
        Other columns may be typed by the reader (numbers, dates).  ``None``: all text.
    coded_headers : collection of str
        Text headers with few distinct values (codes): a CSV reader may return them as
        pandas categoricals.
    number_headers : collection of str
        Typed headers holding numbers: a CSV reader reads them strictly as decimal numbers
        (``0x10`` is not 16) and hands any column with other text over as text.
    header_hints : collection of str
        Normalised headers the template knows; used to find the header row in spreadsheets
        that carry a title above it.
    """
    path = Path(path)
    if not path.exists():
        raise TapeError(f"{path}: no such file")
    if path.is_dir():
        raise TapeError(f"{path}: is a folder, not a tape file")
    if path.stat().st_size == 0:
        raise TapeError(f"{path}: the file is empty (0 bytes); expected a header row and loans")
    suffix = path.suffix.lower()
    if suffix in XLSX_SUFFIXES:
        return _read_spreadsheet(path, sheet=sheet, header_hints=header_hints)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(path)
    return _read_csv(
        path,
        encoding=encoding,
        text_headers=text_headers,
        coded_headers=coded_headers,
        number_headers=number_headers,
    )


# --------------------------------------------------------------------------- CSV


def _open_bytes(path: Path) -> io.BufferedIOBase:
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def _sample(path: Path) -> bytes:
    try:
        with _open_bytes(path) as handle:
            return handle.read(SAMPLE_BYTES)
    except (OSError, EOFError) as error:
        raise TapeError(f"{path}: cannot read the file: {error}") from None


def _detect_encoding(path: Path, sample: bytes, *, whole: bool = False) -> str:
    """UTF-8 (with or without BOM) when the bytes decode, else a guess (GB18030 for GBK)."""
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(sample, final=whole)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    # Judge only the lines that are not plain ASCII: in a mostly-ASCII tape they carry
    # the evidence (a province name), and detectors misjudge a few bytes in a sea of ASCII.
    excerpt = b"\n".join(line for line in sample.splitlines() if not line.isascii())[:SAMPLE_BYTES]
    if _mostly_chinese(excerpt):
        # GB18030 is a superset of GBK and GB2312: the safe choice for Chinese exports.
        return "gb18030"
    from charset_normalizer import from_bytes

    best = from_bytes(excerpt).best()
    guess = (best.encoding if best is not None else "") or ""
    if guess:
        return guess.lower().replace("_", "-")
    raise TapeError(
        f"{path}: cannot tell the text encoding (not UTF-8, not GBK/GB18030); "
        "give it with --encoding (e.g. --encoding gb18030)"
    )


def _mostly_chinese(data: bytes) -> bool:
    """True when ``data`` reads as GB18030 Chinese text.

    Common Chinese characters take two bytes that are both >= 0x80, so runs of non-ASCII
    bytes have even lengths; a Latin-1 accent is a run of one, which GB18030 would also
    "decode" by swallowing the next ASCII letter.
    """
    runs = re.findall(rb"[\x80-\xff]+", data)
    if not runs or sum(len(run) % 2 == 0 for run in runs) < 0.9 * len(runs):
        return False
    try:
        data.decode("gb18030")
    except UnicodeDecodeError:
        return False
    return True


def _check_encoding_name(encoding: str) -> str:
    try:
        info = codecs.lookup(encoding)
    except LookupError:
        info = None
    # base64, rot13, zlib... are codecs but not text encodings: a tape cannot be one.
    if info is None or not getattr(info, "_is_text_encoding", True):
        raise TapeError(
            f"--encoding {encoding!r} is not a known text encoding; "
            "use e.g. utf-8, utf-8-sig, gb18030, gbk, latin-1"
        ) from None
    return info.name


def _header_fields(path: Path, sample: bytes, encoding: str) -> tuple[list[str], str]:
    try:
        text = sample.decode(encoding, errors="strict" if len(sample) < SAMPLE_BYTES else "ignore")
    except UnicodeDecodeError as error:
        raise TapeError(
            f"{path}: cannot decode the file as {encoding} ({error.reason} at byte "
            f"{error.start}); give the right --encoding (Chinese exports are often gb18030)"
        ) from None
    except UnicodeError as error:  # e.g. utf-16 without its byte-order mark
        raise TapeError(
            f"{path}: cannot decode the file as {encoding} ({error}); give the right --encoding"
        ) from None
    text = text.lstrip("\ufeff")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first.strip():
        raise TapeError(f"{path}: no header row found (the file holds only blank lines)")
    delimiter = max(",;\t|", key=first.count)
    if first.count(delimiter) == 0:
        delimiter = ","
    header = next(csv.reader([first], delimiter=delimiter))
    return [h.strip() for h in header], delimiter


def _dedupe(names: list[str]) -> tuple[list[str], list[Problem]]:
    seen: dict[str, int] = {}
    out: list[str] = []
    problems: list[Problem] = []
    for position, name in enumerate(names, start=1):
        label = name or f"column_{position}"
        key = normalise_header(label)
        if key in seen:
            seen[key] += 1
            problems.append(
                Problem(
                    where=f"row 1, column {position}",
                    value=name,
                    rule="duplicate_header",
                    message="repeats an earlier header; the first one is used",
                    severity="warning",
                )
            )
            label = f"{label}.{seen[key]}"
        else:
            seen[key] = 0
        out.append(label)
    return out, problems


def _read_csv(
    path: Path,
    *,
    encoding: str | None,
    text_headers: Container[str] | None,
    coded_headers: Collection[str] = (),
    number_headers: Collection[str] = (),
) -> RawTable:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    sample = _sample(path)
    if not sample.strip(b" \t\r\n\xef\xbb\xbf"):
        raise TapeError(f"{path}: the file is empty (no header row); expected a header and loans")
    explicit = encoding is not None
    utf16 = sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        explicit and "16" in str(encoding)
    )
    if not utf16 and b"\x00" in sample[:4096]:
        raise TapeError(
            f"{path}: does not look like a text (CSV) file; tapes are read as .csv, "
            ".xlsx/.xls or .parquet by their extension"
        )
    chosen = (
        _check_encoding_name(encoding) if encoding is not None else _detect_encoding(path, sample)
    )
    header, delimiter = _header_fields(path, sample, chosen)
    names, problems = _dedupe(header)
    text_columns = [
        name
        for name in names
        if text_headers is None or normalise_header(name) in text_headers or "." in name
    ]
    # Arrow's own type inference reads "0x10" as 16: number columns are read as strict
    # decimals instead, and one holding other text ("12.5%", "36 months") is re-read as text.
    strict_numbers = [
        name
        for name in names
        if name not in text_columns and normalise_header(name) in number_headers
    ]

    def attempt(codec: str, threads: bool) -> tuple[pd.DataFrame, list[tuple[int | None, int]]]:
        while True:
            try:
                return attempt_once(codec, threads)
            except pa.ArrowInvalid as error:
                message = str(error)
                if "conversion error" not in message or not strict_numbers:
                    raise
                found = re.search(r"column #(\d+)", message)
                failed = names[int(found.group(1))] if found else None
                if failed in strict_numbers:
                    strict_numbers.remove(failed)
                    text_columns.append(failed)
                else:
                    text_columns.extend(strict_numbers)
                    strict_numbers.clear()

    def attempt_once(
        codec: str, threads: bool
    ) -> tuple[pd.DataFrame, list[tuple[int | None, int]]]:
        invalid: list[tuple[int | None, int]] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            invalid.append((row.number, row.actual_columns))
            return "skip"

        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                column_names=names,
                skip_rows=1,
                encoding="utf8" if codec in ("utf-8", "utf_8") else codec,
                use_threads=threads,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={
                    **{name: pa.float64() for name in strict_numbers},
                    **{
                        name: pa.dictionary(pa.int32(), pa.string())
                        if normalise_header(name) in coded_headers
                        else pa.string()
                        for name in text_columns
                    },
                },
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        return table.to_pandas(date_as_object=False), invalid

    try:
        try:
            frame, invalid = attempt(chosen, True)
        except pa.ArrowInvalid as error:
            if "UTF8" not in str(error) or explicit:
                raise
            # The sample was UTF-8 but a later row is not: detect on the whole file.
            with _open_bytes(path) as handle:
                chosen = _detect_encoding(path, handle.read(), whole=True)
            frame, invalid = attempt(chosen, True)
        if any(number is None for number, _ in invalid):
            # Row numbers are only known when parsing on one thread; rare, so pay then.
            frame, invalid = attempt(chosen, False)
    except pa.ArrowInvalid as error:
        message = str(error)
        if "UTF8" in message:
            raise TapeError(
                f"{path}: cannot decode the file as {chosen} (invalid bytes); give the "
                "right --encoding (Chinese exports are often gb18030)"
            ) from None
        if "Empty CSV file" in message:
            raise TapeError(f"{path}: the file is empty; expected a header row and loans") from None
        raise TapeError(f"{path}: cannot read as CSV: {message.splitlines()[0]}") from None
    except (UnicodeError, LookupError) as error:
        raise TapeError(
            f"{path}: cannot decode the file as {chosen} ({error}); give the right --encoding"
        ) from None
    except (OSError, EOFError) as error:
        raise TapeError(f"{path}: cannot read the file: {error}") from None

    rows = np.arange(len(frame), dtype=np.int64) + 2
    for number, actual in sorted(invalid, key=lambda item: item[0] or 0):
        line = int(number or 0)
        rows[rows >= line] += 1
        problems.append(
            Problem(
                where=f"row {line}",
                value=None,
                rule="malformed_row",
                message=(
                    f"has {actual} field(s) but the header has {len(names)} "
                    "(truncated or misaligned row); the row is skipped"
                ),
            )
        )
    return RawTable(frame=frame, rows=rows, kind="csv", encoding=chosen, problems=tuple(problems))


# --------------------------------------------------------------------------- spreadsheets


def _read_spreadsheet(path: Path, *, sheet: str | None, header_hints: Collection[str]) -> RawTable:
    import python_calamine

    try:
        book = python_calamine.CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
        if sheet is None:
            if not names:
                raise TapeError(f"{path}: the workbook has no sheets")
            sheet = names[0]
        elif sheet not in names:
            raise TapeError(
                f"{path}: no sheet named {sheet!r}; the workbook has: {', '.join(names)}"
            )
        scanned = path.suffix.lower() in SCANNED_SUFFIXES
        with ThreadPoolExecutor(max_workers=1) as pool:
            # Where the sheet's XML says it ends (see below), worked out on another core
            # while calamine parses (both release the GIL): little wall-clock time.
            ends = pool.submit(last_row, path, sheet) if scanned else None
            cells = book.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
            xml_rows = ends.result() if ends is not None else None
    except TapeError:
        raise
    except Exception as error:  # calamine raises several unrelated types for bad files
        raise TapeError(
            f"{path}: cannot read as a spreadsheet ({type(error).__name__}: {error})"
        ) from None
    if not cells or not any(any(c not in ("", None) for c in row) for row in cells):
        found = find_error_cells(path, sheet) if scanned else ()
        raise TapeError(
            f"{path}: sheet {sheet!r} is empty; expected a header row and loans"
            + (
                f" (it holds only {len(found)} error or uncalculated formula cell(s), "
                f"first {found[0].reference}: {found[0].text!r})"
                if found
                else ""
            )
        )
    header_at = _find_header_row(cells, header_hints)
    header = ["" if c is None else str(c).strip() for c in cells[header_at]]
    blank_header = "" in header
    while header and header[-1] == "":
        header.pop()
    names, problems = _dedupe(header)
    body = cells[header_at + 1 :]
    width = len(names)
    columns = list(zip(*[(row + [""] * width)[:width] for row in body], strict=True)) or [
        () for _ in names
    ]
    data = {name: _spreadsheet_column(values) for name, values in zip(names, columns, strict=True)}
    frame = pd.DataFrame(data)
    blank = frame.isna().to_numpy()
    found = ()
    # The reader returns error cells (and formulas saved without results) as blanks, and
    # leaves out a trailing row of such formulas: look for them only when the table has a
    # blank cell or the sheet's XML ends on a later row than was read.
    if scanned and (blank_header or blank.any() or xml_rows != len(cells)):
        found = find_error_cells(path, sheet)
    problems += _header_error_problems(found, header_at, sheet)
    in_body = [cell for cell in found if cell.row > header_at and cell.column < width]
    missing = max((cell.row - header_at for cell in in_body), default=0) - len(frame)
    if missing > 0:
        frame = frame.reindex(pd.RangeIndex(len(frame) + missing))
        blank = frame.isna().to_numpy()
    rows = np.arange(len(frame), dtype=np.int64) + header_at + 2
    keep = ~blank.all(axis=1)
    # A row whose only content is error cells is a loan with bad cells, not a blank row.
    keep[[cell.row - header_at - 1 for cell in in_body]] = True
    if not keep.all():
        frame = frame.loc[keep].reset_index(drop=True)
        rows = rows[keep]
    position = np.cumsum(keep) - 1
    error_cells: dict[str, list[tuple[int, ErrorCell]]] = {}
    for cell in in_body:
        at = int(position[cell.row - header_at - 1])
        error_cells.setdefault(names[cell.column], []).append((at, cell))
    if header_at:
        problems.append(
            Problem(
                where=f"sheet {sheet}",
                value=None,
                rule="header_row",
                message=f"header found on row {header_at + 1}; rows above it are skipped",
                severity="warning",
            )
        )
    return RawTable(
        frame=frame,
        rows=rows,
        kind="xlsx",
        sheet=sheet,
        problems=tuple(problems),
        error_cells=error_cells,
    )


def describe_error_cell(cell: ErrorCell, sheet: str) -> tuple[str, str]:
    """(rule, message) for a cell read as blank that holds an error or an uncalculated formula.

    >>> from absstruct.tape.excel_errors import ErrorCell
    >>> describe_error_cell(ErrorCell(row=2, column=1, text="#N/A", kind="error"), "Loans")[1]
    'is an error value in cell Loans!B3, not a blank; fix the formula or clear the cell'
    """
    name = sheet if re.fullmatch(r"\w+", sheet) else "'" + sheet.replace("'", "''") + "'"
    if cell.kind == "error":
        return "excel_error", (
            f"is an error value in cell {name}!{cell.reference}, not a blank; "
            "fix the formula or clear the cell"
        )
    return "excel_formula_without_value", (
        f"is a formula saved without its result in cell {name}!{cell.reference}; recalculate "
        "and save the workbook in Excel (or paste values) so the result is stored"
    )


def _header_error_problems(found: Sequence[ErrorCell], header_at: int, sheet: str) -> list[Problem]:
    """Error cells on the header row (also right of the last header: nothing is dropped)."""
    problems = []
    for cell in found:
        if cell.row == header_at:
            rule, message = describe_error_cell(cell, sheet)
            problems.append(
                Problem(
                    where=f"row {cell.row + 1}, column {cell.column + 1}",
                    value=cell.text,
                    rule=rule,
                    message=message.replace("in cell", "in header cell", 1),
                )
            )
    return problems


def _find_header_row(cells: Sequence[Sequence[object]], hints: Collection[str]) -> int:
    """The first row matching the most known headers (a title above it is skipped)."""
    best, best_hits = None, 0
    for index, row in enumerate(cells[:HEADER_SEARCH_ROWS]):
        hits = sum(1 for c in row if isinstance(c, str) and normalise_header(c) in hints)
        if hits > best_hits:
            best, best_hits = index, hits
    if best is not None:
        return best
    for index, row in enumerate(cells[:HEADER_SEARCH_ROWS]):
        if sum(1 for c in row if c not in ("", None)) >= 2:
            return index
    return 0


def _spreadsheet_column(values: tuple[object, ...]) -> pd.Series:
    series = pd.Series(values, dtype=object)
    series = series.where(series != "")
    kind = pd.api.types.infer_dtype(series, skipna=True)
    if kind in ("floating", "integer", "mixed-integer-float"):
        return series.astype("float64")
    if kind == "string":
        return series.astype("str").where(series.notna())
    return series


# --------------------------------------------------------------------------- parquet


def _read_parquet(path: Path) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise TapeError(
            f"{path}: cannot read as Parquet ({type(error).__name__}: {error})"
        ) from None
    frame = frame.reset_index(drop=True)
    frame.columns = [str(c) for c in frame.columns]
    rows = np.arange(len(frame), dtype=np.int64) + 1
    return RawTable(frame=frame, rows=rows, kind="parquet")
