"""Pricing options shared by ``run`` and ``grid``: ``--price``, ``--yield``, ``--spread``.

``pricing_options`` adds the options to a click command; ``quotes_from_options`` turns their
text into :class:`~absstruct.analytics.metrics.Quotes`; ``echo_metrics`` prints the per
tranche table (price, yield, spreads, WAL, window, durations, loss, shortfall, residual IRR).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pandas as pd

PRICING_KEYS = ("price_text", "yield_text", "spread_text", "curve", "settle")


def pricing_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--price/--yield/--spread/--curve/--settle`` (their values reach the command as
    ``price_text, yield_text, spread_text, curve, settle``)."""
    for option in reversed(
        [
            click.option(
                "--price",
                "price_text",
                metavar="T=P,...",
                help="Clean prices per 100: A=99.5,B=98.",
            ),
            click.option(
                "--yield", "yield_text", metavar="T=Y,...", help="Yields (bond-equivalent): A=3.1%."
            ),
            click.option(
                "--spread",
                "spread_text",
                metavar="T=S,...",
                help="Spreads over --curve: A=120bp (Z-spread on a zero curve, I-spread on a "
                "term curve).",
            ),
            click.option(
                "--curve",
                type=click.Path(dir_okay=False, path_type=Path),
                help="Rate curve (.csv tenor,rate or .toml) for spreads.",
            ),
            click.option("--settle", help="Settlement date (default: the deal's closing date)."),
        ]
    ):
        command = option(command)
    return command


def quotes_from_options(
    price_text: str | None,
    yield_text: str | None,
    spread_text: str | None,
    curve: Path | None,
) -> Any:
    """The :class:`Quotes` the options describe (curve read and validated here)."""
    from absstruct.analytics.metrics import Quotes
    from absstruct.quotes import parse_price_map, parse_spread_map, parse_yield_map
    from absstruct.ratecurve import read_curve

    # ``is not None``: an option given as "" is a mistake to report, not an absent option.
    return Quotes(
        prices=parse_price_map(price_text) if price_text is not None else {},
        yields=parse_yield_map(yield_text) if yield_text is not None else {},
        spreads=parse_spread_map(spread_text) if spread_text is not None else {},
        curve=read_curve(curve) if curve is not None else None,
    )


def settlement_option(settle: str | None) -> dt.date | None:
    """Parse ``--settle``."""
    from absstruct.cli._common import parse_date_option

    return parse_date_option(settle, option="--settle")


def plain(value: Any) -> Any:
    """A JSON-ready scalar: NaN -> None, dates -> ISO text, numpy scalars -> Python."""
    item = getattr(value, "item", None)
    if callable(item) and not isinstance(value, (dt.date, str)):
        value = item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if value is pd.NaT or value is None:
        return None
    return value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame rows as JSON-ready dicts."""
    return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict(orient="records")]


def _fmt(value: Any, kind: str) -> str:
    value = plain(value)
    if value is None:
        return "-"
    if kind == "pct":
        return f"{value * 100:.4f}%"
    if kind == "bp":
        return f"{value * 10_000:.1f}"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "num":
        return f"{value:.4f}"
    return str(value)


_SHOWN = (
    ("tranche", "tranche", "text"),
    ("price", "price", "num"),
    ("yield", "yield", "pct"),
    ("wal", "wal", "num"),
    ("mod_dur", "modified_duration", "num"),
    ("convexity", "convexity", "num"),
    ("i_spr_bp", "i_spread", "bp"),
    ("z_spr_bp", "z_spread", "bp"),
    ("first_prin", "first_principal_date", "text"),
    ("last_prin", "last_principal_date", "text"),
    ("final", "expected_final_date", "text"),
    ("loss", "principal_loss_pct", "pct"),
    ("int_short", "max_interest_shortfall", "money"),
    ("irr", "residual_irr", "pct"),
    ("multiple", "residual_multiple", "num"),
)


def echo_metrics(table: pd.DataFrame) -> None:
    """Print the metrics table per scenario, with the conventions used."""
    for scenario, rows in table.groupby("scenario", sort=False):
        shown = pd.DataFrame(
            {label: [_fmt(v, kind) for v in rows[column]] for label, column, kind in _SHOWN}
        )
        click.echo(f"pricing — scenario {scenario}")
        click.echo(shown.to_string(index=False))
    first = table.iloc[0]
    notes = [f"yields {first['convention']}", "WAL and durations in years"]
    if first["spread_compounding"]:
        notes.append(f"spreads in bp, curve {first['spread_compounding']}")
    residual = table.loc[table["residual_irr_convention"] != "", "residual_irr_convention"]
    if len(residual):
        notes.append(f"residual IRR {residual.iloc[0]}")
    click.echo("conventions: " + "; ".join(notes))


def pricing_request(pricing: dict[str, Any]) -> tuple[Any, dt.date | None] | None:
    """Parse ``run``'s pricing options into (quotes, settlement), or None when none was given.

    Parsing happens before the engine runs, so a bad quote costs no projection.
    """
    # A given-but-empty option (--price "") counts as given, so that its parser refuses it.
    if all(pricing.get(key) is None for key in PRICING_KEYS):
        return None
    quotes = quotes_from_options(
        pricing.get("price_text"),
        pricing.get("yield_text"),
        pricing.get("spread_text"),
        pricing.get("curve"),
    )
    return quotes, settlement_option(pricing.get("settle"))


def pricing_table(
    result: Any, deal: Any, request: tuple[Any, dt.date | None] | None
) -> pd.DataFrame | None:
    """The metrics table for a parsed pricing request (None when there is none)."""
    if request is None:
        return None
    from absstruct.analytics.metrics import tranche_metrics

    quotes, settlement = request
    return tranche_metrics(result, deal, settlement=settlement, quotes=quotes)
