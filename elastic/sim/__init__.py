"""Trace-driven simulator: the real planner against baselines on the same workloads."""
