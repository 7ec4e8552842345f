"""Waterfall steps: a small closed set of frozen step types, chosen by the ``step`` key.

A waterfall is an ordered list of steps applied to one pot of funds (the interest
collections, the principal collections, or after acceleration both together).  Each step
takes what it is due from the pot; steps may draw a shortfall from accounts
(``draw_from``) and from a shortfall payment undertaking (``support``).  ``when`` /
``unless`` name a trigger: the step runs only while that trigger is breached / not breached.

Pseudo-accounts for :class:`Transfer`: ``"interest_funds"`` and ``"principal_funds"`` are
the two pots of the current period.

Examples
--------
>>> from pydantic import TypeAdapter
>>> step = TypeAdapter(Step).validate_python({"step": "pay_interest", "tranche": "A"})
>>> type(step).__name__, step.targets
('PayInterest', ('A',))
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

FROZEN = ConfigDict(frozen=True, extra="forbid", populate_by_name=True, allow_inf_nan=False)
POTS: tuple[str, ...] = ("interest_funds", "principal_funds")


class _Step(BaseModel):
    model_config = FROZEN

    when: str | None = Field(default=None, description="run only while this trigger is breached")
    unless: str | None = Field(default=None, description="run only while it is not breached")


class _Drawing(_Step):
    draw_from: tuple[str, ...] = Field(default=(), description="accounts covering a shortfall")
    support: tuple[str, ...] = Field(default=(), description="shortfall undertakings, in order")


class _TrancheTargets(_Drawing):
    tranche: str | None = None
    tranches: tuple[str, ...] | None = None

    @model_validator(mode="after")
    def _one_of(self) -> _TrancheTargets:
        both = self.tranche is not None and self.tranches is not None
        neither = self.tranche is None and self.tranches is None
        if both or (neither and not self._optional_targets()):
            raise ValueError("give exactly one of 'tranche' or 'tranches'")
        if self.tranches is not None and not self.tranches:
            raise ValueError("'tranches' is empty")
        return self

    def _optional_targets(self) -> bool:
        return False

    @property
    def targets(self) -> tuple[str, ...]:
        """The tranche names this step pays, in order (empty: every note by rank)."""
        if self.tranche is not None:
            return (self.tranche,)
        return self.tranches or ()


class PayTax(_Drawing):
    """Pay a tax (for example VAT on interest collections) due this period."""

    step: Literal["pay_tax"] = "pay_tax"
    tax: str


class PayFee(_Drawing):
    """Pay a senior fee due this period plus any unpaid fee carried from before."""

    step: Literal["pay_fee"] = "pay_fee"
    fee: str


class PayInterest(_TrancheTargets):
    """Pay interest due to one tranche, or to a group pro-rata to the amounts due."""

    step: Literal["pay_interest"] = "pay_interest"


class PayPrincipal(_TrancheTargets):
    """Pay principal to tranches sequentially or pro-rata.

    ``amount = "available"`` pays whatever the pot holds; ``"target"`` pays no more than
    the principal distribution amount that brings the notes down to the pool balance less
    the overcollateralization target (shared by every ``"target"`` step of the period).
    A ``pro_rata`` step pays sequentially while a trigger with the ``sequential`` effect is
    breached.
    """

    step: Literal["pay_principal"] = "pay_principal"
    mode: Literal["sequential", "pro_rata"] = "sequential"
    amount: Literal["available", "target"] = "available"


class Turbo(_TrancheTargets):
    """Pay all remaining funds as principal, sequentially (every note by rank by default)."""

    step: Literal["turbo"] = "turbo"

    def _optional_targets(self) -> bool:
        return True


class FundReserve(_Step):
    """Deposit into an account up to its target; everything left while a trap is breached."""

    step: Literal["fund_reserve"] = "fund_reserve"
    account: str


class CurePDL(_Step):
    """Use interest funds to clear principal deficiency ledgers, senior first.

    The amount cured moves to the principal funds of the period (in the acceleration
    waterfall it stays in the combined pot).
    """

    step: Literal["cure_pdl"] = "cure_pdl"
    tranche: str | None = Field(default=None, description="one tranche; default all, by rank")


class PayResidual(_Step):
    """Pay everything left in the pot to the residual holder (or the named tranche)."""

    step: Literal["pay_residual"] = "pay_residual"
    tranche: str | None = None


class Transfer(_Step):
    """Move cash between accounts and the period's pots.

    ``amount``: ``"all"`` of the source, the source account's ``"excess"`` over its target,
    ``"to_target"`` what the destination account lacks to reach its target, ``"losses"``
    up to the period's principal losses (excess spread covering realized losses), or a
    number.
    """

    step: Literal["transfer"] = "transfer"
    source: str = Field(alias="from")
    to: str
    amount: Literal["all", "excess", "to_target", "losses"] | float = "all"


class Purchase(_Step):
    """During the revolving period, buy new receivables with everything in the pot."""

    step: Literal["purchase"] = "purchase"


Step = Annotated[
    PayTax
    | PayFee
    | PayInterest
    | PayPrincipal
    | Turbo
    | FundReserve
    | CurePDL
    | PayResidual
    | Transfer
    | Purchase,
    Field(discriminator="step"),
]
STEP_NAMES: tuple[str, ...] = (
    "pay_tax",
    "pay_fee",
    "pay_interest",
    "pay_principal",
    "turbo",
    "fund_reserve",
    "cure_pdl",
    "pay_residual",
    "transfer",
    "purchase",
)


class Waterfalls(BaseModel):
    """The ordered steps for interest collections, principal collections and acceleration.

    What a waterfall leaves is paid as residual; a ``transfer`` to ``principal_funds`` or a
    ``turbo`` step puts excess interest to work first.
    """

    model_config = FROZEN

    interest: tuple[Step, ...] = Field(min_length=1)
    principal: tuple[Step, ...] = ()
    acceleration: tuple[Step, ...] = ()


__all__ = [
    "POTS",
    "STEP_NAMES",
    "CurePDL",
    "FundReserve",
    "PayFee",
    "PayInterest",
    "PayPrincipal",
    "PayResidual",
    "PayTax",
    "Purchase",
    "Step",
    "Transfer",
    "Turbo",
    "Waterfalls",
]
