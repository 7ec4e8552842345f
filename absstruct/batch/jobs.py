"""Batch jobs: the frozen job model, jobs files (TOML or CSV), grid expansion and job identity.

A job is one (deal, tape, scenario, pricing) evaluation.  A jobs file lists jobs, or
expands a grid of them (the product of the listed values), so ten thousand stress
scenarios need not be written out.  Each job's identity is a content hash of everything
its result depends on, which is what ``--resume`` compares.

TOML layout (paths are relative to the jobs file)::

    [defaults]                    # optional: applied to every job and grid
    settlement = "2024-07-15"

    [[jobs]]
    deal = "deals/us_auto.toml"   # required
    tape = "tapes/june.csv"       # optional: the deal's own tape when absent
    scenario = "stress"           # a named scenario of the deal ...
    prepay = "ABS 1.5%"           # ... and/or assumption overrides
    price = { A1 = 99.5 }         # per tranche: price per 100, or yield / spread
    yield = { B = "6%" }
    output = "cashflows"          # "summary" (default) or "cashflows"

    [[grid]]                      # lists expand to their product
    deal = "deals/us_auto.toml"
    prepay = ["ABS 1%", "ABS 1.5%"]
    default = ["CDR 2%", "CDR 4%", "CDR 8%"]

A CSV jobs file has one job per row and the same column names; per-tranche pricing is
written ``A1=99.5,B=98`` in the ``price``, ``yield`` and ``spread`` columns.

Examples
--------
>>> jobs = jobs_from_mapping(
...     {"grid": [{"deal": "d.toml", "prepay": ["CPR 5%", "CPR 10%"], "lag": [3, 6]}]},
...     base=Path("/book"),
... )
>>> len(jobs), jobs[1].origin, dict(jobs[1].overrides)
(4, 'grid[0] #1', {'prepay': 'CPR 5%', 'lag': 6})
>>> jobs[0].deal.as_posix()
'/book/d.toml'
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import hashlib
import io
import itertools
import json
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from absstruct import __version__
from absstruct.errors import AbsStructError, Problem

OutputKind = Literal["summary", "cashflows"]
Measure = Literal["price", "yield", "spread"]

OUTPUT_KINDS: tuple[str, ...] = ("summary", "cashflows")
MEASURES: tuple[str, ...] = ("price", "yield", "spread")
# Assumption overrides a job may set on top of the deal's base case (or named scenario).
ASSUMPTION_KEYS: tuple[str, ...] = ("prepay", "default", "severity", "lag", "advance", "call")
FIELDS: tuple[str, ...] = (
    "label",
    "deal",
    "tape",
    "scenario",
    *ASSUMPTION_KEYS,
    *MEASURES,
    "curve",
    "settlement",
    "output",
)
# Grid fields that expand when given a list, in product order (the last varies fastest).
GRID_AXES: tuple[str, ...] = ("deal", "tape", "scenario", *ASSUMPTION_KEYS)

Scalar = str | int | float | bool


class JobsFileError(AbsStructError):
    """A jobs file cannot be read or holds invalid jobs."""


@dataclass(frozen=True, kw_only=True)
class PriceInput:
    """The pricing input of one tranche: a price per 100, a yield or a spread (decimals).

    Examples
    --------
    >>> PriceInput(tranche="A", measure="yield", value=0.031)
    PriceInput(tranche='A', measure='yield', value=0.031)
    """

    tranche: str
    measure: Measure
    value: float


@dataclass(frozen=True, kw_only=True)
class Job:
    """One batch job.

    Parameters
    ----------
    deal : Path
        The deal file.
    tape : Path or None
        A tape to run instead of the deal's own.
    scenario : str or None
        A named scenario of the deal; ``None`` is the deal's base case.
    overrides : tuple of (str, scalar) pairs
        Assumption overrides (``ASSUMPTION_KEYS``) applied on top of the scenario, as written
        in the jobs file (``("prepay", "ABS 1.5%")``); parsed by the assumption grammar.
    pricing : tuple of PriceInput
        At most one input per tranche; tranches without one are priced at par.
    curve : Path or None
        Benchmark curve for spread inputs.
    settlement : datetime.date or None
        Settlement date for pricing; ``None`` uses the deal's closing date.
    output : {"summary", "cashflows"}
        ``cashflows`` also keeps the tranche cash flows by period.
    label : str
        The user's name for the job (defaults to its origin).
    origin : str
        Where the job came from, for messages: ``jobs[3]``, ``row 4``, ``grid[0] #17``.
    """

    deal: Path
    tape: Path | None = None
    scenario: str | None = None
    overrides: tuple[tuple[str, Scalar], ...] = ()
    pricing: tuple[PriceInput, ...] = ()
    curve: Path | None = None
    settlement: dt.date | None = None
    output: OutputKind = "summary"
    label: str = ""
    origin: str = ""

    def identity(self) -> dict[str, Any]:
        """The inputs besides file contents that a result depends on (label and origin excluded)."""
        return {
            "scenario": self.scenario,
            "overrides": [[k, v] for k, v in sorted(self.overrides)],
            "pricing": sorted([p.tranche, p.measure, p.value] for p in self.pricing),
            "settlement": None if self.settlement is None else self.settlement.isoformat(),
            "output": self.output,
        }


def job_hash(
    job: Job,
    file_digest: Callable[[Path], str],
    deal_tape: Path | None = None,
    deal_files: Sequence[tuple[str, Path]] = (),
) -> str:
    """Content hash of a job: file bytes (deal, tape, curve, the files the deal reads), its
    inputs and the version.

    ``file_digest`` maps a path to the hex digest of its bytes (``"missing"`` when absent);
    ``deal_tape`` is the deal's own tape, hashed when the job names no tape; ``deal_files``
    are the other files the deal reads, as (role, path) pairs: its tape mapping template
    and index-rate CSVs (see :func:`absstruct.batch.engine.deal_inputs`).

    Examples
    --------
    >>> from dataclasses import replace
    >>> digest = lambda path: "d-" + path.name
    >>> a = Job(deal=Path("x.toml"), overrides=(("prepay", "CPR 5%"),), label="first")
    >>> b = replace(a, label="second")
    >>> job_hash(a, digest) == job_hash(b, digest)
    True
    >>> job_hash(a, digest) == job_hash(replace(a, overrides=()), digest)
    False
    >>> template = [("template", Path("auto.toml"))]
    >>> job_hash(a, digest, deal_files=template) == job_hash(a, digest)
    False
    """
    tape = job.tape if job.tape is not None else deal_tape
    payload = {
        "absstruct": __version__,
        "deal": file_digest(job.deal),
        "tape": None if tape is None else file_digest(tape),
        "curve": None if job.curve is None else file_digest(job.curve),
        "deal_files": sorted([role, file_digest(path)] for role, path in deal_files),
        **job.identity(),
    }
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes, ``"missing"`` when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return "missing"
    return digest.hexdigest()


# --------------------------------------------------------------------------- reading files


def load_jobs(path: str | Path) -> tuple[Job, ...]:
    """Read a jobs file (``.toml`` or ``.csv``) into jobs; every problem is reported at once.

    Relative paths inside the file are taken relative to the file's folder.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise JobsFileError(f"{path}: no such jobs file") from None
    except OSError as error:
        raise JobsFileError(f"{path}: cannot read ({error.strerror})") from None
    base = path.resolve().parent
    suffix = path.suffix.lower()
    if suffix == ".toml":
        try:
            document = tomllib.loads(raw.decode("utf-8-sig"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise JobsFileError(f"{path}: not valid TOML ({error})") from None
        return jobs_from_mapping(document, base=base, source=str(path))
    if suffix == ".csv":
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise JobsFileError(f"{path}: not UTF-8 text ({error})") from None
        return jobs_from_csv(text, base=base, source=str(path))
    raise JobsFileError(
        f"{path}: a jobs file must end in .toml or .csv, not {suffix or '(none)'!r}"
    )


def jobs_from_mapping(
    document: Mapping[str, Any], *, base: Path, source: str = "jobs file"
) -> tuple[Job, ...]:
    """Build jobs from a parsed TOML document (``defaults``, ``jobs`` and ``grid`` tables)."""
    problems: list[Problem] = []
    unknown = sorted(set(document) - {"defaults", "jobs", "grid"})
    for key in unknown:
        problems.append(
            Problem(
                where=key, rule="unknown_key", message="is not a section; use defaults, jobs, grid"
            )
        )
    defaults = document.get("defaults", {})
    if not isinstance(defaults, Mapping):
        problems.append(Problem(where="defaults", rule="type", message="must be a table"))
        defaults = {}
    jobs: list[Job] = []
    for section in ("jobs", "grid"):
        entries = document.get(section, [])
        if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
            problems.append(
                Problem(
                    where=section, rule="type", message=f"must be an array of tables [[{section}]]"
                )
            )
            continue
        for index, entry in enumerate(entries):
            where = f"{section}[{index}]"
            merged = {**defaults, **entry}
            if section == "jobs":
                job = _job_from_fields(merged, where=where, base=base, problems=problems)
                if job is not None:
                    jobs.append(job)
            else:
                jobs.extend(_expand_grid(merged, where=where, base=base, problems=problems))
    if not problems and not jobs:
        problems.append(
            Problem(where=source, rule="empty", message="holds no [[jobs]] or [[grid]]")
        )
    if problems:
        raise JobsFileError.from_problems(problems, source=source)
    return tuple(jobs)


def jobs_from_csv(text: str, *, base: Path, source: str = "jobs file") -> tuple[Job, ...]:
    """Build jobs from CSV text: a header of job fields, one job per row (blank cells = unset)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    problems: list[Problem] = []
    for name in header:
        if name not in FIELDS:
            problems.append(
                Problem(where=f"column {name}", rule="unknown_key", message=_allowed_fields())
            )
    if "deal" not in header:
        problems.append(Problem(where="header", rule="required", message="needs a deal column"))
    if problems:
        raise JobsFileError.from_problems(problems, source=source)
    reader.fieldnames = header
    jobs: list[Job] = []
    for number, row in enumerate(reader, start=2):  # row 1 is the header
        fields: dict[str, Any] = {}
        for key, cell in row.items():
            if key is None:
                problems.append(
                    Problem(where=f"row {number}", message="has more cells than the header")
                )
                continue
            if cell is not None and cell.strip():
                fields[key] = _pricing_cell(cell) if key in MEASURES else cell.strip()
        job = _job_from_fields(
            fields, where=f"row {number}", base=base, problems=problems, csv_row=True
        )
        if job is not None:
            jobs.append(job)
    if not problems and not jobs:
        problems.append(Problem(where=source, rule="empty", message="holds no job rows"))
    if problems:
        raise JobsFileError.from_problems(problems, source=source)
    return tuple(jobs)


# --------------------------------------------------------------------------- field parsing


def _allowed_fields() -> str:
    return "is not a job field; use " + ", ".join(FIELDS)


def _field_where(where: str, key: str, csv_row: bool) -> str:
    return f"{where}, column {key}" if csv_row else f"{where}.{key}"


def _expand_grid(
    fields: Mapping[str, Any], *, where: str, base: Path, problems: list[Problem]
) -> list[Job]:
    axes: list[list[Any]] = []
    for key in GRID_AXES:
        value = fields.get(key)
        if isinstance(value, list):
            if not value:
                problems.append(
                    Problem(where=f"{where}.{key}", rule="empty", message="is an empty list")
                )
                return []
            axes.append(value)
        else:
            axes.append([value])
    first_problem = len(problems)
    jobs: list[Job] = []
    for number, combination in enumerate(itertools.product(*axes)):
        point = dict(fields)
        for key, value in zip(GRID_AXES, combination, strict=True):
            if value is None:
                point.pop(key, None)
            else:
                point[key] = value
        origin = f"{where} #{number}"
        job = _job_from_fields(point, where=where, base=base, problems=problems, origin=origin)
        if len(problems) > first_problem:
            return []  # one report per grid, not one per grid point
        if job is not None:
            jobs.append(job)
    return jobs


def _job_from_fields(
    fields: Mapping[str, Any],
    *,
    where: str,
    base: Path,
    problems: list[Problem],
    origin: str | None = None,
    csv_row: bool = False,
) -> Job | None:
    count = len(problems)

    def bad(key: str, value: Any, message: str, rule: str = "invalid") -> None:
        problems.append(
            Problem(
                where=_field_where(where, key, csv_row), value=value, rule=rule, message=message
            )
        )

    for key in fields:
        if key not in FIELDS:
            bad(key, None, _allowed_fields(), "unknown_key")
    deal = _path_field(fields, "deal", base, bad, required=True)
    tape = _path_field(fields, "tape", base, bad)
    curve = _path_field(fields, "curve", base, bad)
    scenario = fields.get("scenario")
    if scenario is not None and not isinstance(scenario, str):
        bad("scenario", scenario, "must be the name of a scenario in the deal")
        scenario = None
    label = fields.get("label", "")
    if not isinstance(label, str):
        bad("label", label, "must be text")
        label = ""
    overrides: list[tuple[str, Scalar]] = []
    for key in ASSUMPTION_KEYS:
        if key not in fields:
            continue
        value = fields[key]
        if key in ("advance", "call"):
            flag = _csv_flag(value) if csv_row else value
            if not isinstance(flag, bool):
                bad(key, value, "must be true or false")
                continue
            value = flag
        elif isinstance(value, bool) or not isinstance(value, (str, int, float)):
            bad(key, value, "must be an assumption like 'CPR 8%' or a number")
            continue
        reason = _assumption_problem(key, value)
        if reason:
            bad(key, value, reason)
            continue
        overrides.append((key, value))
    pricing = _pricing_fields(fields, bad)
    settlement = _date_field(fields.get("settlement"), bad)
    output = fields.get("output", "summary")
    if output not in OUTPUT_KINDS:
        bad("output", output, f"must be one of {', '.join(OUTPUT_KINDS)}")
        output = "summary"
    if len(problems) > count or deal is None:
        return None
    return Job(
        deal=deal,
        tape=tape,
        scenario=scenario,
        overrides=tuple(overrides),
        pricing=pricing,
        curve=curve,
        settlement=settlement,
        output=output,
        label=label or (origin or where),
        origin=origin or where,
    )


@functools.lru_cache(maxsize=4096)
def _assumption_problem(key: str, value: Scalar) -> str:
    """Why an override value is not a valid assumption ('' when it is), by the one grammar."""
    if key == "call":
        return ""
    from absstruct.curves import Assumptions

    try:
        Assumptions.from_mapping({key: value})
    except AbsStructError as error:
        reasons = [p.message for p in error.problems] or [str(error)]
        return "; ".join(reasons)
    return ""


def _path_field(
    fields: Mapping[str, Any],
    key: str,
    base: Path,
    bad: Callable[..., None],
    *,
    required: bool = False,
) -> Path | None:
    value = fields.get(key)
    if value is None:
        if required:
            bad(key, None, "is required: the deal file to run", "required")
        return None
    if not isinstance(value, str) or not value.strip():
        bad(key, value, "must be a file path")
        return None
    # Missing files are not rejected here: the job fails alone when it runs.
    return (base / value.strip()).resolve()


def _date_field(value: Any, bad: Callable[..., None]) -> dt.date | None:
    if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    bad("settlement", value, "must be a date like 2024-07-15")
    return None


def _csv_flag(value: Any) -> bool | None:
    text = str(value).strip().lower()
    return {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(text)


_PRICING_ITEM = re.compile(r"^\s*([^=\s]+)\s*=\s*(\S.*?)\s*$")


def _pricing_cell(cell: str) -> dict[str, str] | str:
    """``"A=99.5, B=98"`` -> ``{"A": "99.5", "B": "98"}``; anything else is returned as is."""
    items: dict[str, str] = {}
    for part in cell.split(","):
        match = _PRICING_ITEM.match(part)
        if match is None:
            return cell
        items[match.group(1)] = match.group(2)
    return items


def _pricing_fields(fields: Mapping[str, Any], bad: Callable[..., None]) -> tuple[PriceInput, ...]:
    inputs: dict[str, PriceInput] = {}
    for measure in MEASURES:
        table = fields.get(measure)
        if table is None:
            continue
        if not isinstance(table, Mapping):
            bad(measure, table, "must give tranches and values, like A=99.5,B=98")
            continue
        for tranche, raw in table.items():
            key = f"{measure}.{tranche}"
            value = parse_measure(measure, raw)
            if isinstance(value, str):
                bad(key, raw, value)
            elif tranche in inputs:
                bad(key, raw, f"tranche {tranche} already has a {inputs[tranche].measure}")
            else:
                inputs[tranche] = PriceInput(tranche=str(tranche), measure=measure, value=value)  # type: ignore[arg-type]
    return tuple(inputs.values())


_NUMBER = re.compile(r"^\s*([-+]?\d+(?:\.\d*)?|[-+]?\.\d+)(?:[eE][-+]?\d+)?\s*(%|bps?)?\s*$")


def parse_measure(measure: str, raw: Any) -> float | str:
    """Parse a price (per 100), yield or spread; return the decimal value or an error message.

    Numbers are decimals for yields and spreads; strings may carry ``%`` or ``bp``.

    Examples
    --------
    >>> parse_measure("yield", "3.1%"), parse_measure("spread", "120bp")
    (0.031, 0.012)
    >>> parse_measure("price", 99.5)
    99.5
    >>> parse_measure("price", "-1")
    'must be a price per 100 above 0'
    """
    if isinstance(raw, bool):
        value: float | None = None
    elif isinstance(raw, (int, float)):
        value = float(raw)
    elif isinstance(raw, str) and (match := _NUMBER.match(raw)):
        number = float(raw.strip().rstrip("%").removesuffix("bps").removesuffix("bp").strip())
        unit = match.group(2)
        if unit and measure == "price":
            return "must be a price per 100 above 0, without a unit"
        value = number / 100 if unit == "%" else number / 10_000 if unit else number
    else:
        value = None
    if value is None or value != value:
        return {
            "price": "must be a price per 100 above 0",
            "yield": "must be a yield like 3.1% or 0.031",
            "spread": "must be a spread like 120bp, 1.2% or 0.012",
        }[measure]
    if measure == "price" and value <= 0:
        return "must be a price per 100 above 0"
    return round(value, 12)


def describe(job: Job) -> str:
    """A one-line description of a job's scenario for summaries.

    Examples
    --------
    >>> describe(Job(deal=Path("d.toml"), scenario="stress", overrides=(("prepay", "CPR 8%"),)))
    'stress; prepay=CPR 8%'
    """
    parts = [job.scenario or "base"] if job.scenario or not job.overrides else []
    parts += [f"{key}={value}" for key, value in job.overrides]
    return "; ".join(parts)


def unique_paths(jobs: Iterable[Job]) -> Sequence[Path]:
    """Every file the jobs name, each once, in first-seen order."""
    seen: dict[Path, None] = {}
    for job in jobs:
        for path in (job.deal, job.tape, job.curve):
            if path is not None:
                seen.setdefault(path, None)
    return list(seen)


__all__ = [
    "ASSUMPTION_KEYS",
    "FIELDS",
    "Job",
    "JobsFileError",
    "PriceInput",
    "describe",
    "file_sha256",
    "job_hash",
    "jobs_from_csv",
    "jobs_from_mapping",
    "load_jobs",
    "parse_measure",
]
