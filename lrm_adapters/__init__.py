"""Adapters that observe a local resource manager and join/retire its nodes."""
