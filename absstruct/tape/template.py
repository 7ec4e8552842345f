"""Mapping templates: how one export's headers, codes, units and dates become the canonical tape.

A template is a TOML file in ``templates/tapes/`` (or any path the user gives).  Adding an
export means adding a file, never code.  See ``templates/tapes/README.md`` for the format.

Examples
--------
>>> sorted(template_names())[:2]
['canonical', 'cn_consumer']
>>> load_template("lendingclub").columns["original_balance"].from_
('funded_amnt',)
>>> load_template("canonical").headers_for("rate")
('rate',)
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from absstruct.errors import Problem, TapeError
from absstruct.resources import templates_dir
from absstruct.tape.schema import COLUMNS

Unit = Literal["", "decimal", "percent", "months", "years", "days"]
Derivation = Literal["row_number", "dates", "schedule", "days_past_due", "loan_id"]


class ColumnRule(BaseModel):
    """How one canonical column is found and parsed.

    Parameters
    ----------
    from_ : tuple of str
        Source headers to look for, first match wins (TOML key ``from``).  Matching ignores
        case, surrounding spaces and a UTF-8 BOM.
    unit : str
        ``decimal`` / ``percent`` for rates, ``months`` / ``years`` for terms.
    scale : float
        Multiplier for money columns (10000 for amounts in 万元).
    formats : tuple of str
        ``strftime`` formats tried first for dates; ``"excel"`` accepts serial numbers in text.
    values : dict
        Raw value -> canonical code (matched after stripping, case-insensitive).
    strip_prefix : tuple of str
        Prefixes removed from text before ``values`` applies.
    default : str, float or None
        Value used where the column is absent or blank.
    derive : str or None
        Fill blanks from other columns: ``row_number`` (loan ids), ``dates`` (remaining term
        from the cut-off date), ``schedule`` (current balance from the amortization schedule),
        ``days_past_due`` (status), ``loan_id`` (obligor id).
    id_prefix : str
        Prefix for ids made by ``derive = "row_number"``.
    without_cutoff : {"original_term"} or None
        What ``derive = "dates"`` uses when no cut-off date is given.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_: tuple[str, ...] = Field(default=(), alias="from")
    unit: Unit = ""
    scale: float = 1.0
    formats: tuple[str, ...] = ()
    values: dict[str, str] = Field(default_factory=dict)
    strip_prefix: tuple[str, ...] = ()
    default: str | float | None = None
    derive: Derivation | None = None
    id_prefix: str = ""
    without_cutoff: Literal["original_term"] | None = None

    @field_validator("from_", "formats", "strip_prefix", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value


class Template(BaseModel):
    """A mapping template (one TOML file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    description: str = ""
    match_canonical_names: bool = True
    keep_raw: tuple[str, ...] = ()
    columns: dict[str, ColumnRule] = Field(default_factory=dict)
    source: str = ""

    @field_validator("columns")
    @classmethod
    def _canonical_only(cls, value: dict[str, ColumnRule]) -> dict[str, ColumnRule]:
        unknown = sorted(set(value) - set(COLUMNS))
        if unknown:
            raise ValueError(
                f"unknown canonical column(s) {', '.join(unknown)}; allowed: {', '.join(COLUMNS)}"
            )
        return value

    def rule(self, column: str) -> ColumnRule:
        """The rule for ``column`` (an empty rule when the template does not mention it)."""
        return self.columns.get(column, ColumnRule())

    def headers_for(self, column: str) -> tuple[str, ...]:
        """Source headers that may hold ``column``, in order of preference."""
        headers = self.rule(column).from_
        if self.match_canonical_names and column not in headers:
            headers = (*headers, column)
        return headers


def template_names() -> list[str]:
    """Names of the templates shipped with absstruct.

    >>> "lendingclub" in template_names()
    True
    """
    folder = templates_dir() / "tapes"
    return sorted(p.stem for p in folder.glob("*.toml"))


def load_template(name_or_path: str | os.PathLike[str] | Template) -> Template:
    """Load a shipped template by name, or a template file by path."""
    if isinstance(name_or_path, Template):
        return name_or_path
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".toml") or path.exists()):
        path = templates_dir() / "tapes" / f"{text}.toml"
        if not path.exists():
            raise TapeError(
                f"unknown tape template {text!r}; shipped templates: "
                f"{', '.join(template_names())} (or give the path of a .toml file)"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TapeError(f"{path}: template file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TapeError(f"{path}: not a valid TOML file: {error}") from None
    data.setdefault("name", path.stem)
    try:
        return Template.model_validate({**data, "source": str(path)})
    except ValidationError as error:
        problems = [
            Problem(
                where=".".join(str(part) for part in item["loc"]) or "template",
                value=None,
                rule="template",
                message=item["msg"],
            )
            for item in error.errors()
        ]
        raise TapeError.from_problems(problems, source=str(path)) from None
