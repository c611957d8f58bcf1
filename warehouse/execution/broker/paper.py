"""The paper broker: the matching engine against stored quotes, with a book of its own.

Conceptually the broker's side of the wire, in the warehouse's database for convenience:
orders live in ``ops.broker_paper_orders`` keyed by client order id (a resubmission returns
the existing order and counts it in ``submissions``), fills in ``ops.broker_paper_fills``.
Quotes come from ``raw.option_quotes`` through ``ops.paper_latest_quote`` (the latest quote
of the contract at or before the order's market time: the intent's ``market_ts`` if it has
one, else the moment the broker receives the order). Matching is
:func:`warehouse.execution.broker.matching.match_order` (IOC at the touch; a limit inside the
spread fills at the limit with the seeded passive-fill probability), with noise seeded per
client order id. The broker keeps its own connection (role ``worker``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from warehouse.execution.broker.base import BrokerFill, BrokerOrder, BrokerUnavailable
from warehouse.execution.broker.matching import MatchParams, Quote, match_order, order_rng
from warehouse.execution.models import OrderRequest
from warehouse.execution.settings import PaperConfig

log = logging.getLogger(__name__)
T = TypeVar("T")

SUBMIT = """
INSERT INTO ops.broker_paper_orders AS o
    (client_order_id, account, legs, units, market_ts, good_till)
VALUES (%(cid)s, %(account)s, %(legs)s, %(units)s,
        coalesce(%(market_ts)s::timestamptz, clock_timestamp()), %(good_till)s)
ON CONFLICT (client_order_id) DO UPDATE SET submissions = o.submissions + 1
RETURNING broker_order_id, (xmax = 0) AS inserted, market_ts,
          (good_till IS NOT NULL AND clock_timestamp() > good_till) AS past_good_till
"""

ORDER_COLUMNS = """
SELECT broker_order_id, client_order_id, account, state, units, filled_units, reason,
       received_at, submissions
  FROM ops.broker_paper_orders
"""

FILL_COLUMNS = """
SELECT broker_order_id, broker_fill_id, leg_no, rtrim(contract_symbol), side, quantity, price,
       fee, multiplier, quote_ts, filled_at
  FROM ops.broker_paper_fills
"""


class PaperBroker:
    """Broker adapter over the paper matching engine (see the module docstring)."""

    name = "paper"

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection] | None = None,
        config: PaperConfig | None = None,
        *,
        tick: float = 0.01,
    ) -> None:
        if connect is None:
            from warehouse.db.connect import connect as db_connect

            def connect() -> psycopg.Connection:
                return db_connect("worker", autocommit=True)

        self._connect = connect
        self.config = config or PaperConfig.from_settings()
        self.params = MatchParams(
            slippage=self.config.slippage,
            fee_per_contract=self.config.fee_per_contract,
            noise=self.config.noise,
            participation=self.config.participation,
            tick=tick,
            passive=self.config.passive,
        )
        self._conn: psycopg.Connection | None = None

    # -- connection ------------------------------------------------------------------------

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
            self._conn.autocommit = True
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            finally:
                self._conn = None

    def _run(self, fn: Callable[[psycopg.Connection], T]) -> T:
        """Run ``fn`` on the broker's connection; reconnect once if it was broken (every
        broker call is idempotent, so a repeat after a lost acknowledgement is harmless)."""
        for attempt in (1, 2):
            try:
                return fn(self._connection())
            except psycopg.OperationalError as exc:
                self.close()
                if attempt == 2:
                    raise BrokerUnavailable(f"paper broker: database unreachable: {exc}") from exc
                log.info("paper broker: connection lost (%s); reconnecting", exc)
            except psycopg.Error as exc:
                raise BrokerUnavailable(f"paper broker: internal error: {exc}") from exc
        raise AssertionError("unreachable")

    # -- API -------------------------------------------------------------------------------

    def submit(self, order: OrderRequest) -> BrokerOrder:
        result = self._run(lambda conn: self._submit(conn, order))
        if self.config.latency_ms > 0:  # the acknowledgement travelling back
            time.sleep(self.config.latency_ms / 1000.0)
        return result

    def lookup(self, client_order_id: UUID) -> BrokerOrder | None:
        def fn(conn: psycopg.Connection) -> BrokerOrder | None:
            row = conn.execute(
                "SELECT broker_order_id FROM ops.broker_paper_orders WHERE client_order_id = %s",
                (client_order_id,),
            ).fetchone()
            return None if row is None else self._load(conn, row[0])

        return self._run(fn)

    def orders(self) -> list[BrokerOrder]:
        def fn(conn: psycopg.Connection) -> list[BrokerOrder]:
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                fills: dict[int, list[BrokerFill]] = {}
                for row in conn.execute(FILL_COLUMNS + " ORDER BY broker_order_id, leg_no"):
                    fills.setdefault(row[0], []).append(_fill(row[1:]))
                rows = conn.execute(ORDER_COLUMNS + " ORDER BY broker_order_id").fetchall()
            return [self._order(row, fills.get(row[0], [])) for row in rows]

        return self._run(fn)

    # -- internals -------------------------------------------------------------------------

    def _submit(self, conn: psycopg.Connection, order: OrderRequest) -> BrokerOrder:
        with conn.transaction():
            broker_order_id, inserted, market_ts, past_good_till = conn.execute(
                SUBMIT,
                {
                    "cid": order.client_order_id,
                    "account": order.account,
                    "legs": Jsonb([_leg_json(leg) for leg in order.legs]),
                    "units": order.units,
                    "market_ts": order.market_ts,
                    "good_till": order.valid_until,
                },
            ).fetchone()
            if not inserted:
                log.info(
                    "paper broker: client order id %s known; returning it", order.client_order_id
                )
                return self._load(conn, broker_order_id)
            if past_good_till:
                conn.execute(
                    "UPDATE ops.broker_paper_orders SET state = 'expired', reason = %s "
                    "WHERE broker_order_id = %s",
                    ("received after its good-till time", broker_order_id),
                )
                return self._load(conn, broker_order_id)
            quotes = {
                leg.contract_symbol: self._quote(conn, leg.contract_symbol, market_ts)
                for leg in order.legs
            }
            result = match_order(
                order.legs, quotes, self.params, order_rng(self.config.seed, order.client_order_id)
            )
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO ops.broker_paper_fills (broker_fill_id, broker_order_id, "
                    "client_order_id, account, leg_no, contract_symbol, side, quantity, price, "
                    "fee, multiplier, quote_ts) "
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            f"P{broker_order_id}-{ex.leg_no}",
                            broker_order_id,
                            order.client_order_id,
                            order.account,
                            ex.leg_no,
                            ex.contract_symbol,
                            ex.side,
                            ex.quantity,
                            ex.price,
                            ex.fee,
                            ex.multiplier,
                            ex.quote_ts,
                        )
                        for ex in result.executions
                    ],
                )
            conn.execute(
                "UPDATE ops.broker_paper_orders SET state = %s, filled_units = %s, reason = %s "
                "WHERE broker_order_id = %s",
                (result.state, result.filled_units, result.reason, broker_order_id),
            )
            return self._load(conn, broker_order_id)

    @staticmethod
    def _quote(conn: psycopg.Connection, contract_symbol: str, at: Any) -> Quote | None:
        row = conn.execute(
            "SELECT contract_symbol, quote_ts, bid, ask, bid_size, ask_size "
            "FROM ops.paper_latest_quote(%s::bpchar, %s)",
            (contract_symbol, at),
        ).fetchone()
        return None if row is None else Quote(contract_symbol, *row[1:])

    def _load(self, conn: psycopg.Connection, broker_order_id: int) -> BrokerOrder:
        row = conn.execute(
            ORDER_COLUMNS + " WHERE broker_order_id = %s", (broker_order_id,)
        ).fetchone()
        fills = [
            _fill(r[1:])
            for r in conn.execute(
                FILL_COLUMNS + " WHERE broker_order_id = %s ORDER BY leg_no", (broker_order_id,)
            )
        ]
        return self._order(row, fills)

    def _order(self, row: tuple, fills: list[BrokerFill]) -> BrokerOrder:
        (oid, cid, account, state, units, filled_units, reason, received_at, submissions) = row
        return BrokerOrder(
            broker=self.name,
            broker_order_id=str(oid),
            client_order_id=cid,
            account=account,
            state=state,
            units=units,
            filled_units=filled_units,
            reason=reason,
            fills=tuple(fills),
            received_at=received_at,
            submissions=submissions,
        )


def _leg_json(leg: Any) -> dict[str, Any]:
    return {
        "leg_no": leg.leg_no,
        "contract_symbol": leg.contract_symbol,
        "side": leg.side,
        "quantity": leg.quantity,
        "limit_price": leg.limit_price,
        "multiplier": leg.multiplier,
    }


def _fill(row: tuple) -> BrokerFill:
    (fill_id, leg_no, symbol, side, quantity, price, fee, multiplier, quote_ts, filled_at) = row
    return BrokerFill(
        broker_fill_id=fill_id,
        leg_no=leg_no,
        contract_symbol=symbol,
        side=side,
        quantity=quantity,
        price=price,
        fee=fee,
        multiplier=multiplier,
        quote_ts=quote_ts,
        filled_at=filled_at,
    )
