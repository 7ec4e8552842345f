"""The investor and pool workbooks, opened back with openpyxl and checked against the run."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from absstruct.errors import AbsStructError
from absstruct.pool import EligibilityRule, select_pool
from absstruct.report import write_pool_workbook, write_workbook
from absstruct.report.data import report_data
from absstruct.report.labels import LABELS, label, tranche_label
from absstruct.report.xlsx import NUMBER_FORMATS
from tests.report_cases import deal_and_result

EN_SHEETS = [
    "Summary",
    "Charts",
    "Collateral",
    "Tranches",
    "Waterfall",
    "Accounts & triggers",
    "Scenarios",
    "Assumptions",
]
ZH_SHEETS = [
    "概要",
    "图表",
    "基础资产现金流",
    "证券现金流",
    "现金流分配",
    "账户与触发事件",
    "情景分析",
    "假设",
]
INJECTED = ['=HYPERLINK("http://example.invalid","x")', "+cmd|' /C calc'!A0", "@SUM(A1)"]


@pytest.fixture(scope="module")
def run_case():
    return deal_and_result()


@pytest.fixture(scope="module")
def books(run_case, tmp_path_factory):
    deal, result = run_case
    folder = tmp_path_factory.mktemp("books")
    paths = {}
    for lang in ("en", "zh"):
        paths[lang] = folder / f"deal_{lang}.xlsx"
        write_workbook(result, paths[lang], lang=lang, deal=deal)
    return {lang: load_workbook(path) for lang, path in paths.items()}


def _table_frame(ws, name: str) -> pd.DataFrame:
    ref = ws.tables[name].ref
    rows = [[c.value for c in row] for row in ws[ref]]
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_sheet_names_in_both_languages(books) -> None:
    assert books["en"].sheetnames == EN_SHEETS
    assert books["zh"].sheetnames == ZH_SHEETS


def test_every_block_is_a_named_table(books) -> None:
    names = {n for ws in books["en"].worksheets for n in ws.tables}
    assert names == {
        "tranche_summary",
        "collateral",
        "tranche_flows",
        "waterfall",
        "accounts",
        "triggers",
        "cumulative_loss",
        "grid_yield",
        "grid_wal",
        "grid_loss_pct",
        "grid_shortfall",
        "grid_residual_irr",
        "curves",
    }


def test_tranche_table_matches_the_result(run_case, books) -> None:
    _, result = run_case
    ws = books["en"]["Summary"]
    table = _table_frame(ws, "tranche_summary")
    assert table["Tranche"].tolist() == ["Senior A", "Senior B", "Sub"]
    assert table["Size"].tolist() == [700.0, 200.0, 0.0]
    assert table["Coupon"].tolist()[:2] == [0.04, 0.06]
    # Credit enhancement: the share of the pool below each note (1000 pool).
    assert table["Credit enhancement"].tolist()[:2] == pytest.approx([0.30, 0.10])
    # WAL recomputed by hand from the ledger: sum t x principal / sum principal, t on 30/360.
    principal = result.tranches["Senior A"]["principal_paid"][0]
    times = np.arange(1, len(principal) + 1) / 12.0
    expected_wal = float((times * principal).sum() / principal.sum())
    assert table["WAL (years)"][0] == pytest.approx(expected_wal, abs=0.01), (
        table["WAL (years)"][0],
        expected_wal,
    )
    ref = ws.tables["tranche_summary"].ref
    header_row = int("".join(ch for ch in ref.split(":")[0] if ch.isdigit()))
    header = [c.value for c in ws[header_row]]
    size_cell = ws.cell(row=header_row + 1, column=header.index("Size") + 1)
    coupon_cell = ws.cell(row=header_row + 1, column=header.index("Coupon") + 1)
    assert size_cell.number_format == NUMBER_FORMATS["money"]
    assert coupon_cell.number_format == NUMBER_FORMATS["rate"]


@pytest.mark.parametrize(
    ("tranche", "period"), [("Senior A", 1), ("Senior A", 5), ("Senior B", 18)]
)
def test_tranche_sheet_values_are_the_ledger(run_case, books, tranche: str, period: int) -> None:
    _, result = run_case
    table = _table_frame(books["en"]["Tranches"], "tranche_flows")
    row = table[(table["Tranche"] == tranche) & (table["Period"] == period)].iloc[0]
    ledger = result.tranches[tranche]
    assert row["Ending balance"] == pytest.approx(ledger["balance"][0][period - 1])
    assert row["Principal paid"] == pytest.approx(ledger["principal_paid"][0][period - 1])
    assert row["Interest paid"] == pytest.approx(ledger["interest_paid"][0][period - 1])
    assert row["Date"] == dt.datetime.combine(result.payment_dates[period - 1], dt.time())


def test_collateral_and_waterfall_sheets(run_case, books) -> None:
    _, result = run_case
    ws = books["en"]["Collateral"]
    table = _table_frame(ws, "collateral")
    expected = result.pool.arrays["principal_collections"][0]
    assert table["Principal collections"].to_numpy(dtype=float) == pytest.approx(expected)
    assert ws.freeze_panes == "B2"
    assert ws["B2"].number_format == NUMBER_FORMATS["date"]
    wf = _table_frame(books["en"]["Waterfall"], "waterfall")
    assert list(wf.columns[:4]) == ["Period", "Date", "1. Servicing", "2. Senior A interest"]
    paid = result.tranches["Senior A"]["interest_paid"][0]
    assert wf["2. Senior A interest"].to_numpy(dtype=float) == pytest.approx(paid)


def test_charts_and_colour_scales(books) -> None:
    charts = books["en"]["Charts"]._charts
    assert len(charts) == 4
    kinds = [type(c).__name__ for c in charts]
    assert kinds == ["LineChart", "BarChart", "LineChart", "BarChart"]
    assert charts[1].grouping == "stacked"
    # The loss chart draws the CNL threshold beside the cumulative loss.
    assert len(charts[2].series) == 2
    scenarios = books["en"]["Scenarios"]
    assert len(list(scenarios.conditional_formatting)) >= 2
    assert all(ws.page_setup.orientation == "landscape" for ws in books["en"].worksheets)


def test_chinese_labels_and_identical_numbers(books) -> None:
    en, zh = books["en"], books["zh"]
    summary = [c.value for row in zh["概要"].iter_rows() for c in row if c.value is not None]
    assert "优先A档" in summary and "加权平均期限(年)" in summary and "到期收益率" in summary
    for sheet_en, sheet_zh in zip(en.worksheets, zh.worksheets, strict=True):
        numbers_en = [
            c.value
            for row in sheet_en.iter_rows()
            for c in row
            if isinstance(c.value, (int, float)) and not isinstance(c.value, bool)
        ]
        numbers_zh = [
            c.value
            for row in sheet_zh.iter_rows()
            for c in row
            if isinstance(c.value, (int, float)) and not isinstance(c.value, bool)
        ]
        assert numbers_en == numbers_zh, sheet_en.title


def _tape(loan_ids: list[str]) -> pd.DataFrame:
    n = len(loan_ids)
    return pd.DataFrame(
        {
            "loan_id": loan_ids,
            "obligor_id": [f"C{i}" for i in range(n)],
            "origination_date": pd.to_datetime(["2025-01-15"] * n),
            "maturity_date": pd.to_datetime(["2027-01-15"] * n),
            "original_balance": [1000.0] * n,
            "current_balance": [800.0 + i for i in range(n)],
            "rate": [0.12, 0.0, 0.15, -0.01, 0.10][:n],
            "original_term": [24] * n,
            "remaining_term": [18] * n,
            "amortization": ["level_pay"] * n,
            "payment_frequency": ["monthly"] * n,
            "days_past_due": [0] * n,
            "status": ["current"] * n,
            "region": ["Beijing"] * n,
        }
    )


def test_pool_workbook_keeps_injected_loan_ids_inert(tmp_path: Path) -> None:
    ids = ["L1", INJECTED[0], "L3", INJECTED[1], INJECTED[2]]
    tape = _tape(ids)
    pool = select_pool(tape, [EligibilityRule(name="positive rate", column="rate", min=0.0001)])
    path = tmp_path / "pool.xlsx"
    write_pool_workbook(pool, path)
    book = load_workbook(path)
    assert book.sheetnames == ["Summary", "Strats", "Exclusions"]
    ws = book["Exclusions"]
    cells = {c.value: c for row in ws.iter_rows() for c in row if isinstance(c.value, str)}
    for text in (INJECTED[0], INJECTED[1]):
        assert cells[text].data_type == "s"
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)
    assert "excluded_loans" in ws.tables and "exclusion_summary" in ws.tables
    summary = {r[0].value: r[1].value for r in book["Summary"].iter_rows(min_row=2) if r[0].value}
    assert summary["Current balance"] == pytest.approx(pool.summary.current_balance)
    zh = tmp_path / "pool_zh.xlsx"
    write_pool_workbook(pool, zh, lang="zh")
    assert load_workbook(zh).sheetnames == ["概要", "分层统计", "剔除资产"]


def test_workbook_with_pool_has_a_pool_sheet(run_case, tmp_path: Path) -> None:
    deal, result = run_case
    pool = select_pool(_tape(["A1", "A2", "A3"]))
    path = tmp_path / "with_pool.xlsx"
    write_workbook(result, path, deal=deal, pool=pool)
    assert load_workbook(path).sheetnames[2] == "Pool"


def test_unknown_language_and_unreportable_objects_fail(run_case, tmp_path: Path) -> None:
    deal, result = run_case
    with pytest.raises(AbsStructError, match="'fr' is not a report language"):
        write_workbook(result, tmp_path / "x.xlsx", lang="fr", deal=deal)
    with pytest.raises(AbsStructError, match="cannot report on a dict"):
        write_workbook({}, tmp_path / "x.xlsx")
    with pytest.raises(AbsStructError, match="scenario: 5 is not one of"):
        report_data(result, scenario=5)
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.parametrize(
    ("name", "zh"),
    [
        ("Senior A", "优先A档"),
        ("Senior B", "优先B档"),
        ("Class A", "A档"),
        ("A", "A档"),
        ("Sub", "次级档"),
        ("Subordinated", "次级档"),
        ("Mezzanine", "中间级档"),
        ("Mezzanine C", "中间级C档"),
        ("Notes 2026", "Notes 2026"),
    ],
)
def test_tranche_names_in_chinese(name: str, zh: str) -> None:
    assert tranche_label(name, "zh") == zh
    assert tranche_label(name, "en") == name


def test_every_label_has_both_languages_and_sheet_names_are_valid() -> None:
    for key, (en, zh) in LABELS.items():
        assert en.strip() and zh.strip(), key
        if key.startswith("sheet."):
            for text in (en, zh):
                assert len(text) <= 31 and not set(text) & set("[]:*?/\\"), text


@given(st.from_regex(r"[a-z][a-z_]{0,20}", fullmatch=True))
def test_unknown_keys_fall_back_to_a_readable_label(key: str) -> None:
    text = label(key, "zh")
    assert text == (LABELS[key][1] if key in LABELS else text)
    assert "_" not in text or key in LABELS
