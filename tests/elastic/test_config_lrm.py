"""``lrm``: one typed options model per LRM kind, so every mistake an admin makes in
``lrm.options`` is a ``file:line: lrm.options.KEY: message`` at load time (issue 11)."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.config import (
    ConfigError,
    HTCondorOptions,
    PbsOptions,
    ReplayOptions,
    SgeOptions,
    SlurmOptions,
    load_site,
    parse_site,
)

REPO = Path(__file__).resolve().parents[2]

HEAD = """\
site:
  name: demo
lrm:
  kind: {kind}
  options:
    {option}
vos:
  - name: atlas
    match: {{project: [atlas]}}
    flavor: {{cores: 4, memory_mb: 8192}}
"""


def problems_of(kind: str, option: str) -> list[str]:
    text = HEAD.format(kind=kind, option=option)
    if kind == "replay":
        text = text.replace("  options:", "  workload: jobs.yaml\n  options:")
    with pytest.raises(ConfigError) as caught:
        parse_site(text)
    return caught.value.problems


@pytest.mark.parametrize(
    ("kind", "option", "expected"),
    [
        (
            "slurm",
            "join: dynamc",
            "site.yaml:6: lrm.options.join: must be one of dynamic, power_save",
        ),
        ("sge", "sge_rooot: /opt/sge", "site.yaml:6: lrm.options.sge_rooot: unknown key"),
        (
            "slurm",
            "slurm_cnof: /etc/slurm.conf",
            "site.yaml:6: lrm.options.slurm_cnof: unknown key",
        ),
        ("sge", "queeu: cloud.q", "site.yaml:6: lrm.options.queeu: unknown key"),
        (
            "pbs",
            "flavor: pbspro",
            "site.yaml:6: lrm.options.flavor: must be one of torque, openpbs",
        ),
        ("replay", "speedup: fast", "site.yaml:7: lrm.options.speedup: must be a number"),
        ("replay", "speedup: 0", "site.yaml:7: lrm.options.speedup: must be > 0"),
        ("htcondor", "join: dynamic", "site.yaml:6: lrm.options.join: unknown key"),
        ("sge", "probe_timeout_s: soon", "site.yaml:6: lrm.options.probe_timeout_s: must be a"),
        ("replay", "LD_PRELOAD: /x.so", "site.yaml:7: lrm.options.LD_PRELOAD: unknown key"),
    ],
)
def test_each_options_mistake_names_its_line_and_key(kind, option, expected):
    problems = problems_of(kind, option)
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_an_unknown_kind_and_a_missing_kind_are_problems_of_lrm_kind():
    text = HEAD.format(kind="lsf", option="x: 1")
    with pytest.raises(ConfigError) as caught:
        parse_site(text)
    assert caught.value.problems == [
        "site.yaml:4: lrm.kind: must be one of sge, slurm, pbs, htcondor, replay"
    ]
    with pytest.raises(ConfigError) as caught:
        parse_site(text.replace("  kind: lsf\n", ""))
    assert caught.value.problems == ["site.yaml:3: lrm.kind: required key is missing"]


def test_replay_needs_its_workload_and_only_replay_takes_one():
    text = HEAD.format(kind="replay", option="speedup: 2")
    with pytest.raises(ConfigError) as caught:
        parse_site(text)
    assert caught.value.problems == ["site.yaml:3: lrm.workload: required key is missing"]
    with pytest.raises(ConfigError) as caught:
        parse_site(
            HEAD.format(kind="sge", option="queue: q").replace(
                "  options:", "  workload: w\n  options:"
            )
        )
    assert caught.value.problems == ["site.yaml:5: lrm.workload: unknown key (check the spelling)"]


@pytest.mark.parametrize(
    ("kind", "model", "defaults"),
    [
        (
            "sge",
            SgeOptions,
            {"sge_root": "/var/lib/gridengine", "sge_cell": "default", "queue": "all.q"},
        ),
        ("slurm", SlurmOptions, {"slurm_conf": None, "join": "dynamic", "probe_timeout_s": 300.0}),
        ("pbs", PbsOptions, {"flavor": "torque"}),
        ("htcondor", HTCondorOptions, {"collector": None}),
    ],
)
def test_options_left_out_take_their_defaults(kind, model, defaults):
    site = parse_site(HEAD.format(kind=kind, option="{}").replace("  options:\n    {}\n", ""))
    options = site.lrm_options(model)
    assert {k: getattr(options, k) for k in defaults} == defaults


def test_values_are_typed_strings_of_numbers_included():
    site = parse_site(
        HEAD.format(kind="replay", option='speedup: "20"').replace(
            "  options:", "  workload: jobs.yaml\n  options:"
        )
    )
    assert site.lrm_options(ReplayOptions).speedup == 20.0


def test_sge_takes_the_environment_spelling_and_refuses_two_different_roots():
    site = parse_site(
        HEAD.format(kind="sge", option="{SGE_ROOT: /opt/sge, SGE_CELL: c1, sge_cell: c1}")
    )
    options = site.lrm_options(SgeOptions)
    assert (options.sge_root, options.sge_cell) == ("/opt/sge", "c1")
    assert options.probe_env() == {"SGE_ROOT": "/opt/sge", "SGE_CELL": "c1"}
    problems = problems_of("sge", "{SGE_ROOT: /opt/sge, sge_root: /usr/sge}")
    assert problems == [
        "site.yaml:5: lrm.options: SGE_ROOT ('/opt/sge') and sge_root ('/usr/sge') differ"
    ]


def test_the_probe_environment_carries_the_drmaa_keys_and_the_lrm_own():
    option = "{DRMAA_LIBRARY_PATH: /lib/libdrmaa.so, slurm_conf: /etc/slurm/slurm.conf}"
    site = parse_site(HEAD.format(kind="slurm", option=option))
    assert site.lrm_options(SlurmOptions).probe_env() == {
        "DRMAA_LIBRARY_PATH": "/lib/libdrmaa.so",
        "SLURM_CONF": "/etc/slurm/slurm.conf",
    }


def test_asking_for_another_lrm_options_is_a_config_error():
    site = parse_site(HEAD.format(kind="sge", option="queue: q"))
    with pytest.raises(ConfigError) as caught:
        site.lrm_options(SlurmOptions)
    assert caught.value.problems == ["site.yaml: lrm.kind is sge; this needs slurm"]


@pytest.mark.parametrize("path", ["site.yaml", "benchmarks/site-bench.yaml"])
def test_the_shipped_site_files_still_load(path):
    site = load_site(REPO / path)
    assert site.lrm.kind == "replay"
