"""``absstruct pool``: cut the pool a deal file describes and report it.

Reads the deal file's ``[pool]`` table (eligibility, concentration, strats, target
balance), loads the tape, and prints the summary and the exclusion counts; ``--json``
prints a deterministic digest instead, ``-o FILE`` writes the Summary, Strats,
Exclusions and Excluded loans tables (``.xlsx`` one sheet each, ``.json`` one object).
"""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

import click

from absstruct.cli._common import echo_json, info, lang_option, parse_date_option
from absstruct.errors import DealError
from absstruct.pool.criteria import load_pool_criteria
from absstruct.pool.selection import Pool, select_pool


def read_deal_pool_table(deal: Path) -> dict[str, Any]:
    """The ``[pool]`` table of a deal file (empty when the file has none)."""
    try:
        with deal.open("rb") as handle:
            document = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise DealError(f"{deal}: not valid TOML: {error}") from None
    table = document.get("pool", {})
    if not isinstance(table, dict):
        raise DealError(f"{deal}: pool: expected a table ([pool]), got {type(table).__name__}")
    return table


def _deal_date(value: object, *, where: str) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise DealError(f"{where}: {value!r} is not a date like 2024-06-30")


def _format_money(value: float) -> str:
    return f"{value:,.2f}"


def _print_text(pool: Pool) -> None:
    summary = pool.summary
    lines = [
        f"tape      {pool.tape_count:>10,d} loans  {_format_money(pool.tape_balance):>20}",
        f"eligible  {summary.count:>10,d} loans  {_format_money(summary.current_balance):>20}",
        f"excluded  {pool.excluded_count:>10,d} loans  {_format_money(pool.excluded_balance):>20}",
        "",
        "summary",
    ]
    for key, value in summary.to_dict().items():
        if isinstance(value, dict):
            shown = ", ".join(f"{name} {share:.2%}" for name, share in value.items()) or "-"
        elif value is None:
            shown = "-"
        elif isinstance(value, int):
            shown = f"{value:,d}"
        elif key in ("wac", "top10_obligor_share"):
            shown = f"{value:.4%}"
        else:
            shown = f"{value:,.2f}"
        lines.append(f"  {key:<20} {shown}")
    lines += ["", "exclusions (first failed rule; failed at all)"]
    for row in pool.exclusion_counts.itertuples(index=False):
        lines.append(
            f"  {row.stage:<13} {row.rule:<28} {row.excluded_count:>9,d} "
            f"{_format_money(row.excluded_balance):>18}   "
            f"{row.failed_count:>9,d} {_format_money(row.failed_balance):>18}"
        )
    click.echo("\n".join(lines))


@click.command("pool", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("deal", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--tape",
    "tape_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Loan tape (CSV, XLSX, Parquet). Default: the deal's pool.tape, beside the deal file.",
)
@click.option(
    "--template",
    help="Tape mapping template name or file. Default: the deal's pool.template, else canonical.",
)
@click.option("--cutoff", help="Cut-off date, e.g. 2024-06-30. Default: the deal's pool.cutoff.")
@click.option("--json", "as_json", is_flag=True, help="Print a deterministic JSON digest.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write Summary, Strats and Exclusions tables (.xlsx, .json).",
)
@lang_option
def pool_command(
    deal: Path,
    tape_path: Path | None,
    template: str | None,
    cutoff: str | None,
    as_json: bool,
    output: Path | None,
    lang: str,
) -> None:
    """Select the pool of DEAL (a deal TOML file): eligibility, limits, summary, strats."""
    cutoff_date = parse_date_option(cutoff, option="--cutoff")
    table = read_deal_pool_table(deal)
    criteria = load_pool_criteria(table, source=str(deal))
    if tape_path is None:
        named = table.get("tape")
        if not isinstance(named, str) or not named:
            raise DealError(f"{deal}: pool.tape is not set; give --tape TAPE")
        tape_path = deal.parent / named
    if cutoff_date is None:
        cutoff_date = _deal_date(table.get("cutoff"), where=f"{deal}: pool.cutoff")
    template_name = template or table.get("template") or "canonical"

    from absstruct.tape import load_tape  # the readers load only when a tape is read

    tape = load_tape(
        tape_path,
        template=template_name,
        cutoff=cutoff_date,
        encoding=table.get("encoding"),
        sheet=table.get("sheet"),
    )
    pool = select_pool(tape, criteria)
    if output is not None:
        if output.suffix.lower() not in (".xlsx", ".json"):
            raise click.BadParameter(
                f"{output}: the pool report has several tables; use .xlsx or .json",
                param_hint="-o",
            )
        if output.suffix.lower() == ".xlsx":
            from absstruct.report import write_pool_workbook

            write_pool_workbook(pool, output, lang=lang)  # the investor workbook's layout
        else:
            from absstruct.report.frames import write_frames

            write_frames(pool.to_frames(), output)
        info(f"wrote {output}")
    if as_json:
        echo_json(pool.to_dict())
    else:
        _print_text(pool)


__all__ = ["pool_command", "read_deal_pool_table"]
