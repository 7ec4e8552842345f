"""Batch runs on real deals: local processes vs a Dask LocalCluster, isolation, resume, CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from absstruct.batch import load_jobs, run_jobs
from absstruct.batch.engine import SUMMARY_COLUMNS
from absstruct.batch.runner import job_file, plan_jobs
from absstruct.cli import main
from tests.conftest import ROOT

# A two-class sequential deal over a 40-loan synthetic auto tape (terms up to 72 months):
# small enough that one engine pass takes milliseconds.
DEAL = """\
schema_version = 1
name = "Batch test trust"
currency = "USD"

[dates]
cutoff = 2026-06-30
closing = 2026-07-15
first_payment = 2026-08-15
legal_final = 2033-06-15
roll = "none"

[pool]
tape = "tape.csv"

[pool.assumptions]
prepay = "ABS 1.5%"
default = "CDR 2%"
severity = "50%"
lag = 3

[pool.scenarios.stress]
default = "CDR 12%"
severity = "70%"

[[tranches]]
name = "A"
size = "80%"
coupon = "5%"

[[tranches]]
name = "B"
size = "12%"
coupon = "8%"
deferrable = true

[[tranches]]
name = "R"
kind = "residual"

[[waterfall.interest]]
step = "pay_interest"
tranche = "A"

[[waterfall.interest]]
step = "pay_interest"
tranche = "B"

[[waterfall.interest]]
step = "transfer"
from = "interest_funds"
to = "principal_funds"

[[waterfall.principal]]
step = "pay_principal"
tranches = ["A", "B"]

[[waterfall.principal]]
step = "pay_residual"
"""

PREPAYS = ["ABS 0.5%", "ABS 1%", "ABS 1.5%", "ABS 2%"]
DEFAULTS = ["CDR 0%", "CDR 4%", "CDR 30%"]

JOBS = f"""\
[defaults]
settlement = "2026-07-15"

[[jobs]]
label = "base"
deal = "deal.toml"
price = {{ A = 99.5 }}
yield = {{ B = "9%" }}

[[jobs]]
label = "stress"
deal = "deal.toml"
scenario = "stress"
output = "cashflows"

[[jobs]]
label = "broken"
deal = "broken.toml"

[[jobs]]
label = "no such scenario"
deal = "deal.toml"
scenario = "severe"

[[grid]]
deal = "deal.toml"
prepay = {PREPAYS!r}
default = {DEFAULTS!r}
price = {{ A = 100, B = 98 }}
"""
N_JOBS = 4 + len(PREPAYS) * len(DEFAULTS)
TRANCHES = ("A", "B", "R")


@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the deal, its tape, a broken copy of the deal and a jobs file."""
    from absstruct.tape import synth_tape

    folder = tmp_path_factory.mktemp("book")
    synth_tape(40, profile="us_auto", seed=11, cutoff="2026-06-30").to_csv(
        folder / "tape.csv", index=False
    )
    (folder / "deal.toml").write_text(DEAL, encoding="utf-8")
    # A misspelled key: the deal file fails validation, naming the field.
    (folder / "broken.toml").write_text(
        DEAL.replace('coupon = "8%"', 'cuopon = "8%"'), encoding="utf-8"
    )
    (folder / "jobs.toml").write_text(JOBS, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def local_summary(book: Path) -> pd.DataFrame:
    return run_jobs(book / "jobs.toml", workers=2)


def _by_label(summary: pd.DataFrame, label: str) -> pd.DataFrame:
    return summary[summary["label"] == label].set_index("tranche", drop=False)


def test_summary_shape_and_isolated_failures(local_summary: pd.DataFrame) -> None:
    summary = local_summary
    assert list(summary.columns) == list(SUMMARY_COLUMNS)
    assert summary["origin"].nunique() == N_JOBS
    failed = summary[summary["status"] == "failed"]
    assert sorted(failed["label"]) == ["broken", "no such scenario"]
    broken = failed.set_index("label").loc["broken", "error"]
    assert "broken.toml" in broken and "tranches[1].cuopon" in broken
    missing = failed.set_index("label").loc["no such scenario", "error"]
    assert "'severe' is not a scenario of the deal" in missing
    ok = summary[summary["status"] == "ok"]
    assert len(ok) == (N_JOBS - 2) * len(TRANCHES)
    assert all(tuple(t) == TRANCHES for _, t in ok.groupby("origin")["tranche"])
    notes = ok[ok["tranche"] != "R"]
    assert notes[["price", "yield", "wal", "modified_duration"]].notna().all().all()
    assert (notes["yield_convention"] == "semiannual 30/360").all()


def test_pricing_inputs_are_applied(local_summary: pd.DataFrame) -> None:
    base = _by_label(local_summary, "base")
    assert base.loc["A", "price"] == pytest.approx(99.5, abs=1e-9)
    assert base.loc["B", "yield"] == pytest.approx(0.09, abs=1e-12)
    # Without a pricing input a note is priced at par.
    stress = _by_label(local_summary, "stress")
    assert stress.loc["A", "price"] == pytest.approx(100.0, abs=1e-9)


def test_stress_hurts_the_junior_note(local_summary: pd.DataFrame) -> None:
    grid = local_summary[local_summary["label"].str.startswith("grid")]
    b = grid[grid["tranche"] == "B"].reset_index(drop=True)
    # Grid order: prepay outer, default inner (CDR 0%, 4%, 30%).
    losses = b["principal_loss_pct"].to_numpy().reshape(len(PREPAYS), len(DEFAULTS))
    assert np.all(losses[:, 0] == 0.0)
    assert np.all(losses[:, 2] > losses[:, 1])
    assert np.all(losses[:, 2] > 0.0)


def test_batch_equals_a_direct_single_scenario_run(book: Path, local_summary: pd.DataFrame) -> None:
    """Grouping many scenarios into one pass gives each job what it would get alone."""
    from absstruct.curves import Assumptions
    from absstruct.deal import load_deal
    from absstruct.pricing import CashFlows, Convention, yield_from_price
    from absstruct.tape import load_tape
    from absstruct.waterfall.run import run

    deal = load_deal(book / "deal.toml")
    tape = load_tape(book / "tape.csv", cutoff="2026-06-30")
    scenario = Assumptions(prepay="ABS 2%", default="CDR 30%", severity="50%", lag=3)
    result = run(deal, tape, {"alone": scenario})
    ledger = result.tranches["B"]
    flows = CashFlows(
        dates=list(result.payment_dates),
        interest=ledger["interest_paid"][0],
        principal=ledger["principal_paid"][0],
    )
    # Bought at closing: the face is the original balance, so the write-down shows in the yield.
    face = result.original_balances["B"]
    direct = yield_from_price(
        flows, settlement="2026-07-15", price=98.0, convention=Convention(), face=face
    )
    row = local_summary[
        (local_summary["scenario"] == "prepay=ABS 2%; default=CDR 30%")
        & (local_summary["tranche"] == "B")
    ].iloc[0]
    # A fraction of the face bought (as tranche_metrics and `absstruct run --price` report it).
    writedown = ledger["writedown"][0].sum() / result.original_balances["B"]
    print(f"batch yield {row['yield']!r} vs direct {direct.yield_!r}")
    assert row["yield"] == pytest.approx(direct.yield_, abs=1e-12)
    assert row["wal"] == pytest.approx(direct.wal, abs=1e-12)
    assert row["modified_duration"] == pytest.approx(direct.modified, abs=1e-10)
    assert row["price"] == pytest.approx(98.0, abs=1e-9)
    assert row["principal_loss_pct"] > 0 and row["yield"] < 0  # a deep loss at this stress
    assert row["principal_loss_pct"] == pytest.approx(writedown, abs=1e-12)


def test_chunking_does_not_change_results(book: Path, local_summary: pd.DataFrame) -> None:
    one_per_pass = run_jobs(book / "jobs.toml", workers=1, chunk_size=1)
    pd.testing.assert_frame_equal(one_per_pass, local_summary)


def test_dask_local_cluster_gives_identical_results(
    book: Path, local_summary: pd.DataFrame
) -> None:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        on_dask = run_jobs(book / "jobs.toml", client, chunk_size=5)
    pd.testing.assert_frame_equal(on_dask, local_summary)


def test_outputs_and_resume_skip_finished_jobs(book: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = run_jobs(book / "jobs.toml", workers=2, out_dir=out)
    written = sorted((out / "jobs").glob("*.parquet"))
    ok_ids = set(first.loc[first["status"] == "ok", "job_id"])
    assert {p.name for p in written} == {f"{k}.parquet" for k in ok_ids} | {
        f"{k}.cashflows.parquet" for k in first.loc[first["label"] == "stress", "job_id"]
    }
    stress_id = first.loc[first["label"] == "stress", "job_id"].iloc[0]
    flows = pd.read_parquet(out / "jobs" / f"{stress_id}.cashflows.parquet")
    assert set(flows["tranche"]) == set(TRANCHES) and flows["period"].max() > 24
    pd.testing.assert_frame_equal(pd.read_parquet(out / "summary.parquet"), first)
    from openpyxl import load_workbook

    sheet = load_workbook(out / "summary.xlsx")["summary"]
    assert sheet.max_row == len(first) + 1
    assert [c.value for c in sheet[1]] == list(first.columns)
    assert sheet.cell(row=2, column=1).value == first["job_id"].iloc[0]
    stamps = {p: p.stat().st_mtime_ns for p in written}
    plan = plan_jobs(load_jobs(book / "jobs.toml"), out_dir=out, resume=True)
    # Only the two failing jobs are left to run again.
    assert plan.pending_count == 2
    again = run_jobs(book / "jobs.toml", workers=1, out_dir=out, resume=True)
    assert {p: p.stat().st_mtime_ns for p in written} == stamps
    pd.testing.assert_frame_equal(again, first)


def _finished(out: Path) -> list[Path]:
    """Job result files (not the hidden temporary files of writes in progress)."""
    return [p for p in (out / "jobs").glob("*.parquet") if not p.name.startswith(".")]


def test_kill_then_resume_completes_without_recomputing(book: Path, tmp_path: Path) -> None:
    """Interrupt a real ``python -m absstruct batch`` process, then finish it with --resume."""
    jobs = tmp_path / "many.toml"
    prepays = [f"ABS {0.2 + 0.05 * i:.2f}%" for i in range(60)]
    jobs.write_text(
        f'[[grid]]\ndeal = "{(book / "deal.toml").as_posix()}"\nprepay = {prepays!r}\n',
        encoding="utf-8",
    )
    out = tmp_path / "out"
    command = [sys.executable, "-m", "absstruct", "batch", str(jobs), "-o", str(out)]
    process = subprocess.Popen(
        [*command, "--workers", "1", "--chunk", "1"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill takes its workers too
    )
    try:
        deadline = time.monotonic() + 60
        while len(_finished(out)) < 3:
            assert process.poll() is None, "the batch ended before it could be interrupted"
            assert time.monotonic() < deadline, "no job finished within 60 s"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    before = {p.name: p.stat().st_mtime_ns for p in _finished(out)}
    assert 3 <= len(before) < 60
    assert not (out / "summary.parquet").exists()
    resumed = subprocess.run(
        [*command, "--resume", "--workers", "2"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{len(before)} job(s) already have results" in resumed.stderr
    assert f"{60 - len(before)}/{60 - len(before)} done, 0 failed, 0 remaining" in resumed.stderr
    after = {p.name: p.stat().st_mtime_ns for p in _finished(out)}
    assert len(after) == 60
    # A write cut short by the kill left at most a hidden temporary file; resume removed it.
    assert sorted(p.name for p in (out / "jobs").iterdir()) == sorted(after)
    assert {name: after[name] for name in before} == before  # not recomputed
    summary = pd.read_parquet(out / "summary.parquet")
    assert len(summary) == 60 * len(TRANCHES)
    assert not summary.duplicated(["origin", "tranche"]).any()
    assert summary["job_id"].nunique() == 60


# ------------------------------------------------------------------------------ CLI


def test_cli_exit_code_one_when_a_job_fails(book: Path, runner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["batch", str(book / "jobs.toml"), "-o", str(tmp_path), "-q"])
    assert result.exit_code == 1, result.output
    assert "2 of 16 job(s) failed; see the error column" in result.stderr
    assert "Traceback" not in result.output
    assert job_file(tmp_path, pd.read_parquet(tmp_path / "summary.parquet")["job_id"][0]).exists()


def test_cli_summary_on_stdout_and_progress_on_stderr(book: Path, runner, tmp_path: Path) -> None:
    jobs = tmp_path / "ok.csv"
    jobs.write_text(
        f'deal,scenario,price\n{book / "deal.toml"},stress,"A=99,B=97"\n{book / "deal.toml"},,\n',
        encoding="utf-8",
    )
    result = runner.invoke(main, ["batch", str(jobs), "--workers", "1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(SUMMARY_COLUMNS)
    assert len(lines) == 1 + 2 * len(TRANCHES)
    assert "batch: 2/2 done, 0 failed, 0 remaining, in " in result.stderr


@pytest.mark.parametrize(
    ("arguments", "code", "message"),
    [
        (["--resume"], 2, "--resume needs -o DIR"),
        (["--workers", "0"], 2, "0 is not in the range x>=1"),
        (["--scheduler", "tcp://127.0.0.1:port"], 1, "127.0.0.1:port: not a scheduler address"),
    ],
)
def test_cli_option_errors(book: Path, runner, arguments: list[str], code: int, message: str):
    result = runner.invoke(main, ["batch", str(book / "jobs.toml"), *arguments])
    assert result.exit_code == code
    assert message in result.output
    assert "Traceback" not in result.output


def test_cli_bad_jobs_file_is_one_readable_error(runner, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.toml"
    jobs.write_text('[[jobs]]\ndeal = "d.toml"\nprepay = 5\ncolour = 1\n[[jobs]]\n', "utf-8")
    result = runner.invoke(main, ["batch", str(jobs)])
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: {jobs}: 3 problems\n")
    assert "jobs[0].prepay: 5 CPR 5 is above 100%" in result.stderr
    assert "jobs[0].colour: is not a job field" in result.stderr
    assert "jobs[1].deal: is required" in result.stderr


def test_cli_help(runner) -> None:
    result = runner.invoke(main, ["batch", "-h"])
    assert result.exit_code == 0
    for option in ("--workers", "--scheduler", "--output", "--resume", "--chunk"):
        assert option in result.output


# ------------------------------------------------------------------ spreads, examples


def test_spread_inputs_and_z_spreads_on_a_curve(book: Path, tmp_path: Path) -> None:
    (tmp_path / "curve.csv").write_text("tenor,rate\n0.5,3.9%\n2,4.1%\n5,4.4%\n", "utf-8")
    deal = (book / "deal.toml").as_posix()
    jobs = tmp_path / "jobs.toml"
    jobs.write_text(
        f'[[jobs]]\ndeal = "{deal}"\ncurve = "curve.csv"\nspread = {{ A = "150bp" }}\n',
        encoding="utf-8",
    )
    first = _by_label(run_jobs(jobs, workers=1), "jobs[0]")
    assert first.loc["A", "spread"] == pytest.approx(0.015, abs=1e-15)
    b_spread = float(first.loc["B", "spread"])  # B priced at par: its Z-spread comes out
    assert 0.0 < b_spread < 0.1
    # Round trip: pricing B at that Z-spread gives back par, and A's yield is repriced.
    jobs.write_text(
        f'[[jobs]]\ndeal = "{deal}"\ncurve = "curve.csv"\n'
        f"spread = {{ B = {b_spread!r} }}\nprice = {{ A = {float(first.loc['A', 'price'])!r} }}\n",
        encoding="utf-8",
    )
    second = _by_label(run_jobs(jobs, workers=1), "jobs[0]")
    assert second.loc["B", "price"] == pytest.approx(100.0, abs=1e-8)
    assert second.loc["A", "yield"] == pytest.approx(first.loc["A", "yield"], abs=1e-12)
    assert second.loc["A", "spread"] == pytest.approx(0.015, abs=1e-10)


def test_spread_without_a_curve_fails_the_job(book: Path, tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.csv"
    jobs.write_text(f"deal,spread\n{book / 'deal.toml'},A=120bp\n", encoding="utf-8")
    summary = run_jobs(jobs, workers=1)
    assert summary["status"].tolist() == ["failed"]
    assert "pricing at a spread needs a curve" in summary["error"].iloc[0]


def test_the_example_deals_run_in_one_batch(tmp_path: Path) -> None:
    from absstruct.deal import load_deal
    from absstruct.resources import deals_dir

    names = ["us_auto.toml", "cn_consumer_revolving.toml", "mortgage.toml"]
    deals = [(deals_dir() / name).as_posix() for name in names]
    jobs = tmp_path / "examples.toml"
    jobs.write_text(
        f'[[grid]]\ndeal = {deals!r}\nscenario = ["base", "stress"]\n', encoding="utf-8"
    )
    summary = run_jobs(jobs, workers=2)
    assert (summary["status"] == "ok").all(), summary["error"].unique()
    for name, path in zip(names, deals, strict=True):
        tranches = [t.name for t in load_deal(path).tranches]
        rows = summary[summary["deal"] == path]
        assert rows["tranche"].tolist() == tranches * 2, name
        priced = rows[rows["yield"].notna()]
        assert (priced["wal"] > 0).all() and (priced["price"] == 100.0).all()


# ------------------------------------------------------- one pricing function everywhere

SAME_MEASURES = (
    "price",
    "accrued",
    "yield",
    "wal",
    "modified_duration",
    "principal_loss_pct",
    "interest_shortfall",
    "residual_irr",
    "residual_multiple",
)


@pytest.mark.parametrize(
    ("label", "arguments"),
    [
        ("base", ["--scenario", "base", "--price", "A=99.5", "--yield", "B=9%"]),
        ("stress", ["--scenario", "stress"]),
    ],
)
def test_summary_rows_equal_absstruct_run_price(
    book: Path, local_summary: pd.DataFrame, runner, label: str, arguments: list[str]
) -> None:
    """A batch job's rows are what ``absstruct run DEAL --price ...`` reports for it."""
    import json

    command = ["run", str(book / "deal.toml"), *arguments, "--settle", "2026-07-15", "--json"]
    result = runner.invoke(main, command)
    assert result.exit_code == 0, result.output
    expected = {row["tranche"]: row for row in json.loads(result.stdout)["pricing"]}
    rows = _by_label(local_summary, label)
    assert list(rows["tranche"]) == list(expected) == list(TRANCHES)
    for tranche, want in expected.items():
        got = rows.loc[tranche]
        assert got["yield_convention"] == want["convention"]
        final = got["final_payment_date"]
        assert final.date().isoformat() == want["expected_final_date"]
        for column in SAME_MEASURES:
            value = None if pd.isna(got[column]) else float(got[column])
            print(f"{label} {tranche} {column}: run {want[column]!r}, batch {value!r}")
            if want[column] is None:
                assert value is None
            else:
                assert value == pytest.approx(want[column], rel=1e-12, abs=1e-12)
    # The residual is priced too: its IRR and multiple for its balance bought at par.
    assert np.isfinite(rows.loc["R", "residual_irr"]) and rows.loc["R", "residual_multiple"] > 0


def test_mid_period_settlement_prices_clean_with_accrued_as_run_does(
    book: Path, runner, tmp_path: Path
) -> None:
    import json

    jobs = tmp_path / "late.csv"
    jobs.write_text(
        f"deal,scenario,price,settlement\n{book / 'deal.toml'},stress,A=99.5,2026-09-01\n",
        encoding="utf-8",
    )
    rows = _by_label(run_jobs(jobs, workers=1), "row 2")
    command = ["run", str(book / "deal.toml"), "--scenario", "stress", "--price", "A=99.5"]
    result = runner.invoke(main, [*command, "--settle", "2026-09-01", "--json"])
    assert result.exit_code == 0, result.output
    expected = {row["tranche"]: row for row in json.loads(result.stdout)["pricing"]}
    # 2026-08-15 to 2026-09-01 on 30/360 is 16 days of A's 5% coupon, per 100.
    assert rows.loc["A", "accrued"] == pytest.approx(5.0 * 16 / 360, abs=1e-12)
    for tranche in ("A", "B"):
        for column in ("price", "accrued", "yield", "wal", "modified_duration"):
            assert rows.loc[tranche, column] == pytest.approx(
                expected[tranche][column], rel=1e-12, abs=1e-12
            ), f"{tranche} {column}"


@pytest.mark.parametrize("edited", ["template", "index"])
def test_editing_the_template_or_an_index_csv_reruns_the_job(
    book: Path, tmp_path: Path, edited: str
) -> None:
    from absstruct.resources import templates_dir

    template = tmp_path / "map.toml"
    template.write_bytes((templates_dir() / "tapes" / "canonical.toml").read_bytes())
    (tmp_path / "sofr.csv").write_text("period,rate\n1,0.04\n", encoding="utf-8")
    tape = (book / "tape.csv").as_posix()
    text = DEAL.replace('tape = "tape.csv"', f'tape = "{tape}"\ntemplate = "{template.as_posix()}"')
    (tmp_path / "deal.toml").write_text(f'{text}\n[indices.SOFR]\ncsv = "sofr.csv"\n', "utf-8")
    jobs = tmp_path / "jobs.csv"
    jobs.write_text("deal,scenario\ndeal.toml,\ndeal.toml,stress\n", encoding="utf-8")
    out = tmp_path / "out"
    first = run_jobs(jobs, workers=1, out_dir=out)
    assert (first["status"] == "ok").all(), first["error"].unique()
    assert plan_jobs(load_jobs(jobs), out_dir=out, resume=True).pending_count == 0
    if edited == "template":
        template.write_text(template.read_text("utf-8") + "\n# reviewed\n", "utf-8")
    else:
        (tmp_path / "sofr.csv").write_text("period,rate\n1,0.045\n", encoding="utf-8")
    again = plan_jobs(load_jobs(jobs), out_dir=out, resume=True)
    assert again.pending_count == 2 and not (set(again.keys) & set(first["job_id"]))


def test_a_note_paid_off_by_settlement_says_so(book: Path, tmp_path: Path) -> None:
    # At 4% ABS the 40-loan pool pays A off in June 2027 and B in October 2027.
    jobs = tmp_path / "late.csv"
    jobs.write_text(
        f"deal,prepay,settlement\n{book / 'deal.toml'},ABS 4%,2027-07-01\n", encoding="utf-8"
    )
    rows = _by_label(run_jobs(jobs, workers=1), "row 2")
    assert (rows["status"] == "ok").all()
    assert rows.loc["A", "error"].startswith("face: the tranche is paid off by settlement")
    assert np.isnan(rows.loc["A", "price"])
    assert rows.loc["B", "error"] == "" and rows.loc["B", "price"] == 100.0
    assert rows.loc["R", "error"] == ""  # a residual has no face; it is not "paid off"
