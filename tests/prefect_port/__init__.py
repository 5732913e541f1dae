"""Prefect's user-facing tests of flows, tasks, futures and task runners, ported (issue 14)."""
