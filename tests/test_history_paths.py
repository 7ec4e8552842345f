"""Static-pool history: loan paths, validation, curve fitting, assumptions and the back-test."""

from __future__ import annotations

import datetime as dt
import tomllib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absstruct.analytics.backtest import backtest, parse_month
from absstruct.analytics.calibrate import (
    FittedCurves,
    SegmentCurves,
    assumptions_toml,
    extend_curve,
    extrapolate_lifetime,
    fit_curves,
    rebased_tape,
    to_assumptions,
)
from absstruct.analytics.history import (
    HistorySpec,
    check_history,
    level_pay_fraction,
    load_history,
    reconstruct_paths,
    vintage_summary,
    vintage_table,
)
from absstruct.curves import Assumptions, parse_default, parse_prepay, parse_severity
from absstruct.errors import TapeError
from absstruct.projection import project


def tape(**overrides: list) -> pd.DataFrame:
    """Three closed 12-month zero-rate loans of 1,200: paid off early, defaulted, on schedule."""
    data = {
        "loan_id": ["a", "b", "c"],
        "origination_date": pd.to_datetime(["2020-01-01", "2020-01-01", "2020-02-01"]),
        "original_balance": [1200.0, 1200.0, 1200.0],
        "original_term": [12, 12, 12],
        "rate": [0.0, 0.0, 0.0],
        "status": ["paid_off", "defaulted", "paid_off"],
        "last_payment_date": pd.to_datetime(["2020-04-01", "2020-05-01", "2021-02-01"]),
        "principal_received": [1200.0, 400.0, 1200.0],
        "recoveries": [0.0, 200.0, 0.0],
        "recovery_fees": [0.0, 20.0, 0.0],
    }
    data.update(overrides)
    return pd.DataFrame(data)


@pytest.mark.parametrize(
    ("rate", "term", "age", "expected"),
    [
        (0.0, 4, 1, 0.75),
        (0.0, 4, 4, 0.0),
        (0.12, 2, 1, 1.01 / 2.01),  # payment 1.01^2/(2.01) ... balance after one payment
        (0.06, 360, 360, 0.0),
        (0.06, 12, 20, 0.0),  # past maturity
    ],
)
def test_level_pay_fraction(rate: float, term: int, age: int, expected: float) -> None:
    got = level_pay_fraction(np.array([rate]), np.array([term]), np.array([age]))[0, 0]
    assert got == pytest.approx(expected, abs=1e-12), f"expected {expected}, got {got}"


def test_paths_by_hand() -> None:
    history = load_history(tape(), HistorySpec(chargeoff_lag=5))
    p = history.paths
    # a: 100/month for 2 months, then the remaining 1,000 in month 3 (900 beyond schedule).
    assert p.scheduled_principal[0, :4].tolist() == pytest.approx([100.0, 100.0, 100.0, 0.0])
    assert p.prepayments[0, :4].tolist() == pytest.approx([0.0, 0.0, 900.0, 0.0])
    # b: paid 4 instalments, last payment month 4, charged off at 4 + 5 = 9 for 800.
    assert p.defaults[1].tolist() == pytest.approx([0.0] * 8 + [800.0] + [0.0] * 3)
    assert p.start_balance[1, [4, 8]].tolist() == pytest.approx([800.0, 800.0])
    # c: last payment 12 months after origination = on schedule, nothing prepaid.
    assert p.prepayments[2].sum() == 0.0
    assert p.scheduled_principal[2].sum() == pytest.approx(1200.0)
    assert p.observed.sum(axis=1).tolist() == [3, 9, 12]


def test_vintage_table_by_hand() -> None:
    history = load_history(tape(), HistorySpec(chargeoff_lag=5))
    table = vintage_table(history)
    jan = table[table["vintage"] == "2020-01"].set_index("age")
    assert jan.loc[9, "mdr"] == pytest.approx(800.0 / 800.0)  # only loan b left at age 9
    assert jan.loc[9, "cum_gross_default"] == pytest.approx(800.0 / 2400.0)
    assert jan.loc[9, "cum_net_loss"] == pytest.approx((800.0 - 180.0) / 2400.0)
    assert jan.loc[3, "smm"] == pytest.approx(900.0 / (2 * 1000.0 - 100.0 - 100.0))
    assert jan.loc[12, "pool_factor"] == pytest.approx(0.0)
    summary = vintage_summary(history).set_index("vintage")
    assert summary.loc["2020-01", "severity"] == pytest.approx(620.0 / 800.0)
    assert summary.loc["2020-02", "defaults"] == 0.0


def test_quarterly_vintages_and_segments() -> None:
    frame = tape(grade=["A", "B", "A"])
    history = load_history(frame, HistorySpec(vintage="quarter", by="grade"))
    summary = vintage_summary(history)
    assert summary[["segment", "vintage", "loans"]].values.tolist() == [
        ["A", "2020Q1", 2],
        ["B", "2020Q1", 1],
    ]


def test_as_of_censors_later_outcomes() -> None:
    history = load_history(tape(), HistorySpec(as_of=dt.date(2020, 6, 30)))
    assert history.paths.defaults.sum() == 0.0  # loan b charges off in October
    assert history.paths.horizon.tolist() == [3, 5, 4]


@pytest.mark.parametrize(
    ("frame", "match"),
    [
        (tape().drop(columns="status"), r"column status: is missing"),
        (
            tape(last_payment_date=pd.to_datetime(["2019-12-01", "2020-05-01", "2021-02-01"])),
            r"row 2 \(loan a\), column last_payment_date: '2019-12-01' is before the origination",
        ),
        (
            tape(status=["paid_off", "charged off", None]),
            r"row 3 \(loan b\), column status: 'charged off' is not a status code; allowed",
        ),
        (tape(status=["paid_off", "x", None]), r"row 4 \(loan c\), column status: is not a status"),
        (
            tape(principal_received=[1200.0, 400.0, 1300.0]),
            r"row 4 \(loan c\), column principal_received: 1300.0 exceeds the original",
        ),
        (tape(original_term=[12, 0, 12]), r"row 3 \(loan b\), column original_term: 0.0 must be"),
    ],
)
def test_bad_history_raises(frame: pd.DataFrame, match: str) -> None:
    with pytest.raises(TapeError, match=match):
        load_history(frame, HistorySpec())


def test_chargeoff_without_payment_is_a_warning() -> None:
    frame = tape(last_payment_date=pd.to_datetime(["2020-04-01", None, "2021-02-01"]))
    frame["principal_received"] = [1200.0, 0.0, 1200.0]
    history = load_history(frame, HistorySpec(chargeoff_lag=5))
    assert [p.rule for p in history.warnings] == ["chargeoff_without_payment"]
    assert "row 3 (loan b), column last_payment_date" in str(history.warnings[0])
    assert int(np.argmax(history.paths.defaults[1])) + 1 == 5  # origination + 5 months


def test_missing_columns_listed_together() -> None:
    problems = check_history(tape().drop(columns=["rate", "status"]))
    assert [p.where for p in problems] == ["column rate", "column status"]


closed_loans = st.lists(
    st.tuples(
        st.floats(100, 50_000),
        st.floats(0.0, 0.3),
        st.sampled_from([12, 36, 60]),
        st.integers(0, 70),
        st.floats(0, 1),
        st.booleans(),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=60, deadline=None)
@given(closed_loans)
def test_closed_loans_conserve_principal(loans: list[tuple]) -> None:
    b0, rate, term, last, share, defaulted = (np.array(x) for x in zip(*loans, strict=True))
    received = np.where(defaulted, b0 * share, b0)
    last = np.where(defaulted | (last > 0), last, 1)
    paths = reconstruct_paths(
        original_balance=b0,
        rate=rate,
        term=term,
        last_payment_age=last,
        principal_received=received,
        defaulted=defaulted,
        open_loan=np.zeros(len(b0), dtype=bool),
        observed_age=np.full(len(b0), 500),
        chargeoff_lag=5,
        max_age=60,
    )
    total = paths.scheduled_principal.sum(1) + paths.prepayments.sum(1) + paths.defaults.sum(1)
    np.testing.assert_allclose(total, b0, rtol=1e-9)
    assert (paths.start_balance >= -1e-9).all() and (paths.prepayments >= 0).all()
    assert (paths.scheduled_principal >= -1e-9).all()


def test_fitted_lifetime_is_the_engine_projection_by_hand() -> None:
    """Zero-rate 2-month loans, MDR 10% then 10%, no prepayment: SIFMA order by hand."""
    frame = tape(original_term=[2, 2, 2], last_payment_date=pd.to_datetime(["2020-03-01"] * 3))
    frame["status"] = "paid_off"
    frame["principal_received"] = 1200.0
    history = load_history(frame, HistorySpec())
    curves = SegmentCurves(
        segment="all", loans=3, original_balance=3600.0, mdr=(0.1, 0.1), smm=(0, 0), severity=0.5
    )
    flows = project(
        rebased_tape(history), to_assumptions(FittedCurves(by=None, chargeoff_lag=5, pool=curves))
    )
    # Month 1: 360 default before amortization, half of the remaining 3,240 is scheduled.
    # Month 2: 10% of the 1,620 left defaults, the rest is the last instalment.
    assert flows["new_defaults"][0].tolist() == pytest.approx([360.0, 162.0])
    assert flows["actual_amortization"][0].tolist() == pytest.approx([1620.0, 1458.0])
    assert flows["principal_loss"][0].tolist() == pytest.approx([180.0, 81.0])
    fitted = fit_curves(history)
    assert fitted.pool.mdr == (0.0, 0.0)
    assert fitted.pool.lifetime_default_fitted == 0.0


def test_fit_recovers_known_curves() -> None:
    """Loans simulated from a constant hazard give that hazard back (balance-weighted)."""
    rng = np.random.default_rng(7)
    n, term, mdr = 4000, 24, 0.01
    default_age = rng.geometric(mdr, size=n)
    defaulted = default_age <= term
    last = np.where(defaulted, default_age - 3, term)
    frame = pd.DataFrame(
        {
            "loan_id": [str(i) for i in range(n)],
            "origination_date": pd.Timestamp("2018-01-01"),
            "original_balance": 1000.0,
            "original_term": term,
            "rate": 0.0,
            "status": np.where(defaulted, "defaulted", "paid_off"),
            "last_payment_date": pd.Timestamp("2018-01-01")
            + pd.to_timedelta(np.maximum(last, 0) * 31, unit="D"),
            "principal_received": np.where(defaulted, 1000.0 * np.maximum(last, 0) / term, 1000.0),
        }
    )
    frame.loc[frame["status"].eq("defaulted") & (last <= 0), "last_payment_date"] = pd.NaT
    fitted = fit_curves(load_history(frame, HistorySpec(chargeoff_lag=3)))
    observed = np.asarray(fitted.pool.mdr[5:term])  # ages 6..24 (earlier ages need last < 0)
    # Balance weighting favours loans with higher balances (the delinquent ones): within 40%.
    assert abs(np.median(observed) / mdr - 1) < 0.4, observed
    assert fitted.pool.severity == 1.0
    seasoned = vintage_summary(load_history(frame, HistorySpec(chargeoff_lag=3)))
    assert fitted.pool.lifetime_default_observed == pytest.approx(
        seasoned["gross_default_rate"].iloc[0]
    )


def test_extend_curve_and_toml() -> None:
    assert extend_curve((0.1, 0.2), 1).tolist() == [0.1]
    fitted = fit_curves(load_history(tape(grade=["A", "B", "A"]), HistorySpec(by="grade")))
    assumptions = to_assumptions(fitted)
    text = assumptions_toml(assumptions, fitted=fitted)
    parsed = tomllib.loads(text)
    # The file is an assumptions table: it reads back to the very Assumptions projected.
    assert Assumptions.from_mapping(parsed) == assumptions
    assert parsed["segment_by"] == "grade" and parsed["basis"] == "age" and parsed["lag"] == 0
    assert set(parsed["segments"]) == {"A", "B"}
    assert parsed["default"].startswith("MDR [")
    assert parsed["segments"]["B"]["severity"] == "77.5%"  # (800 - 180) / 800
    # The assumptions grammar reads every fitted vector back to the fitted values.
    assert parse_default(parsed["default"]).values == pytest.approx(fitted.pool.mdr, abs=1e-8)
    assert parse_prepay(parsed["prepay"]).values == pytest.approx(fitted.pool.smm, abs=1e-8)
    assert parse_severity(parsed["segments"]["B"]["severity"]).values[0] == pytest.approx(0.775)
    assert "# A: 2 loans; lifetime gross default observed n/a, fitted 0%" in text


def test_assumptions_extend_past_the_maturity_month() -> None:
    curves = SegmentCurves(
        segment="all",
        loans=1,
        original_balance=1.0,
        mdr=(0.01, 0.03, 0.5),
        smm=(0.02,) * 3,
        severity=0.9,
    )
    a = to_assumptions(FittedCurves(by=None, chargeoff_lag=5, pool=curves), width=5)
    assert parse_default(a.default).values == pytest.approx((0.01, 0.03, 0.5, 0.02, 0.02))
    assert a.segment_by is None and a.segments == {}


def test_rebased_tape_refuses_labels_the_engine_would_read_otherwise() -> None:
    # Whole-number terms read as floats label their segment "12", as the engine does.
    history = load_history(tape(original_term=[12.0, 12.0, 12.0]), HistorySpec(by="original_term"))
    assert history.segment.tolist() == ["12", "12", "12"]
    assert rebased_tape(history)["remaining_term"].tolist() == [12, 12, 12]
    bad = load_history(tape().assign(original_term=["12", "12", "12"]), HistorySpec())
    relabelled = type(bad)(
        **{
            **bad.__dict__,
            "segment": np.array(["12.0"] * 3, dtype=object),
            "spec": HistorySpec(by="original_term"),
        }
    )
    with pytest.raises(TapeError, match="column original_term: segment labels differ"):
        rebased_tape(relabelled)


def test_extrapolation_uses_timing_curve() -> None:
    history = load_history(tape(), HistorySpec(chargeoff_lag=5))
    fitted = fit_curves(history)
    young = vintage_summary(history).assign(seasoned=False, months_observed=9)
    young["gross_default_rate"] = 0.1
    out = extrapolate_lifetime(young, fitted)
    # All of the seasoned defaults happen at age 9, so the timing curve is complete by then.
    assert out["lifetime_default_rate"].tolist() == pytest.approx([0.1, 0.1])
    assert out["lifetime_method"].tolist() == ["timing curve", "timing curve"]


def test_backtest_small_tape() -> None:
    result = backtest(tape(), spec=HistorySpec(), train_until=parse_month("2020-01"))
    row = result.errors.iloc[0]
    assert row["vintage"] == "2020-02" and row["actual_principal_collected"] == 1200.0
    # Training pool defaulted 800 of 2,400 at age 9; the projection must show a loss.
    assert row["projected_defaults"] > 0 and row["actual_defaults"] == 0.0
    with pytest.raises(TapeError, match="no loans originated after it"):
        backtest(tape(), spec=HistorySpec(), train_until=parse_month("2020-06"))
    with pytest.raises(Exception, match="not a month like 2009-12"):
        parse_month("Dec 2009")


def test_backtest_equals_a_direct_projection_of_the_rebased_tape() -> None:
    frame = tape(grade=["A", "B", "A"])
    frame = pd.concat(
        [
            frame,
            frame.assign(
                loan_id=["d", "e", "f"],
                grade=["A", "C", "A"],
                original_term=[24, 12, 24],
                origination_date=pd.to_datetime(["2020-03-01"] * 3),
            ),
        ],
        ignore_index=True,
    )
    frame.loc[3:, "last_payment_date"] = pd.to_datetime(["2021-03-01", "2020-07-01", "2022-03-01"])
    result = backtest(frame, spec=HistorySpec(by="grade"), train_until=parse_month("2020-01"))
    later = frame[frame["origination_date"] > "2020-01-31"]
    # Re-based by hand: the loans as new, under the assumptions the back-test reports.
    rebased = later.assign(
        current_balance=later["original_balance"],
        remaining_term=later["original_term"],
        amortization="level_pay",
    )
    direct = project(rebased, result.assumptions)
    engine = {
        "principal_collected": direct["actual_amortization"] + direct["voluntary_prepayments"],
        "defaults": direct["new_defaults"],
        "recoveries": direct["principal_recovery"],
        "net_loss": direct["principal_loss"],
    }
    for metric, values in engine.items():
        got = float(result.totals.set_index("metric").loc[metric, "projected"])
        assert got == pytest.approx(float(values.sum()), rel=1e-12, abs=1e-9), metric
    # Grade C was never in the training vintages: the pool curve, and a warning, stand in.
    assert result.assumptions.segments.keys() == {"A", "B"}
    assert [p.rule for p in result.warnings] == ["segment_not_in_training"]
    # Per group: each (grade, vintage) of 2020-03 alone; C runs on the pool curve.
    errors = result.errors.set_index(["segment", "vintage"])
    for grade, loans in (("A", 2), ("C", 1)):
        one = rebased[(rebased["grade"] == grade) & (rebased["origination_date"] >= "2020-03-01")]
        alone = project(one, result.assumptions)["new_defaults"].sum()
        row = errors.loc[(grade, "2020-03")]
        assert row["loans"] == loans
        assert row["projected_defaults"] == pytest.approx(alone, rel=1e-12, abs=1e-9), grade
    assert errors.loc[("C", "2020-03"), "projected_defaults"] > 0


def test_smm_counts_defaulting_loans_as_the_engine_does() -> None:
    """Age 3: loan a prepays its 900, loan b defaults 900 (charge-off lag 0) from 2,000."""
    frame = tape(
        last_payment_date=pd.to_datetime(["2020-04-01", "2020-04-01", "2021-02-01"]),
        principal_received=[1200.0, 300.0, 1200.0],
    )
    history = load_history(frame, HistorySpec(chargeoff_lag=0))
    jan = vintage_table(history).set_index(["vintage", "age"]).loc["2020-01"]
    # SIFMA: VOL = PERF(i-1) x SCH(i)/SCH(i-1) x SMM = 2,000 x 0.9 x SMM = 900.
    assert jan.loc[3, "mdr"] == pytest.approx(900.0 / 2000.0)
    assert jan.loc[3, "smm"] == pytest.approx(900.0 / (2000.0 * 0.9))
    curves = SegmentCurves(
        segment="all",
        loans=2,
        original_balance=2400.0,
        mdr=(0.0, 0.0, jan.loc[3, "mdr"]),
        smm=(0.0, 0.0, jan.loc[3, "smm"]),
        severity=1.0,
    )
    a = to_assumptions(FittedCurves(by=None, chargeoff_lag=0, pool=curves), width=12)
    jan_loans = rebased_tape(history, history.vintage == "2020-01")
    flows = project(jan_loans, a)
    assert flows["voluntary_prepayments"][0, 2] == pytest.approx(900.0)
    assert flows["new_defaults"][0, 2] == pytest.approx(900.0)
