"""orchestrator: a workflow server's task-run orchestration, in one process.

Everything hangs off an :class:`Orchestrator` you construct: its runs, states, queues,
policies, concurrency limits, clock and observers. Nothing is process-wide.

``import orchestrator`` itself imports nothing else: the first public name asked for
imports all of them (from :mod:`orchestrator._public`), so a script pays for the package
when it uses it, and pytest pays nothing for the plugin in a project that never does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

#: The public submodules: asked for by name, each imports just itself.
_SUBMODULES = frozenset({"executors", "filters", "policies", "testing", "workers"})

if TYPE_CHECKING:
    from ._public import *  # noqa: F403 (the names are _public's __all__)
    from ._public import __all__ as __all__
else:

    def __getattr__(name: str) -> object:
        # Called only for names not yet in this module's namespace. Private and dunder
        # names other than __all__ (submodules being imported; probes by inspect, pickle,
        # doctest) never load the package.
        if name.startswith("_") and name != "__all__":
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        if name in _SUBMODULES:
            return importlib.import_module(f"{__name__}.{name}")
        from . import _public

        namespace = globals()
        for public in _public.__all__:
            namespace.setdefault(public, getattr(_public, public))
        namespace.setdefault("__all__", _public.__all__)
        try:
            return namespace[name]
        except KeyError:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None

    def __dir__() -> list[str]:
        __getattr__("__all__")
        return sorted(globals())
