"""The cohort-aggregated projection: aggregate scheduled quantities once, then scenarios.

A loan's performing balance is ``B b(t) S(t)``: its scheduled balance times a survival
factor ``S`` that depends only on its cohort (segment, age, remaining term, payment
frequency).  Every SIFMA column is then a scheduled aggregate times a cohort factor, so the
pool is summarised once as ``(cohorts, periods)`` arrays and each scenario costs
``cohorts x periods``.  The one non-linear term, the loss ``min(severity x default,
amortized default balance)`` under advancing, is aggregated loan by loan per distinct
(severity, lag).  All functions here are pure numpy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from absstruct.projection.schedules import (
    Coefficients,
    LoanArrays,
    coefficients,
    materialize,
    payments_left,
    with_holiday,
)

BLOCK = 2048  # loans per block: keeps each block's (loans x periods) arrays in cache


@dataclass(frozen=True, kw_only=True)
class Cohorts:
    """Loans grouped by cohort: ``order`` sorts the loans, ``starts`` opens each cohort."""

    order: np.ndarray
    starts: np.ndarray
    ids: np.ndarray  # cohort id of each loan (original order)
    age: np.ndarray
    remaining: np.ndarray
    period_months: np.ndarray
    segments: dict[str, np.ndarray]

    @property
    def n_cohorts(self) -> int:
        return int(self.starts.shape[0])


def group(loans: LoanArrays, *, by_age: bool = True) -> Cohorts:
    """Group loans by (segments, age, remaining term, payment frequency).

    Age is left out when no scenario indexes curves by age (``by_age=False``): survival then
    depends on the remaining term and segment only.
    """
    keys = [loans.age if by_age else np.zeros_like(loans.age), loans.remaining, loans.period_months]
    keys += [np.unique(v, return_inverse=True)[1] for v in loans.segments.values()]
    combined = np.zeros(loans.n_loans, dtype=np.int64)
    for key in keys:
        codes = key - key.min() if key.size else key
        combined = combined * (int(codes.max(initial=0)) + 1) + codes
    if combined.size and combined.max() < 50_000_000:
        # Dense keys: a counting pass instead of a sort.
        present = np.bincount(combined) > 0
        dense = np.cumsum(present) - 1
        ids, n_ids = dense[combined], int(present.sum())
    else:
        unique, ids = np.unique(combined, return_inverse=True)
        n_ids = unique.size
    order = np.argsort(ids.astype(np.int32 if n_ids > 32767 else np.int16), kind="stable")
    sorted_ids = ids[order]
    starts = (
        np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        if ids.size
        else (np.zeros(0, np.int64))
    )
    first = order[starts]
    return Cohorts(
        order=order,
        starts=starts,
        ids=ids,
        age=loans.age[first],
        remaining=loans.remaining[first],
        period_months=loans.period_months[first],
        segments={k: v[first] for k, v in loans.segments.items()},
    )


@dataclass(frozen=True, kw_only=True)
class Aggregates:
    """Scheduled quantities summed per cohort, in currency: balance (C, T+1), others (C, T).

    ``rate_balance`` is the balance times the monthly note rate (interest on defaulted,
    non-advanced balances).
    """

    balance: np.ndarray
    principal: np.ndarray
    capitalized: np.ndarray
    interest: np.ndarray
    fee: np.ndarray
    rate_balance: np.ndarray


def _blocks(cohorts: Cohorts, n_loans: int):
    """(cohort index, sorted-loan slice) pairs, big cohorts split into blocks."""
    ends = np.r_[cohorts.starts[1:], n_loans]
    for c, (lo, hi) in enumerate(zip(cohorts.starts.tolist(), ends.tolist(), strict=True)):
        for s in range(lo, hi, BLOCK):
            yield c, cohorts.order[s : min(s + BLOCK, hi)]


def aggregate(
    loans: LoanArrays,
    cohorts: Cohorts,
    n_periods: int,
    *,
    holiday: tuple[float, int, int, bool] | None = None,
    loss_keys: tuple[tuple[int, np.ndarray], ...] = (),
    scheduled: Aggregates | None = None,
) -> tuple[Aggregates, list[np.ndarray]]:
    """Sum the scheduled paths per cohort (and the advancing loss terms per loss key).

    ``holiday`` is ``(share, start, months, capitalize)``; each loss key is ``(lag,
    severity (C, T))`` and yields ``sum_j B_j min(sev(i-lag) b_j(i-lag-1), b_j(i-1))``.
    ``scheduled`` is this function's own no-holiday aggregate from an earlier call, so that
    a later call for a holiday or new loss keys does not sum the schedules again.
    """
    T = n_periods
    coef = coefficients(loans)
    R = payments_left(cohorts.remaining, cohorts.period_months, T)  # (C, T+1)
    agg = scheduled if scheduled is not None else _scheduled(loans, cohorts, T, coef, R)
    return _holiday_and_losses(loans, cohorts, T, coef, R, agg, holiday, loss_keys)


def _scheduled(
    loans: LoanArrays, cohorts: Cohorts, T: int, coef: Coefficients, R: np.ndarray
) -> Aggregates:
    """The scheduled (no holiday) aggregates: closed forms summed per cohort."""
    C = cohorts.n_cohorts
    B, r = loans.balance, loans.rate / 12.0
    paying = R[:, 1:] < R[:, :-1]
    w_a = np.bincount(cohorts.ids, B * coef.A, C)
    w_m = np.bincount(cohorts.ids, B * coef.M, C)
    w_ar = np.bincount(cohorts.ids, B * r * coef.A, C)
    w_mr = np.bincount(cohorts.ids, B * r * coef.M, C)
    bal = w_a[:, None] + w_m[:, None] * R
    rbal = w_ar[:, None] + w_mr[:, None] * R
    if np.any(coef.K != 0):
        _add_power_sums(bal, rbal, coef, B, r, cohorts, R)
    bal = np.where(R >= 1, bal, 0.0)
    rbal = np.where(R >= 1, rbal, 0.0)
    bal[:, 0] = np.bincount(cohorts.ids, B, C)
    rbal[:, 0] = np.bincount(cohorts.ids, B * r, C)
    fee_w = np.bincount(cohorts.ids, B * loans.fee, C)
    return Aggregates(
        balance=bal,
        principal=bal[:, :-1] - bal[:, 1:],
        capitalized=np.zeros((C, T)),
        interest=np.where(paying, rbal[:, :-1] * cohorts.period_months[:, None], 0.0),
        fee=np.where(paying, fee_w[:, None], 0.0),
        rate_balance=rbal,
    )


def _holiday_and_losses(
    loans: LoanArrays,
    cohorts: Cohorts,
    T: int,
    coef: Coefficients,
    R: np.ndarray,
    agg: Aggregates,
    holiday: tuple[float, int, int, bool] | None,
    loss_keys: tuple[tuple[int, np.ndarray], ...],
) -> tuple[Aggregates, list[np.ndarray]]:
    """Blend in a payment holiday and sum the advancing loss terms, loan block by block."""
    C = cohorts.n_cohorts
    B, r = loans.balance, loans.rate / 12.0
    losses = [np.zeros((C, T)) for _ in loss_keys]
    if holiday is None and not loss_keys:
        return agg, losses
    share = holiday[0] if holiday else 0.0
    held = {
        name: np.zeros_like(getattr(agg, name))
        for name in ("balance", "principal", "capitalized", "interest", "fee", "rate_balance")
    }
    for c, index in _blocks(cohorts, loans.n_loans):
        w = B[index]
        held_sched = None
        if holiday is None:
            # Loss terms only need balances; a cohort shares its payments-left row R.
            balance = _balances(coef, index, R[c])
        else:
            sched = materialize(loans, index, n_periods=T, coef=coef)
            balance = sched.balance
            held_sched = with_holiday(
                sched, r[index], start=holiday[1], months=holiday[2], capitalize=holiday[3]
            )
            for name in ("balance", "principal", "capitalized", "interest", "fee"):
                held[name][c] += w @ getattr(held_sched, name)
            held["rate_balance"][c] += (w * r[index]) @ held_sched.balance
        for k, (lag, severity) in enumerate(loss_keys):
            losses[k][c] += (1.0 - share) * _loss_term(balance, w, lag, severity[c])
            if held_sched is not None:
                losses[k][c] += share * _loss_term(held_sched.balance, w, lag, severity[c])
    if holiday is not None:
        agg = Aggregates(
            **{name: (1.0 - share) * getattr(agg, name) + share * held[name] for name in held}
        )
    return agg, losses


def _balances(coef: Coefficients, index: np.ndarray, payments: np.ndarray) -> np.ndarray:
    """Scheduled balances (loans, T+1) of loans sharing one payments-left row."""
    live = payments >= 1
    out = np.zeros((index.shape[0], payments.shape[0]))
    k = payments[live].astype(float)
    A, K, M, L = (x[index][:, None] for x in (coef.A, coef.K, coef.M, coef.L))
    out[:, live] = A + M * k + K * np.exp(-L * k)
    out[:, 0] = 1.0
    return out


def _loss_term(
    balance: np.ndarray, weight: np.ndarray, lag: int, severity: np.ndarray
) -> np.ndarray:
    """``sum_j w_j min(sev(i-lag) b_j(i-lag-1), b_j(i-1))`` for i = 1..T (0 for i <= lag)."""
    T = balance.shape[1] - 1
    out = np.zeros(T)
    if lag < T:
        at_default = balance[:, : T - lag] * severity[None, : T - lag]
        out[lag:] = weight @ np.minimum(at_default, balance[:, lag:T])
    return out


def _add_power_sums(
    bal: np.ndarray,
    rbal: np.ndarray,
    coef: Coefficients,
    B: np.ndarray,
    r: np.ndarray,
    cohorts: Cohorts,
    R: np.ndarray,
) -> None:
    """Add ``sum_j w_j K_j exp(-R L_j)`` per cohort: one exp per loan and distinct R."""
    for c, index in _blocks(cohorts, B.shape[0]):
        K = coef.K[index]
        if not K.any():
            continue
        ks = R[c]
        k_low, k_high = int(ks[-1]), int(ks[0])
        powers = np.exp(np.multiply.outer(-coef.L[index], np.arange(k_low, k_high + 1.0)))
        weights = np.stack([B[index] * K, B[index] * r[index] * K])
        sums = weights @ powers
        bal[c] += sums[0, ks - k_low]
        rbal[c] += sums[1, ks - k_low]


def survival_kernel(
    agg: Aggregates,
    smm: np.ndarray,
    mdr: np.ndarray,
    severity: np.ndarray,
    *,
    lag: int,
    advance: bool,
    servicing: float,
    loss_term: np.ndarray | None,
) -> dict[str, np.ndarray]:
    """One scenario on cohort aggregates: every column as a ``(T,)`` pool total.

    ``smm``, ``mdr``, ``severity`` are ``(C, T)`` (severity by month of default);
    ``loss_term`` is the advancing loss aggregate for this (severity, lag).
    """
    C, T = mdr.shape
    smm = np.minimum(smm, 1.0 - mdr)  # defaults come first; the rest may at most all prepay
    S = np.ones((C, T + 1))
    np.cumprod(1.0 - mdr - smm, axis=1, out=S[:, 1:])
    u = S[:, :-1] * mdr  # share of the cut-off balance defaulting in period i
    alive = S[:, :-1] - u  # still performing after this period's defaults
    b_prev, b_now = agg.balance[:, :-1], agg.balance[:, 1:]
    # Sums over cohorts straight from the factors (no (C, T) product is materialized);
    # shifts and windows along periods commute with the cohort sum.
    out: dict[str, np.ndarray] = {
        "performing_balance": _total(b_now, S[:, 1:]),
        "new_defaults": _total(b_prev, u),
        "voluntary_prepayments": _total(b_now, S[:, :-1], smm),
        "actual_amortization": _total(agg.principal, alive),
        "actual_interest": _total(agg.interest, alive),
        "fee_income": _total(agg.fee, alive),
        "servicing_fee": servicing / 12.0 * _total(b_prev, alive),
    }
    cap = _total(agg.capitalized, alive)
    if advance:
        F = _window(u, lag)  # defaulted share still in foreclosure at the end of period i
        F_prev = np.concatenate([np.zeros((C, 1)), F[:, :-1]], axis=1)
        u_lag = _shift(u, lag)
        out["in_foreclosure"] = _total(b_now, F)
        out["amortization_from_defaults"] = _total(agg.principal, F)
        cap = cap + _total(agg.capitalized, F)
        adb = _total(b_prev, u_lag)
        loss = _total(loss_term, u_lag) if loss_term is not None else np.zeros(T)
        out["interest_lost"] = _total(agg.interest, F_prev) + _total(agg.interest, u)
        out["expected_interest"] = out["actual_interest"] + out["interest_lost"]
    else:
        new = out["new_defaults"][None, :]
        out["in_foreclosure"] = _window(new, lag)[0]
        out["amortization_from_defaults"] = np.zeros(T)
        adb = _shift(new, lag)[0]
        loss = _shift(_total(b_prev, u, severity)[None, :], lag)[0]
        lost = _total(agg.rate_balance[:, :-1], u)[None, :]
        out["interest_lost"] = _window(lost, lag + 1)[0]
        out["expected_interest"] = out["actual_interest"] + out["interest_lost"]
    out["expected_amortization"] = out["actual_amortization"] + out["amortization_from_defaults"]
    out["amortized_default_balance_in_recovery"] = adb
    out["principal_loss"] = loss
    out["principal_recovery"] = adb - loss
    out["capitalized_interest"] = cap
    return finish(out, advance=advance)


def _total(*factors: np.ndarray) -> np.ndarray:
    """``sum over cohorts of the product of the factors``, per period."""
    spec = ",".join(["ct"] * len(factors)) + "->t"
    return np.einsum(spec, *factors)


def finish(totals: dict[str, np.ndarray], *, advance: bool) -> dict[str, np.ndarray]:
    """Add the deal cash columns to pool totals (shared by both paths)."""
    principal = (
        totals["actual_amortization"]
        + totals["voluntary_prepayments"]
        + totals["principal_recovery"]
    )
    interest = totals["actual_interest"] + totals["fee_income"]
    if advance:
        principal = principal + totals["amortization_from_defaults"]
        interest = interest + totals["interest_lost"]
    totals["principal_collections"] = principal
    totals["interest_collections"] = interest
    return totals


def _window(x: np.ndarray, width: int) -> np.ndarray:
    """Sum of the last ``width`` periods (inclusive) along axis 1."""
    if width <= 0:
        return np.zeros_like(x)
    cs = np.cumsum(x, axis=1)
    out = cs.copy()
    out[:, width:] -= cs[:, :-width]
    return out


def _shift(x: np.ndarray, lag: int) -> np.ndarray:
    """``x`` delayed by ``lag`` periods along axis 1."""
    out = np.zeros_like(x)
    if lag < x.shape[1]:
        out[:, lag:] = x[:, : x.shape[1] - lag]
    return out
