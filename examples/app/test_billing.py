"""Tests of the billing application, written as its own project would write them.

They use the orchestrator's pytest plugin: the ``orchestrator`` fixture (a fresh
orchestrator on a virtual clock, current for the test, seed 0) and the ``orchestrator``
marker, here turning the teardown guard on: a passing test that leaves a run unfinished
fails. Background runs are served by a TaskWorker and driven by ``run_until_idle``
(``run_until_idle_sync`` in a plain test), which skips the virtual clock over retry
delays, raises a task's exception at once, and raises DrainStalled, saying why, instead
of hanging. Async tests run on every anyio backend installed (anyio's plugin). Run them
with ``python -m pytest examples/app -q``; ``pytest.ini`` beside them makes this folder
their own project.
"""

from __future__ import annotations

import pytest
from billing import GatewayError, bill, charge, configure, send_receipt

from orchestrator import Orchestrator, Running
from orchestrator.testing import (
    DrainStalled,
    assert_state_times,
    assert_states,
    run_until_idle,
    run_until_idle_sync,
)
from orchestrator.workers import TaskWorker

pytestmark = pytest.mark.orchestrator(check_unfinished=True)


class FakeGateway:
    """A gateway that fails ``failures`` times, then numbers its receipts."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0

    def charge(self, customer: str, cents: int) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise GatewayError(f"gateway unreachable (call {self.calls})")
        return f"receipt-{self.calls}-{customer}-{cents}"


class FakeOutbox:
    """Keeps what it is asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send(self, customer: str, text: str) -> None:
        self.sent.append((customer, text))


def test_calling_a_task_runs_the_plain_function() -> None:
    assert charge(FakeGateway(), "ada", 500) == "receipt-1-ada-500"


@pytest.mark.anyio
async def test_a_failed_charge_is_retried_after_60_then_300_seconds(
    orchestrator: Orchestrator,
) -> None:
    configure(orchestrator)
    async with TaskWorker(charge):
        futures = bill(orchestrator, FakeGateway(failures=2), {"ada": 500})
        await run_until_idle(orchestrator)
    assert await futures["ada"].aresult() == "receipt-3-ada-500"
    assert_state_times(
        orchestrator,
        futures["ada"],
        [
            ("Scheduled", 0), ("Pending", 0), ("Running", 0), ("AwaitingRetry", 0),
            ("Pending", 60), ("Retrying", 60), ("AwaitingRetry", 60),
            ("Pending", 360), ("Retrying", 360), ("Completed", 360),
        ],
    )  # fmt: skip


@pytest.mark.anyio
async def test_a_gateway_that_stays_down_fails_the_charge(orchestrator: Orchestrator) -> None:
    configure(orchestrator)
    async with TaskWorker(charge):
        futures = bill(orchestrator, FakeGateway(failures=10), {"bob": 700})
        with pytest.raises(GatewayError, match="call 3") as raised:
            await run_until_idle(orchestrator)  # fail-fast: the task's own exception
    assert "charge-bob" in raised.value.__notes__[0]
    assert_states(
        orchestrator,
        futures["bob"],
        ["Scheduled", "Pending", "Running", "AwaitingRetry", "Pending", "Retrying",
         "AwaitingRetry", "Pending", "Retrying", "Failed"],
    )  # fmt: skip


def test_a_receipt_is_sent_once_per_invoice(orchestrator: Orchestrator) -> None:
    outbox = FakeOutbox()
    first = orchestrator.submit(send_receipt, outbox, "ada", "INV-1")
    run_until_idle_sync(orchestrator, send_receipt)  # a plain test: the sync drain
    again = send_receipt.delay(outbox, "ada", "INV-1")  # the fixture's orchestrator is current
    run_until_idle_sync(orchestrator, send_receipt)
    assert outbox.sent == [("ada", "Thank you, ada: invoice INV-1 is paid.")]
    assert_states(orchestrator, first, ["Scheduled", "Pending", "Running", "Completed"])
    assert_states(orchestrator, again, ["Scheduled", "Pending", "Cached"])
    assert again.result() == first.result()


@pytest.mark.orchestrator(check_unfinished=False)  # it leaves a stuck run behind on purpose
@pytest.mark.anyio
async def test_a_charge_stuck_on_the_only_payments_slot_is_reported(
    orchestrator: Orchestrator,
) -> None:
    configure(orchestrator, concurrent_charges=1)
    stuck = orchestrator.create_task_run("billing.charge", name="stuck", tags={"payments"}).run
    orchestrator.set_task_run_state(stuck.id, Running())  # holds the slot; nobody executes it
    async with TaskWorker(charge):
        bill(orchestrator, FakeGateway(), {"eve": 300})
        with pytest.raises(DrainStalled, match="which no worker is executing") as raised:
            await run_until_idle(orchestrator)  # the hang guard: no hang, a diagnosis
    reasons = {run.name: run.reason for run in raised.value.waiting}
    assert reasons["stuck"] == "no worker is executing it"
    assert reasons["charge-eve"].startswith("waits for a concurrency slot on 'payments'")
