"""Jobs files: TOML and CSV reading, grid expansion, field errors, content-hash identity."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from absstruct.batch.jobs import (
    Job,
    JobsFileError,
    PriceInput,
    describe,
    file_sha256,
    job_hash,
    jobs_from_mapping,
    load_jobs,
    parse_measure,
)
from absstruct.batch.runner import plan_jobs


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_toml_jobs_defaults_and_pricing(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "jobs.toml",
        """
[defaults]
settlement = "2024-07-15"

[[jobs]]
label = "base"
deal = "deals/auto.toml"

[[jobs]]
deal = "deals/auto.toml"
tape = "tapes/june.csv"
scenario = "stress"
prepay = "ABS 1.5%"
lag = 6
advance = false
price = { A1 = 99.5 }
yield = { B = "6%" }
spread = { C = "150bp" }
output = "cashflows"
""",
    )
    base, stressed = load_jobs(path)
    assert base.label == "base" and base.origin == "jobs[0]"
    assert base.deal == (tmp_path / "deals" / "auto.toml").resolve()
    assert base.settlement == dt.date(2024, 7, 15) and base.tape is None
    assert stressed.label == "jobs[1]"
    assert stressed.tape == (tmp_path / "tapes" / "june.csv").resolve()
    assert stressed.overrides == (("prepay", "ABS 1.5%"), ("lag", 6), ("advance", False))
    assert stressed.pricing == (
        PriceInput(tranche="A1", measure="price", value=99.5),
        PriceInput(tranche="B", measure="yield", value=0.06),
        PriceInput(tranche="C", measure="spread", value=0.015),
    )
    assert stressed.output == "cashflows"
    assert describe(stressed) == "stress; prepay=ABS 1.5%; lag=6; advance=False"


def test_grid_expands_to_the_product_last_axis_fastest(tmp_path: Path) -> None:
    document = {
        "grid": [
            {
                "deal": ["a.toml", "b.toml"],
                "prepay": ["CPR 5%", "CPR 10%", "CPR 15%"],
                "default": ["CDR 1%", "CDR 2%"],
                "price": {"A": 100},
            }
        ]
    }
    jobs = jobs_from_mapping(document, base=tmp_path)
    assert len(jobs) == 2 * 3 * 2
    assert [j.origin for j in jobs[:2]] == ["grid[0] #0", "grid[0] #1"]
    assert [dict(j.overrides)["default"] for j in jobs[:4]] == ["CDR 1%", "CDR 2%"] * 2
    assert [j.deal.name for j in jobs] == ["a.toml"] * 6 + ["b.toml"] * 6
    assert all(j.pricing == (PriceInput(tranche="A", measure="price", value=100.0),) for j in jobs)


def test_ten_thousand_jobs_from_a_four_line_grid(tmp_path: Path) -> None:
    document = {
        "grid": [
            {
                "deal": "d.toml",
                "prepay": [f"CPR {i}%" for i in range(100)],
                "default": [f"CDR {i / 10}%" for i in range(100)],
            }
        ]
    }
    jobs = jobs_from_mapping(document, base=tmp_path)
    assert len(jobs) == 10_000
    assert len({j.overrides for j in jobs}) == 10_000


def test_csv_jobs(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "jobs.csv",
        "label,deal,scenario,prepay,severity,advance,price,yield\n"
        'one,d.toml,,CPR 8%,40%,yes,"A=99.5,B=98",\n'
        "two,d.toml,stress,,,,,C=4.5%\n",
    )
    one, two = load_jobs(path)
    assert one.origin == "row 2" and two.origin == "row 3"
    assert one.overrides == (("prepay", "CPR 8%"), ("severity", "40%"), ("advance", True))
    assert [p.value for p in one.pricing] == [99.5, 98.0]
    assert two.scenario == "stress" and two.overrides == ()
    assert two.pricing == (PriceInput(tranche="C", measure="yield", value=0.045),)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ('[[jobs]]\ntape = "t.csv"\n', r"jobs\[0\]\.deal: is required"),
        ('[[jobs]]\ndeal = "d.toml"\nprepay = ["CPR 1%"]\n', r"jobs\[0\]\.prepay: .*must be"),
        ('[[jobs]]\ndeal = "d.toml"\ncolour = "red"\n', r"jobs\[0\]\.colour: is not a job field"),
        ('[[jobs]]\ndeal = "d.toml"\nprice = { A = -1 }\n', r"jobs\[0\]\.price\.A: -1 must be"),
        ('[[jobs]]\ndeal = "d.toml"\nyield = { A = "abc" }\n', r"price\.A|yield\.A: 'abc'"),
        (
            '[[jobs]]\ndeal = "d.toml"\nprice = { A = 99 }\nyield = { A = 0.05 }\n',
            r"yield\.A: 0\.05 tranche A already has a price",
        ),
        ('[[jobs]]\ndeal = "d.toml"\noutput = "pdf"\n', r"output: 'pdf' must be one of summary"),
        ('[[jobs]]\ndeal = "d.toml"\nsettlement = "soon"\n', r"settlement: 'soon' must be a date"),
        (
            '[[jobs]]\ndeal = "d.toml"\nadvance = "maybe"\n',
            r"advance: 'maybe' must be true or false",
        ),
        ('[[grid]]\ndeal = "d.toml"\nprepay = []\n', r"grid\[0\]\.prepay: is an empty list"),
        ('[[grid]]\ndeal = "d.toml"\nlag = [1, "x", {a=1}]\n', r"grid\[0\]\.lag"),
        ("[[jobs]]\ndeal = 3\n", r"jobs\[0\]\.deal: 3 must be a file path"),
        (
            '[[jobs]]\ndeal = "d.toml"\nprepay = "CPR 120%"\n',
            r"jobs\[0\]\.prepay: 'CPR 120%' CPR 1.2 is above 100%",
        ),
        ('[[jobs]]\ndeal = "d.toml"\nlag = -1\n', r"jobs\[0\]\.lag: -1 "),
        (
            '[[grid]]\ndeal = "d.toml"\ndefault = ["CDR 1%", "SDA x"]\n',
            r"grid\[0\]\.default: 'SDA x'",
        ),
        ("[job]\n", r"job: is not a section"),
        ("", r"holds no \[\[jobs\]\] or \[\[grid\]\]"),
        ("[[jobs]\n", r"not valid TOML"),
    ],
)
def test_toml_errors_name_job_and_field(tmp_path: Path, text: str, match: str) -> None:
    path = _write(tmp_path, "jobs.toml", text)
    with pytest.raises(JobsFileError, match=match):
        load_jobs(path)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "jobs.toml",
        '[[jobs]]\ndeal = "d.toml"\n'
        "[[jobs]]\nprice = { A = 0 }\n"
        '[[jobs]]\ndeal = "d.toml"\noutput = "x"\ncolour = 1\n',
    )
    with pytest.raises(JobsFileError) as caught:
        load_jobs(path)
    wheres = [p.where for p in caught.value.problems]
    assert wheres == ["jobs[1].deal", "jobs[1].price.A", "jobs[2].colour", "jobs[2].output"]
    assert str(caught.value).startswith(f"{path}: 4 problems")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("tape,prepay\nt.csv,CPR 1%\n", r"header: needs a deal column"),
        ("deal,colour\nd.toml,red\n", r"column colour: is not a job field"),
        ("deal,advance\nd.toml,perhaps\n", r"row 2, column advance: 'perhaps' must be true or"),
        ("deal,price\nd.toml,A=cheap\n", r"row 2, column price\.A: 'cheap' must be a price"),
        ("deal,yield\nd.toml,4%\n", r"row 2, column yield: '4%' must give tranches"),
        ("deal\nd.toml,extra\n", r"row 2: has more cells than the header"),
        ("deal\n", r"holds no job rows"),
    ],
)
def test_csv_errors_name_row_and_column(tmp_path: Path, text: str, match: str) -> None:
    path = _write(tmp_path, "jobs.csv", text)
    with pytest.raises(JobsFileError, match=match):
        load_jobs(path)


def test_unreadable_jobs_files(tmp_path: Path) -> None:
    with pytest.raises(JobsFileError, match="no such jobs file"):
        load_jobs(tmp_path / "absent.toml")
    with pytest.raises(JobsFileError, match=r"must end in \.toml or \.csv"):
        load_jobs(_write(tmp_path, "jobs.yaml", "jobs: []"))
    bad = tmp_path / "jobs.csv"
    bad.write_bytes(b"deal\n\xff\xfe\x00bad")
    with pytest.raises(JobsFileError, match="not UTF-8"):
        load_jobs(bad)


@pytest.mark.parametrize(
    ("measure", "raw", "expected"),
    [
        ("price", 99.5, 99.5),
        ("price", "101.25", 101.25),
        ("yield", 0.031, 0.031),
        ("yield", "3.1%", 0.031),
        ("yield", "310bp", 0.031),
        ("yield", "-0.5%", -0.005),
        ("spread", "120bp", 0.012),
        ("spread", "1.2%", 0.012),
        ("spread", "25bps", 0.0025),
        ("price", "99%", "must be a price per 100 above 0, without a unit"),
        ("price", 0, "must be a price per 100 above 0"),
        ("price", True, "must be a price per 100 above 0"),
        ("spread", "wide", "must be a spread like 120bp, 1.2% or 0.012"),
        ("yield", float("nan"), "must be a yield like 3.1% or 0.031"),
    ],
)
def test_parse_measure(measure: str, raw: object, expected: object) -> None:
    assert parse_measure(measure, raw) == expected


# ------------------------------------------------------------------------ identity


def _digest_of(contents: dict[Path, str]):
    return lambda path: contents.get(path, "missing")


def test_hash_follows_file_contents_not_names_or_labels() -> None:
    job = Job(deal=Path("/d.toml"), overrides=(("prepay", "CPR 5%"),), label="x", origin="row 2")
    files = {Path("/d.toml"): "aaa", Path("/t.csv"): "ttt"}
    key = job_hash(job, _digest_of(files), Path("/t.csv"))
    assert len(key) == 32 and int(key, 16) >= 0
    assert (
        job_hash(replace(job, label="y", origin="row 9"), _digest_of(files), Path("/t.csv")) == key
    )
    changed_deal = {**files, Path("/d.toml"): "bbb"}
    changed_tape = {**files, Path("/t.csv"): "uuu"}
    assert job_hash(job, _digest_of(changed_deal), Path("/t.csv")) != key
    assert job_hash(job, _digest_of(changed_tape), Path("/t.csv")) != key
    assert job_hash(replace(job, output="cashflows"), _digest_of(files), Path("/t.csv")) != key
    priced = replace(job, pricing=(PriceInput(tranche="A", measure="price", value=99.0),))
    assert job_hash(priced, _digest_of(files), Path("/t.csv")) != key


@given(
    overrides=st.lists(
        st.tuples(st.sampled_from(["prepay", "default", "severity", "lag"]), st.text(max_size=8)),
        unique_by=lambda pair: pair[0],
    )
)
def test_hash_ignores_override_order(overrides: list[tuple[str, str]]) -> None:
    digest = _digest_of({Path("/d.toml"): "aaa"})
    forward = Job(deal=Path("/d.toml"), overrides=tuple(overrides))
    backward = Job(deal=Path("/d.toml"), overrides=tuple(reversed(overrides)))
    assert job_hash(forward, digest) == job_hash(backward, digest)


def test_file_sha256(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.txt", "abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(tmp_path / "absent") == "missing"


def test_plan_groups_by_deal_and_tape_and_chunks(tmp_path: Path) -> None:
    for name in ("a.toml", "b.toml"):
        _write(tmp_path, name, f"# {name}\n")
    document = {
        "grid": [
            {"deal": ["a.toml", "b.toml"], "prepay": [f"CPR {i}%" for i in range(10)]},
            {"deal": "a.toml", "tape": "t.csv", "prepay": ["CPR 1%", "CPR 2%"]},
        ],
        # The same inputs as grid[0] #0: computed once.
        "jobs": [{"deal": "a.toml", "prepay": "CPR 0%"}],
    }
    jobs = jobs_from_mapping(document, base=tmp_path)
    plan = plan_jobs(jobs, chunk_size=4)
    assert len(plan.keys) == 23 and len(set(plan.keys)) == 22
    sizes = [(t.deal.name, t.tape and t.tape.name, len(t.jobs)) for t in plan.tasks]
    assert sizes == [
        ("a.toml", None, 4),
        ("a.toml", None, 4),
        ("a.toml", None, 2),
        ("b.toml", None, 4),
        ("b.toml", None, 4),
        ("b.toml", None, 2),
        ("a.toml", "t.csv", 2),
    ]
    # Fewer tasks than workers: the groups are cut finer so every worker has work.
    finer = plan_jobs(jobs, chunk_size=100, min_tasks=4)
    assert max(len(t.jobs) for t in finer.tasks) == 6
    assert sum(len(t.jobs) for t in finer.tasks) == 22


def test_progress_redraws_in_place_on_a_terminal() -> None:
    import io

    from absstruct.batch.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    ticks = iter([0.0, 10.0, 20.0])
    bar = Progress(total=2, stream=stream, clock=lambda: next(ticks), skipped=3)
    bar.advance(done=1)
    bar.advance(failed=1)
    text = stream.getvalue()
    assert text.startswith("batch: 3 job(s) already have results; skipping them\n")
    assert (
        "\r\x1b[2K[############............] 1/2 done, 0 failed, 1 remaining, ETA 0:00:10" in text
    )
    assert text.endswith("[########################] 1/2 done, 1 failed, 0 remaining, in 0:00:20\n")


@pytest.mark.parametrize(
    ("changed", "same"),
    [
        ({"template": "t2"}, False),
        ({"indices.SOFR": "s2"}, False),
        ({}, True),
    ],
)
def test_hash_follows_the_files_the_deal_reads(changed: dict[str, str], same: bool) -> None:
    job = Job(deal=Path("/d.toml"))
    roles = {"template": Path("/map.toml"), "indices.SOFR": Path("/sofr.csv")}
    files = {Path("/d.toml"): "aaa", Path("/map.toml"): "t1", Path("/sofr.csv"): "s1"}
    edited = {**files, **{roles[role]: text for role, text in changed.items()}}
    pairs = list(roles.items())
    key = job_hash(job, _digest_of(files), deal_files=pairs)
    assert (job_hash(job, _digest_of(edited), deal_files=pairs) == key) is same
    assert job_hash(job, _digest_of(files), deal_files=pairs[::-1]) == key  # order-free


def test_deal_inputs_finds_template_files_shipped_templates_and_index_csvs(tmp_path: Path) -> None:
    from absstruct.batch.engine import deal_inputs
    from absstruct.resources import templates_dir

    own = _write(tmp_path, "map.toml", "name = 'map'\n")
    deal = _write(
        tmp_path,
        "deal.toml",
        f'[pool]\ntape = "t.csv"\ntemplate = "{own.as_posix()}"\n'
        '[indices.SOFR]\ncsv = "rates/sofr.csv"\n[indices.FLAT]\nrates = [0.04]\n',
    )
    found = deal_inputs(deal)
    assert found.tape == (tmp_path / "t.csv").resolve()
    assert dict(found.files) == {
        "template": own.resolve(),
        "indices.SOFR": (tmp_path / "rates" / "sofr.csv").resolve(),
    }
    shipped = _write(tmp_path, "shipped.toml", '[pool]\ntemplate = "lendingclub"\n')
    assert dict(deal_inputs(shipped).files) == {
        "template": templates_dir() / "tapes" / "lendingclub.toml"
    }
    bare = _write(tmp_path, "bare.toml", "name = 'no pool'\n")
    assert deal_inputs(bare).files == (("template", templates_dir() / "tapes" / "canonical.toml"),)
    assert deal_inputs(_write(tmp_path, "bad.toml", "[pool\n")).files == ()
