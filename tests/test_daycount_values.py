"""Year fractions: hand-checked values, vectorized = scalar, QuantLib agreement, bad names."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from absstruct.daycount import DAY_COUNTS, day_count_name, year_fraction
from absstruct.errors import DealError, PricingError

ql = pytest.importorskip("QuantLib")


@pytest.mark.parametrize(
    ("start", "end", "convention", "expected"),
    [
        # 30/360 bond basis: 31st start -> 30; 31st end -> 30 only when start is 30/31.
        ("2024-01-31", "2024-07-31", "30/360", 180 / 360),
        ("2024-01-30", "2024-03-31", "30/360", 60 / 360),
        ("2024-01-29", "2024-03-31", "30/360", 62 / 360),
        ("2024-02-29", "2024-03-31", "30/360", 32 / 360),  # no end-of-February rule
        ("2024-01-15", "2025-01-15", "30/360", 1.0),
        ("2024-01-01", "2024-07-01", "ACT/360", 182 / 360),
        ("2024-01-01", "2025-01-01", "ACT/365F", 366 / 365),
        ("2023-01-01", "2024-01-01", "ACT/365F", 1.0),
        ("2023-07-01", "2024-07-01", "ACT/ACT", 184 / 365 + 182 / 366),
        ("2024-03-01", "2024-03-02", "ACT/ACT", 1 / 366),
        ("2022-12-31", "2025-01-01", "ACT/ACT", 1 / 365 + 2 + 0 / 365),
        ("2024-07-01", "2024-01-01", "ACT/360", -182 / 360),
        ("2024-07-01", "2023-07-01", "ACT/ACT", -(184 / 365 + 182 / 366)),
    ],
)
def test_hand_checked_year_fractions(start: str, end: str, convention: str, expected: float):
    got = year_fraction(start, end, convention)
    assert got == pytest.approx(expected, abs=1e-15), f"expected {expected!r}, got {got!r}"


def _random_dates(seed: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = np.datetime64("2000-01-01")
    start = base + rng.integers(0, 10_000, n).astype("timedelta64[D]")
    end = start + rng.integers(0, 4_000, n).astype("timedelta64[D]")
    # Force month ends (31st, end of February) into the sample: they are where 30/360 bites.
    month_end = (start.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    start = np.where(rng.random(n) < 0.3, month_end, start)
    return start, end


@pytest.mark.parametrize("convention", DAY_COUNTS)
def test_vectorized_equals_scalar_and_quantlib(convention: str) -> None:
    counter = {
        "30/360": ql.Thirty360(ql.Thirty360.BondBasis),
        "ACT/360": ql.Actual360(),
        "ACT/365F": ql.Actual365Fixed(),
        "ACT/ACT": ql.ActualActual(ql.ActualActual.ISDA),
    }[convention]
    start, end = _random_dates(7, 400)
    vector = year_fraction(start, end, convention)
    for a, b, got in zip(start.tolist(), end.tolist(), vector, strict=True):
        scalar = year_fraction(a, b, convention)
        theirs = counter.yearFraction(
            ql.Date(a.day, a.month, a.year), ql.Date(b.day, b.month, b.year)
        )
        assert scalar == got
        assert abs(got - theirs) <= 1e-14, (
            f"{convention} {a} -> {b}: {got!r} vs QuantLib {theirs!r}"
        )


def test_accepts_dates_strings_and_datetime64() -> None:
    a = year_fraction(dt.date(2024, 1, 1), "2024-04-01", "act/360")
    b = year_fraction(np.datetime64("2024-01-01"), dt.datetime(2024, 4, 1, 12), "ACT/360")
    assert a == b == 91 / 360


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [
        ("act/365", "ACT/365F"),
        ("Actual/360", "ACT/360"),
        ("30/360 bond basis", "30/360"),
        ("ACT/ACT ISDA", "ACT/ACT"),
    ],
)
def test_aliases(alias: str, canonical: str) -> None:
    assert day_count_name(alias) == canonical


def test_unknown_day_count_names_field_value_and_allowed() -> None:
    with pytest.raises(
        PricingError,
        match=r"day_count: '30E/360' is not a day count; allowed: "
        r"30/360, ACT/360, ACT/365F, ACT/ACT",
    ):
        year_fraction("2024-01-01", "2024-02-01", "30E/360")
    with pytest.raises(DealError, match=r"tranches\[1\]\.day_count: 'ACT/364'"):
        day_count_name("ACT/364", where="tranches[1].day_count", error=DealError)
