"""``absstruct breakeven``: the highest default level at which a tranche takes no loss."""

from __future__ import annotations

import click

from absstruct.cli._common import echo_json, info
from absstruct.cli._pricing import plain


@click.command(
    "breakeven",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.argument("deal_file", metavar="DEAL", type=click.Path(dir_okay=False))
@click.option("--tranche", required=True, help="The tranche to solve for.")
@click.option(
    "--on",
    type=click.Choice(["cdr", "multiple", "cnl"]),
    default="cdr",
    show_default=True,
    help="Axis: flat CDR, multiple of the base-case default, or cumulative net loss.",
)
@click.option("--tape", type=click.Path(dir_okay=False), help="Tape to use instead of pool.tape.")
@click.option("--prepay", help='Prepayment instead of the base case, e.g. "ABS 1.5%".')
@click.option("--severity", help='Severity instead of the base case, e.g. "60%".')
@click.option("--lag", type=click.IntRange(0, 360), help="Liquidation lag in months.")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=1e-9, max=0.1),
    default=1e-4,
    show_default=True,
    help="Width of the final bracket, in the axis's units.",
)
@click.option(
    "--batch",
    type=click.IntRange(2, 1000),
    default=32,
    show_default=True,
    help="Candidate levels per engine pass (per criterion).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(
    deal_file: str,
    tranche: str,
    on: str,
    tape: str | None,
    prepay: str | None,
    severity: str | None,
    lag: int | None,
    tolerance: float,
    batch: int,
    as_json: bool,
) -> None:
    """Solve DEAL for the default level at which TRANCHE starts to lose principal.

    Also solves, in the same passes, the level at which it first misses interest.  Levels:
    cdr as a decimal annual rate (0.05 = 5% CDR), multiple of the base-case default curve,
    cnl as lifetime cumulative net loss over the cut-off pool.

        absstruct breakeven deals/us_auto.toml --tranche D --on multiple
    """
    from absstruct.analytics.breakeven import breakeven
    from absstruct.deal import load_deal
    from absstruct.waterfall import deal_tape

    deal = load_deal(deal_file)
    names = [t.name for t in deal.tranches]
    if tranche not in names:
        from absstruct.errors import DealError

        raise DealError(f"--tranche: unknown tranche {tranche!r}; the deal has {', '.join(names)}")
    if prepay is not None or severity is not None:
        from absstruct.curves import parse_prepay, parse_severity

        if prepay is not None:
            parse_prepay(prepay, where="--prepay")
        if severity is not None:
            parse_severity(severity, where="--severity")
    found = breakeven(
        deal,
        deal_tape(deal, tape),
        tranche,
        on=on,
        prepay=prepay,
        severity=severity,
        lag=lag,
        tolerance=tolerance,
        batch=batch,
    )
    info(f"{found.passes} engine passes, {found.scenarios_run} scenarios")
    if as_json:
        echo_json({k: plain(v) for k, v in found.as_dict().items()})
        return

    def shown(level: float | None, capped: bool, default: str | None) -> str:
        if level is None:
            return "none: it already takes it at level 0"
        text = f"{level:.6g} ({default})"
        return text + f" — none up to the highest level {found.upper:.6g}" if capped else text

    click.echo(f"{deal.name} — tranche {tranche}, breakeven on {on}")
    click.echo(f"no principal loss up to:    {shown(found.level, found.capped, found.default)}")
    click.echo(
        "no interest shortfall up to: "
        + shown(found.shortfall_level, found.shortfall_capped, found.shortfall_default)
    )
    click.echo(f"tolerance {found.tolerance:g}; engine passes {found.passes}")
