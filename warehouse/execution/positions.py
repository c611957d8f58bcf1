"""Average-cost position arithmetic: the Python twin of the ``ops.apply_fill_to_position``
trigger, used to recompute positions from fills (reconciliation, tests)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Position:
    """Signed quantity (contracts), average price of the open quantity (per share), realized
    P&L (USD, before fees) and fees (USD)."""

    quantity: int = 0
    avg_price: float = 0.0
    realized_pnl: float = 0.0
    fees: float = 0.0


def apply_fill(
    pos: Position, side: str, quantity: int, price: float, fee: float = 0.0, multiplier: int = 100
) -> Position:
    """The position after one fill: a fill in the direction of the position averages in; one
    against it realizes ``closed x (price - avg) x sign x multiplier`` and, if it flips the
    position, opens the rest at the fill price."""
    signed = quantity if side == "buy" else -quantity
    q, a, r = pos.quantity, pos.avg_price, pos.realized_pnl
    if q == 0 or (q > 0) == (signed > 0):
        a = (abs(q) * a + abs(signed) * price) / (abs(q) + abs(signed))
    else:
        closed = min(abs(q), abs(signed))
        r += closed * (price - a) * (1 if q > 0 else -1) * multiplier
        if abs(signed) > abs(q):
            a = price
        elif abs(signed) == abs(q):
            a = 0.0
    return Position(q + signed, a, r, pos.fees + fee)


def replay(
    fills: Iterable[tuple[str, str, str, int, float, float, int]],
) -> dict[tuple[str, str], Position]:
    """Positions by (account, instrument) from fills ``(account, instrument, side, quantity,
    price, fee, multiplier)`` in execution order."""
    out: dict[tuple[str, str], Position] = {}
    for account, instrument, side, quantity, price, fee, multiplier in fills:
        key = (account, instrument)
        out[key] = apply_fill(out.get(key, Position()), side, quantity, price, fee, multiplier)
    return out
