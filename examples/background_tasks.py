"""Background tasks: submit runs, serve them with a TaskWorker, drain them.

Run it with ``python examples/background_tasks.py``. Three image resizes (an async
task, 2 s of work each) and a notification scheduled an hour later (a sync task, run in
a worker thread) are submitted; one worker serving both tasks, at most 2 runs at a
time, executes them, while ``run_until_idle`` skips the virtual clock to each next
event. Then a task that raises shows fail-fast: the drain raises the task's own
exception, with a note naming the run.
"""

from __future__ import annotations

from datetime import timedelta

import anyio

from orchestrator import Orchestrator, VirtualClock, runs_table, task
from orchestrator.filters import TaskRunSort
from orchestrator.testing import run_until_idle
from orchestrator.workers import TaskWorker


@task(task_key="images.resize", task_run_name="resize-{image}")
async def resize(image: str, width: int) -> str:
    """Resize an image (here: 2 s of virtual time)."""
    await Orchestrator.current().clock.sleep(2)
    return f"{image} at {width}px"


@task(task_key="users.notify", task_run_name="notify-{user}")
def notify(user: str, message: str) -> str:
    """Notify a user; a sync function, so the worker runs it in a thread."""
    return f"told {user}: {message}"


@task(task_key="maths.divide")
def divide(a: int, b: int) -> float:
    """Divide; fails on zero."""
    return a / b


async def run_all() -> None:
    """Submit, serve and drain the runs; then show fail-fast."""
    clock = VirtualClock()
    orchestrator = Orchestrator(clock, seed=5)
    async with orchestrator, TaskWorker(resize, notify, divide, limit=2):
        images = [resize.delay(name, 640) for name in ("cat.png", "dog.png", "owl.png")]
        in_an_hour = clock.now() + timedelta(hours=1)
        note = orchestrator.schedule(in_an_hour, notify, "ada", "3 images are ready")
        drained = await run_until_idle(orchestrator)
        print(f"{drained.finished} runs finished at {drained.ended:%H:%M:%S} (virtual time):")
        for future in [*images, note]:
            print(f"  {future.task_run.name}: {await future.aresult()!r}")
        print(runs_table(orchestrator.read_task_runs(sort=TaskRunSort.EXPECTED_START_TIME_ASC)))
        print("(the worker runs 2 at a time, so the third resize ends 2 s after the others)")

        divide.delay(1, 0)
        try:
            await run_until_idle(orchestrator)
        except ZeroDivisionError as error:
            print(f"\nrun_until_idle raised {error!r}")
            for line in error.__notes__:
                print(f"  {line}")


def main() -> None:
    """Run the example."""
    anyio.run(run_all)


if __name__ == "__main__":
    main()
