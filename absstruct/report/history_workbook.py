"""The static-pool history and back-test workbooks, in English or Chinese, with native charts.

:func:`write_history_workbook` lays out what ``absstruct history -o history.xlsx`` writes:
Summary (analysis facts, the vintage summary, the fitted curves by segment, the
approximations), one sheet per vintage measure (cumulative gross default, net loss,
prepayment, pool factor) with the vintage x months-on-book table and a line chart of the
curves, Fitted curves (MDR/CDR/SMM/CPR/default timing by age, with charts) and the
vintage-by-age long table.  :func:`write_backtest_workbook` writes ``absstruct backtest
-o backtest.xlsx``: Summary (headline errors), By vintage (errors with a column chart of
actual vs projected net loss) and Curves by age (actual vs projected, one chart a vintage).

A chart with many monthly vintages is unreadable: it draws every n-th vintage, counted back
from the newest (:func:`chart_vintages`), and its title says which; the tables keep all.
Labels come from :mod:`absstruct.report.labels`; the numbers are the analytics' own tables.

Examples
--------
>>> chart_vintages([f"2020-{m:02d}" for m in range(1, 13)], max_series=4)
(['2020-03', '2020-06', '2020-09', '2020-12'], 3)
>>> column_label("error_net_loss_pct_of_original", "en")
'Error net loss, % of original'
>>> column_label("projected_cum_net_loss", "zh")
'预测累计净损失率'
"""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from absstruct.report.labels import LABELS, check_lang, label
from absstruct.report.xlsx import Chart, KeyValues, Note, Sheet, Table, unique_labels, write_xlsx

#: Vintage measures, one sheet each, in this order (columns of the vintage table).
MEASURES: tuple[str, ...] = ("cum_gross_default", "cum_net_loss", "cum_prepayment", "pool_factor")
#: At most this many vintages (series) on one vintage-curve chart.
MAX_SERIES = 10
#: At most this many back-test vintages get their own actual-vs-projected chart.
MAX_BACKTEST_CHARTS = 6
# A category axis labels about this many vintages; more and the labels overlap.
AXIS_LABELS = 24

_MONEY = {
    "original_balance",
    "performing_balance",
    "scheduled_principal",
    "prepayments",
    "defaults",
    "recoveries",
    "recovery_fees",
    "net_loss",
    "principal_collected",
    "net_recoveries",
    "actual",
    "projected",
    "error",
}
_PERCENT = {
    *MEASURES,
    "gross_default_rate",
    "net_loss_rate",
    "severity",
    "lifetime_default_rate",
    "lifetime_default_observed",
    "lifetime_default_fitted",
    "default_timing",
    "default_timing_cum",
    "mean_abs_vintage_error_pct",
}
_RATES = {"mdr", "smm", "cdr", "cpr"}
_COUNTS = {"loans", "loans_performing", "months_observed", "reliable_ages", "recovery_lag"}
_PREFIXES = ("actual", "projected", "error")
_PCT_SUFFIX = "_pct_of_original"


def _history_key(column: str) -> str:
    return f"history.{column}" if f"history.{column}" in LABELS else column


def column_label(column: str, lang: str = "en") -> str:
    """The header of a history or back-test column (``actual_defaults`` -> ``Actual defaults``).

    Back-test recoveries are net of recovery fees and say so.
    """
    if column.endswith(_PCT_SUFFIX) and column != _PCT_SUFFIX:
        inner = column_label(column[: -len(_PCT_SUFFIX)], lang)
        return label("history.pct_of", lang).format(x=inner)
    for prefix in _PREFIXES:
        if column.startswith(prefix + "_"):
            rest = column[len(prefix) + 1 :]
            inner = column_label("net_recoveries" if rest == "recoveries" else rest, lang)
            if lang == "en":
                inner = inner[:1].lower() + inner[1:]
            return label(f"history.{prefix}_of", lang).format(x=inner)
    return label(_history_key(column), lang)


def column_kind(column: str) -> str | None:
    """Number format kind of a history or back-test column (``None``: inferred)."""
    if column.endswith(_PCT_SUFFIX):
        return "percent"
    for prefix in _PREFIXES:
        if column.startswith(prefix + "_"):
            return column_kind(column[len(prefix) + 1 :])
    if column in _MONEY:
        return "money"
    if column in _PERCENT:
        return "percent"
    if column in _RATES:
        return "rate"
    if column in _COUNTS:
        return "count"
    if column == "age":
        return "int"
    return None


def _values(series: pd.Series, lang: str) -> list[str]:
    """Text values as labels (``all``, lifetime methods, metric names); others unchanged.

    Back-test metrics are named as their columns are (recoveries there are net of fees).
    """
    metric = series.name == "metric"
    out = []
    for value in series.tolist():
        text = str(value)
        if metric:
            out.append(column_label("net_recoveries" if text == "recoveries" else text, lang))
        elif text == "all":
            out.append(label("history.all", lang))
        elif f"history.{text}" in LABELS:
            out.append(column_label(text, lang))
        else:
            out.append(text)
    return out


def localized_table(
    name: str, frame: pd.DataFrame, lang: str, *, title: str | None = None
) -> Table:
    """``frame`` as a workbook table: labelled headers, labelled words, formats by column."""
    out = frame.copy()
    for column in out.columns:
        if pd.api.types.is_bool_dtype(out[column].dtype):
            out[column] = [label("true" if v else "false", lang) for v in out[column].tolist()]
        elif column in ("segment", "lifetime_method", "metric"):
            out[column] = _values(out[column], lang)
    labels = unique_labels([column_label(str(c), lang) for c in out.columns])
    kinds = {
        new: kind
        for original, new in zip(out.columns, labels, strict=True)
        if (kind := column_kind(str(original))) is not None
        and not pd.api.types.is_string_dtype(out[original].dtype)
        and not pd.api.types.is_object_dtype(out[original].dtype)
    }
    out.columns = labels
    return Table(name=name, frame=out, title=title, kinds=kinds)


def _nth(step: int) -> str:
    if 10 <= step % 100 <= 20:
        return f"{step}th"
    return f"{step}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(step % 10, 'th') }"


def chart_vintages(vintages: Sequence[str], max_series: int = MAX_SERIES) -> tuple[list[str], int]:
    """The vintages a chart draws and the step: every step-th, counted back from the newest.

    The newest vintage is always drawn; at most ``max_series`` are.
    """
    ordered = list(vintages)
    step = max(1, math.ceil(len(ordered) / max(max_series, 1)))
    return ordered[::-1][::step][::-1], step


def _subset(shown: int, total: int, step: int, lang: str, *, short: bool) -> str:
    if step == 1:
        return label("history.subset_all", lang).format(total=total)
    key = "history.subset_short" if short else "history.subset_every"
    return label(key, lang).format(nth=_nth(step), step=step, shown=shown, total=total)


def vintage_pivot(table: pd.DataFrame, measure: str, lang: str = "en") -> pd.DataFrame:
    """Segment, vintage and one column per month on book of ``measure`` (blank past the age
    a vintage has reached), with the labelled month headers."""
    wide = table.pivot(index=["segment", "vintage"], columns="age", values=measure)
    wide = wide.sort_index(axis=1)
    wide.columns = [label("history.month_column", lang).format(age=int(a)) for a in wide.columns]
    return wide.reset_index()


def _measure_sheet(table: pd.DataFrame, measure: str, lang: str) -> Sheet:
    """One vintage measure: per segment, the chart data (months on book x drawn vintages)
    with its line chart beside it; then every vintage by months on book."""
    name = column_label(measure, lang)
    unit = label("history.pct_of_original", lang)
    age_label = column_label("age", lang)
    segments = list(dict.fromkeys(table["segment"].astype(str)))
    segmented = len(segments) > 1 or segments != ["all"]
    charts, subsets, chart_tables = [], [], []
    for index, segment in enumerate(segments, start=1):
        part = table[table["segment"].astype(str) == segment]
        vintages = list(dict.fromkeys(part["vintage"].astype(str)))
        picked, step = chart_vintages(vintages)
        # Each segment its own age axis: 36-month curves are not drawn on a 60-month one.
        ages = np.arange(1, int(part["age"].to_numpy().max(initial=1)) + 1)
        data: dict[str, Any] = {age_label: ages}
        for vintage in picked:
            rows = part[part["vintage"].astype(str) == vintage]
            values = np.full(len(ages), np.nan)
            values[rows["age"].to_numpy(dtype=int) - 1] = rows[measure].to_numpy(dtype=float)
            data[vintage] = values
        frame = pd.DataFrame(data)
        shown = _subset(len(picked), len(vintages), step, lang, short=True)
        full = _subset(len(picked), len(vintages), step, lang, short=False)
        where = _values(pd.Series([segment]), lang)[0]
        name_of_table = f"{measure}_chart_{index}"
        chart_tables.append(
            Table(
                name=name_of_table,
                frame=frame,
                title=label("history.chart_data", lang).format(
                    subset=f"{where}: {full}" if segmented else full
                ),
                kinds={column: "percent" for column in frame.columns[1:]} | {age_label: "int"},
            )
        )
        charts.append(
            Chart(
                kind="line",
                table=name_of_table,
                x=age_label,
                y=tuple(picked),
                # One line of title leaves the plot its height; the subset goes on the axis.
                title=f"{name} — {where}" if segmented else name,
                x_title=f"{age_label}; {shown}",
                y_title=unit,
                y_kind="percent",
                label_every=6 if len(ages) > 24 else 1,
            )
        )
        subsets.append(f"{where}: {full}" if segmented else full)
    pivot = localized_table(
        measure,
        vintage_pivot(table, measure, lang),
        lang,
        title=label("history.pivot", lang).format(measure=name),
    )
    pivot = Table(
        name=pivot.name,
        frame=pivot.frame,
        title=pivot.title,
        kinds={column: "percent" for column in pivot.frame.columns[2:]},
    )
    if not chart_tables:
        return Sheet(
            title=name[:31],
            blocks=[
                Note(text=f"{name} ({unit})", heading=True),
                Note(text=label("history.no_ages", lang)),
            ],
        )
    heading = f"{name} ({unit}): " + "; ".join(subsets)
    widest = max(len(t.frame.columns) for t in chart_tables)
    return Sheet(
        title=name[:31],
        blocks=[Note(text=heading, heading=True), *chart_tables, pivot],
        charts=charts,
        chart_column=widest + 2,
        chart_row=3,
        freeze=False,
    )


def _longest_first(frame: pd.DataFrame) -> pd.DataFrame:
    """Segments ordered longest curve first: a split chart takes its categories (ages) from
    the first block."""
    sizes = frame.groupby("segment", sort=False)["age"].transform("size")
    order = np.lexsort((np.arange(len(frame)), -sizes.to_numpy()))
    return frame.iloc[order].reset_index(drop=True)


def _fitted_sheet(fitted: Any, lang: str) -> Sheet:
    curves = _longest_first(fitted.table())
    table = localized_table(
        "fitted_curves", curves, lang, title=label("history.fitted_curves", lang)
    )
    age_label, segment_label = column_label("age", lang), column_label("segment", lang)
    charts = [
        Chart(
            kind="line",
            table="fitted_curves",
            x=age_label,
            y=(column_label(column, lang),),
            split_by=segment_label,
            title=label(title, lang),
            x_title=age_label,
            y_kind="percent",
            label_every=6 if len(curves) > 24 else 1,
        )
        for column, title in (
            ("cdr", "history.chart_cdr"),
            ("cpr", "history.chart_cpr"),
            ("default_timing_cum", "history.chart_timing"),
        )
    ]
    return Sheet(title=label("sheet.history_fitted", lang), blocks=[table], charts=charts)


def _facts(pairs: Sequence[tuple[str, Any]], lang: str, title: str) -> KeyValues:
    kinds = {
        label(key, lang): kind
        for key, value in pairs
        if (kind := column_kind(key.removeprefix("history."))) is not None
        and not isinstance(value, str)
    }
    return KeyValues(
        title=label(title, lang),
        pairs=[(label(key, lang), value) for key, value in pairs],
        kinds=kinds,
    )


def _approximations(approximations: Sequence[str], lang: str) -> KeyValues:
    return KeyValues(
        title=label("history.approximations", lang),
        pairs=[(str(i), text) for i, text in enumerate(approximations, start=1)],
    )


def history_sheets(
    *,
    summary: pd.DataFrame,
    table: pd.DataFrame,
    fitted: Any,
    spec: Any,
    source: str = "",
    approximations: Sequence[str] | None = None,
    lang: str = "en",
) -> list[Sheet]:
    """The history workbook's sheets.

    Parameters
    ----------
    summary : DataFrame
        :func:`~absstruct.analytics.history.vintage_summary`, with the lifetime columns of
        :func:`~absstruct.analytics.calibrate.extrapolate_lifetime`.
    table : DataFrame
        :func:`~absstruct.analytics.history.vintage_table` (long: segment, vintage, age).
    fitted : FittedCurves
    spec : HistorySpec
    source : str
        The tape's name, shown in the Summary heading.
    approximations : sequence of str, optional
        Default: :data:`absstruct.analytics.history.APPROXIMATIONS`.
    lang : {"en", "zh"}
    """
    from absstruct.analytics.history import APPROXIMATIONS

    lang = check_lang(lang)
    as_of = spec.as_of if spec.as_of is not None else label("history.every_outcome", lang)
    facts = [
        ("history.source", source),
        ("history.vintage_unit", label(f"history.{spec.vintage}", lang)),
        ("history.segment_by", spec.by or label("history.none", lang)),
        ("history.chargeoff_lag", int(spec.chargeoff_lag)),
        ("history.as_of", as_of),
        ("loans", int(summary["loans"].sum())),
        ("original_balance", float(summary["original_balance"].sum())),
    ]
    heading = label("history.title", lang) + (f": {source}" if source else "")
    sheets = [
        Sheet(
            title=label("sheet.summary", lang),
            blocks=[
                Note(text=heading, heading=True),
                _facts(facts, lang, "history.analysis"),
                localized_table(
                    "vintage_summary", summary, lang, title=label("history.vintage_summary", lang)
                ),
                localized_table(
                    "fitted_summary",
                    fitted.summary(),
                    lang,
                    title=label("history.fitted_summary", lang),
                ),
                _approximations(approximations or APPROXIMATIONS, lang),
            ],
        )
    ]
    sheets += [_measure_sheet(table, m, lang) for m in MEASURES]
    sheets.append(_fitted_sheet(fitted, lang))
    sheets.append(
        Sheet(
            title=label("sheet.history_table", lang),
            blocks=[
                localized_table(
                    "vintage_table", table, lang, title=label("history.vintage_table", lang)
                )
            ],
        )
    )
    return sheets


def write_history_workbook(path: str | os.PathLike[str], **sheets_of: Any) -> None:
    """Write the history workbook (the keywords of :func:`history_sheets`), atomically."""
    write_xlsx(history_sheets(**sheets_of), path)


def _segmented(frame: pd.DataFrame) -> bool:
    segments = frame["segment"].astype(str)
    return bool(segments.nunique() > 1 or (segments != "all").any())


def _keys(frame: pd.DataFrame) -> list[str]:
    """Vintage labels, prefixed by the segment when the history is segmented."""
    vintages = frame["vintage"].astype(str)
    if _segmented(frame):
        return (frame["segment"].astype(str) + " " + vintages).tolist()
    return vintages.tolist()


def _by_vintage_sheet(errors: pd.DataFrame, lang: str) -> Sheet:
    key = "key" if _segmented(errors) else "vintage"
    compact = pd.DataFrame(
        {
            key: _keys(errors),
            "loans": errors["loans"].to_numpy(),
            "original_balance": errors["original_balance"].to_numpy(dtype=float),
        }
    )
    original = errors["original_balance"].to_numpy(dtype=float)
    for prefix in ("actual", "projected", "error"):
        # Short headers: they are the chart's legend; the table title gives the unit.
        compact[prefix] = errors[f"{prefix}_net_loss"].to_numpy(dtype=float) / original
    lead = localized_table(
        "backtest_net_loss", compact, lang, title=label("history.backtest_net_loss", lang)
    )
    lead = Table(
        name=lead.name,
        frame=lead.frame,
        title=lead.title,
        kinds={**lead.kinds, **{column_label(p, lang): "percent" for p in _PREFIXES}},
    )
    chart = Chart(
        kind="column",
        table="backtest_net_loss",
        x=column_label(key, lang),
        y=(column_label("actual", lang), column_label("projected", lang)),
        title=label("history.chart_backtest_net_loss", lang),
        x_title=column_label("vintage", lang),
        y_title=label("history.pct_of_original", lang),
        y_kind="percent",
        label_every=max(1, math.ceil(len(compact) / AXIS_LABELS)),
    )
    return Sheet(
        title=label("sheet.history_by_vintage", lang),
        blocks=[
            lead,
            localized_table(
                "backtest_errors", errors, lang, title=label("history.backtest_errors", lang)
            ),
        ],
        charts=[chart],
        chart_column=len(compact.columns) + 2,
        freeze=False,
    )


def _curves_sheet(curves: pd.DataFrame, lang: str) -> Sheet:
    keys = _keys(curves)
    ordered = list(dict.fromkeys(keys))
    picked, _step = chart_vintages(ordered, MAX_BACKTEST_CHARTS)
    age_label = column_label("age", lang)
    ages = np.arange(1, int(curves["age"].to_numpy().max(initial=1)) + 1)
    data: dict[str, Any] = {age_label: ages}
    charts = []
    key_series = pd.Series(keys, index=curves.index)
    for key in picked:
        rows = curves[key_series == key]
        columns = []
        for prefix in ("actual", "projected"):
            values = np.full(len(ages), np.nan)
            values[rows["age"].to_numpy(dtype=int) - 1] = rows[f"{prefix}_cum_net_loss"]
            column = f"{key} {label(f'history.{prefix}', lang)}"
            data[column] = values
            columns.append(column)
        charts.append(
            Chart(
                kind="line",
                table="backtest_curves_chart",
                x=age_label,
                y=tuple(columns),
                title=label("history.chart_backtest_curve", lang).format(vintage=key),
                x_title=age_label,
                y_title=label("history.pct_of_original", lang),
                y_kind="percent",
                label_every=6 if len(ages) > 24 else 1,
            )
        )
    chart_data = pd.DataFrame(data)
    subset = _subset(len(picked), len(ordered), _step, lang, short=False)
    return Sheet(
        title=label("sheet.history_curves", lang),
        blocks=[
            Note(text=f"{label('history.backtest_curves', lang)}: {subset}", heading=True),
            Table(
                name="backtest_curves_chart",
                frame=chart_data,
                title=label("history.chart_data", lang).format(subset=subset),
                kinds={c: "percent" for c in chart_data.columns[1:]} | {age_label: "int"},
            ),
            localized_table(
                "backtest_curves", curves, lang, title=label("history.backtest_curves", lang)
            ),
        ],
        charts=charts,
        chart_column=len(chart_data.columns) + 2,
        chart_row=3,
        charts_per_row=2,
        freeze=False,
    )


def backtest_sheets(
    result: Any,
    *,
    source: str = "",
    known_until: dt.date | None = None,
    approximations: Sequence[str] | None = None,
    lang: str = "en",
) -> list[Sheet]:
    """The back-test workbook's sheets for a back-test result (``BacktestResult``).

    ``known_until`` is the training observation date the back-test was given (shown only).
    """
    from absstruct.analytics.history import APPROXIMATIONS

    lang = check_lang(lang)
    facts = [
        ("history.source", source),
        ("history.train_until", f"{result.train_until:%Y-%m}"),
        ("history.known_until", known_until or label("history.every_outcome", lang)),
        ("history.segment_by", result.fitted.by or label("history.none", lang)),
        ("history.chargeoff_lag", int(result.fitted.chargeoff_lag)),
        ("history.test_loans", int(result.errors["loans"].sum())),
        ("history.test_balance", float(result.errors["original_balance"].sum())),
    ]
    heading = label("history.backtest_title", lang) + (f": {source}" if source else "")
    summary = Sheet(
        title=label("sheet.summary", lang),
        blocks=[
            Note(text=heading, heading=True),
            _facts(facts, lang, "history.analysis"),
            localized_table(
                "backtest_totals", result.totals, lang, title=label("history.backtest_totals", lang)
            ),
            localized_table(
                "fitted_summary",
                result.fitted.summary(),
                lang,
                title=label("history.fitted_summary", lang),
            ),
            _approximations(approximations or APPROXIMATIONS, lang),
        ],
    )
    return [
        summary,
        _by_vintage_sheet(result.errors, lang),
        _curves_sheet(result.curves, lang),
        _fitted_sheet(result.fitted, lang),
    ]


def write_backtest_workbook(result: Any, path: str | os.PathLike[str], **options: Any) -> None:
    """Write the back-test workbook (options of :func:`backtest_sheets`), atomically."""
    write_xlsx(backtest_sheets(result, **options), path)


__all__ = [
    "MAX_BACKTEST_CHARTS",
    "MAX_SERIES",
    "MEASURES",
    "backtest_sheets",
    "chart_vintages",
    "column_kind",
    "column_label",
    "history_sheets",
    "localized_table",
    "vintage_pivot",
    "write_backtest_workbook",
    "write_history_workbook",
]
