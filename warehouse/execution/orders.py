"""Orders in the warehouse: created before submission, moved along the state machine to what
the broker answered, fills recorded once each (positions follow by trigger)."""

from __future__ import annotations

import psycopg

from warehouse.execution.broker.base import BrokerOrder
from warehouse.execution.models import OrderRequest
from warehouse.execution.state_machine import OrderState, route

# event status that ends an event, by the order's final state
EVENT_STATUS = {"rejected": "rejected", "expired": "expired"}


def event_status_for(order_state: str) -> str:
    """The outbox status that ends an event whose order is in ``order_state``."""
    return EVENT_STATUS.get(order_state, "done")


def ensure_order(conn: psycopg.Connection, request: OrderRequest, broker: str) -> str:
    """Create the order in state ``new`` if it does not exist; return its current state."""
    conn.execute(
        "INSERT INTO ops.orders (client_order_id, intent_id, account, underlying, broker, units) "
        "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (client_order_id) DO NOTHING",
        (
            request.client_order_id,
            request.intent_id,
            request.account,
            request.underlying,
            broker,
            request.units,
        ),
    )
    return conn.execute(
        "SELECT state FROM ops.orders WHERE client_order_id = %s FOR UPDATE",
        (request.client_order_id,),
    ).fetchone()[0]


def _move(
    conn: psycopg.Connection, request: OrderRequest, steps: list[OrderState], reason: str | None
) -> None:
    for step in steps:
        conn.execute(
            "UPDATE ops.orders SET state = %s, reason = coalesce(%s, reason) "
            "WHERE client_order_id = %s",
            (step.value, reason, request.client_order_id),
        )


def record_broker_order(
    conn: psycopg.Connection, request: OrderRequest, order: BrokerOrder
) -> tuple[str, int]:
    """Bring the warehouse's order to the broker's answer: state route, fills (each once).

    Call inside the transaction that also ends the outbox event. Returns the final state and
    the number of fills recorded now (0 when they were recorded before).
    """
    current = ensure_order(conn, request, order.broker)
    steps = route(current, order.state, filled_units=order.filled_units, units=order.units)
    conn.execute(
        "UPDATE ops.orders SET broker_order_id = %s WHERE client_order_id = %s",
        (order.broker_order_id, request.client_order_id),
    )
    _move(conn, request, steps, order.reason)
    new_fills = 0
    for fill in order.fills:
        row = conn.execute(
            "INSERT INTO ops.fills (broker, broker_fill_id, client_order_id, leg_no, account, "
            "contract_symbol, side, quantity, price, fee, multiplier, quote_ts, filled_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (broker, broker_fill_id) DO NOTHING RETURNING fill_id",
            (
                order.broker,
                fill.broker_fill_id,
                request.client_order_id,
                fill.leg_no,
                request.account,
                fill.contract_symbol,
                fill.side,
                fill.quantity,
                fill.price,
                fill.fee,
                fill.multiplier,
                fill.quote_ts,
                fill.filled_at,
            ),
        ).fetchone()
        new_fills += row is not None
    conn.execute(
        "UPDATE ops.orders SET filled_units = %s WHERE client_order_id = %s",
        (order.filled_units, request.client_order_id),
    )
    return order.state, new_fills


def expire_order(conn: psycopg.Connection, request: OrderRequest, reason: str) -> bool:
    """Move an existing order (never submitted) to ``expired``; False if there is none."""
    row = conn.execute(
        "SELECT state FROM ops.orders WHERE client_order_id = %s FOR UPDATE",
        (request.client_order_id,),
    ).fetchone()
    if row is None:
        return False
    _move(conn, request, route(row[0], "expired", filled_units=0, units=request.units), reason)
    return True
