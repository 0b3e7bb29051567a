"""elastic's table of instance type sizes is AWS's: every row against what EC2's
describe_instance_types answers (moto's copy of AWS's answer, in process, no network)."""

from __future__ import annotations

import boto3
import pytest

from elastic.instance_sizes import AWS_INSTANCE_SIZES

moto = pytest.importorskip("moto")


def test_every_row_is_what_describe_instance_types_says():
    with moto.mock_aws():
        ec2 = boto3.client(
            "ec2",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        answer = ec2.describe_instance_types(InstanceTypes=sorted(AWS_INSTANCE_SIZES))
    found = {
        t["InstanceType"]: (t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"])
        for t in answer["InstanceTypes"]
    }
    assert found == AWS_INSTANCE_SIZES
