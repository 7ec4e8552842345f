"""The result of a waterfall run: frozen ledgers by period over scenarios, with DataFrames.

Every ledger holds ``(S, T)`` arrays (scenario rows, period columns); ``.frame(s)`` gives
one scenario by period with the payment dates, :meth:`Result.tidy` a long table of
everything, :meth:`Result.summary` the tranche summary the CLI prints.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from absstruct.projection.flows import PoolFlows


@dataclass(frozen=True, kw_only=True)
class Ledger:
    """One party's (tranche, account, fee, tax, trigger, support) ledger: field -> (S, T)."""

    name: str
    kind: str
    arrays: Mapping[str, np.ndarray]
    dates: tuple[dt.date, ...]

    def __getitem__(self, field: str) -> np.ndarray:
        return self.arrays[field]

    def frame(self, scenario: int = 0) -> pd.DataFrame:
        """One scenario as a DataFrame by period (``period``, ``date``, then the fields)."""
        data: dict[str, object] = {
            "period": np.arange(1, len(self.dates) + 1),
            "date": pd.to_datetime(list(self.dates)),
        }
        for field, values in self.arrays.items():
            data[field] = np.asarray(values[scenario], dtype=float)
        return pd.DataFrame(data)


@dataclass(frozen=True, kw_only=True)
class Result:
    """Everything a run produced.

    Attributes
    ----------
    deal_name : str
    scenario_names : tuple of str
    payment_dates : tuple of datetime.date
    pool : PoolFlows
        The collateral flows the waterfall used (revolving purchases included, nothing after
        a clean-up call).
    tranches, accounts, fees, taxes, triggers, support : dict of Ledger
    deal : Ledger
        Deal-level flows: collections, draws, payments by kind, residual, the conservation gap.
    original_balances : dict of float
        Tranche sizes at closing.
    """

    deal_name: str
    currency: str
    scenario_names: tuple[str, ...]
    payment_dates: tuple[dt.date, ...]
    pool: PoolFlows
    tranches: dict[str, Ledger]
    accounts: dict[str, Ledger]
    fees: dict[str, Ledger]
    taxes: dict[str, Ledger]
    triggers: dict[str, Ledger]
    support: dict[str, Ledger]
    deal: Ledger
    original_balances: dict[str, float]
    coupons: dict[str, np.ndarray]

    @property
    def n_scenarios(self) -> int:
        return len(self.scenario_names)

    @property
    def n_periods(self) -> int:
        return len(self.payment_dates)

    def scenario_index(self, scenario: int | str) -> int:
        """The row of a scenario given by position or name."""
        if isinstance(scenario, str):
            return self.scenario_names.index(scenario)
        return int(scenario)

    def _groups(self) -> list[tuple[str, dict[str, Ledger]]]:
        return [
            ("tranche", self.tranches),
            ("account", self.accounts),
            ("fee", self.fees),
            ("tax", self.taxes),
            ("trigger", self.triggers),
            ("support", self.support),
        ]

    def frame(self, scenario: int | str = 0) -> pd.DataFrame:
        """One scenario, one row per period, every ledger's fields as ``name.field`` columns."""
        s = self.scenario_index(scenario)
        out = self.deal.frame(s)
        for _, ledgers in self._groups():
            for name, ledger in ledgers.items():
                for field, values in ledger.arrays.items():
                    out[f"{name}.{field}"] = np.asarray(values[s], dtype=float)
        return out

    def tidy(self) -> pd.DataFrame:
        """Every number of every scenario as rows: scenario, period, date, kind, name, field,
        value."""
        frames = []
        periods = np.arange(1, self.n_periods + 1)
        dates = pd.to_datetime(list(self.payment_dates))
        groups = [("deal", {"deal": self.deal}), *self._groups()]
        for kind, ledgers in groups:
            for name, ledger in ledgers.items():
                for field, values in ledger.arrays.items():
                    frames.append(
                        pd.DataFrame(
                            {
                                "scenario": np.repeat(self.scenario_names, self.n_periods),
                                "period": np.tile(periods, self.n_scenarios),
                                "date": np.tile(dates, self.n_scenarios),
                                "kind": kind,
                                "name": name,
                                "field": field,
                                "value": np.asarray(values, dtype=float).ravel(),
                            }
                        )
                    )
        return pd.concat(frames, ignore_index=True)

    def summary(self, scenario: int | str = 0) -> pd.DataFrame:
        """Per tranche: original and ending balance, interest and principal paid, shortfall,
        write-downs, residual and the last date a payment was made."""
        s = self.scenario_index(scenario)
        rows = []
        for name, ledger in self.tranches.items():
            paid = ledger["interest_paid"][s] + ledger["principal_paid"][s]
            paid = paid + ledger["residual_paid"][s]
            nonzero = np.flatnonzero(paid > 0)
            last = self.payment_dates[int(nonzero[-1])] if nonzero.size else None
            rows.append(
                {
                    "tranche": name,
                    "original_balance": self.original_balances[name],
                    "interest_paid": float(ledger["interest_paid"][s].sum()),
                    "principal_paid": float(ledger["principal_paid"][s].sum()),
                    "interest_shortfall": float(ledger["interest_shortfall"][s][-1]),
                    "writedown": float(ledger["writedown"][s].sum()),
                    "residual_paid": float(ledger["residual_paid"][s].sum()),
                    "ending_balance": float(ledger["balance"][s][-1]),
                    "final_payment_date": last,
                }
            )
        return pd.DataFrame(rows)

    def trigger_events(self, scenario: int | str = 0) -> pd.DataFrame:
        """When each trigger was first breached (and cured, when curable)."""
        s = self.scenario_index(scenario)
        rows = []
        for name, ledger in self.triggers.items():
            state = ledger["breached"][s] > 0
            changes = np.flatnonzero(np.diff(np.concatenate([[False], state]).astype(int)))
            for change in changes:
                index = int(change)
                rows.append(
                    {
                        "trigger": name,
                        "event": "breached" if state[index] else "cured",
                        "period": int(index) + 1,
                        "date": self.payment_dates[int(index)],
                        "value": float(ledger["value"][s][index]),
                        "threshold": float(ledger["threshold"][s][index]),
                    }
                )
        for field, label in (("called", "clean-up call"), ("accelerated", "acceleration")):
            flags = np.flatnonzero(self.deal[field][s] > 0)
            if flags.size:
                index = int(flags[0])
                rows.append(
                    {
                        "trigger": label,
                        "event": "exercised" if field == "called" else "started",
                        "period": index + 1,
                        "date": self.payment_dates[index],
                        "value": float("nan"),
                        "threshold": float("nan"),
                    }
                )
        columns = ["trigger", "event", "period", "date", "value", "threshold"]
        frame = pd.DataFrame(rows, columns=columns)
        return frame.sort_values(["period", "trigger"], kind="stable", ignore_index=True)


__all__ = ["Ledger", "Result"]
