"""Task queues: where background runs wait for a worker, per task key.

Holds the orchestrator's queues (``TaskQueues``), the consumer views over them
(``TaskQueue`` for one key, ``MultiQueue`` for several) and their statistics records.
A getter awaits on ``_core``'s wake-ups; nothing here runs a task.

May import: ``_core`` only.

Start with ``_registry.py``, then ``_views.py``.
"""
