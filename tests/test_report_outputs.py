"""Analyst outputs: versioned JSON (schema-valid, byte-deterministic), tidy CSV/Parquet
round trips, one file per ledger, and write_result's choice of writer."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from absstruct.analytics.metrics import METRIC_COLUMNS
from absstruct.errors import AbsStructError
from absstruct.report import write_result
from absstruct.report.data import report_data
from absstruct.report.jsonout import (
    SCHEMA_VERSION,
    file_frame,
    result_json,
    result_payload,
    tidy_frame,
)
from absstruct.report.output import output_kind
from absstruct.report.schema import result_schema, validate, validate_result
from tests.conftest import ROOT
from tests.report_cases import deal_and_result


@pytest.fixture(scope="module")
def data():
    deal, result = deal_and_result()
    return report_data(result, deal=deal)


def test_json_validates_against_the_shipped_schema(data) -> None:
    payload = json.loads(result_json(data))
    assert validate_result(payload) == []
    assert payload["schema_version"] == SCHEMA_VERSION == 2
    assert payload["deal"]["deal_name"] == "Report Test Trust 2026-1"
    assert payload["deal"]["closing_date"] == "2026-06-30"
    assert [t["tranche"] for t in payload["tranches"]] == ["Senior A", "Senior B", "Sub"]
    assert payload["tranches"][2]["coupon"] is None  # NaN is written as null
    flows = payload["ledgers"]["tranche_flows"]
    row = dict(zip(flows["columns"], flows["rows"][0], strict=True))
    assert row["tranche"] == "Senior A" and row["period"] == 1 and row["date"] == "2026-07-31"
    assert row["ending_balance"] == data.tranche_flows["ending_balance"].iloc[0]
    assert payload["summary"]["trigger_status"] == {"CNL": None}
    assert payload["grid"]["columns"] == list(METRIC_COLUMNS)
    assert payload["summary"]["pricing"] == {
        "settlement_date": "2026-06-30",
        "yield_convention": "semiannual 30/360",
        "residual_irr_convention": "semiannual ACT/365F",
    }


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda p: p.pop("ledgers"), "missing required property ledgers"),
        (lambda p: p.update(schema_version=1), r"\$.schema_version: 1 is not 2"),
        (lambda p: p["summary"].pop("pricing"), "missing required property pricing"),
        (lambda p: p.update(extra=1), "property 'extra' is not allowed"),
        (lambda p: p["tranches"][0].update(tranche=7), r"tranches\[0\].tranche: 7 is not of type"),
        (lambda p: p["summary"]["trigger_status"].update(CNL=0), "0 is below 1"),
        (lambda p: p["ledgers"]["curves"]["rows"].append([1]), "1 values for 7 columns"),
        (lambda p: p.update(grid=[]), "matches 0 of the oneOf"),
    ],
)
def test_schema_catches_broken_documents(data, mutate, message: str) -> None:
    payload = json.loads(result_json(data))
    mutate(payload)
    problems = validate_result(payload)
    assert any(re.search(message, p) for p in problems), problems


def test_the_schema_document_is_itself_well_formed() -> None:
    schema = result_schema()
    assert schema["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    assert validate({"type": "object"}, {"type": "object"}) == []
    with pytest.raises(AbsStructError, match="unsupported keywords"):
        validate(1, {"pattern": "x"})


def test_json_bytes_are_identical_for_identical_inputs(data, tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    write_result(data, first)
    deal, result = deal_and_result()  # a fresh run of the same inputs
    again = report_data(result, deal=deal)
    write_result(again, second)
    assert first.read_bytes() == second.read_bytes()
    assert b"NaN" not in first.read_bytes() and b"Infinity" not in first.read_bytes()


def test_json_bytes_are_identical_across_processes(tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from tests.report_cases import deal_and_result\n"
        "from absstruct.report import write_result\n"
        "deal, result = deal_and_result()\n"
        "write_result(result, sys.argv[1], deal=deal)\n"
    )
    outputs = []
    for seed in ("1", "2"):
        target = tmp_path / f"run{seed}.json"
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script, str(target)],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]


def test_tidy_csv_round_trips_through_pandas_unchanged(data, tmp_path: Path) -> None:
    path = tmp_path / "results.csv"
    assert write_result(data, path) == "csv"
    expected = tidy_frame(data)
    assert list(expected.columns) == ["ledger", "name", "period", "date", "measure", "value"]
    pd.testing.assert_frame_equal(pd.read_csv(path), expected, check_exact=True)
    # Every ledger contributes, and a value is findable by its keys.
    assert set(expected["ledger"]) == {
        "collateral",
        "tranche_flows",
        "waterfall",
        "accounts",
        "triggers",
        "curves",
    }
    hit = expected[
        (expected["ledger"] == "tranche_flows")
        & (expected["name"] == "Senior A")
        & (expected["period"] == 2)
        & (expected["measure"] == "principal")
    ]
    assert hit["value"].item() == data.tranche_flows["principal"].iloc[1]


def test_tidy_parquet_round_trips_unchanged(data, tmp_path: Path) -> None:
    path = tmp_path / "results.parquet"
    assert write_result(data, path) == "parquet"
    pd.testing.assert_frame_equal(pd.read_parquet(path), tidy_frame(data), check_exact=True)


def test_folder_holds_one_file_per_ledger_that_round_trips(data, tmp_path: Path) -> None:
    folder = tmp_path / "out"
    assert write_result(data, str(folder) + os.sep) == "folder"
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "accounts.csv",
        "collateral.csv",
        "curves.csv",
        "grid.csv",
        "result.json",
        "tranche_flows.csv",
        "tranches.csv",
        "triggers.csv",
        "waterfall.csv",
    ]
    for name, frame in {"tranches": data.tranches, **data.ledgers()}.items():
        pd.testing.assert_frame_equal(
            pd.read_csv(folder / f"{name}.csv"),
            file_frame(frame, empty_text_as_missing=True),
            check_exact=True,
            obj=name,
        )
    assert validate_result(json.loads((folder / "result.json").read_text("utf-8"))) == []


def test_an_existing_folder_is_recognised_without_a_slash(data, tmp_path: Path) -> None:
    assert output_kind(tmp_path) == "folder"


@pytest.mark.parametrize(
    ("name", "message"),
    [("results.txt", "cannot write '.txt'"), ("results", "file without an extension")],
)
def test_unknown_output_kinds_are_refused(data, tmp_path: Path, name: str, message: str) -> None:
    with pytest.raises(AbsStructError, match=message):
        write_result(data, tmp_path / name)
    assert not (tmp_path / name).exists()


def test_xlsx_through_write_result_and_previous_output_survives_a_failure(
    data, tmp_path: Path
) -> None:
    path = tmp_path / "deal.xlsx"
    assert write_result(data, path, lang="zh") == "xlsx"
    assert load_workbook(path).sheetnames[0] == "概要"
    before = path.read_bytes()
    with pytest.raises(AbsStructError, match="not a report language"):
        write_result(data, path, lang="de")
    assert path.read_bytes() == before


def test_payload_key_order_is_fixed(data) -> None:
    assert list(result_payload(data)) == [
        "schema_version",
        "generator",
        "deal",
        "scenario",
        "summary",
        "tranches",
        "ledgers",
        "grid",
        "pool",
    ]
