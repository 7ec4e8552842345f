"""``absstruct tape``: check, convert and synthesise loan tapes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from absstruct.cli._common import echo_json, info, parse_date_option

TEMPLATE_HELP = "Mapping template: a shipped name (canonical, lendingclub, ...) or a .toml path."
CUTOFF_HELP = "Cut-off date (YYYY-MM-DD) for fields derived from dates, e.g. remaining term."
ENCODING_HELP = "Text encoding of a CSV (default: detect UTF-8, UTF-8 with BOM, GBK/GB18030)."
SHEET_HELP = "Sheet of a spreadsheet to read (default: the first sheet)."
SHOWN = 25


def _tape_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.argument("tape", type=click.Path(dir_okay=False, path_type=Path)),
            click.option(
                "--template", "-t", default="canonical", show_default=True, help=TEMPLATE_HELP
            ),
            click.option("--cutoff", default=None, metavar="DATE", help=CUTOFF_HELP),
            click.option("--encoding", default=None, metavar="ENC", help=ENCODING_HELP),
            click.option("--sheet", default=None, metavar="NAME", help=SHEET_HELP),
        ]
    ):
        command = option(command)
    return command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def tape() -> None:
    """Check, convert and synthesise loan tapes."""


def _read(
    tape_path: Path, template: str, cutoff: str | None, encoding: str | None, sheet: str | None
):
    from absstruct.tape import read_tape

    _check_format_options(tape_path, encoding=encoding, sheet=sheet)
    at = parse_date_option(cutoff, option="--cutoff")
    return read_tape(tape_path, template=template, cutoff=at, encoding=encoding, sheet=sheet)


def _check_format_options(tape_path: Path, *, encoding: str | None, sheet: str | None) -> None:
    """Refuse an option the tape's format has no use for, rather than silently ignore it."""
    from absstruct.tape.readers import PARQUET_SUFFIXES, XLSX_SUFFIXES

    suffix = tape_path.suffix.lower()
    spreadsheet = suffix in XLSX_SUFFIXES
    kind = "a spreadsheet" if spreadsheet else "Parquet" if suffix in PARQUET_SUFFIXES else "CSV"
    if sheet is not None and not spreadsheet:
        raise click.BadParameter(
            f"{tape_path.name} is read as {kind} (by its extension), which has no sheets; "
            f"--sheet applies to {', '.join(XLSX_SUFFIXES)} files only",
            param_hint="--sheet",
        )
    if encoding is not None and kind != "CSV":
        raise click.BadParameter(
            f"{tape_path.name} is read as {kind} (by its extension), which stores its own "
            "text encoding; --encoding applies to CSV files only",
            param_hint="--encoding",
        )


@tape.command("check")
@_tape_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary and problems as JSON.")
@click.option("--all", "show_all", is_flag=True, help="List every problem found, not the first 25.")
def check(
    tape: Path,
    template: str,
    cutoff: str | None,
    encoding: str | None,
    sheet: str | None,
    as_json: bool,
    show_all: bool,
) -> None:
    """Read TAPE through a template and report loans, balance, WAC, WAM and problems.

    Exits 1 when the tape has errors (warnings alone exit 0).
    """
    report = _read(tape, template, cutoff, encoding, sheet)
    summary = report.summary()
    listed = report.problems if show_all else report.problems[:SHOWN]
    if as_json:
        echo_json(
            {
                **summary,
                "problems": [
                    {
                        "where": p.where,
                        "value": p.value,
                        "rule": p.rule,
                        "severity": p.severity,
                        "message": p.message,
                    }
                    for p in listed
                ],
            }
        )
    else:
        _print_summary(summary)
        for problem in listed:
            click.echo(f"  {problem.severity}: {problem}")
        hidden = summary["errors"] + summary["warnings"] - len(listed)
        if hidden > 0:
            click.echo(f"  ... and {hidden} more (see problems by rule; --all lists them)")
    if not report.ok:
        info(f"error: {tape}: {report.error_count} error(s) in the tape")
        raise SystemExit(1)


def _print_summary(summary: dict) -> None:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4%}"

    click.echo(f"tape      {summary['source']}")
    click.echo(
        f"template  {summary['template']}"
        + (f"   encoding {summary['encoding']}" if summary["encoding"] else "")
        + (f"   sheet {summary['sheet']}" if summary["sheet"] else "")
        + (f"   cutoff {summary['cutoff']}" if summary["cutoff"] else "")
    )
    click.echo(f"loans     {summary['loans']:,}")
    click.echo(f"balance   {summary['balance']:,.2f}")
    click.echo(f"WAC       {pct(summary['wac'])}")
    wam = summary["wam"]
    click.echo(f"WAM       {'n/a' if wam is None else f'{wam:.2f} months'}")
    click.echo(f"problems  {summary['errors']} error(s), {summary['warnings']} warning(s)")
    for rule, item in summary["problems_by_rule"].items():
        click.echo(f"  {rule:<32} {item['severity']:<8} {item['count']:>9,}")


@tape.command("convert")
@_tape_options
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file: .parquet, .csv, .xlsx or .json (format by extension).",
)
def convert(
    tape: Path,
    template: str,
    cutoff: str | None,
    encoding: str | None,
    sheet: str | None,
    output: Path,
) -> None:
    """Write TAPE as a canonical tape; refuses (exit 1) when the tape has errors."""
    from absstruct.report.frames import write_frame
    from absstruct.tape.ingest import tape_error

    report = _read(tape, template, cutoff, encoding, sheet)
    if not report.ok:
        raise tape_error(report)
    write_frame(report.frame, output, sheet="tape")
    info(
        f"wrote {len(report.frame):,} loans to {output}"
        + (f" ({report.warning_count} warning(s))" if report.warning_count else "")
    )


@tape.command("synth")
@click.option("--loans", "-n", required=True, type=click.IntRange(min=1), help="Number of loans.")
@click.option(
    "--profile",
    required=True,
    type=click.Choice(["cn_consumer", "us_auto", "mortgage"]),
    help="Export style: cn_consumer (Chinese headers), us_auto or mortgage (canonical).",
)
@click.option("--seed", required=True, type=int, help="Random seed (same seed, same tape).")
@click.option(
    "--cutoff",
    default="2026-06-30",
    show_default=True,
    metavar="DATE",
    help="Cut-off date the balances and remaining terms are as of.",
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Output file: .csv, .xlsx, .parquet or .json.",
)
def synth(loans: int, profile: str, seed: int, cutoff: str, output: Path) -> None:
    """Write a seeded synthetic tape (marked synthetic in its data_source column)."""
    from absstruct.report.frames import write_frame
    from absstruct.tape.synth import DEFAULT_CUTOFF, synth_tape

    at = parse_date_option(cutoff, option="--cutoff")
    frame = synth_tape(loans, profile=profile, seed=seed, cutoff=at or DEFAULT_CUTOFF)
    write_frame(frame, output, sheet="tape")
    info(f"wrote {len(frame):,} synthetic {profile} loans to {output}")
