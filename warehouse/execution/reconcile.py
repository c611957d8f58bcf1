"""Reconciliation: the broker's view against the warehouse's (orders, fills, positions).

Differences reported (``kind``):

* ``order_missing_in_warehouse`` - the broker has an order the warehouse never recorded
  (a worker died after submitting; it is recorded when the event is claimed again);
* ``order_missing_at_broker`` - the warehouse says an order reached the broker, the broker
  does not know it;
* ``order_state`` / ``order_filled_units`` - both know the order, they disagree;
* ``fill_missing_in_warehouse`` / ``fill_missing_at_broker`` / ``fill_mismatch``;
* ``position`` - positions implied by the broker's fills vs ``ops.positions``;
* ``position_vs_fills`` - ``ops.positions`` vs a replay of ``ops.fills`` (internal check).

Positions are compared for the accounts that trade: those with an order at the broker or a
fill in the warehouse. Books written to ``ops.positions`` without fills (the demo book, an
opening balance) have nothing to reconcile against; they are counted in the summary
(``untraded_positions``), not reported as differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from warehouse.execution.broker.base import Broker
from warehouse.execution.positions import Position, replay

PRICE_TOL = 1e-6
PNL_TOL = 1e-4


@dataclass(frozen=True)
class Difference:
    kind: str
    key: str
    broker: Any
    warehouse: Any
    note: str = ""

    def __str__(self) -> str:
        note = f" ({self.note})" if self.note else ""
        return (
            f"{self.kind:28s} {self.key}: broker={self.broker!r} warehouse={self.warehouse!r}{note}"
        )


@dataclass
class ReconcileReport:
    broker_orders: int = 0
    warehouse_orders: int = 0
    broker_fills: int = 0
    warehouse_fills: int = 0
    positions: int = 0
    untraded_positions: int = 0  # positions of accounts without orders or fills (not compared)
    differences: list[Difference] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences

    def summary(self) -> str:
        head = (
            f"reconcile: {self.broker_orders} broker orders, {self.warehouse_orders} warehouse "
            f"orders, {self.broker_fills}/{self.warehouse_fills} fills (broker/warehouse), "
            f"{self.positions} positions"
            + (
                f" ({self.untraded_positions} of accounts without orders or fills, not compared)"
                if self.untraded_positions
                else ""
            )
            + ": "
        )
        if self.ok:
            return head + "no differences"
        lines = [head + f"{len(self.differences)} difference(s)"]
        lines += [f"  {d}" for d in self.differences]
        return "\n".join(lines)


def _same_position(a: Position, b: Position) -> bool:
    return (
        a.quantity == b.quantity
        and abs(a.avg_price - b.avg_price) <= PRICE_TOL
        and abs(a.realized_pnl - b.realized_pnl) <= PNL_TOL
        and abs(a.fees - b.fees) <= PNL_TOL
    )


def reconcile(conn: psycopg.Connection, broker: Broker) -> ReconcileReport:
    """Compare ``broker`` with the warehouse tables; see the module docstring."""
    report = ReconcileReport()
    b_orders = {o.client_order_id: o for o in broker.orders()}
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        w_orders = {
            r[0]: r[1:]
            for r in conn.execute(
                "SELECT o.client_order_id, o.state, o.filled_units, o.broker, e.status "
                "FROM ops.orders o JOIN ops.outbox e ON e.event_id = o.client_order_id"
            )
        }
        w_fills = {
            (r[0], r[1]): r[2:]
            for r in conn.execute(
                "SELECT broker, broker_fill_id, client_order_id, rtrim(contract_symbol), side, "
                "quantity, price, fee FROM ops.fills"
            )
        }
        w_fill_rows = conn.execute(
            "SELECT account, rtrim(contract_symbol), side, quantity, price, fee, multiplier "
            "FROM ops.fills ORDER BY fill_id"
        ).fetchall()
        w_positions = {
            (r[0], r[1]): Position(*r[2:])
            for r in conn.execute(
                "SELECT account, instrument, quantity, avg_price, realized_pnl, fees "
                "FROM ops.positions"
            )
        }
    report.broker_orders, report.warehouse_orders = len(b_orders), len(w_orders)
    report.warehouse_fills, report.positions = len(w_fills), len(w_positions)
    traded = {bo.account for bo in b_orders.values()} | {r[0] for r in w_fill_rows}
    untraded = {k for k in w_positions if k[0] not in traded}
    report.untraded_positions = len(untraded)
    w_positions = {k: v for k, v in w_positions.items() if k not in untraded}
    diffs = report.differences

    for cid, bo in b_orders.items():
        wo = w_orders.get(cid)
        if wo is None:
            diffs.append(Difference("order_missing_in_warehouse", str(cid), bo.state, None))
            continue
        w_state, w_filled, _, ev_status = wo
        if ev_status == "in_flight":
            if w_state != bo.state:
                diffs.append(
                    Difference("order_state", str(cid), bo.state, w_state, "event in flight")
                )
            continue
        if w_state != bo.state:
            diffs.append(Difference("order_state", str(cid), bo.state, w_state))
        if w_filled != bo.filled_units:
            diffs.append(Difference("order_filled_units", str(cid), bo.filled_units, w_filled))
    for cid, (w_state, _, w_broker, _) in w_orders.items():
        if cid not in b_orders and w_broker == broker.name and w_state not in ("new", "expired"):
            diffs.append(Difference("order_missing_at_broker", str(cid), None, w_state))

    broker_fill_rows: list[tuple] = []
    seen: set[tuple[str, str]] = set()
    for bo in sorted(b_orders.values(), key=lambda o: (o.received_at is None, o.received_at)):
        for f in bo.fills:
            report.broker_fills += 1
            key = (bo.broker, f.broker_fill_id)
            seen.add(key)
            broker_fill_rows.append(
                (bo.account, f.contract_symbol, f.side, f.quantity, f.price, f.fee, f.multiplier)
            )
            wf = w_fills.get(key)
            if wf is None:
                diffs.append(
                    Difference("fill_missing_in_warehouse", f.broker_fill_id, f.quantity, None)
                )
                continue
            _, symbol, side, qty, price, fee = wf
            if (
                (symbol, side, qty) != (f.contract_symbol, f.side, f.quantity)
                or abs(price - f.price) > PRICE_TOL
                or abs(fee - f.fee) > PRICE_TOL
            ):
                diffs.append(
                    Difference(
                        "fill_mismatch",
                        f.broker_fill_id,
                        (f.contract_symbol, f.side, f.quantity, f.price, f.fee),
                        (symbol, side, qty, price, fee),
                    )
                )
    for key in w_fills:
        if key[0] == broker.name and key not in seen:
            diffs.append(Difference("fill_missing_at_broker", key[1], None, w_fills[key][3]))

    # positions: quantities from the broker's fills (order of execution across orders may
    # differ from the warehouse's, so only quantities and fees are compared here) ...
    b_positions = replay(broker_fill_rows)
    for key in sorted(set(b_positions) | set(w_positions)):
        b = b_positions.get(key, Position())
        w = w_positions.get(key, Position())
        if b.quantity != w.quantity or abs(b.fees - w.fees) > PNL_TOL:
            diffs.append(
                Difference("position", "/".join(key), (b.quantity, b.fees), (w.quantity, w.fees))
            )
    # ... and ops.positions must be exactly the replay of ops.fills in fill order
    replayed = replay(w_fill_rows)
    for key in sorted(set(replayed) | set(w_positions)):
        r = replayed.get(key, Position())
        w = w_positions.get(key, Position())
        if not _same_position(r, w):
            diffs.append(
                Difference("position_vs_fills", "/".join(key), r, w, "replay of ops.fills")
            )
    return report
