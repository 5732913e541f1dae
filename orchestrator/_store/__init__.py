"""Runs at rest: every record an orchestrator holds and the queries over them.

Holds the store and its run tables with their indexes, the criteria every filter
compiles to, the filters published in ``orchestrator.filters``, the query analysis and
planner, run history and the result store. Pure and synchronous.

May import: ``_core`` only.

Start with ``_store.py`` (Store) and ``_table.py`` (one table of runs); a query goes
``_store_queries.py``, then ``_sources.py``, then ``_planner.py``.
"""
