"""Value types of the execution layer: intents, order requests, claimed outbox events."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

OCC_RE = re.compile(r"^.{6}[0-9]{6}[CP][0-9]{8}$")
SIDES = ("buy", "sell")


class PayloadError(ValueError):
    """An outbox payload that cannot be turned into an order (a poison event)."""


@dataclass(frozen=True)
class IntentLeg:
    """One leg of an intent: an OCC contract, a side, a quantity of contracts, a limit."""

    contract_symbol: str
    side: str
    quantity: int
    limit_price: float | None = None  # per share; None: marketable at any price
    multiplier: int = 100

    def __post_init__(self) -> None:
        if not OCC_RE.match(self.contract_symbol):
            raise ValueError(f"not a 21-character OCC symbol: {self.contract_symbol!r}")
        if self.side not in SIDES:
            raise ValueError(f"side must be buy or sell, got {self.side!r}")
        if int(self.quantity) != self.quantity or self.quantity <= 0:
            raise ValueError(f"quantity must be a positive integer, got {self.quantity!r}")

    def as_json(self) -> dict[str, Any]:
        return {
            "contract_symbol": self.contract_symbol,
            "side": self.side,
            "quantity": int(self.quantity),
            "limit_price": self.limit_price,
            "multiplier": int(self.multiplier),
        }


@dataclass(frozen=True)
class OrderIntent:
    """What a strategy wants to trade, published with :func:`publish_intents`."""

    as_of: date
    account: str
    underlying: str
    strategy: str
    structure: str
    legs: tuple[IntentLeg, ...]
    valid_until: datetime
    market_ts: datetime | None = None  # quotes at or before it price a paper fill
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    intent_id: UUID | None = None  # give one to make re-publication idempotent

    @property
    def aggregate(self) -> str:
        return f"{self.account}|{self.underlying}"


@dataclass(frozen=True)
class OrderLeg:
    """A leg of an order as the broker receives it."""

    leg_no: int
    contract_symbol: str
    side: str
    quantity: int
    limit_price: float | None
    multiplier: int


@dataclass(frozen=True)
class OrderRequest:
    """An order handed to a broker; ``client_order_id`` is the outbox event id."""

    client_order_id: UUID
    intent_id: UUID
    account: str
    underlying: str
    legs: tuple[OrderLeg, ...]
    valid_until: datetime | None
    market_ts: datetime | None

    @property
    def units(self) -> int:
        """Combo units: the gcd of the leg quantities (a 5x10 ratio spread is 5 units of 1:2)."""
        return math.gcd(*(leg.quantity for leg in self.legs))

    def ratio(self, leg: OrderLeg) -> int:
        return leg.quantity // self.units

    @classmethod
    def from_payload(cls, event_id: UUID, payload: dict[str, Any]) -> OrderRequest:
        """Parse a ``submit_order`` payload; raise PayloadError when it is unusable."""
        try:
            legs = tuple(
                OrderLeg(
                    leg_no=int(leg["leg_no"]),
                    contract_symbol=str(leg["contract_symbol"]),
                    side=str(leg["side"]),
                    quantity=int(leg["quantity"]),
                    limit_price=None
                    if leg.get("limit_price") is None
                    else float(leg["limit_price"]),
                    multiplier=int(leg.get("multiplier") or 100),
                )
                for leg in payload["legs"]
            )
            request = cls(
                client_order_id=event_id,
                intent_id=UUID(str(payload["intent_id"])),
                account=str(payload["account"]),
                underlying=str(payload["underlying"]),
                legs=legs,
                valid_until=_ts(payload.get("valid_until")),
                market_ts=_ts(payload.get("market_ts")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise PayloadError(f"unusable submit_order payload: {exc!r}") from exc
        if not legs or any(leg.quantity <= 0 or leg.side not in SIDES for leg in legs):
            raise PayloadError("submit_order payload needs legs with a side and a quantity > 0")
        return request


def _ts(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value))


@dataclass(frozen=True)
class ClaimedEvent:
    """An outbox event this worker holds the lease of."""

    event_id: UUID
    aggregate: str
    aggregate_seq: int
    event_type: str
    payload: dict[str, Any]
    valid_until: datetime
    attempts: int  # claims so far, this one included
    failures: int  # failed attempts since the last replay
    claim_id: int
