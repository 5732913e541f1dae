"""Coming from Prefect: the task and flow code of Prefect's docs, with only imports changed.

Run it with ``python examples/from_prefect.py``. Each section is written the way Prefect's
documentation writes it; where Prefect says ``from prefect import ...`` (or
``from prefect.tasks import ...``), this file says ``from orchestrator import ...``. The
services the docs call over the network are stand-ins here (they fail on purpose, the
first time), and the whole file runs on a virtual clock with time skipping: retry
delays and cache expirations elapse at once, and every time printed is exact.

Two things have no import to change. Prefect creates tag concurrency limits with its
CLI or API (``prefect concurrency-limit create database 2``); here it is a call on the
orchestrator. And the flows run on the orchestrator of the ``with`` block (or on a fresh
one), not against an API server.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# from prefect import flow, get_run_logger, task
# from prefect.tasks import exponential_backoff, task_input_hash
from orchestrator import (
    Orchestrator,
    VirtualClock,
    exponential_backoff,
    flow,
    get_run_logger,
    task,
    task_input_hash,
)

#: What the stand-in services were asked, in order.
CALLS: list[str] = []


def flaky_service(name: str, failures: int) -> None:
    """Fail the first ``failures`` calls of ``name``, then answer."""
    CALLS.append(name)
    if CALLS.count(name) <= failures:
        raise ConnectionError(f"{name}: service unavailable")


# -- retries, with exponential backoff ---------------------------------------------------------
@task(retries=3, retry_delay_seconds=exponential_backoff(backoff_factor=10))
def get_exchange_rate(currency: str) -> float:
    flaky_service(f"rates/{currency}", failures=2)
    return {"EUR": 1.08, "GBP": 1.27}[currency]


# -- a retry condition: retry network errors only ----------------------------------------------
def retry_network_errors(task: Any, task_run: Any, state: Any) -> bool:
    try:
        state.result()
    except ConnectionError:
        return True
    except Exception:
        return False
    return False


@task(retries=3, retry_condition_fn=retry_network_errors)
def parse_rows(text: str) -> list[int]:
    return [int(row) for row in text.split(",")]  # a ValueError is not worth retrying


# -- caching with a key function and an expiration ---------------------------------------------
@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(hours=1))
def hello_task(name_input: str) -> str:
    CALLS.append(f"hello/{name_input}")
    return f"hello {name_input}"


# -- tags, under a concurrency limit -----------------------------------------------------------
@task(tags=["database"])
def query(table: str) -> int:
    return len(table)


# -- hooks ---------------------------------------------------------------------------------------
HOOKS: list[str] = []


def on_task_done(task: Any, task_run: Any, state: Any) -> None:
    HOOKS.append(f"task {task.name}: {state.name}")


def on_flow_done(flow: Any, flow_run: Any, state: Any) -> None:
    HOOKS.append(f"flow {flow.name}: {state.name}")


@task(on_completion=[on_task_done], on_failure=[on_task_done])
def load(rows: list[int]) -> int:
    logger = get_run_logger()
    logger.info("loading %d rows", len(rows))
    return sum(rows)


# -- a flow calling the tasks: submit, map, wait_for --------------------------------------------
@flow(on_completion=[on_flow_done], log_prints=True)
def daily_report(currencies: list[str]) -> dict[str, Any]:
    logger = get_run_logger()
    logger.info("report for %s", ", ".join(currencies))
    rates = get_exchange_rate.map(currencies)
    counts = [query.submit(table) for table in ("orders", "customers", "invoices")]
    bad = parse_rows(text="1,2,x", return_state=True)  # fails once, not retried
    greeting = hello_task("marvin")
    again = hello_task("marvin")  # a cache hit: the function is not called again
    loaded = load.submit([c.result() for c in counts], wait_for=rates)
    print(f"greeting: {greeting} / {again}")
    return {
        "rates": [round(rate, 2) for rate in rates.result()],
        "rows": loaded.result(),
        "parse": bad.name,
    }


def main() -> None:
    CALLS.clear()
    HOOKS.clear()
    orchestrator = Orchestrator(VirtualClock(), autojump=True, seed=1)
    orchestrator.create_concurrency_limit("database", 2)  # prefect concurrency-limit create
    start = orchestrator.clock.now()
    with orchestrator:
        report = daily_report(["EUR", "GBP"])
    print(f"report: {report}")
    print(f"virtual time: {orchestrator.clock.now() - start}")
    print(f"service calls: {len(CALLS)} ({CALLS.count('hello/marvin')} for the cached task)")
    for line in HOOKS:
        print(f"hook: {line}")
    for record in orchestrator.read_logs():
        print(f"log: {record.timestamp:%H:%M:%S} {record.level_name} {record.message}")
    runs = orchestrator.read_task_runs()
    parse = next(run for run in runs if run.task_key.endswith("parse_rows"))
    print(f"parse_rows: {parse.state_name} after {parse.run_count} attempt")


if __name__ == "__main__":
    main()
