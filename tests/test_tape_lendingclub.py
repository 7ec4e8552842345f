"""The real LendingClub 2007-2011 tape ingests cleanly and matches pandas computed apart.

The independent figures read the file with plain ``pandas.read_csv`` and apply the
template's documented definitions by hand: original and current balance = funded_amnt
(as of origination), rate = int_rate, terms from ``term``, ids ``LC`` + 6-digit row number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from absstruct.cli import main
from absstruct.tape import load_tape, read_tape


@pytest.fixture(scope="module")
def lendingclub(lendingclub_path):
    return read_tape(lendingclub_path, template="lendingclub"), pd.read_csv(lendingclub_path)


def test_ingests_42535_loans_without_errors(lendingclub) -> None:
    report, _ = lendingclub
    assert len(report.frame) == 42_535
    assert report.error_count == 0, report.problems[:5]
    assert report.warning_count == 0, report.problems[:5]


def test_balances_and_rates_match_pandas(lendingclub) -> None:
    report, raw = lendingclub
    frame = report.frame
    np.testing.assert_allclose(frame["original_balance"], raw["funded_amnt"], rtol=0, atol=0)
    np.testing.assert_allclose(frame["current_balance"], raw["funded_amnt"], rtol=0, atol=1e-9)
    np.testing.assert_allclose(frame["rate"], raw["int_rate"], rtol=0, atol=0)
    summary = report.summary()
    balance = raw["funded_amnt"].sum()
    wac = (raw["int_rate"] * raw["funded_amnt"]).sum() / balance
    wam = (raw["term"] * raw["funded_amnt"]).sum() / balance
    print(
        "expected",
        balance,
        wac,
        wam,
        "calculated",
        summary["balance"],
        summary["wac"],
        summary["wam"],
    )
    assert summary["balance"] == pytest.approx(balance, rel=1e-12)
    assert summary["wac"] == pytest.approx(wac, rel=1e-12)
    assert summary["wam"] == pytest.approx(wam, rel=1e-12)


def test_terms_status_and_ids_follow_the_template(lendingclub) -> None:
    report, raw = lendingclub
    frame = report.frame
    assert (frame["original_term"].to_numpy() == raw["term"].to_numpy()).all()
    assert (frame["remaining_term"] == frame["original_term"]).all()
    assert frame["loan_id"].iloc[0] == "LC000001" and frame["loan_id"].iloc[-1] == "LC042535"
    expected_status = (
        raw["loan_status"]
        .str.replace("Does not meet the credit policy. Status:", "", regex=False)
        .map({"Fully Paid": "paid_off", "Charged Off": "defaulted"})
    )
    assert (frame["status"].to_numpy() == expected_status.to_numpy()).all()
    assert frame["status"].value_counts().to_dict() == {"paid_off": 36_104, "defaulted": 6_431}
    assert (frame["loan_status"] == raw["loan_status"]).all()  # raw text kept as an extra
    assert frame["principal_received"].sum() == pytest.approx(raw["total_rec_prncp"].sum())
    assert str(frame["origination_date"].iloc[0])[:10] == raw["issue_d_dt"].iloc[0]


def test_cutoff_derives_remaining_term_and_scheduled_balance(lendingclub_path) -> None:
    frame = load_tape(lendingclub_path, template="lendingclub", cutoff="2009-12-31")
    raw = pd.read_csv(lendingclub_path, usecols=["issue_d_dt", "term", "funded_amnt", "int_rate"])
    issued = pd.to_datetime(raw["issue_d_dt"])
    age = (2009 - issued.dt.year) * 12 + (12 - issued.dt.month)  # issued on the 1st
    remaining = np.clip(raw["term"] - np.clip(age, 0, None), 0, None)
    assert (frame["remaining_term"].to_numpy() == remaining.to_numpy()).all()
    r = raw["int_rate"] / 12
    n, m = raw["term"], raw["term"] - remaining
    scheduled = raw["funded_amnt"] * (1 - (1 + r) ** -(n - m)) / (1 - (1 + r) ** -n)
    np.testing.assert_allclose(frame["current_balance"], scheduled, rtol=1e-12)


def test_raw_download_style_is_understood(tmp_path, runner) -> None:
    path = tmp_path / "LoanStats3a.csv"
    path.write_text(
        "id,member_id,loan_amnt,funded_amnt,term,int_rate,grade,issue_d,loan_status,addr_state\n"
        '1077501,1296599,5000,5000," 36 months",10.65%,B,Dec-2011,Fully Paid,AZ\n'
        '1077430,1314167,2500,2400," 60 months",15.27%,C,Dec-2011,'
        '"Does not meet the credit policy. Status:Charged Off",GA\n',
        encoding="utf-8",
    )
    frame = load_tape(path, template="lendingclub")
    assert frame["loan_id"].tolist() == ["1077501", "1077430"]
    assert frame["original_term"].tolist() == [36, 60]
    assert frame["rate"].tolist() == pytest.approx([0.1065, 0.1527], abs=1e-15)
    assert frame["original_balance"].tolist() == [5000.0, 2400.0]
    assert frame["status"].tolist() == ["paid_off", "defaulted"]
    assert [str(d)[:10] for d in frame["origination_date"]] == ["2011-12-01", "2011-12-01"]
    result = runner.invoke(main, ["tape", "check", str(path), "-t", "lendingclub"])
    assert result.exit_code == 0, result.output
    assert "loans     2" in result.output
