"""PNGs of simulations: one comparison over time, and a sweep's cost against p95 wait.

Layer: presentation (matplotlib, Agg backend, no display needed).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
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


Point = tuple[float, float]  # (p95 wait s, cloud cost $) of one policy in one cell


def plot_tradeoff(
    panels: Mapping[str, Mapping[str, Sequence[Point]]], path: Path, title: str
) -> None:
    """One panel per workload: every cell of the sweep as a dot per policy, its median
    as a large marker; lower left is better on both. Runs that left jobs unfinished
    (infinite p95) are drawn at the right edge."""
    count = len(panels)
    cols = min(4, count)
    rows = -(-count // cols)
    figure, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    names = sorted({p for policies in panels.values() for p in policies}, key=_order)
    colors = {name: plt.get_cmap("tab10")(i % 10) for i, name in enumerate(names)}
    for axis, (workload, policies) in zip(axes.flat, panels.items(), strict=False):
        finite = [w for pts in policies.values() for w, _ in pts if not math.isinf(w)]
        edge = max(finite, default=1.0) * 1.5 + 1
        for name, points in policies.items():
            xs = [edge if math.isinf(w) else w + 1 for w, _ in points]
            ys = [c + 0.01 for _, c in points]
            axis.scatter(xs, ys, s=8, alpha=0.35, color=colors[name])
            mid = sorted(xs)[len(xs) // 2], sorted(ys)[len(ys) // 2]
            big = 90 if name == "elastic" else 40
            marker = "*" if name == "elastic" else "o"
            axis.scatter(
                *mid,
                s=big,
                marker=marker,
                color=colors[name],
                edgecolor="black",
                label=name,
                zorder=3,
            )
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(workload, fontsize=9)
        axis.set_xlabel("p95 wait s (+1)", fontsize=8)
        axis.set_ylabel("cloud $ (+0.01)", fontsize=8)
        axis.grid(alpha=0.3, which="both")
    for axis in list(axes.flat)[count:]:
        axis.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower center", ncol=min(7, len(labels)), fontsize=8)
    figure.suptitle(title)
    figure.tight_layout(rect=(0, 0.06, 1, 0.97))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def _order(name: str) -> tuple[bool, str]:
    return name != "elastic", name
