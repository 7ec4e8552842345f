"""Static-pool history: rebuild each loan's monthly path from its outcome, then vintage tables.

A servicer's history export carries, per loan, its origination, terms, final status and
lifetime totals (principal and interest received, recoveries) but not the month-by-month
payments.  :func:`reconstruct_paths` rebuilds the monthly path under stated approximations
(:data:`APPROXIMATIONS`) as loans x ages arrays; :func:`vintage_table` sums them by vintage,
segment and months on book.  The curves fitted from these arrays live in
:mod:`absstruct.analytics.calibrate`.

Examples
--------
>>> import numpy as np
>>> paths = reconstruct_paths(
...     original_balance=np.array([1200.0, 1200.0]), rate=np.array([0.0, 0.0]),
...     term=np.array([12, 12]), last_payment_age=np.array([3, 4]),
...     principal_received=np.array([1200.0, 400.0]), defaulted=np.array([False, True]),
...     open_loan=np.array([False, False]), observed_age=np.array([60, 60]), chargeoff_lag=5)
>>> paths.prepayments[0, :4].tolist()   # paid off in month 3: 900 beyond the schedule
[0.0, 0.0, 900.0, 0.0]
>>> int(np.argmax(paths.defaults[1])) + 1, float(paths.defaults[1].sum())   # last paid month 4
(9, 800.0)
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from absstruct.errors import Problem, TapeError
from absstruct.tape.schema import STATUS_CODES

VintageUnit = Literal["month", "quarter"]

#: The approximations behind every table; reports print them beside the figures.
APPROXIMATIONS: tuple[str, ...] = (
    "Default month is inferred: a charged-off loan defaults `chargeoff_lag` months after its last "
    "payment (LendingClub charges off at 120+ days past due: first missed instalment + 4 months "
    "= last payment + 5); a charge-off with no payment at all defaults `chargeoff_lag` months "
    "after origination; a default inferred after the scheduled maturity is placed at maturity.",
    "Principal follows the level-pay schedule (amortization column when present) until the last "
    "payment month, capped at the principal received; principal received beyond the schedule "
    "is a prepayment in the last payment month (earlier partial prepayments are not observable "
    "from lifetime totals).  A payoff recorded after maturity is treated as paid at maturity.",
    "Months on book count calendar months from the origination month to the payment month.",
    "Charged-off balance = original balance - principal received; net recoveries = recoveries "
    "- recovery fees, booked in the default month (the tape carries no recovery dates); "
    "severity = (charged-off balance - net recoveries) / charged-off balance.",
    "MDR(age) = defaults at age / performing balance at the start of the age; SMM(age) = "
    "prepayments / (performing balance at the start of the age less scheduled principal), "
    "loans defaulting at that age included, as the projection applies them (SIFMA: defaults "
    "on the prior balance, VOL = PERF(i-1) x SCH(i)/SCH(i-1) x SMM); both balance-weighted "
    "over the loans observed at that age.",
    "Back-test: later vintages are projected from origination by the projection engine under "
    "the fitted curves (vectors by loan age, recovery lag 0: recoveries in the default month, "
    "no servicer advances); loans longer than any fitted loan run on the fitted curve, then on "
    "the mean of its 12 ages before the last fitted age.",
)

HISTORY_COLUMNS: tuple[str, ...] = (
    "origination_date",
    "original_balance",
    "original_term",
    "rate",
    "status",
    "last_payment_date",
    "principal_received",
)


@dataclass(frozen=True, kw_only=True)
class HistorySpec:
    """How to cut a static-pool history.

    Parameters
    ----------
    vintage : {"month", "quarter"}
        Vintage by origination month or quarter.
    by : str or None
        Canonical tape column to segment by (``grade``, ``original_term``, ``product``...).
    chargeoff_lag : int
        Months from the last payment to the charge-off (the inferred default month).
    as_of : datetime.date or None
        Observation date: anything after it is unknown (loans are censored there).
        ``None`` uses every outcome the tape holds.
    """

    vintage: VintageUnit = "month"
    by: str | None = None
    chargeoff_lag: int = 5
    as_of: dt.date | None = None


@dataclass(frozen=True, kw_only=True)
class LoanPaths:
    """Monthly paths of N loans over ages 1..A; column ``a - 1`` holds age ``a``.

    ``observed`` marks (loan, age) cells inside the loan's observation window and alive at
    the start of the age; money arrays are zero elsewhere.
    """

    start_balance: np.ndarray
    scheduled_principal: np.ndarray
    prepayments: np.ndarray
    defaults: np.ndarray
    prepay_base: np.ndarray
    observed: np.ndarray
    horizon: np.ndarray  # last observed age per loan (event or censoring)


def level_pay_fraction(rate: np.ndarray, term: np.ndarray, ages: np.ndarray) -> np.ndarray:
    """Scheduled balance as a fraction of the original, loans x ages (CONVENTIONS.md).

    Examples
    --------
    >>> level_pay_fraction(np.array([0.0]), np.array([4]), np.arange(5)).tolist()
    [[1.0, 0.75, 0.5, 0.25, 0.0]]
    """
    r = (np.asarray(rate, dtype=float) / 12.0)[:, None]
    n = np.asarray(term, dtype=float)[:, None]
    m = np.minimum(np.asarray(ages, dtype=float)[None, :], n)
    with np.errstate(divide="ignore", invalid="ignore"):
        annuity = (1.0 - (1.0 + r) ** -(n - m)) / (1.0 - (1.0 + r) ** -n)
    straight = 1.0 - m / n
    # Below ~1e-10 a month the annuity formula loses every digit; the limit is straight line.
    return np.where(r > 1e-10, annuity, straight)


def schedule_fraction(
    amortization: np.ndarray, rate: np.ndarray, term: np.ndarray, ages: np.ndarray
) -> np.ndarray:
    """Scheduled balance fraction by amortization code (level pay unless said otherwise)."""
    frac = level_pay_fraction(rate, term, ages)
    n = np.asarray(term, dtype=float)[:, None]
    m = np.minimum(np.asarray(ages, dtype=float)[None, :], n)
    code = np.asarray(amortization, dtype=object)[:, None]
    frac = np.where(code == "equal_principal", 1.0 - m / n, frac)
    return np.where(code == "interest_only", np.where(m < n, 1.0, 0.0), frac)


def reconstruct_paths(
    *,
    original_balance: np.ndarray,
    rate: np.ndarray,
    term: np.ndarray,
    last_payment_age: np.ndarray,
    principal_received: np.ndarray,
    defaulted: np.ndarray,
    open_loan: np.ndarray,
    observed_age: np.ndarray,
    chargeoff_lag: int,
    amortization: np.ndarray | None = None,
    max_age: int | None = None,
) -> LoanPaths:
    """Rebuild monthly principal, prepayment and default paths (pure numpy).

    Parameters
    ----------
    last_payment_age : array of int
        Months from origination to the last payment; 0 when the loan never paid.
    defaulted, open_loan : array of bool
        Charged off; still outstanding (current or delinquent) at the tape date.
    observed_age : array of int
        Age of the loan at the observation date (outcomes later than this are unknown).
    """
    b0 = np.asarray(original_balance, dtype=float)
    n = np.asarray(term, dtype=np.int64)
    paid = np.minimum(np.asarray(principal_received, dtype=float), b0)
    last = np.minimum(np.asarray(last_payment_age, dtype=np.int64), n)
    defaulted = np.asarray(defaulted, dtype=bool)
    open_loan = np.asarray(open_loan, dtype=bool)
    if amortization is None:
        amortization = np.full(b0.shape, "level_pay", dtype=object)
    event = np.where(
        defaulted,
        np.clip(last + chargeoff_lag, 1, n),
        np.clip(last, 1, n),
    )
    horizon = np.where(open_loan, np.minimum(observed_age, n), np.minimum(event, observed_age))
    horizon = np.maximum(horizon, 0)
    closed_in_window = ~open_loan & (event <= observed_age)
    width = int(max_age if max_age is not None else max(int(n.max(initial=1)), 1))
    ages = np.arange(0, width + 1)
    sched_cum = b0[:, None] * (1.0 - schedule_fraction(amortization, rate, n, ages))
    cum = np.where(
        ages[None, :] < last[:, None], np.minimum(sched_cum, paid[:, None]), paid[:, None]
    )
    cum[:, 0] = 0.0
    # A payoff clears the balance at the event (principal received = original balance).
    principal = np.diff(cum, axis=1)
    age_grid = ages[None, 1:]
    observed = (age_grid <= horizon[:, None]) & (age_grid >= 1)
    at_last = age_grid == last[:, None]
    excess = np.maximum(paid - np.take_along_axis(sched_cum, last[:, None], axis=1)[:, 0], 0.0)
    prepay = np.where(at_last & observed, excess[:, None], 0.0)
    scheduled = np.where(observed, principal, 0.0) - prepay
    start_balance = np.where(observed, b0[:, None] - cum[:, :-1], 0.0)
    at_default = (age_grid == event[:, None]) & (defaulted & closed_in_window)[:, None]
    defaults = np.where(at_default, (b0 - paid)[:, None], 0.0)
    # SIFMA applies SMM to the prior balance of every loan, those defaulting this month too.
    prepay_base = np.where(observed, start_balance - scheduled, 0.0)
    return LoanPaths(
        start_balance=start_balance,
        scheduled_principal=scheduled,
        prepayments=prepay,
        defaults=defaults,
        prepay_base=np.maximum(prepay_base, 0.0),
        observed=observed,
        horizon=horizon,
    )


def months_between(start: pd.Series, end: pd.Series) -> np.ndarray:
    """Whole calendar months from ``start`` to ``end`` (NaT -> 0), loan by loan."""
    s = pd.to_datetime(start).to_numpy().astype("datetime64[M]").astype(np.int64)
    e_raw = pd.to_datetime(end).to_numpy()
    e = e_raw.astype("datetime64[M]").astype(np.int64)
    return np.where(pd.isna(e_raw), s, e) - s


def _where(tape: pd.DataFrame, position: int, column: str) -> str:
    loan = tape["loan_id"].iloc[position] if "loan_id" in tape.columns else None
    shown = f" (loan {loan})" if loan is not None and not pd.isna(loan) else ""
    # Data rows start on line 2 of a file with one header line.
    return f"row {position + 2}{shown}, column {column}"


def _rows(mask: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.asarray(mask, dtype=bool))


def check_history(tape: pd.DataFrame) -> list[Problem]:
    """Every problem that stops (errors) or qualifies (warnings) a static-pool analysis.

    Examples
    --------
    >>> frame = pd.DataFrame({"loan_id": ["a"], "original_balance": [100.0]})
    >>> [p.where for p in check_history(frame)][:2]
    ['column origination_date', 'column original_term']
    """
    problems: list[Problem] = []
    missing = [c for c in HISTORY_COLUMNS if c not in tape.columns]
    for column in missing:
        problems.append(
            Problem(
                where=f"column {column}",
                rule="missing_column",
                message="is missing; static-pool history needs " + ", ".join(HISTORY_COLUMNS),
            )
        )
    if missing:
        return problems
    status = tape["status"].astype("string")
    unknown = ~status.isin(STATUS_CODES).fillna(False).to_numpy(dtype=bool)
    for i in _rows(unknown):
        problems.append(
            Problem(
                where=_where(tape, i, "status"),
                value=None if pd.isna(status.iloc[i]) else str(status.iloc[i]),
                rule="unknown_status",
                message="is not a status code; allowed: " + ", ".join(STATUS_CODES),
            )
        )
    orig = pd.to_datetime(tape["origination_date"], errors="coerce")
    last = pd.to_datetime(tape["last_payment_date"], errors="coerce")
    for i in _rows(orig.isna().to_numpy()):
        problems.append(
            Problem(
                where=_where(tape, i, "origination_date"),
                rule="missing_date",
                message="is missing or not a date; every loan needs its origination date",
            )
        )
    out_of_order = (last < orig).fillna(False).to_numpy(dtype=bool)
    for i in _rows(out_of_order):
        problems.append(
            Problem(
                where=_where(tape, i, "last_payment_date"),
                value=str(last.iloc[i].date()),
                rule="dates_out_of_order",
                message=f"is before the origination date {orig.iloc[i].date()}",
            )
        )
    numbers = {
        c: pd.to_numeric(tape[c], errors="coerce").to_numpy(dtype=float)
        for c in ("original_balance", "original_term", "rate", "principal_received")
    }
    for column, values in numbers.items():
        bad = np.isnan(values) | (values < 0) | ((values <= 0) & (column == "original_term"))
        for i in _rows(bad):
            problems.append(
                Problem(
                    where=_where(tape, i, column),
                    value=None if np.isnan(values[i]) else float(values[i]),
                    rule="bad_number",
                    message="must be a number >= 0 (terms > 0)",
                )
            )
    # Cent rounding in servicer totals is common; only a real excess is an error.
    over = numbers["principal_received"] > numbers["original_balance"] + 1.0
    for i in _rows(over):
        problems.append(
            Problem(
                where=_where(tape, i, "principal_received"),
                value=float(numbers["principal_received"][i]),
                rule="principal_above_original",
                message=f"exceeds the original balance {numbers['original_balance'][i]}",
            )
        )
    # An open loan that has repaid all its principal means the status is wrong or was never
    # mapped (a loader fills a missing status column with "current").
    still_open = status.isin(["current", "delinquent"]).fillna(False).to_numpy(dtype=bool)
    repaid = still_open & (numbers["principal_received"] >= numbers["original_balance"] - 1.0)
    for i in _rows(repaid & (numbers["original_balance"] > 0)):
        problems.append(
            Problem(
                where=_where(tape, i, "status"),
                value=str(status.iloc[i]),
                rule="status_contradicts_payments",
                message="but the whole principal was received; map the final status "
                "(paid_off or defaulted) from the export's status column",
            )
        )
    defaulted = (status == "defaulted").fillna(False).to_numpy(dtype=bool)
    no_payment = defaulted & last.isna().to_numpy()
    for i in _rows(no_payment):
        problems.append(
            Problem(
                where=_where(tape, i, "last_payment_date"),
                rule="chargeoff_without_payment",
                message="is missing on a charged-off loan; default month inferred from the "
                "origination date + the charge-off lag",
                severity="warning",
            )
        )
    paid_off = (status == "paid_off").fillna(False).to_numpy(dtype=bool)
    short = paid_off & (numbers["principal_received"] < numbers["original_balance"] - 1.0)
    for i in _rows(short):
        problems.append(
            Problem(
                where=_where(tape, i, "principal_received"),
                value=float(numbers["principal_received"][i]),
                rule="payoff_short",
                message=f"is below the original balance {numbers['original_balance'][i]} on a "
                "paid-off loan; the shortfall is left out of every table",
                severity="warning",
            )
        )
    no_last = paid_off & last.isna().to_numpy()
    for i in _rows(no_last):
        problems.append(
            Problem(
                where=_where(tape, i, "last_payment_date"),
                rule="payoff_without_payment",
                message="is missing on a paid-off loan; cannot date the payoff",
            )
        )
    if "recoveries" not in tape.columns:
        problems.append(
            Problem(
                where="column recoveries",
                rule="no_recoveries",
                message="is missing; recoveries taken as 0 (severity 100%)",
                severity="warning",
            )
        )
    return problems


@dataclass(frozen=True, kw_only=True)
class LoanHistory:
    """A tape's loans with their reconstructed monthly paths and labels."""

    paths: LoanPaths
    vintage: np.ndarray  # label per loan, e.g. "2009-12" or "2009Q4"
    segment: np.ndarray  # label per loan ("all" when unsegmented)
    original_balance: np.ndarray
    rate: np.ndarray
    term: np.ndarray
    amortization: np.ndarray  # amortization code per loan (level_pay when the tape has none)
    principal_received: np.ndarray
    defaulted: np.ndarray
    chargeoff: np.ndarray  # charged-off balance (0 unless defaulted and observed)
    recoveries: np.ndarray
    recovery_fees: np.ndarray
    vintage_age: np.ndarray  # vintage's observed age (months from its first month to as_of)
    resolved: np.ndarray  # the loan's final outcome is known by the observation date
    spec: HistorySpec
    warnings: tuple[Problem, ...] = field(default=())


def _vintage_labels(orig: pd.Series, unit: VintageUnit) -> np.ndarray:
    period = pd.to_datetime(orig).dt.to_period("M" if unit == "month" else "Q")
    return period.astype(str).to_numpy(dtype=object)


def load_history(tape: pd.DataFrame, spec: HistorySpec, *, source: str = "tape") -> LoanHistory:
    """Validate ``tape`` and rebuild its loans' monthly paths.

    Raises
    ------
    TapeError
        Listing every error found (missing columns, unknown statuses, dates out of order...).
    """
    problems = check_history(tape)
    if spec.by is not None and spec.by not in tape.columns:
        problems.append(
            Problem(
                where=f"column {spec.by}",
                rule="missing_column",
                message="is missing; cannot segment by it",
            )
        )
    errors = [p for p in problems if p.severity == "error"]
    if errors:
        raise TapeError.from_problems(errors, source=source)
    if spec.chargeoff_lag < 0:
        raise TapeError(f"chargeoff_lag: {spec.chargeoff_lag} is below 0")
    orig = pd.to_datetime(tape["origination_date"])
    last = pd.to_datetime(tape["last_payment_date"], errors="coerce")
    status = tape["status"].astype("string").to_numpy(dtype=object)
    # Without an observation date every outcome the tape records is final.
    as_of = pd.Timestamp(spec.as_of) if spec.as_of is not None else pd.Timestamp("2262-01-01")
    as_of_series = pd.Series(as_of, index=tape.index)
    observed_age = months_between(orig, as_of_series)
    last_age = months_between(orig, last)
    b0 = tape["original_balance"].to_numpy(dtype=float)
    rate = tape["rate"].to_numpy(dtype=float)
    term = tape["original_term"].to_numpy(dtype=float).astype(np.int64)
    received = tape["principal_received"].to_numpy(dtype=float)
    defaulted = status == "defaulted"
    open_loan = np.isin(status, ["current", "delinquent"])
    # Outcomes after the observation date are unknown: such loans are still open then and
    # follow their schedule (capped at the principal received) through the date.
    event_age = np.where(defaulted, last_age + spec.chargeoff_lag, last_age)
    unknown = (~open_loan & (event_age > observed_age)) | (last_age > observed_age)
    open_loan = open_loan | unknown
    last_age = np.where(unknown, np.iinfo(np.int32).max, last_age)
    defaulted = defaulted & ~unknown
    amortization = (
        tape["amortization"].astype("string").fillna("level_pay").to_numpy(dtype=object)
        if "amortization" in tape.columns
        else None
    )
    paths = reconstruct_paths(
        original_balance=b0,
        rate=rate,
        term=term,
        last_payment_age=last_age,
        principal_received=received,
        defaulted=defaulted,
        open_loan=open_loan,
        observed_age=observed_age,
        chargeoff_lag=spec.chargeoff_lag,
        amortization=amortization,
    )
    chargeoff = paths.defaults.sum(axis=1)
    defaulted_seen = chargeoff > 0
    recoveries = _money(tape, "recoveries") * defaulted_seen
    recovery_fees = _money(tape, "recovery_fees") * defaulted_seen
    vintage = _vintage_labels(orig, spec.vintage)
    vintage_start = (
        pd.to_datetime(orig).dt.to_period("M" if spec.vintage == "month" else "Q").dt.start_time
    )
    # A quarterly vintage is observed as far as its youngest month.
    vintage_age = months_between(vintage_start, as_of_series) - (
        2 if spec.vintage == "quarter" else 0
    )
    segment = (
        _labels(tape[spec.by]) if spec.by is not None else np.full(len(tape), "all", dtype=object)
    )
    return LoanHistory(
        paths=paths,
        vintage=vintage,
        segment=segment,
        original_balance=b0,
        rate=rate,
        term=term,
        amortization=amortization
        if amortization is not None
        else np.full(len(b0), "level_pay", dtype=object),
        principal_received=np.minimum(received, b0),
        defaulted=defaulted,
        chargeoff=chargeoff,
        recoveries=recoveries,
        recovery_fees=recovery_fees,
        vintage_age=np.maximum(vintage_age, 0),
        resolved=~open_loan,
        spec=spec,
        warnings=tuple(p for p in problems if p.severity == "warning"),
    )


def _labels(column: pd.Series) -> np.ndarray:
    """Segment labels as text; whole numbers read as floats (36.0) are labelled "36"."""
    if pd.api.types.is_float_dtype(column):
        values = column.to_numpy(dtype=float)
        finite = values[np.isfinite(values)]
        if np.array_equal(finite, np.round(finite)):
            column = column.astype("Int64")
    return column.astype("string").fillna("(missing)").to_numpy(dtype=object)


def _money(tape: pd.DataFrame, column: str) -> np.ndarray:
    if column not in tape.columns:
        return np.zeros(len(tape))
    return pd.to_numeric(tape[column], errors="coerce").fillna(0.0).to_numpy(dtype=float)


def _group_codes(*labels: np.ndarray) -> tuple[np.ndarray, pd.DataFrame]:
    keys = pd.DataFrame({f"k{i}": lab for i, lab in enumerate(labels)})
    grouped = keys.groupby(list(keys.columns), sort=True)
    codes = grouped.ngroup().to_numpy(dtype=np.int64)
    uniques = keys.drop_duplicates().sort_values(list(keys.columns)).reset_index(drop=True)
    return codes, uniques


def _sum_by(codes: np.ndarray, groups: int, matrix: np.ndarray) -> np.ndarray:
    out = np.zeros((groups, matrix.shape[1]))
    np.add.at(out, codes, matrix)
    return out


def vintage_table(history: LoanHistory) -> pd.DataFrame:
    """Vintage x segment x months-on-book table (long format), ages each vintage has seen.

    Columns: money flows of the age, MDR/SMM of the age, and cumulative gross default, net
    loss and prepayment plus the pool factor, all as fractions of the vintage's original
    balance.
    """
    p = history.paths
    codes, keys = _group_codes(history.segment, history.vintage)
    g = len(keys)
    net_rec = history.recoveries - history.recovery_fees
    default_rows = p.defaults > 0
    sums = {
        "loans_performing": _sum_by(codes, g, p.observed.astype(float)),
        "performing_balance": _sum_by(codes, g, p.start_balance),
        "scheduled_principal": _sum_by(codes, g, p.scheduled_principal),
        "prepayments": _sum_by(codes, g, p.prepayments),
        "defaults": _sum_by(codes, g, p.defaults),
        "recoveries": _sum_by(codes, g, default_rows * history.recoveries[:, None]),
        "recovery_fees": _sum_by(codes, g, default_rows * history.recovery_fees[:, None]),
        "prepay_base": _sum_by(codes, g, p.prepay_base),
    }
    sums["net_loss"] = sums["defaults"] - _sum_by(codes, g, default_rows * net_rec[:, None])
    original = np.bincount(codes, weights=history.original_balance, minlength=g)
    loans = np.bincount(codes, minlength=g)
    seen = np.full(g, np.iinfo(np.int64).max)
    np.minimum.at(seen, codes, history.vintage_age)
    max_term = np.zeros(g, dtype=np.int64)
    np.maximum.at(max_term, codes, history.term)
    width = p.start_balance.shape[1]
    ages = np.arange(1, width + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mdr = np.where(
            sums["performing_balance"] > 0, sums["defaults"] / sums["performing_balance"], 0.0
        )
        smm = np.where(sums["prepay_base"] > 1e-6, sums["prepayments"] / sums["prepay_base"], 0.0)
    smm = np.clip(smm, 0.0, 1.0)
    cum = {
        "cum_gross_default": np.cumsum(sums["defaults"], axis=1) / original[:, None],
        "cum_net_loss": np.cumsum(sums["net_loss"], axis=1) / original[:, None],
        "cum_prepayment": np.cumsum(sums["prepayments"], axis=1) / original[:, None],
    }
    paid = np.cumsum(sums["scheduled_principal"] + sums["prepayments"] + sums["defaults"], axis=1)
    cum["pool_factor"] = 1.0 - paid / original[:, None]
    frame = pd.DataFrame(
        {
            "segment": np.repeat(keys["k0"].to_numpy(dtype=object), width),
            "vintage": np.repeat(keys["k1"].to_numpy(dtype=object), width),
            "age": np.tile(ages, g),
            "loans": np.repeat(loans, width),
            "original_balance": np.repeat(original, width),
            **{k: v.ravel() for k, v in sums.items() if k != "prepay_base"},
            "mdr": mdr.ravel(),
            "smm": smm.ravel(),
            **{k: v.ravel() for k, v in cum.items()},
        }
    )
    frame = frame[frame["age"].to_numpy() <= np.repeat(np.minimum(seen, max_term), width)]
    return frame.reset_index(drop=True)


def vintage_summary(history: LoanHistory) -> pd.DataFrame:
    """One row per segment and vintage: loans, balances and lifetime-to-date outcomes."""
    codes, keys = _group_codes(history.segment, history.vintage)
    g = len(keys)

    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=values, minlength=g)

    seen = np.full(g, np.iinfo(np.int64).max)
    np.minimum.at(seen, codes, history.vintage_age)
    max_term = np.zeros(g, dtype=np.int64)
    np.maximum.at(max_term, codes, history.term)
    original = total(history.original_balance)
    defaults = total(history.chargeoff)
    recoveries = total(history.recoveries)
    fees = total(history.recovery_fees)
    net_loss = defaults - recoveries + fees
    with np.errstate(divide="ignore", invalid="ignore"):
        severity = np.where(defaults > 0, net_loss / defaults, np.nan)
    return pd.DataFrame(
        {
            "segment": keys["k0"].to_numpy(dtype=object),
            "vintage": keys["k1"].to_numpy(dtype=object),
            "loans": np.bincount(codes, minlength=g),
            "original_balance": original,
            "months_observed": np.minimum(seen, max_term + history.spec.chargeoff_lag),
            "seasoned": np.bincount(codes, weights=~history.resolved, minlength=g) == 0,
            "principal_collected": total(history.paths.scheduled_principal.sum(axis=1))
            + total(history.paths.prepayments.sum(axis=1)),
            "prepayments": total(history.paths.prepayments.sum(axis=1)),
            "defaults": defaults,
            "recoveries": recoveries,
            "recovery_fees": fees,
            "net_loss": net_loss,
            "gross_default_rate": defaults / original,
            "net_loss_rate": net_loss / original,
            "severity": severity,
        }
    )


__all__ = [
    "APPROXIMATIONS",
    "HISTORY_COLUMNS",
    "HistorySpec",
    "LoanHistory",
    "LoanPaths",
    "check_history",
    "level_pay_fraction",
    "load_history",
    "months_between",
    "reconstruct_paths",
    "schedule_fraction",
    "vintage_summary",
    "vintage_table",
]
