"""Scheduled balance of a loan after some payments (a pure numpy kernel).

Used by templates that derive the current balance from the amortization schedule
(``derive = "schedule"``).  Formulas follow the market conventions: level pay
``(1 - (1+r)^-(n-m)) / (1 - (1+r)^-n)`` with ``r`` = annual rate / 12, straight line at
zero rate; equal principal and flat-fee ``1 - m/n``; interest-only and balloon loans keep
their full balance until maturity (the balloon's longer amortization schedule is not on a
tape, so its balance before maturity is taken as the original balance).

Examples
--------
>>> import numpy as np
>>> f = scheduled_balance_fraction(rate=np.array([0.12, 0.0, 0.12]),
...     original_term=np.array([12.0, 12.0, 12.0]), age=np.array([6.0, 6.0, 6.0]),
...     amortization=np.array(["level_pay", "level_pay", "equal_principal"], dtype=object))
>>> f.round(6).tolist()
[0.514921, 0.5, 0.5]
"""

from __future__ import annotations

import numpy as np


def scheduled_balance_fraction(
    *, rate: np.ndarray, original_term: np.ndarray, age: np.ndarray, amortization: np.ndarray
) -> np.ndarray:
    """Scheduled balance / original balance after ``age`` monthly payments of ``original_term``.

    Ages are clipped to ``[0, original_term]``; missing inputs give NaN.
    """
    n = np.asarray(original_term, dtype="float64")
    m = np.clip(np.asarray(age, dtype="float64"), 0, None)
    m = np.minimum(m, n)
    r = np.asarray(rate, dtype="float64") / 12.0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        straight = 1.0 - m / n
        growth = np.power(1.0 + r, -n)
        level = (1.0 - np.power(1.0 + r, -(n - m))) / (1.0 - growth)
    level = np.where(np.abs(r) < 1e-12, straight, level)
    kind = np.asarray(amortization, dtype=object)
    fraction = np.where(
        kind == "level_pay",
        level,
        np.where((kind == "equal_principal") | (kind == "flat_fee"), straight, 1.0),
    )
    fraction = np.where(m >= n, 0.0, fraction)
    invalid = ~np.isfinite(n) | ~np.isfinite(m) | (n <= 0) | ~np.isfinite(r)
    return np.where(invalid, np.nan, fraction)
