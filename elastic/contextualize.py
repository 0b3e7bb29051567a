"""cloud-init user-data and meta-data for a new worker, from the cloud-init/ templates.

Layer: rendering (reads template and secret files; no network). Templates run in
Jinja2's sandbox with StrictUndefined, so a VO variable the template needs but
site.yaml lacks is an error at ``elastic validate`` time, not a broken VM. Every
value from site.yaml reaches YAML through the ``q`` filter (a JSON-quoted
scalar, which YAML reads as one string), so ``a: b`` or a newline in a VO
variable cannot add keys; a value that lands in a file of another syntax
(shell, HTCondor config, ClassAd, SGE/PBS config) goes first through that
syntax's filter from elastic/context_escape.py, which quotes it or refuses it
(a ContextError naming the VO and the variable). Templates are found by
elastic/template_files.py: the site's ``templates_dir`` first, then the packaged
``elastic/templates/``. The result is parsed back
and must be a mapping starting with ``#cloud-config``. Secrets are read from
files at render time and go only into the user-data; ``mask_secrets`` replaces
them for display. A cloud worker (``cloud=True``) also gets the dead-man switch
(elastic/deadman.py), and its rendering fails if the template does not install
it: an EC2 worker without it would bill for ever once the controller is gone.
"""

from __future__ import annotations

import argparse
import base64
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from elastic.config import ConfigError, Site, load_site
from elastic.context_escape import FILTERS, Sourced, UnsafeValue, tag
from elastic.deadman import AGENT_PATH, ENABLE_SCRIPT, DeadmanError, cloud_init_files
from elastic.template_files import loader

MASK = "********"


class ContextError(Exception):
    """The user-data for a VO cannot be rendered or is not valid cloud-config."""


def _quote(value: Any) -> str:
    return json.dumps(value if isinstance(value, str | int | float | bool) else str(value))


def _b64(value: Any) -> str:
    """A secret's file exactly as it is, any other value as UTF-8 text."""
    raw = value.raw if isinstance(value, TextSecret | BinarySecret) else str(value).encode()
    return base64.b64encode(raw).decode()


class TextSecret(Sourced):
    """A secret file that is UTF-8 text: as text, its content stripped of surrounding
    blanks (a token file's trailing newline is not part of the token); base64-encoded
    (``| b64``), the file byte for byte, since a key file is compared whole (munge reads
    all of it: a worker key one newline short of the controller's is another key)."""

    raw: bytes

    def __new__(cls, raw: bytes, source: str) -> Self:
        self = super().__new__(cls, raw.decode("utf-8").strip(), source)
        self.raw = raw
        return self


class BinarySecret:
    """A secret file that is not UTF-8 text, as the munge key ``mungekey`` and
    ``create-munge-key`` write: it can only be written base64-encoded (``| b64``, into a
    ``write_files`` entry with ``encoding: b64``); as text it is an error that names it."""

    def __init__(self, raw: bytes, source: str, path: str) -> None:
        self.raw, self.source, self.path = raw, source, path

    def __str__(self) -> str:
        raise ContextError(
            f"{self.source} ({self.path}) is binary, not UTF-8 text: a template can write it "
            "only base64-encoded (| b64, in a write_files entry with encoding: b64)"
        )


def environment(site: Site | None = None) -> SandboxedEnvironment:
    """The sandbox over ``site``'s templates (its own folder first, then elastic's)."""
    env = SandboxedEnvironment(
        loader=loader(site),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["q"] = _quote
    env.filters["b64"] = _b64
    env.filters.update(FILTERS)
    return env


def _secrets(site: Site, vo: str, mask: bool) -> dict[str, str | BinarySecret]:
    """Each secret file's bytes, as text where they are UTF-8 (TextSecret, BinarySecret)."""
    values: dict[str, str | BinarySecret] = {}
    for name, path in site.vo(vo).context.secrets.items():
        if mask:
            values[name] = MASK
            continue
        try:
            raw = site.resolve(path).read_bytes()
        except OSError as exc:
            raise ContextError(f"VO {vo}: secret {name!r} cannot be read from {path}") from exc
        try:
            values[name] = TextSecret(raw, f"secrets.{name}")
        except UnicodeDecodeError:
            values[name] = BinarySecret(raw, f"secrets.{name}", str(path))
    return values


def template_context(
    site: Site,
    vo: str,
    hostname: str,
    node_id: str,
    *,
    mask_secrets: bool = False,
    cloud: bool = False,
) -> dict[str, Any]:
    """Every name a template of ``vo`` may use; ``deadman`` is None unless ``cloud``."""
    try:
        deadman = cloud_init_files(site, vo, hostname) if cloud else None
    except (DeadmanError, OSError) as exc:
        raise ContextError(f"VO {vo}: dead-man switch: {exc}") from exc
    return {
        "vo": vo,
        "hostname": hostname,
        "node_id": node_id,
        "site_name": site.site.name,
        "vars": dict(site.vo(vo).context.vars),
        "secrets": _secrets(site, vo, mask_secrets),
        "deadman": deadman,
    }


def render_template(
    template: str, context: Mapping[str, Any], what: str, site: Site | None = None
) -> str:
    """``cloud-init/<template>.yaml.j2`` rendered and checked as cloud-config.

    Every string of ``context`` but the dead-man files (elastic's own, already in their
    syntax) is tagged with its name, so a filter that refuses it can say which it was.
    """
    name = f"cloud-init/{template}.yaml.j2"
    values = {k: v if k == "deadman" else tag(v, k) for k, v in context.items()}
    try:
        text = environment(site).get_template(name).render(**values)
    except (UnsafeValue, ContextError) as exc:  # ContextError: a binary secret as text
        raise ContextError(f"{what}: template {name}: {exc}") from exc
    except TemplateError as exc:
        raise ContextError(f"{what}: template {name}: {exc}") from exc
    check_cloud_config(text, what)
    return text


def render_user_data(
    site: Site,
    vo: str,
    hostname: str,
    node_id: str,
    *,
    mask_secrets: bool = False,
    cloud: bool = False,
) -> str:
    """The whole ``#cloud-config`` document for a new node of ``vo``.

    ``cloud``: the node is an EC2 worker, which installs the dead-man switch.
    """
    template = site.vo(vo).context.template
    context = template_context(site, vo, hostname, node_id, mask_secrets=mask_secrets, cloud=cloud)
    text = render_template(template, context, f"VO {vo}", site)
    if cloud:
        document = check_cloud_config(text, f"VO {vo}")
        check_deadman_installed(document, f"VO {vo}: template cloud-init/{template}.yaml.j2")
    return text


def check_deadman_installed(document: dict[str, Any], what: str) -> None:
    """A cloud worker's user-data must write the agent and enable it."""
    files = document.get("write_files") or []
    paths = {f.get("path") for f in files if isinstance(f, dict)}
    commands = document.get("runcmd") or []
    if AGENT_PATH not in paths or ["sh", "-c", ENABLE_SCRIPT] not in commands:
        raise ContextError(
            f"{what}: a cloud worker must install the dead-man switch (include "
            "cloud-init/_common.yaml.j2 and end runcmd with cloud-init/_deadman_runcmd.yaml.j2)"
        )


def check_cloud_config(text: str, what: str) -> dict[str, Any]:
    if not text.startswith("#cloud-config\n"):
        raise ContextError(f"{what}: user-data must start with '#cloud-config'")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContextError(f"{what}: user-data is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ContextError(f"{what}: user-data must be a YAML mapping")
    return document


def render_meta_data(node_id: str, hostname: str) -> str:
    return yaml.safe_dump({"instance-id": node_id, "local-hostname": hostname})


def check_site_templates(site: Site) -> list[str]:
    """One problem line per VO whose user-data cannot be rendered (secrets masked)."""
    problems = []
    for vo in site.vos:
        try:
            for cloud in (False, True) if vo.cloud.allowed else (False,):
                render_user_data(
                    site,
                    vo.name,
                    f"{site.site.name}-{vo.name}-check",
                    "check",
                    mask_secrets=True,
                    cloud=cloud,
                )
        except ContextError as exc:
            problems.append(
                f"{Path(site.source).name or 'site.yaml'}: vos[{vo.name}].context: {exc}"
            )
        except KeyError as exc:
            problems.append(f"site.yaml: vos[{vo.name}].context: unknown key {exc}")
    return problems


def cmd_render_context(args: argparse.Namespace) -> int:
    site = load_site(args.config)
    if args.vo not in {vo.name for vo in site.vos}:
        known = ", ".join(vo.name for vo in site.vos)
        raise SystemExit(f"elastic: no VO {args.vo!r} in {site.source} (known: {known})")
    node_id = f"{site.site.name}-{args.vo}-preview"
    try:
        text = render_user_data(
            site, args.vo, node_id, node_id, mask_secrets=True, cloud=args.cloud
        )
    except ContextError as exc:
        # A site.yaml mistake (a refused or missing variable, an unreadable template): the
        # CLI prints ConfigError's lines and exits 2, as `elastic validate` does.
        raise ConfigError(Path(site.source), [f"{site.source}: {exc}"]) from exc
    print(text, end="")
    return 0


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "render-context",
        help="print the cloud-init user-data a new node of a VO gets (secrets masked)",
    )
    parser.add_argument("vo", help="VO name from site.yaml")
    parser.add_argument(
        "--cloud", action="store_true", help="as an EC2 worker (with the dead-man switch)"
    )
    parser.set_defaults(func=cmd_render_context)
