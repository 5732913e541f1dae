"""Caching: a cache key, an expiration, Cached states and a refresh.

Run it with ``python examples/caching.py``. ``fetch_quote`` asks a (pretend) rate
service for an exchange rate. Its cache key is the currency, and a result stays valid
for an hour. A second run for the same currency within the hour ends "Cached" with the
first run's result, without calling the service; another currency, an expired entry,
or a run of the task with ``refresh_cache=True`` calls it again, and what it returns
replaces the cached result.

The script is plain synchronous code: ``run_until_idle_sync`` serves the submitted run
with a task worker until it is done. The clock is virtual and moved by hand between
runs, so the times it prints are exact.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from orchestrator import Orchestrator, Task, VirtualClock, task
from orchestrator.testing import run_until_idle_sync


class RateService:
    """A rate service that numbers the quotes it gives."""

    def __init__(self) -> None:
        self.calls = 0

    def quote(self, currency: str) -> str:
        """Return a fresh quote for ``currency``."""
        self.calls += 1
        return f"{currency} quote #{self.calls}"


def by_currency(parameters: dict[str, Any]) -> str:
    """The cache key: runs for one currency share their result."""
    return f"quote-{parameters['currency']}"


@task(cache_key_fn=by_currency, cache_expiration=timedelta(hours=1))
def fetch_quote(service: RateService, currency: str) -> str:
    """Fetch a quote from the service."""
    return service.quote(currency)


def main() -> None:
    """Fetch quotes at different times and print how each run ended."""
    clock = VirtualClock()
    orchestrator = Orchestrator(clock, seed=3)
    service = RateService()
    refreshing = fetch_quote.with_options(refresh_cache=True)

    def fetch(what: str, fetcher: Task[[RateService, str], str], currency: str) -> None:
        future = orchestrator.submit(fetcher, service, currency)
        run_until_idle_sync(orchestrator, fetcher)  # serves this run with `fetcher`
        state = future.state
        print(f"{clock.now():%H:%M}  {what:<24} {state.name:<9}  {future.result()}")

    print(f"{'time':<5}  {'run':<24} {'state':<9}  result")
    fetch("EUR", fetch_quote, "EUR")
    clock.advance(10 * 60)
    fetch("EUR again", fetch_quote, "EUR")
    fetch("GBP", fetch_quote, "GBP")
    clock.advance(55 * 60)
    fetch("EUR, entry expired", fetch_quote, "EUR")
    fetch("GBP, still cached", fetch_quote, "GBP")
    fetch("GBP, refresh_cache=True", refreshing, "GBP")
    fetch("GBP after the refresh", fetch_quote, "GBP")
    print(f"The service was called {service.calls} times for 7 runs.")


if __name__ == "__main__":
    main()
