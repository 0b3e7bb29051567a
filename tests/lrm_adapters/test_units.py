"""The one memory-size parser, on the forms each LRM prints (fixtures' and manuals')."""

from __future__ import annotations

import pytest

from lrm_adapters._units import memory_mb


@pytest.mark.parametrize(
    ("text", "mb"),
    [  # SGE: qstat requests (h_vmem=2G) and qhost's mem_total (125.9G); a bare number is bytes
        ("2G", 2048),
        ("1.5G", 1536),
        ("1.5g", 1536),
        ("512M", 512),
        ("2048K", 2),
        ("125.9G", 128922),
        ("1T", 2**20),
        ("1073741824", 1024),
        (" 2 G ", 2048),
        ("-", 0),
        ("INFINITY", 0),
        ("0.0", 0),
        ("x", 0),
        ("", 0),
        ("1.2.3", 0),
    ],
)
def test_sge_sizes(text, mb):
    assert memory_mb(text) == mb


@pytest.mark.parametrize(
    ("text", "mb"),
    [  # PBS: Resource_List.mem and pbsnodes' physmem; b/kb/mb/gb/tb, w = 8-byte words
        ("4gb", 4096),
        ("4GB", 4096),
        ("512mb", 512),
        ("16427712kb", 16043),
        ("1tb", 2**20),
        ("1048576b", 1),
        ("1048576", 1),
        ("131072w", 1),
        ("4kw", 0),
        ("128kw", 1),
        ("2mw", 16),
        ("1gw", 8192),
        ("1.5gb", 1536),
        ("0", 0),
    ],
)
def test_pbs_sizes(text, mb):
    assert memory_mb(text) == mb


@pytest.mark.parametrize(
    ("text", "mb"),
    [  # Slurm scontrol MinMemoryNode/MinMemoryCPU: K/M/G/T, a bare number is MB
        ("8000M", 8000),
        ("1024", 1024),
        ("2G", 2048),
        ("1.50G", 1536),
        ("1T", 2**20),
        ("1024K", 1),
        ("0", 0),
        ("", 0),
        ("(null)", 0),
    ],
)
def test_slurm_sizes(text, mb):
    assert memory_mb(text, default_unit="m") == mb
