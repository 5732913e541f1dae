"""Foundations and vocabulary: what every other wing builds on.

Holds the clock (the only reader of time), the errors, the sorted-index wrappers, the
cross-thread wake-ups, activity tracking, states (the record, and apart from it their
constructors), run records, outcomes, observers and decisions, sort orders, tasks and
their options, the retention settings, the shared argument checks, the short text and
HTML summaries every notebook repr draws (``_summary.py``) and the "current
orchestrator" context variable.

May import: the standard library, attrs and sortedcontainers, and nothing else of the
package. Two listed exceptions: the clock and the wake-ups also use anyio (and trio, when
it is the running backend) to wait on the event loop, and ``_models`` draws a run's
notebook table through ``orchestrator._display``, imported lazily.

Start with ``_state_record.py`` (StateType, State), ``_models.py`` (TaskRun, FlowRun)
and ``_clock.py``.
"""
