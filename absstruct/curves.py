"""Prepayment, default and severity assumptions: one grammar, one place, per-period rates.

Every assumption string in absstruct (CLI options, deal files, scenario grids) is parsed
here.  The grammar, case-insensitive::

    [KIND] BODY [x MULTIPLIER]
    BODY := NUMBER | PERCENT | "[" v, v, ... "]" | "ramp" START END MONTHS
    CUM BODY := PERCENT ("over" MONTHS | "[" timing, ... "]")

Prepayment kinds: ``SMM``, ``CPR``, ``PSA``, ``ABS``; default kinds: ``MDR``, ``CDR``, ``SDA``,
``CUM`` (lifetime cumulative default as a share of the cut-off balance, spread by a timing
vector summing to 1).  A bare number is a CPR (prepay), CDR (default) or loss fraction
(severity).  Vectors are padded with their last value; a ramp runs linearly from START in
month 1 to END in month MONTHS, then stays flat.  The multiplier scales the quoted rate (the
annual rate for CPR/CDR/PSA/SDA).  Rates are decimals or percents (``0.08`` or ``8%``);
PSA/SDA speeds are percents of the standard curve (``150``).

Examples
--------
>>> import numpy as np
>>> round(float(parse_prepay("ABS 2%").monthly(np.array([11]))[0]), 6)
0.025
>>> round(float(cpr_to_smm(parse_prepay("PSA 100").annual(np.array([30]))[0])), 6)
0.005143
>>> parse_default("SDA 100").annual(np.array([1, 30, 60, 61, 120, 121])).round(6).tolist()
[0.0002, 0.006, 0.006, 0.005905, 0.0003, 0.0003]
>>> parse_default("CDR 3% x 1.5").annual(np.array([1]))[0]
np.float64(0.045)
>>> a = Assumptions.from_strings(prepay="PSA 150", default="SDA 100", severity="20%", lag=12)
>>> a.lag, a.advance
(12, False)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from absstruct.errors import AssumptionError, Problem

PREPAY_KINDS = ("SMM", "CPR", "PSA", "ABS")
DEFAULT_KINDS = ("MDR", "CDR", "SDA", "CUM")
SEVERITY_KINDS = ("SEV",)
_ANNUAL = ("CPR", "CDR", "PSA", "SDA")
_MAX_MONTHS = 1200  # 100 years: longer vectors or ramps are surely a typo


def smm_to_cpr(smm: np.ndarray | float) -> np.ndarray:
    """Monthly to annual rate: ``1 - CPR = (1 - SMM) ** 12``.

    >>> round(float(smm_to_cpr(0.01)), 6)
    0.113615
    """
    return 1.0 - (1.0 - np.asarray(smm, dtype=float)) ** 12


def cpr_to_smm(cpr: np.ndarray | float) -> np.ndarray:
    """Annual to monthly rate: ``SMM = 1 - (1 - CPR) ** (1/12)``.

    >>> round(float(cpr_to_smm(0.06)), 6)
    0.005143
    """
    return 1.0 - (1.0 - np.minimum(np.asarray(cpr, dtype=float), 1.0)) ** (1.0 / 12.0)


def psa_cpr(speed: float | np.ndarray, months: np.ndarray) -> np.ndarray:
    """PSA: CPR = speed/100 x 0.2% x min(month, 30).

    >>> psa_cpr(100, np.array([1, 15, 30, 31])).round(4).tolist()
    [0.002, 0.03, 0.06, 0.06]
    """
    return speed / 100.0 * 0.002 * np.minimum(np.asarray(months, dtype=float), 30.0)


def sda_cdr(speed: float | np.ndarray, months: np.ndarray) -> np.ndarray:
    """SDA: 0.02%/month to 0.6% CDR at 30, flat to 60, -0.0095%/month to 0.03% at 120.

    >>> sda_cdr(200, np.array([30, 121])).round(6).tolist()
    [0.012, 0.0006]
    """
    m = np.asarray(months, dtype=float)
    base = np.where(
        m <= 30,
        0.0002 * m,
        np.where(m <= 60, 0.006, np.maximum(0.006 - 0.000095 * (m - 60), 0.0003)),
    )
    return speed / 100.0 * base


@dataclass(frozen=True, kw_only=True)
class Curve:
    """A parsed assumption: a kind, its values (a vector padded with its last value), a multiplier.

    ``values`` hold decimals for rate kinds, speeds (100 = 100%) for PSA/SDA, the lifetime
    cumulative rate for CUM (with ``timing``), loss fractions for SEV.
    """

    kind: str
    values: tuple[float, ...]
    multiplier: float = 1.0
    timing: tuple[float, ...] = ()
    text: str = ""

    def _at(self, months: np.ndarray) -> np.ndarray:
        vector = np.asarray(self.values, dtype=float)
        index = np.clip(np.asarray(months, dtype=np.int64) - 1, 0, len(vector) - 1)
        return vector[index]

    def annual(self, months: np.ndarray) -> np.ndarray:
        """Annual rate (CPR / CDR) in the given months (1-based ages or periods)."""
        months = np.asarray(months)
        if self.kind in ("CPR", "CDR"):
            return np.minimum(self._at(months) * self.multiplier, 1.0)
        if self.kind == "PSA":
            return np.minimum(psa_cpr(self._at(months) * self.multiplier, months), 1.0)
        if self.kind == "SDA":
            return np.minimum(sda_cdr(self._at(months) * self.multiplier, months), 1.0)
        return smm_to_cpr(self.monthly(months))

    def monthly(self, months: np.ndarray) -> np.ndarray:
        """Monthly rate (SMM / MDR) in the given months (1-based ages or periods)."""
        months = np.asarray(months)
        if self.kind in ("SMM", "MDR"):
            return np.minimum(self._at(months) * self.multiplier, 1.0)
        if self.kind == "ABS":
            speed = self._at(months) * self.multiplier
            left = 1.0 - speed * (np.maximum(months, 1) - 1)
            # Once ABS x (month - 1) reaches 100% every original loan has prepaid.
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(left > speed, speed / np.where(left > 0, left, 1.0), 1.0)
        if self.kind in _ANNUAL:
            return cpr_to_smm(self.annual(months))
        raise AssumptionError(f"{self.text or self.kind}: a {self.kind} curve has no monthly rate")

    def severity(self, months: np.ndarray) -> np.ndarray:
        """Loss severity in the given months of default."""
        return np.minimum(self._at(np.asarray(months)) * self.multiplier, 1.0)

    def cumulative_targets(self, n_periods: int) -> np.ndarray:
        """CUM: defaults per period as a fraction of the cut-off balance."""
        timing = np.zeros(n_periods)
        given = np.asarray(self.timing, dtype=float)[:n_periods]
        timing[: len(given)] = given
        return self.values[0] * self.multiplier * timing


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?"
_MULT = re.compile(rf"^(?P<body>.*?)\s*(?:x|\*|×)\s*(?P<mult>{_NUMBER})\s*$", re.IGNORECASE)
_KIND = re.compile(r"^(?P<kind>[a-z]+)\b\s*(?P<rest>.*)$", re.IGNORECASE)


class _Bad(ValueError):
    """A parse failure: the message says what is allowed."""


def _number(text: str, *, percent_scale: float = 0.01) -> float:
    token = text.strip()
    scale = 1.0
    if token.endswith("%"):
        token, scale = token[:-1].strip(), percent_scale
    if not re.fullmatch(_NUMBER, token, flags=re.IGNORECASE):
        raise _Bad(f"{text.strip()!r} is not a number (write 8%, 0.08 or 150)")
    value = float(token) * scale
    if not math.isfinite(value):
        raise _Bad(f"{text.strip()!r} is not a finite number")
    return value


def _vector(text: str, *, speeds: bool) -> tuple[float, ...]:
    inner = text.strip()[1:-1].strip()
    if not inner:
        raise _Bad("a vector needs at least one value, e.g. [5%, 6%, 8%]")
    items = [item for item in re.split(r"[,\s;]+", inner) if item]
    if len(items) > _MAX_MONTHS:
        raise _Bad(f"a vector holds at most {_MAX_MONTHS} values")
    return tuple(_number(item, percent_scale=1.0 if speeds else 0.01) for item in items)


def _ramp(rest: str, *, speeds: bool) -> tuple[float, ...]:
    parts = rest.split()
    if len(parts) != 3:
        raise _Bad("a ramp is 'ramp START END MONTHS', e.g. 'CPR ramp 2% 8% 12'")
    scale = 1.0 if speeds else 0.01
    start, end = _number(parts[0], percent_scale=scale), _number(parts[1], percent_scale=scale)
    months = _number(parts[2], percent_scale=1.0)
    if months != int(months) or not 1 <= months <= _MAX_MONTHS:
        raise _Bad(f"ramp length {parts[2]!r} must be a whole number of months in 1..{_MAX_MONTHS}")
    return tuple(np.linspace(start, end, int(months)).tolist())


def _parse(value: object, *, kinds: tuple[str, ...], bare: str) -> Curve:
    if isinstance(value, bool) or value is None:
        raise _Bad(f"expected a number or text like '{kinds[0]} ...', got {value!r}")
    if isinstance(value, (int, float)):
        text = repr(float(value))
        body, kind, multiplier = text, bare, 1.0
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise _Bad(f"is empty; expected e.g. '{kinds[0]} ...' or a number")
        body, multiplier = text, 1.0
        found = _MULT.match(text)
        if found and found["body"]:
            body, multiplier = found["body"], _number(found["mult"], percent_scale=0.01)
            if multiplier < 0:
                raise _Bad(f"multiplier {found['mult']} is negative")
        kind = bare
        head = _KIND.match(body)
        if head and head["kind"].lower() not in ("ramp",):
            kind = head["kind"].upper()
            if kind not in kinds:
                raise _Bad(f"unknown curve {head['kind']!r}; allowed here: {', '.join(kinds)}")
            body = head["rest"]
    else:
        raise _Bad(f"expected a number or a string, got {type(value).__name__}")
    speeds = kind in ("PSA", "SDA")
    body = body.strip()
    timing: tuple[float, ...] = ()
    if kind == "CUM":
        cum, _, rest = body.partition(" ")
        values: tuple[float, ...] = (_number(cum),)
        rest = rest.strip()
        over = re.fullmatch(r"over\s+(\S+)", rest, flags=re.IGNORECASE)
        if over:
            months = _number(over.group(1), percent_scale=1.0)
            if months != int(months) or not 1 <= months <= _MAX_MONTHS:
                raise _Bad(f"'over {over.group(1)}' needs whole months in 1..{_MAX_MONTHS}")
            timing = tuple([1.0 / int(months)] * int(months))
        elif rest.startswith("[") and rest.endswith("]"):
            timing = _vector(rest, speeds=False)
            if min(timing) < 0 or abs(sum(timing) - 1.0) > 1e-6:
                raise _Bad(
                    f"timing curve must be non-negative and sum to 100% (sums to {sum(timing):.6g})"
                )
        else:
            raise _Bad("CUM needs a timing: 'CUM 8% over 24' or 'CUM 8% [10%, 30%, 60%]'")
    elif body.startswith("[") and body.endswith("]"):
        values = _vector(body, speeds=speeds)
    elif body.lower().startswith("ramp"):
        values = _ramp(body[4:], speeds=speeds)
    else:
        values = (_number(body, percent_scale=1.0 if speeds else 0.01),)
    curve = Curve(kind=kind, values=values, multiplier=multiplier, timing=timing, text=text)
    _check_range(curve)
    return curve


def _check_range(curve: Curve) -> None:
    low = min(curve.values)
    if low < 0:
        raise _Bad(f"{low:g} is negative; rates, speeds and severities are >= 0")
    scaled = max(curve.values) * curve.multiplier
    if curve.kind in ("PSA", "SDA"):
        limit = 100.0 / 0.06 if curve.kind == "PSA" else 100.0 / 0.006
        if scaled > limit:
            raise _Bad(f"{curve.kind} {scaled:g} implies an annual rate above 100%")
    elif scaled > 1.0:
        name = {"SEV": "severity"}.get(curve.kind, curve.kind)
        raise _Bad(f"{name} {scaled:.6g} is above 100% (write 8% or 0.08)")
    if curve.kind == "ABS" and scaled >= 1.0:
        raise _Bad("ABS speed must be below 100%")


def _parse_or_raise(value: object, *, where: str, kinds: tuple[str, ...], bare: str) -> Curve:
    try:
        return _parse(value, kinds=kinds, bare=bare)
    except _Bad as bad:
        raise AssumptionError(
            str(Problem(where=where, value=value, rule="assumption", message=str(bad))),
            problems=[Problem(where=where, value=value, rule="assumption", message=str(bad))],
        ) from None


def parse_prepay(value: object, *, where: str = "prepay") -> Curve:
    """Parse a prepayment assumption (``"PSA 150"``, ``"CPR 8%"``, ``"ABS 1.5%"``, ``0.08``).

    >>> parse_prepay("CPR [5%, 6%, 8%]").annual(np.array([1, 2, 40])).tolist()
    [0.05, 0.06, 0.08]
    """
    return _parse_or_raise(value, where=where, kinds=PREPAY_KINDS, bare="CPR")


def parse_default(value: object, *, where: str = "default") -> Curve:
    """Parse a default assumption (``"SDA 100"``, ``"CDR 3% x 1.5"``, ``"CUM 8% over 24"``).

    >>> parse_default("MDR 1%").monthly(np.array([5]))[0]
    np.float64(0.01)
    """
    return _parse_or_raise(value, where=where, kinds=DEFAULT_KINDS, bare="CDR")


def parse_severity(value: object, *, where: str = "severity") -> Curve:
    """Parse a loss severity (``"20%"``, ``0.45``, ``"[20%, 30%, 40%]"``).

    >>> parse_severity("45%").severity(np.array([1]))[0]
    np.float64(0.45)
    """
    return _parse_or_raise(value, where=where, kinds=SEVERITY_KINDS, bare="SEV")


def parse_rate(value: object, *, where: str) -> float:
    """Parse a single annual rate such as a servicing fee (``"0.5%"`` or ``0.005``).

    >>> parse_rate("0.5%", where="servicing_fee")
    0.005
    """
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise _Bad(f"expected a number or a percent, got {value!r}")
        rate = float(value) if not isinstance(value, str) else _number(value)
        if not math.isfinite(rate) or not 0 <= rate <= 1:
            raise _Bad(f"{rate:g} must be between 0 and 100%")
        return rate
    except _Bad as bad:
        problem = Problem(where=where, value=value, rule="assumption", message=str(bad))
        raise AssumptionError(str(problem), problems=[problem]) from None


def _validated(parser: Any) -> Any:
    """A pydantic validator running one of the parsers (it keeps the text the user wrote)."""

    def check(value: object) -> object:
        try:
            parser(value)
        except AssumptionError as error:
            raise ValueError(error.problems[0].message if error.problems else str(error)) from None
        return value

    return check


Rate = str | float


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SegmentAssumptions(_Frozen):
    """Overrides for one segment (e.g. one grade); unset fields follow the base case."""

    prepay: Rate | None = None
    default: Rate | None = None
    severity: Rate | None = None

    _prepay = field_validator("prepay")(_validated(lambda v: v is None or parse_prepay(v)))
    _severity = field_validator("severity")(_validated(lambda v: v is None or parse_severity(v)))

    @field_validator("default")
    @classmethod
    def _default(cls, value: object) -> object:
        if value is not None:
            curve = _validated(parse_default)(value) and parse_default(value)
            if curve.kind == "CUM":
                raise ValueError("a CUM (pool cumulative) default cannot be set per segment")
        return value


class PaymentHoliday(_Frozen):
    """A share of the performing balance defers payments for ``months`` from period ``start``.

    With ``capitalize`` the deferred interest is added to the balance (and the remaining
    schedule re-amortized over the extended term); without it the deferred interest is paid
    in one sum with the first instalment after the holiday.
    """

    share: Rate
    start: int = Field(ge=1, le=_MAX_MONTHS)
    months: int = Field(ge=1, le=120)
    capitalize: bool = True

    _share = field_validator("share")(_validated(lambda v: parse_rate(v, where="share")))

    @property
    def share_value(self) -> float:
        return parse_rate(self.share, where="holiday.share")


class Assumptions(_Frozen):
    """One scenario's collateral assumptions; every field value fits in a TOML table.

    Build with keywords (``Assumptions(prepay="PSA 150", ...)``), from a deal-file table
    (:meth:`from_mapping`), or from CLI strings (:meth:`from_strings`); bad values raise
    :class:`~absstruct.errors.AssumptionError` naming the key path.

    ``basis="age"`` indexes curves by loan age (month since origination, as PSA/SDA/ABS are
    defined); ``basis="period"`` by projection period.  ``segment_by`` names a tape column
    and ``segments`` maps its values to overrides.  ``advance`` means the servicer advances
    principal and interest on defaulted loans until liquidation.

    >>> base = Assumptions(prepay="CPR 8%", default="CDR 2%", severity="40%", lag=6)
    >>> base.replace(default="CDR 2% x 2").default
    'CDR 2% x 2'
    """

    prepay: Rate = 0.0
    default: Rate = 0.0
    severity: Rate = 0.0
    lag: int = Field(default=0, ge=0, le=360)
    advance: bool = False
    servicing_fee: Rate = 0.0
    basis: Literal["age", "period"] = "age"
    segment_by: str | None = None
    segments: dict[str, SegmentAssumptions] = Field(default_factory=dict)
    holiday: PaymentHoliday | None = None

    _prepay = field_validator("prepay")(_validated(parse_prepay))
    _default = field_validator("default")(_validated(parse_default))
    _severity = field_validator("severity")(_validated(parse_severity))
    _servicing = field_validator("servicing_fee")(
        _validated(lambda v: parse_rate(v, where="servicing_fee"))
    )

    @model_validator(mode="after")
    def _segments_need_column(self) -> Assumptions:
        if self.segments and not self.segment_by:
            raise ValueError("segments are given but segment_by (the tape column) is not")
        return self

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise _assumption_error(error, prefix="") from None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], *, where: str = "") -> Assumptions:
        """Validate a deal-file table; errors name ``where.key`` (e.g. ``pool.assumptions.lag``)."""
        if not isinstance(data, Mapping):
            problem = Problem(where=where or "assumptions", value=None, message="must be a table")
            raise AssumptionError(str(problem), problems=[problem])
        try:
            return super().model_validate(dict(data))
        except ValidationError as error:
            raise _assumption_error(error, prefix=where) from None
        except AssumptionError as error:
            if where:
                problems = [
                    Problem(where=f"{where}.{p.where}", value=p.value, message=p.message)
                    for p in error.problems
                ]
                raise AssumptionError.from_problems(problems, what="bad assumption") from None
            raise

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Assumptions:
        """Like pydantic's, but bad input raises AssumptionError naming each key."""
        return cls.from_mapping(obj)

    @classmethod
    def from_strings(cls, **values: Any) -> Assumptions:
        """Build from CLI-style strings, skipping options left as ``None``.

        >>> Assumptions.from_strings(prepay="ABS 1.5%", severity=None).prepay
        'ABS 1.5%'
        """
        return cls.from_mapping({k: v for k, v in values.items() if v is not None})

    def replace(self, **changes: Any) -> Assumptions:
        """A validated copy with some fields changed."""
        return self.merged(changes)

    def merged(self, overrides: Mapping[str, Any], *, where: str = "") -> Assumptions:
        """This base case with a scenario table's keys on top (deal ``[pool.scenarios.X]``)."""
        data = self.model_dump(exclude_unset=True)
        data.update(overrides)
        return type(self).from_mapping(data, where=where)

    # Parsed views for the engine.
    def prepay_curve(self, segment: str | None = None) -> Curve:
        override = self.segments.get(segment) if segment is not None else None
        value = override.prepay if override and override.prepay is not None else self.prepay
        return parse_prepay(value)

    def default_curve(self, segment: str | None = None) -> Curve:
        override = self.segments.get(segment) if segment is not None else None
        value = override.default if override and override.default is not None else self.default
        return parse_default(value)

    def severity_curve(self, segment: str | None = None) -> Curve:
        override = self.segments.get(segment) if segment is not None else None
        value = override.severity if override and override.severity is not None else self.severity
        return parse_severity(value)

    @property
    def servicing_rate(self) -> float:
        return parse_rate(self.servicing_fee, where="servicing_fee")


def _assumption_error(error: ValidationError, *, prefix: str) -> AssumptionError:
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"] if not str(part).startswith("function"))
        path = ".".join(p for p in (prefix, path) if p) or "assumptions"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "extra_forbidden":
            message = "is not a known assumption key"
        problems.append(Problem(where=path, value=_shown(item.get("input")), message=message))
    return AssumptionError.from_problems(problems, what="bad assumption")  # type: ignore[return-value]


def _shown(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool)) else None


__all__ = [
    "DEFAULT_KINDS",
    "PREPAY_KINDS",
    "Assumptions",
    "Curve",
    "PaymentHoliday",
    "SegmentAssumptions",
    "cpr_to_smm",
    "parse_default",
    "parse_prepay",
    "parse_rate",
    "parse_severity",
    "psa_cpr",
    "sda_cdr",
    "smm_to_cpr",
]
