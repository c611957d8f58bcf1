"""Broker adapters: the interface (``base``), the pure matching engine (``matching``) and the
paper broker (``paper``, the default)."""

from __future__ import annotations

from warehouse.execution.broker.base import (
    Broker,
    BrokerError,
    BrokerFill,
    BrokerOrder,
    BrokerUnavailable,
)


def make_broker(name: str | None = None) -> Broker:
    """The broker adapter named by ``name`` (default: WAREHOUSE_BROKER)."""
    from warehouse.config import settings

    name = name or settings()["WAREHOUSE_BROKER"]
    if name == "paper":
        from warehouse.execution.broker.paper import PaperBroker

        return PaperBroker()
    raise ValueError(f"unknown broker {name!r}; available: paper")


__all__ = [
    "Broker",
    "BrokerError",
    "BrokerFill",
    "BrokerOrder",
    "BrokerUnavailable",
    "make_broker",
]
