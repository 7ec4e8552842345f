"""``absstruct project``: collateral cash flows of a tape under one set of assumptions."""

from __future__ import annotations

import datetime as dt

import click
import numpy as np
import pandas as pd

from absstruct.cli._common import echo_json, info, parse_date_option
from absstruct.curves import Assumptions
from absstruct.projection.flows import FLOW_COLUMNS

SHOWN = (
    ("performing_balance", "balance"),
    ("new_defaults", "defaults"),
    ("actual_amortization", "sched_prin"),
    ("voluntary_prepayments", "prepaid"),
    ("actual_interest", "interest"),
    ("principal_recovery", "recovery"),
    ("principal_loss", "loss"),
    ("principal_collections", "prin_cash"),
    ("interest_collections", "int_cash"),
)


@click.command(
    "project",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option(
    "--tape",
    "tape_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Loan tape file (.csv, .xlsx, .parquet).",
)
@click.option(
    "--template",
    default="canonical",
    show_default=True,
    help="Tape mapping template name or .toml file.",
)
@click.option("--cutoff", default=None, help="Cut-off date (YYYY-MM-DD); dates the periods.")
@click.option(
    "--prepay",
    default="0",
    show_default=True,
    help='Prepayment: "PSA 150", "CPR 8%", "ABS 1.5%", "SMM [1%,2%]"...',
)
@click.option(
    "--default",
    "default_",
    default="0",
    show_default=True,
    help='Defaults: "SDA 100", "CDR 3% x 1.5", "MDR 1%", "CUM 8% over 24"...',
)
@click.option("--severity", default="0", show_default=True, help='Loss severity, e.g. "20%".')
@click.option(
    "--lag", default=0, show_default=True, type=int, help="Recovery (liquidation) lag in months."
)
@click.option(
    "--advance/--no-advance",
    default=False,
    show_default=True,
    help="Servicer advances P&I on defaulted loans until liquidation.",
)
@click.option(
    "--servicing", default="0", show_default=True, help='Servicing fee, annual, e.g. "0.5%".'
)
@click.option(
    "--basis",
    type=click.Choice(["age", "period"]),
    default="age",
    show_default=True,
    help="Index curves by loan age or by projection period.",
)
@click.option(
    "--periods",
    default=None,
    type=click.IntRange(min=1),
    help="Months to project (default: the longest remaining term).",
)
@click.option(
    "--loan-level", is_flag=True, help="Write loan-by-period flows to -o instead of pool totals."
)
@click.option(
    "-o",
    "--output",
    default=None,
    type=click.Path(dir_okay=False),
    help="Write the flows to FILE (.csv, .xlsx, .parquet, .json).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the flows and totals as JSON.")
def command(
    tape_path: str,
    template: str,
    cutoff: str | None,
    prepay: str,
    default_: str,
    severity: str,
    lag: int,
    advance: bool,
    servicing: str,
    basis: str,
    periods: int | None,
    loan_level: bool,
    output: str | None,
    as_json: bool,
) -> None:
    """Project the pool's cash flows (SIFMA columns) under one set of assumptions.

    Prints a compact table and totals; -o writes every column.

    Example: absstruct project --tape tape.csv --prepay "PSA 150" --default "SDA 100"
    --severity 20% --lag 12 --advance -o cf.xlsx
    """
    from absstruct.projection import loan_frame, period_dates, project
    from absstruct.report.frames import write_frame
    from absstruct.tape import load_tape

    cutoff_date = parse_date_option(cutoff, option="--cutoff")
    assumptions = Assumptions.from_strings(
        prepay=prepay,
        default=default_,
        severity=severity,
        lag=lag,
        advance=advance,
        servicing_fee=servicing,
        basis=basis,
    )
    tape = load_tape(tape_path, template=template, cutoff=cutoff_date)
    if loan_level and not output:
        raise click.UsageError("--loan-level needs -o FILE (loan-by-period tables are long)")
    flows = project(tape, assumptions, periods=periods)
    dates = period_dates(cutoff_date, flows.n_periods) if cutoff_date else None
    frame = flows.frame(0, dates=dates)
    if output:
        table = loan_frame(tape, assumptions, periods=periods) if loan_level else frame
        write_frame(table, output, sheet="loans" if loan_level else "pool_flows")
        info(f"wrote {len(table)} rows to {output}")
    totals = {name: round(float(frame[name].sum()), 2) for name in FLOW_COLUMNS}
    if as_json:
        echo_json(
            {
                "assumptions": assumptions.model_dump(exclude_defaults=True),
                "initial_balance": flows.initial_balance,
                "totals": totals,
                "flows": _records(frame),
            }
        )
        return
    click.echo(_table(frame, flows.initial_balance))
    click.echo("")
    width = max(len(n) for n in totals)
    click.echo("totals")
    for name, value in totals.items():
        click.echo(f"  {name:<{width}}  {value:>18,.2f}")


def _records(frame: pd.DataFrame) -> list[dict[str, object]]:
    rows = []
    for record in frame.to_dict(orient="records"):
        rows.append(
            {
                k: (
                    v.date().isoformat()
                    if isinstance(v, (pd.Timestamp, dt.datetime))
                    else round(float(v), 6)
                    if isinstance(v, (float, np.floating))
                    else v
                )
                for k, v in record.items()
            }
        )
    return rows


def _table(frame: pd.DataFrame, initial: float) -> str:
    """A compact fixed-width table: every period for short deals, else a sample."""
    n = len(frame)
    rows = list(range(n)) if n <= 24 else sorted({*range(12), *range(11, n, 12), n - 1})
    head = ["period"] + (["date"] if "date" in frame.columns else []) + [s for _, s in SHOWN]
    lines = ["  ".join(f"{h:>14}" if k else f"{h:>6}" for k, h in enumerate(head))]
    lines.append(
        f"{0:>6}  " + ("" if "date" not in frame.columns else f"{'':>14}  ") + f"{initial:>14,.0f}"
    )
    for r in rows:
        row = frame.iloc[r]
        cells = [f"{int(row['period']):>6}"]
        if "date" in frame.columns:
            cells.append(f"{row['date'].date().isoformat():>14}")
        cells += [f"{float(row[name]):>14,.0f}" for name, _ in SHOWN]
        lines.append("  ".join(cells))
    return "\n".join(lines)
