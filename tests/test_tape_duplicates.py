"""Duplicate loan ids: the sorted-ids shortcut must agree with counting every id."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from absstruct.tape.validate import duplicate_ids

ids = st.lists(st.one_of(st.none(), st.text(alphabet="AB0 é", max_size=3)), max_size=30)


def _expected(values: list[str | None]) -> list[bool]:
    seen: set[str] = set()
    repeated = []
    for value in values:
        repeated.append(value is not None and value in seen)
        if value is not None:
            seen.add(value)
    return repeated


@given(values=ids, order=st.sampled_from(["as_given", "ascending", "descending"]))
def test_repeated_rows_match_a_plain_count(values: list[str | None], order: str) -> None:
    if order != "as_given":
        values = sorted(values, key=lambda v: (v is not None, v), reverse=order == "descending")
    repeated, _ = duplicate_ids(pd.Series(values, dtype="str"))
    assert repeated.tolist() == _expected(values), f"ids {values!r}"


@pytest.mark.parametrize(
    ("values", "repeated"),
    [
        (["a", "b", "c"], [False, False, False]),  # rising: unique without hashing
        (["c", "b", "a"], [False, False, False]),  # falling: unique without hashing
        (["a", "b", "b"], [False, False, True]),  # sorted but repeating
        (["b", "a", "b"], [False, False, True]),  # unsorted
        (["a", None, "b", None], [False, False, False, False]),  # blanks never repeat
    ],
)
def test_repeated_rows(values: list[str | None], repeated: list[bool]) -> None:
    assert duplicate_ids(pd.Series(values, dtype="str"))[0].tolist() == repeated
