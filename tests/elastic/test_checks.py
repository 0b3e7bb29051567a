"""``elastic.checks``: each rule of ``elastic validate`` on the situation it is for, with
the message and the line it points at (issue 11)."""

from __future__ import annotations

import stat

from elastic.checks import (
    FileFacts,
    Finding,
    check_cloud_reachable,
    check_flavors_fit,
    check_host_names,
    check_secrets,
    check_site,
    check_template_vars,
    template_needs,
)
from elastic.config import Site, parse_site_positions

BASE = """\
site:
  name: demo
lrm:
  kind: sge
vos:
  - name: atlas
    match: {project: [atlas]}
    flavor: {cores: 4, memory_mb: 8192}
    image: {ec2: ami-1}
    cloud:
      allowed: true
      max_nodes: 4
      max_hourly_cost: 2.0
    context:
      template: sge
      vars: {qmaster: qm.example}
      secrets: {munge: keys/munge.key}
local:
  hosts:
    - {name: hv1, uri: "test:///default", cores: 16, memory_mb: 65536}
ec2:
  max_instances: 10
  max_hourly_cost: 5.0
  instance_types:
    atlas: [c5.xlarge]
  prices: {c5.xlarge: 0.17}
"""
# line numbers of BASE that the findings point at
NAME, ALLOWED, MAX_NODES, VO_COST, IMAGE = 6, 11, 12, 13, 9
FLAVOR, VARS, SECRET, TEMPLATE = 8, 16, 17, 15
EC2, MAX_INSTANCES, SITE_COST, TYPES, ATLAS_TYPES = 21, 22, 23, 24, 25

SGE = '{{ vars.qmaster | q }} {{ vars.get("packages", []) }}\n{% include "cloud-init/_c.j2" %}'
TEMPLATES = {"cloud-init/sge.yaml.j2": SGE, "cloud-init/_c.j2": "{{ vars.get('x', 1) }}"}
SECRET_PATH = "/site/keys/munge.key"


def parsed(text: str = BASE) -> tuple[Site, object]:
    site, positions = parse_site_positions(text, "/site/site.yaml")
    return site, positions


def facts(mode: int | None = stat.S_IFREG | 0o600, templates=None) -> FileFacts:
    return FileFacts({SECRET_PATH: mode}, TEMPLATES if templates is None else templates)


def run(rule, text: str = BASE, **kw) -> list[str]:
    site, positions = parsed(text)
    return [str(f) for f in rule(site, positions, facts(**kw))]


def test_the_base_site_has_no_finding():
    site, positions = parsed()
    assert check_site(site, positions, facts()) == []


# --- cloud allowed but unreachable ---------------------------------------------------


def test_no_ec2_section():
    text = BASE[: BASE.index("ec2:\n")]
    assert run(check_cloud_reachable, text) == [
        f"site.yaml:{ALLOWED}: vos[0].cloud.allowed: warning: VO atlas may burst "
        "(cloud.allowed) but never will: the site has no ec2 section"
    ]


def test_site_max_instances_zero():
    text = BASE.replace("max_instances: 10", "max_instances: 0")
    assert run(check_cloud_reachable, text) == [
        f"site.yaml:{MAX_INSTANCES}: ec2.max_instances: warning: VO atlas may burst "
        "(cloud.allowed) but never will: ec2.max_instances is 0"
    ]


def test_site_budget_zero_left_out_points_at_the_ec2_section():
    text = BASE.replace("  max_hourly_cost: 5.0\n", "")
    found = run(check_cloud_reachable, text)
    assert found == [
        f"site.yaml:{EC2}: ec2.max_hourly_cost: warning: VO atlas may burst (cloud.allowed) "
        "but never will: ec2.max_hourly_cost is 0"
    ]


def test_vo_budget_and_vo_max_nodes_zero():
    text = BASE.replace("max_hourly_cost: 2.0", "max_hourly_cost: 0").replace(
        "max_nodes: 4", "max_nodes: 0"
    )
    found = run(check_cloud_reachable, text)
    assert [f.split(": warning: ")[0] for f in found] == [
        f"site.yaml:{MAX_NODES}: vos[0].cloud.max_nodes",
        f"site.yaml:{VO_COST}: vos[0].cloud.max_hourly_cost",
    ]
    assert found[1].endswith("cloud.max_hourly_cost is 0")


def test_no_instance_type_for_the_vo():
    text = BASE.replace("    atlas: [c5.xlarge]\n", "").replace(
        "instance_types:", "instance_types: {}"
    )
    assert run(check_cloud_reachable, text) == [
        f"site.yaml:{TYPES}: ec2.instance_types: warning: VO atlas may burst (cloud.allowed) "
        "but never will: no instance type for it"
    ]


def test_every_type_dearer_than_the_budget():
    text = BASE.replace("c5.xlarge: 0.17", "c5.xlarge: 3.5")
    assert run(check_cloud_reachable, text) == [
        f"site.yaml:{ATLAS_TYPES}: ec2.instance_types.atlas: warning: VO atlas may burst "
        "(cloud.allowed) but never will: its cheapest instance type costs 3.5/h, over its "
        "hourly budget of 2"
    ]


def test_no_ami_for_a_bursting_vo():
    text = BASE.replace("    image: {ec2: ami-1}\n", "")
    assert run(check_cloud_reachable, text) == [
        f"site.yaml:{NAME}: vos[0].image: warning: VO atlas may burst but has no image.ec2"
    ]


def test_a_vo_that_may_not_burst_is_not_checked_for_cloud():
    text = BASE.replace("allowed: true", "allowed: false").replace(
        "max_instances: 10", "max_instances: 0"
    )
    assert run(check_cloud_reachable, text) == []


# --- flavor fits no host ---------------------------------------------------------------


def test_a_flavor_larger_than_every_host():
    text = BASE.replace(
        "cores: 16, memory_mb: 65536}", "cores: 16, memory_mb: 65536, reserved_cores: 14}"
    )
    assert run(check_flavors_fit, text) == [
        f"site.yaml:{FLAVOR}: vos[0].flavor: warning: VO atlas's worker (4 cores, 8192 MB) "
        "fits no local host (the largest, hv1, has 2 cores and 65536 MB for workers)"
    ]
    memory = BASE.replace("memory_mb: 8192}", "memory_mb: 70000}").replace(
        "allowed: true", "allowed: false"
    )
    found = run(check_flavors_fit, memory)
    assert len(found) == 1 and found[0].endswith("; and it may not burst: its jobs never run")


def test_a_cloud_only_site_has_no_host_to_fit():
    text = BASE.replace(BASE[BASE.index("local:") : BASE.index("ec2:")], "")
    assert run(check_flavors_fit, text) == []


# --- secrets -------------------------------------------------------------------------


def test_a_missing_secret_file():
    assert run(check_secrets, mode=None) == [
        f"site.yaml:{SECRET}: vos[0].context.secrets.munge: warning: secret file "
        "keys/munge.key does not exist"
    ]


def test_a_secret_readable_by_group_or_others():
    for mode in (0o640, 0o604):
        assert run(check_secrets, mode=stat.S_IFREG | mode) == [
            f"site.yaml:{SECRET}: vos[0].context.secrets.munge: warning: secret file "
            f"keys/munge.key is readable by group or others (mode {mode:04o}); chmod 600 it"
        ]
    assert run(check_secrets, mode=stat.S_IFREG | 0o400) == []


# --- template variables ----------------------------------------------------------------


def test_a_variable_the_template_needs():
    text = BASE.replace("vars: {qmaster: qm.example}", "vars: {other: 1}")
    site, positions = parsed(text)
    found = list(check_template_vars(site, positions, facts()))
    assert [str(f) for f in found] == [
        f"site.yaml:{VARS}: vos[0].context.vars: template sge needs qmaster in context.vars "
        "of VO atlas"
    ]
    assert found[0].error and found[0].context_of == "atlas"


def test_no_vars_at_all_points_at_the_context():
    text = BASE.replace("      vars: {qmaster: qm.example}\n", "")
    assert run(check_template_vars, text) == [
        f"site.yaml:{TEMPLATE - 1}: vos[0].context.vars: template sge needs qmaster in "
        "context.vars of VO atlas"
    ]


def test_a_template_that_does_not_exist():
    text = BASE.replace("template: sge", "template: sgee")
    assert run(check_template_vars, text) == [
        f"site.yaml:{TEMPLATE}: vos[0].context.template: no template cloud-init/sgee.yaml.j2 "
        "(known: sge)"
    ]


def test_reads_with_a_default_or_a_guard_are_optional_and_includes_count():
    templates = {
        "t": "{{ vars.a }}{{ vars['b'] }}{{ vars.c | default(1) }}{{ vars.get('d') }}"
        "{% if vars.e is defined %}{{ vars.e }}{% endif %}"
        "{% if 'f' in vars %}{{ vars.f }}{% endif %}{% include 'u' %}",
        "u": "{% for k, v in vars.items() %}{{ k }}{% endfor %}{{ vars.g }}",
    }
    assert template_needs(templates, "t") == {"a", "b", "g"}


def test_the_shipped_sge_template_needs_qmaster():
    from elastic.template_files import sources

    shipped = sources(None, "cloud-init")
    assert "qmaster" in template_needs(shipped, "cloud-init/sge.yaml.j2")


# --- host names ----------------------------------------------------------------------


def test_host_names_over_63_characters_are_an_error():
    long_site, long_vo = "s" * 31, "v" * 31  # each at the name pattern's limit
    text = BASE.replace("name: demo", f"name: {long_site}").replace(
        "name: atlas", f"name: {long_vo}"
    )
    text = text.replace("atlas: [c5.xlarge]", f"{long_vo}: [c5.xlarge]")
    site, positions = parsed(text)
    found = list(check_host_names(site, positions, facts()))
    assert len(found) == 1 and found[0].error
    assert str(found[0]) == (
        f"site.yaml:{NAME}: vos[0].name: host names of VO {long_vo} "
        f"({long_site}-{long_vo}-99999) are 69 characters, over a DNS label's 63: shorten "
        "site.name or the VO name"
    )


def test_host_names_that_would_share_an_ec2_client_token():
    # 20 + 1 + 30 + 1 + 5 = 57 characters: a fine host name, but "elastic-" makes 65
    text = BASE.replace("name: demo", f"name: {'s' * 20}").replace(
        "name: atlas", f"name: {'v' * 30}"
    )
    text = text.replace("atlas: [c5.xlarge]", f"{'v' * 30}: [c5.xlarge]")
    found = run(check_host_names, text)
    assert len(found) == 1 and "EC2 client tokens" in found[0]
    assert run(check_host_names, text.replace("allowed: true", "allowed: false")) == []


def test_a_finding_prints_as_error_or_warning():
    assert str(Finding("f:1: k", "m")) == "f:1: k: warning: m"
    assert str(Finding("f:1: k", "m", error=True)) == "f:1: k: m"
