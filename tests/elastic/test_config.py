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
        (("kind: sge", "kind: lsf"), "site.yaml:4: lrm.kind: Input should be"),
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
