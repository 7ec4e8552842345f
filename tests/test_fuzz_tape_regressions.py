"""Regressions for bad tape input found by fuzzing: each once gave a traceback or a silent
wrong value (a hex term read as 16, ``1,2,3`` read as 123, a date wrapped to 1816, True
read as a balance of 1).  Each now gives a problem naming row, column and value.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from absstruct.cli import main
from absstruct.tape import read_tape
from absstruct.tape.parse import parse_date, parse_number

HEADER = (
    "loan_id,original_balance,current_balance,rate,original_term,remaining_term,"
    "amortization,origination_date,maturity_date,days_past_due"
)
GOOD = ["0001", "1000", "800", "0.12", "12", "9", "level_pay", "2026-01-15", "2027-01-15", "0"]
OTHER = ",".join(["0002", *GOOD[1:]])


def tape_with(folder: Path, column: str, cell: str) -> Path:
    row = list(GOOD)
    row[HEADER.split(",").index(column)] = cell
    path = folder / "tape.csv"
    path.write_text(f"{HEADER}\n{','.join(row)}\n{OTHER}\n", encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("column", "cell", "message"),
    [
        # Arrow's inference read hex as an integer: 16 months left, silently.
        ("remaining_term", "0x10", "row 2, column remaining_term: '0x10' is not a number"),
        # Commas were stripped anywhere: "1,2,3" became 123 and "12,5%" 125%.
        ("current_balance", '"1,2,3"', "row 2, column current_balance: '1,2,3' is not a number"),
        ("rate", '"12,5%"', "row 2, column rate: '12,5%' is not a number"),
        ("current_balance", "1_000", "row 2, column current_balance: '1_000' is not a number"),
        # Infinite amounts and terms passed every range rule.
        ("original_balance", "inf", "row 2, column original_balance: inf is not a number"),
        ("original_balance", "1e309", "row 2, column original_balance: inf is not a number"),
        ("original_term", "Infinity", "row 2, column original_term: inf is not a number"),
        ("days_past_due", "-inf", "row 2, column days_past_due: -inf is not a number"),
        # Dates outside datetime64[ns] raised OutOfBoundsDatetime (a traceback).
        ("maturity_date", "9999-12-31", "'9999-12-31' is not a date .*dates run 1678-01-01"),
        ("origination_date", "0001-01-01", "'0001-01-01' is not a date"),
    ],
)
def test_bad_cells_are_reported_not_coerced(
    runner, tmp_path: Path, column: str, cell: str, message: str
) -> None:
    result = runner.invoke(main, ["tape", "check", str(tape_with(tmp_path, column, cell))])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert re.search(message, result.output), result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234,567.5", 1234567.5),
        ("1 000", 1000.0),
        ("¥ 50,000", 50000.0),
        ("(1,000)", -1000.0),
        ("12.5 %", 0.125),
        ("１２", 12.0),  # full-width digits are digits
        (".5", 0.5),
        ("5.", 5.0),
    ],
)
def test_grouped_and_decorated_numbers_still_parse(text: str, expected: float) -> None:
    values, bad = parse_number(pd.Series([text], dtype="str"))
    assert not bad[0] and values[0] == pytest.approx(expected)


@pytest.mark.parametrize(
    "text", ["1,2,3", "12,5", "1.234,56", "0x10", "1_000", "inf", "nan", "1e309", "5%%", "%"]
)
def test_ambiguous_or_non_finite_text_is_bad(text: str) -> None:
    values, bad = parse_number(pd.Series([text], dtype="str"), unit="decimal")
    assert bad[0] and np.isnan(values[0]), (text, values[0])


def test_scale_overflow_is_bad_not_inf() -> None:
    values, bad = parse_number(pd.Series(["1e308", "2"], dtype="str"), scale=10_000)
    assert bad.tolist() == [True, False] and values[1] == 20_000


@pytest.mark.parametrize(
    "series",
    [
        pd.Series([True, False]),
        pd.Series(pd.to_datetime(["2020-01-01", "2021-01-01"])),
        pd.Series(pd.to_timedelta([1, 2], unit="D")),
        pd.Series([True, dt.date(2020, 1, 1)], dtype=object),
    ],
    ids=["bool", "datetime", "timedelta", "object-bool-date"],
)
def test_booleans_dates_durations_are_not_amounts(series: pd.Series) -> None:
    values, bad = parse_number(series)
    assert bad.all() and np.isnan(values).all()


def test_excel_serial_past_2262_is_bad_not_wrapped() -> None:
    # 2958465 is 9999-12-31: it used to wrap around to 1816-03-29.
    dates, bad = parse_date(pd.Series([2958465.0, 45000.0]), formats=())
    assert bad.tolist() == [True, False]
    assert np.isnat(dates[0]) and str(dates[1])[:10] == "2023-03-15"


def test_yyyymmdd_numbers_in_a_csv_are_dates(tmp_path: Path) -> None:
    # Arrow reads 20260115 as an integer; it used to fail as an Excel serial number.
    path = tape_with(tmp_path, "origination_date", "20260115")
    text = path.read_text(encoding="utf-8").replace("2026-01-15,2027", "20260115,2027")
    path.write_text(text, encoding="utf-8")
    report = read_tape(path)
    assert report.ok, [str(p) for p in report.problems]
    assert str(report.frame["origination_date"].iloc[1])[:10] == "2026-01-15"


def test_datetime_column_out_of_range_is_bad() -> None:
    stamps = np.array(["0001-01-01", "9999-01-01", "2020-05-05T23:00"], dtype="datetime64[us]")
    dates, bad = parse_date(pd.Series(stamps), formats=())
    assert bad.tolist() == [True, True, False]
    assert str(dates[2])[:10] == "2020-05-05"


def test_boolean_in_a_spreadsheet_date_column_is_bad() -> None:
    dates, bad = parse_date(pd.Series([True, 45000, dt.date(1, 1, 1)], dtype=object), formats=())
    assert bad.tolist() == [True, False, True]
    assert str(dates[1])[:10] == "2023-03-15"


def _parquet(folder: Path, **changes: object) -> Path:
    frame = pd.DataFrame(
        {
            "loan_id": ["0001", "0002"],
            "original_balance": [1000.0, 1000.0],
            "current_balance": [800.0, 800.0],
            "rate": [0.12, 0.12],
            "original_term": [12, 12],
            "remaining_term": [9, 9],
            "origination_date": pd.to_datetime(["2026-01-15", "2026-01-15"]),
        }
    ).assign(**changes)
    path = folder / "tape.parquet"
    frame.to_parquet(path)
    return path


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"current_balance": [True, False]}, "row 1, column current_balance: True is not a number"),
        (
            {"original_term": pd.to_timedelta([12, 12], unit="D")},
            "row 1, column original_term: .* is not a number",
        ),
        (
            {"origination_date": [dt.date(1, 1, 1), dt.date(2026, 1, 15)]},
            "row 1, column origination_date: .* is not a date",
        ),
    ],
    ids=["bool-balance", "timedelta-term", "year-1-date"],
)
def test_parquet_with_wrong_dtypes(runner, tmp_path: Path, changes: dict, message: str) -> None:
    result = runner.invoke(main, ["tape", "check", str(_parquet(tmp_path, **changes))])
    assert result.exit_code == 1, result.output
    assert re.search(message, result.output), result.output


def test_boolean_cell_in_xlsx_balance_is_reported(runner, tmp_path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(HEADER.split(","))
    sheet.append(["0001", 1000, True, 0.12, 12, 9, "level_pay", "2026-01-15", "2027-01-15", 0])
    path = tmp_path / "tape.xlsx"
    book.save(path)
    result = runner.invoke(main, ["tape", "check", str(path)])
    assert result.exit_code == 1
    assert "row 2, column current_balance: True is not a number" in result.output


@pytest.mark.parametrize("encoding", ["base64", "rot13", "zlib", "uu", "no-such-codec"])
def test_non_text_encodings_are_refused(runner, tmp_path: Path, encoding: str) -> None:
    path = tape_with(tmp_path, "rate", "0.1")
    result = runner.invoke(main, ["tape", "check", str(path), "--encoding", encoding])
    assert result.exit_code == 1
    assert f"--encoding {encoding!r} is not a known text encoding" in result.output


def test_utf16_without_byte_order_mark(runner, tmp_path: Path) -> None:
    path = tmp_path / "tape.csv"
    path.write_text(f"{HEADER}\n{','.join(GOOD)}\n", encoding="utf-8")
    result = runner.invoke(main, ["tape", "check", str(path), "--encoding", "utf-16"])
    assert result.exit_code == 1
    assert "cannot decode the file as utf-16" in result.output


def test_far_future_maturity_in_a_subprocess(tmp_path: Path) -> None:
    path = tape_with(tmp_path, "maturity_date", "9999-12-31")
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "tape", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "'9999-12-31' is not a date" in done.stdout
    assert "Traceback" not in done.stderr
