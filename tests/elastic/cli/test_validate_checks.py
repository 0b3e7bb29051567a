"""``elastic validate`` with the checks of ``elastic.checks`` (warnings exit 0, or 2 with
``--strict``; errors 2) and ``--online`` against libvirt's test driver, the embedded
EC2 and an LRM that cannot be run (issue 11)."""

from __future__ import annotations

from pathlib import Path

from elastic.cli import EXIT_CONFIG, EXIT_OK, main

from .conftest import SITE

SECRET = SITE.replace(
    "vars: {qmaster: qmaster.example}}",
    "vars: {qmaster: qmaster.example}, secrets: {munge: munge.key}}",
)  # line 11


def test_a_warning_exits_0_and_2_with_strict(site_file, capsys):
    site_file.write_text(SECRET)
    assert main(["validate", str(site_file)]) == EXIT_OK
    captured = capsys.readouterr()
    assert captured.err.splitlines() == [
        "site.yaml:11: vos[0].context.secrets.munge: warning: secret file munge.key does not exist"
    ]
    assert "valid (1 VO(s), 0 local host(s), 1 warning(s))" in captured.out
    assert main(["validate", "--strict", str(site_file)]) == EXIT_CONFIG


def test_a_secret_readable_by_others_is_a_warning_and_a_private_one_is_not(site_file, capsys):
    site_file.write_text(SECRET)
    key = site_file.parent / "munge.key"
    key.write_text("k")
    key.chmod(0o644)
    assert main(["validate", "--strict", str(site_file)]) == EXIT_CONFIG
    assert "is readable by group or others (mode 0644); chmod 600 it" in capsys.readouterr().err
    key.chmod(0o600)
    assert main(["validate", "--strict", str(site_file)]) == EXIT_OK


def test_a_missing_template_variable_is_one_error_at_the_vo_line(site_file, capsys):
    site_file.write_text(SITE.replace("vars: {qmaster: qmaster.example}", "vars: {}"))
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    assert capsys.readouterr().err.splitlines() == [
        "site.yaml:11: vos[0].context.vars: template sge needs qmaster in context.vars of VO atlas"
    ]  # the Jinja error of rendering it is not printed again


def test_a_host_name_over_63_characters_is_an_error(site_file, capsys):
    long_vo = "a" * 31
    text = SITE.replace("name: clitest", f"name: {'s' * 31}").replace(
        "name: atlas", f"name: {long_vo}"
    )
    site_file.write_text(text)
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(f"site.yaml:8: vos[0].name: host names of VO {long_vo} (")
    assert "are 69 characters, over a DNS label's 63" in line


def test_typed_options_mistakes_are_reported_with_their_lines(site_file, capsys):
    site_file.write_text(
        SITE.replace("workload: jobs.yaml", "workload: jobs.yaml\n  options: {speedup: fast}")
    )
    assert main(["validate", str(site_file)]) == EXIT_CONFIG
    assert capsys.readouterr().err.splitlines() == [
        "site.yaml:7: lrm.options.speedup: must be a number"
    ]


# --- --online ----------------------------------------------------------------------


def libvirt_site(site_file: Path, pool: str) -> None:
    text = SITE.replace(
        "flavor: {cores: 4, memory_mb: 8192}",
        "flavor: {cores: 4, memory_mb: 8192}\n    image: {libvirt: atlas-base.qcow2}",
    )
    host = f'{{name: hv1, uri: "test:///default", cores: 16, memory_mb: 65536, pool: {pool}}}'
    text += f"local:\n  hosts:\n    - {host}\n"
    site_file.write_text(text)


def test_online_a_host_without_the_pool(site_file, capsys):
    libvirt_site(site_file, "default")
    assert main(["validate", "--online", str(site_file)]) == EXIT_CONFIG
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith(
        "site.yaml:15: local.hosts[0].pool: online: host hv1 has no storage pool default: "
    )


def test_online_a_pool_without_the_base_image(site_file, capsys):
    libvirt_site(site_file, "default-pool")  # the test driver's one pool, with no volume
    assert main(["validate", "--online", str(site_file)]) == EXIT_CONFIG
    assert capsys.readouterr().err.splitlines() == [
        "site.yaml:15: local.hosts[0].pool: online: host hv1: pool default-pool has no volume "
        "atlas-base.qcow2 (image.libvirt of VO atlas)"
    ]


def test_online_without_online_the_live_site_is_not_asked(site_file):
    libvirt_site(site_file, "default")
    assert main(["validate", str(site_file)]) == EXIT_OK


def test_online_an_lrm_that_cannot_be_run(site_file, capsys, monkeypatch):
    site_file.write_text(SITE.replace("kind: replay\n  workload: jobs.yaml", "kind: sge"))
    monkeypatch.setenv("PATH", str(site_file.parent / "no-such-bin"))  # no qstat to run
    assert main(["validate", "--online", str(site_file)]) == EXIT_CONFIG
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("site.yaml:5: lrm.kind: online: the LRM (sge) does not answer: ")
    assert "cannot start" in line


def test_online_the_embedded_site_passes_and_a_missing_ami_is_named(embedded_site, capsys):
    assert main(["validate", "--online", str(embedded_site)]) == EXIT_OK, capsys.readouterr().err
    text = embedded_site.read_text()
    first = text.index("ec2: ami-1e749f67")  # atlas's
    embedded_site.write_text(
        text[:first] + "ec2: ami-00000000" + text[first + len("ec2: ami-1e749f67") :]
    )
    assert main(["validate", "--online", str(embedded_site)]) == EXIT_CONFIG
    [line] = capsys.readouterr().err.splitlines()
    assert line.startswith("site.yaml:23: vos[0].image.ec2: online: AMI ami-00000000 of VO atlas: ")
