"""The broker adapter interface and what brokers answer.

A broker must be idempotent by client order id: submitting an order whose client order id
it already knows returns that order (its state and fills) instead of creating another. The
worker relies on it after a crash between a submission and its recording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol
from uuid import UUID

from warehouse.execution.models import OrderRequest

# States a broker reports for an order it has seen (a subset of the warehouse's).
BROKER_FINAL_STATES = ("filled", "partially_filled", "cancelled", "rejected", "expired")


class BrokerError(Exception):
    """Base class of broker adapter errors."""


class BrokerUnavailable(BrokerError):
    """Retryable: the broker could not be reached or failed internally; try again later."""


@dataclass(frozen=True)
class BrokerFill:
    """One execution, as the broker reports it (``broker_fill_id`` is unique per broker)."""

    broker_fill_id: str
    leg_no: int
    contract_symbol: str
    side: str
    quantity: int
    price: float  # per share
    fee: float  # USD
    multiplier: int
    quote_ts: datetime | None
    filled_at: datetime


@dataclass(frozen=True)
class BrokerOrder:
    """A broker's view of one order."""

    broker: str
    broker_order_id: str
    client_order_id: UUID
    account: str
    state: str  # one of BROKER_FINAL_STATES (or a working state for live brokers)
    units: int
    filled_units: int
    reason: str | None = None
    fills: tuple[BrokerFill, ...] = field(default_factory=tuple)
    received_at: datetime | None = None
    submissions: int = 1  # how often this client order id was submitted


class Broker(Protocol):
    """What the worker and the reconciliation need from a broker."""

    name: str

    def submit(self, order: OrderRequest) -> BrokerOrder:
        """Place ``order`` (idempotent by ``order.client_order_id``).

        Rejections are answers (state ``rejected`` with a reason), not exceptions; raise
        BrokerUnavailable for anything worth retrying.
        """
        ...

    def lookup(self, client_order_id: UUID) -> BrokerOrder | None:
        """The broker's order for a client order id, or None if it never received it."""
        ...

    def orders(self) -> list[BrokerOrder]:
        """Every order the broker holds (with fills), for reconciliation."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
