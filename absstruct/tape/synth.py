"""Seeded synthetic loan tapes for demos, tests and benchmarks, shaped like real exports.

Every synthetic tape says so in a column of its own: ``data_source = "synthetic"``
(``数据来源 = "合成数据"`` for the Chinese profile); the templates keep it as an extra
column, so the mark survives conversion.

Profiles
--------
``cn_consumer``
    Chinese headers and codes (the ``cn_consumer`` template maps them): 3-24 month terms,
    等额本息 and 先息后本 mixed, 1,000-50,000 CNY, APR 7%-24% written as ``"12.50%"``,
    provinces, 五级分类 from days past due, dates ``2026/01/15``, ids with leading zeros.
``us_auto``
    Canonical headers: 36-72 month level-pay auto loans, FICO scores, US states.
``mortgage``
    Canonical headers: 360-month level-pay mortgages.

Examples
--------
>>> frame = synth_tape(3, profile="us_auto", seed=1)
>>> list(frame.columns[:3]), frame["data_source"].unique().tolist()
(['loan_id', 'obligor_id', 'origination_date'], ['synthetic'])
>>> synth_tape(2, profile="cn_consumer", seed=1).columns[0]
'借据编号'
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from absstruct.errors import TapeError
from absstruct.tape.parse import add_months
from absstruct.tape.schedule import scheduled_balance_fraction

PROFILES: tuple[str, ...] = ("cn_consumer", "us_auto", "mortgage")
DEFAULT_CUTOFF = dt.date(2026, 6, 30)

_PROVINCES = (
    "广东",
    "江苏",
    "浙江",
    "山东",
    "河南",
    "四川",
    "湖北",
    "湖南",
    "河北",
    "福建",
    "上海",
    "北京",
    "安徽",
    "辽宁",
    "陕西",
    "江西",
    "重庆",
    "广西",
    "云南",
    "山西",
)
_STATES = (
    "CA",
    "TX",
    "FL",
    "NY",
    "PA",
    "IL",
    "OH",
    "GA",
    "NC",
    "MI",
    "NJ",
    "VA",
    "WA",
    "AZ",
    "MA",
    "TN",
    "IN",
    "MO",
    "MD",
    "CO",
)


def synth_tape(
    n_loans: int, *, profile: str, seed: int, cutoff: dt.date | str = DEFAULT_CUTOFF
) -> pd.DataFrame:
    """A seeded synthetic tape of ``n_loans`` loans as the export of ``profile`` would look."""
    if profile not in PROFILES:
        raise TapeError(
            f"unknown synthetic profile {profile!r}; choose one of {', '.join(PROFILES)}"
        )
    if n_loans < 1:
        raise TapeError(f"n_loans: {n_loans} is below 1")
    at = dt.date.fromisoformat(cutoff) if isinstance(cutoff, str) else cutoff
    rng = np.random.default_rng(seed)
    if profile == "cn_consumer":
        return _cn_consumer(n_loans, rng, at)
    if profile == "us_auto":
        return _canonical(n_loans, rng, at, kind="auto")
    return _canonical(n_loans, rng, at, kind="mortgage")


def _dates(n: int, rng: np.random.Generator, at: dt.date, age: np.ndarray) -> np.ndarray:
    """Origination dates ``age`` whole months before the cut-off, on a random day 1-28."""
    first = np.datetime64(at.replace(day=1), "M")
    months = first - age.astype("int64").astype("timedelta64[M]")
    day = rng.integers(0, 28, n).astype("timedelta64[D]")
    origination = months.astype("datetime64[D]") + day
    # A loan funded later in the month than the cut-off day has one payment fewer.
    return origination.astype("datetime64[ns]")


def _remaining(original_term: np.ndarray, origination: np.ndarray, at: dt.date) -> np.ndarray:
    from absstruct.tape.parse import months_between

    cut = np.full(len(origination), np.datetime64(at, "D")).astype("datetime64[ns]")
    age = np.clip(months_between(origination, cut), 0, None)
    return (original_term - age).astype("int64")


def _cn_consumer(n: int, rng: np.random.Generator, at: dt.date) -> pd.DataFrame:
    term = rng.choice(np.array([3, 6, 9, 12, 18, 24]), n, p=[0.1, 0.2, 0.1, 0.35, 0.1, 0.15])
    age = np.floor(rng.random(n) * term).astype("int64")
    origination = _dates(n, rng, at, age)
    remaining = _remaining(term, origination, at)
    interest_only = rng.random(n) < 0.25
    amortization = np.where(interest_only, "interest_only", "level_pay").astype(object)
    original = np.round(rng.uniform(1_000, 50_000, n), -2)
    apr = np.round(rng.uniform(0.07, 0.24, n), 4)
    fraction = scheduled_balance_fraction(
        rate=apr,
        original_term=term.astype(float),
        age=(term - remaining).astype(float),
        amortization=amortization,
    )
    current = np.round(original * fraction, 2)
    dpd = np.where(rng.random(n) < 0.9, 0, rng.integers(1, 200, n))
    grade = np.select([dpd == 0, dpd <= 90, dpd <= 180], ["正常", "关注", "次级"], "可疑")
    width = 10
    loan_no = pd.Series(np.arange(1, n + 1) + rng.integers(0, 1000)).astype("str").str.zfill(width)
    customer = pd.Series(rng.integers(1, 10**8, n)).astype("str").str.zfill(8)
    maturity = add_months(origination, term.astype(float))
    return pd.DataFrame(
        {
            "借据编号": loan_no.to_numpy(),
            "客户编号": ("C" + customer).to_numpy(),
            "借款金额": original,
            "剩余本金": current,
            "年利率": [f"{v:.2%}" for v in apr],
            "借款期限": term,
            "剩余期数": remaining,
            "还款方式": np.where(interest_only, "先息后本", "等额本息"),
            "放款日期": pd.Series(origination).dt.strftime("%Y/%m/%d").to_numpy(),
            "到期日期": pd.Series(maturity).dt.strftime("%Y/%m/%d").to_numpy(),
            "逾期天数": dpd,
            "省份": rng.choice(np.array(_PROVINCES), n),
            "五级分类": grade,
            "数据来源": "合成数据",
        }
    )


def _canonical(n: int, rng: np.random.Generator, at: dt.date, *, kind: str) -> pd.DataFrame:
    if kind == "auto":
        term = rng.choice(np.array([36, 48, 60, 72]), n, p=[0.15, 0.25, 0.35, 0.25])
        original = np.round(rng.uniform(10_000, 60_000, n), 2)
        score = np.clip(np.round(rng.normal(700, 60, n)), 500, 850)
        rate = np.round(np.clip(0.30 - score * 0.0003 + rng.normal(0, 0.01, n), 0.019, 0.25), 4)
        product = rng.choice(np.array(["new_vehicle", "used_vehicle"]), n, p=[0.45, 0.55])
        prefix = "AUTO"
    else:
        term = np.full(n, 360)
        original = np.round(rng.uniform(100_000, 800_000, n), -3)
        score = np.clip(np.round(rng.normal(740, 45, n)), 600, 850)
        rate = np.round(rng.uniform(0.03, 0.075, n), 4)
        product = rng.choice(np.array(["purchase", "refinance"]), n, p=[0.6, 0.4])
        prefix = "MTG"
    age = np.floor(rng.random(n) * np.minimum(term, 36)).astype("int64")
    origination = _dates(n, rng, at, age)
    remaining = _remaining(term, origination, at)
    amortization = np.full(n, "level_pay", dtype=object)
    fraction = scheduled_balance_fraction(
        rate=rate,
        original_term=term.astype(float),
        age=(term - remaining).astype(float),
        amortization=amortization,
    )
    dpd = np.where(rng.random(n) < 0.95, 0, rng.choice(np.array([15, 45, 75, 105]), n))
    grade = np.select([score >= 720, score >= 660, score >= 600], ["A", "B", "C"], "D")
    ids = pd.Series(np.arange(1, n + 1)).astype("str").str.zfill(7)
    return pd.DataFrame(
        {
            "loan_id": (prefix + ids).to_numpy(),
            "obligor_id": (
                "B" + pd.Series(rng.integers(1, 10**7, n)).astype("str").str.zfill(7)
            ).to_numpy(),
            "origination_date": pd.Series(origination).dt.strftime("%Y-%m-%d").to_numpy(),
            "maturity_date": pd.Series(add_months(origination, term.astype(float)))
            .dt.strftime("%Y-%m-%d")
            .to_numpy(),
            "original_balance": original,
            "current_balance": np.round(original * fraction, 2),
            "rate": rate,
            "original_term": term,
            "remaining_term": remaining,
            "amortization": amortization,
            "payment_frequency": "monthly",
            "days_past_due": dpd,
            "status": np.where(dpd > 0, "delinquent", "current"),
            "region": rng.choice(np.array(_STATES), n),
            "credit_score": score.astype("int64"),
            "grade": grade,
            "product": product,
            "data_source": "synthetic",
        }
    )
