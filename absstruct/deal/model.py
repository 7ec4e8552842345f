"""The deal model: every section of a deal file as a frozen pydantic model.

A deal file (TOML, see ``templates/deal_template.toml``) validates into :class:`Deal`.
Percent strings (``"4.5%"``) are accepted wherever a rate or share is asked for; inside the
model every rate is a decimal.  Sizes and initial account balances are an amount or a
percent of the initial pool balance.  Variants are made with ``deal.model_copy(update=...)``.

Examples
--------
>>> Tranche(name="A", size="80%", coupon="4.5%").coupon
0.045
>>> Tranche(name="A", size="80%", coupon=0.045).size_amount(1_000.0)
800.0
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from absstruct.deal.steps import Waterfalls

# allow_inf_nan=False: a TOML `inf` or `nan` is no size, rate or amount.
FROZEN = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)
SCHEMA_VERSION = 1


def _percent_share(text: str, *, what: str, example: str) -> float:
    """The decimal share written as ``"4.5%"`` (``text`` already ends with ``%``)."""
    try:
        share = float(text[:-1]) / 100.0
    except ValueError:
        raise ValueError(f"is not {what} like {example!r}") from None
    if not math.isfinite(share):
        raise ValueError(f"is not a finite percent like {example!r}")
    return share


def parse_percent(value: Any) -> Any:
    """``"4.5%"`` -> 0.045; numbers pass through (already decimals)."""
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        if text.endswith("%"):
            return _percent_share(text, what="a percent", example="4.5%")
        raise ValueError("is not a number or a percent like '4.5%'")
    return value


def _amount_or_percent(value: Any) -> Any:
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        if text.endswith("%"):
            share = _percent_share(text, what="an amount or a percent", example="80%")
            if share < 0:
                raise ValueError("is below 0")
            return text
        raise ValueError("is not an amount or a percent of the pool like '80%'")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("is not an amount or a percent of the pool like '80%'")
    if not math.isfinite(value):
        raise ValueError("is not a finite amount")
    if value < 0:
        raise ValueError("is below 0")
    return float(value)


Rate = Annotated[float, BeforeValidator(parse_percent)]
Share = Annotated[float, BeforeValidator(parse_percent), Field(ge=0.0, le=1.0)]
# An amount in the deal's currency or a percent of the initial pool balance ("80%").
AmountOrPercent = Annotated[float | str, BeforeValidator(_amount_or_percent)]
DayCount = Literal["30/360", "ACT/360", "ACT/365F", "ACT/365", "ACT/ACT"]


def resolve_amount(value: float | str, pool_balance: float) -> float:
    """An :data:`AmountOrPercent` as an amount, given the initial pool balance."""
    if isinstance(value, str):
        return float(value.rstrip("%")) / 100.0 * pool_balance
    return float(value)


class Dates(BaseModel):
    """Cut-off, closing, the payment schedule and the legal final maturity."""

    model_config = FROZEN

    cutoff: dt.date
    closing: dt.date
    first_payment: dt.date
    legal_final: dt.date
    frequency: Literal["monthly", "quarterly", "semiannual", "annual"] = "monthly"
    payment_day: int | None = Field(default=None, ge=1, le=31)
    roll: Literal["following", "modified_following", "preceding", "none"] = "modified_following"
    holidays: tuple[dt.date, ...] = ()
    day_count: DayCount = "30/360"


class PoolSection(BaseModel):
    """Where the collateral comes from and how it performs (the deal-level ``[pool]`` keys).

    Eligibility, concentration, strats and target balance are validated by
    :func:`absstruct.pool.criteria.load_pool_criteria` and kept in ``criteria``.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, allow_inf_nan=False
    )

    tape: str | None = None
    template: str | None = None
    cutoff: dt.date | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    balance: float | None = Field(default=None, gt=0, description="stated initial pool balance")
    assumptions: dict[str, Any] = Field(default_factory=dict)
    scenarios: dict[str, dict[str, Any]] = Field(default_factory=dict)
    criteria: Any = None


class Floating(BaseModel):
    """A floating coupon: index + margin, floored and capped."""

    model_config = FROZEN

    index: str
    margin: Rate = 0.0
    cap: Rate | None = None
    floor: Rate | None = 0.0


class Tranche(BaseModel):
    """A class of notes (or the residual / equity class)."""

    model_config = FROZEN

    name: str = Field(min_length=1)
    kind: Literal["note", "residual"] = "note"
    rank: int | None = Field(default=None, ge=1, description="1 = most senior; default: order")
    size: AmountOrPercent = 0.0
    coupon: Annotated[Rate, Field(ge=0.0, le=1.0)] | None = None
    floating: Floating | None = None
    day_count: DayCount = "30/360"
    deferrable: bool = False  # unpaid interest carries; no event of default on its shortfall
    # Unpaid interest carried forward earns the coupon (the usual "interest on interest
    # carryover shortfall, to the extent lawful"); false: it carries flat.
    interest_on_unpaid: bool = True

    def size_amount(self, pool_balance: float) -> float:
        """Original balance, given the initial pool balance."""
        return resolve_amount(self.size, pool_balance)


class IndexCurve(BaseModel):
    """An index rate per period (the last repeats), given inline or in a CSV (period,rate)."""

    model_config = FROZEN

    rates: tuple[Rate, ...] = ()
    csv: str | None = None


class Fee(BaseModel):
    """A senior fee: a rate per annum of the pool balance and/or a fixed amount per period."""

    model_config = FROZEN

    name: str = Field(min_length=1)
    rate: Annotated[Rate, Field(ge=0.0, le=1.0)] = 0.0
    fixed: float = Field(default=0.0, ge=0.0)
    day_count: DayCount | None = None


class Tax(BaseModel):
    """A tax withheld on interest collections (VAT 3.26% in Chinese deals)."""

    model_config = FROZEN

    name: str = Field(min_length=1)
    rate: Share
    base: Literal["interest_collections"] = "interest_collections"


class AccountTarget(BaseModel):
    """Target balance: max(pct x base, floor x initial pool, amount), capped at ``cap``."""

    model_config = FROZEN

    pct: Share | None = None
    base: Literal["current_pool", "initial_pool", "notes"] | None = None
    floor: Share | None = None
    amount: float | None = Field(default=None, ge=0.0)
    cap: float | None = Field(default=None, ge=0.0)


class Account(BaseModel):
    """A reserve, liquidity reserve or other cash account held by the trust."""

    model_config = FROZEN

    name: str = Field(min_length=1)
    kind: Literal["reserve", "liquidity", "cash"] = "reserve"
    initial: AmountOrPercent = 0.0
    target: AccountTarget | None = None
    may_pay: tuple[Literal["fees", "taxes", "interest", "principal"], ...] = ("fees", "interest")
    release_excess: Literal["interest", "principal"] | None = None

    def initial_amount(self, pool_balance: float) -> float:
        return resolve_amount(self.initial, pool_balance)


class Losses(BaseModel):
    """How losses reach the notes: a principal deficiency ledger, write-downs, or neither.

    ``allocation``: ``pdl``: each period's losses are debited to per-tranche ledgers
    bottom-up (never more than a tranche's balance), cured by ``cure_pdl`` steps.
    ``writedown``: after each period's payments the notes are written down bottom-up to the
    pool balance.  In every mode a balance still outstanding after the last period is
    written down.

    ``debit``: when a defaulted loan stops counting.  ``loss`` (US RMBS, stated balance):
    a defaulted loan stays in the pool balance until it is liquidated, and only the realized
    loss is debited, then.  ``default`` (charge-off at default: US auto, most Chinese
    consumer deals' 违约贷款): the pool balance is the performing balance, the defaulted
    balance is debited when the loan defaults, and what is later collected on it
    (recoveries, advanced amortization) credits the PDL senior first; collections on a
    default the PDL no longer carries are revenue (they join the interest funds).
    """

    model_config = FROZEN

    allocation: Literal["pdl", "writedown", "none"] = "none"
    debit: Literal["loss", "default"] = "loss"


class Overcollateralization(BaseModel):
    """Target overcollateralization: ``pct`` of the current pool, floored at ``floor`` of the
    initial pool; before ``step_down`` the target is ``initial_pct`` of the initial pool."""

    model_config = FROZEN

    pct: Share
    floor: Share = 0.0
    initial_pct: Share | None = None
    step_down: dt.date | None = None


class ThresholdStep(BaseModel):
    """A threshold that applies from ``period`` on (until the next step)."""

    model_config = FROZEN

    period: int = Field(ge=1)
    value: Rate


TRIGGER_KINDS: tuple[str, ...] = (
    "cumulative_net_loss",
    "cumulative_default",
    "oc_ratio",
    "reserve_below_target",
    "pool_factor",
    "interest_shortfall",
)


class Trigger(BaseModel):
    """A test on the pool or the notes and what a breach does.

    Breached when the value is above the threshold (``cumulative_net_loss``,
    ``cumulative_default``, ``interest_shortfall``) or below it (``oc_ratio``: pool / notes,
    both after the previous payment date; ``reserve_below_target`` as balance/target;
    ``pool_factor``).  Cumulative ratios are over the initial pool plus revolving
    purchases.  A non-curable trigger stays breached once breached.
    """

    model_config = FROZEN

    name: str = Field(min_length=1)
    kind: Literal[
        "cumulative_net_loss",
        "cumulative_default",
        "oc_ratio",
        "reserve_below_target",
        "pool_factor",
        "interest_shortfall",
    ]
    threshold: Rate | tuple[ThresholdStep, ...]
    account: str | None = None
    tranches: tuple[str, ...] = ()
    curable: bool = False
    effects: tuple[Literal["sequential", "trap", "end_revolving", "accelerate"], ...] = ()

    def threshold_at(self, period: int) -> float:
        """The threshold that applies in ``period`` (1-based)."""
        if not isinstance(self.threshold, tuple):
            return float(self.threshold)
        value = self.threshold[0].value
        for step in self.threshold:
            if step.period <= period:
                value = step.value
        return float(value)


class RepLine(BaseModel):
    """A representative receivable bought during the revolving period."""

    model_config = FROZEN

    weight: float = Field(gt=0.0, description="share of each purchase (normalised)")
    rate: Annotated[Rate, Field(ge=0.0, le=1.0)]
    term: int = Field(ge=1, le=480)
    amortization: Literal["level_pay", "equal_principal", "interest_only", "balloon", "flat_fee"]
    fee_rate: Annotated[Rate, Field(ge=0.0)] = 0.0
    grade: str | None = None
    region: str | None = None
    product: str | None = None


class Revolving(BaseModel):
    """Revolving period: principal funds buy new receivables for ``periods`` periods."""

    model_config = FROZEN

    periods: int = Field(ge=1)
    price: float = Field(default=1.0, gt=0.0, le=2.0, description="cash paid per unit of face")
    rep_lines: tuple[RepLine, ...] = Field(min_length=1)


class CleanupCall(BaseModel):
    """Clean-up call: the seller buys the pool back once it is below ``pct`` of the initial.

    The call price is ``price`` per unit of performing balance plus ``defaulted_price`` per
    unit of defaulted balance still awaiting recovery (those loans leave with the pool).
    ``minimum = "notes"``: the call price is raised by whatever the notes (not the residual
    class) still lack after the period's waterfalls -- unpaid interest and principal -- so
    they are redeemed in full.
    """

    model_config = FROZEN

    pct: Annotated[Rate, Field(gt=0.0, lt=1.0)]
    exercise: bool = True
    price: float = Field(default=1.0, gt=0.0, le=2.0)
    defaulted_price: float = Field(default=0.0, ge=0.0, le=2.0)
    minimum: Literal["none", "notes"] = "none"


class Support(BaseModel):
    """External credit support; every draw is recorded.

    ``guarantee``: covers defaulted principal (the period's losses) up to ``limit``, paid
    into the principal funds.  ``shortfall_undertaking`` (差额支付承诺): covers the shortfalls
    of the steps that name it in ``support`` up to ``limit``.
    """

    model_config = FROZEN

    name: str = Field(min_length=1)
    kind: Literal["guarantee", "shortfall_undertaking"]
    limit: float | None = Field(default=None, ge=0.0)
    provider: str = ""


class Deal(BaseModel):
    """A whole deal: dates, pool, tranches, fees, accounts, waterfalls, triggers and more."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", arbitrary_types_allowed=True, allow_inf_nan=False
    )

    schema_version: Literal[1]
    name: str = Field(min_length=1)
    currency: str = "USD"
    dates: Dates
    pool: PoolSection = PoolSection()
    indices: dict[str, IndexCurve] = Field(default_factory=dict)
    tranches: tuple[Tranche, ...] = Field(min_length=1)
    fees: tuple[Fee, ...] = ()
    taxes: tuple[Tax, ...] = ()
    accounts: tuple[Account, ...] = ()
    waterfall: Waterfalls
    losses: Losses = Losses()
    oc: Overcollateralization | None = None
    triggers: tuple[Trigger, ...] = ()
    revolving: Revolving | None = None
    call: CleanupCall | None = None
    support: tuple[Support, ...] = ()

    @field_validator("tranches")
    @classmethod
    def _unique_tranches(cls, value: tuple[Tranche, ...]) -> tuple[Tranche, ...]:
        names = [t.name for t in value]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"tranche names repeat: {', '.join(duplicated)}")
        return value

    @property
    def ranked_tranches(self) -> tuple[Tranche, ...]:
        """Tranches from most senior to most junior (by ``rank``, then file order)."""
        order = {t.name: i for i, t in enumerate(self.tranches)}
        return tuple(
            sorted(self.tranches, key=lambda t: (t.rank or order[t.name] + 1, order[t.name]))
        )

    @property
    def notes(self) -> tuple[Tranche, ...]:
        """Tranches with a principal balance, most senior first."""
        return self.ranked_tranches

    def tranche(self, name: str) -> Tranche:
        return next(t for t in self.tranches if t.name == name)

    @property
    def residual_tranche(self) -> Tranche | None:
        return next((t for t in self.tranches if t.kind == "residual"), None)


__all__ = [
    "SCHEMA_VERSION",
    "Account",
    "AccountTarget",
    "CleanupCall",
    "Dates",
    "Deal",
    "Fee",
    "Floating",
    "IndexCurve",
    "Losses",
    "Overcollateralization",
    "PoolSection",
    "RepLine",
    "Revolving",
    "Support",
    "Tax",
    "ThresholdStep",
    "Tranche",
    "Trigger",
    "parse_percent",
    "resolve_amount",
]
