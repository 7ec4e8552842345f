"""The investor workbook and the pool workbook, in English or Chinese.

:func:`write_workbook` lays a run out the way a structuring desk sends it: Summary,
Charts, Pool, Collateral, Tranches, Waterfall, Accounts & triggers, Scenarios (with a
grid) and Assumptions.  Every block is an Excel table with number formats per column;
labels come from :mod:`absstruct.report.labels`, so ``lang="zh"`` changes the words and
never the numbers.  :func:`write_pool_workbook` writes the pool selection alone
(Summary, Strats, Exclusions) for ``absstruct pool -o pool.xlsx``.

Examples
--------
>>> import pathlib, tempfile
>>> from openpyxl import load_workbook
>>> from absstruct.report.sample import sample_report
>>> path = pathlib.Path(tempfile.mkdtemp()) / "deal.xlsx"
>>> write_workbook(sample_report(n_periods=12), path, lang="zh")
>>> load_workbook(path).sheetnames[:3]
['概要', '图表', '资产池']
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from absstruct.report.data import COLUMN_KINDS, PoolReport, ReportData, report_data
from absstruct.report.from_result import STEP_KINDS
from absstruct.report.labels import check_lang, label, tranche_label
from absstruct.report.xlsx import Chart, KeyValues, Note, Sheet, Table, unique_labels, write_xlsx

# Pool columns stacked in the "collections by type" chart, in this order when present.
COLLECTION_COLUMNS: tuple[str, ...] = (
    "actual_amortization",
    "voluntary_prepayments",
    "principal_recovery",
    "actual_interest",
    "fee_income",
)
# Scenario-grid tables (columns of the tranche_metrics table): table name, title label.
GRID_MEASURES: dict[str, tuple[str, str]] = {
    "yield": ("grid_yield", "block.grid_yield"),
    "wal": ("grid_wal", "block.grid_wal"),
    "principal_loss_pct": ("grid_loss_pct", "block.grid_loss"),
    "max_interest_shortfall": ("grid_shortfall", "block.grid_shortfall"),
    "residual_irr": ("grid_residual_irr", "block.grid_residual_irr"),
}
# Above this many scenarios the yield chart is drawn against the scenario number (the
# "No." column of the Scenarios tables): long scenario names would overlap the plot.
CHART_NAMED_SCENARIOS = 12
# ... and labels about this many ticks on its axis.
CHART_AXIS_LABELS = 10
# The Summary sheet's tranche table: what an investor reads, in this order (columns of
# the report's tranche table; spreads only when priced against a benchmark or curve).
SUMMARY_TRANCHE_COLUMNS: tuple[str, ...] = (
    "tranche",
    "size",
    "pct_pool",
    "coupon",
    "credit_enhancement",
    "quote",
    "price",
    "accrued",
    "yield",
    "flat_spread",
    "i_spread",
    "z_spread",
    "wal",
    "first_principal_date",
    "last_principal_date",
    "expected_final_date",
    "modified_duration",
    "convexity",
    "principal_loss_pct",
    "max_interest_shortfall",
)
_SPREADS = ("flat_spread", "i_spread", "z_spread")
# Trigger metrics drawn against the pool's cumulative loss.
LOSS_METRICS: tuple[str, ...] = ("cumulative_loss", "cumulative_net_loss")
_MONEY_KEYS = {"balance", "current_balance", "original_balance", "original_pool_balance"}


def _localize(
    frame: pd.DataFrame, lang: str, *, tranche_columns: Sequence[str] = ("tranche",)
) -> tuple[pd.DataFrame, dict[str, str]]:
    """Rename columns to labels, translate tranche names and booleans; return kinds too."""
    out = frame.copy()
    kinds: dict[str, str] = {}
    for column in tranche_columns:
        if column in out.columns:
            out[column] = _relabel(out[column], lambda v: tranche_label(str(v), lang))
    for column, dtype in out.dtypes.items():
        if pd.api.types.is_bool_dtype(dtype):
            out[column] = _relabel(out[column], lambda v: label("true" if v else "false", lang))
    labels = unique_labels([label(str(c), lang) for c in out.columns])
    dtypes = list(out.dtypes)
    for index, (original, new) in enumerate(zip(out.columns, labels, strict=True)):
        dtype = dtypes[index]
        kind = COLUMN_KINDS.get(str(original)) or (
            "money" if pd.api.types.is_float_dtype(dtype) else None
        )
        # An object column is text when its values are: ask the column, not its dtype.
        textual = pd.api.types.is_string_dtype(
            out.iloc[:, index] if pd.api.types.is_object_dtype(dtype) else dtype
        )
        if kind and not textual:
            kinds[new] = kind
    out.columns = labels
    return out, kinds


def _relabel(series: pd.Series, relabel: Callable[[Any], str]) -> list[str]:
    """``relabel`` applied to every value, computed once per distinct value."""
    codes, uniques = pd.factorize(series)
    labels = [relabel(value) for value in list(uniques)]
    out = [labels[code] for code in codes.tolist()]
    missing = np.flatnonzero(codes < 0).tolist()
    if missing:
        values = list(series)  # missing values as iteration gives them (None, nan, NaT)
        for i in missing:
            out[i] = relabel(values[i])
    return out


def _table(
    name: str, frame: pd.DataFrame, lang: str, *, title: str | None = None, **options: Any
) -> Table:
    localized, kinds = _localize(frame, lang)
    return Table(
        name=name,
        frame=localized,
        title=label(title, lang) if title else None,
        kinds=kinds,
        **options,
    )


def _rate_table(name: str, frame: pd.DataFrame, lang: str, *, title: str) -> Table:
    """A table whose unlabelled float columns are rates (trigger thresholds), not money."""
    table = _table(name, frame, lang, title=title)
    kinds = dict(table.kinds)
    for column in table.frame.columns:
        if kinds.get(str(column)) == "money":
            kinds[str(column)] = "rate"
    return Table(name=table.name, frame=table.frame, title=table.title, kinds=kinds)


def _pairs(mapping: Mapping[str, Any], lang: str) -> tuple[list[tuple[str, Any]], dict[str, str]]:
    pairs, kinds = [], {}
    for key, value in _flatten(mapping, lang).items():
        text = label(key, lang) if key in mapping else key
        if isinstance(value, bool):
            value = label("true" if value else "false", lang)
        pairs.append((text, value))
        kind = COLUMN_KINDS.get(key) or ("money" if key in _MONEY_KEYS else None)
        if key not in mapping:
            kind = "percent"  # a line of a flattened mix
        if kind == "int" and isinstance(value, float):
            kind = "number"
        if kind and not isinstance(value, str):
            kinds[text] = kind
    return pairs, kinds


def _flatten(mapping: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Nested shares (``grade_mix: {"A": 0.3}``) become one line each, as percentages."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            for name, share in value.items():
                out[f"{label(key, lang)}: {name}"] = share
        else:
            out[key] = value
    return out


def _key_values(title: str, mapping: Mapping[str, Any], lang: str) -> KeyValues:
    pairs, kinds = _pairs(mapping, lang)
    return KeyValues(title=label(title, lang), pairs=pairs, kinds=kinds)


def _trigger_status(data: ReportData, lang: str) -> dict[str, Any]:
    status: dict[str, Any] = {}
    for name, group in data.triggers.groupby("trigger", sort=False):
        breached = group.loc[group["breached"].astype(bool), "period"]
        status[str(name)] = (
            f"{label('fail', lang)} ({label('period', lang)} {int(breached.iloc[0])})"
            if len(breached)
            else label("pass", lang)
        )
    return status


def summary_tranche_frame(tranches: pd.DataFrame) -> pd.DataFrame:
    """The Summary sheet's tranche table: :data:`SUMMARY_TRANCHE_COLUMNS` that are present
    (a spread only when some tranche has one), dates as dates; values unchanged."""
    columns = [
        c
        for c in SUMMARY_TRANCHE_COLUMNS
        if c in tranches.columns and not (c in _SPREADS and tranches[c].isna().all())
    ]
    frame = tranches[columns].copy()
    for column in columns:
        if COLUMN_KINDS.get(column) == "date":
            frame[column] = pd.to_datetime(frame[column])
    return frame


def _summary_sheet(data: ReportData, lang: str) -> Sheet:
    deal = {k: v for k, v in data.deal.items() if k != "deal_name"}
    blocks: list[Any] = [
        Note(text=str(data.deal.get("deal_name", "")), heading=True),
        _key_values("block.deal", deal, lang),
        _key_values("block.scenario", data.scenario, lang),
    ]
    if data.pool is not None:
        blocks.append(_key_values("block.pool_summary", data.pool.summary, lang))
    if data.pricing:
        blocks.append(_key_values("block.pricing", data.pricing, lang))
    blocks.append(
        _table(
            "tranche_summary",
            summary_tranche_frame(data.tranches),
            lang,
            title="block.tranches",
        )
    )
    status = _trigger_status(data, lang)
    if status:
        blocks.append(
            KeyValues(title=label("block.triggers", lang), pairs=list(status.items()), kinds={})
        )
    residual = {"residual_irr": data.residual_irr, "residual_multiple": data.residual_multiple}
    if data.pricing.get("residual_irr_convention"):
        residual["residual_irr_convention"] = data.pricing["residual_irr_convention"]
    blocks.append(_key_values("block.residual", residual, lang))
    return Sheet(title=label("sheet.summary", lang), blocks=blocks)


def _pool_blocks(pool: PoolReport, lang: str, *, with_loans: bool) -> list[Any]:
    blocks: list[Any] = [_key_values("block.pool_summary", pool.summary, lang)]
    for index, (name, frame) in enumerate(pool.strats.items(), start=1):
        table = _table(f"strat_{index}", frame, lang)
        blocks.append(Table(**{**table.__dict__, "title": f"{label('strat', lang)}: {name}"}))
    blocks.append(
        _table("exclusion_summary", pool.exclusion_table(), lang, title="block.exclusions")
    )
    if with_loans:
        blocks.append(_table("excluded_loans", pool.exclusions, lang, title="block.excluded_loans"))
    return blocks


def _step_label(step: str, lang: str) -> str:
    """``"A-1 interest"`` in ``lang``: the recipient's name as written, its kind translated."""
    for kind in STEP_KINDS:
        if step.endswith(f" {kind}"):
            return f"{step[: -len(kind) - 1]} {label(f'step.{kind}', lang)}"
    return step


def _wide_waterfall(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per period, one column per step ("1. Servicing"), in priority order."""
    steps = frame[["priority", "step"]].drop_duplicates().sort_values("priority", kind="stable")
    headers = [f"{int(p)}. {s}" for p, s in zip(steps["priority"], steps["step"], strict=True)]
    wide = _wide_waterfall_by_position(frame, steps, headers)
    if wide is not None:
        return wide
    # Repeated or missing keys: let pandas sum them (compensated sums, its NaN rules).
    keyed = frame.assign(
        _col=[f"{int(p)}. {s}" for p, s in zip(frame["priority"], frame["step"], strict=True)]
    )
    wide = keyed.pivot_table(
        index=["period", "date"], columns="_col", values="paid", aggfunc="sum", sort=False
    )
    wide = wide.reindex(columns=headers).reset_index()
    wide.columns.name = None
    return wide.sort_values("period", kind="stable").reset_index(drop=True)


def _wide_waterfall_by_position(
    frame: pd.DataFrame, steps: pd.DataFrame, headers: list[str]
) -> pd.DataFrame | None:
    """The wide waterfall by placing each payment, when every (period, step) is paid once.

    The ledger's usual shape; ``None`` otherwise (then :func:`_wide_waterfall` pivots).
    """
    keys = frame[["period", "date", "priority", "step"]]
    if (
        keys.isna().to_numpy().any()
        or not pd.api.types.is_float_dtype(frame["paid"])
        or len(set(headers)) != len(headers)
    ):
        return None
    rows, periods = pd.factorize(frame["period"].to_numpy())
    first_rows = np.unique(rows, return_index=True)[1]
    dates = frame["date"].to_numpy()
    if not (dates[first_rows][rows] == dates).all():
        return None  # one period on two dates: leave the order to the pivot
    step_codes, priorities = pd.factorize(frame["priority"].to_numpy())
    names = frame["step"].to_numpy(dtype=object)
    if not (names[np.unique(step_codes, return_index=True)[1]][step_codes] == names).all():
        return None  # one priority for two steps
    column_of = {p: i for i, p in enumerate(steps["priority"].tolist())}
    columns = np.array([column_of[p] for p in priorities.tolist()], dtype=np.int64)[step_codes]
    cells = rows * len(headers) + columns
    if len(np.unique(cells)) != len(cells):
        return None
    table = np.full((len(periods), len(headers)), np.nan)
    table.flat[cells] = frame["paid"].to_numpy(dtype=float)
    table[np.isnan(table) & _placed(cells, table.shape)] = 0.0  # a sum of nothing paid is 0
    wide = pd.DataFrame(
        {
            "period": periods,
            "date": frame["date"].iloc[first_rows].reset_index(drop=True),
            **{header: table[:, j] for j, header in enumerate(headers)},
        }
    )
    return wide.sort_values("period", kind="stable").reset_index(drop=True)


def _placed(cells: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    mask.flat[cells] = True
    return mask


def _cumulative_loss_frame(data: ReportData) -> pd.DataFrame:
    frame = data.cumulative_loss()
    loss_triggers = data.triggers[data.triggers["metric"].isin(LOSS_METRICS)]
    for name, group in loss_triggers.groupby("trigger", sort=False):
        thresholds = group.set_index("period")["threshold"]
        frame[f"{name}"] = frame["period"].map(thresholds).astype(float)
    return frame


def _grid_tables(grid: pd.DataFrame, tranches: Sequence[str], lang: str) -> list[Table]:
    """One wide table per measure: a row per scenario (numbered), a column per tranche.

    A tranche without any figure for a measure (a residual's yield, a note's residual
    IRR) gets no column in that table; a measure no tranche has gets no table.
    """
    tables = []
    scenarios = list(dict.fromkeys(grid["scenario"]))
    present = set(grid["tranche"])
    order = [t for t in tranches if t in present] + [
        t for t in dict.fromkeys(grid["tranche"]) if t not in tranches
    ]
    headers = [tranche_label(str(t), lang) for t in order]
    for measure, (name, title) in GRID_MEASURES.items():
        if measure not in grid.columns:
            continue
        wide = _first_by_key(grid, measure, scenarios, order)
        shown = [j for j in range(len(headers)) if np.isfinite(wide[:, j]).any()]
        if not shown:
            continue
        frame = pd.DataFrame(
            {
                label("scenario_number", lang): np.arange(1, len(scenarios) + 1),
                label("scenario", lang): [str(s) for s in scenarios],
                **{headers[j]: wide[:, j] for j in shown},
            }
        )
        columns = tuple(headers[j] for j in shown)
        kind = COLUMN_KINDS.get(measure, "number")
        tables.append(
            Table(
                name=name,
                frame=frame,
                title=label(title, lang),
                kinds={label("scenario_number", lang): "int", **dict.fromkeys(columns, kind)},
                color_scale=columns if measure in ("yield", "wal", "residual_irr") else (),
            )
        )
    return tables


def _grid_yield_chart(table: Table, lang: str) -> Chart:
    """Yield by scenario: one series per tranche; numbered scenarios when there are many."""
    n = len(table.frame)
    many = n > CHART_NAMED_SCENARIOS
    x = label("scenario_number" if many else "scenario", lang)
    return Chart(
        kind="line" if many else "column",
        table=table.name,
        x=x,
        y=tuple(str(c) for c in table.frame.columns[2:]),
        title=label("chart.grid_yield", lang),
        x_title=(
            f"{label('scenario', lang)} ({label('scenario_number', lang)})"
            if many
            else label("scenario", lang)
        ),
        y_kind="percent",
        label_every=max(1, -(-n // CHART_AXIS_LABELS)) if many else 1,
    )


def _first_by_key(
    grid: pd.DataFrame, measure: str, scenarios: list[Any], tranches: list[Any]
) -> np.ndarray:
    """(scenario x tranche) array of each pair's first non-missing ``measure`` (else NaN).

    What ``pivot_table(aggfunc="first")`` gives, placed directly: missing keys are left out.
    """
    rows = pd.Index(scenarios).get_indexer(grid["scenario"])
    cols = pd.Index(tranches).get_indexer(grid["tranche"])
    values = grid[measure].to_numpy(dtype=float, na_value=np.nan)
    keep = (
        ~np.isnan(values)
        & (rows >= 0)
        & (cols >= 0)
        & ~grid["scenario"].isna().to_numpy()
        & ~grid["tranche"].isna().to_numpy()
    )
    cells = rows[keep] * len(tranches) + cols[keep]
    firsts, where = np.unique(cells, return_index=True)
    out = np.full((len(scenarios), len(tranches)), np.nan)
    out.flat[firsts] = values[keep][where]
    return out


def investor_sheets(data: ReportData, lang: str = "en") -> list[Sheet]:
    """The investor workbook's sheets for ``data`` (see :func:`write_workbook`)."""
    lang = check_lang(lang)

    def lab(key: str) -> str:
        return label(key, lang)

    sheets = [_summary_sheet(data, lang)]
    charts = [
        Chart(
            kind="line",
            table="tranche_flows",
            x=lab("period"),
            y=(lab("ending_balance"),),
            split_by=lab("tranche"),
            title=lab("chart.balances"),
            x_title=lab("period"),
        )
    ]
    present = [c for c in COLLECTION_COLUMNS if c in data.collateral.columns]
    if present:
        charts.append(
            Chart(
                kind="stacked_column",
                table="collateral",
                x=lab("period"),
                y=tuple(lab(c) for c in present),
                title=lab("chart.collections"),
                x_title=lab("period"),
            )
        )
    cum_loss = _cumulative_loss_frame(data)
    charts.append(
        Chart(
            kind="line",
            table="cumulative_loss",
            x=lab("period"),
            # The series are the table's own (localised) headers: trigger names included.
            y=tuple(str(c) for c in _localize(cum_loss, lang)[0].columns[2:]),
            title=lab("chart.cum_loss"),
            x_title=lab("period"),
            y_kind="percent",
        )
    )
    grid_tables = _grid_tables(data.grid, data.tranche_names, lang) if data.grid is not None else []
    yield_tables = [t for t in grid_tables if t.name == "grid_yield"]
    if yield_tables:
        charts.append(_grid_yield_chart(yield_tables[0], lang))
    sheets.append(
        Sheet(
            title=lab("sheet.charts"),
            blocks=[Note(text=str(data.deal.get("deal_name", "")), heading=True)],
            charts=charts,
            chart_column=1,
            chart_row=3,
            charts_per_row=2,
        )
    )
    if data.pool is not None:
        sheets.append(
            Sheet(title=lab("sheet.pool"), blocks=_pool_blocks(data.pool, lang, with_loans=False))
        )
    sheets.append(
        Sheet(title=lab("sheet.collateral"), blocks=[_table("collateral", data.collateral, lang)])
    )
    sheets.append(
        Sheet(
            title=lab("sheet.tranches"), blocks=[_table("tranche_flows", data.tranche_flows, lang)]
        )
    )
    steps = data.waterfall["step"]
    named = {step: _step_label(step, lang) for step in steps.unique()}
    waterfall = _wide_waterfall(data.waterfall.assign(step=steps.map(named)))
    sheets.append(
        Sheet(
            title=lab("sheet.waterfall"),
            blocks=[
                Table(
                    name="waterfall",
                    frame=_localize(waterfall, lang)[0],
                    kinds={lab("period"): "int", lab("date"): "date"},
                )
            ],
        )
    )
    sheets.append(
        Sheet(
            title=lab("sheet.accounts"),
            blocks=[
                _table("accounts", data.accounts, lang, title="block.accounts"),
                _table("triggers", data.triggers, lang, title="block.trigger_tests"),
                _rate_table("cumulative_loss", cum_loss, lang, title="chart.cum_loss"),
            ],
            freeze=False,
        )
    )
    if grid_tables:
        sheets.append(Sheet(title=lab("sheet.scenarios"), blocks=grid_tables, freeze=False))
    sheets.append(
        Sheet(
            title=lab("sheet.assumptions"),
            blocks=[_table("curves", data.curves, lang, title="block.curves")],
        )
    )
    return sheets


def write_workbook(
    result: Any,
    path: str | os.PathLike[str],
    *,
    lang: str = "en",
    deal: Any = None,
    scenario: int | str = 0,
    pool: Any = None,
    pricing: Any = None,
    grid: Any = None,
    settlement: Any = None,
) -> None:
    """Write the investor workbook for a run to ``path`` (``.xlsx``), atomically.

    Parameters
    ----------
    result : waterfall Result or ReportData
    path : path-like
    lang : {"en", "zh"}
        Language of sheet names, headers and labels; the numbers are identical.
    deal : Deal, optional
        The deal model the Result came from: dates, day count, assumptions, trigger kinds.
    scenario : int or str
        Which scenario's ledgers the sheets show (every scenario goes to the grid).
    pool : Pool or PoolReport, optional
        Adds the Pool sheet and the pool summary.
    pricing : DataFrame or Quotes, optional
        The ``tranche_metrics`` table of this run, shown as given, or the quotes to
        compute it with; default every tranche at par, settled at closing.
    grid : DataFrame, optional
        A scenario grid (long: scenario, tranche and ``tranche_metrics`` measures) for
        the Scenarios sheet and the scenario-yield chart; default, with more than one
        scenario, the metrics of every scenario.
    settlement : date, optional
        The settlement date of the metrics (default: the deal's closing date).
    """
    data = report_data(
        result,
        deal=deal,
        scenario=scenario,
        pool=pool,
        pricing=pricing,
        grid=grid,
        settlement=settlement,
    )
    write_xlsx(investor_sheets(data, lang), path)


def pool_sheets(pool: Any, lang: str = "en") -> list[Sheet]:
    """Summary, Strats and Exclusions sheets for a pool selection."""
    lang = check_lang(lang)
    report = pool if isinstance(pool, PoolReport) else _as_pool_report(pool)
    strats: list[Any] = []
    for index, (name, frame) in enumerate(report.strats.items(), start=1):
        table = _table(f"strat_{index}", frame, lang)
        strats.append(Table(**{**table.__dict__, "title": f"{label('strat', lang)}: {name}"}))
    exclusions = [
        _table("exclusion_summary", report.exclusion_table(), lang, title="block.exclusions"),
        _table("excluded_loans", report.exclusions, lang, title="block.excluded_loans"),
    ]
    return [
        Sheet(
            title=label("sheet.summary", lang),
            blocks=[_key_values("block.pool_summary", report.summary, lang)],
        ),
        Sheet(title=label("sheet.strats", lang), blocks=strats or [Note(text="—")], freeze=False),
        Sheet(title=label("sheet.exclusions", lang), blocks=exclusions, freeze=False),
    ]


def _as_pool_report(pool: Any) -> PoolReport:
    from absstruct.report.data import pool_report

    return pool_report(pool)


def write_pool_workbook(pool: Any, path: str | os.PathLike[str], *, lang: str = "en") -> None:
    """Write a pool selection (``.summary``, ``.strats``, ``.excluded``) as a workbook.

    Loan ids and rule values are written as text cells, never as formulas.
    """
    write_xlsx(pool_sheets(pool, lang), path)
