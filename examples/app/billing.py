"""A small billing application: the code under test in ``test_billing.py`` beside it.

It stands for "another project" that uses ``orchestrator`` for its background work:
charging customers through a payment gateway (retried on gateway errors, at most two
charges at once under the tag "payments") and sending each customer one receipt per
invoice (cached by invoice, so a receipt is never sent twice). Its tests use the
orchestrator's pytest plugin; run them with ``python -m pytest examples/app -q``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from orchestrator import Orchestrator, TaskRunFuture, task

#: The tag that limits how many charges run at once (see :func:`configure`).
PAYMENTS = "payments"


class GatewayError(Exception):
    """The payment gateway could not be reached; worth retrying."""


class Gateway(Protocol):
    """What the application needs from a payment gateway."""

    def charge(self, customer: str, cents: int) -> str:
        """Charge ``cents`` to ``customer``; return a receipt id or raise GatewayError."""
        ...


class Outbox(Protocol):
    """Where receipts are sent."""

    def send(self, customer: str, text: str) -> None:
        """Send ``text`` to ``customer``."""
        ...


@task(
    task_key="billing.charge",
    retries=2,
    retry_delay_seconds=[60, 300],
    tags=[PAYMENTS],
    task_run_name="charge-{customer}",
)
def charge(gateway: Gateway, customer: str, cents: int) -> str:
    """Charge a customer; a GatewayError fails the run and the policy retries it."""
    if cents <= 0:
        raise ValueError(f"cannot charge {cents} cents to {customer}")
    return gateway.charge(customer, cents)


def _invoice_key(parameters: Mapping[str, Any]) -> str:
    return f"receipt-{parameters['invoice']}"


@task(task_key="billing.send_receipt", cache_key_fn=_invoice_key)
def send_receipt(outbox: Outbox, customer: str, invoice: str) -> str:
    """Send the receipt of one invoice (once: later runs for it end Cached)."""
    text = f"Thank you, {customer}: invoice {invoice} is paid."
    outbox.send(customer, text)
    return text


def configure(orchestrator: Orchestrator, *, concurrent_charges: int = 2) -> None:
    """Set the application's limits up on an orchestrator."""
    orchestrator.create_concurrency_limit(PAYMENTS, concurrent_charges)


def bill(
    orchestrator: Orchestrator, gateway: Gateway, amounts: Mapping[str, int]
) -> dict[str, TaskRunFuture[str]]:
    """Submit one charge per customer; return their futures by customer."""
    return {
        customer: orchestrator.submit(charge, gateway, customer, cents)
        for customer, cents in amounts.items()
    }
