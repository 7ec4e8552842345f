"""Choose a writer by the output path: the one call a command makes for ``-o``.

``.xlsx`` -> the investor workbook, ``.json`` -> the versioned result document,
``.csv`` / ``.parquet`` -> the tidy long table, a folder (a path ending in ``/`` or an
existing directory) -> one CSV per ledger plus ``result.json``.  Every file is written
atomically: a failed run leaves the previous output as it was.  Existing outputs are
replaced without asking, as ``cp``, ``pandas`` and Excel's "Save" do; the rename is
atomic, so nothing is ever half-written.

Examples
--------
>>> import pathlib, tempfile
>>> from absstruct.report.sample import sample_report
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> data = sample_report(n_periods=6, n_tranches=2)
>>> write_result(data, folder / "run.json")
'json'
>>> write_result(data, str(folder / "ledgers") + "/")
'folder'
>>> sorted(p.name for p in (folder / "ledgers").iterdir())[:3]
['accounts.csv', 'collateral.csv', 'curves.csv']
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from absstruct.errors import AbsStructError
from absstruct.report.data import report_data

RESULT_SUFFIXES: tuple[str, ...] = (".xlsx", ".json", ".csv", ".parquet")


def output_kind(path: str | os.PathLike[str]) -> str:
    """``"xlsx"``, ``"json"``, ``"csv"``, ``"parquet"`` or ``"folder"`` for an output path."""
    text = os.fspath(path)
    target = Path(text)
    if text.endswith(("/", os.sep)) or target.is_dir():
        return "folder"
    suffix = target.suffix.lower()
    if suffix not in RESULT_SUFFIXES:
        raise AbsStructError(
            f"{text}: cannot write {suffix or 'a file without an extension'!r}; use "
            f"{', '.join(RESULT_SUFFIXES)} or a folder (ending in /) for one file per ledger"
        )
    return suffix[1:]


def write_result(
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
) -> str:
    """Write a run to ``path`` in the format its extension names; return that format.

    Parameters
    ----------
    result : waterfall Result or ReportData
    path : path-like
        ``.xlsx``, ``.json``, ``.csv``, ``.parquet``, or a folder.
    lang : {"en", "zh"}
        Labels of the workbook (the other formats use stable English keys).
    deal, scenario, pool, pricing, grid, settlement :
        Optional extras, as for :func:`absstruct.report.workbook.write_workbook`:
        ``pricing`` is the ``tranche_metrics`` table of the run (what ``absstruct run
        --price`` prints), used as given, or the ``Quotes`` to compute it with; by
        default every tranche is priced at par, settled on the deal's closing date.
    """
    from absstruct.report.labels import check_lang

    check_lang(lang)
    kind = output_kind(path)
    data = report_data(
        result,
        deal=deal,
        scenario=scenario,
        pool=pool,
        pricing=pricing,
        grid=grid,
        settlement=settlement,
    )
    if kind == "xlsx":
        from absstruct.report.workbook import investor_sheets
        from absstruct.report.xlsx import write_xlsx

        write_xlsx(investor_sheets(data, lang), path)
    elif kind == "json":
        from absstruct.report.jsonout import write_json

        write_json(data, path)
    elif kind in ("csv", "parquet"):
        from absstruct.report.jsonout import write_tidy

        write_tidy(data, path)
    else:
        from absstruct.report.jsonout import write_ledger_folder

        write_ledger_folder(data, path)
    return kind
