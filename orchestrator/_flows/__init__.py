"""Workflows: ``@flow``, task runs called inline and submitted to task runners.

Holds the flow decorator and its flow-run engine, the inline task-run engine (a task
called directly, in a flow or outside one, is a task run), the task runners (where a
flow's submitted tasks execute: threads, or an executor for their functions), mapping,
``wait_for`` and the resolution of futures passed as arguments.

May import: ``_core``, ``_rules``, ``_store``, ``_queues``, ``_pools``, ``policies``,
``filters``, ``executors``, ``_engine`` and ``_display``; it sits beside ``workers`` and
neither imports the other. ``_core._task_call`` reaches it lazily (a listed exception):
calling a task runs it here.
"""
