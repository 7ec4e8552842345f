"""The workbook's wide tables (waterfall steps, scenario grids) equal pandas' pivots."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from absstruct.report.workbook import _first_by_key, _grid_tables, _relabel, _wide_waterfall


def _pivot_waterfall(frame: pd.DataFrame) -> pd.DataFrame:
    """The reference: pandas' pivot of the long ledger, steps in priority order."""
    steps = frame[["priority", "step"]].drop_duplicates().sort_values("priority", kind="stable")
    headers = [f"{int(p)}. {s}" for p, s in zip(steps["priority"], steps["step"], strict=True)]
    keyed = frame.assign(
        _col=[f"{int(p)}. {s}" for p, s in zip(frame["priority"], frame["step"], strict=True)]
    )
    wide = keyed.pivot_table(
        index=["period", "date"], columns="_col", values="paid", aggfunc="sum", sort=False
    )
    wide = wide.reindex(columns=headers).reset_index()
    wide.columns.name = None
    return wide.sort_values("period", kind="stable").reset_index(drop=True)


def _ledger(n_periods: int, steps: list[str], paid: list[float]) -> pd.DataFrame:
    dates = pd.date_range("2026-07-25", periods=n_periods, freq="MS") + pd.Timedelta(days=24)
    n = len(steps)
    return pd.DataFrame(
        {
            "period": np.repeat(np.arange(1, n_periods + 1), n),
            "date": np.repeat(dates, n),
            "priority": np.tile(np.arange(1, n + 1), n_periods),
            "step": pd.Series(np.tile(steps, n_periods), dtype="str"),
            "paid": np.resize(np.asarray(paid, dtype=float), n_periods * n),
        }
    )


amounts = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False) | st.just(float("nan"))


@settings(max_examples=40, deadline=None)
@given(
    n_periods=st.integers(1, 12),
    steps=st.lists(
        st.sampled_from(["Servicing", "A interest", "B principal", "优先A档"]),
        min_size=1,
        max_size=4,
    ),
    paid=st.lists(amounts, min_size=1, max_size=30),
    drop=st.lists(st.integers(0, 47), max_size=6),
    shuffle=st.randoms(use_true_random=False),
)
def test_wide_waterfall_equals_the_pivot(
    n_periods: int, steps: list[str], paid: list[float], drop: list[int], shuffle
) -> None:
    frame = _ledger(n_periods, steps, paid)
    # Missing payments and rows out of order are placed like the pivot places them.
    frame = frame.drop(index=[i for i in set(drop) if i < len(frame) - 1])
    order = list(range(len(frame)))
    shuffle.shuffle(order)
    frame = frame.iloc[order].reset_index(drop=True)
    pd.testing.assert_frame_equal(_wide_waterfall(frame), _pivot_waterfall(frame))


@pytest.mark.parametrize(
    "change",
    ["repeated step", "missing date", "one period on two dates", "integer payments"],
)
def test_wide_waterfall_irregular_ledgers_equal_the_pivot(change: str) -> None:
    frame = _ledger(3, ["Fee", "A interest"], [1.0, 2.5, 0.1, 0.2, 3.0, np.nan])
    if change == "repeated step":
        frame = pd.concat([frame, frame.iloc[[1]].assign(paid=0.3)], ignore_index=True)
    elif change == "missing date":
        frame.loc[2, "date"] = pd.NaT
    elif change == "one period on two dates":
        frame.loc[[4, 5], "date"] = pd.Timestamp("2030-01-01")
        frame.loc[[2, 3], "date"] = pd.Timestamp("2031-01-01")
        frame.loc[[2, 3], "period"] = 3
    else:
        frame["paid"] = np.arange(len(frame))
    pd.testing.assert_frame_equal(_wide_waterfall(frame), _pivot_waterfall(frame))


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(["base", "stress", "CPR 6%", None]),
            st.sampled_from(["A", "B", "C", None]),
            amounts,
        ),
        min_size=1,
        max_size=25,
    )
)
def test_first_by_key_equals_the_first_value_pivot(rows: list[tuple]) -> None:
    grid = pd.DataFrame(rows, columns=["scenario", "tranche", "yield"])
    grid["yield"] = grid["yield"].astype(float)
    scenarios = [s for s in dict.fromkeys(grid["scenario"]) if isinstance(s, str)]
    tranches = ["C", "A", "B"]
    expected = (
        grid.pivot_table(
            index="scenario", columns="tranche", values="yield", aggfunc="first", sort=False
        )
        .reindex(index=scenarios, columns=tranches)
        .to_numpy(dtype=float)
    )
    got = _first_by_key(grid, "yield", scenarios, tranches)
    np.testing.assert_array_equal(got, expected)


def test_grid_tables_by_hand() -> None:
    grid = pd.DataFrame(
        {
            "scenario": ["base", "base", "stress", "stress", "base"],
            "tranche": ["Senior A", "Sub", "Senior A", "Sub", "Senior A"],
            "yield": [0.05, np.nan, 0.045, 0.02, 0.99],
            "wal": [3.1, 5.0, 3.4, 6.0, 9.9],
        }
    )
    tables = {t.name: t.frame for t in _grid_tables(grid, ["Sub", "Senior A"], "en")}
    assert list(tables) == ["grid_yield", "grid_wal"]
    assert tables["grid_yield"].columns.tolist() == ["No.", "Scenario", "Sub", "Senior A"]
    # First non-missing value per pair; the repeated base / Senior A row is ignored.
    assert tables["grid_yield"].to_numpy().tolist() == [
        [1, "base", pytest.approx(np.nan, nan_ok=True), 0.05],
        [2, "stress", 0.02, 0.045],
    ]
    assert tables["grid_wal"]["Senior A"].tolist() == [3.1, 3.4]


def test_relabel_maps_each_value_including_missing() -> None:
    series = pd.Series(["A", None, "A", "B"], dtype=object)
    assert _relabel(series, lambda v: f"<{v}>") == ["<A>", "<None>", "<A>", "<B>"]
    flags = pd.Series([True, False, True])
    assert _relabel(flags, lambda v: "yes" if v else "no") == ["yes", "no", "yes"]
    dates = pd.Series([dt.date(2025, 1, 1)] * 2)
    assert _relabel(dates, str) == ["2025-01-01", "2025-01-01"]
