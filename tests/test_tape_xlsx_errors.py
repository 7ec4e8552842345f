"""Spreadsheet error cells and options a tape's format cannot use (found by fuzzing).

- ``#N/A``, ``#DIV/0!``, ``#VALUE!``, ``#REF!`` ... cells and formulas saved without a result
  come back from the fast reader as blanks; they must be problems naming the sheet row,
  the column, the cell and the error text, never silent blanks or dropped rows.
- ``tape check|convert TAPE.csv --sheet X`` (and ``--encoding`` for a spreadsheet or
  Parquet tape) is a usage error naming the option, not silently ignored.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import Workbook

from absstruct.cli import main
from absstruct.errors import TapeError
from absstruct.tape import load_tape, read_tape
from absstruct.tape.excel_errors import ErrorCell, column_letters, find_error_cells, last_row
from tests.conftest import ROOT

HEADER = [
    "loan_id", "original_balance", "current_balance", "rate", "original_term",
    "remaining_term", "amortization", "days_past_due", "grade",
]  # fmt: skip
GOOD = ["0001", 1000, 800, 0.12, 12, 9, "level_pay", 0, "A"]
ERRORS = ["#N/A", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!"]


def loan(number: int) -> list[object]:
    return [f"{number:04d}", *GOOD[1:]]


def workbook(path: Path, rows: list[list[object]], *, errors=(), title: str = "Loans") -> Path:
    """A tape workbook; ``errors`` are (cell, text) written as Excel error cells."""
    book = Workbook()
    sheet = book.active
    sheet.title = title
    for row in rows:
        sheet.append(row)
    for reference, text in errors:
        sheet[reference].value = text
        sheet[reference].data_type = "e"
    book.save(path)
    return path


# ----------------------------------------------------------------------------- library


@pytest.mark.parametrize("text", ERRORS)
@pytest.mark.parametrize(
    ("cell", "column", "row"),
    [("H3", "days_past_due", 3), ("I2", "grade", 2), ("D3", "rate", 3)],
)
def test_each_error_value_is_a_problem_naming_row_column_cell_and_text(
    tmp_path, text, cell, column, row
):
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1), loan(2)], errors=[(cell, text)])
    report = read_tape(path)
    found = [p for p in report.problems if p.rule == "excel_error"]
    assert [(p.where, p.value) for p in found] == [(f"row {row}, column {column}", text)]
    assert f"error value in cell Loans!{cell}, not a blank" in found[0].message
    assert report.counts["excel_error"] == ("error", 1)
    assert len(report.frame) == 2  # the loan stays, with its problem
    with pytest.raises(
        TapeError, match=re.escape(f"row {row}, column {column}: '{text}' is an err")
    ):
        load_tape(path)


def test_an_error_in_a_required_column_is_not_also_reported_blank(tmp_path):
    rows = [HEADER, loan(1), loan(2), [*loan(3)[:3], None, *GOOD[4:]]]
    report = read_tape(workbook(tmp_path / "t.xlsx", rows, errors=[("D3", "#VALUE!")]))
    assert [(p.where, p.rule) for p in report.problems] == [
        ("row 3, column rate", "excel_error"),
        ("row 4, column rate", "missing_value"),  # a truly blank cell still is
    ]


def test_a_formula_saved_without_its_result_is_a_problem(tmp_path):
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1), [*loan(2)[:7], "=1/0", "A"]])
    report = read_tape(path)
    found = [p for p in report.problems if p.rule == "excel_formula_without_value"]
    assert [(p.where, p.value) for p in found] == [("row 3, column days_past_due", "=1/0")]
    assert "saved without its result in cell Loans!H3; recalculate" in found[0].message


def test_rows_made_only_of_error_cells_are_kept_and_reported(tmp_path):
    # Row 3 holds only error values (read as an all-blank row); row 5 holds only formulas
    # without results and is the last row, which the reader leaves out of its range.
    rows = [HEADER, loan(1), [None] * 9, loan(4), ["=A2"] * 9]
    errors = [(f"{column_letters(i)}3", "#N/A") for i in range(9)]
    report = read_tape(workbook(tmp_path / "t.xlsx", rows, errors=errors))
    assert len(report.frame) == 4
    assert report.counts["excel_error"] == ("error", 9)
    assert report.counts["excel_formula_without_value"] == ("error", 9)
    wheres = {p.where for p in report.problems if p.rule.startswith("excel_")}
    assert "row 3, column loan_id" in wheres and "row 5, column grade" in wheres


def test_an_error_in_the_header_row_is_named(tmp_path):
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1)], errors=[("I1", "#REF!")])
    found = [p for p in read_tape(path).problems if p.rule == "excel_error"]
    assert [(p.where, p.value) for p in found] == [("row 1, column 9", "#REF!")]
    assert "error value in header cell Loans!I1" in found[0].message


def test_counts_stay_exact_when_only_the_first_problems_are_listed(tmp_path):
    rows = [HEADER] + [loan(n) for n in range(1, 81)]
    errors = [(f"I{n + 1}", "#N/A") for n in range(1, 81)]
    report = read_tape(workbook(tmp_path / "t.xlsx", rows, errors=errors))
    assert report.counts["excel_error"] == ("error", 80)
    assert len([p for p in report.problems if p.rule == "excel_error"]) == 50
    assert report.error_count == 80 and len(report.frame) == 80


def test_a_clean_workbook_has_no_error_problems(tmp_path):
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1), [*loan(2)[:8], None]])
    report = read_tape(path)  # a genuinely blank optional cell stays a plain blank
    assert report.ok, report.problems
    assert find_error_cells(path, "Loans") == ()
    assert report.frame["grade"].isna().tolist() == [False, True]


def test_sheet_names_with_spaces_are_quoted_in_the_cell_name(tmp_path):
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1)], errors=[("H2", "#N/A")], title="Pool 1")
    found = [p for p in read_tape(path, sheet="Pool 1").problems if p.rule == "excel_error"]
    assert "in cell 'Pool 1'!H2" in found[0].message


# ------------------------------------------------------------------- hand-written XML forms

NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def raw_xlsx(path: Path, sheet_data: str, *, prefix: str = "", dimension: str = "") -> Path:
    """A minimal workbook whose sheet XML is written by hand (forms openpyxl never writes)."""
    p = f"{prefix}:" if prefix else ""
    xmlns = f'xmlns:{prefix}="{NS}"' if prefix else f'xmlns="{NS}"'
    dim = f'<{p}dimension ref="{dimension}"/>' if dimension else ""
    sheet = f"<{p}worksheet {xmlns}>{dim}<{p}sheetData>{sheet_data}</{p}sheetData></{p}worksheet>"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxml'
            'formats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/'
            'worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument'
            '.spreadsheetml.worksheet+xml"/></Types>',
        )
        archive.writestr(
            "_rels/.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/>'
            "</Relationships>",
        )
        archive.writestr(
            "xl/workbook.xml",
            f'<workbook xmlns="{NS}" xmlns:r="{REL}"><sheets>'
            '<sheet name="Data" sheetId="1" r:id="rId7"/></sheets></workbook>',
        )
        archive.writestr(
            "xl/_rels/workbook.xml.rels",
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            f'<Relationship Id="rId7" Type="{REL}/worksheet" Target="/xl/worksheets/sheet1.xml"/>'
            "</Relationships>",
        )
        archive.writestr("xl/worksheets/sheet1.xml", sheet)
    return path


def text_cell(reference: str, text: str, p: str = "") -> str:
    return f'<{p}c r="{reference}" t="inlineStr"><{p}is><{p}t>{text}</{p}t></{p}is></{p}c>'


HEAD_ROW = '<row r="1">' + text_cell("A1", "id") + text_cell("B1", "amount") + "</row>"

XML_CASES = [
    (  # cached results, including an empty-string result, are values, not errors
        "cached_results",
        HEAD_ROW + '<row r="2">' + text_cell("A2", "x") + '<c r="B2"><f>1+1</f><v>2</v></c></row>'
        '<row r="3">' + text_cell("A3", "y") + '<c r="B3" t="str"><f>""</f><v></v></c></row>',
        {},
        [],
    ),
    (
        "single_quotes_and_a_formula_error",
        HEAD_ROW + "<row r='2'>" + text_cell("A2", "x") + "<c r='B2' t='e'><f>1/0</f>"
        "<v>#DIV/0!</v></c></row>",
        {},
        [(1, 1, "#DIV/0!", "error")],
    ),
    (
        "shared_formula_and_escaped_text",
        HEAD_ROW + '<row r="2">' + text_cell("A2", "x") + '<c r="B2"><f t="shared" si="0" '
        'ref="B2:B3">A2&amp;"&lt;"</f></c></row><row r="3">'
        + text_cell("A3", "y")
        + '<c r="B3"><f t="shared" si="0"/><v/></c></row>',
        {},
        [(1, 1, '=A2&"<"', "uncalculated"), (2, 1, "=", "uncalculated")],
    ),
    (
        "namespace_prefix",
        '<x:row r="1">'
        + text_cell("A1", "id", "x:")
        + text_cell("B1", "amount", "x:")
        + '</x:row><x:row r="2">'
        + text_cell("A2", "x", "x:")
        + '<x:c r="B2" t="e"><x:v>#N/A</x:v></x:c></x:row>',
        {"prefix": "x"},
        [(1, 1, "#N/A", "error")],
    ),
    (
        "cells_without_references",
        '<row><c t="inlineStr"><is><t>id</t></is></c><c t="inlineStr"><is><t>amount</t></is>'
        '</c></row><row><c t="inlineStr"><is><t>x</t></is></c><c t="e"><v>#REF!</v></c></row>'
        '<row r="5"><c t="inlineStr"><is><t>y</t></is></c><c><f>B2*2</f></c></row>',
        {"dimension": "A1:B5"},
        [(1, 1, "#REF!", "error"), (4, 1, "=B2*2", "uncalculated")],
    ),
]


@pytest.mark.parametrize(
    ("name", "sheet_data", "options", "expected"), XML_CASES, ids=[c[0] for c in XML_CASES]
)
def test_error_cells_in_hand_written_sheet_xml(tmp_path, name, sheet_data, options, expected):
    path = raw_xlsx(tmp_path / f"{name}.xlsx", sheet_data, **options)
    found = [(c.row, c.column, c.text, c.kind) for c in find_error_cells(path, "Data")]
    assert found == expected, f"expected {expected}\ncalculated {found}"


def test_last_row_reads_the_dimension_or_the_last_row_element(tmp_path):
    with_dimension = raw_xlsx(tmp_path / "a.xlsx", HEAD_ROW, dimension="A1:B40")
    assert last_row(with_dimension, "Data") == 40
    without = raw_xlsx(tmp_path / "b.xlsx", HEAD_ROW + '<row r="7"><c r="A7"><v>1</v></c></row>')
    assert last_row(without, "Data") == 7
    assert last_row(without, "No such sheet") is None


def test_formats_that_are_not_xml_are_not_scanned(tmp_path):
    assert find_error_cells(tmp_path / "t.xls", "Data") == ()
    damaged = tmp_path / "d.xlsx"
    damaged.write_bytes(b"PK\x03\x04 not really a zip")
    assert find_error_cells(damaged, "Data") == ()


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cells=st.dictionaries(
        st.tuples(st.integers(1, 12), st.integers(0, 8)), st.sampled_from(ERRORS), max_size=12
    )
)
def test_every_error_cell_is_found_where_it_was_written(tmp_path, cells):
    rows = [HEADER] + [loan(n) for n in range(1, 13)]
    errors = [(f"{column_letters(c)}{r + 1}", text) for (r, c), text in cells.items()]
    path = workbook(tmp_path / "h.xlsx", rows, errors=errors)
    expected = sorted(
        ErrorCell(row=r, column=c, text=t, kind="error") for (r, c), t in cells.items()
    )
    assert list(find_error_cells(path, "Loans")) == expected
    report = read_tape(path)
    listed = {p.where for p in report.problems if p.rule == "excel_error"}
    assert listed == {f"row {r + 1}, column {HEADER[c]}" for r, c in cells}
    assert len(report.frame) == 12


# ----------------------------------------------------------------------------- CLI


def test_cli_check_reports_error_cells_and_exits_1(runner, tmp_path):
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1)], errors=[("H2", "#VALUE!")])
    out = runner.invoke(main, ["tape", "check", str(path)])
    assert out.exit_code == 1, out.output
    assert "excel_error" in out.stdout
    assert "row 2, column days_past_due: '#VALUE!' is an error value in cell Loans!H2" in out.stdout
    assert "Traceback" not in out.output


def test_cli_convert_refuses_and_writes_nothing(runner, tmp_path):
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1)], errors=[("I2", "#N/A")])
    target = tmp_path / "out.parquet"
    out = runner.invoke(main, ["tape", "convert", str(path), "-o", str(target)])
    assert out.exit_code == 1, out.output
    assert "row 2, column grade: '#N/A' is an error value in cell Loans!I2" in out.stderr
    assert not target.exists() and "Traceback" not in out.output


def test_subprocess_check_of_an_uncalculated_formula(tmp_path):
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1), [*loan(2)[:3], "=D2*2", *GOOD[4:]]])
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "tape", "check", str(path), "--sheet", "Loans"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "row 3, column rate: '=D2*2' is a formula saved without its result" in done.stdout
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------- options a format cannot use


@pytest.fixture()
def csv_tape(tmp_path) -> Path:
    path = tmp_path / "tape.csv"
    path.write_text(",".join(HEADER) + "\n" + ",".join(map(str, GOOD)) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["check", "convert"])
@pytest.mark.parametrize("suffix", [".csv", ".csv.gz", ".parquet"])
def test_sheet_for_a_tape_without_sheets_is_a_usage_error(runner, tmp_path, command, suffix):
    path = tmp_path / f"tape{suffix}"
    path.write_bytes(b"unused: the option is refused before the file is read")
    extra = ["-o", str(tmp_path / "out.csv")] if command == "convert" else []
    out = runner.invoke(main, ["tape", command, str(path), "--sheet", "Loans", *extra])
    assert out.exit_code == 2, out.output
    assert "Invalid value for --sheet" in out.stderr and "has no sheets" in out.stderr
    assert "Traceback" not in out.output
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize("suffix", [".xlsx", ".parquet"])
def test_encoding_for_a_tape_that_is_not_text_is_a_usage_error(runner, tmp_path, suffix):
    path = tmp_path / f"tape{suffix}"
    path.write_bytes(b"unused")
    out = runner.invoke(main, ["tape", "check", str(path), "--encoding", "gbk"])
    assert out.exit_code == 2, out.output
    assert "Invalid value for --encoding" in out.stderr and "CSV files only" in out.stderr


def test_options_that_fit_the_format_still_work(runner, tmp_path, csv_tape):
    assert (
        runner.invoke(main, ["tape", "check", str(csv_tape), "--encoding", "utf-8"]).exit_code == 0
    )
    path = workbook(tmp_path / "t.xlsx", [HEADER, loan(1)])
    assert runner.invoke(main, ["tape", "check", str(path), "--sheet", "Loans"]).exit_code == 0


def test_subprocess_sheet_with_a_csv_exits_2(csv_tape):
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "tape", "check", str(csv_tape), "--sheet", "x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "--sheet" in done.stderr and "tape.csv is read as CSV" in done.stderr
    assert "Traceback" not in done.stderr
