"""Compounding conventions: discount factors and conversion between quoted rates.

A rate ``y`` compounded ``f`` times a year discounts an amount ``t`` years away by
``(1 + y/f) ** (-f t)``; a continuously compounded rate by ``exp(-y t)``.  Two quotes are
equivalent when they give the same discount factor, which is how :func:`convert_rate` works:
through the continuously compounded rate ``x = f ln(1 + y/f)``.

Examples
--------
The mortgage (monthly) equivalent of a bond-equivalent (semiannual) yield,
``12 ((1 + y/2) ** (1/6) - 1)``:

>>> round(convert_rate(0.06, "semiannual", "monthly"), 10)
0.0592634644
>>> round(12 * ((1 + 0.06 / 2) ** (1 / 6) - 1), 10)
0.0592634644
>>> round(float(discount_factor(0.06, 2.0, "semiannual")), 10) == round(1.03 ** -4, 10)
True
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from absstruct.errors import AbsStructError, PricingError, Problem

COMPOUNDINGS: Final[tuple[str, ...]] = (
    "monthly",
    "quarterly",
    "semiannual",
    "annual",
    "continuous",
)

# Periods per year; 0 marks continuous compounding.
FREQUENCIES: Final[dict[str, int]] = {
    "monthly": 12,
    "quarterly": 4,
    "semiannual": 2,
    "annual": 1,
    "continuous": 0,
}

_ALIASES: Final[dict[str, str]] = {
    "monthly": "monthly",
    "mortgage": "monthly",
    "12": "monthly",
    "quarterly": "quarterly",
    "4": "quarterly",
    "semiannual": "semiannual",
    "semi-annual": "semiannual",
    "semiannually": "semiannual",
    "bey": "semiannual",
    "bond-equivalent": "semiannual",
    "bondequivalent": "semiannual",
    "2": "semiannual",
    "annual": "annual",
    "annually": "annual",
    "effective": "annual",
    "1": "annual",
    "continuous": "continuous",
    "continuously": "continuous",
}


def compounding_name(
    value: object, *, where: str = "compounding", error: type[AbsStructError] = PricingError
) -> str:
    """Return the canonical compounding name, or raise naming the allowed ones.

    Examples
    --------
    >>> compounding_name("BEY")
    'semiannual'
    >>> compounding_name("daily")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    absstruct.errors.PricingError: compounding: 'daily' is not a compounding; allowed: monthly, ...
    """
    key = str(value).strip().lower().replace(" ", "") if isinstance(value, (str, int)) else None
    if key is not None and key in _ALIASES:
        return _ALIASES[key]
    problem = Problem(
        where=where,
        value=value,
        rule="compounding",
        message=f"is not a compounding; allowed: {', '.join(COMPOUNDINGS)}",
    )
    raise error(str(problem), problems=[problem])


def to_continuous(rate: Any, compounding: str) -> Any:
    """The continuously compounded rate equivalent to ``rate`` (NaN when ``rate <= -f``)."""
    f = FREQUENCIES[compounding_name(compounding)]
    rate = np.asarray(rate, dtype=float)
    if f == 0:
        out = rate
    else:
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(rate > -f, f * np.log1p(np.maximum(rate, -f) / f), np.nan)
    return float(out) if out.ndim == 0 else out


def from_continuous(rate: Any, compounding: str) -> Any:
    """The rate in ``compounding`` equivalent to a continuously compounded ``rate``."""
    f = FREQUENCIES[compounding_name(compounding)]
    rate = np.asarray(rate, dtype=float)
    out = rate if f == 0 else f * np.expm1(rate / f)
    return float(out) if out.ndim == 0 else out


def convert_rate(rate: Any, from_compounding: str, to_compounding: str) -> Any:
    """Re-quote ``rate`` from one compounding to another (same discount factor).

    Examples
    --------
    An annual effective rate of 5% is 4.939% bond-equivalent:

    >>> round(convert_rate(0.05, "annual", "semiannual"), 8)
    0.04939015
    """
    return from_continuous(to_continuous(rate, from_compounding), to_compounding)


def discount_factor(rate: Any, times: Any, compounding: str) -> np.ndarray:
    """Discount factors for ``times`` (years) at ``rate``; both broadcast.

    Examples
    --------
    >>> discount_factor(0.05, [0.0, 1.0], "annual").round(6).tolist()
    [1.0, 0.952381]
    """
    x = np.asarray(to_continuous(rate, compounding), dtype=float)
    return np.exp(-x * np.asarray(times, dtype=float))


__all__ = [
    "COMPOUNDINGS",
    "FREQUENCIES",
    "compounding_name",
    "convert_rate",
    "discount_factor",
    "from_continuous",
    "to_continuous",
]
