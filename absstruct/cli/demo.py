"""``absstruct demo``: run a bundled example deal end to end.

Tape -> pool -> projection -> waterfall, exactly as ``absstruct run`` does on the example
deal file shipped with absstruct, so a new user sees the whole pipeline with one command.
"""

from __future__ import annotations

import click

from absstruct.cli._common import lang_option
from absstruct.resources import deals_dir

EXAMPLES = ("cn_consumer_revolving", "us_auto", "mortgage")


@click.command("demo", context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--deal",
    "example",
    type=click.Choice(EXAMPLES),
    default=EXAMPLES[0],
    show_default=True,
    help="Which bundled example deal to run.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(),
    help="Also write the run (.xlsx investor workbook, .json, .csv, .parquet or a folder/).",
)
@lang_option
@click.pass_context
def command(ctx: click.Context, example: str, output: str | None, lang: str) -> None:
    """Run a bundled example deal: its synthetic tape, pool, projection and waterfall.

    The deal files live in the ``deals/`` folder of the source tree (and inside the
    installed package); copy one to start your own.
    """
    from absstruct.cli.run import command as run_command

    deal_file = deals_dir() / f"{example}.toml"
    click.echo(f"example deal: {deal_file.name}", err=True)
    ctx.invoke(run_command, deal_file=str(deal_file), output=output, lang=lang)
