"""``absstruct size``: size each tranche, top-down, to take no loss under its stress."""

from __future__ import annotations

from pathlib import Path

import click

from absstruct.cli._common import echo_json, info
from absstruct.cli._pricing import records


@click.command(
    "size", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100}
)
@click.argument("deal_file", metavar="DEAL", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--stress",
    "stress_text",
    required=True,
    metavar="T=Mx,...",
    help="Stress per tranche as a multiple of the base-case default: A=5x,B=3x,C=2x.",
)
@click.option("--tape", type=click.Path(dir_okay=False), help="Tape to use instead of pool.tape.")
@click.option(
    "--write-deal",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write a copy of the deal file with the sized tranches (.toml).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the sizing table as JSON.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="Write the sizing table (.csv, .xlsx, .parquet or .json).",
)
def command(
    deal_file: Path,
    stress_text: str,
    tape: str | None,
    write_deal: Path | None,
    as_json: bool,
    output: str | None,
) -> None:
    """Size the stressed notes of DEAL, most senior first; the residual absorbs the rest.

    Prints each tranche's size, credit enhancement (subordination + OC + reserve) and its
    principal loss under its stress at the size and at size + 0.1% of the pool.

        absstruct size deals/us_auto.toml --stress C=6x,D=4x --write-deal sized.toml
    """
    from absstruct.analytics.sizing import parse_stresses, size_tranches, write_sized_deal
    from absstruct.deal import load_deal
    from absstruct.waterfall import deal_tape

    if write_deal is not None and write_deal.suffix.lower() != ".toml":
        raise click.BadParameter("the sized deal is a .toml file", param_hint="--write-deal")
    stresses = parse_stresses(stress_text)
    deal = load_deal(deal_file)
    sized = size_tranches(deal, deal_tape(deal, tape), stresses)
    info(f"{sized.engine_runs} waterfall runs over flows projected once, {sized.rounds} round(s)")
    if write_deal is not None:
        write_sized_deal(sized, deal_file, write_deal)
        info(f"wrote {write_deal}")
    if output:
        from absstruct.report.frames import write_frame

        write_frame(sized.table, output)
        info(f"wrote {output}")
    if as_json:
        echo_json(
            {
                "deal": deal.name,
                "pool_balance": sized.pool_balance,
                "engine_runs": sized.engine_runs,
                "tranches": records(sized.table),
            }
        )
        return
    table = sized.table
    shown = table.assign(
        stress=table["stress"].map(lambda v: "-" if v != v else f"{v:g}x"),
        size=table["size"].map(lambda v: f"{v:,.2f}"),
        deal_size=table["deal_size"].map(lambda v: f"{v:,.2f}"),
        **{
            column: table[column].map(lambda v: f"{v * 100:.4f}%")
            for column in ("size_pct", "subordination", "oc", "reserve", "credit_enhancement")
        },
        loss_at_stress=table["loss_at_stress"].map(lambda v: "-" if v != v else f"{v:,.2f}"),
        loss_above=table["loss_above"].map(lambda v: "-" if v != v else f"{v:,.2f}"),
    )
    click.echo(f"{deal.name} — pool {sized.pool_balance:,.2f}")
    click.echo(shown.to_string(index=False))
