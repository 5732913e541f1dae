"""The journal: an SQLite file that keeps an orchestrator across restarts.

Holds the records of changes (``_records``) and their wire form (``_wire``, read back in
``_wire_reading``, each record class laid out by ``_layouts``), the codec of every other
value (``_codec``, its tags in ``_codec_tags``), the serializers of user values such as
results and parameters (``_serializers``), the journal's errors (``_errors``), the SQLite
file itself (``_sqlite``: appending rows, meta values, reading back, compaction; opened
and checked by ``_sqlite_file``), its ownership lock (``_lock``), the checks of its
options and release (``_options``), and the writer the engine appends to (``_writer``).
Read ``_wire`` first.

May import: ``_core`` and the standard library, nothing else of the package. The engine
(above) decides what is journaled and when, and restores (``_engine/_restore.py``).
"""
