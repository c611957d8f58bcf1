"""Order states and the transitions allowed between them.

The same table lives in the database (``ops.order_state_transitions``, enforced by a trigger
on ``ops.orders``); this module checks moves before they are sent and plans the route from
the warehouse's state of an order to the state its broker reports.
"""

from __future__ import annotations

from enum import StrEnum


class OrderState(StrEnum):
    NEW = "new"
    SUBMITTED = "submitted"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    EXPIRED = "expired"


S = OrderState

TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.NEW: frozenset({S.SUBMITTED, S.REJECTED, S.EXPIRED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.REJECTED, S.EXPIRED}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELLED, S.EXPIRED}),
    S.FILLED: frozenset(),
    S.CANCELLED: frozenset(),
    S.REJECTED: frozenset(),
    S.EXPIRED: frozenset(),
}

TERMINAL: frozenset[OrderState] = frozenset(s for s, nxt in TRANSITIONS.items() if not nxt)


class IllegalTransition(ValueError):
    """An order state move that the state machine does not allow."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"illegal order state transition {current} -> {target}")
        self.current = current
        self.target = target


def check_transition(current: str, target: str) -> OrderState:
    """Return ``target`` as an OrderState if ``current -> target`` is allowed, else raise."""
    try:
        cur, tgt = OrderState(current), OrderState(target)
    except ValueError as exc:
        raise IllegalTransition(current, target) from exc
    if tgt not in TRANSITIONS[cur]:
        raise IllegalTransition(current, target)
    return tgt


def is_terminal(state: str) -> bool:
    return OrderState(state) in TERMINAL


def route(current: str, final: str, *, filled_units: int, units: int) -> list[OrderState]:
    """The states to pass through, in order, from ``current`` to a broker's ``final`` state.

    An order the broker accepted passes through ``submitted``, and through
    ``partially_filled`` when some but not all of it filled before it ended (an IOC
    remainder cancelled, an expiry). A rejection or an expiry before acceptance goes
    straight from ``new``. Every step is checked; an impossible route raises
    IllegalTransition. Already in ``final``: no steps.
    """
    cur, fin = OrderState(current), OrderState(final)
    if cur == fin:
        return []
    steps: list[OrderState] = []
    state = cur

    def go(nxt: OrderState) -> None:
        nonlocal state
        if nxt != state:
            check_transition(state, nxt)
            steps.append(nxt)
            state = nxt

    if fin in (S.REJECTED, S.EXPIRED) and filled_units == 0:
        go(fin)
        return steps
    if state == S.NEW:
        go(S.SUBMITTED)
    if 0 < filled_units < units or fin == S.PARTIALLY_FILLED:
        go(S.PARTIALLY_FILLED)
    go(fin)
    return steps
