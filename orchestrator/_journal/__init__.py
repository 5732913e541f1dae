"""The journal's file layer: an SQLite file that keeps an orchestrator across restarts.

Holds the journal's errors (``_errors``), the serializers of user values such as results
and parameters (``_serializers``), the JSON codec that turns the package's records into
text and back (``_codec``), and the SQLite file itself (``_sqlite``): opening and
creating it, its format check, appending records, its meta values, reading it back, and
compaction; with its ownership lock (``_lock``) and the checks of its options and
release (``_options``).

May import: ``_core`` and the standard library, nothing else of the package. The engine
(above) decides what is journaled and when; this wing only writes and reads text.
"""
