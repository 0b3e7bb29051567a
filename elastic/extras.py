"""The optional extras of a slim install, and the one line that names a missing one.

Layer: support (standard library only). A production install takes only what its site
uses (``pip install 'elastic[ec2]'``): the core reads site files, renders cloud-init and
runs the pass; each extra below brings the library one kind of LRM or provider needs.
``require`` is asked where a site's choice first needs an extra (wiring, before anything
is built), so a missing one is one clear line and exit 2 before any pass starts, never a
traceback in the middle of one, nor a "degraded" pass that hides a missing library;
``missing_extra`` turns any other import of one (a command's own) into the same line.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.util import find_spec


@dataclass(frozen=True)
class Extra:
    """An optional dependency group of the ``elastic`` distribution (pyproject.toml)."""

    name: str
    modules: tuple[str, ...]  # top-level modules it provides
    needed_by: str  # what needs it, as the message says it


EXTRAS: dict[str, Extra] = {
    e.name: e
    for e in (
        Extra("ec2", ("boto3", "botocore"), "EC2"),
        Extra("libvirt", ("libvirt", "pycdlib"), "libvirt (local.hosts)"),
        Extra("htcondor", ("htcondor2", "classad2"), "HTCondor"),
        Extra("drmaa", ("drmaa",), "the DRMAA probe (vos[].probe)"),
        Extra("sim", ("matplotlib",), "the simulator's plot"),
        Extra("demo", ("moto",), "the embedded EC2 (ec2.endpoint_url: embedded)"),
        Extra("postgresql", ("psycopg",), "a PostgreSQL ledger"),
    )
}


class MissingExtra(Exception):
    """A site or command needs an extra that is not installed; ``str`` is the line."""

    def __init__(self, extra: Extra) -> None:
        self.extra = extra
        super().__init__(
            f"elastic: {extra.needed_by} needs the {extra.name} extra: "
            f"pip install 'elastic[{extra.name}]'"
        )


def require(name: str) -> None:
    """Raise MissingExtra unless every module of the extra ``name`` can be imported."""
    extra = EXTRAS[name]
    for module in extra.modules:
        if find_spec(module) is None:
            raise MissingExtra(extra)


def missing_extra(exc: ModuleNotFoundError) -> MissingExtra | None:
    """The extra whose module ``exc`` failed to import, if it is one of ours."""
    top = (exc.name or "").split(".", 1)[0]
    for extra in EXTRAS.values():
        if top in extra.modules:
            return MissingExtra(extra)
    return None
