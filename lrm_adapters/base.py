"""The contract every LRM adapter keeps, and the error it raises.

Layer: adapter boundary (imports elastic.model and elastic.config only).
An adapter *observes* a resource manager and registers, drains and removes
execution hosts in it. It never creates or destroys a VM: that is a provider's
job. The engine holds adapters only through this protocol.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol, runtime_checkable

from elastic.model import LrmNode, LrmNodeState, QueueSnapshot, lrm_activity


class LRMError(Exception):
    """The LRM could not be read or changed.

    Carries the command (argument list), its exit code and stderr so that the
    log line alone tells an admin what failed. ``exit_code`` is None for a
    timeout or a command that could not be started.
    """

    def __init__(
        self,
        message: str,
        command: Sequence[str] = (),
        exit_code: int | None = None,
        stderr: str = "",
    ) -> None:
        self.command = tuple(command)
        self.exit_code = exit_code
        self.stderr = stderr
        detail = message
        if self.command:
            detail += f" [command: {' '.join(self.command)}]"
        if exit_code is not None:
            detail += f" [exit {exit_code}]"
        if stderr.strip():
            detail += f" [stderr: {stderr.strip()[:500]}]"
        super().__init__(detail)


#: Host, node and VO names elastic passes to LRM commands: DNS-like, never shell syntax.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")


def checked_name(name: str) -> str:
    """``name`` if it is a plain host/VO name; LRMError before any command otherwise."""
    if not NAME.match(name):
        raise LRMError(f"refusing an invalid name {name!r}")
    return name


def merge_running(
    nodes: Iterable[LrmNode], running_per_host: Mapping[str, int]
) -> tuple[LrmNode, ...]:
    """Nodes with every sign of running work the LRM gives, a disagreement counting busy.

    The node listing (qhost, sinfo, pbsnodes) and the job listing (qstat, squeue)
    are separate commands: a host that the job listing shows running jobs on is
    busy, whatever the node listing says, and also when the node listing leaves
    it out altogether (a qhost that returned nothing once made such a node look
    absent, hence empty, and it was destroyed under its job).
    """
    merged: list[LrmNode] = []
    listed: set[str] = set()
    for node in nodes:
        listed.add(node.name)
        running = max(node.running_jobs, running_per_host.get(node.name, 0))
        if running and node.state in {LrmNodeState.IDLE, LrmNodeState.DRAINED}:
            node = replace(node, state=lrm_activity(node.state is LrmNodeState.DRAINED, True))
        merged.append(replace(node, running_jobs=running) if running != node.running_jobs else node)
    for host in sorted(set(running_per_host) - listed):
        if running_per_host[host] > 0:
            merged.append(LrmNode(host, LrmNodeState.BUSY, running_jobs=running_per_host[host]))
    return tuple(merged)


class LRMParseError(LRMError):
    """The LRM answered, but with output we cannot understand. Never act on it."""


@runtime_checkable
class PowersUp(Protocol):
    """An LRM that powers its own nodes up on request (Slurm power saving)."""

    def power_up(self, hostname: str) -> None:
        """Ask the LRM to power ``hostname`` up now; idempotent; raises LRMError."""
        ...


@runtime_checkable
class JoinsReservations(Protocol):
    """An LRM whose own reservations name their nodes, so elastic's workers booted for
    one must be put into it (Slurm with dynamic nodes) or other jobs could take them."""

    def add_to_reservation(self, reservation: str, hostnames: Sequence[str]) -> None:
        """Put ``hostnames`` into the LRM reservation ``reservation``, keeping the nodes
        it holds; idempotent; raises LRMError."""
        ...


@runtime_checkable
class LRMAdapter(Protocol):
    """Observe one resource manager; join and retire its execution hosts.

    Contract:
    - ``snapshot()`` returns one consistent view or raises ``LRMError``; it never
      returns a partial view silently. Jobs carry their raw attributes (user, group,
      project, account, queue, features) and ``vo=None``: the engine decides a job's VO,
      once (``elastic.vomatch``).
    - ``register_node``, ``drain_node`` and ``remove_node`` are idempotent: calling
      one twice, or on a node already in that state, is not an error.
    - ``drain_node`` guarantees no new job starts on the node; running jobs go on.
    - ``remove_node`` is only called on a drained node with no running jobs.
    - ``register_node(..., cloud=True)`` makes the node the LRM's last choice where the
      LRM can be told (Slurm weight, SGE queue sequence number, PBS Pro node priority):
      jobs then fill local workers first, and cloud workers fall idle, and are retired,
      first.
    - ``register_node(..., cores=, memory_mb=)`` is the worker's real size (its VM's, from
      the ledger's row: a cloud worker sized to its jobs is not the VO's flavor); 0 means
      the VO's flavor. An LRM told a node's size at registration (Slurm dynamic nodes,
      Torque's ``np``) gets it; one whose daemon reports it (HTCondor, OpenPBS) needs
      nothing. SGE's slots stay the queue's: not set per host yet.
    """

    name: str

    def snapshot(self) -> QueueSnapshot: ...

    def register_node(
        self, hostname: str, vo: str, *, cloud: bool = False, cores: int = 0, memory_mb: int = 0
    ) -> None: ...

    def drain_node(self, hostname: str, reason: str) -> None: ...

    def remove_node(self, hostname: str) -> None: ...
