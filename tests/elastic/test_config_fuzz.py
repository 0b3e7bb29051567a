"""The site loader on any bytes: a Site, or ConfigError lines of the form ``file:line: …``.

Seeds are the repository's own site files (site.yaml, benchmarks/site-bench.yaml) and the
test factory's site, mutated as the parser fuzz tests do (tests/lrm_adapters/fuzz_support.py),
plus bytes from nowhere. A traceback here is a loader bug: the admin would see a Python
stack instead of the line to fix.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from elastic.config import ConfigError, Site, load_site, parse_site
from tests.factories import site_yaml
from tests.lrm_adapters.fuzz_support import EXAMPLES, mutated

ROOT = Path(__file__).parent.parent.parent
SEEDS = [
    (ROOT / "site.yaml").read_bytes(),
    (ROOT / "benchmarks" / "site-bench.yaml").read_bytes(),
    site_yaml().encode(),
]
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=timedelta(seconds=5),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: a known bug, fast
)
def assert_loads_or_points_at_a_line(data: bytes, tmp: Path) -> None:
    path = tmp / "site.yaml"
    path.write_bytes(data)
    try:
        site = load_site(path)
    except ConfigError as exc:
        assert exc.problems, "a ConfigError with no problem line"
        for line in exc.problems:
            assert re.match(rf"^{re.escape(str(path))}:\d+: \S", line) or re.match(
                r"^site\.yaml:\d+: \S", line
            ), line
    else:
        assert isinstance(site, Site)


def test_the_seeds_load():
    for seed in SEEDS:
        assert isinstance(parse_site(seed.decode()), Site)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
@FUZZ
@given(data=st.data())
def test_mutated_site_files_load_or_name_their_line(
    seed: int, data: st.DataObject, tmp_path_factory
):
    mutant = data.draw(mutated(SEEDS[seed]), label="mutant")
    assert_loads_or_points_at_a_line(mutant, tmp_path_factory.mktemp("fuzz"))


@FUZZ
@given(data=st.binary(max_size=300))
@example(data=b"")
def test_any_bytes_load_or_name_their_line(data: bytes, tmp_path_factory):
    assert_loads_or_points_at_a_line(data, tmp_path_factory.mktemp("fuzz"))


FOUND = settings(phases=[Phase.explicit], deadline=None, database=None)


@FOUND
@given(data=st.binary())
@example(data=b"site: \xe5\n")  # fuzz: a flipped high bit, UnicodeDecodeError
def test_found_bytes_that_are_not_utf8(data: bytes, tmp_path_factory):
    assert_loads_or_points_at_a_line(data, tmp_path_factory.mktemp("found"))


@FOUND
@given(data=st.binary())
@example(data=b"site:\n  name: a\x07b\n")  # fuzz: a control character, ReaderError
def test_found_a_control_character(data: bytes, tmp_path_factory):
    assert_loads_or_points_at_a_line(data, tmp_path_factory.mktemp("found"))


def test_a_mistake_in_a_valid_yaml_names_its_line(tmp_path: Path):
    """The protection the fuzz tests lean on: a schema error is file:line, no traceback."""
    with pytest.raises(ConfigError) as caught:
        load_site_path(tmp_path, site_yaml().replace("name:", "nmae:", 1).encode())
    assert all(re.match(r"^.*site\.yaml:\d+: \S", line) for line in caught.value.problems)


def load_site_path(tmp: Path, data: bytes) -> Site:
    path = tmp / "site.yaml"
    path.write_bytes(data)
    return load_site(path)
