"""The report's tranche figures are tranche_metrics' figures: one pricing path.

The workbook's Summary tranche table, the JSON ``tranches`` and ``grid`` and the residual
IRR are checked against :func:`tranche_metrics` for the same run, and against what
``absstruct run DEAL --price ... --json`` prints; the yield chart stays readable for a
100-scenario grid; ``absstruct pool -o .xlsx --lang`` writes the labelled pool workbook.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from absstruct.analytics.metrics import METRIC_COLUMNS, Quotes, tranche_metrics
from absstruct.cli import main
from absstruct.deal import load_deal
from absstruct.errors import AbsStructError
from absstruct.report import write_result, write_workbook
from absstruct.report.data import report_data
from absstruct.report.jsonout import plain, result_payload
from absstruct.report.sample import sample_report
from absstruct.report.tranches import TRANCHE_METRIC_COLUMNS
from absstruct.report.workbook import CHART_AXIS_LABELS, investor_sheets
from absstruct.report.xlsx import Table
from tests.conftest import ROOT
from tests.report_cases import deal_and_result

US_AUTO = ROOT / "deals" / "us_auto.toml"
QUOTES = Quotes(prices={"Senior B": 98.5}, yields={"Senior A": 0.045})


@pytest.fixture(scope="module")
def run_case():
    return deal_and_result()


@pytest.fixture(scope="module")
def metrics(run_case):
    deal, result = run_case
    return tranche_metrics(result, deal, quotes=QUOTES)


def _rows(metrics: pd.DataFrame, scenario: str) -> pd.DataFrame:
    return metrics[metrics["scenario"] == scenario].reset_index(drop=True)


def _same(a: object, b: object) -> bool:
    """Equal, NaN and None counting as the same missing value."""
    if a is None or (isinstance(a, float) and np.isnan(a)):
        return b is None or (isinstance(b, float) and np.isnan(b))
    return a == b


def _summary_table(ws) -> pd.DataFrame:
    ref = ws.tables["tranche_summary"].ref
    rows = [[c.value for c in row] for row in ws[ref]]
    return pd.DataFrame(rows[1:], columns=rows[0]).set_index("Tranche")


def _key_values(ws) -> dict[str, object]:
    return {r[0].value: r[1].value for r in ws.iter_rows(max_col=2) if r[0].value}


# --- the report view -------------------------------------------------------------------


@pytest.mark.parametrize("scenario", ["base", "stress"])
def test_default_pricing_is_tranche_metrics_at_par_and_closing(run_case, scenario: str) -> None:
    deal, result = run_case
    data = report_data(result, deal=deal, scenario=scenario)
    expected = _rows(tranche_metrics(result, deal), scenario)
    shown = data.tranches[list(TRANCHE_METRIC_COLUMNS)]
    pd.testing.assert_frame_equal(shown, expected[list(TRANCHE_METRIC_COLUMNS)])
    assert (data.tranches["quote"].iloc[:2] == "par").all()
    assert data.tranches["price"].iloc[:2].tolist() == [100.0, 100.0]
    assert data.pricing["settlement_date"] == deal.dates.closing


def test_a_given_metrics_table_is_shown_as_given(run_case, metrics) -> None:
    deal, result = run_case
    data = report_data(result, deal=deal, scenario="stress", pricing=metrics)
    expected = _rows(metrics, "stress")
    for column in TRANCHE_METRIC_COLUMNS:
        for got, want in zip(data.tranches[column], expected[column], strict=True):
            assert _same(got, want), (column, got, want)
    assert data.grid is metrics  # every scenario: the grid is the same table
    # The quoted figures are the quotes, the others are solved by tranche_metrics.
    assert data.tranches["yield"].iloc[0] == 0.045
    assert data.tranches["price"].iloc[1] == 98.5
    residual = expected[expected["kind"] == "residual"].iloc[0]
    assert data.residual_irr == residual["residual_irr"]
    assert data.residual_multiple == residual["residual_multiple"]


def test_quotes_are_priced_by_tranche_metrics(run_case, metrics) -> None:
    deal, result = run_case
    data = report_data(result, deal=deal, pricing=QUOTES)
    pd.testing.assert_frame_equal(
        data.tranches[list(TRANCHE_METRIC_COLUMNS)],
        _rows(metrics, "base")[list(TRANCHE_METRIC_COLUMNS)],
    )


def test_structure_columns_come_from_the_deal(run_case, metrics) -> None:
    deal, result = run_case
    data = report_data(result, deal=deal, pricing=metrics)
    table = data.tranches.set_index("tranche")
    # 1000 pool: A 700 leaves 300 below it, B 200 leaves 100; the residual has no size.
    assert table["size"].tolist() == [700.0, 200.0, 0.0]
    assert table["pct_pool"].tolist() == pytest.approx([0.7, 0.2, 0.0])
    assert table["credit_enhancement"].tolist()[:2] == pytest.approx([0.3, 0.1])
    assert np.isnan(table.loc["Sub", "credit_enhancement"])
    assert table["coupon"].tolist()[:2] == [0.04, 0.06]


def test_without_a_deal_the_tranche_table_holds_the_structure_only(run_case) -> None:
    _, result = run_case
    data = report_data(result)
    assert list(data.tranches.columns) == [
        "tranche",
        "size",
        "pct_pool",
        "coupon",
        "credit_enhancement",
    ]
    assert data.grid is None and data.residual_irr is None and dict(data.pricing) == {}


@pytest.mark.parametrize(
    ("pricing", "message"),
    [
        ({"Senior A": 99.0}, "expected the DataFrame of tranche_metrics or Quotes, not dict"),
        (
            lambda m: m[~((m["scenario"] == "stress") & (m["tranche"] == "Sub"))],
            "no row for scenario/tranche stress/Sub",
        ),
        (lambda m: m.drop(columns=["yield", "wal"]), r"missing columns \['yield', 'wal'\]"),
        (lambda m: pd.concat([m, m.iloc[:1]]), "a scenario/tranche appears twice"),
    ],
)
def test_bad_pricing_is_refused(run_case, metrics, pricing, message: str) -> None:
    deal, result = run_case
    given_pricing = pricing(metrics) if callable(pricing) else pricing
    with pytest.raises(AbsStructError, match=message):
        report_data(result, deal=deal, pricing=given_pricing)


def test_quotes_need_a_deal_and_a_report_view_is_not_repriced(run_case, tmp_path: Path) -> None:
    deal, result = run_case
    with pytest.raises(AbsStructError, match="quotes need the deal"):
        report_data(result, pricing=QUOTES)
    data = report_data(result, deal=deal)
    with pytest.raises(AbsStructError, match="already a ReportData"):
        write_result(data, tmp_path / "x.json", pricing=QUOTES)
    assert not (tmp_path / "x.json").exists()


# --- workbook and JSON against tranche_metrics -------------------------------------------


@pytest.mark.parametrize(
    ("tranche", "header", "column"),
    [
        ("Senior A", "Price", "price"),
        ("Senior A", "Yield", "yield"),
        ("Senior A", "Convexity", "convexity"),
        ("Senior B", "Price", "price"),
        ("Senior B", "Yield", "yield"),
        ("Senior B", "WAL (years)", "wal"),
        ("Senior B", "Modified duration", "modified_duration"),
        ("Senior B", "Principal loss %", "principal_loss_pct"),
        ("Senior B", "Largest interest shortfall", "max_interest_shortfall"),
        ("Senior B", "Accrued", "accrued"),
    ],
)
def test_workbook_summary_equals_tranche_metrics(
    run_case, metrics, tmp_path_factory, tranche: str, header: str, column: str
) -> None:
    deal, result = run_case
    path = tmp_path_factory.getbasetemp() / "priced.xlsx"
    if not path.exists():
        write_workbook(result, path, deal=deal, pricing=metrics, scenario="stress")
    table = _summary_table(load_workbook(path)["Summary"])
    expected = _rows(metrics, "stress").set_index("tranche").loc[tranche, column]
    got = table.loc[tranche, header]
    assert got == expected, f"{tranche} {column}: workbook {got} vs tranche_metrics {expected}"


def test_workbook_summary_dates_residual_and_conventions(run_case, metrics, tmp_path) -> None:
    deal, result = run_case
    path = tmp_path / "priced.xlsx"
    write_workbook(result, path, deal=deal, pricing=metrics)
    ws = load_workbook(path)["Summary"]
    table = _summary_table(ws)
    rows = _rows(metrics, "base").set_index("tranche")
    for header, column in (
        ("First principal date", "first_principal_date"),
        ("Last principal date", "last_principal_date"),
        ("Expected final payment", "expected_final_date"),
    ):
        expected = rows.loc["Senior B", column]
        assert table.loc["Senior B", header] == dt.datetime.combine(expected, dt.time())
    assert "Z-spread" not in table.columns  # no curve given: no spread columns
    facts = _key_values(ws)
    assert facts["Yield convention"] == "semiannual 30/360"
    assert facts["Residual IRR"] == rows.loc["Sub", "residual_irr"]
    assert facts["Residual multiple"] == rows.loc["Sub", "residual_multiple"]
    assert facts["Residual IRR convention"] == "semiannual ACT/365F"
    assert facts["Settlement date"] == dt.datetime(2026, 6, 30)


def test_json_tranches_and_grid_equal_tranche_metrics(run_case, metrics) -> None:
    deal, result = run_case
    payload = result_payload(report_data(result, deal=deal, pricing=metrics))
    for row, (_, expected) in zip(
        payload["tranches"], _rows(metrics, "base").iterrows(), strict=True
    ):
        for column in METRIC_COLUMNS[1:]:
            assert row[column] == plain(expected[column]), (row["tranche"], column)
    grid = payload["grid"]
    assert grid["columns"] == list(METRIC_COLUMNS)
    assert len(grid["rows"]) == len(metrics)
    last = dict(zip(grid["columns"], grid["rows"][-1], strict=True))
    assert last["scenario"] == "stress" and last["tranche"] == "Sub"
    assert last["residual_irr"] == plain(metrics["residual_irr"].iloc[-1])


# --- the CLI: one table for the terminal, the JSON and the workbook ----------------------


def _printed_rows(stdout: str, scenario: str) -> list[dict]:
    return [r for r in json.loads(stdout)["pricing"] if r["scenario"] == scenario]


@pytest.mark.parametrize("settle", [None, "2026-08-15"])
def test_run_json_document_equals_what_run_prints(runner, tmp_path: Path, settle) -> None:
    out = tmp_path / "run.json"
    args = ["run", str(US_AUTO), "--price", "B=99", "--yield", "C=6%", "--json", "-o", str(out)]
    args += ["--settle", settle] if settle else []
    done = runner.invoke(main, args)
    assert done.exit_code == 0, done.output
    document = json.loads(out.read_text("utf-8"))
    printed = _printed_rows(done.stdout, document["scenario"]["scenario"])
    assert [t["tranche"] for t in document["tranches"]] == [r["tranche"] for r in printed]
    for row, tranche in zip(printed, document["tranches"], strict=True):
        for key, value in row.items():
            if key != "scenario":
                assert tranche[key] == value, (row["tranche"], key, tranche[key], value)
    b = next(t for t in document["tranches"] if t["tranche"] == "B")
    assert b["price"] == 99.0 and b["quote"] == "price 99"
    pricing = document["summary"]["pricing"]
    closing = load_deal(US_AUTO).dates.closing.isoformat()
    assert pricing["settlement_date"] == (settle or closing)  # default: the closing date
    residual = next(r for r in printed if r["kind"] == "residual")
    assert document["summary"]["residual_irr"] == residual["residual_irr"]


def test_run_workbook_by_subprocess_equals_what_run_prints(tmp_path: Path) -> None:
    out = tmp_path / "run.xlsx"
    args = [sys.executable, "-m", "absstruct", "run", str(US_AUTO), "--price", "B=99"]
    done = subprocess.run(
        [*args, "--json", "-o", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    book = load_workbook(out)
    table = _summary_table(book["Summary"])
    scenario = _key_values(book["Summary"])["Scenario"]
    for row in _printed_rows(done.stdout, scenario):
        for header, key in (("Price", "price"), ("Yield", "yield"), ("WAL (years)", "wal")):
            assert _same(table.loc[row["tranche"], header], row[key]), (row["tranche"], key)
    assert table.loc["B", "Price"] == 99.0 and table.loc["B", "Quote"] == "price 99"


def test_grid_workbook_holds_the_printed_metrics(runner, tmp_path: Path) -> None:
    out = tmp_path / "grid.xlsx"
    args = ["grid", str(US_AUTO), "--prepay", "ABS 1%,2%", "--default", "CDR 1%,5%"]
    done = runner.invoke(main, [*args, "--price", "B=99", "--json", "-o", str(out)])
    assert done.exit_code == 0, done.output
    rows = pd.DataFrame(json.loads(done.stdout)["rows"])
    book = load_workbook(out)
    table = _summary_table(book["Summary"])
    first = rows[rows["scenario"] == rows["scenario"].iloc[0]].set_index("tranche")
    assert table.loc["B", "Price"] == 99.0
    assert table.loc["C", "Yield"] == first.loc["C", "yield"]
    ws = book["Scenarios"]
    ref = ws.tables["grid_yield"].ref
    cells = [[c.value for c in r] for r in ws[ref]]
    grid = pd.DataFrame(cells[1:], columns=cells[0])
    expected = rows[rows["tranche"] == "B"]["yield"].tolist()
    assert grid["B"].tolist() == expected
    assert grid["No."].tolist() == [1, 2, 3, 4]
    residual = next(t.name for t in load_deal(US_AUTO).tranches if t.kind == "residual")
    assert residual not in grid.columns  # the residual has no yield
    irr = ws.tables["grid_residual_irr"].ref
    assert [c.value for c in ws[irr][0]] == ["No.", "Scenario", residual]


def test_bad_quote_through_the_cli_exits_1_and_writes_nothing(runner, tmp_path: Path) -> None:
    out = tmp_path / "run.xlsx"
    done = runner.invoke(main, ["run", str(US_AUTO), "--price", "Z=99", "-o", str(out)])
    assert done.exit_code == 1
    assert "Z" in done.stderr and "Traceback" not in done.output + done.stderr
    assert not out.exists()


# --- the yield-by-scenario chart --------------------------------------------------------


def _grid(n_scenarios: int, tranches: tuple[str, ...] = ("Senior A", "Sub")) -> pd.DataFrame:
    scenarios = [f"CPR {i}% CDR {i / 2:g}% severity 40%" for i in range(n_scenarios)]
    return pd.DataFrame(
        {
            "scenario": np.repeat(scenarios, len(tranches)),
            "tranche": np.tile(tranches, n_scenarios),
            "yield": np.linspace(0.03, 0.06, n_scenarios * len(tranches)),
        }
    )


def _yield_chart(n_scenarios: int):
    data = replace(sample_report(n_periods=12, n_tranches=2), grid=_grid(n_scenarios))
    sheets = investor_sheets(data, "en")
    charts = [c for s in sheets for c in s.charts if c.table == "grid_yield"]
    tables = [
        b for s in sheets for b in s.blocks if isinstance(b, Table) and b.name == "grid_yield"
    ]
    return charts[0], tables[0]


@pytest.mark.parametrize(
    ("n", "x", "every", "kind"),
    [
        (4, "Scenario", 1, "column"),
        (12, "Scenario", 1, "column"),
        (13, "No.", 2, "line"),
        (100, "No.", 10, "line"),
    ],
)
def test_yield_chart_numbers_the_scenarios_of_a_large_grid(n, x, every, kind) -> None:
    chart, table = _yield_chart(n)
    assert (chart.x, chart.label_every, chart.kind) == (x, every, kind)
    assert chart.y == ("Senior A", "Sub")  # one series per tranche
    assert len(table.frame) == n  # the table keeps every scenario


@settings(max_examples=30, deadline=None)
@given(st.integers(min_value=1, max_value=400))
def test_yield_chart_labels_at_most_about_ten_ticks(n: int) -> None:
    chart, table = _yield_chart(n)
    assert -(-n // chart.label_every) <= max(CHART_AXIS_LABELS, 12)
    assert table.frame["No."].tolist() == list(range(1, n + 1))


def test_written_chart_skips_labels_on_a_100_scenario_grid(tmp_path: Path) -> None:
    data = replace(sample_report(n_periods=12, n_tranches=2), grid=_grid(100))
    path = tmp_path / "grid.xlsx"
    write_result(data, path)
    chart = load_workbook(path)["Charts"]._charts[-1]
    assert chart.x_axis.tickLblSkip == 10
    assert len(chart.series) == 2


# --- the pool command's workbook --------------------------------------------------------


@pytest.mark.parametrize(
    ("lang", "sheets", "header"),
    [
        ("en", ["Summary", "Strats", "Exclusions"], ["Stage", "Rule", "Excluded loans"]),
        ("zh", ["概要", "分层统计", "剔除资产"], ["阶段", "规则", "剔除笔数"]),
    ],
)
def test_pool_workbook_in_both_languages(runner, tmp_path: Path, lang, sheets, header) -> None:
    out = tmp_path / f"pool_{lang}.xlsx"
    done = runner.invoke(main, ["pool", str(US_AUTO), "--lang", lang, "-o", str(out)])
    assert done.exit_code == 0, done.output
    book = load_workbook(out)
    assert book.sheetnames == sheets
    exclusions = book[sheets[2]]
    assert "exclusion_summary" in exclusions.tables
    assert [c.value for c in exclusions[2]][:3] == header
    payload = json.loads(runner.invoke(main, ["pool", str(US_AUTO), "--json"]).stdout)
    facts = _key_values(book[sheets[0]])
    balance = facts["Current balance" if lang == "en" else "当前余额"]
    assert balance == pytest.approx(payload["summary"]["current_balance"])
