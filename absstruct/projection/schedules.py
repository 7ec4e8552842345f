"""Scheduled amortization per loan: the tape's columns as arrays, and closed-form schedules.

A loan's scheduled balance, as a fraction of its cut-off balance, after ``t`` months with
``R(t) = ceil((n - t) / p)`` payments left (``n`` remaining months, ``p`` months between
payments) is, for ``R >= 1``::

    b(t) = A + K * v ** R + M * R        (v = 1 / (1 + q), q = rate * p / 12)

level pay and balloon (balloon fraction ``beta``): ``A = (1 - beta v^m) / (1 - v^m)``,
``K = beta - A``; their zero-rate versions and equal principal are straight lines
(``M = (1 - beta) / m``); interest-only is ``A = 1``.  ``b = 0`` once ``R = 0``.  Interest
``b(t-1) * q`` and flat fees are paid in payment months.  Everything here is pure numpy.

Examples
--------
>>> import numpy as np
>>> loans = LoanArrays.from_columns(balance=[1000.0], rate=[0.12], remaining=[3], age=[0],
...                                 amortization=["level_pay"])
>>> s = materialize(loans, np.arange(1), n_periods=3)
>>> (s.balance[0] * 1000).round(2).tolist()
[1000.0, 669.98, 336.66, 0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from absstruct.errors import Problem, TapeError
from absstruct.tape.schema import AMORTIZATION_CODES, FREQUENCY_CODES, PERIODS_PER_YEAR

LEVEL, EQUAL, IO, BALLOON, FLAT = (
    AMORTIZATION_CODES.index(c)
    for c in ("level_pay", "equal_principal", "interest_only", "balloon", "flat_fee")
)
MONTHS_PER_PAYMENT = {code: 12 // PERIODS_PER_YEAR[code] for code in FREQUENCY_CODES}


@dataclass(frozen=True, kw_only=True)
class LoanArrays:
    """The projection's view of a tape: one numpy array per quantity, one row per loan.

    ``fee`` is the flat fee per payment as a fraction of the CUT-OFF balance
    (``fee_rate x original_balance / current_balance``); ``balloon`` likewise.
    """

    balance: np.ndarray
    rate: np.ndarray
    remaining: np.ndarray
    age: np.ndarray
    amortization: np.ndarray  # index into AMORTIZATION_CODES
    period_months: np.ndarray
    balloon: np.ndarray
    fee: np.ndarray
    segments: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_loans(self) -> int:
        return int(self.balance.shape[0])

    @classmethod
    def from_columns(
        cls,
        *,
        balance: Sequence[float],
        rate: Sequence[float],
        remaining: Sequence[int],
        age: Sequence[int],
        amortization: Sequence[str],
        period_months: Sequence[int] | None = None,
        balloon: Sequence[float] | None = None,
        fee: Sequence[float] | None = None,
    ) -> LoanArrays:
        """Arrays from plain sequences (already in canonical units)."""
        n = len(balance)
        codes = np.array([AMORTIZATION_CODES.index(a) for a in amortization], dtype=np.int8)
        return cls(
            balance=np.asarray(balance, dtype=float),
            rate=np.asarray(rate, dtype=float),
            remaining=np.asarray(remaining, dtype=np.int64),
            age=np.asarray(age, dtype=np.int64),
            amortization=codes,
            period_months=np.ones(n, np.int64)
            if period_months is None
            else np.asarray(period_months, dtype=np.int64),
            balloon=np.zeros(n) if balloon is None else np.asarray(balloon, dtype=float),
            fee=np.zeros(n) if fee is None else np.asarray(fee, dtype=float),
        )

    @classmethod
    def from_tape(cls, tape: pd.DataFrame, *, segment_columns: Sequence[str] = ()) -> LoanArrays:
        """Read and check the columns the projection needs; every problem is reported at once."""
        problems: list[Problem] = []
        required = ("current_balance", "rate", "remaining_term", "original_term", "amortization")
        missing = [c for c in (*required, *segment_columns) if c not in tape.columns]
        if missing:
            raise TapeError.from_problems(
                [
                    Problem(where=f"column {c}", rule="missing", message="is required to project")
                    for c in missing
                ],
                source="tape",
            )

        def numeric(name: str, default: float | None = None) -> np.ndarray:
            if name not in tape.columns:
                return np.full(len(tape), default, dtype=float)
            values = pd.to_numeric(tape[name], errors="coerce").to_numpy(dtype=float)
            bad = ~np.isfinite(values)
            if default is not None:
                values = np.where(bad & tape[name].isna().to_numpy(), default, values)
                bad = ~np.isfinite(values)
            for row in np.flatnonzero(bad)[:10]:
                problems.append(
                    Problem(
                        where=f"row {row + 1}, column {name}",
                        value=_plain(tape[name].iloc[row]),
                        rule="number",
                        message="is not a number",
                    )
                )
            return values

        balance = numeric("current_balance")
        rate = numeric("rate")
        remaining = numeric("remaining_term")
        original = numeric("original_term")
        balloon_amount = numeric("balloon_amount", 0.0)
        fee_rate = numeric("fee_rate", 0.0)
        original_balance = (
            numeric("original_balance", np.nan)
            if ("original_balance" in tape.columns)
            else balance.copy()
        )
        original_balance = np.where(np.isfinite(original_balance), original_balance, balance)
        for name, values, low in (
            ("current_balance", balance, 0.0),
            ("rate", rate, 0.0),
            ("fee_rate", fee_rate, 0.0),
            ("balloon_amount", balloon_amount, 0.0),
        ):
            for row in np.flatnonzero(values < low)[:10]:
                problems.append(
                    Problem(
                        where=f"row {row + 1}, column {name}",
                        value=float(values[row]),
                        rule="minimum",
                        message=f"is below {low:g}",
                    )
                )
        codes = _codes(tape["amortization"], AMORTIZATION_CODES, "amortization", problems)
        if "payment_frequency" in tape.columns:
            freq = _codes(
                tape["payment_frequency"],
                FREQUENCY_CODES,
                "payment_frequency",
                problems,
                missing="monthly",
            )
            months = np.array([MONTHS_PER_PAYMENT[c] for c in FREQUENCY_CODES], dtype=np.int64)
            period_months = months[np.maximum(freq, 0)]
        else:
            period_months = np.ones(len(tape), np.int64)
        if problems:
            raise TapeError.from_problems(problems, source="tape")
        positive = balance > 0

        def per_balance(amount: np.ndarray) -> np.ndarray:
            """``amount / balance`` where the balance is positive, else 0."""
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                ratio = np.divide(amount, balance, out=np.zeros_like(balance), where=positive)
            return np.where(np.isfinite(ratio), ratio, 0.0)

        segments = {
            c: tape[c].astype("string").fillna("").to_numpy(dtype=object) for c in segment_columns
        }
        return cls(
            balance=balance,
            rate=rate,
            remaining=remaining.astype(np.int64),
            age=np.maximum(original - remaining, 0).astype(np.int64),
            amortization=codes.astype(np.int8),
            period_months=period_months,
            balloon=np.where(codes == BALLOON, per_balance(balloon_amount), 0.0),
            fee=np.where(codes == FLAT, per_balance(fee_rate * original_balance), 0.0),
            segments=segments,
        )

    def take(self, index: np.ndarray) -> LoanArrays:
        """The loans at ``index`` (a reordering or a subset)."""
        return LoanArrays(
            balance=self.balance[index],
            rate=self.rate[index],
            remaining=self.remaining[index],
            age=self.age[index],
            amortization=self.amortization[index],
            period_months=self.period_months[index],
            balloon=self.balloon[index],
            fee=self.fee[index],
            segments={k: v[index] for k, v in self.segments.items()},
        )


def _codes(
    column: pd.Series,
    allowed: tuple[str, ...],
    name: str,
    problems: list[Problem],
    missing: str | None = None,
) -> np.ndarray:
    """Index of each value in ``allowed`` (-1 and a problem when not allowed).

    Factorizes first, so a million rows cost one hash pass and a handful of string checks.
    """
    raw, uniques = pd.factorize(column, use_na_sentinel=True)
    lookup = []
    for value in uniques:
        text = str(value).strip().lower()
        lookup.append(allowed.index(text) if text in allowed else -1)
    table = np.array([*lookup, allowed.index(missing) if missing else -1], dtype=np.int64)
    codes = table[raw]  # raw == -1 (missing) picks the last entry
    for row in np.flatnonzero(codes < 0)[:10]:
        problems.append(
            Problem(
                where=f"row {row + 1}, column {name}",
                value=_plain(column.iloc[row]),
                rule="code",
                message=f"is not one of {', '.join(allowed)}",
            )
        )
    return codes


def _plain(value: object) -> object:
    item = getattr(value, "item", None)
    return item() if callable(item) else value


@dataclass(frozen=True, kw_only=True)
class Coefficients:
    """Per-loan closed-form coefficients: ``b = A + K exp(-R L) + M R`` while ``R >= 1``."""

    A: np.ndarray
    K: np.ndarray
    M: np.ndarray
    L: np.ndarray
    payments: np.ndarray  # m = ceil(n / p): payments left at the cut-off


def coefficients(loans: LoanArrays) -> Coefficients:
    """Closed-form schedule coefficients for every loan (see the module docstring)."""
    p = loans.period_months
    m = np.maximum(-(-loans.remaining // p), 0)
    mf = np.maximum(m, 1).astype(float)
    q = loans.rate * p / 12.0
    code = loans.amortization
    beta = np.where(code == BALLOON, loans.balloon, 0.0)
    annuity = ((code == LEVEL) | (code == BALLOON)) & (q > 0)
    L = np.where(annuity, np.log1p(q), 0.0)
    vm = np.exp(-mf * L)
    with np.errstate(divide="ignore", invalid="ignore"):
        a_annuity = np.where(annuity, (1.0 - beta * vm) / np.where(annuity, 1.0 - vm, 1.0), 0.0)
    straight = ((code == LEVEL) | (code == BALLOON)) & ~annuity
    A = np.select([annuity, straight, code == IO], [a_annuity, beta, 1.0], 0.0)
    K = np.where(annuity, beta - a_annuity, 0.0)
    M = np.select([straight, (code == EQUAL) | (code == FLAT)], [(1.0 - beta) / mf, 1.0 / mf], 0.0)
    return Coefficients(A=A, K=K, M=M, L=L, payments=m)


def payments_left(remaining: np.ndarray, period_months: np.ndarray, n_periods: int) -> np.ndarray:
    """``R[j, t] = ceil((n_j - t) / p_j)`` clipped at 0, for t = 0..n_periods."""
    t = np.arange(n_periods + 1)
    left = remaining[:, None] - t[None, :]
    return np.maximum(-(-left // period_months[:, None]), 0)


@dataclass(frozen=True, kw_only=True)
class Schedule:
    """Materialized schedules per unit of cut-off balance: ``balance`` (n, T+1); the rest (n, T).

    ``principal`` is scheduled principal paid, ``capitalized`` interest added to the balance
    (payment holidays), so ``balance[t] = balance[t-1] - principal[t] + capitalized[t]``.
    """

    balance: np.ndarray
    principal: np.ndarray
    capitalized: np.ndarray
    interest: np.ndarray
    fee: np.ndarray


def materialize(
    loans: LoanArrays, index: np.ndarray, *, n_periods: int, coef: Coefficients | None = None
) -> Schedule:
    """The scheduled paths of the loans at ``index`` over ``n_periods`` months."""
    coef = coef or coefficients(loans)
    A, K, M, L = (x[index][:, None] for x in (coef.A, coef.K, coef.M, coef.L))
    p = loans.period_months[index]
    R = payments_left(loans.remaining[index], p, n_periods)
    balance = np.where(R >= 1, A + K * np.exp(-R * L) + M * R, 0.0)
    balance[:, 0] = 1.0
    paying = R[:, 1:] < R[:, :-1]
    q = (loans.rate[index] * p / 12.0)[:, None]
    interest = np.where(paying, balance[:, :-1] * q, 0.0)
    fee = np.where(paying, loans.fee[index][:, None], 0.0)
    principal = balance[:, :-1] - balance[:, 1:]
    return Schedule(
        balance=balance,
        principal=principal,
        capitalized=np.zeros_like(principal),
        interest=interest,
        fee=fee,
    )


def with_holiday(
    schedule: Schedule, monthly_rate: np.ndarray, *, start: int, months: int, capitalize: bool
) -> Schedule:
    """The same loans when they defer every payment for ``months`` from period ``start``.

    After the holiday the remaining schedule runs ``months`` later (scaled up by the
    capitalized interest when ``capitalize``); otherwise the deferred interest is paid with the
    first instalment after the holiday.
    """
    T = schedule.principal.shape[1]
    k, N = start, months
    r = monthly_rate[:, None]
    b, pr, it, fe = schedule.balance, schedule.principal, schedule.interest, schedule.fee
    hb, hp, hc = b.copy(), pr.copy(), np.zeros_like(pr)
    hi, hf = it.copy(), fe.copy()
    if k > T:
        return schedule
    base = b[:, k - 1 : k]
    steps = np.arange(1, N + 1)[None, :]
    held = base * (1.0 + r) ** steps if capitalize else np.repeat(base, N, axis=1)
    growth = held[:, -1:] / np.where(base > 0, base, 1.0)
    last = min(k + N - 1, T)
    hb[:, k : last + 1] = held[:, : last - k + 1]
    hp[:, k - 1 : last] = 0.0
    hi[:, k - 1 : last] = 0.0
    hf[:, k - 1 : last] = 0.0
    prior = np.concatenate([base, held[:, :-1]], axis=1)
    hc[:, k - 1 : last] = (held - prior)[:, : last - k + 1]
    if k + N <= T:
        after = slice(k + N, T + 1)
        shifted = slice(k, T + 1 - N)
        hb[:, after] = growth * b[:, shifted]
        hp[:, k + N - 1 :] = growth * pr[:, k - 1 : T - N]
        hi[:, k + N - 1 :] = growth * it[:, k - 1 : T - N]
        hf[:, k + N - 1 :] = fe[:, k - 1 : T - N]
        if not capitalize:
            hi[:, k + N - 1] += base[:, 0] * r[:, 0] * N
    return Schedule(balance=hb, principal=hp, capitalized=hc, interest=hi, fee=hf)


def level_payment(balance: float, annual_rate: float, months: int) -> float:
    """Level monthly payment ``B r / (1 - (1 + r)^-n)``, straight line at a zero rate.

    >>> round(level_payment(100_000_000, 0.08, 360), 2)
    733764.57
    """
    r = annual_rate / 12.0
    return balance / months if r == 0 else balance * r / (1.0 - (1.0 + r) ** -months)


def flat_fee_apr(fee_rate: float, term: int, *, rate: float = 0.0) -> float:
    """APR (12 x monthly IRR) of a flat-fee installment loan of 1 over ``term`` months.

    Equal principal ``1/term`` plus interest on the balance plus ``fee_rate`` x 1 each month.

    >>> round(flat_fee_apr(0.006, 12), 4)
    0.1303
    """
    months = np.arange(1, term + 1)
    balance_before = 1.0 - (months - 1) / term
    flows = 1.0 / term + balance_before * rate / 12.0 + fee_rate
    low, high = 0.0, 1.0
    for _ in range(200):  # bisection: the PV falls as the rate rises
        mid = (low + high) / 2
        pv = float(np.sum(flows / (1.0 + mid) ** months))
        low, high = (mid, high) if pv > 1.0 else (low, mid)
    return 12.0 * (low + high) / 2
