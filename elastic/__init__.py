"""elastic: an elastic virtual-cluster autoscaler for batch computing sites."""

__version__ = "0.1.0"
