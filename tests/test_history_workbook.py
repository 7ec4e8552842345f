"""The history and back-test workbooks: sheets, Excel tables, native charts, labels, values."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from absstruct.analytics.backtest import backtest, parse_month
from absstruct.analytics.calibrate import extrapolate_lifetime, fit_curves
from absstruct.analytics.history import (
    APPROXIMATIONS,
    HistorySpec,
    load_history,
    vintage_summary,
    vintage_table,
)
from absstruct.cli import main
from absstruct.errors import AbsStructError
from absstruct.report.history_workbook import (
    MAX_SERIES,
    chart_vintages,
    column_kind,
    column_label,
    history_sheets,
    vintage_pivot,
    write_backtest_workbook,
    write_history_workbook,
)
from absstruct.report.xlsx import NUMBER_FORMATS

VINTAGES = 24  # more than MAX_SERIES: the vintage charts draw a subset


def synthetic_tape() -> pd.DataFrame:
    """24 monthly vintages of 36-month loans in grades A and B, every outcome fixed by hand.

    In each vintage and grade: one loan paid off in month 10, one charged off after its
    6th payment (defaults in month 11 with a 5-month lag), one paid on schedule.
    """
    rows = []
    for v in range(VINTAGES):
        start = pd.Timestamp("2015-01-01") + pd.DateOffset(months=v)
        for grade, balance in (("A", 1000.0), ("B", 2000.0)):
            for kind, status, months, received, recovered in (
                ("p", "paid_off", 10, balance, 0.0),
                ("d", "defaulted", 6, balance / 6, 0.1 * balance),
                ("s", "paid_off", 36, balance, 0.0),
            ):
                rows.append(
                    {
                        "loan_id": f"{grade}{v:02d}{kind}",
                        "origination_date": start,
                        "original_balance": balance,
                        "original_term": 36,
                        "rate": 0.0,
                        "status": status,
                        "last_payment_date": start + pd.DateOffset(months=months),
                        "principal_received": received,
                        "recoveries": recovered,
                        "recovery_fees": 0.0,
                        "grade": grade,
                    }
                )
    return pd.DataFrame(rows)


def read_table(book, name: str) -> tuple[str, pd.DataFrame]:
    """(sheet title, the Excel table ``name`` as a DataFrame with its header)."""
    for ws in book.worksheets:
        if name in ws.tables:
            cells = ws[ws.tables[name].ref]
            header = [c.value for c in cells[0]]
            return ws.title, pd.DataFrame([[c.value for c in r] for r in cells[1:]], columns=header)
    raise KeyError(f"no table {name!r}; tables: {[list(ws.tables) for ws in book.worksheets]}")


def chart_kinds(ws) -> list[tuple[str, int]]:
    return [(type(chart).__name__, len(chart.series)) for chart in ws._charts]


def series_titles(book, chart) -> list[str]:
    """Each series' title, read from the header cell its title formula points at."""
    titles = []
    for series in chart.series:
        cell = re.fullmatch(r"'?(.+?)'?!\$?([A-Z]+)\$?(\d+)", series.tx.strRef.f)
        titles.append(book[cell.group(1)][f"{cell.group(2)}{cell.group(3)}"].value)
    return titles


def series_values(book, series) -> list:
    match = re.fullmatch(r"'?(.+?)'?!\$?([A-Z]+)\$?(\d+):\$?([A-Z]+)\$?(\d+)", series.val.numRef.f)
    ws = book[match.group(1)]
    column, first, last = match.group(2), int(match.group(3)), int(match.group(5))
    return [ws[f"{column}{row}"].value for row in range(first, last + 1)]


@pytest.fixture(scope="module")
def synthetic():
    frame = synthetic_tape()
    spec = HistorySpec(by="grade")
    history = load_history(frame, spec)
    fitted = fit_curves(history)
    table = vintage_table(history)
    summary = extrapolate_lifetime(vintage_summary(history), fitted)
    return {"summary": summary, "table": table, "fitted": fitted, "spec": spec}


@pytest.fixture(scope="module")
def synthetic_books(synthetic, tmp_path_factory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("history_books")
    books = {}
    for lang in ("en", "zh"):
        path = folder / f"history_{lang}.xlsx"
        write_history_workbook(path, **synthetic, source="tape.csv", lang=lang)
        books[lang] = load_workbook(path)
    return books


@pytest.mark.parametrize(
    ("count", "max_series", "picked", "step"),
    [
        (5, 10, [0, 1, 2, 3, 4], 1),
        (10, 10, list(range(10)), 1),
        (11, 10, [0, 2, 4, 6, 8, 10], 2),
        (12, 4, [2, 5, 8, 11], 3),
        (55, 10, [0, 6, 12, 18, 24, 30, 36, 42, 48, 54], 6),
        (24, 10, [2, 5, 8, 11, 14, 17, 20, 23], 3),
        (1, 10, [0], 1),
    ],
)
def test_chart_vintages_by_hand(count: int, max_series: int, picked: list[int], step: int) -> None:
    vintages = [f"v{i:02d}" for i in range(count)]
    assert chart_vintages(vintages, max_series) == ([vintages[i] for i in picked], step)


@given(st.integers(min_value=1, max_value=300), st.integers(min_value=1, max_value=30))
def test_chart_vintages_properties(count: int, max_series: int) -> None:
    vintages = [f"v{i:03d}" for i in range(count)]
    picked, step = chart_vintages(vintages, max_series)
    assert 1 <= len(picked) <= max_series and picked[-1] == vintages[-1]
    positions = [vintages.index(v) for v in picked]
    assert all(b - a == step for a, b in itertools.pairwise(positions))
    # No smaller step would have kept within max_series.
    assert step == 1 or len(vintages[::-1][:: step - 1]) > max_series
    drawn = len(chart_vintages(vintages)[0])
    assert drawn == count if count <= MAX_SERIES else drawn <= MAX_SERIES


@pytest.mark.parametrize(
    ("column", "lang", "text", "kind"),
    [
        ("cum_gross_default", "en", "Cumulative gross default", "percent"),
        ("cum_gross_default", "zh", "累计违约率", "percent"),
        ("cum_net_loss", "zh", "累计净损失率", "percent"),
        ("cum_prepayment", "zh", "累计早偿率", "percent"),
        ("pool_factor", "zh", "资产池因子", "percent"),
        ("vintage", "zh", "静态池", None),
        ("age", "en", "Months on book", "int"),
        ("mdr", "zh", "单月违约率", "rate"),
        ("cpr", "en", "CPR", "rate"),
        ("defaults", "en", "Defaults", "money"),
        ("actual_defaults", "en", "Actual defaults", "money"),
        ("projected_recoveries", "en", "Projected net recoveries", "money"),
        ("projected_recoveries", "zh", "预测净回收金额", "money"),
        ("error_net_loss_pct_of_original", "en", "Error net loss, % of original", "percent"),
        ("error_net_loss_pct_of_original", "zh", "净损失误差占初始余额比例", "percent"),
        ("actual_cum_net_loss", "zh", "实际累计净损失率", "percent"),
        ("mean_abs_vintage_error_pct", "en", "Mean abs. vintage error", "percent"),
        ("loans", "zh", "笔数", "count"),
        ("seasoned", "en", "Seasoned", None),
    ],
)
def test_column_labels_and_kinds(column: str, lang: str, text: str, kind: str | None) -> None:
    assert column_label(column, lang) == text
    assert column_kind(column) == kind


def test_history_workbook_sheets_tables_and_charts(synthetic_books) -> None:
    book = synthetic_books["en"]
    assert book.sheetnames == [
        "Summary",
        "Cumulative gross default",
        "Cumulative net loss",
        "Cumulative prepayment",
        "Pool factor",
        "Fitted curves",
        "Vintage by age",
    ]
    tables = {ws.title: sorted(ws.tables) for ws in book.worksheets}
    assert tables["Summary"] == ["fitted_summary", "vintage_summary"]
    assert tables["Cumulative net loss"] == [
        "cum_net_loss",
        "cum_net_loss_chart_1",
        "cum_net_loss_chart_2",
    ]
    assert tables["Fitted curves"] == ["fitted_curves"]
    assert tables["Vintage by age"] == ["vintage_table"]
    # A line chart per grade, each drawing every 3rd of the 24 vintages (8 series).
    for title in book.sheetnames[1:5]:
        assert chart_kinds(book[title]) == [("LineChart", 8), ("LineChart", 8)], title
    # CDR, CPR and timing, each one series per segment (the pool, A, B).
    assert chart_kinds(book["Fitted curves"]) == [("LineChart", 3)] * 3
    assert chart_kinds(book["Summary"]) == [] and chart_kinds(book["Vintage by age"]) == []
    heading = book["Cumulative net loss"]["A1"].value
    assert "every 3rd vintage, 8 of 24" in heading, heading
    titles = [c.title.tx.rich.p[0].r[0].t for c in book["Pool factor"]._charts]
    assert titles == ["Pool factor — A", "Pool factor — B"]
    axis = book["Pool factor"]._charts[0].x_axis.title.tx.rich.p[0].r[0].t
    assert axis == "Months on book; 8 of 24 vintages drawn"


def test_history_workbook_values_equal_the_api_tables(synthetic, synthetic_books) -> None:
    book = synthetic_books["en"]
    summary, table, fitted = synthetic["summary"], synthetic["table"], synthetic["fitted"]
    _sheet, written = read_table(book, "vintage_summary")
    assert len(written) == len(summary) == 2 * VINTAGES
    for column in ("original_balance", "defaults", "net_loss", "lifetime_default_rate"):
        np.testing.assert_allclose(
            written[column_label(column)].to_numpy(dtype=float), summary[column], rtol=1e-12
        )
    assert set(written["Lifetime from"]) <= {"observed", "timing curve", "fitted curves"}
    _sheet, long = read_table(book, "vintage_table")
    np.testing.assert_allclose(
        long["Cumulative net loss"].to_numpy(dtype=float), table["cum_net_loss"]
    )
    _sheet, pivot = read_table(book, "cum_gross_default")
    expected = vintage_pivot(table, "cum_gross_default")
    assert list(pivot.columns) == ["Segment", "Vintage", *[f"M{a}" for a in range(1, 37)]]
    np.testing.assert_allclose(
        pivot.iloc[:, 2:].to_numpy(dtype=float), expected.iloc[:, 2:].to_numpy(dtype=float)
    )
    # Hand check: grade A's defaulted loan (a third of 3,000) defaults at age 11 of each vintage.
    first = pivot[(pivot["Segment"] == "A") & (pivot["Vintage"] == "2015-01")].iloc[0]
    assert first["M10"] == 0.0 and first["M11"] == pytest.approx((1000 - 1000 / 6) / 3000)
    _sheet, curves = read_table(book, "fitted_curves")
    fitted_table = fitted.table()
    assert len(curves) == len(fitted_table)
    np.testing.assert_allclose(
        np.sort(curves["CDR"].to_numpy(dtype=float)), np.sort(fitted_table["cdr"])
    )
    # Formats follow the column kind.
    ws = book["Cumulative gross default"]
    ref = ws.tables["cum_gross_default"].ref
    corner = ws[ref.split(":")[0]]
    assert ws.cell(row=corner.row + 1, column=3).number_format == NUMBER_FORMATS["percent"]


def test_vintage_chart_series_are_the_vintages_they_name(synthetic, synthetic_books) -> None:
    book = synthetic_books["en"]
    table = synthetic["table"]
    chart = book["Cumulative gross default"]._charts[1]  # grade B
    titles = series_titles(book, chart)
    assert titles == [f"2015-{m:02d}" for m in (3, 6, 9, 12)] + [
        f"2016-{m:02d}" for m in (3, 6, 9, 12)
    ]
    for vintage, series in zip(titles, chart.series, strict=True):
        rows = table[(table["segment"] == "B") & (table["vintage"] == vintage)]
        values = series_values(book, series)
        np.testing.assert_allclose(
            [v for v in values if v is not None], rows["cum_gross_default"], rtol=1e-12
        )


def test_history_workbook_in_chinese(synthetic_books) -> None:
    book = synthetic_books["zh"]
    assert book.sheetnames == [
        "概要",
        "累计违约率",
        "累计净损失率",
        "累计早偿率",
        "资产池因子",
        "拟合曲线",
        "静态池账龄明细",
    ]
    _sheet, pivot = read_table(book, "cum_prepayment")
    assert list(pivot.columns[:4]) == ["分组", "静态池", "第1月", "第2月"]
    assert "每3个静态池取1个" in book["累计净损失率"]["A1"].value
    _sheet, curves = read_table(book, "fitted_curves")
    assert {"单月违约率", "年化违约率", "单月早偿率", "年化早偿率", "累计违约时间分布"} <= set(
        curves.columns
    )
    assert set(curves["分组"]) == {"全部", "A", "B"}
    summary = book["概要"]
    texts = {c.value for row in summary.iter_rows(max_col=2) for c in row if c.value}
    assert {"静态池分析: tape.csv", "近似处理说明", APPROXIMATIONS[0]} <= texts


def test_unknown_language_is_refused(synthetic) -> None:
    with pytest.raises(AbsStructError, match="'fr' is not a report language; use one of en, zh"):
        history_sheets(**synthetic, lang="fr")


def test_backtest_workbook(tmp_path: Path) -> None:
    result = backtest(synthetic_tape(), spec=HistorySpec(), train_until=parse_month("2015-12"))
    path = tmp_path / "backtest.xlsx"
    write_backtest_workbook(result, path, source="tape.csv", lang="en")
    book = load_workbook(path)
    assert book.sheetnames == ["Summary", "By vintage", "Curves by age", "Fitted curves"]
    assert chart_kinds(book["By vintage"]) == [("BarChart", 2)]
    assert book["By vintage"]._charts[0].type == "col"
    # 12 test vintages: every 2nd gets its chart, actual and projected.
    assert chart_kinds(book["Curves by age"]) == [("LineChart", 2)] * 6
    _sheet, totals = read_table(book, "backtest_totals")
    assert totals["Metric"].tolist() == [
        "Principal collected",
        "Defaults",
        "Net recoveries",
        "Net loss",
    ]
    np.testing.assert_allclose(
        totals["Projected"].to_numpy(dtype=float), result.totals["projected"]
    )
    _sheet, lead = read_table(book, "backtest_net_loss")
    errors = result.errors
    np.testing.assert_allclose(
        lead["Actual"].to_numpy(dtype=float), errors["actual_net_loss"] / errors["original_balance"]
    )
    np.testing.assert_allclose(
        lead["Error"].to_numpy(dtype=float), errors["error_net_loss_pct_of_original"]
    )
    _sheet, full = read_table(book, "backtest_errors")
    np.testing.assert_allclose(
        full["Projected defaults"].to_numpy(dtype=float), errors["projected_defaults"]
    )
    titles = series_titles(book, book["Curves by age"]._charts[-1])
    assert titles == ["2016-12 Actual", "2016-12 Projected"]


def small_lendingclub(raw_csv: Path, folder: Path, rows: int = 400) -> Path:
    path = folder / "small.csv"
    pd.read_csv(raw_csv, nrows=rows).to_csv(path, index=False)
    return path


def test_history_cli_workbook_in_chinese_and_json_unchanged(
    runner, lendingclub_path: Path, tmp_path: Path
) -> None:
    small = small_lendingclub(lendingclub_path, tmp_path)
    base = ["history", str(small), "--template", "lendingclub", "--by", "term"]
    result = runner.invoke(main, [*base, "-o", str(tmp_path / "h.xlsx"), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    assert "wrote the history workbook" in result.stderr
    book = load_workbook(tmp_path / "h.xlsx")
    assert book.sheetnames[0] == "概要" and "累计违约率" in book.sheetnames
    assert all(chart_kinds(book[t]) for t in book.sheetnames[1:6])
    # The language switch changes the workbook only: the JSON tables keep their columns.
    result = runner.invoke(main, [*base, "-o", str(tmp_path / "h.json"), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    tables = json.loads((tmp_path / "h.json").read_text())
    assert "cum_gross_default" in tables["vintage_table"][0]
    assert "m1" in tables["cum_gross_default"][0]
    result = runner.invoke(main, [*base, "-o", str(tmp_path / "x.xlsx"), "--lang", "fr"])
    assert result.exit_code == 2 and "'fr' is not one of 'en', 'zh'" in result.output


def test_backtest_cli_workbook(runner, lendingclub_path: Path, tmp_path: Path) -> None:
    small = small_lendingclub(lendingclub_path, tmp_path, rows=2000)
    out = tmp_path / "b.xlsx"
    args = ["backtest", str(small), "--template", "lendingclub", "--train-until", "2008-06"]
    result = runner.invoke(main, [*args, "-o", str(out), "--lang", "zh"])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert book.sheetnames == ["概要", "分静态池", "账龄曲线", "拟合曲线"]
    assert chart_kinds(book["分静态池"]) == [("BarChart", 2)]
    _sheet, totals = read_table(book, "backtest_totals")
    assert totals["指标"].tolist() == ["本金回收", "违约金额", "净回收金额", "净损失"]


def test_history_workbook_before_any_month_on_book(tmp_path: Path) -> None:
    spec = HistorySpec(as_of=pd.Timestamp("2015-01-31").date())
    history = load_history(synthetic_tape(), spec)
    fitted = fit_curves(history)
    table = vintage_table(history)
    assert table.empty  # the first vintage is not a month old on that date
    path = tmp_path / "young.xlsx"
    summary = extrapolate_lifetime(vintage_summary(history), fitted)
    write_history_workbook(path, summary=summary, table=table, fitted=fitted, spec=spec)
    book = load_workbook(path)
    ws = book["Cumulative gross default"]
    assert ws["A3"].value == (
        "No vintage has reached its first month on book by the observation date"
    )
    assert chart_kinds(ws) == [] and list(ws.tables) == []
    facts = {row[0].value: row[1].value for row in book["Summary"].iter_rows(max_row=12, max_col=2)}
    assert facts["Observed as of"] == pd.Timestamp("2015-01-31")
    assert facts["Charge-off lag (months)"] == 5 and facts["Segmented by"] == "none"
