"""The metrics section of site.yaml: where the daemon serves /metrics, where run-once writes."""

from __future__ import annotations

import pytest

from elastic.config import ConfigError
from tests.factories import make_site


def test_metrics_are_served_on_loopback_by_default_and_no_textfile_is_written():
    site = make_site()
    assert site.metrics.listen == "127.0.0.1:9464"
    assert site.metrics.textfile is None


def test_listen_may_be_turned_off_and_a_textfile_named():
    site = make_site(metrics={"listen": None, "textfile": "/var/lib/node_exporter/elastic.prom"})
    assert site.metrics.listen is None
    assert site.metrics.textfile == "/var/lib/node_exporter/elastic.prom"


@pytest.mark.parametrize("listen", ["9464", ":9464", "127.0.0.1:http", "127.0.0.1:70000"])
def test_listen_must_be_host_and_port(listen: str):
    with pytest.raises(ConfigError, match=r"metrics\.listen: .*host:port"):
        make_site(metrics={"listen": listen})
