"""Range and consistency rules on the canonical columns, each a numpy mask.

Rule names (used in summaries and ``--json``), all errors unless marked:

- ``negative_balance``, ``non_positive_original_balance``, ``current_exceeds_original``
- ``rate_looks_like_percent`` (1 < rate <= 100: write ``12.5%`` or 0.125, or set
  ``unit = "percent"`` in the template), ``rate_out_of_range`` (outside [0, 1])
- ``non_positive_term``, ``negative_remaining_term``, ``remaining_exceeds_original``
- ``past_maturity`` (warning: no months left but a balance outstanding and not closed out)
- ``maturity_before_origination``, ``duplicate_id``, ``negative_days_past_due``,
  ``participation_out_of_range``, ``negative_fee_rate``, ``no_loans``

Examples
--------
>>> import numpy as np
>>> from absstruct.tape.report import ProblemLog
>>> from absstruct.tape.mapping import Mapped
>>> m = Mapped(n=2, values={"rate": np.array([0.1, 12.0])})
>>> log = ProblemLog(rows=np.array([2, 3]))
>>> validate(m, log=log)
>>> [str(p) for p in log.problems][0][:40]
'row 3, column rate: 12.0 looks like a pe'
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from absstruct.errors import Problem
from absstruct.tape.mapping import Mapped
from absstruct.tape.report import ProblemLog

# Money is compared with half a cent of slack.
_CENT = 0.005


def validate(mapped: Mapped, *, log: ProblemLog) -> None:
    """Check every rule over whole columns; record hits in ``log``."""
    v = mapped.values
    nan = np.broadcast_to(np.nan, mapped.n)  # absent columns: no rule fires, no 8 MB array
    original = v.get("original_balance", nan)
    current = v.get("current_balance", nan)
    shown = mapped.shown

    if mapped.n == 0:
        log.add(
            Problem(
                where="file", value=None, rule="no_loans", message="holds a header but no loan rows"
            )
        )
        return
    with np.errstate(invalid="ignore"):
        log.mask(
            original <= 0,
            column=shown("original_balance"),
            rule="non_positive_original_balance",
            values=original,
            message="original balance must be above 0",
        )
        log.mask(
            current < 0,
            column=shown("current_balance"),
            rule="negative_balance",
            values=current,
            message="current balance is below 0",
        )
        log.mask(
            current > original + _CENT,
            column=shown("current_balance"),
            rule="current_exceeds_original",
            values=current,
            messages=_both("exceeds the original balance", original, current),
        )

        rate = v.get("rate", nan)
        log.mask(
            (rate > 1) & (rate <= 100),
            column=shown("rate"),
            rule="rate_looks_like_percent",
            values=rate,
            message=(
                "looks like a percent; rates are decimals (12.5% is 0.125): "
                'write 12.5% or set unit = "percent" in the template'
            ),
        )
        log.mask(
            (rate < 0) | (rate > 100),
            column=shown("rate"),
            rule="rate_out_of_range",
            values=rate,
            message="is outside the allowed range [0, 1] (decimal per annum)",
        )

        term = v.get("original_term", nan)
        remaining = v.get("remaining_term", nan)
        log.mask(
            term <= 0,
            column=shown("original_term"),
            rule="non_positive_term",
            values=term,
            message="original term must be at least 1 month",
        )
        log.mask(
            remaining < 0,
            column=shown("remaining_term"),
            rule="negative_remaining_term",
            values=remaining,
            message="remaining term is below 0",
        )
        log.mask(
            remaining > term,
            column=shown("remaining_term"),
            rule="remaining_exceeds_original",
            values=remaining,
            messages=_both("exceeds the original term", term, remaining),
        )
        status = v.get("status")
        open_loan = (
            np.ones(mapped.n, dtype=bool)
            if status is None
            else ~status.isin(["paid_off", "defaulted"]).to_numpy()
        )
        log.mask(
            (remaining == 0) & (current > _CENT) & open_loan,
            column=shown("remaining_term"),
            rule="past_maturity",
            values=remaining,
            severity="warning",
            message="no months left but a balance is outstanding",
        )

        dpd = v.get("days_past_due", nan)
        log.mask(
            dpd < 0,
            column=shown("days_past_due"),
            rule="negative_days_past_due",
            values=dpd,
            message="days past due cannot be negative",
        )
        share = v.get("participation", nan)
        log.mask(
            (share <= 0) | (share > 1),
            column=shown("participation"),
            rule="participation_out_of_range",
            values=share,
            message="participation must be in (0, 1]",
        )
        fee = v.get("fee_rate", nan)
        log.mask(
            fee < 0,
            column=shown("fee_rate"),
            rule="negative_fee_rate",
            values=fee,
            message="fee rate cannot be negative",
        )

    origination = v.get("origination_date")
    maturity = v.get("maturity_date")
    if origination is not None and maturity is not None:
        before = ~np.isnat(origination) & ~np.isnat(maturity) & (maturity < origination)
        log.mask(
            before,
            column=shown("maturity_date"),
            rule="maturity_before_origination",
            values=maturity,
            messages=_dates("is before the origination date", origination),
        )

    ids = v.get("loan_id")
    if ids is not None:
        started = mapped.ahead.get("loan_id")
        if started is not None and started[0] is ids:
            repeated, codes = started[1].result()
        else:
            repeated, codes = duplicate_ids(ids)
        if repeated.any():
            first_row = pd.Series(log.rows).groupby(codes).transform("first").to_numpy()
            log.mask(
                repeated,
                column=shown("loan_id"),
                rule="duplicate_id",
                values=ids,
                messages=_LazyText("is a duplicate loan id (first on row {})", first_row),
            )


def duplicate_ids(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Rows repeating an earlier id, and each row's id code (-1 when blank).

    Dictionary-encoding in Arrow is the one hashing pass (it releases the GIL, so it can
    run on a worker thread); a unique column stops there.

    >>> repeated, codes = duplicate_ids(pd.Series(["a", "b", "a", None]))
    >>> repeated.tolist(), codes.tolist()
    ([False, False, True, False], [0, 1, 0, -1])
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    column = pa.array(pd.Series(ids, dtype="str").array)
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if _strictly_monotonic(column):
        # Tapes are usually sorted by id: one comparison pass proves uniqueness without
        # hashing (a tenth of the cost on a million ids).
        return np.zeros(len(ids), dtype=bool), np.zeros(0, dtype=np.int64)
    encoded = pc.dictionary_encode(column)
    if len(encoded.dictionary) == len(ids) - encoded.null_count:
        return np.zeros(len(ids), dtype=bool), np.zeros(0, dtype=np.int64)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    repeated = pd.Series(codes).duplicated(keep="first").to_numpy() & (codes >= 0)
    return repeated, codes


def _strictly_monotonic(column: Any) -> bool:
    """Whether complete text ids strictly rise (or strictly fall), so none can repeat.

    >>> import pyarrow as pa
    >>> _strictly_monotonic(pa.array(["a", "b", "c"])), _strictly_monotonic(pa.array(["b", "b"]))
    (True, False)
    >>> _strictly_monotonic(pa.array(["c", "a"])), _strictly_monotonic(pa.array(["a", None]))
    (True, False)
    """
    import pyarrow.compute as pc

    if column.null_count:
        return False  # comparisons with null are skipped by ``all``, proving nothing
    later, earlier = column[1:], column[:-1]
    return bool(
        pc.all(pc.greater(later, earlier)).as_py() or pc.all(pc.less(later, earlier)).as_py()
    )


class _LazyText:
    """Per-row messages built only for the rows that are listed."""

    def __init__(self, pattern: str, *columns: np.ndarray) -> None:
        self.pattern = pattern
        self.columns = columns

    def __getitem__(self, index: int) -> str:
        return self.pattern.format(*(_fmt(c[index]) for c in self.columns))


def _fmt(value: object) -> str:
    if isinstance(value, np.datetime64):
        return str(value)[:10]
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    item = getattr(value, "item", None)
    return str(item() if callable(item) else value)


def _both(text: str, reference: np.ndarray, _value: np.ndarray) -> _LazyText:
    return _LazyText(text + " ({})", reference)


def _dates(text: str, reference: np.ndarray) -> _LazyText:
    return _LazyText(text + " ({})", reference)
