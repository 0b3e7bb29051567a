"""The series names elastic exports, collected from a registry after a recorded pass, for
the tests that check what contrib/ (rules, dashboard) refers to."""

from __future__ import annotations

import re

from elastic.metrics import ElasticRegistry, record_pass
from tests.elastic.test_metrics import busy_pass
from tests.factories import make_site

#: a metric name in a PromQL expression (label names and functions do not start so)
METRIC = re.compile(r"\belastic_[a-z_]+\b")


def exported_names() -> set[str]:
    registry = ElasticRegistry(make_site())
    record_pass(registry, busy_pass(), duration_s=1.0, now=1000.0)
    return {sample.name for family in registry.collect() for sample in family.samples}


def metrics_in(expression: str) -> set[str]:
    return set(METRIC.findall(expression))
