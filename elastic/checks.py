"""What ``elastic validate`` finds in a site file the schema accepts but that cannot work.

Layer: pure rules over a valid ``Site`` (imports config, the planner's ``node_id`` and
jinja2's parser; no I/O). The few facts on disk a rule needs — each secret file's mode,
each template's source — are read by the caller into ``FileFacts``, so every rule is a
function of its arguments and is tested by building the situation. A finding points at
the line of the key to change (``Positions``), as the schema errors do. Most are
warnings (a site may mean it: a cloud-less VO today), exit 0 unless ``--strict``; what
is sure to break a boot (a host name over 63 characters, a template variable missing,
a template that does not exist) is an error.
"""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from jinja2 import Environment, TemplateSyntaxError, meta, nodes

from elastic.config import Positions, Site, VoConfig
from elastic.planning.scale_up import node_id

#: a DNS label (RFC 1035), and the ledger's node id column is 64
HOSTNAME_MAX = 63
#: EC2's ClientToken is at most 64 characters; ec2.py sends ``elastic-<node id>``, cut
#: to 64, so two longer node ids that differ only in their serial share one token
CLIENT_TOKEN_MAX, CLIENT_TOKEN_PREFIX = 64, "elastic-"
#: the longest serial a node id carries until a VO has booted 100 000 nodes
LONGEST_SERIAL = 99999
#: what a template calls on ``vars`` without needing a key
_DICT_METHODS = frozenset({"get", "items", "keys", "values"})


@dataclass(frozen=True)
class Finding:
    """One problem: ``where`` is ``file:line: key.path``."""

    where: str
    message: str
    error: bool = False
    # the VO whose user-data cannot render for this reason (its Jinja error would repeat it)
    context_of: str | None = None

    def __str__(self) -> str:
        return f"{self.where}: {'' if self.error else 'warning: '}{self.message}"


@dataclass(frozen=True)
class FileFacts:
    """What the rules need from the disk, read by the caller."""

    # each secret's resolved path -> its st_mode, None when it does not exist
    secret_modes: Mapping[str, int | None]
    # template name as the loader knows it ("cloud-init/sge.yaml.j2") -> its source
    templates: Mapping[str, str]


def template_name(vo: VoConfig) -> str:
    return f"cloud-init/{vo.context.template}.yaml.j2"


def check_site(site: Site, positions: Positions, facts: FileFacts) -> list[Finding]:
    """Every finding of every rule, in file order of the rules below."""
    rules: tuple[Callable[[Site, Positions, FileFacts], Iterator[Finding]], ...] = (
        check_host_names,
        check_cloud_reachable,
        check_flavors_fit,
        check_secrets,
        check_template_vars,
    )
    return [finding for rule in rules for finding in rule(site, positions, facts)]


def check_host_names(site: Site, at: Positions, _: FileFacts) -> Iterator[Finding]:
    """Node ids are host names, ledger keys and (prefixed) EC2 ClientTokens."""
    for i, vo in enumerate(site.vos):
        longest = node_id(site, vo.name, LONGEST_SERIAL)
        if len(longest) > HOSTNAME_MAX:
            yield Finding(
                at.at("vos", i, "name"),
                f"host names of VO {vo.name} ({longest}) are {len(longest)} characters, over "
                f"a DNS label's {HOSTNAME_MAX}: shorten site.name or the VO name",
                error=True,
            )
        elif vo.cloud.allowed and len(CLIENT_TOKEN_PREFIX + longest) > CLIENT_TOKEN_MAX:
            yield Finding(
                at.at("vos", i, "name"),
                f"host names of VO {vo.name} ({longest}) are {len(longest)} characters: EC2 "
                f"client tokens (at most {CLIENT_TOKEN_MAX - len(CLIENT_TOKEN_PREFIX)} of "
                "them) would be the same for nodes that differ in the serial only; shorten "
                "site.name or the VO name",
                error=True,
            )


def check_cloud_reachable(site: Site, at: Positions, _: FileFacts) -> Iterator[Finding]:
    """A VO allowed to burst that no limit or budget lets burst: it never will, silently."""
    for i, vo in enumerate(site.vos):
        if vo.cloud.allowed:
            yield from _cloud_blocks(site, at, i, vo)


def _cloud_blocks(site: Site, at: Positions, i: int, vo: VoConfig) -> Iterator[Finding]:
    never = f"VO {vo.name} may burst (cloud.allowed) but never will"
    ec2 = site.ec2
    if ec2 is None:
        yield Finding(at.at("vos", i, "cloud", "allowed"), f"{never}: the site has no ec2 section")
        return
    if vo.cloud.max_nodes == 0:
        yield Finding(at.at("vos", i, "cloud", "max_nodes"), f"{never}: cloud.max_nodes is 0")
    if vo.cloud.max_hourly_cost == 0:
        yield Finding(
            at.at("vos", i, "cloud", "max_hourly_cost"), f"{never}: cloud.max_hourly_cost is 0"
        )
    if ec2.max_instances == 0:
        yield Finding(at.at("ec2", "max_instances"), f"{never}: ec2.max_instances is 0")
    if ec2.max_hourly_cost == 0:
        yield Finding(at.at("ec2", "max_hourly_cost"), f"{never}: ec2.max_hourly_cost is 0")
    types = ec2.instance_types.get(vo.name, [])
    if not types:
        yield Finding(at.at("ec2", "instance_types"), f"{never}: no instance type for it")
        return
    priced = [ec2.prices[t] for t in types if t in ec2.prices]  # the schema wants them all
    budgets = [b for b in (vo.cloud.max_hourly_cost, ec2.max_hourly_cost) if b > 0]
    if priced and budgets and min(priced) > min(budgets):
        yield Finding(
            at.at("ec2", "instance_types", vo.name),
            f"{never}: its cheapest instance type costs {min(priced):g}/h, over its "
            f"hourly budget of {min(budgets):g}",
        )
    if vo.image.ec2 is None:
        yield Finding(at.at("vos", i, "image"), f"VO {vo.name} may burst but has no image.ec2")


def check_flavors_fit(site: Site, at: Positions, _: FileFacts) -> Iterator[Finding]:
    """A worker larger than every local host's room is never booted locally."""
    hosts = site.local.hosts
    if not hosts:
        return  # a cloud-only site
    for i, vo in enumerate(site.vos):
        flavor = vo.flavor
        fits = [
            h.name
            for h in hosts
            if h.cores - h.reserved_cores >= flavor.cores
            and h.memory_mb - h.reserved_memory_mb >= flavor.memory_mb
        ]
        if not fits:
            largest = max(hosts, key=lambda h: (h.cores - h.reserved_cores, h.memory_mb))
            yield Finding(
                at.at("vos", i, "flavor"),
                f"VO {vo.name}'s worker ({flavor.cores} cores, {flavor.memory_mb} MB) fits no "
                f"local host (the largest, {largest.name}, has "
                f"{largest.cores - largest.reserved_cores} cores and "
                f"{largest.memory_mb - largest.reserved_memory_mb} MB for workers)"
                + ("" if vo.cloud.allowed else "; and it may not burst: its jobs never run"),
            )


def check_secrets(site: Site, at: Positions, facts: FileFacts) -> Iterator[Finding]:
    """A secret that is not there fails every boot; one others can read is no secret."""
    for i, vo in enumerate(site.vos):
        for name, path in vo.context.secrets.items():
            where = at.at("vos", i, "context", "secrets", name)
            mode = facts.secret_modes.get(str(site.resolve(path)))
            if mode is None:
                yield Finding(where, f"secret file {path} does not exist")
            elif mode & (stat.S_IRGRP | stat.S_IROTH):
                yield Finding(
                    where,
                    f"secret file {path} is readable by group or others "
                    f"(mode {stat.S_IMODE(mode):04o}); chmod 600 it",
                )


def check_template_vars(site: Site, at: Positions, facts: FileFacts) -> Iterator[Finding]:
    """The variables a VO's template reads from ``vars`` without a default, that the
    VO's ``context.vars`` lacks: found here, at the VO's line, not by a Jinja error."""
    for i, vo in enumerate(site.vos):
        name = template_name(vo)
        if name not in facts.templates:
            known = sorted(
                t.removeprefix("cloud-init/").removesuffix(".yaml.j2")
                for t in facts.templates
                if t.startswith("cloud-init/") and not t.startswith("cloud-init/_")
            )
            yield Finding(
                at.at("vos", i, "context", "template"),
                f"no template {name} (known: {', '.join(known)})",
                error=True,
                context_of=vo.name,
            )
            continue
        try:
            needed = template_needs(facts.templates, name)
        except TemplateSyntaxError as exc:
            where = at.at("vos", i, "context", "template")
            yield Finding(where, f"{name}: {exc}", error=True, context_of=vo.name)
            continue
        missing = sorted(needed - set(vo.context.vars))
        if missing:
            yield Finding(
                at.at("vos", i, "context", "vars"),  # or the nearest key the file has
                f"template {vo.context.template} needs {', '.join(missing)} in "
                f"context.vars of VO {vo.name}",
                error=True,
                context_of=vo.name,
            )


def template_needs(templates: Mapping[str, str], name: str) -> set[str]:
    """Keys of ``vars`` that ``name`` and the templates it includes read without a
    default (``vars.get(k, d)``, ``vars.k | default(d)``, ``vars.k is defined`` and
    ``"k" in vars`` are optional reads)."""
    seen: set[str] = set()
    needed: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current in seen or current not in templates:
            continue
        seen.add(current)
        tree = Environment(autoescape=False).parse(templates[current])  # noqa: S701
        needed |= _reads(tree) - _optional_reads(tree)
        todo.extend(t for t in meta.find_referenced_templates(tree) if t is not None)
    return needed


def _vars_key(node: nodes.Node) -> str | None:
    """``k`` when ``node`` is ``vars.k`` or ``vars["k"]``."""
    if not (isinstance(node, nodes.Getattr | nodes.Getitem) and isinstance(node.node, nodes.Name)):
        return None
    if node.node.name != "vars":
        return None
    if isinstance(node, nodes.Getattr):
        return node.attr if node.attr not in _DICT_METHODS else None
    return str(node.arg.value) if isinstance(node.arg, nodes.Const) else None


def _reads(tree: nodes.Template) -> set[str]:
    found = (_vars_key(n) for n in tree.find_all((nodes.Getattr, nodes.Getitem)))
    return {key for key in found if key is not None}


def _optional_reads(tree: nodes.Template) -> set[str]:
    optional: set[str] = set()
    for test in tree.find_all(nodes.Test):
        key = _vars_key(test.node)
        if key is not None and test.name == "defined":
            optional.add(key)
    for use in tree.find_all(nodes.Filter):
        key = _vars_key(use.node) if use.node is not None else None
        if key is not None and use.name in {"default", "d"}:
            optional.add(key)
    for compare in tree.find_all(nodes.Compare):
        tested = compare.expr
        for operand in compare.ops:
            in_vars = isinstance(operand.expr, nodes.Name) and operand.expr.name == "vars"
            if operand.op in {"in", "notin"} and in_vars and isinstance(tested, nodes.Const):
                optional.add(str(tested.value))
    return optional
