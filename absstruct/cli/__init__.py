"""The ``absstruct`` command line: a thin layer over the library.

Data goes to stdout, diagnostics to stderr.  Exit codes: 0 success, 1 a domain error
(bad tape, deal file or assumption: one readable message, never a traceback), 2 a usage
mistake (click's own).  Each command lives in its own module and is imported only when
it runs, so ``absstruct -h`` stays fast.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from absstruct.errors import AbsStructError
from absstruct.memory import keep_freed_memory

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

# command name -> ("module:attribute", one-line help); each module owns its command.
# The help text lives here too so that ``absstruct -h`` imports no command module.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("absstruct.cli.demo:command", "Run a bundled example deal end to end."),
    "batch": ("absstruct.cli.batch:command", "Run many jobs locally or on a Dask cluster."),
    "pool": ("absstruct.cli.pool:pool_command", "Select a deal's pool and stratify it."),
    "price": ("absstruct.cli.price:command", "Price cash flows: yield, WAL, duration, spreads."),
    "history": ("absstruct.cli.history:history_command", "Vintage curves and fitted curves."),
    "backtest": ("absstruct.cli.history:backtest_command", "Back-test fitted curves on vintages."),
    "tape": ("absstruct.cli.tape:tape", "Check, convert or synthesise a loan tape."),
    "project": ("absstruct.cli.project:command", "Project collateral cash flows of a tape."),
    "run": ("absstruct.cli.run:command", "Run a deal's waterfall: tranche summary, triggers."),
    "grid": ("absstruct.cli.grid:command", "Run a deal over a grid of scenarios in one pass."),
    "breakeven": ("absstruct.cli.breakeven:command", "Breakeven default level of a tranche."),
    "size": ("absstruct.cli.size:command", "Size tranches to survive stress multiples."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attribute = entry[0].split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AbsStructError as error:
            click.echo(f"error: {error}", err=True)
            sys.exit(1)
        except FileNotFoundError as error:
            click.echo(f"error: {error.filename or error}: no such file", err=True)
            sys.exit(1)
        except PermissionError as error:
            click.echo(f"error: {error.filename or error}: permission denied", err=True)
            sys.exit(1)


@click.group(cls=LazyGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(package_name="absstruct", prog_name="absstruct")
def main() -> None:
    """absstruct: structure asset-backed securities from a loan tape.

    tape -> pool -> projection -> waterfall -> pricing -> reports.  Run
    ``absstruct COMMAND -h`` for each command's options.
    """
    # This process is ours: keep freed arrays for reuse (see absstruct.memory).
    keep_freed_memory()
