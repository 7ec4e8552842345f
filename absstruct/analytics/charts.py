"""PNG charts of vintage curves and back-test results (matplotlib, Agg backend, no display).

Examples
--------
>>> import pandas as pd, pathlib, tempfile
>>> table = pd.DataFrame({"segment": "all", "vintage": "2020-01", "age": [1, 2],
...                       "cum_gross_default": [0.0, 0.01], "cum_net_loss": [0.0, 0.009],
...                       "cum_prepayment": [0.01, 0.02], "pool_factor": [0.97, 0.94]})
>>> [p.name for p in vintage_charts(table, pathlib.Path(tempfile.mkdtemp()))][:1]
['vintage_cum_gross_default.png']
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from absstruct.report.atomic import atomic_path

VINTAGE_MEASURES: dict[str, str] = {
    "cum_gross_default": "Cumulative gross default (% of original balance)",
    "cum_net_loss": "Cumulative net loss (% of original balance)",
    "cum_prepayment": "Cumulative prepayment (% of original balance)",
    "pool_factor": "Pool factor (% of original balance)",
}

# More lines than this and a legend hides the chart; a colour bar of vintages stands in.
MAX_LEGEND = 12


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(figure, path: Path) -> Path:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def _safe(label: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in label)


def vintage_charts(table: pd.DataFrame, directory: Path) -> list[Path]:
    """One PNG per measure: a line per vintage against months on book (a panel per segment)."""
    plt = _pyplot()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    segments = sorted(table["segment"].astype(str).unique())
    for measure, title in VINTAGE_MEASURES.items():
        figure, axes = plt.subplots(
            1, len(segments), figsize=(6.5 * len(segments), 4.5), squeeze=False, sharey=True
        )
        for axis, segment in zip(axes[0], segments, strict=True):
            part = table[table["segment"].astype(str) == segment]
            vintages = sorted(part["vintage"].astype(str).unique())
            colours = plt.get_cmap("viridis")(np.linspace(0, 1, max(len(vintages), 2)))
            for colour, vintage in zip(colours, vintages, strict=False):
                rows = part[part["vintage"].astype(str) == vintage]
                axis.plot(rows["age"], 100 * rows[measure], color=colour, lw=1, label=vintage)
            axis.set_title(f"{segment} ({len(vintages)} vintages, {vintages[0]}..{vintages[-1]})")
            axis.set_xlabel("Months on book")
            axis.grid(alpha=0.3)
            if len(vintages) <= MAX_LEGEND:
                axis.legend(fontsize=7)
        axes[0][0].set_ylabel(title)
        figure.suptitle(title)
        written.append(_save(figure, directory / f"vintage_{measure}.png"))
        plt.close(figure)
    return written


def backtest_charts(errors: pd.DataFrame, curves: pd.DataFrame, directory: Path) -> list[Path]:
    """Actual vs projected lifetime net loss by vintage, and cumulative net loss by age."""
    plt = _pyplot()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    figure, axis = plt.subplots(figsize=(10, 4.5))
    labels = (errors["segment"].astype(str) + " " + errors["vintage"].astype(str)).tolist()
    x = np.arange(len(labels))
    original = errors["original_balance"].to_numpy(dtype=float)
    axis.bar(x - 0.2, 100 * errors["actual_net_loss"] / original, 0.4, label="actual")
    axis.bar(x + 0.2, 100 * errors["projected_net_loss"] / original, 0.4, label="projected")
    axis.set_xticks(x[:: max(1, len(x) // 24)])
    axis.set_xticklabels(labels[:: max(1, len(x) // 24)], rotation=60, fontsize=7)
    axis.set_ylabel("Lifetime net loss (% of original balance)")
    axis.set_title("Back-test: lifetime net loss by vintage, actual vs projected")
    axis.legend()
    axis.grid(alpha=0.3, axis="y")
    written.append(_save(figure, directory / "backtest_net_loss_by_vintage.png"))
    plt.close(figure)
    figure, axis = plt.subplots(figsize=(8, 4.5))
    keys = curves[["segment", "vintage"]].drop_duplicates().to_numpy().tolist()
    picked = keys[:: max(1, len(keys) // 6)]
    colours = plt.get_cmap("tab10")(np.linspace(0, 1, 10))
    for colour, (segment, vintage) in zip(colours, picked, strict=False):
        rows = curves[(curves["segment"] == segment) & (curves["vintage"] == vintage)]
        label = f"{segment} {vintage}"
        axis.plot(rows["age"], 100 * rows["actual_cum_net_loss"], color=colour, label=label)
        axis.plot(rows["age"], 100 * rows["projected_cum_net_loss"], color=colour, ls="--")
    axis.set_xlabel("Months on book")
    axis.set_ylabel("Cumulative net loss (% of original balance)")
    axis.set_title("Back-test: actual (solid) vs projected (dashed)")
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    written.append(_save(figure, directory / f"backtest_cum_net_loss{_safe('')}.png"))
    plt.close(figure)
    return written


__all__ = ["VINTAGE_MEASURES", "backtest_charts", "vintage_charts"]
