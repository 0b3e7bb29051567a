"""Providers create and destroy worker VMs: local hypervisors first, EC2 after."""
