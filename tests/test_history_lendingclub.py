"""Static-pool history on the real LendingClub 2007-2011 tape, through the tape loader and CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from absstruct.analytics.backtest import backtest, parse_month
from absstruct.analytics.calibrate import extrapolate_lifetime, fit_curves
from absstruct.analytics.history import HistorySpec, load_history, vintage_summary, vintage_table
from absstruct.cli import main
from absstruct.curves import Assumptions
from absstruct.projection import project
from absstruct.report.history_workbook import column_label, vintage_pivot, write_history_workbook
from absstruct.tape import load_tape


def read_table(book, name: str) -> pd.DataFrame:
    """The Excel table ``name`` of a workbook (or its path) as a DataFrame, header as columns."""
    from openpyxl import load_workbook

    if isinstance(book, Path):
        book = load_workbook(book)
    for ws in book.worksheets:
        if name in ws.tables:
            cells = ws[ws.tables[name].ref]
            rows = [[c.value for c in row] for row in cells]
            return pd.DataFrame(rows[1:], columns=rows[0])
    raise KeyError(name)


@pytest.fixture(scope="module")
def raw(lendingclub_path: Path) -> pd.DataFrame:
    """The export read with plain pandas: the independent side of every reconciliation."""
    frame = pd.read_csv(lendingclub_path)
    frame["vintage"] = frame["issue_d_dt"].str[:7]
    frame["charged_off"] = frame["loan_status"].str.endswith("Charged Off")
    return frame


@pytest.fixture(scope="module")
def tape(lendingclub_path: Path) -> pd.DataFrame:
    return load_tape(lendingclub_path, template="lendingclub")


@pytest.fixture(scope="module")
def history(tape: pd.DataFrame):
    return load_history(tape, HistorySpec(by="original_term"))


def test_vintages_reconcile_to_the_tape(raw: pd.DataFrame, history) -> None:
    co = raw[raw["charged_off"]]
    expected = pd.DataFrame(
        {
            "defaults": (co["funded_amnt"] - co["total_rec_prncp"].clip(upper=co["funded_amnt"]))
            .groupby(co["vintage"])
            .sum(),
            "recoveries": co.groupby("vintage")["recoveries"].sum(),
            "recovery_fees": co.groupby("vintage")["collection_recovery_fee"].sum(),
            "original_balance": raw.groupby("vintage")["funded_amnt"].sum(),
            "loans": raw.groupby("vintage").size(),
        }
    ).fillna(0.0)
    table = (
        vintage_table(history).groupby("vintage")[["defaults", "recoveries", "recovery_fees"]].sum()
    )
    summary = (
        vintage_summary(history)
        .groupby("vintage")[["defaults", "recoveries", "original_balance", "loans"]]
        .sum()
    )
    for column in ("defaults", "recoveries", "recovery_fees"):
        diff = (table[column] - expected[column]).abs()
        assert diff.max() < 1e-6, f"{column}: by-age table vs tape\n{diff[diff >= 1e-6]}"
    for column in ("defaults", "recoveries", "original_balance", "loans"):
        diff = (summary[column] - expected[column]).abs()
        assert diff.max() < 1e-6, f"{column}: summary vs tape\n{diff[diff >= 1e-6]}"
    assert len(summary) == raw["vintage"].nunique() == 55


@pytest.fixture(scope="module")
def history_book(history, tmp_path_factory) -> dict:
    """The history workbook of the module's one history computation, with its API tables."""
    fitted = fit_curves(history)
    table = vintage_table(history)
    summary = extrapolate_lifetime(vintage_summary(history), fitted)
    path = tmp_path_factory.mktemp("lendingclub_book") / "history.xlsx"
    write_history_workbook(
        path, summary=summary, table=table, fitted=fitted, spec=history.spec, source="lc"
    )
    return {"path": path, "summary": summary, "table": table, "fitted": fitted}


def test_history_workbook_on_the_real_tape(raw: pd.DataFrame, history_book) -> None:
    from openpyxl import load_workbook

    path, table = history_book["path"], history_book["table"]
    book = load_workbook(path)
    measures = ["Cumulative gross default", "Cumulative net loss", "Cumulative prepayment"]
    assert book.sheetnames[1:5] == [*measures, "Pool factor"]
    vintages = table.groupby("segment")["vintage"].nunique().to_dict()
    assert vintages == {"36": 55, "60": 20}  # 60-month loans from 2010-05
    for title in book.sheetnames[1:5]:
        charts = [(type(c).__name__, len(c.series)) for c in book[title]._charts]
        # 55 monthly vintages of 36-month loans: every 6th drawn; 20 of 60-month: every 2nd.
        assert charts == [("LineChart", 10), ("LineChart", 10)], (title, charts)
    assert "36: every 6th vintage, 10 of 55" in book["Cumulative net loss"]["A1"].value
    # Each segment's chart runs over its own ages: months on book 1..36 and 1..60.
    spans = []
    for chart in book["Pool factor"]._charts:
        first, last = re.findall(r"\$(\d+)", chart.series[0].cat.numRef.f)
        spans.append(int(last) - int(first) + 1)
    assert spans == [36, 60]
    pivot = read_table(book, "cum_net_loss")
    assert len(pivot) == 75 and list(pivot.columns[-1:]) == ["M60"]
    expected = vintage_pivot(table, "cum_net_loss")
    np.testing.assert_allclose(
        pivot.iloc[:, 2:].to_numpy(dtype=float),
        expected.iloc[:, 2:].to_numpy(dtype=float),
        rtol=1e-12,
    )
    # The written summary reconciles to the export read independently, vintage by vintage.
    summary = read_table(book, "vintage_summary")
    written = summary.groupby(column_label("vintage"))[column_label("defaults")].sum()
    co = raw[raw["charged_off"]]
    tape_defaults = (
        (co["funded_amnt"] - co["total_rec_prncp"].clip(upper=co["funded_amnt"]))
        .groupby(co["vintage"])
        .sum()
        .reindex(written.index, fill_value=0.0)
    )
    diff = (written - tape_defaults).abs()
    assert diff.max() < 1e-6, f"written vs tape defaults by vintage\n{diff[diff >= 1e-6]}"
    fitted = read_table(book, "fitted_summary").set_index(column_label("segment"))
    lifetime = fitted[column_label("lifetime_default_fitted")]
    assert lifetime["36"] == history_book["fitted"].curves_for("36").lifetime_default_fitted


def test_fitted_36_month_lifetime_default_within_the_data(raw: pd.DataFrame, history) -> None:
    fitted = fit_curves(history).curves_for("36")
    short = raw[raw["term"] == 36]
    co = short["charged_off"]
    by_vintage = (
        (short["funded_amnt"] - short["total_rec_prncp"]).where(co, 0.0).groupby(short["vintage"])
    ).sum() / short.groupby("vintage")["funded_amnt"].sum()
    sizable = short.groupby("vintage").size() >= 100
    low, high = by_vintage[sizable].min(), by_vintage[sizable].max()
    print(f"fitted {fitted.lifetime_default_fitted:.4f}, vintages {low:.4f}..{high:.4f}")
    assert low <= fitted.lifetime_default_fitted <= high
    pooled = (short["funded_amnt"] - short["total_rec_prncp"]).where(co, 0.0).sum() / short[
        "funded_amnt"
    ].sum()
    assert fitted.lifetime_default_fitted == pytest.approx(pooled, rel=0.05)
    assert len(fitted.mdr) == 36 and all(0 <= x < 1 for x in fitted.mdr)


def test_history_cli_writes_tables_fit_and_charts(
    runner, lendingclub_path: Path, tmp_path: Path
) -> None:
    args = ["history", str(lendingclub_path), "--template", "lendingclub", "--by", "term"]
    args += ["--vintage", "quarter", "-o", str(tmp_path / "h.json"), "--fit-out"]
    args += [str(tmp_path / "fit.toml"), "--charts", str(tmp_path / "charts")]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "2011Q4" in result.stdout and "fitted 36: lifetime gross default" in result.stdout
    tables = json.loads((tmp_path / "h.json").read_text())
    assert {"vintage_summary", "vintage_table", "fitted_curves", "approximations"} <= set(tables)
    fit = tomllib.loads((tmp_path / "fit.toml").read_text())
    assert fit["segment_by"] == "original_term" and set(fit["segments"]) == {"36", "60"}
    # Vectors run to the longest term (60); the 36-month curve's tail is never reached.
    assert fit["segments"]["36"]["default"].count("%") == 60
    assumptions = Assumptions.from_mapping(fit)
    assert assumptions.basis == "age" and assumptions.segments["60"].severity.endswith("%")
    pngs = sorted(p.name for p in (tmp_path / "charts").glob("*.png"))
    assert pngs == [
        "vintage_cum_gross_default.png",
        "vintage_cum_net_loss.png",
        "vintage_cum_prepayment.png",
        "vintage_pool_factor.png",
    ]
    assert all((tmp_path / "charts" / p).read_bytes()[:4] == b"\x89PNG" for p in pngs)


def test_backtest_end_to_end(lendingclub_path: Path, raw: pd.DataFrame, tmp_path: Path) -> None:
    out = tmp_path / "backtest.xlsx"
    command = [sys.executable, "-m", "absstruct", "backtest", str(lendingclub_path)]
    command += ["--template", "lendingclub", "--train-until", "2009-12", "-o", str(out)]
    command += ["--charts", str(tmp_path / "charts"), "--fit-out", str(tmp_path / "fit.toml")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "net_loss" in done.stdout and "2011-12" in done.stdout
    errors = read_table(out, "backtest_errors")
    metrics = ("loans", "actual_defaults", "actual_net_loss", "projected_net_loss")
    errors = errors.rename(columns={column_label(c): c for c in metrics})
    later = raw[raw["vintage"] > "2009-12"]
    co = later[later["charged_off"]]
    assert errors["loans"].sum() == len(later)
    assert errors["actual_defaults"].sum() == pytest.approx(
        (co["funded_amnt"] - co["total_rec_prncp"].clip(upper=co["funded_amnt"])).sum()
    )
    actual_net = (co["funded_amnt"] - co["total_rec_prncp"].clip(upper=co["funded_amnt"])).sum() - (
        co["recoveries"] - co["collection_recovery_fee"]
    ).sum()
    assert errors["actual_net_loss"].sum() == pytest.approx(actual_net)
    assert np.isfinite(errors["projected_net_loss"]).all()
    assert (errors["projected_net_loss"] > 0).all()
    assert (tmp_path / "charts" / "backtest_net_loss_by_vintage.png").exists()
    # The assumptions the back-test projected with, as a file the engine reads back.
    fit = Assumptions.from_mapping(tomllib.loads((tmp_path / "fit.toml").read_text()))
    assert fit.default.count("%") == 60 and fit.segments == {} and fit.basis == "age"


def test_backtest_projects_through_the_engine(tape: pd.DataFrame, raw: pd.DataFrame) -> None:
    result = backtest(tape, spec=HistorySpec(), train_until=parse_month("2009-12"))
    later = tape[tape["origination_date"] > "2009-12-31"]
    rebased = later.assign(
        current_balance=later["original_balance"], remaining_term=later["original_term"]
    )
    direct = project(rebased, result.assumptions)
    totals = result.totals.set_index("metric")["projected"]
    engine = {
        "principal_collected": direct["actual_amortization"] + direct["voluntary_prepayments"],
        "defaults": direct["new_defaults"],
        "recoveries": direct["principal_recovery"],
        "net_loss": direct["principal_loss"],
    }
    for metric, values in engine.items():
        print(f"{metric}: back-test {totals[metric]:,.2f}, direct {values.sum():,.2f}")
        assert totals[metric] == pytest.approx(float(values.sum()), rel=1e-9), metric
    # Lifetime principal is conserved: collected + defaulted = original balance.
    assert totals["principal_collected"] + totals["defaults"] == pytest.approx(
        raw.loc[raw["vintage"] > "2009-12", "funded_amnt"].sum(), rel=1e-9
    )
    # The training loans are all 36-month: the assumptions extend to the 60-month test loans.
    assert set(later["original_term"]) == {36, 60}
    assert result.assumptions.default.count("%") == 60


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda f: f.drop(columns="loan_status"),
            "row 2 (loan LC000001), column status: 'current'",
        ),
        (
            lambda f: f.assign(loan_status=f["loan_status"].where(f.index != 4, "Defaulted??")),
            "row 6",
        ),
        (
            lambda f: f.assign(
                last_pymnt_d_dt=f["last_pymnt_d_dt"].where(f.index != 2, "2001-01-01")
            ),
            "row 4 (loan LC000003), column last_payment_date: '2001-01-01' is before",
        ),
    ],
)
def test_bad_history_exits_1(runner, raw: pd.DataFrame, tmp_path: Path, edit, message) -> None:
    small = raw.drop(columns=["vintage", "charged_off"]).head(50)
    path = tmp_path / "bad.csv"
    edit(small).to_csv(path, index=False)
    result = runner.invoke(main, ["history", str(path), "--template", "lendingclub"])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and message in result.stderr, result.stderr
