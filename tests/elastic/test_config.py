"""site.yaml validation: every problem reported, each with file, line and key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from elastic.config import ConfigError, load_site, parse_site

GOOD = """\
site:
  name: demo
lrm:
  kind: sge
vos:
  - name: atlas
    match: {project: [atlas]}
    flavor: {cores: 4, memory_mb: 8192}
  - name: cms
    match:
      group: [cms*]
    flavor:
      cores: 8
      memory_mb: 16000
local:
  hosts:
    - {name: hv1, uri: "test:///default", cores: 32, memory_mb: 65536}
"""


def test_a_good_file_loads():
    site = parse_site(GOOD)
    assert [vo.name for vo in site.vos] == ["atlas", "cms"]
    assert site.vo("cms").flavor.cores == 8
    assert site.policy.max_boots_per_pass == 20  # defaults apply


def test_three_mistakes_are_reported_together_with_their_lines(tmp_path: Path):
    bad = GOOD.replace("      cores: 8", "      cores: 0")  # line 13
    bad = bad.replace("  kind: sge", "  kind: sge\n  timeout: 5")  # unknown key, line 5
    bad = bad.replace("    flavor: {cores: 4, memory_mb: 8192}", "    flavour: {cores: 4}")
    path = tmp_path / "site.yaml"
    path.write_text(bad)
    with pytest.raises(ConfigError) as caught:
        load_site(path)
    problems = caught.value.problems
    assert "site.yaml:5: lrm.timeout: unknown key (check the spelling)" in problems
    assert "site.yaml:9: vos[0].flavour: unknown key (check the spelling)" in problems
    assert "site.yaml:7: vos[0].flavor: required key is missing" in problems
    assert "site.yaml:14: vos[1].flavor.cores: must be ≥ 1" in problems
    assert len(problems) == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("name: demo", "name: Demo_Site"), "site.yaml:2: site.name: must match"),
        (("kind: sge", "kind: lsf"), "site.yaml:4: lrm.kind: must be one of sge, slurm, pbs"),
        (("name: cms", "name: atlas"), "VO names must be unique; repeated: atlas"),
        (("    match:\n      group: [cms*]\n", "    match: {}\n"), "match needs at least one"),
        (("cores: 32,", "cores: 32, reserved_cores: 32,"), "reserved_cores leaves no cores"),
    ],
)
def test_each_kind_of_mistake_has_a_clear_message(change, expected):
    with pytest.raises(ConfigError) as caught:
        parse_site(GOOD.replace(*change))
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_invalid_yaml_names_the_line():
    with pytest.raises(ConfigError) as caught:
        parse_site(GOOD.replace("  kind: sge", "  kind: [sge"))
    assert caught.value.problems[0].startswith("site.yaml:")
    assert "not valid YAML" in caught.value.problems[0]


def test_ec2_types_need_prices_and_known_vos():
    ec2 = "ec2:\n  instance_types: {atlas: [c5.large]}\n"
    with pytest.raises(ConfigError) as caught:
        parse_site(GOOD + ec2)
    assert any("no entry in ec2.prices" in p for p in caught.value.problems)
    ec2 = "ec2:\n  instance_types: {lhcb: [c5.large]}\n  prices: {c5.large: 0.1}\n"
    with pytest.raises(ConfigError) as caught:
        parse_site(GOOD + ec2)
    assert any("unknown VO 'lhcb'" in p for p in caught.value.problems)


def test_missing_file_is_a_config_error(tmp_path: Path):
    with pytest.raises(ConfigError) as caught:
        load_site(tmp_path / "nope.yaml")
    assert "cannot read" in caught.value.problems[0]


def test_state_path_is_relative_to_the_site_file(tmp_path: Path):
    path = tmp_path / "site.yaml"
    path.write_text(GOOD)
    assert load_site(path).state_path() == tmp_path / "var" / "elastic.db"


def test_a_relative_state_file_is_taken_from_the_site_file_not_the_cwd(tmp_path: Path, monkeypatch):
    path = tmp_path / "etc" / "site.yaml"
    path.parent.mkdir()
    path.write_text(GOOD.replace("  name: demo\n", "  name: demo\n  state: ledger/elastic.db\n"))
    monkeypatch.chdir(tmp_path)
    site = load_site(path)
    assert not site.state_is_url()
    assert site.state_url() == str(tmp_path / "etc" / "ledger" / "elastic.db")


POSTGRES_URL = "postgresql://elastic:secret@db.example.org:5432/elastic"


def with_state(state: str) -> str:
    return GOOD.replace("  name: demo\n", f"  name: demo\n  state: {state}\n")


@pytest.mark.parametrize(
    "url", [POSTGRES_URL, "postgres://db.example.org/elastic", "sqlite:////var/lib/e.db"]
)
def test_a_database_url_is_kept_as_a_url_never_a_path(tmp_path: Path, url: str):
    """Issue 10: a URL run through Path became a SQLite file under the site folder."""
    path = tmp_path / "site.yaml"
    path.write_text(with_state(url))
    site = load_site(path)
    assert site.state_is_url()
    assert site.state_url() == url
    with pytest.raises(ValueError, match="database URL"):
        site.state_path()


@pytest.mark.parametrize("scheme", ["mysql", "postgresql+psycopg2", "postgresq"])
def test_an_unknown_database_scheme_is_an_error_with_its_line(scheme: str):
    with pytest.raises(ConfigError) as caught:
        parse_site(with_state(f"{scheme}://db.example.org/elastic"))
    assert caught.value.problems == [
        f"site.yaml:3: site.state: unknown database URL scheme {scheme!r}; use a file path or"
        " one of sqlite://, postgresql://, postgresql+psycopg://, postgres://"
    ]


def test_the_lock_and_replay_files_of_a_database_site_are_local_files(tmp_path: Path):
    """A lock on a URL cannot be taken; it goes beside the site file, by the site's name."""
    from elastic.engine import site_lock
    from lrm_adapters.replay import from_site

    (tmp_path / "jobs.yaml").write_text("jobs: []\n")
    path = tmp_path / "site.yaml"
    path.write_text(
        with_state(POSTGRES_URL).replace("  kind: sge\n", "  kind: replay\n  workload: jobs.yaml\n")
    )
    site = load_site(path)
    assert site_lock(site).lock_file == str(tmp_path / ".elastic-demo.lock")
    assert (
        from_site(site, route=lambda job: None).state_file == tmp_path / ".elastic-demo.replay.json"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jobs.yaml", "site.yaml"]


def test_the_lock_of_a_file_site_stays_next_to_its_ledger(tmp_path: Path):
    from elastic.engine import site_lock

    path = tmp_path / "site.yaml"
    path.write_text(GOOD)
    assert site_lock(load_site(path)).lock_file == str(tmp_path / "var" / "elastic.db.lock")


def test_shares_cannot_sum_to_zero_because_each_is_above_zero():
    """The planner divides by the sum of shares: a share of 0 (or less) is refused at its
    line, so no site can reach that sum (``elastic.checks`` has no rule for it)."""
    with pytest.raises(ConfigError) as caught:
        parse_site(
            GOOD.replace(
                "    flavor: {cores: 4, memory_mb: 8192}",
                "    flavor: {cores: 4, memory_mb: 8192}\n    share: 0",
            )
        )
    assert caught.value.problems == ["site.yaml:9: vos[0].share: must be > 0.0"]
