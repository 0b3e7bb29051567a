"""The model's hand-written parts: Job's fast ``__init__`` must stay the dataclass's."""

from __future__ import annotations

import dataclasses
import inspect
import pickle

import pytest

from elastic.model import Job


def test_job_init_lists_every_field_in_order_with_its_default() -> None:
    """Job sets its fields in one step; a field added to the class but not to ``__init__``
    (or with another default) would silently go missing. The signature must be the one
    the dataclass would generate."""
    params = list(inspect.signature(Job.__init__).parameters.values())[1:]
    declared = dataclasses.fields(Job)
    assert [p.name for p in params] == [f.name for f in declared]
    for param, spec in zip(params, declared, strict=True):
        expected = inspect.Parameter.empty if spec.default is dataclasses.MISSING else spec.default
        assert param.default == expected, spec.name
        assert param.annotation == spec.type, spec.name


def test_job_is_still_frozen_comparable_hashable_and_replaceable() -> None:
    job = Job("7", cores=4, memory_mb=8000, vo="atlas", features=("ssd",), hosts=("n1",))
    assert job.cores == 4 and job.vo == "atlas" and job.count == 1 and job.reason == ""
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.cores = 2  # type: ignore[misc]
    twin = Job("7", cores=4, memory_mb=8000, vo="atlas", features=("ssd",), hosts=("n1",))
    assert job == twin and hash(job) == hash(twin) and len({job, twin}) == 1
    assert dataclasses.replace(job, cores=2) == Job(
        "7", cores=2, memory_mb=8000, vo="atlas", features=("ssd",), hosts=("n1",)
    )
    assert dataclasses.asdict(job)["features"] == ("ssd",)
    assert pickle.loads(pickle.dumps(job)) == job
    assert repr(job).startswith("Job(id='7', cores=4, memory_mb=8000, vo='atlas'")
