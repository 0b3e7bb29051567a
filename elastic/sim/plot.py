"""A PNG of a comparison: queue length and local/cloud nodes over time, per policy.

Layer: presentation (matplotlib, Agg backend, no display needed).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from elastic.sim.engine import SimResult


def plot(results: dict[str, SimResult], path: Path, title: str) -> None:
    figure, axes = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    for name, result in results.items():
        if not result.timeline:
            continue
        hours = [t / 3600 for t, *_ in result.timeline]
        axes[0].plot(hours, [p for _, p, _, _ in result.timeline], label=name, linewidth=1)
        axes[1].plot(hours, [n for _, _, n, _ in result.timeline], label=name, linewidth=1)
        axes[2].plot(hours, [c for _, _, _, c in result.timeline], label=name, linewidth=1)
    for axis, label in zip(axes, ["pending jobs", "local nodes", "cloud nodes"], strict=True):
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    axes[2].set_xlabel("hours")
    axes[0].legend(fontsize=7, ncol=4)
    figure.suptitle(title)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)
