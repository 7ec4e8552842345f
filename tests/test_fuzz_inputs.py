"""Fuzz the real CLI with malformed input: a traceback must never reach a user.

Hypothesis generates bad tapes (cells, bytes, encodings, headers), mutated example deals,
assumption strings, quotes and curves, and runs the commands through click's CliRunner.
Every run must end with exit 0, 1 (a domain error: an ``error:`` line on stderr) or 2 (a
usage error); an exception other than SystemExit in ``result.exception`` is a traceback
a user would have seen.  The regressions these found live in ``test_fuzz_*_regressions``.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from absstruct.cli import main

from .conftest import ROOT

DEALS = ROOT / "deals"
US_AUTO_TAPE = DEALS / "tapes" / "us_auto.csv"
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same examples every run: a failure reproduces
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TAPE_HEADER = (
    "loan_id,original_balance,current_balance,rate,original_term,remaining_term,"
    "amortization,origination_date,maturity_date,days_past_due,status,payment_frequency"
)
TAPE_ROW = [
    "0001", "1000", "800", "0.12", "12", "9", "level_pay",
    "2026-01-15", "2027-01-15", "0", "current", "monthly",
]  # fmt: skip
NASTY_CELLS = [
    "", "nan", "NaN", "inf", "-inf", "-0", "1e309", "１２", "12,5%", "1,2,3", "0x10",
    "1_000", "2026-02-30", "13/13/2026", "9999-12-31", "0001-01-01", "99999999",
    "x" * 3000, "a\x00b", '"a\nb"', '"say ""hi"""', "TRUE", "(5)", "¥1,000元", "5%%",
    "%", "36 months", "3年", "-1", "1e-320", "　", "\ufeff1", "N/A",
]  # fmt: skip


def assert_clean(result: Result) -> None:
    """Exit 0/1/2, no traceback, and a readable ``error:`` line for a domain error."""
    exc = result.exception
    assert exc is None or isinstance(exc, SystemExit), (
        f"traceback: {type(exc).__name__}: {exc}\n{result.output}"
    )
    assert result.exit_code in (0, 1, 2), result.output
    assert "Traceback" not in result.output
    if result.exit_code == 1:
        lines = result.stderr.splitlines()
        assert any(line.startswith("error: ") for line in lines), result.stderr


def invoke(args: list[str]) -> Result:
    return CliRunner().invoke(main, args, catch_exceptions=True)


# ---------------------------------------------------------------------------- tapes

cells = st.one_of(st.sampled_from(NASTY_CELLS), st.text(max_size=12))


@FUZZ
@given(
    column=st.integers(min_value=0, max_value=len(TAPE_ROW) - 1),
    cell=cells,
    template=st.sampled_from(["canonical", "cn_consumer", "lendingclub", "regab_auto"]),
)
def test_tape_check_with_one_bad_cell(
    tmp_path_factory: pytest.TempPathFactory, column: int, cell: str, template: str
) -> None:
    row = list(TAPE_ROW)
    row[column] = cell
    path = tmp_path_factory.mktemp("tape") / "tape.csv"
    path.write_text(f"{TAPE_HEADER}\n{','.join(row)}\n", encoding="utf-8", newline="")
    assert_clean(invoke(["tape", "check", str(path), "--template", template]))


@FUZZ
@given(
    data=st.binary(max_size=400),
    suffix=st.sampled_from([".csv", ".xlsx", ".parquet", ".csv.gz", ".txt"]),
)
def test_tape_check_with_random_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, suffix: str
) -> None:
    path = tmp_path_factory.mktemp("bytes") / f"tape{suffix}"
    path.write_bytes(data)
    assert_clean(invoke(["tape", "check", str(path)]))


@FUZZ
@given(
    position=st.integers(min_value=0, max_value=400),
    insert=st.sampled_from(['"', "\n", ",", "\r", "\x00", ";", "\t", "\ufeff", "\x80\x81"]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "gbk", "utf-16", "latin-1"]),
    given_encoding=st.sampled_from([None, "utf-8", "gb18030", "utf-16", "base64", "nope"]),
)
def test_tape_check_with_damaged_text(
    tmp_path_factory: pytest.TempPathFactory,
    position: int,
    insert: str,
    encoding: str,
    given_encoding: str | None,
) -> None:
    text = (DEALS / "tapes" / "cn_consumer.csv").read_text(encoding="utf-8")[:600]
    text = text[:position] + insert + text[position:]
    path = tmp_path_factory.mktemp("text") / "tape.csv"
    path.write_bytes(text.encode(encoding, errors="replace"))
    args = ["tape", "check", str(path), "--template", "cn_consumer"]
    if given_encoding:
        args += ["--encoding", given_encoding]
    assert_clean(invoke(args))


# ---------------------------------------------------------------------------- deals

US_AUTO = tomllib.loads((DEALS / "us_auto.toml").read_text(encoding="utf-8"))
DEAL_VALUES = st.sampled_from(
    [
        "nan", "inf", "-1", -1, 0, 10**30, "", [], {}, "15", 15, "15%", "150%", "-5%",
        True, "x" * 300, "ü名", dt.date(1900, 1, 1), dt.date(2999, 12, 31), "2026-02-30",
        float("nan"), float("inf"), -0.5, "abc", [1, 2], {"a": 1}, "CPR 8%", "A-1",
        dt.datetime(2026, 7, 1, 12), dt.time(12), "reserve", ["A-1", "A-1"], 2**63,
    ]
)  # fmt: skip


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        found.append((*prefix, key))
        if isinstance(value, (dict, list)):
            found += _paths(value, (*prefix, key))
    return found


DEAL_PATHS = _paths(US_AUTO)


def toml_value(value: Any) -> str:
    """One value as inline TOML (enough for deal files: no multi-line forms)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    pairs = (
        f"{json.dumps(str(k), ensure_ascii=False)} = {toml_value(v)}" for k, v in value.items()
    )
    return "{" + ", ".join(pairs) + "}"


@FUZZ
@given(
    edits=st.lists(
        st.tuples(st.sampled_from(DEAL_PATHS), st.booleans(), DEAL_VALUES),
        min_size=1,
        max_size=2,
    )
)
def test_run_a_mutated_deal(
    tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[tuple[Any, ...], bool, Any]]
) -> None:
    raw = copy.deepcopy(US_AUTO)
    for path, delete, value in edits:
        node: Any = raw
        try:
            for part in path[:-1]:
                node = node[part]
            if delete:
                del node[path[-1]]
            else:
                node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    folder = tmp_path_factory.mktemp("deal")
    (folder / "tapes").symlink_to(DEALS / "tapes", target_is_directory=True)
    deal = folder / "deal.toml"
    body = "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in raw.items())
    deal.write_text(body + "\n", encoding="utf-8")
    assert tomllib.loads(deal.read_text(encoding="utf-8")) is not None
    assert_clean(invoke(["run", str(deal), "--scenario", "base"]))


# ---------------------------------------------------------------------------- assumptions

KINDS = ["SMM", "CPR", "PSA", "ABS", "MDR", "CDR", "SDA", "CUM", "SEV", "", "cpr", "xyz"]
NUMBERS = [
    "0", "1", "150", "8%", "-1", "-5%", "1e309", "nan", "inf", "100%", "101%", "0.5", "%",
    "", "x", "1e5", "+3", "50bp", "８%", "1,5%", "9" * 30,
]  # fmt: skip


@st.composite
def assumption(draw: st.DrawFn, valid: list[str]) -> str:
    if draw(st.booleans()):
        return draw(st.sampled_from(valid))
    number = st.sampled_from(NUMBERS)
    body = draw(
        st.one_of(
            number,
            st.lists(number, max_size=4).map(lambda v: "[" + ", ".join(v) + "]"),
            st.lists(number, max_size=4).map(lambda v: "ramp " + " ".join(v)),
            st.tuples(number, number).map(lambda v: f"{v[0]} over {v[1]}"),
            st.text(max_size=10),
        )
    )
    text = f"{draw(st.sampled_from(KINDS))} {body}"
    if draw(st.booleans()):
        text += f" x {draw(number)}"
    return text


@FUZZ
@given(
    prepay=assumption(["CPR 8%", "PSA 150", "ABS 1.5%", "SMM [1%, 2%]"]),
    default=assumption(["CDR 3% x 1.5", "SDA 100", "MDR [1%,2%]", "CUM 8% over 24"]),
    severity=assumption(["20%", "0.4", "SEV [10%, 50%]"]),
    lag=st.sampled_from(["0", "3", "-1", "360", "99999999999", "x", "1.5"]),
)
def test_project_with_assumption_strings(
    prepay: str, default: str, severity: str, lag: str
) -> None:
    args = ["project", "--tape", str(US_AUTO_TAPE), "--prepay", prepay, "--default", default]
    args += ["--severity", severity, "--lag", lag, "--periods", "24"]
    assert_clean(invoke(args))


# ---------------------------------------------------------------------------- quotes, curves

QUOTES = [
    "99.5", "99-16", "99-16+", "5%", "520bp", "-5", "nan", "inf", "1e309", "x", "",
    "100-40", "0", "1e6bp", "99.5%", "９９", "99,5", "-100bp",
]  # fmt: skip
FLOW_CELLS = ["1", "0.5", "-1", "nan", "inf", "x", "", "1e309", "TRUE", "2024-02-30"]
TENORS = ["6M", "1Y", "2Y", "10Y", "0M", "-1Y", "1X", "", "100Y", "1D"]
RATES = ["4%", "4", "0.04", "-1%", "nan", "inf", "x", "", "400bp"]


@FUZZ
@given(
    flows=st.lists(
        st.tuples(
            st.sampled_from(["2024-07-15", "2024-08-15", "2024-02-30", "", "soon"]),
            st.sampled_from(FLOW_CELLS),
            st.sampled_from(FLOW_CELLS),
        ),
        max_size=4,
    ),
    quote_kind=st.sampled_from(["--price", "--yield", "--z-spread", "--i-spread"]),
    quote=st.sampled_from(QUOTES),
    curve=st.lists(st.tuples(st.sampled_from(TENORS), st.sampled_from(RATES)), max_size=4),
    settle=st.sampled_from(["2024-06-30", "2024-02-30", "x"]),
)
def test_price_with_bad_flows_quotes_and_curves(
    tmp_path_factory: pytest.TempPathFactory,
    flows: list[tuple[str, str, str]],
    quote_kind: str,
    quote: str,
    curve: list[tuple[str, str]],
    settle: str,
) -> None:
    folder = tmp_path_factory.mktemp("price")
    flows_path = folder / "flows.csv"
    lines = ["date,interest,principal", "2024-07-01,0.5,20", *(",".join(r) for r in flows)]
    flows_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    curve_path = folder / "curve.csv"
    curve_path.write_text(
        "\n".join(["tenor,rate", *(",".join(p) for p in curve)]) + "\n", encoding="utf-8"
    )
    args = ["price", str(flows_path), "--settle", settle, quote_kind, quote]
    assert_clean(invoke([*args, "--curve", str(curve_path)]))


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    option=st.sampled_from(["--price", "--yield", "--spread"]),
    pairs=st.lists(
        st.tuples(
            st.sampled_from(["A-1", "B", "Certificates", "ZZ", "", "名"]), st.sampled_from(QUOTES)
        ),
        max_size=3,
    ),
    curve=st.lists(st.tuples(st.sampled_from(TENORS), st.sampled_from(RATES)), max_size=3),
)
def test_run_with_bad_quotes_and_curves(
    tmp_path_factory: pytest.TempPathFactory,
    option: str,
    pairs: list[tuple[str, str]],
    curve: list[tuple[str, str]],
) -> None:
    curve_path = tmp_path_factory.mktemp("curve") / "curve.csv"
    curve_path.write_text(
        "\n".join(["tenor,rate", *(",".join(p) for p in curve)]) + "\n", encoding="utf-8"
    )
    spec = ",".join(f"{name}={value}" for name, value in pairs)
    args = ["run", str(DEALS / "us_auto.toml"), "--scenario", "base", option, spec]
    assert_clean(invoke([*args, "--curve", str(curve_path)]))


def test_toml_writer_round_trips_the_example_deal() -> None:
    # The deal fuzzer writes its mutations with toml_value: it must write the deal as is.
    text = "\n".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in US_AUTO.items())
    assert tomllib.loads(text) == US_AUTO


def test_assert_clean_catches_a_traceback() -> None:
    import click

    @click.command()
    def broken() -> None:
        raise ZeroDivisionError("boom")

    with pytest.raises(AssertionError, match="traceback: ZeroDivisionError"):
        assert_clean(CliRunner().invoke(broken, []))


def test_unchanged_example_deal_runs(tmp_path: Path) -> None:
    result = invoke(["run", str(DEALS / "us_auto.toml"), "--scenario", "base"])
    assert_clean(result)
    assert result.exit_code == 0 and "A-1" in result.output
