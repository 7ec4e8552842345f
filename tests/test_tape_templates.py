"""Templates and readers: Chinese GBK exports, Reg AB II, XLSX, Parquet, ids, synth, convert."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from absstruct.cli import main
from absstruct.errors import TapeError
from absstruct.resources import deals_dir
from absstruct.tape import load_tape, read_tape, synth_tape, template_names
from absstruct.tape.schema import CANONICAL_ORDER, REQUIRED

CN_HEADER = (
    "借据编号,客户编号,借款金额,剩余本金,年利率,借款期限,剩余期数,"
    "还款方式,放款日期,到期日期,逾期天数,省份,五级分类"
)
CN_ROWS = [
    "000123,C001,10000,8000,12.5%,12,9,等额本息,2026/01/15,2027/01/15,0,广东,正常",
    "000124,C002,5000,5000,18,6,6,先息后本,2026/06/01,2026/12/01,35,浙江,关注",
    "000125,C003,3000,1000,9.6%,3,1,等额本金,2026/04/10,2026/07/10,200,江苏,损失",
]


def write_cn(folder: Path, encoding: str, rows: list[str] = CN_ROWS) -> Path:
    path = folder / f"cn_{encoding}.csv"
    path.write_bytes(("\n".join([CN_HEADER, *rows]) + "\n").encode(encoding))
    return path


def test_shipped_templates() -> None:
    assert {"canonical", "lendingclub", "cn_consumer", "regab_auto"} <= set(template_names())


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_cn_consumer_reads_in_every_common_encoding(tmp_path: Path, encoding: str) -> None:
    report = read_tape(write_cn(tmp_path, encoding), template="cn_consumer")
    assert report.ok, report.problems
    frame = report.frame
    assert frame["loan_id"].tolist() == ["000123", "000124", "000125"]
    assert frame["rate"].tolist() == pytest.approx([0.125, 0.18, 0.096], abs=1e-15)
    assert frame["amortization"].tolist() == ["level_pay", "interest_only", "equal_principal"]
    assert frame["status"].tolist() == ["current", "delinquent", "defaulted"]
    assert frame["region"].tolist() == ["广东", "浙江", "江苏"]
    assert frame["remaining_term"].tolist() == [9, 6, 1]
    expected = "gb18030" if encoding.startswith("gb") else "utf-8"
    assert report.encoding == expected


def test_gbk_with_explicit_encoding(tmp_path: Path, runner) -> None:
    path = write_cn(tmp_path, "gbk")
    result = runner.invoke(
        main, ["tape", "check", str(path), "-t", "cn_consumer", "--encoding", "gbk"]
    )
    assert result.exit_code == 0, result.output
    assert "loans     3" in result.output and "encoding gbk" in result.output


def test_cn_remaining_term_derived_from_dates_and_cutoff(tmp_path: Path) -> None:
    header = "借据编号,借款金额,剩余本金,年利率,借款期限,还款方式,放款日期,到期日期"
    rows = [
        "1,1000,500,10,12,等额本息,2026/01/15,2027/01/15",
        "2,1000,500,10,6,等额本息,2026/05/20,2026/11/20",
    ]
    path = tmp_path / "cn.csv"
    path.write_text("\n".join([header, *rows]), encoding="utf-8")
    # Payments left after 2026-06-30: Jul..Jan (7) and Jul..Nov (5).
    frame = load_tape(path, template="cn_consumer", cutoff="2026-06-30")
    assert frame["remaining_term"].tolist() == [7, 5]
    report = read_tape(path, template="cn_consumer")
    assert report.counts["missing_column"] == ("error", 1)
    assert "give a cut-off date (--cutoff)" in str(report.errors[0])


def test_regab_auto_elements(tmp_path: Path) -> None:
    path = tmp_path / "ex102.csv"
    path.write_text(
        "assetNumber,originationDate,originalLoanAmount,reportingPeriodActualEndBalanceAmount,"
        "reportingPeriodInterestRatePercentage,originalLoanTerm,remainingTermToMaturityNumber,"
        "currentDelinquencyStatus,zeroBalanceCode,obligorCreditScore,obligorGeographicLocation,"
        "vehicleNewUsedCode,vehicleManufacturerName\n"
        "0000001,03/2024,25000.00,18000.00,0.0549,60,45,0,,712,CA,1,Toyota\n"
        "0000002,11/2023,31000.00,0,0.0899,72,0,0,4,640,TX,2,Ford\n"
        "0000003,07/2024,18000.00,15500.00,0.1250,48,36,45,99,590,FL,2,Kia\n",
        encoding="utf-8",
    )
    frame = load_tape(path, template="regab_auto")
    assert frame["loan_id"].tolist() == ["0000001", "0000002", "0000003"]
    assert frame["status"].tolist() == ["current", "defaulted", "delinquent"]
    assert frame["product"].tolist() == ["new_vehicle", "used_vehicle", "used_vehicle"]
    assert [str(d)[:10] for d in frame["origination_date"]] == [
        "2024-03-01",
        "2023-11-01",
        "2024-07-01",
    ]
    assert frame["credit_score"].tolist() == [712, 640, 590]
    assert frame["vehicle_manufacturer_name"].tolist() == ["Toyota", "Ford", "Kia"]
    assert frame["maturity_date"].notna().all()  # origination + original term


def test_xlsx_and_parquet_give_the_same_tape(tmp_path: Path, runner) -> None:
    source = tmp_path / "tape.csv"
    synth_tape(40, profile="us_auto", seed=3).to_csv(source, index=False)
    expected = load_tape(source)
    for suffix in (".xlsx", ".parquet"):
        out = tmp_path / f"canonical{suffix}"
        result = runner.invoke(main, ["tape", "convert", str(source), "-o", str(out)])
        assert result.exit_code == 0, result.output
        again = load_tape(out)
        assert again["loan_id"].tolist() == expected["loan_id"].tolist()
        np.testing.assert_allclose(again["current_balance"], expected["current_balance"])
        assert (again["remaining_term"] == expected["remaining_term"]).all()
        assert (again["origination_date"] == expected["origination_date"]).all()


def test_leading_zeros_survive_everywhere(tmp_path: Path) -> None:
    header = (
        "loan_id,obligor_id,original_balance,current_balance,rate,original_term,"
        "remaining_term,branch_code"
    )
    path = tmp_path / "zeros.csv"
    path.write_text(
        f"{header}\n00012,0099,1000,900,0.1,12,10,007\n00013,0100,1000,900,0.1,12,10,010\n"
    )
    frame = load_tape(path)
    assert frame["loan_id"].tolist() == ["00012", "00013"]
    assert frame["obligor_id"].tolist() == ["0099", "0100"]
    assert frame["branch_code"].tolist() == ["007", "010"]  # extra columns too
    out = tmp_path / "out.parquet"
    from absstruct.report.frames import write_frame

    write_frame(frame, out)
    assert load_tape(out)["loan_id"].tolist() == ["00012", "00013"]


def test_xlsx_numbers_as_ids_and_excel_dates(tmp_path: Path) -> None:
    import datetime as dt

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["借据编号", "借款金额", "剩余本金", "年利率", "借款期限", "剩余期数", "放款日期"])
    sheet.append([123456, 1000, 800, 12.5, 12, 9, dt.datetime(2026, 1, 15)])
    sheet.append(["000789", 2000, 2000, "15%", 6, 6, 46157])  # text id, Excel serial date
    path = tmp_path / "cn.xlsx"
    book.save(path)
    frame = load_tape(path, template="cn_consumer")
    assert frame["loan_id"].tolist() == ["123456", "000789"]
    assert frame["rate"].tolist() == pytest.approx([0.125, 0.15])
    assert [str(d)[:10] for d in frame["origination_date"]] == ["2026-01-15", "2026-05-15"]


def test_canonical_frame_layout(tmp_path: Path) -> None:
    frame = load_tape(deals_dir() / "tapes" / "us_auto.csv")
    order = [c for c in frame.columns if c in CANONICAL_ORDER]
    assert order == [c for c in CANONICAL_ORDER if c in order]
    assert all(c.name in frame.columns for c in REQUIRED)
    assert frame["data_source"].eq("synthetic").all()
    assert frame["participation"].eq(1.0).all()  # schema default filled
    assert frame["original_term"].dtype == np.int64


@pytest.mark.parametrize(
    ("name", "template", "loans"),
    [
        ("cn_consumer", "cn_consumer", 2000),
        ("us_auto", "canonical", 1500),
        ("mortgage", "canonical", 500),
    ],
)
def test_bundled_example_tapes_are_clean(name: str, template: str, loans: int) -> None:
    report = read_tape(
        deals_dir() / "tapes" / f"{name}.csv", template=template, cutoff="2026-06-30"
    )
    assert report.ok and report.warning_count == 0, report.problems[:5]
    assert len(report.frame) == loans
    if name == "mortgage":
        assert (report.frame["original_term"] == 360).all()


def test_bundled_tape_is_what_synth_writes(tmp_path: Path, runner) -> None:
    out = tmp_path / "cn.csv"
    result = runner.invoke(
        main,
        [
            "tape",
            "synth",
            "--loans",
            "2000",
            "--profile",
            "cn_consumer",
            "--seed",
            "101",
            "--cutoff",
            "2026-06-30",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    shipped = (deals_dir() / "tapes" / "cn_consumer.csv").read_bytes()
    assert out.read_bytes() == shipped


def test_synth_profiles_match_their_brief() -> None:
    cn = synth_tape(3000, profile="cn_consumer", seed=9)
    assert set(cn["借款期限"]) <= {3, 6, 9, 12, 18, 24}
    assert set(cn["还款方式"]) == {"等额本息", "先息后本"}
    assert cn["借款金额"].between(1000, 50000).all()
    rates = cn["年利率"].str.rstrip("%").astype(float) / 100
    assert rates.between(0.07, 0.24).all()
    assert set(cn["五级分类"]) <= {"正常", "关注", "次级", "可疑", "损失"}
    assert (cn["数据来源"] == "合成数据").all()
    assert synth_tape(5, profile="mortgage", seed=1).equals(
        synth_tape(5, profile="mortgage", seed=1)
    )
    with pytest.raises(TapeError, match="unknown synthetic profile 'boat'"):
        synth_tape(5, profile="boat", seed=1)


def test_check_json_and_subprocess(tmp_path: Path) -> None:
    tape = deals_dir() / "tapes" / "cn_consumer.csv"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "absstruct",
            "tape",
            "check",
            str(tape),
            "-t",
            "cn_consumer",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    payload = json.loads(done.stdout)
    assert payload["loans"] == 2000 and payload["errors"] == 0
    frame = pd.read_csv(tape, dtype={"借据编号": str})
    balance = frame["剩余本金"].sum()
    assert payload["balance"] == pytest.approx(balance)
    wac = (frame["年利率"].str.rstrip("%").astype(float) / 100 * frame["剩余本金"]).sum() / balance
    assert payload["wac"] == pytest.approx(wac)


def test_cli_help_and_usage_errors(runner) -> None:
    for args in (
        ["tape", "-h"],
        ["tape", "check", "-h"],
        ["tape", "convert", "-h"],
        ["tape", "synth", "-h"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code == 0 and "Usage" in result.output
    result = runner.invoke(
        main,
        ["tape", "synth", "--loans", "0", "--profile", "us_auto", "--seed", "1", "-o", "x.csv"],
    )
    assert result.exit_code == 2
    result = runner.invoke(main, ["tape", "check", "x.csv", "--cutoff", "June"])
    assert result.exit_code == 2 and "is not a date like 2024-06-30" in result.output


def test_convert_writes_csv_and_reports_to_stderr(tmp_path: Path, runner) -> None:
    out = tmp_path / "out.csv"
    result = runner.invoke(
        main, ["tape", "convert", str(deals_dir() / "tapes" / "mortgage.csv"), "-o", str(out)]
    )
    assert result.exit_code == 0
    assert "wrote 500 loans" in result.stderr and result.stdout == ""
    assert pd.read_csv(out, dtype=str)["loan_id"].iloc[0] == "MTG0000001"


def test_gbk_detected_when_chinese_appears_only_late(tmp_path: Path) -> None:
    """The first 64 KB are ASCII; the one GBK province comes last."""
    header = "loan_id,original_balance,current_balance,rate,original_term,remaining_term,region\n"
    rows = "".join(f"{i:06d},1000,900,0.1,12,10,CA\n" for i in range(5000))
    path = tmp_path / "late.csv"
    path.write_bytes((header + rows + "999999,1000,900,0.1,12,10,广东\n").encode("gbk"))
    report = read_tape(path)
    assert report.ok and report.encoding == "gb18030"
    assert report.frame["region"].iloc[-1] == "广东" and len(report.frame) == 5001


def test_a_new_export_needs_only_a_template_file(tmp_path: Path, runner) -> None:
    template = tmp_path / "servicer_x.toml"
    template.write_text(
        'name = "servicer_x"\n'
        '[columns.loan_id]\nfrom = ["Loan No"]\n'
        '[columns.original_balance]\nfrom = ["Amount (10k)"]\nscale = 10000\n'
        '[columns.current_balance]\nfrom = ["Outstanding (10k)"]\nscale = 10000\n'
        '[columns.rate]\nfrom = ["Coupon"]\nunit = "percent"\n'
        '[columns.original_term]\nfrom = ["Tenor (years)"]\nunit = "years"\n'
        '[columns.remaining_term]\nderive = "dates"\n'
        '[columns.origination_date]\nfrom = ["Start"]\nformats = ["%d.%m.%Y"]\n'
        '[columns.amortization]\nfrom = ["Type"]\n'
        '[columns.amortization.values]\n"ANN" = "level_pay"\n"LIN" = "equal_principal"\n',
        encoding="utf-8",
    )
    tape = tmp_path / "export.csv"
    tape.write_text(
        "Loan No,Amount (10k),Outstanding (10k),Coupon,Tenor (years),Start,Type,Branch\n"
        "X-01,12.5,10,4.5,5,15.01.2025,ANN,North\nX-02,3,3,5.25,1,01.06.2026,LIN,South\n",
        encoding="utf-8",
    )
    frame = load_tape(tape, template=template, cutoff="2026-06-30")
    assert frame["original_balance"].tolist() == [125_000.0, 30_000.0]
    assert frame["rate"].tolist() == pytest.approx([0.045, 0.0525])
    assert frame["original_term"].tolist() == [60, 12]
    assert frame["remaining_term"].tolist() == [43, 12]  # 17 and 0 months elapsed
    assert frame["amortization"].tolist() == ["level_pay", "equal_principal"]
    assert frame["branch"].tolist() == ["North", "South"]
    result = runner.invoke(
        main, ["tape", "check", str(tape), "--template", str(template), "--cutoff", "2026-06-30"]
    )
    assert result.exit_code == 0 and "template  servicer_x" in result.output
