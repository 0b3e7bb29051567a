"""The README's first command on the embedded site.yaml: libvirt test-driver hosts first,
then the embedded EC2, in one process; a reservation booked at its start is readied ahead,
kept to its end and released."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.libvirt
@pytest.mark.ec2
def test_demo_scales_the_embedded_site_up_local_first_then_cloud_and_back_to_zero():
    done = subprocess.run(
        [sys.executable, "-m", "elastic.cli", "-q", "demo", "--passes", "60", "--interval", "0.5"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    first, second = re.findall(r"pass +\d+: .*", done.stdout)[:2]
    # the booked cms reservation (2 x 8 cores) takes local room first, before atlas's queue
    assert first.endswith("10 boot")
    assert "nodes local  4 cloud  6" in second  # hv1, hv2: 1 cms + 1 atlas each, then EC2
    life = re.findall(r"r-1: (\w+):", done.stdout)
    assert life == ["accepted", "preparing", "ready", "active", "done"], life
    assert "2 of 2 node(s) up at the start, on time" in done.stdout
    assert "unplaceable job 105" in done.stderr  # the 64-core job is reported, not dropped
    # idle workers are drained and, empty, destroyed in the same pass; none is left
    assert re.search(r"\d+ destroy, \d+ drain", done.stdout)
    assert "demo done: 0 node(s) still live" in done.stdout


def test_the_embedded_site_validates():
    done = subprocess.run(
        [sys.executable, "-m", "elastic.cli", "validate", "site.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
