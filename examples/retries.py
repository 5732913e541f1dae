"""Retries with back-off and jitter, on a virtual clock.

Run it with ``python examples/retries.py``. A task sends an email through a mail server
that times out twice, then delivers. Its retries wait 10 s, then 60 s, then 300 s (a
list of delays); a copy with a jitter factor of 0.5 draws each delay at random, up to
1.5 times its length; a copy with a single retry runs out of retries and fails.

A task worker runs all three while ``run_until_idle`` skips the virtual clock to each
next retry, so the script ends at once and prints every state at its exact virtual
time. The orchestrator's seed fixes the jitter: the output is the same on every run.
"""

from __future__ import annotations

from datetime import datetime

from orchestrator import Orchestrator, State, TaskRunFuture, VirtualClock, task
from orchestrator.testing import run_until_idle_sync


class MailServer:
    """A mail server that times out ``failures`` times, then delivers."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0

    def deliver(self, to: str) -> str:
        """Deliver one email, or time out while failures are left."""
        self.attempts += 1
        if self.attempts <= self.failures:
            raise TimeoutError(f"SMTP timeout on attempt {self.attempts}")
        return f"delivered to {to} on attempt {self.attempts}"


@task(retries=3, retry_delay_seconds=[10, 60, 300], task_run_name="email-{to}")
def send_email(server: MailServer, to: str) -> str:
    """Send one email; a timeout fails the run, and the policy retries it."""
    return server.deliver(to)


def hms(when: datetime | None) -> str:
    """Show a time of day to the microsecond, without a fraction when it has none."""
    assert when is not None
    return f"{when:%H:%M:%S.%f}".removesuffix(".000000")


def describe(state: State) -> str:
    """Return one line: the state's exact virtual time, its name, and what it holds."""
    if state.name == "AwaitingRetry":
        note = f"until {hms(state.details.scheduled_time)}"
    else:
        note = "" if state.data is None else repr(state.data)
    return f"  {hms(state.timestamp):<15}  {state.name:<13}  {note}".rstrip()


def main() -> None:
    """Submit three runs, drain them, and print their state histories."""
    orchestrator = Orchestrator(VirtualClock(), seed=7)
    jittered = send_email.with_options(retry_jitter_factor=0.5)
    one_retry = send_email.with_options(retries=1)
    futures: dict[str, TaskRunFuture[str]] = {
        "delays 10, 60, 300 s": orchestrator.submit(send_email, MailServer(2), "ada"),
        "the same with jitter 0.5": orchestrator.submit(jittered, MailServer(2), "bob"),
        "a single retry": orchestrator.submit(one_retry, MailServer(5), "eve"),
    }
    # A task worker serves the runs while the drain skips the clock to each next retry.
    drained = run_until_idle_sync(orchestrator, send_email, fail_fast=False)
    for title, future in futures.items():
        print(f"{future.task_run.name}, {title}:")
        for state in orchestrator.read_task_run_states(future.task_run.id):
            print(describe(state))
    print(f"The drain jumped the clock {drained.jumps} times, to {hms(drained.ended)}.")
    print("Failed:", ", ".join(failure.name for failure in drained.failures))


if __name__ == "__main__":
    main()
