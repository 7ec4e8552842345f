"""The declarative workbook builder: formats, tables, charts, inert text, atomic saves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from absstruct.errors import AbsStructError
from absstruct.report.xlsx import (
    NUMBER_FORMATS,
    Chart,
    KeyValues,
    Note,
    Sheet,
    Table,
    table_ranges,
    write_xlsx,
)

INJECTIONS = [
    '=HYPERLINK("http://example.invalid","click")',
    "+cmd|' /C calc'!A0",
    "-1+2",
    "@SUM(A1:A9)",
    "=1+1",
    "\t=1",
    "=",
]


def _flows(n: int = 4) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": range(1, n + 1),
            "date": pd.date_range("2025-01-31", periods=n, freq="ME"),
            "balance": [1000.0 * (n - i) for i in range(n)],
            "rate": [0.05] * n,
            "loan_id": [f"L{i}" for i in range(n)],
        }
    )


def _write(tmp_path: Path, sheets: list[Sheet], name: str = "book.xlsx") -> Path:
    path = tmp_path / name
    write_xlsx(sheets, path)
    return path


@pytest.mark.parametrize("text", INJECTIONS)
def test_formula_like_text_stays_an_inert_string_cell(tmp_path: Path, text: str) -> None:
    frame = pd.DataFrame({"loan_id": [text, "ok"], "balance": [1.0, 2.0]})
    sheet = Sheet(
        title="Loans",
        blocks=[KeyValues(title="Deal", pairs=[("Name", text)]), Table(name="loans", frame=frame)],
    )
    ws = load_workbook(_write(tmp_path, [sheet]))["Loans"]
    assert (ws["B2"].value, ws["B2"].data_type) == (text, "s")
    assert (ws["A5"].value, ws["A5"].data_type) == (text, "s"), (ws["A5"].value, text)
    # No cell anywhere became a formula.
    assert all(c.data_type != "f" for row in ws.iter_rows() for c in row)


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    texts=st.lists(
        st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20),
        min_size=1,
        max_size=8,
    )
)
def test_any_text_round_trips_unaltered_as_a_string(tmp_path: Path, texts: list[str]) -> None:
    frame = pd.DataFrame({"id": texts, "x": [1.0] * len(texts)})
    path = _write(tmp_path, [Sheet(title="S", blocks=[Table(name="t", frame=frame)])])
    ws = load_workbook(path)["S"]
    got = [ws.cell(row=i + 2, column=1) for i in range(len(texts))]
    assert [c.value for c in got] == texts
    assert {c.data_type for c in got} == {"s"}


@pytest.mark.parametrize(
    ("column", "kind", "cell", "expected_format"),
    [
        ("period", None, "A2", NUMBER_FORMATS["count"]),
        ("date", None, "B2", NUMBER_FORMATS["date"]),
        ("balance", None, "C2", NUMBER_FORMATS["money"]),
        ("rate", "percent", "D2", NUMBER_FORMATS["percent"]),
        ("rate", "rate", "D2", NUMBER_FORMATS["rate"]),
        ("balance", "amount", "C2", NUMBER_FORMATS["amount"]),
    ],
)
def test_number_format_per_column_kind(
    tmp_path: Path, column: str, kind: str | None, cell: str, expected_format: str
) -> None:
    kinds = {column: kind} if kind else {}
    sheet = Sheet(title="F", blocks=[Table(name="flows", frame=_flows(), kinds=kinds)])
    ws = load_workbook(_write(tmp_path, [sheet]))["F"]
    assert ws[cell].number_format == expected_format


def test_table_is_named_filterable_banded_with_frozen_header_and_print_setup(
    tmp_path: Path,
) -> None:
    frame = _flows(6)
    sheet = Sheet(title="Flows", blocks=[Table(name="flows", frame=frame, title="Cash flows")])
    path = _write(tmp_path, [sheet])
    ws = load_workbook(path)["Flows"]
    table = ws.tables["flows"]
    assert table.ref == "A2:E8"
    assert table.autoFilter is not None and table.autoFilter.ref == "A2:E8"
    assert table.tableStyleInfo.showRowStripes
    assert [c.name for c in table.tableColumns] == list(frame.columns)
    assert [ws.cell(row=2, column=i + 1).value for i in range(5)] == list(frame.columns)
    assert ws["A1"].value == "Cash flows"
    assert ws.freeze_panes == "B3"
    assert ws.page_setup.orientation == "landscape"
    assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
    assert ws.print_title_rows == "$2:$2"
    # Values and dates come back as written.
    assert ws["C3"].value == pytest.approx(6000.0)
    assert ws["B3"].value == dt.datetime(2025, 1, 31)
    assert ws.column_dimensions["E"].width >= len("loan_id")
    assert table_ranges(path) == {"flows": ("Flows", "A2:E8")}


def test_key_values_notes_and_colour_scale(tmp_path: Path) -> None:
    grid = pd.DataFrame({"scenario": ["a", "b", "c"], "yield": [0.05, 0.04, 0.03]})
    sheet = Sheet(
        title="S",
        blocks=[
            Note(text="Deal 2025-1", heading=True),
            KeyValues(
                title="Facts",
                pairs=[("Closing", dt.date(2025, 1, 5)), ("Size", 1e6), ("Loans", 12)],
                kinds={"Size": "money"},
            ),
            Table(name="grid", frame=grid, kinds={"yield": "rate"}, color_scale=("yield",)),
        ],
    )
    ws = load_workbook(_write(tmp_path, [sheet]))["S"]
    assert ws["A1"].value == "Deal 2025-1" and ws["A1"].font.b
    assert ws["A3"].value == "Facts" and ws["A3"].font.b
    assert ws["B4"].number_format == NUMBER_FORMATS["date"]
    assert (ws["B5"].value, ws["B5"].number_format) == (1e6, NUMBER_FORMATS["money"])
    assert (ws["B6"].value, ws["B6"].number_format) == (12, NUMBER_FORMATS["count"])
    ranges = [str(r.sqref) for r in ws.conditional_formatting]
    assert ranges == ["B9:B11"]
    rule = next(iter(ws.conditional_formatting))
    assert rule.rules[0].type == "colorScale"
    assert ws.freeze_panes is None  # the first block is not a table


def test_charts_reference_tables_on_other_sheets(tmp_path: Path) -> None:
    long = pd.DataFrame(
        {
            "tranche": ["A"] * 3 + ["B"] * 3,
            "period": [1, 2, 3] * 2,
            "balance": [3.0, 2.0, 1.0, 5.0, 5.0, 4.0],
        }
    )
    flows = _flows(3)
    sheets = [
        Sheet(
            title="Charts",
            blocks=[Note(text="charts")],
            charts=[
                Chart(
                    kind="line",
                    table="long",
                    x="period",
                    y=("balance",),
                    split_by="tranche",
                    title="Balances",
                ),
                Chart(
                    kind="stacked_column",
                    table="flows",
                    x="period",
                    y=("balance", "rate"),
                    title="Stack",
                ),
            ],
            chart_column=1,
            chart_row=3,
            charts_per_row=2,
        ),
        Sheet(
            title="Data", blocks=[Table(name="long", frame=long), Table(name="flows", frame=flows)]
        ),
    ]
    path = _write(tmp_path, sheets)
    ws = load_workbook(path)["Charts"]
    charts = ws._charts
    assert len(charts) == 2
    line, bars = charts
    refs = [s.val.numRef.f for s in line.series]
    assert refs == ["'Data'!$C$2:$C$4", "'Data'!$C$5:$C$7"]
    assert [s.tx.v for s in line.series] == ["A", "B"]
    assert bars.grouping == "stacked" and len(bars.series) == 2
    anchors = [(c.anchor._from.col, c.anchor._from.row) for c in charts]
    assert anchors[0] == (0, 2) and anchors[1][1] == 2 and anchors[1][0] > 0


@pytest.mark.parametrize(
    ("sheets", "message"),
    [
        ([Sheet(title="a/b", blocks=[])], "sheet 'a/b'"),
        ([Sheet(title="x" * 32, blocks=[])], "1-31 characters"),
        ([Sheet(title="S", blocks=[]), Sheet(title="s", blocks=[])], "appears twice"),
        ([Sheet(title="S", blocks=[Table(name="A1", frame=_flows())])], "table 'A1'"),
        ([Sheet(title="S", blocks=[Table(name="has space", frame=_flows())])], "has space"),
        (
            [Sheet(title="S", blocks=[Table(name="t", frame=_flows(), kinds={"rate": "pct"})])],
            "unknown column kind 'pct'",
        ),
        (
            [
                Sheet(
                    title="S",
                    blocks=[Table(name="t", frame=_flows())],
                    charts=[Chart(kind="line", table="nope", x="period", y=("b",), title="c")],
                )
            ],
            "no table named 'nope'",
        ),
        (
            [
                Sheet(
                    title="S",
                    blocks=[Table(name="t", frame=_flows())],
                    charts=[Chart(kind="line", table="t", x="period", y=("zzz",), title="c")],
                )
            ],
            "has no column 'zzz'",
        ),
        ([], "at least one sheet"),
    ],
)
def test_bad_definitions_fail_before_writing(
    tmp_path: Path, sheets: list[Sheet], message: str
) -> None:
    path = tmp_path / "book.xlsx"
    with pytest.raises(AbsStructError, match=message):
        write_xlsx(sheets, path)
    assert not path.exists()


def test_control_characters_are_refused_with_the_cell_named(tmp_path: Path) -> None:
    frame = pd.DataFrame({"loan_id": ["ok", "bad\x01id"]})
    with pytest.raises(AbsStructError, match=r"sheet 'S', row 3: 'bad\\x01id'"):
        write_xlsx([Sheet(title="S", blocks=[Table(name="t", frame=frame)])], tmp_path / "b.xlsx")


def test_failed_write_keeps_the_previous_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, [Sheet(title="S", blocks=[Table(name="t", frame=_flows())])])
    before = path.read_bytes()

    def boom(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    # The new workbook is complete in its temporary file; the rename onto the target fails.
    monkeypatch.setattr("absstruct.report.atomic.os.replace", boom)
    with pytest.raises(OSError, match="disk full"):
        write_xlsx([Sheet(title="S", blocks=[Table(name="t", frame=_flows(2))])], path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["book.xlsx"]


def test_empty_table_writes_a_placeholder_not_a_broken_table(tmp_path: Path) -> None:
    frame = pd.DataFrame({"loan_id": pd.Series([], dtype=str), "rule": pd.Series([], dtype=str)})
    ws = load_workbook(_write(tmp_path, [Sheet(title="S", blocks=[Table(name="t", frame=frame)])]))[
        "S"
    ]
    assert [ws["A1"].value, ws["B1"].value, ws["A2"].value] == ["loan_id", "rule", "—"]
    assert not ws.tables


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(
        st.floats(allow_nan=True, allow_infinity=True, width=64)
        | st.sampled_from([0.0, -0.0, -0.004, 9.995, -9.995, 0.9999999]),
        min_size=1,
        max_size=120,
    ),
    kind=st.sampled_from(sorted(set(NUMBER_FORMATS) - {"text", "bool"})),
    as_int=st.booleans(),
)
def test_widest_samples_are_as_wide_as_every_sample(
    values: list[float], kind: str, as_int: bool
) -> None:
    from absstruct.report.columns import (
        column_values,
        display_width,
        format_sample,
        widest_samples,
    )

    series = pd.Series(values, dtype=float)
    if as_int:
        finite = [v for v in values if abs(v) < 1e15]  # NaN fails the test too
        series = pd.Series([int(v) for v in finite], dtype="int64")
    step = max(1, len(series) // 50)
    every = [format_sample(v, kind) for v in column_values(series, step)]
    widest = widest_samples(series, kind, step)
    assert max(map(display_width, widest), default=0) == max(
        map(display_width, every), default=0
    ), (widest, every)


def test_widest_samples_when_scaling_overflows() -> None:
    """A percent of a huge finite value prints as "-inf%", narrower than "-0.000%"."""
    from absstruct.report.columns import display_width, widest_samples

    widest = widest_samples(pd.Series([-0.0, -1.797693134862316e306]), "percent", 1)
    assert max(map(display_width, widest)) == len("-0.000%")
