"""``absstruct run``: run a deal's waterfall and print the tranche summary and trigger events."""

from __future__ import annotations

import math
from typing import Any

import click
import pandas as pd

from absstruct.cli._common import echo_json, info, lang_option
from absstruct.cli._pricing import (
    echo_metrics,
    pricing_options,
    pricing_request,
    pricing_table,
    records,
)

_ASSUMPTION_OPTIONS = ("prepay", "default", "severity", "lag")


def _scenarios(deal: Any, names: tuple[str, ...], overrides: dict[str, Any]) -> Any:
    """Scenario names, or one ``custom`` scenario of the base case with CLI overrides."""
    if not overrides:
        return list(names) or None
    from absstruct.deal.scenarios import assumptions_from_table

    table = {**deal.pool.assumptions, **overrides}
    return {"custom": assumptions_from_table(table, where="options")}


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _summary_payload(result: Any) -> list[dict[str, Any]]:
    out = []
    for s, name in enumerate(result.scenario_names):
        summary = result.summary(s)
        events = result.trigger_events(s)
        out.append(
            {
                "scenario": name,
                "tranches": [
                    {k: (_plain(v)) for k, v in row.items()}
                    for row in summary.to_dict(orient="records")
                ],
                "events": [
                    {k: _plain(v) for k, v in row.items()}
                    for row in events.to_dict(orient="records")
                ],
            }
        )
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, float):
        return round(value, 2)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    item = getattr(value, "item", None)
    return item() if callable(item) else value


def _print_text(result: Any) -> None:
    for s, name in enumerate(result.scenario_names):
        click.echo(f"{result.deal_name} — scenario {name} ({result.currency})")
        table = result.summary(s)
        shown = pd.DataFrame(
            {
                "tranche": table["tranche"],
                "original": table["original_balance"].map(_money),
                "interest": table["interest_paid"].map(_money),
                "principal": table["principal_paid"].map(_money),
                "int_short": table["interest_shortfall"].map(_money),
                "writedown": table["writedown"].map(_money),
                "residual": table["residual_paid"].map(_money),
                "ending": table["ending_balance"].map(_money),
                "final_date": table["final_payment_date"].map(
                    lambda d: d.isoformat() if d is not None else "-"
                ),
            }
        )
        click.echo(shown.to_string(index=False))
        events = result.trigger_events(s)
        if events.empty:
            click.echo("trigger events: none")
        else:
            click.echo("trigger events:")
            for row in events.itertuples():
                detail = (
                    ""
                    if math.isnan(row.value)
                    else f" (value {row.value:.6g} vs threshold {row.threshold:.6g})"
                )
                click.echo(
                    f"  period {row.period} {row.date.isoformat()}: {row.trigger} {row.event}"
                    + detail
                )
        click.echo("")


def _ledger_frame(result: Any) -> pd.DataFrame:
    """Every scenario's per-period ledgers in one table (a ``scenario`` column first)."""
    frames = []
    for s, name in enumerate(result.scenario_names):
        frame = result.frame(s)
        frame.insert(0, "scenario", name)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@click.command(
    "run",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("deal_file", metavar="DEAL", type=click.Path(dir_okay=False))
@click.option("--tape", type=click.Path(dir_okay=False), help="Tape to use instead of pool.tape.")
@click.option(
    "--scenario",
    "scenario_names",
    multiple=True,
    metavar="NAME",
    help="Run this named scenario (repeatable; default: base and every named scenario).",
)
@click.option("--prepay", help='Prepayment assumption on top of the base case, e.g. "ABS 1.5%".')
@click.option("--default", "default_", help='Default assumption, e.g. "CDR 3%".')
@click.option("--severity", help='Loss severity, e.g. "45%".')
@click.option("--lag", type=click.IntRange(0, 360), help="Liquidation lag in months.")
@click.option(
    "--call/--no-call", default=None, help="Exercise the clean-up call (default: the deal says)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Write the run: .xlsx investor workbook or .json result document (first scenario "
    "in detail, all in the grid), .csv/.parquet every scenario's ledgers by period, or a "
    "folder (ending in /) with one file per ledger.",
)
@lang_option
@pricing_options  # analytics: --price/--yield/--spread/--curve/--settle -> metrics table
def command(
    deal_file: str,
    tape: str | None,
    scenario_names: tuple[str, ...],
    prepay: str | None,
    default_: str | None,
    severity: str | None,
    lag: int | None,
    call: bool | None,
    as_json: bool,
    output: str | None,
    lang: str,
    **pricing: Any,
) -> None:
    """Run DEAL's waterfall over its scenarios and print each tranche's summary.

    The summary shows, per tranche, interest and principal paid, interest shortfall,
    write-downs, residual, ending balance and the last payment date, then the trigger
    events (breaches, cures, clean-up call, acceleration).
    """
    overrides = {
        key: value
        for key, value in zip(_ASSUMPTION_OPTIONS, (prepay, default_, severity, lag), strict=True)
        if value is not None
    }
    if overrides and scenario_names:
        raise click.UsageError("give --scenario or assumption options (--prepay ...), not both")
    from absstruct.deal import load_deal
    from absstruct.waterfall import deal_pool, run

    request = pricing_request(pricing)
    deal = load_deal(deal_file)
    if request is not None:
        request[0].check(t.name for t in deal.tranches)
    pool = deal_pool(deal, tape)
    collateral = pool.eligible
    info(
        f"{deal.name}: {len(collateral)} loans, balance {collateral['current_balance'].sum():,.2f}"
    )
    result = run(deal, collateral, _scenarios(deal, scenario_names, overrides), call=call)
    priced = pricing_table(result, deal, request)  # None unless a pricing option is given
    if output:
        if output.lower().endswith((".csv", ".parquet")):
            # Analysts get every scenario's ledgers side by side, one row per period.
            from absstruct.report.frames import write_frame

            write_frame(_ledger_frame(result), output)
        else:
            from absstruct.report import write_result

            # The workbook / JSON show the same metrics table the terminal does.
            write_result(
                result,
                output,
                lang=lang,
                deal=deal,
                pool=pool,
                pricing=priced,
                settlement=None if request is None else request[1],
            )
        info(f"wrote {output}")
    if as_json:
        echo_json(
            {
                "deal": result.deal_name,
                "currency": result.currency,
                "scenarios": _summary_payload(result),
                **({} if priced is None else {"pricing": records(priced)}),
            }
        )
    else:
        _print_text(result)
        if priced is not None:
            echo_metrics(priced)
