"""Execution: the transactional outbox, the crash-safe worker and the brokers.

Data flow: a strategy publishes order intents with :func:`publish_intents` (intent, legs and
outbox event in one transaction); ``warehouse worker`` claims outbox events (``FOR UPDATE
SKIP LOCKED`` with a lease, strictly in order per account and underlying), hands each order
to a broker with the event id as the client order id, and records the broker's answer
(order state, fills, positions) and the end of the event in one transaction. Every step is
safe to repeat, so a worker killed at any point is replaced without duplicates.

Modules: ``models`` (intents, orders, events), ``outbox`` (publication, claims, retries),
``state_machine`` (order states), ``orders`` (recording broker answers), ``positions``
(average-cost arithmetic), ``control`` (halt, resume, kill switch), ``worker``,
``reconcile``, ``broker`` (adapter interface, the pure matching engine, the paper broker).
"""

from __future__ import annotations

from typing import Any

__all__ = ["IntentLeg", "OrderIntent", "publish_intents"]


def __getattr__(name: str) -> Any:  # lazy: `warehouse --help` should not import numpy
    if name in ("IntentLeg", "OrderIntent"):
        from warehouse.execution import models

        return getattr(models, name)
    if name == "publish_intents":
        from warehouse.execution.outbox import publish_intents

        return publish_intents
    raise AttributeError(name)
