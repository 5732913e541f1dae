"""The rule machinery: how a proposed state becomes a decision, pure and synchronous.

Holds ``Rule``, ``rule()``, ``Policy`` and the loop that runs a policy's rules over one
proposal, the transition context a rule sees, the bookkeeping every committed state
applies, and the tables rules consult (tag concurrency slots, the cache) with their
change records.

May import: ``_core`` only. The built-in rules live above, in ``orchestrator.policies``.

Start with ``_rule.py``, then ``_context.py``.
"""
