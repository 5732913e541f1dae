"""The single writer: the engine, and the ``Orchestrator`` facade over it.

Holds the ``Engine`` (the lock, every table as a named field, the commit path of every
transition), the ``Orchestrator`` with its facets (task runs, flow runs, work pools and
queues, deployments, concurrency limits), and what hangs off it: claim leases, turns for
concurrency slots, WAIT serving, submission of background runs, futures, per-task
overrides, retention of finished runs and time skipping on a virtual clock.

May import: every wing below it (``_core``, ``_rules``, ``_store``, ``_queues``,
``_pools``) and the public ``orchestrator.policies`` and ``orchestrator.filters``.

Start with ``_orchestrator.py`` (Orchestrator), then the ``Engine`` class it holds.
"""
