"""``absstruct run -o`` writes the investor workbook for every example deal, in both languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from openpyxl import load_workbook

from absstruct.cli import main
from tests.conftest import ROOT

DEALS = sorted((ROOT / "deals").glob("*.toml"))


@pytest.mark.parametrize("lang", ["en", "zh"])
@pytest.mark.parametrize("deal", DEALS, ids=lambda p: p.stem)
def test_example_deal_workbook(runner, tmp_path: Path, deal: Path, lang: str) -> None:
    out = tmp_path / f"{deal.stem}.xlsx"
    result = runner.invoke(main, ["run", str(deal), "--lang", lang, "-o", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert len(book.sheetnames) >= 7
    # Every sheet with data holds Excel tables; the charts are native.
    assert sum(len(sheet.tables) for sheet in book.worksheets) >= 7
    assert sum(len(sheet._charts) for sheet in book.worksheets) >= 3
    if lang == "zh":
        untranslated = sorted(_english_headers(book, _deal_names(deal)))
        assert not untranslated, f"headers without a Chinese label: {untranslated}"


def _deal_names(deal: Path) -> set[str]:
    """Names the deal file gives (tranches, fees, accounts, triggers): shown as written."""
    import tomllib

    data = tomllib.loads(deal.read_text(encoding="utf-8"))
    from absstruct.report.labels import label

    tables = ("tranches", "fees", "taxes", "accounts", "triggers", "support")
    names = {str(item["name"]) for key in tables for item in data.get(key, []) if "name" in item}
    # A name that is not a dictionary key shows in its readable form ("cumulative_loss").
    return names | {label(name) for name in names}


def _english_headers(book, deal_names: set[str]) -> set[str]:
    """Table headers that still read as English words (a label missing from the dictionary)."""
    import re

    found = set()
    for sheet in book.worksheets:
        for table in sheet.tables.values():
            first_row = int(re.sub(r"[A-Z]", "", table.ref.split(":")[0]))
            for cell in sheet[first_row]:
                text = cell.value
                if not isinstance(text, str):
                    continue
                for name in sorted(deal_names, key=len, reverse=True):
                    text = text.replace(name, "")
                if re.search(r"[a-z]{4,}", text):
                    found.add(cell.value)
    return found


def test_run_ledgers_keep_every_scenario(runner, tmp_path: Path) -> None:
    import pandas as pd

    out = tmp_path / "ledgers.csv"
    result = runner.invoke(main, ["run", str(ROOT / "deals" / "us_auto.toml"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame["scenario"].nunique() > 1
    assert frame["gap"].abs().max() < 1e-6


def test_grid_workbook_has_the_scenario_tables(runner, tmp_path: Path) -> None:
    out = tmp_path / "grid.xlsx"
    args = ["grid", str(ROOT / "deals" / "us_auto.toml"), "--prepay", "ABS 1%,2%"]
    result = runner.invoke(main, [*args, "--default", "CDR 1%,5%", "-o", str(out)])
    assert result.exit_code == 0, result.output
    book = load_workbook(out)
    assert "Scenarios" in book.sheetnames
    tables = book["Scenarios"].tables
    assert len(tables) >= 1
    # Four scenarios of the grid are rows of the scenario tables.
    first = next(iter(tables.values()))
    first_row, last_row = (int("".join(filter(str.isdigit, c))) for c in first.ref.split(":"))
    assert last_row - first_row >= 4


def test_a_template_file_is_relative_to_the_deal_file(runner, tmp_path: Path, monkeypatch) -> None:
    import shutil

    folder = tmp_path / "book"
    (folder / "tapes").mkdir(parents=True)
    shutil.copy(ROOT / "deals" / "tapes" / "cn_consumer.csv", folder / "tapes" / "cn_consumer.csv")
    shutil.copy(ROOT / "templates" / "tapes" / "cn_consumer.toml", folder / "my_export.toml")
    text = (ROOT / "deals" / "cn_consumer_revolving.toml").read_text(encoding="utf-8")
    text = text.replace('template = "cn_consumer"', 'template = "my_export.toml"')
    (folder / "deal.toml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # not the deal's folder
    result = runner.invoke(main, ["run", str(folder / "deal.toml"), "--scenario", "base"])
    assert result.exit_code == 0, result.output
    assert "scenario base" in result.stdout
