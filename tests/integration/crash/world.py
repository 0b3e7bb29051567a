"""The world a crash test watches, and the passes it runs against it.

A *lane* is one site (its own site file, ledger, ``elastic:site`` tag and node names
``cr<lane>-crash-NNNNN``) on the shared real Son of Grid Engine and moto_server, so lanes
run side by side without seeing each other: each lane's jobs carry its own SGE project
(``crash<lane>``, the lane VO's only match) and may run only on its own hosts
(``-l h=cr<lane>-*``). Every pass is a real ``python -m elastic.cli run-once`` process.

Between passes ``Lane.sync`` plays what the VMs would do: a worker whose EC2 instance is
alive and whose host SGE knows starts its execd (``tests/integration/e2e/workers.py``: a
real sge_execd in its own network namespace, which really runs the jobs SGE sends it); a
worker whose instance is terminated loses its execd, and if SGE still ran a job there at
that moment, that job was lost under it, which is recorded as a violation.

Every finding is a line in ``Lane.violations``, prefixed with the case, so a test reports
all of them, not only the first.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml

from elastic.config import Policy
from elastic.crashpoints import ENV as CRASH_ENV
from elastic.ledger import Ledger
from lrm_adapters._command import CommandRunner
from lrm_adapters.sge import SgeAdapter
from tests.factories import make_site
from tests.integration.e2e import workers

REPO = Path(__file__).resolve().parents[3]
VO = "crash"
LANE_STRIDE = 15  # netns indices per lane; serials 1..14 have a name that resolves
FIRST_INDEX = 100  # e2e's workers use indices 1..6
GRACE_S = 2  # orphan_grace_s, when the site schema has it
IDLE_S = 0  # idle timeouts: a worker without a job or pending demand goes at once
BOOT_TIMEOUT_S = 120  # longer than any case: a node that needs it to go away is stuck
DEAD = {"terminated", "shutting-down"}
#: ledger states in which a node is registered with the LRM
REGISTERED_STATES = {"joining", "ready", "draining"}
HOSTS = Path("/etc/hosts")
_hosts_lock = threading.Lock()


def site_name(lane: int) -> str:
    return f"cr{lane}"


def node_name(lane: int, serial: int) -> str:
    return f"{site_name(lane)}-{VO}-{serial:05d}"


def netns_index(lane: int, serial: int) -> int:
    return FIRST_INDEX + LANE_STRIDE * lane + serial


def lane_names(lane: int) -> list[str]:
    return [node_name(lane, s) for s in range(1, LANE_STRIDE)]


def add_host_names(lanes: Iterable[int]) -> list[str]:
    """Each lane's possible worker names resolve (qconf -ah refuses names that do not)
    to the address its execd's namespace gets (workers.address)."""
    lines = {
        name: f"{workers.address(netns_index(lane, int(name[-5:])))[1]} {name}"
        for lane in lanes
        for name in lane_names(lane)
    }
    with _hosts_lock:
        text = HOSTS.read_text().splitlines()
        if set(lines.values()) <= set(text):
            return list(lines)
        kept = [line for line in text if _named(line) not in lines]
        write_hosts([*kept, *lines.values()])
    return list(lines)


def write_hosts(lines: list[str]) -> None:
    """Replace /etc/hosts in one step: a resolver (qconf, qmaster) reading it meanwhile
    must never see it truncated."""
    scratch = HOSTS.with_name(f".hosts.elastic-{os.getpid()}")
    scratch.write_text("\n".join(lines) + "\n")
    scratch.chmod(0o644)
    os.replace(scratch, HOSTS)


def _named(line: str) -> str | None:
    """The last name of an /etc/hosts line (None for comments and blank lines)."""
    words = line.split("#", 1)[0].split()
    return words[-1] if len(words) > 1 else None


QUEUE = "crash.q"


def ensure_sge(lanes: Iterable[int], env: dict[str, str], queue: str = QUEUE) -> None:
    """One SGE project per lane (a lane's VO matches only its own jobs), and a queue of
    the crash tests' own: all.q's load threshold holds every 4-slot job back while the
    lanes' passes keep this machine's two CPUs busy (np_load_avg plus the scheduler's
    job load adjustment), which would be the load test's artefact, not elastic's."""
    have = subprocess.run(["qconf", "-sprjl"], env=env, capture_output=True, text=True).stdout
    scratch = Path(tempfile.mkdtemp(prefix="elastic-crash-sge-"))
    for lane in lanes:
        name = f"{VO}{lane}"
        if name not in have.split():
            spec = scratch / name
            spec.write_text(f"name {name}\noticket 0\nfshare 0\nacl NONE\nxacl NONE\n")
            subprocess.run(["qconf", "-Aprj", str(spec)], env=env, capture_output=True, check=True)
    queues = subprocess.run(["qconf", "-sql"], env=env, capture_output=True, text=True).stdout
    if queue not in queues.split():
        template = subprocess.run(
            ["qconf", "-sq"], env=env, capture_output=True, text=True, check=True
        ).stdout
        values = {
            "qname": queue,
            "hostlist": "NONE",
            "load_thresholds": "NONE",
            "pe_list": "smp",
            "slots": "4",
        }
        lines = []
        for line in template.splitlines():
            key = line.split(None, 1)[0] if line.strip() else ""
            lines.append(f"{key} {values[key]}" if key in values else line)
        spec = scratch / "queue"
        spec.write_text("\n".join(lines) + "\n")
        subprocess.run(["qconf", "-Aq", str(spec)], env=env, capture_output=True, check=True)
    shutil.rmtree(scratch, ignore_errors=True)


@dataclass
class PassRun:
    crash: str | None
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def killed(self) -> bool:
        return self.returncode == -9

    @property
    def acted(self) -> bool:
        return "no actions:" not in self.stdout

    def tail(self, lines: int = 6) -> str:
        text = (self.stdout.strip() + "\n" + self.stderr.strip()).strip().splitlines()
        return " | ".join(text[-lines:])


@dataclass
class Lane:
    number: int
    root: Path
    endpoint: str
    sge_env: dict[str, str]
    case: str = ""
    site_file: Path = Path()
    ledger_path: Path = Path()
    execds: dict[str, int] = field(default_factory=dict)  # node name -> netns index
    jobs: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    #: what another user of the shared SGE did to this case (e.g. ``qdel -u '*'``)
    interference: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kills: int = 0
    passes: int = 0
    pass_seconds: float = 0.0
    launched: dict[str, set[str]] = field(default_factory=dict)  # node -> instance ids
    baseline: set[str] = field(default_factory=set)  # instance ids older than the case
    _ec2: Any = None
    _ledger: Ledger | None = None

    # ----- set-up -------------------------------------------------------------------
    @property
    def site(self) -> str:
        return site_name(self.number)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, **{k: v for k, v in self.sge_env.items() if k.startswith("SGE_")}}

    @property
    def ec2(self) -> Any:
        if self._ec2 is None:
            self._ec2 = boto3.client("ec2", region_name="us-east-1", endpoint_url=self.endpoint)
        return self._ec2

    def adapter(self) -> SgeAdapter:
        sge = {k: v for k, v in self.sge_env.items() if k.startswith("SGE_")}
        return SgeAdapter(CommandRunner(30, sge), make_site().vos, queue=QUEUE)

    def site_data(self) -> dict[str, Any]:
        policy: dict[str, Any] = {
            "boot_timeout_s": BOOT_TIMEOUT_S,
            "idle_timeout_cloud_s": IDLE_S,
            "idle_timeout_local_s": IDLE_S,
            "drain_timeout_s": 600,
        }
        if "orphan_grace_s" in Policy.model_fields:
            policy["orphan_grace_s"] = GRACE_S
        return {
            "site": {"name": self.site, "state": str(self.ledger_path)},
            "lrm": {
                "kind": "sge",
                "timeout_s": 30,
                "options": {
                    "sge_root": self.sge_env["SGE_ROOT"],
                    "sge_cell": self.sge_env["SGE_CELL"],
                    "queue": QUEUE,
                },
            },
            "vos": [
                {
                    "name": VO,
                    "match": {"project": [f"{VO}{self.number}"]},
                    "flavor": {"cores": 4, "memory_mb": 8000},
                    "image": {"ec2": "ami-1e749f67"},
                    "max_nodes": 6,
                    "cloud": {"allowed": True, "max_nodes": 6, "max_hourly_cost": 5.0},
                    "context": {"template": "sge", "vars": {"qmaster": self.sge_env["SGE_HOST"]}},
                }
            ],
            "ec2": {
                "endpoint_url": self.endpoint,
                "region": "us-east-1",
                "instance_types": {VO: ["c5.xlarge"]},
                "prices": {"c5.xlarge": 0.17},
                "max_instances": 6,
                "max_hourly_cost": 5.0,
            },
            "policy": policy,
        }

    def begin(self, case: str) -> None:
        """A clean lane: no execd, job, instance or SGE host left by an earlier case."""
        self.clear()
        self.case = case
        folder = self.root / case.replace(":", "_").replace("#", "-").replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        self.ledger_path = folder / "ledger.db"
        self._ledger = None
        self.site_file = folder / "site.yaml"
        self.site_file.write_text(yaml.safe_dump(self.site_data(), sort_keys=False))
        self.launched = {}
        self.baseline = {i["InstanceId"] for i in self.instances()}

    def clear(self) -> None:
        for name in list(self.execds):
            workers.stop_execd(self.execds.pop(name))
        if self.jobs:
            self.qdel(self.jobs)
        live = [i["InstanceId"] for i in self.instances() if i["State"]["Name"] not in DEAD]
        if live:
            self.ec2.terminate_instances(InstanceIds=live)
        adapter = self.adapter()
        for name in self.registered() | self.admin_hosts():
            adapter.remove_node(name)

    # ----- the LRM ------------------------------------------------------------------
    def sge(self, *argv: str, check: bool = True) -> str:
        done = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: {done.stderr.strip()}")
        return done.stdout

    def submit(self, count: int) -> list[str]:
        ids = []
        for _ in range(count):
            out = self.sge(
                "qsub",
                "-terse",
                "-b",
                "y",
                "-P",
                f"{VO}{self.number}",
                "-pe",
                "smp",
                "4",
                "-l",
                f"h={self.site}-{VO}-*",
                "-o",
                "/dev/null",
                "-e",
                "/dev/null",
                "-N",
                f"crash{self.number}",
                "/bin/sleep",
                "600",
            )
            ids.append(out.strip().split(".")[0])
        self.jobs += ids
        return ids

    def qdel(self, ids: list[str]) -> None:
        self.sge("qdel", "-f", *ids, check=False)
        self.jobs = [j for j in self.jobs if j not in ids]

    def job_hosts(self) -> dict[str, str | None]:
        """This lane's jobs SGE knows: job id -> the host it runs on (None: pending)."""
        root = ET.fromstring(self.sge("qstat", "-u", "*", "-xml"))
        found: dict[str, str | None] = {}
        for job in root.iter("job_list"):
            number = job.findtext("JB_job_number") or ""
            if number not in self.jobs:
                continue
            queue = job.findtext("queue_name") or ""
            running = job.get("state") == "running" and "@" in queue
            found[number] = queue.split("@", 1)[1] if running else None
        vanished = [j for j in self.jobs if j not in found]
        if vanished:  # elastic never deletes a job; a VM it kills leaves the job listed
            self.interference.append(f"job(s) {vanished} deleted by someone else")
            self.jobs = [j for j in self.jobs if j in found]
        return found

    def registered(self) -> set[str]:
        return {n for n in self.sge("qconf", "-sel").split() if n.startswith(self.site + "-")}

    def admin_hosts(self) -> set[str]:
        return {n for n in self.sge("qconf", "-sh").split() if n.startswith(self.site + "-")}

    def hosts_up(self) -> set[str]:
        up = set()
        for line in self.sge("qhost").splitlines():
            words = line.split()
            if len(words) > 6 and words[0].startswith(self.site + "-") and words[6] != "-":
                up.add(words[0])
        return up

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return True
            time.sleep(0.5)
        self.violate(f"timed out after {timeout:g} s waiting for {what}")
        return False

    # ----- EC2 ----------------------------------------------------------------------
    def instances(self) -> list[dict[str, Any]]:
        pages = self.ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "tag:elastic:site", "Values": [self.site]}]
        )
        return [i for page in pages for r in page["Reservations"] for i in r["Instances"]]

    @staticmethod
    def node_of(instance: dict[str, Any]) -> str:
        tags = {t["Key"]: t["Value"] for t in instance.get("Tags", [])}
        return tags.get("elastic:node", "")

    def live_vms(self) -> dict[str, list[str]]:
        """Node name -> its instances that are not terminated (this case's only)."""
        live: dict[str, list[str]] = {}
        for instance in self.instances():
            if instance["InstanceId"] in self.baseline:
                continue
            self.launched.setdefault(self.node_of(instance), set()).add(instance["InstanceId"])
            if instance["State"]["Name"] not in DEAD:
                live.setdefault(self.node_of(instance), []).append(instance["InstanceId"])
        return live

    def check_duplicates(self) -> None:
        """No node ever has two instances, at any moment of the case."""
        self.live_vms()
        for node, ids in self.launched.items():
            if len(ids) > 1:
                self.violate(f"duplicate VM: node {node} has instances {sorted(ids)}")
                self.launched[node] = {min(ids)}  # report each duplicate once

    # ----- what the VMs do ----------------------------------------------------------
    def sync(self) -> bool:
        """Start the execd of each live, registered worker; stop those of gone VMs."""
        live = self.live_vms()
        changed = False
        gone = [n for n in self.execds if n not in live]
        if gone:
            hosts = self.job_hosts()
            for name in gone:
                lost = sorted(j for j, h in hosts.items() if h == name)
                if lost:
                    self.violate(f"job(s) {lost} ran on {name} when its VM was terminated")
                workers.stop_execd(self.execds.pop(name))
                changed = True
        start = sorted(set(live) & self.registered() - set(self.execds))
        if start:
            with ThreadPoolExecutor(max_workers=len(start)) as pool:
                list(pool.map(self._start_execd, start))
            self.wait(lambda: set(start) <= self.hosts_up(), 30, f"execds of {start} to report")
            changed = True
        return changed

    def _start_execd(self, name: str) -> None:
        serial = int(name[-5:])
        if serial >= LANE_STRIDE:
            self.violate(f"{name}: serial beyond the {LANE_STRIDE - 1} names a lane resolves")
            return
        index = netns_index(self.number, serial)
        workers.stop_execd(index)  # whatever an interrupted run left
        workers.start_execd(name, index, self.sge_env["SGE_HOST"], self.sge_env)
        self.execds[name] = index

    # ----- passes -------------------------------------------------------------------
    def keep_names(self) -> None:
        """Another test rewriting /etc/hosts (e2e's make_resolvable) may drop our lines."""
        have = {_named(line) for line in HOSTS.read_text().splitlines()}
        if not set(lane_names(self.number)) <= have:
            self.interference.append("/etc/hosts lost this lane's worker names")
            add_host_names([self.number])

    def run_pass(self, crash: str | None = None) -> PassRun:
        self.keep_names()
        env = self.env
        env.pop(CRASH_ENV, None)
        if crash:
            env[CRASH_ENV] = crash
        argv = [sys.executable, "-m", "elastic.cli", "--config", str(self.site_file), "run-once"]
        started = time.monotonic()
        done = subprocess.run(
            argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=180, check=False
        )
        run = PassRun(crash, done.returncode, done.stdout, done.stderr, time.monotonic() - started)
        self.passes += 1
        self.pass_seconds += run.seconds
        self.kills += run.killed
        return run

    def crash_pass(self, point: str) -> PassRun:
        """A pass killed at ``point``; a violation if it never got there."""
        run = self.run_pass(point)
        if not run.killed:
            self.violate(
                f"crash point {point} not reached: the pass exited {run.returncode} ({run.tail(3)})"
            )
        self.sync()  # the world goes on: a VM the pass terminated takes its execd along
        self.check_duplicates()
        return run

    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger.open(self.ledger_path)
        return self._ledger

    def fingerprint(self) -> tuple[Any, ...]:
        """What an action changes: intents, VMs, SGE hosts (the ledger's own corrections,
        such as joining -> ready, are not actions)."""
        self.ledger()  # the schema, before the first pass
        with closing(sqlite3.connect(self.ledger_path)) as db:
            intents = db.execute("SELECT count(*), count(closed_at) FROM intents").fetchone()
        live = tuple(sorted((k, tuple(v)) for k, v in self.live_vms().items()))
        return tuple(intents), live, tuple(sorted(self.registered() | self.admin_hosts()))

    def waiting_for_grace(self) -> bool:
        """Something a grace period or timeout may still be holding: a node not ready, a
        VM without a live ledger row, or a ready worker with no job and no demand."""
        nodes = {n.id: str(n.state) for n in self.ledger().nodes()}
        hosts = self.job_hosts()
        idle = not any(h is None for h in hosts.values()) and any(
            s == "ready" and n not in hosts.values() for n, s in nodes.items()
        )
        unknown = set(self.live_vms()) - set(nodes)
        return idle or bool(unknown) or any(s != "ready" for s in nodes.values())

    def settle(self, label: str, max_passes: int = 8, *, after_crash: bool = False) -> None:
        """Passes without ELASTIC_CRASH_AT until one is quiet: it plans no action, opens or
        closes no intent, changes no VM and no SGE host, and the VMs' execds are as the
        pass found them. A quiet pass that leaves a node not ready, or a VM without a
        ledger row, is given the grace periods (slept through) and another pass."""
        crashed_intents = {i.id for i in self.ledger().open_intents()} if after_crash else set()
        graces = 0
        last: PassRun | None = None
        for number in range(1, max_passes + 1):
            before = self.fingerprint()
            last = self.run_pass()
            if last.killed:
                self.violate(f"{label}: a pass without {CRASH_ENV} died by SIGKILL")
            changed = self.sync()
            self.check_duplicates()
            if number == 1 and after_crash:
                self.check_resumed(crashed_intents)
            quiet = last.returncode == 0 and not last.acted and not changed
            if quiet and before == self.fingerprint():
                if self.waiting_for_grace() and graces < 2:
                    graces += 1
                    # the clock past orphan_grace_s and the idle timeouts
                    time.sleep(max(GRACE_S, IDLE_S) + 0.5)
                    continue
                return
        assert last is not None
        self.violate(
            f"{label}: not quiet after {max_passes} passes; last exited "
            f"{last.returncode}: {last.tail(4)}"
        )

    def check_resumed(self, crashed_intents: set[int]) -> None:
        """What the first pass after a kill must have done: close the killed pass's
        intents, and carry on at once with boots whose VM exists."""
        ledger = self.ledger()
        still = [i for i in ledger.open_intents() if i.id in crashed_intents]
        for intent in still:
            self.violate(
                f"intent {intent.id} ({intent.kind} {intent.node_id}, opened by the killed "
                "pass) still open after a recovery pass"
            )
        live = self.live_vms()
        for node in ledger.nodes():
            if str(node.state) in {"requested", "booting"} and node.id in live:
                self.violate(
                    f"boot of {node.id} not continued at once: still {node.state} after a "
                    f"recovery pass, with VM {live[node.id]} ({node.reason})"
                )

    # ----- the invariants once quiet -------------------------------------------------
    def check_quiet(self, want: int, keep: dict[str, str] | None = None) -> None:
        """``want`` workers alive (ready, registered, with their VM); ledger = EC2 = SGE;
        no open intent; each job of ``keep`` still running on its host."""
        ledger = self.ledger()
        nodes = {n.id: n for n in ledger.nodes()}
        live = self.live_vms()
        hosts = self.job_hosts()
        for intent in ledger.open_intents():
            self.violate(f"open intent {intent.id}: {intent.kind} {intent.node_id}")
        if len(live) != want:
            self.violate(f"{len(live)} live VM(s) {sorted(live)}, wanted {want}")
        if set(live) != set(nodes):
            states = {k: str(v.state) for k, v in nodes.items()}
            self.violate(f"ledger {states} != EC2 {sorted(live)}")
        registered = {k for k, v in nodes.items() if str(v.state) in REGISTERED_STATES}
        sel, sh = self.registered(), self.admin_hosts()
        if sel != registered:
            self.violate(f"qconf -sel {sorted(sel)} != ledger's registered {sorted(registered)}")
        if sh != sel:
            self.violate(f"qconf -sh {sorted(sh)} != qconf -sel {sorted(sel)}")
        running = {h for h in hosts.values() if h}
        for node in nodes.values():
            state = str(node.state)
            busy_drain = state == "draining" and node.id in running
            if state != "ready" and not busy_drain:
                self.violate(
                    f"node {node.id} stuck {state} for {time.time() - node.state_since:.0f} s "
                    f"once quiet ({node.reason})"
                )
        for job, host in (keep or {}).items():
            if hosts.get(job) != host:
                self.violate(f"job {job} ran on {host}; now: {hosts.get(job, 'gone')}")

    def violate(self, text: str) -> None:
        self.violations.append(f"[lane {self.number}] {self.case}: {text}")


def run_cases(lanes: list[Lane], cases: list[Any], body: Callable[[Lane, Any], None]) -> None:
    """Each lane takes the next case until none is left (lanes run side by side)."""
    queue = [(case, 0) for case in cases]
    lock = threading.Lock()

    def work(lane: Lane) -> None:
        while True:
            with lock:
                if not queue:
                    return
                case, tries = queue.pop(0)
            first = len(lane.violations)
            lane.interference = []
            try:
                body(lane, case)
            except Exception as exc:  # one broken case must not hide the others' findings
                lane.violate(f"harness error: {type(exc).__name__}: {exc}")
            finally:
                lane.clear()
            if lane.interference:
                noted = f"[lane {lane.number}] {lane.case}: " + "; ".join(lane.interference)
                lane.notes.append(noted + (", run again" if tries == 0 else ", inconclusive"))
                if tries == 0:  # its findings are not elastic's: the case runs again
                    del lane.violations[first:]
                    with lock:
                        queue.append((case, 1))

    with ThreadPoolExecutor(max_workers=len(lanes)) as pool:
        list(pool.map(work, lanes))
