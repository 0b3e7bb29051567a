"""The text a comparison prints: its table (100 columns at most), legend and targets.

Layer: presentation of pure results (strings only).
"""

from __future__ import annotations

import textwrap

from elastic.sim.compare import Comparison

HEADERS = (
    "policy",
    "mean w",
    "p95 w",
    "AWRT",
    "bsld",
    "cost $",
    "idle h",
    "boot h",
    "boots",
    "<10min",
    "unfin",
)
LEGEND = (
    "mean w / p95 w: mean and 95th percentile of the wait (start - submit, s) of finished "
    "jobs; AWRT: average weighted response time (s), the mean of end - submit weighted by "
    "runtime x cores; bsld: mean bounded slowdown, max(1, response / max(runtime, 10 s)); "
    "cost $: billed cloud cost; idle h / boot h: billed cloud hours ready with no job / "
    "booting; <10min: VMs that lived under 10 minutes; unfin: jobs not finished when the "
    "run ended."
)
WIDTH = 100


def table(comparison: Comparison) -> str:
    rows = [list(HEADERS)]
    for name, m in comparison.metrics.items():
        rows.append(
            [
                name,
                f"{m.mean_wait_s:.0f}",
                f"{m.p95_wait_s:.0f}",
                f"{m.awrt_s:.0f}",
                f"{m.bounded_slowdown:.2f}",
                f"{m.cloud_cost:.2f}",
                f"{m.idle_billed_cloud_h:.1f}",
                f"{m.boot_billed_cloud_h:.1f}",
                str(m.boots),
                str(m.short_lived_vms),
                str(m.unfinished),
            ]
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADERS))]
    lines = [
        "| "
        + " | ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )
        + " |"
        for r in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.append("")
    lines += textwrap.wrap(LEGEND, WIDTH)
    lines.append("")
    out = [
        f"jobs left out (no worker count of their VO holds them): {comparison.left_out}"
        + ("; every target of this workload is MISSED" if comparison.left_out else ""),
        f"offline lower bound on cloud cost: {comparison.lower_bound:.2f} (jobs that cannot "
        f"start locally within cloud_burst_after_s, at their cheapest cloud time; it assumes a "
        f"p95 wait of at most {comparison.wait_limit_s:.0f} s); zero-wait fluid bound: "
        f"{comparison.fluid_bound:.2f}",
    ]
    spot = [m for m in comparison.metrics.values() if m.interrupted_vms]
    if spot:
        out.append(
            "spot interruptions: "
            + "; ".join(
                f"{m.policy} {m.interrupted_vms} VMs, {m.requeued_jobs} job starts lost"
                for m in spot
            )
        )
    elastic = comparison.metrics.get("elastic")
    if elastic is not None and elastic.local_share:
        shares = ", ".join(
            f"{vo} {share:.0%} ({elastic.configured_share.get(vo, 0.0):.0%})"
            for vo, share in elastic.local_share.items()
        )
        out.append(f"elastic's busy local core-time by VO (configured share among them): {shares}")
    for label, ok, detail in comparison.targets:
        out.append(f"- target {'MET' if ok else 'MISSED'}: {label} ({detail})")
    for line in out:
        lines += textwrap.wrap(line, WIDTH, subsequent_indent="  ")
    return "\n".join(lines)
