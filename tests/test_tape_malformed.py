"""A corpus of malformed tapes: each gives its precise message through the real CLI.

Every case runs ``absstruct tape check`` (CliRunner) and must exit 1 with the expected
message and no traceback.  One case also runs in a real subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from absstruct.cli import main

HEADER = (
    "loan_id,original_balance,current_balance,rate,original_term,remaining_term,"
    "amortization,origination_date,maturity_date,days_past_due"
)
GOOD = "0001,1000,800,0.12,12,9,level_pay,2026-01-15,2027-01-15,0"


def csv_tape(*rows: str, header: str = HEADER) -> Callable[[Path], tuple[Path, list[str]]]:
    def build(folder: Path) -> tuple[Path, list[str]]:
        path = folder / "tape.csv"
        path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
        return path, []

    return build


def raw_file(name: str, data: bytes, *args: str) -> Callable[[Path], tuple[Path, list[str]]]:
    def build(folder: Path) -> tuple[Path, list[str]]:
        path = folder / name
        path.write_bytes(data)
        return path, list(args)

    return build


def with_args(
    build: Callable[[Path], tuple[Path, list[str]]], *args: str
) -> Callable[[Path], tuple[Path, list[str]]]:
    def wrapped(folder: Path) -> tuple[Path, list[str]]:
        path, extra = build(folder)
        return path, [*extra, *args]

    return wrapped


def xlsx_with_title(folder: Path) -> tuple[Path, list[str]]:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "tape"
    sheet.append(["Loan tape as of 2026-06-30 (servicer export)"])
    sheet.append([])
    sheet.append(HEADER.split(","))
    sheet.append(["0001", 1000, 800, 0.12, 12, 9, "level_pay", "2026-01-15", "2027-01-15", 0])
    sheet.append(["0002", 1000, 800, 9.5, 12, 9, "level_pay", "2026-01-15", "2027-01-15", 0])
    path = folder / "tape.xlsx"
    book.save(path)
    return path, []


def missing_sheet(folder: Path) -> tuple[Path, list[str]]:
    path, _ = xlsx_with_title(folder)
    return path, ["--sheet", "Loans"]


def bad_template(folder: Path) -> tuple[Path, list[str]]:
    path, _ = csv_tape(GOOD)(folder)
    template = folder / "mine.toml"
    template.write_text('name = "mine"\n[columns.interest]\nfrom = ["Rate"]\n', encoding="utf-8")
    return path, ["--template", str(template)]


def gbk_as_utf8(folder: Path) -> tuple[Path, list[str]]:
    path = folder / "cn.csv"
    text = "借据编号,借款金额,剩余本金,年利率,借款期限,剩余期数\n0001,1000,800,12%,12,9\n"
    path.write_bytes(text.encode("gbk"))
    return path, ["--template", "cn_consumer", "--encoding", "utf-8"]


def truncated(folder: Path) -> tuple[Path, list[str]]:
    path = folder / "tape.csv"
    full = "\n".join([HEADER, GOOD, GOOD.replace("0001", "0002")])
    path.write_text(full[: len(full) - 40], encoding="utf-8")  # cut mid-row, no newline
    return path, []


CASES: list[tuple[str, Callable[[Path], tuple[Path, list[str]]], str]] = [
    ("empty_file", raw_file("tape.csv", b""), "the file is empty"),
    ("blank_lines_only", raw_file("tape.csv", b"\n \n\r\n"), "the file is empty"),
    ("header_only", csv_tape(), "holds a header but no loan rows"),
    (
        "missing_required_column",
        csv_tape(
            "0001,1000,800,12,9,level_pay,2026-01-15,2027-01-15,0",
            header=HEADER.replace("rate,", ""),
        ),
        "column rate: required column not found",
    ),
    (
        "text_in_number",
        csv_tape(GOOD.replace("1000", "abc")),
        "row 2, column original_balance: 'abc' is not a number",
    ),
    (
        "percent_decimal_mixup",
        csv_tape(GOOD, GOOD.replace("0001", "0002").replace("0.12", "12.5")),
        "row 3, column rate: 12.5 looks like a percent",
    ),
    (
        "rate_out_of_range",
        csv_tape(GOOD.replace("0.12", "-0.05")),
        "is outside the allowed range [0, 1]",
    ),
    (
        "duplicate_ids",
        csv_tape(GOOD, GOOD.replace("0001", "0002"), GOOD),
        "row 4, column loan_id: '0001' is a duplicate loan id (first on row 2)",
    ),
    ("wrong_encoding", gbk_as_utf8, "cannot decode the file as utf-8"),
    (
        "unknown_encoding_name",
        with_args(csv_tape(GOOD), "--encoding", "klingon"),
        "is not a known text encoding",
    ),
    (
        "binary_file",
        raw_file("tape.csv", bytes(range(256)) * 8),
        "does not look like a text (CSV) file",
    ),
    ("truncated_file", truncated, "row 3: has 4 field(s) but the header has 10"),
    ("xlsx_title_row", xlsx_with_title, "row 5, column rate: 9.5 looks like a percent"),
    ("xlsx_missing_sheet", missing_sheet, "no sheet named 'Loans'; the workbook has: tape"),
    ("xlsx_not_a_workbook", raw_file("tape.xlsx", b"loan_id\n1\n"), "cannot read as a spreadsheet"),
    ("parquet_damaged", raw_file("tape.parquet", b"PAR1 not really"), "cannot read as Parquet"),
    (
        "current_above_original",
        csv_tape(GOOD.replace(",800,", ",1200,")),
        "exceeds the original balance (1000)",
    ),
    ("negative_balance", csv_tape(GOOD.replace(",800,", ",-5,")), "current balance is below 0"),
    (
        "remaining_above_original",
        csv_tape(GOOD.replace(",12,9,", ",12,15,")),
        "exceeds the original term (12)",
    ),
    (
        "non_positive_term",
        csv_tape(GOOD.replace(",12,9,", ",0,0,")),
        "original term must be at least 1 month",
    ),
    (
        "term_not_whole",
        csv_tape(GOOD.replace(",12,9,", ",12.5,9,")),
        "12.5 is not a whole number",
    ),
    (
        "maturity_before_origination",
        csv_tape(GOOD.replace("2027-01-15", "2025-01-15")),
        "column maturity_date: '2025-01-15' is before the origination date (2026-01-15)",
    ),
    ("negative_days_past_due", csv_tape(GOOD[:-1] + "-3"), "days past due cannot be negative"),
    (
        "unknown_code",
        csv_tape(GOOD.replace("level_pay", "annuity")),
        "'annuity' is not a known amortization code",
    ),
    (
        "unparseable_date",
        csv_tape(GOOD.replace("2026-01-15", "15th of Jan")),
        "'15th of Jan' is not a date",
    ),
    (
        "blank_required_value",
        csv_tape(GOOD.replace("0001", "")),
        "row 2, column loan_id: is blank; loan_id is required",
    ),
    ("missing_file", lambda folder: (folder / "nope.csv", []), "nope.csv: no such file"),
    (
        "unknown_template",
        with_args(csv_tape(GOOD), "--template", "nosuch"),
        "unknown tape template 'nosuch'",
    ),
    ("invalid_template", bad_template, "unknown canonical column(s) interest"),
]


@pytest.mark.parametrize(("build", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_malformed_tape_gives_its_message(runner, tmp_path: Path, build, expected: str) -> None:
    path, args = build(tmp_path)
    result = runner.invoke(main, ["tape", "check", str(path), *args])
    output = result.output
    assert result.exit_code == 1, f"exit {result.exit_code}\n{output}"
    assert "Traceback" not in output
    assert expected in output, f"expected {expected!r} in:\n{output}"


def test_corpus_has_at_least_twenty_cases() -> None:
    assert len(CASES) >= 20


def test_convert_refuses_a_tape_with_errors(runner, tmp_path: Path) -> None:
    path, _ = csv_tape(GOOD, GOOD)(tmp_path)
    out = tmp_path / "out.parquet"
    result = runner.invoke(main, ["tape", "convert", str(path), "-o", str(out)])
    assert result.exit_code == 1
    assert "1 error(s) in the tape" in result.output and "duplicate loan id" in result.output
    assert not out.exists()


def test_malformed_tape_through_a_real_process(tmp_path: Path) -> None:
    path, _ = csv_tape(GOOD.replace("0.12", "12.5"))(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "absstruct", "tape", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "row 2, column rate: 12.5 looks like a percent" in done.stdout
    assert "1 error(s) in the tape" in done.stderr


def test_json_report_lists_problems(runner, tmp_path: Path) -> None:
    import json

    path, _ = csv_tape(GOOD, GOOD.replace("0001", "0002").replace("0.12", "12.5"))(tmp_path)
    result = runner.invoke(main, ["tape", "check", str(path), "--json"])
    assert result.exit_code == 1
    payload = json.loads(result.stdout)
    assert payload["loans"] == 2 and payload["errors"] == 1
    assert payload["problems_by_rule"] == {
        "rate_looks_like_percent": {"severity": "error", "count": 1}
    }
    assert payload["problems"][0]["where"] == "row 3, column rate"
