"""A replayed workload presented as a resource manager: the demo and test LRM.

Layer: adapter I/O (a JSON state file). It reads a YAML job list or a
Standard Workload Format trace and plays it against the nodes elastic
registers: jobs arrive at their submit offset, start first-come-first-served
on registered nodes of their VO with free cores, and end after their runtime,
all scaled by ``speedup``. Which VO's nodes a job may run on is the played LRM's own
routing (a real site's queues do it): a ``route`` callable the composition root gives, so
that this module, like every adapter, never decides a job's VO for elastic, and its
``snapshot()`` jobs carry ``vo=None`` like any adapter's. Its state lives in a small JSON
file beside the ledger so that separate cron passes see one continuous queue. It exists so
the embedded ``site.yaml`` runs with no root, no daemon and no cloud account.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from elastic.config import ReplayLrm, ReplayOptions, Site, VoConfig
from elastic.model import Job, LrmNode, QueueSnapshot, lrm_activity
from elastic.swf import read_swf
from lrm_adapters.base import LRMError, LRMParseError


@dataclass(frozen=True)
class ReplayJob:
    job: Job  # one instance (count 1); ``submit_time`` is an offset in seconds
    runtime_s: float
    vo: str | None = None  # whose nodes it runs on (``route``)


def _job_from_yaml(index: int, item: dict[str, Any]) -> list[ReplayJob]:
    count = int(item.get("count", 1))
    job = Job(
        id=str(item.get("id", index)),
        cores=int(item.get("cores", 1)),
        memory_mb=int(item.get("memory_mb", 0)),
        runnable=item.get("state", "pending") != "held",
        user=item.get("user"),
        group=item.get("group"),
        project=item.get("project"),
        queue=item.get("queue"),
        account=item.get("account"),
        submit_time=float(item.get("submit_s", 0)),
        reason="held" if item.get("state") == "held" else "",
    )
    runtime = float(item.get("runtime_s", 600))
    return [ReplayJob(job, runtime) for _ in range(count)]


def load_workload(path: Path) -> list[ReplayJob]:
    """YAML (``jobs:`` list) or SWF, by file suffix; raises LRMParseError."""
    try:
        if path.suffix in {".yaml", ".yml"}:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            items = data.get("jobs", []) if isinstance(data, dict) else None
            if not isinstance(items, list):
                raise LRMParseError(f"{path}: expected a mapping with a 'jobs' list")
            return [r for i, item in enumerate(items) for r in _job_from_yaml(i, dict(item))]
        return [ReplayJob(r.job, r.runtime_s) for r in read_swf(path)]
    except (OSError, yaml.YAMLError, ValueError, TypeError) as exc:
        raise LRMParseError(f"cannot read workload {path}: {exc}") from exc


class ReplayAdapter:
    """Plays a workload against registered nodes; implements LRMAdapter."""

    name = "replay"

    def __init__(
        self,
        workload: Path,
        state_file: Path,
        vos: Sequence[VoConfig],
        *,
        route: Callable[[Job], str | None],
        speedup: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.workload = workload
        self.state_file = state_file
        self.vos = {vo.name: vo for vo in vos}
        self.route = route
        self.speedup = speedup
        self.clock = clock
        self._jobs: list[ReplayJob] | None = None
        self._lock = threading.Lock()

    def _load_state(self) -> dict[str, Any]:
        if not self.state_file.exists():
            return {"started_at": self.clock(), "nodes": {}, "running": {}, "done": []}
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise LRMError(f"replay state {self.state_file} is unreadable: {exc}") from exc
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.state_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(state, indent=1), encoding="utf-8")
        scratch.replace(self.state_file)

    def _all_jobs(self) -> list[ReplayJob]:
        if self._jobs is None:
            loaded = load_workload(self.workload)
            self._jobs = [ReplayJob(r.job, r.runtime_s, self.route(r.job)) for r in loaded]
        return self._jobs

    def _advance(self, state: dict[str, Any], now: float) -> list[tuple[str, ReplayJob]]:
        """Finish due jobs, start waiting ones; returns the (key, job) still waiting."""
        elapsed = (now - state["started_at"]) * self.speedup
        running: dict[str, dict[str, Any]] = state["running"]
        for key in [k for k, r in running.items() if r["end"] <= elapsed]:
            state["done"].append(key)
            del running[key]
        done = set(state["done"])
        free = {name: self._free_cores(state, name) for name in state["nodes"]}
        waiting: list[tuple[str, ReplayJob]] = []
        for index, replay in enumerate(self._all_jobs()):
            key = f"{replay.job.id}.{index}"
            submitted = (replay.job.submit_time or 0.0) <= elapsed
            if key in done or key in running or not submitted:
                continue
            host = self._host_for(state, free, replay)
            if host is None:
                waiting.append((key, replay))
                continue
            free[host] -= replay.job.cores
            running[key] = {"node": host, "end": elapsed + replay.runtime_s}
        return waiting

    def _free_cores(self, state: dict[str, Any], name: str) -> int:
        used = sum(self._cores_of(key) for key, r in state["running"].items() if r["node"] == name)
        return int(state["nodes"][name]["cores"]) - used

    def _cores_of(self, key: str) -> int:
        return self._all_jobs()[int(key.rsplit(".", 1)[1])].job.cores

    def _host_for(
        self, state: dict[str, Any], free: dict[str, int], replay: ReplayJob
    ) -> str | None:
        job = replay.job
        if not job.runnable:
            return None
        # local workers first, as a site tells its LRM (register_node's ``cloud``)
        nodes = sorted(state["nodes"].items(), key=lambda item: bool(item[1].get("cloud")))
        for name, node in nodes:
            if node["vo"] == replay.vo and not node["draining"] and free[name] >= job.cores:
                return str(name)
        return None

    def snapshot(self) -> QueueSnapshot:
        with self._lock:
            state = self._load_state()
            waiting = self._advance(state, self.clock())
            self._save_state(state)
        jobs = tuple(replay.job for _, replay in waiting)
        nodes = tuple(self._lrm_node(state, name) for name in state["nodes"])
        return QueueSnapshot(jobs=jobs, nodes=nodes)

    def _lrm_node(self, state: dict[str, Any], name: str) -> LrmNode:
        node = state["nodes"][name]
        running = sum(1 for r in state["running"].values() if r["node"] == name)
        lrm_state = lrm_activity(bool(node["draining"]), running > 0)
        return LrmNode(name, lrm_state, node["cores"], node["memory_mb"], running, node["vo"])

    def _change(self, mutate: Callable[[dict[str, Any]], None]) -> None:
        with self._lock:
            state = self._load_state()
            mutate(state)
            self._save_state(state)

    def register_node(
        self, hostname: str, vo: str, *, cloud: bool = False, cores: int = 0, memory_mb: int = 0
    ) -> None:
        flavor = self.vos[vo].flavor

        def add(state: dict[str, Any]) -> None:
            state["nodes"].setdefault(
                hostname,
                {
                    "vo": vo,
                    "cores": cores or flavor.cores,
                    "memory_mb": memory_mb or flavor.memory_mb,
                    "draining": False,
                    "cloud": cloud,
                },
            )

        self._change(add)

    def drain_node(self, hostname: str, reason: str) -> None:
        def drain(state: dict[str, Any]) -> None:
            if hostname in state["nodes"]:
                state["nodes"][hostname]["draining"] = True

        self._change(drain)

    def remove_node(self, hostname: str) -> None:
        def remove(state: dict[str, Any]) -> None:
            if any(r["node"] == hostname for r in state["running"].values()):
                raise LRMError(f"refusing to remove {hostname}: jobs still run there")
            state["nodes"].pop(hostname, None)

        self._change(remove)


def from_site(site: Site, *, route: Callable[[Job], str | None]) -> ReplayAdapter:
    """The site's replay LRM; ``route`` says whose nodes a job runs on (the wiring gives
    the site's VO match rules)."""
    speedup = site.lrm_options(ReplayOptions).speedup  # a ConfigError unless kind is replay
    state_file = site.state_side_file(".replay.json")
    workload = site.resolve(cast(ReplayLrm, site.lrm).workload)
    return ReplayAdapter(workload, state_file, site.vos, route=route, speedup=speedup)
