"""Flows: a small ETL pipeline as Prefect users write it, run in this process.

Run it with ``python examples/flows.py``. A ``@flow`` extracts three pages from a flaky
source (an async task retried 30 s apart), transforms them with ``map``, loads them
through a subflow, and returns a report. It runs on a virtual clock with time skipping,
so the retry delays elapse at once and every time printed is exact.
"""

from __future__ import annotations

from orchestrator import (
    Orchestrator,
    TaskRunContext,
    VirtualClock,
    flow,
    get_run_context,
    task,
    unmapped,
)


@task(retries=2, retry_delay_seconds=30, task_run_name="extract-{page}")
async def extract(page: int) -> list[int]:
    context = get_run_context()
    assert isinstance(context, TaskRunContext)
    if page == 2 and context.task_run.run_count == 1:
        raise ConnectionError(f"page {page}: source busy")  # retried 30 s later
    return [page * 10 + i for i in range(3)]


@task(task_run_name=lambda parameters: f"transform-{parameters['rows'][0] // 10}")
def transform(rows: list[int], factor: int) -> int:
    return sum(rows) * factor


@task(task_run_name="load-{total}")
def load(total: int) -> str:
    return f"loaded {total}"


@flow(flow_run_name=lambda: "load-all")
def load_all(totals: list[int]) -> str:
    return load(sum(totals))


@flow
def etl(pages: int) -> str:
    extracted = [extract.submit(page) for page in range(1, pages + 1)]
    totals = transform.map(extracted, unmapped(2))
    return load_all(totals.result())


def main() -> None:
    orchestrator = Orchestrator(VirtualClock(), autojump=True, seed=7)
    start = orchestrator.clock.now()
    with orchestrator:
        state = etl(3, return_state=True)
    print(f"etl: {state.name}, {state.result()}")
    print(f"virtual time taken: {orchestrator.clock.now() - start}")
    for run in sorted(orchestrator.read_task_runs(), key=lambda run: run.name):
        states = [s.name for s in orchestrator.read_task_run_states(run.id)]
        print(f"  {run.name:<12} {' > '.join(states)}")
    for flow_run in sorted(orchestrator.read_flow_runs(), key=lambda run: run.name):
        kind = "subflow" if flow_run.parent_task_run_id is not None else "flow"
        name = orchestrator.read_flow(flow_run.flow_id).name
        print(f"  {kind} {name} ({flow_run.name}): {flow_run.state_name}")


if __name__ == "__main__":
    main()
