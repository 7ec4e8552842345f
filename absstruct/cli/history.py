"""``absstruct history`` and ``absstruct backtest``: static-pool vintage curves and back-tests."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
import pandas as pd

from absstruct.cli._common import echo_json, info, lang_option, parse_date_option
from absstruct.errors import Problem

#: ``--by`` choices -> canonical tape column.
SEGMENTS: dict[str, str] = {"grade": "grade", "term": "original_term", "product": "product"}
# Diagnostics list this many warnings on stderr, then a count by rule.
SHOWN_WARNINGS = 5


def load_tape_for_history(path: str, template: str | None) -> pd.DataFrame:
    """Read and map ``path`` with the tape loader (``--template``)."""
    from absstruct.tape import load_tape

    kwargs = {"template": template} if template else {}
    return load_tape(path, **kwargs)


def _report_warnings(warnings: tuple[Problem, ...]) -> None:
    if not warnings:
        return
    for problem in warnings[:SHOWN_WARNINGS]:
        info(f"warning: {problem}")
    counts = pd.Series([p.rule for p in warnings]).value_counts()
    info(
        f"warning: {len(warnings)} in all ("
        + ", ".join(f"{rule}: {n}" for rule, n in counts.items())
        + ")"
    )


def _spec(by: str | None, vintage: str, chargeoff_lag: int, as_of: dt.date | None):
    from absstruct.analytics.history import HistorySpec

    return HistorySpec(
        by=SEGMENTS[by] if by else None,
        vintage=vintage,  # type: ignore[arg-type]
        chargeoff_lag=chargeoff_lag,
        as_of=as_of,
    )


def _pct(value: float) -> str:
    return "" if pd.isna(value) else f"{100 * value:6.2f}%"


def _wide(table: pd.DataFrame, measure: str) -> pd.DataFrame:
    wide = table.pivot_table(index=["segment", "vintage"], columns="age", values=measure)
    wide.columns = [f"m{int(age)}" for age in wide.columns]
    return wide.reset_index()


def _write_fit(assumptions, fitted, path: str) -> None:
    from absstruct.analytics.calibrate import assumptions_toml
    from absstruct.report.atomic import atomic_path

    with atomic_path(Path(path)) as tmp:
        tmp.write_text(assumptions_toml(assumptions, fitted=fitted), encoding="utf-8")
    info(f"wrote fitted assumptions to {path}")


def _is_workbook(path: str) -> bool:
    return Path(path).suffix.lower() == ".xlsx"


def _write_frames(frames: dict[str, pd.DataFrame], path: str, single: str) -> None:
    from absstruct.report.frames import write_frames

    suffix = Path(path).suffix.lower()
    # .csv and .parquet hold one table: the long table everything else pivots from.
    chosen = {single: frames[single]} if suffix in (".csv", ".parquet") else frames
    write_frames(chosen, path)
    info(f"wrote {', '.join(chosen)} to {path}")


TAPE = click.argument("tape", type=click.Path(dir_okay=False))
TEMPLATE = click.option(
    "--template", "-t", default=None, help="Tape mapping template name or TOML path."
)
BY = click.option(
    "--by", type=click.Choice(sorted(SEGMENTS)), default=None, help="Segment the curves by."
)
VINTAGE = click.option(
    "--vintage",
    type=click.Choice(["month", "quarter"]),
    default="month",
    show_default=True,
    help="Vintage by origination month or quarter.",
)
LAG = click.option(
    "--chargeoff-lag",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Months from the last payment to the inferred default (charge-off) month.",
)
OUTPUT = click.option(
    "-o",
    "--output",
    default=None,
    help="Write the tables to FILE (.xlsx: the workbook with charts; .json: every table; "
    ".csv, .parquet: the main one).",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
FIT_OUT = click.option(
    "--fit-out", default=None, help="Write the fitted curves as an assumptions TOML file."
)
CHARTS = click.option(
    "--charts",
    "charts_dir",
    default=None,
    type=click.Path(file_okay=False),
    help="Write PNG charts into this folder.",
)


@click.command("history")
@TAPE
@TEMPLATE
@BY
@VINTAGE
@LAG
@click.option(
    "--as-of", default=None, help="Observation date (YYYY-MM-DD); later outcomes are unseen."
)
@OUTPUT
@lang_option
@JSON
@FIT_OUT
@CHARTS
def history_command(
    tape: str,
    template: str | None,
    by: str | None,
    vintage: str,
    chargeoff_lag: int,
    as_of: str | None,
    output: str | None,
    lang: str,
    as_json: bool,
    fit_out: str | None,
    charts_dir: str | None,
) -> None:
    """Vintage curves, fitted default/prepayment/severity curves and lifetime defaults of TAPE.

    TAPE is loan-level history (origination, balance, term, rate, status, last payment
    date, principal received, recoveries).  Prints one line per vintage; the tables by
    months on book go to -o (as an .xlsx workbook: a sheet per measure with its chart).
    """
    from absstruct.analytics.calibrate import extrapolate_lifetime, fit_curves
    from absstruct.analytics.charts import VINTAGE_MEASURES
    from absstruct.analytics.history import (
        APPROXIMATIONS,
        load_history,
        vintage_summary,
        vintage_table,
    )

    spec = _spec(by, vintage, chargeoff_lag, parse_date_option(as_of, option="--as-of"))
    frame = load_tape_for_history(tape, template)
    history = load_history(frame, spec, source=tape)
    _report_warnings(history.warnings)
    fitted = fit_curves(history, fitted_on=Path(tape).name)
    table = vintage_table(history)
    summary = extrapolate_lifetime(vintage_summary(history), fitted)
    frames = {
        "vintage_summary": summary,
        "vintage_table": table,
        "fitted_summary": fitted.summary(),
        "fitted_curves": fitted.table(),
        **{m: _wide(table, m) for m in VINTAGE_MEASURES},
        "approximations": pd.DataFrame({"approximation": list(APPROXIMATIONS)}),
    }
    if output and _is_workbook(output):
        from absstruct.report.history_workbook import write_history_workbook

        write_history_workbook(
            output,
            summary=summary,
            table=table,
            fitted=fitted,
            spec=spec,
            source=Path(tape).name,
            lang=lang,
        )
        info(f"wrote the history workbook to {output}")
    elif output:
        _write_frames(frames, output, "vintage_table")
    if fit_out:
        from absstruct.analytics.calibrate import to_assumptions

        _write_fit(to_assumptions(fitted), fitted, fit_out)
    if charts_dir:
        from absstruct.analytics.charts import vintage_charts

        for path in vintage_charts(table, Path(charts_dir)):
            info(f"wrote {path}")
    if as_json:
        echo_json(
            {
                "vintages": summary.to_dict(orient="records"),
                "fitted": fitted.summary().to_dict(orient="records"),
                "approximations": list(APPROXIMATIONS),
            }
        )
        return
    click.echo(
        f"{'segment':>8} {'vintage':>8} {'loans':>6} {'original':>14} {'default':>8} "
        f"{'net loss':>8} {'prepaid':>8} {'lifetime':>8}  method"
    )
    for row in summary.itertuples(index=False):
        click.echo(
            f"{row.segment!s:>8} {row.vintage!s:>8} {row.loans:>6} {row.original_balance:>14,.0f} "
            f"{_pct(row.gross_default_rate)} {_pct(row.net_loss_rate)} "
            f"{_pct(row.prepayments / row.original_balance)} {_pct(row.lifetime_default_rate)}"
            f"  {row.lifetime_method}"
        )
    for curves in fitted.summary().itertuples(index=False):
        click.echo(
            f"fitted {curves.segment}: lifetime gross default "
            f"{_pct(curves.lifetime_default_fitted)}"
            f" (seasoned vintages {_pct(curves.lifetime_default_observed)}), severity "
            f"{_pct(curves.severity)}, {curves.loans} loans"
        )


@click.command("backtest")
@TAPE
@TEMPLATE
@click.option(
    "--train-until",
    required=True,
    help="Last origination month of the training vintages (YYYY-MM).",
)
@click.option(
    "--known-until",
    default=None,
    help="Observation date of the training history (YYYY-MM-DD); default: every outcome.",
)
@BY
@VINTAGE
@LAG
@OUTPUT
@lang_option
@JSON
@FIT_OUT
@CHARTS
def backtest_command(
    tape: str,
    template: str | None,
    train_until: str,
    known_until: str | None,
    by: str | None,
    vintage: str,
    chargeoff_lag: int,
    output: str | None,
    lang: str,
    as_json: bool,
    fit_out: str | None,
    charts_dir: str | None,
) -> None:
    """Fit curves on vintages up to --train-until, project later vintages, compare with actuals.

    Prints projected vs actual lifetime principal collected, defaults, recoveries and net
    loss (totals, then net loss by vintage); every table goes to -o (as an .xlsx workbook:
    with charts of net loss by vintage and of actual vs projected curves by age).
    """
    from absstruct.analytics.backtest import backtest, parse_month
    from absstruct.analytics.history import APPROXIMATIONS

    until = parse_month(train_until)
    known = parse_date_option(known_until, option="--known-until")
    spec = _spec(by, vintage, chargeoff_lag, None)
    frame = load_tape_for_history(tape, template)
    result = backtest(frame, spec=spec, train_until=until, known_until=known, source=tape)
    _report_warnings(result.warnings)
    frames = {
        **result.frames(),
        "approximations": pd.DataFrame({"approximation": list(APPROXIMATIONS)}),
    }
    if output and _is_workbook(output):
        from absstruct.report.history_workbook import write_backtest_workbook

        write_backtest_workbook(
            result, output, source=Path(tape).name, known_until=known, lang=lang
        )
        info(f"wrote the back-test workbook to {output}")
    elif output:
        _write_frames(frames, output, "backtest_errors")
    if fit_out:
        _write_fit(result.assumptions, result.fitted, fit_out)
    if charts_dir:
        from absstruct.analytics.charts import backtest_charts

        for path in backtest_charts(result.errors, result.curves, Path(charts_dir)):
            info(f"wrote {path}")
    if as_json:
        echo_json(
            {
                "train_until": until.isoformat(),
                "totals": result.totals.to_dict(orient="records"),
                "vintages": result.errors.to_dict(orient="records"),
                "approximations": list(APPROXIMATIONS),
            }
        )
        return
    test_loans = int(result.errors["loans"].sum())
    click.echo(
        f"fitted on loans originated up to {until:%Y-%m}; projected {test_loans} later loans "
        "from origination"
    )
    click.echo(
        f"{'metric':<20} {'actual':>16} {'projected':>16} {'error':>9} {'mean |vintage|':>14}"
        "  (% of original)"
    )
    for row in result.totals.itertuples(index=False):
        click.echo(
            f"{row.metric:<20} {row.actual:>16,.0f} {row.projected:>16,.0f} "
            f"{_pct(row.error_pct_of_original):>9} {_pct(row.mean_abs_vintage_error_pct):>14}  "
            f"({_pct(row.actual_pct_of_original).strip()} vs "
            f"{_pct(row.projected_pct_of_original).strip()})"
        )
    click.echo(f"{'segment':>8} {'vintage':>8} {'loans':>6} {'net loss':>9} {'projected':>9}")
    for row in result.errors.itertuples(index=False):
        click.echo(
            f"{row.segment!s:>8} {row.vintage!s:>8} {row.loans:>6} "
            f"{_pct(row.actual_net_loss / row.original_balance):>9} "
            f"{_pct(row.projected_net_loss / row.original_balance):>9}"
        )
