"""AWS's published vCPUs and memory of the EC2 instance types a batch site commonly rents.

Layer: bottom (plain data, imports nothing). The figures are AWS's own: the "Amazon EC2
instance types" specification pages (https://aws.amazon.com/ec2/instance-types/) and what
``ec2 describe-instance-types`` answers (``VCpuInfo.DefaultVCpus``,
``MemoryInfo.SizeInMiB``); a test compares every row with moto's copy of that answer.
They are shipped so that a site listing a common type need not type its size in, while
``ec2.instance_sizes`` in site.yaml adds any other type (or overrides one of these).
"""

from __future__ import annotations

#: instance type -> (vCPUs, memory in MiB)
AWS_INSTANCE_SIZES: dict[str, tuple[int, int]] = {
    "c5.large": (2, 4096),
    "c5.xlarge": (4, 8192),
    "c5.2xlarge": (8, 16384),
    "c5.4xlarge": (16, 32768),
    "c5.9xlarge": (36, 73728),
    "c5.12xlarge": (48, 98304),
    "c5.18xlarge": (72, 147456),
    "c5.24xlarge": (96, 196608),
    "c6i.large": (2, 4096),
    "c6i.xlarge": (4, 8192),
    "c6i.2xlarge": (8, 16384),
    "c6i.4xlarge": (16, 32768),
    "c6i.8xlarge": (32, 65536),
    "c6i.12xlarge": (48, 98304),
    "c6i.16xlarge": (64, 131072),
    "c6i.24xlarge": (96, 196608),
    "c6i.32xlarge": (128, 262144),
    "m5.large": (2, 8192),
    "m5.xlarge": (4, 16384),
    "m5.2xlarge": (8, 32768),
    "m5.4xlarge": (16, 65536),
    "m5.8xlarge": (32, 131072),
    "m5.12xlarge": (48, 196608),
    "m5.16xlarge": (64, 262144),
    "m5.24xlarge": (96, 393216),
}
