"""``absstruct grid``: run a deal over the product of assumption lists in one engine pass."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from absstruct.cli._common import echo_json, info, lang_option
from absstruct.cli._pricing import (
    echo_metrics,
    pricing_options,
    quotes_from_options,
    records,
    settlement_option,
)


@click.command(
    "grid", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.argument("deal_file", metavar="DEAL", type=click.Path(dir_okay=False))
@click.option("--tape", type=click.Path(dir_okay=False), help="Tape to use instead of pool.tape.")
@click.option("--prepay", help='Prepayment levels: the kind then levels, "ABS 0.5%,1%,1.5%".')
@click.option("--default", "default_", help='Default levels, e.g. "CDR 0%,2%,4%,8%".')
@click.option("--severity", help='Severity levels, e.g. "40%,60%".')
@click.option("--lag", help='Liquidation lags in months, e.g. "3,6".')
@click.option(
    "--scenarios",
    "scenario_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Scenario file (.toml tables or .csv rows) instead of the lists.",
)
@pricing_options
@click.option(
    "--measure",
    "measures",
    multiple=True,
    metavar="NAME",
    help="Table(s) to print (repeatable; default yield, wal, principal_loss_pct, "
    "max_interest_shortfall).",
)
@click.option("--full", is_flag=True, help="Print the full metrics table per scenario.")
@click.option("--json", "as_json", is_flag=True, help="Print every scenario x tranche as JSON.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the results: .xlsx the investor workbook with the grid on its Scenarios sheet "
    "(first scenario in detail); .csv, .parquet or .json the long metrics table.",
)
@lang_option
def command(
    deal_file: str,
    tape: str | None,
    prepay: str | None,
    default_: str | None,
    severity: str | None,
    lag: str | None,
    scenario_file: Path | None,
    price_text: str | None,
    yield_text: str | None,
    spread_text: str | None,
    curve: Path | None,
    settle: str | None,
    measures: tuple[str, ...],
    full: bool,
    as_json: bool,
    output: str | None,
    lang: str,
) -> None:
    """Run DEAL over every combination of the given levels and tabulate each tranche.

    Each list is the curve kind followed by comma-separated levels; unset lists keep the
    base case.  All scenarios are projected and run through the waterfall together.

        absstruct grid deals/us_auto.toml --prepay "ABS 0.5%,1%,1.5%" --default "CDR 0%,2%,4%,8%"
    """
    from absstruct.analytics.grid import grid, read_scenario_file, split_lags, split_levels
    from absstruct.deal import load_deal
    from absstruct.waterfall import deal_pool

    lists: dict[str, Any] = {
        "prepay": split_levels(prepay, what="prepay") if prepay else (),
        "default": split_levels(default_, what="default") if default_ else (),
        "severity": split_levels(severity, what="severity") if severity else (),
        "lag": split_lags(lag) if lag else (),
    }
    if scenario_file is not None and any(lists.values()):
        raise click.UsageError("give --scenarios or level lists (--prepay ...), not both")
    quotes = quotes_from_options(price_text, yield_text, spread_text, curve)
    settlement = settlement_option(settle)
    deal = load_deal(deal_file)
    quotes.check(t.name for t in deal.tranches)
    scenarios = read_scenario_file(scenario_file, deal) if scenario_file is not None else None
    pool = deal_pool(deal, tape)
    found = grid(
        deal,
        pool.eligible,
        scenarios=scenarios,
        quotes=quotes,
        settlement=settlement,
        **({} if scenarios is not None else lists),
    )
    info(f"{deal.name}: {found.result.n_scenarios} scenarios in one engine pass")
    if output and output.lower().endswith(".xlsx"):
        from absstruct.report import write_result

        write_result(
            found.result,
            output,
            lang=lang,
            deal=deal,
            pool=pool,
            pricing=found.metrics,  # the tranche table is the first scenario's rows
            grid=found.metrics,
            settlement=settlement,
        )
        info(f"wrote {output}")
    elif output:
        from absstruct.report.frames import write_frame

        write_frame(found.metrics, output)
        info(f"wrote {output}")
    if as_json:
        echo_json({"deal": deal.name, "rows": records(found.metrics)})
        return
    if full:
        echo_metrics(found.metrics)
        return
    chosen = measures or ("yield", "wal", "principal_loss_pct", "max_interest_shortfall")
    for measure in chosen:
        table = found.table(measure)
        click.echo(
            f"{measure} ({found.metrics['convention'].iloc[0]})" if measure == "yield" else measure
        )
        click.echo(table.to_string(float_format=lambda v: f"{v:.6g}"))
        click.echo("")
