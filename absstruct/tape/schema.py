"""The canonical loan-tape schema: the single source of truth for column names and units.

Every reader and mapping template produces a DataFrame with these columns; validation,
templates, documentation and the projection engine read this table rather than repeating
names.  Units inside the library: rates are decimals (0.085), terms and ages are whole
months, money is in the deal's currency, dates are ``datetime64`` at day precision.

Examples
--------
>>> COLUMNS["rate"].unit
'decimal per annum'
>>> [c.name for c in REQUIRED][:3]
['loan_id', 'original_balance', 'current_balance']
>>> PERIODS_PER_YEAR["quarterly"]
4
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "number", "integer", "date", "code"]


@dataclass(frozen=True, kw_only=True)
class Column:
    """One canonical column."""

    name: str
    kind: Kind
    required: bool
    unit: str = ""
    description: str = ""
    codes: tuple[str, ...] = ()
    default: object = None


AMORTIZATION_CODES: tuple[str, ...] = (
    "level_pay",  # 等额本息, ESMA French
    "equal_principal",  # 等额本金, ESMA fixed schedule
    "interest_only",  # 先息后本, bullet at maturity
    "balloon",  # amortize on a longer schedule, balloon due at maturity
    "flat_fee",  # equal principal plus a fee on original principal each period
)
STATUS_CODES: tuple[str, ...] = ("current", "delinquent", "defaulted", "paid_off")
FREQUENCY_CODES: tuple[str, ...] = ("monthly", "quarterly", "semiannual", "annual")
PERIODS_PER_YEAR: dict[str, int] = {"monthly": 12, "quarterly": 4, "semiannual": 2, "annual": 1}
RATE_TYPES: tuple[str, ...] = ("fixed", "floating")

# One row per column; kept on single lines so the table reads as a table.
_SCHEMA: tuple[Column, ...] = (
    Column(
        name="loan_id",
        kind="text",
        required=True,
        description="Loan (receivable) identifier; kept as text",
    ),
    Column(
        name="original_balance",
        kind="number",
        required=True,
        unit="currency",
        description="Principal at origination",
    ),
    Column(
        name="current_balance",
        kind="number",
        required=True,
        unit="currency",
        description="Outstanding principal at the cut-off date",
    ),
    Column(
        name="rate",
        kind="number",
        required=True,
        unit="decimal per annum",
        description="Current note rate",
    ),
    Column(
        name="original_term",
        kind="integer",
        required=True,
        unit="months",
        description="Scheduled term at origination",
    ),
    Column(
        name="remaining_term",
        kind="integer",
        required=True,
        unit="months",
        description="Scheduled months left at the cut-off date",
    ),
    Column(
        name="amortization",
        kind="code",
        required=True,
        codes=AMORTIZATION_CODES,
        description="Repayment type",
    ),
    Column(
        name="obligor_id",
        kind="text",
        required=False,
        description="Borrower identifier (defaults to loan_id)",
    ),
    Column(
        name="origination_date", kind="date", required=False, description="Date the loan was funded"
    ),
    Column(
        name="maturity_date",
        kind="date",
        required=False,
        description="Scheduled final payment date",
    ),
    Column(
        name="payment_frequency",
        kind="code",
        required=False,
        codes=FREQUENCY_CODES,
        default="monthly",
        description="Instalment frequency",
    ),
    Column(
        name="days_past_due",
        kind="integer",
        required=False,
        unit="days",
        default=0,
        description="Days past due at the cut-off date",
    ),
    Column(
        name="status",
        kind="code",
        required=False,
        codes=STATUS_CODES,
        default="current",
        description="Performance status at the cut-off date",
    ),
    Column(
        name="region", kind="text", required=False, description="Province / state of the obligor"
    ),
    Column(
        name="credit_score",
        kind="number",
        required=False,
        description="Obligor credit score (FICO or lender score)",
    ),
    Column(name="grade", kind="text", required=False, description="Lender risk grade"),
    Column(name="product", kind="text", required=False, description="Product or purpose"),
    Column(
        name="balloon_amount",
        kind="number",
        required=False,
        unit="currency",
        description="Balloon due at maturity (balloon loans)",
    ),
    Column(
        name="fee_rate",
        kind="number",
        required=False,
        unit="decimal of original balance per period",
        default=0.0,
        description="Flat fee charged each period on original principal (flat_fee loans)",
    ),
    Column(
        name="rate_type",
        kind="code",
        required=False,
        codes=RATE_TYPES,
        default="fixed",
        description="Fixed or floating rate",
    ),
    Column(name="index", kind="text", required=False, description="Floating-rate index name"),
    Column(
        name="margin",
        kind="number",
        required=False,
        unit="decimal per annum",
        description="Margin over the index",
    ),
    # Performance history (static-pool analysis and back-tests), as the export carries it.
    Column(
        name="annual_income",
        kind="number",
        required=False,
        unit="currency per year",
        description="Obligor annual income",
    ),
    Column(
        name="last_payment_date",
        kind="date",
        required=False,
        description="Date of the last payment received",
    ),
    Column(
        name="principal_received",
        kind="number",
        required=False,
        unit="currency",
        description="Principal collected to date",
    ),
    Column(
        name="interest_received",
        kind="number",
        required=False,
        unit="currency",
        description="Interest collected to date",
    ),
    Column(
        name="fees_received",
        kind="number",
        required=False,
        unit="currency",
        description="Late and other fees collected to date",
    ),
    Column(
        name="recoveries",
        kind="number",
        required=False,
        unit="currency",
        description="Gross recoveries after charge-off",
    ),
    Column(
        name="recovery_fees",
        kind="number",
        required=False,
        unit="currency",
        description="Collection costs on recoveries",
    ),
    Column(
        name="participation",
        kind="number",
        required=False,
        unit="decimal",
        default=1.0,
        description="Share of the loan sold into the pool",
    ),
)

COLUMNS: dict[str, Column] = {column.name: column for column in _SCHEMA}
REQUIRED: tuple[Column, ...] = tuple(c for c in _SCHEMA if c.required)
OPTIONAL: tuple[Column, ...] = tuple(c for c in _SCHEMA if not c.required)
CANONICAL_ORDER: tuple[str, ...] = tuple(c.name for c in _SCHEMA)

__all__ = [
    "AMORTIZATION_CODES",
    "CANONICAL_ORDER",
    "COLUMNS",
    "FREQUENCY_CODES",
    "OPTIONAL",
    "PERIODS_PER_YEAR",
    "RATE_TYPES",
    "REQUIRED",
    "STATUS_CODES",
    "Column",
]
