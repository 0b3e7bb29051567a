"""What a worker VM's cloud-init does for SGE, played on this machine: an sge_execd under
the worker's host name, in its own network and UTS namespace (iproute2, util-linux).

The VMs themselves are libvirt test-driver domains and moto instances, which run nothing;
these execds stand in for the execd each VM would start, so the real qmaster sees real
execution hosts join, run jobs, go idle and be drained.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HOSTS = Path("/etc/hosts")


def _run(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def address(index: int) -> tuple[str, str]:
    return f"10.203.{index}.1", f"10.203.{index}.2"


def make_resolvable(names: list[str], first: int = 1) -> None:
    """Each worker name resolves (for qmaster) to its namespace's address; the n-th name
    gets index ``first + n`` (start_execd's ``index``)."""
    text = HOSTS.read_text()
    lines = [line for line in text.splitlines() if not any(line.endswith(f" {n}") for n in names)]
    lines += [f"{address(i)[1]} {name}" for i, name in enumerate(names, first)]
    HOSTS.write_text("\n".join(lines) + "\n")


def start_execd(name: str, index: int, qmaster: str, sge_env: dict[str, str]) -> None:
    ns = f"elastic-w{index}"
    outside, inside = address(index)
    _run("ip", "netns", "add", ns)
    _run("ip", "link", "add", f"vw{index}", "type", "veth", "peer", "name", f"vw{index}i")
    _run("ip", "link", "set", f"vw{index}i", "netns", ns)
    _run("ip", "addr", "add", f"{outside}/24", "dev", f"vw{index}")
    _run("ip", "link", "set", f"vw{index}", "up")
    _run("ip", "netns", "exec", ns, "ip", "addr", "add", f"{inside}/24", "dev", f"vw{index}i")
    _run("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
    _run("ip", "netns", "exec", ns, "ip", "link", "set", f"vw{index}i", "up")
    etc = Path("/etc/netns") / ns  # ip netns exec bind-mounts these over /etc
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "hosts").write_text(f"127.0.0.1 localhost\n{outside} {qmaster}\n{inside} {name}\n")
    env = {**os.environ, **{k: v for k, v in sge_env.items() if k.startswith("SGE_")}}
    subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            ns,
            "unshare",
            "--uts",
            "sh",
            "-c",
            f"hostname {name} && exec /usr/sbin/sge_execd",
        ],
        env=env,
        check=True,
        capture_output=True,
    )


def stop_execd(index: int) -> None:
    """The VM is gone: its execd dies with it."""
    ns = f"elastic-w{index}"
    pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout
    for pid in pids.split():
        subprocess.run(["kill", "-9", pid], capture_output=True)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["ip", "link", "del", f"vw{index}"], capture_output=True)
    subprocess.run(["rm", "-rf", f"/etc/netns/{ns}"], capture_output=True)
