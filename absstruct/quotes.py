"""Per-tranche quotes given on the command line: ``A=99.5,B=98``, ``A=3.1%``, ``A=120bp``.

Parsed only at the edge (CLI options); the library takes decimals.  Every bad item is
reported at once, naming the option and the item, as a :class:`PricingError`.

Examples
--------
>>> parse_price_map("A=99.5, B=98-16")
{'A': 99.5, 'B': 98.5}
>>> parse_yield_map("A=3.1%,B=450bp")
{'A': 0.031, 'B': 0.045}
>>> parse_spread_map("A=120bp")
{'A': 0.012}
>>> parse_price_map("A=99.5,B=cheap")
Traceback (most recent call last):
...
absstruct.errors.PricingError: --price: 1 problem
  item 2: 'B=cheap' price 'cheap' is not a number like 99.5 or 99-16 (32nds)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from absstruct.errors import PricingError, Problem

_THIRTY_SECONDS = re.compile(r"^(\d+)-(\d{1,2})(\+?)$")


def parse_price(text: str) -> float:
    """Clean price per 100 from ``"99.5"`` or 32nds ``"99-16"``, ``"99-16+"`` (or ValueError)."""
    match = _THIRTY_SECONDS.match(text)
    if match:
        ticks = int(match.group(2)) + (0.5 if match.group(3) else 0.0)
        if ticks >= 32:
            raise ValueError(f"price {text!r} has {match.group(2)} 32nds; at most 31")
        value = int(match.group(1)) + ticks / 32
    else:
        try:
            value = float(text)
        except ValueError:
            raise ValueError(f"price {text!r} is not a number like 99.5 or 99-16 (32nds)") from None
    if not value > 0 or value != value or value == float("inf"):
        raise ValueError(f"price {text!r} must be above 0")
    return value


def parse_quoted_rate(text: str, *, what: str) -> float:
    """A decimal from ``"3.1%"`` or ``"310bp"``; a bare number is refused (ValueError)."""
    raw = text.lower().replace(" ", "")
    try:
        if raw.endswith("%"):
            value = float(raw[:-1]) / 100
        elif raw.endswith("bp"):
            value = float(raw[:-2]) / 10_000
        else:
            raise ValueError
    except ValueError:
        raise ValueError(f"{what} {text!r} needs a unit: like 3.1% or 310bp") from None
    if value != value or abs(value) == float("inf"):
        raise ValueError(f"{what} {text!r} is not finite")
    return round(value, 12)


def _parse_map(
    text: str, option: str, parse: Callable[[str], float], *, example: str
) -> dict[str, float]:
    items = [item.strip() for item in str(text).split(",")]
    problems: list[Problem] = []
    result: dict[str, float] = {}
    if not any(items):
        # An option given with no quote would otherwise price nothing and exit 0.
        raise PricingError(f"{option}: empty; give TRANCHE=VALUE items such as {example}")
    for number, item in enumerate(items, start=1):
        where = f"item {number}"
        name, sep, value = item.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name or not value:
            problems.append(
                Problem(where=where, value=item, message=f"is not TRANCHE=VALUE (like {example})")
            )
            continue
        if name in result:
            problems.append(Problem(where=where, value=item, message=f"repeats tranche {name!r}"))
            continue
        try:
            result[name] = parse(value)
        except ValueError as error:
            problems.append(Problem(where=where, value=item, message=str(error)))
    if problems:
        raise PricingError.from_problems(problems, source=option)
    return result


def parse_price_map(text: str, *, option: str = "--price") -> dict[str, float]:
    """``"A=99.5,B=98"`` -> ``{"A": 99.5, "B": 98.0}`` (clean price per 100; 32nds ok)."""
    return _parse_map(text, option, parse_price, example="A=99.5")


def parse_yield_map(text: str, *, option: str = "--yield") -> dict[str, float]:
    """``"A=3.1%"`` -> ``{"A": 0.031}``; a unit (% or bp) is required."""
    return _parse_map(text, option, lambda v: parse_quoted_rate(v, what="yield"), example="A=3.1%")


def parse_spread_map(text: str, *, option: str = "--spread") -> dict[str, float]:
    """``"A=120bp"`` -> ``{"A": 0.012}``; a unit (bp or %) is required."""
    return _parse_map(
        text, option, lambda v: parse_quoted_rate(v, what="spread"), example="A=120bp"
    )


def check_tranches(quotes: dict[str, float], known: Iterable[str], *, option: str) -> None:
    """Raise naming every quoted tranche that the deal does not have.

    Examples
    --------
    >>> check_tranches({"A": 99.0, "Z": 98.0}, ["A", "B"], option="--price")
    Traceback (most recent call last):
    ...
    absstruct.errors.PricingError: --price: unknown tranche 'Z'; the deal has A, B
    """
    names = list(known)
    unknown = [name for name in quotes if name not in names]
    if unknown:
        listed = ", ".join(repr(n) for n in unknown)
        noun = "tranche" if len(unknown) == 1 else "tranches"
        raise PricingError(f"{option}: unknown {noun} {listed}; the deal has {', '.join(names)}")


__all__ = [
    "check_tranches",
    "parse_price",
    "parse_price_map",
    "parse_quoted_rate",
    "parse_spread_map",
    "parse_yield_map",
]
