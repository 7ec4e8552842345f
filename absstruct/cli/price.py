"""``absstruct price``: price one set of dated cash flows (a tranche's, or any note's).

Reads a cash-flow file with columns ``date, interest, principal`` (.csv, .parquet or .xlsx),
solves price from yield or yield from price (or prices at a Z-spread / I-spread over a curve)
and prints price, yield, accrued, WAL, durations, convexity and spreads with the convention
used.  ``--json`` prints the record as JSON; ``-o FILE`` writes it as a one-row table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd

from absstruct.cli._common import echo_json, parse_date_option
from absstruct.compounding import COMPOUNDINGS
from absstruct.daycount import DAY_COUNTS
from absstruct.errors import PricingError
from absstruct.pricing import (
    Accrual,
    CashFlows,
    Convention,
    PriceResult,
    price_from_yield,
    principal_window,
    yield_from_price,
)
from absstruct.quotes import parse_price, parse_quoted_rate
from absstruct.ratecurve import read_curve
from absstruct.spreads import i_spread, price_from_i_spread, price_from_z_spread, z_spread


def read_flows(path: Path) -> CashFlows:
    """Read a cash-flow table (date, interest, principal) by file extension."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".xlsx":
            frame = pd.read_excel(path)
        else:
            raise PricingError(f"{path.name}: cash flows must be .csv, .parquet or .xlsx")
    except (ValueError, OSError, pd.errors.ParserError) as error:
        if isinstance(error, FileNotFoundError):
            raise
        raise PricingError(f"{path.name}: cannot read cash flows: {error}") from None
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    try:
        return CashFlows.from_frame(frame)
    except PricingError as error:
        raise PricingError(f"{path.name}: {error}", problems=error.problems) from None


def _parse(value: str, parse: Any, option: str) -> float:
    try:
        return float(parse(value))
    except ValueError as error:
        raise PricingError(f"{option}: {error}") from None


@click.command(name="price")
@click.argument("flows", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--settle", "settle", required=True, help="Settlement date, e.g. 2024-06-30.")
@click.option("--price", "price_text", help="Clean price per 100 of face (99.5 or 99-16).")
@click.option("--yield", "yield_text", help="Yield with a unit (5.2% or 520bp).")
@click.option("--z-spread", "z_text", help="Z-spread over --curve with a unit (120bp).")
@click.option("--i-spread", "i_text", help="I-spread over --curve at the WAL (120bp).")
@click.option(
    "--curve", type=click.Path(dir_okay=False, path_type=Path), help="Rate curve .csv/.toml."
)
@click.option(
    "--curve-compounding",
    type=click.Choice(COMPOUNDINGS),
    help="Compounding of the curve's rates (default: the file's, else semiannual).",
)
@click.option(
    "--compounding",
    type=click.Choice(COMPOUNDINGS),
    default="semiannual",
    show_default=True,
    help="Compounding of the yield (semiannual = bond-equivalent).",
)
@click.option(
    "--day-count",
    type=click.Choice(DAY_COUNTS, case_sensitive=False),
    default="30/360",
    show_default=True,
    help="Day count measuring time from settlement.",
)
@click.option("--face", type=float, help="Current face at settlement (default: principal left).")
@click.option("--coupon", help="Coupon for accrued interest (5% or 500bp).")
@click.option("--accrual-start", help="Last coupon date on or before settlement.")
@click.option(
    "--accrual-day-count",
    type=click.Choice(DAY_COUNTS, case_sensitive=False),
    default="30/360",
    show_default=True,
    help="The note's day count for accrued interest.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the result table (.csv, .json, .parquet, .xlsx).",
)
def command(
    flows: Path,
    settle: str,
    price_text: str | None,
    yield_text: str | None,
    z_text: str | None,
    i_text: str | None,
    curve: Path | None,
    curve_compounding: str | None,
    compounding: str,
    day_count: str,
    face: float | None,
    coupon: str | None,
    accrual_start: str | None,
    accrual_day_count: str,
    as_json: bool,
    output: Path | None,
) -> None:
    """Price dated cash flows FLOWS (columns date, interest, principal).

    Give exactly one of --price, --yield, --z-spread, --i-spread.  Flows dated on or before
    the settlement date are left out.  Example:

        absstruct price a.csv --settle 2024-06-30 --price 99.5 --curve ust.csv
    """
    given = [
        o
        for o, v in (
            ("--price", price_text),
            ("--yield", yield_text),
            ("--z-spread", z_text),
            ("--i-spread", i_text),
        )
        if v is not None
    ]
    if len(given) != 1:
        raise click.UsageError("give exactly one of --price, --yield, --z-spread, --i-spread")
    if (coupon is None) != (accrual_start is None):
        raise click.UsageError("--coupon and --accrual-start go together")
    settlement = parse_date_option(settle, option="--settle")
    cash_flows = read_flows(flows)
    convention = Convention(compounding=compounding, day_count=day_count)
    accrual = None
    if coupon is not None:
        accrual = Accrual(
            coupon=_parse(coupon, lambda v: parse_quoted_rate(v, what="coupon"), "--coupon"),
            start=parse_date_option(accrual_start, option="--accrual-start"),
            day_count=accrual_day_count,
        )
    rate_curve = read_curve(curve, compounding=curve_compounding) if curve else None
    common: dict[str, Any] = {
        "settlement": settlement,
        "convention": convention,
        "face": face,
        "accrual": accrual,
    }
    result: PriceResult
    if price_text is not None:
        price = _parse(price_text, parse_price, "--price")
        result = yield_from_price(cash_flows, price=price, **common)
    elif yield_text is not None:
        value = _parse(yield_text, lambda v: parse_quoted_rate(v, what="yield"), "--yield")
        result = price_from_yield(cash_flows, yield_=value, **common)
    elif i_text is not None and rate_curve is not None:
        spread = _parse(i_text, lambda v: parse_quoted_rate(v, what="spread"), "--i-spread")
        result = price_from_i_spread(cash_flows, curve=rate_curve, spread=spread, **common)
    elif z_text is not None and rate_curve is not None:
        spread = _parse(z_text, lambda v: parse_quoted_rate(v, what="spread"), "--z-spread")
        quoted = price_from_z_spread(
            cash_flows,
            settlement=settlement,
            spread=spread,
            curve=rate_curve,
            day_count=day_count,
            face=face,
            accrual=accrual,
        )
        result = yield_from_price(cash_flows, price=quoted.price, **common)
    else:
        raise click.UsageError(f"{given[0]} needs --curve")
    record = result.as_dict()
    first, last = principal_window(cash_flows, settlement=settlement)
    record["first_principal_date"], record["last_principal_date"] = first, last
    if rate_curve is not None:
        record["curve"] = rate_curve.name
        if record["wal"] == record["wal"]:
            record["i_spread"] = i_spread(result, rate_curve).spread
        if rate_curve.kind == "zero":
            record["z_spread"] = z_spread(
                cash_flows,
                settlement=settlement,
                price=result.price,
                curve=rate_curve,
                day_count=day_count,
                face=face,
                accrual=accrual,
            ).spread
            record["z_spread_compounding"] = rate_curve.compounding
    if output is not None:
        from absstruct.report.frames import write_frame

        write_frame(pd.DataFrame([record]), output)
    if as_json:
        echo_json(record)
    elif output is None:
        width = max(len(k) for k in record)
        for key, value in record.items():
            shown = f"{value:.10g}" if isinstance(value, float) else str(value)
            click.echo(f"{key:<{width}}  {shown}")
