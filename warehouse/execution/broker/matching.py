"""The paper matching engine: pure functions, no database (the backtester reuses them).

An order (one or more legs, in combo units) is matched immediately-or-cancel against the
top of book of each leg's contract:

* price: a buy pays the ask, a sell receives the bid, moved against the trader by a
  slippage of ``slippage x half spread`` and by microstructure noise ``N(0, (noise x half
  spread)^2)`` drawn from a seeded PCG64 generator (one draw per leg, in leg order), floored
  at 0 and rounded to ``tick``;
* limits: a leg whose price is worse than its limit makes the order unmarketable; it does
  not fill immediately (see passive fills);
* size: each leg may take ``floor(participation x quoted size)`` contracts (ask size for a
  buy, bid size for a sell; an unknown size does not limit). The combo fills the largest
  number of whole units every leg can take; the rest is cancelled (IOC);
* fees: ``fee_per_contract`` per contract filled.

A leg without any quote rejects the order; a leg without a usable side (no ask to buy, no
bid above zero to sell) or without size cancels it unfilled.

Passive fills (``MatchParams.passive``, on by default). An unmarketable order is a limit
order resting inside the spread for the rest of its life (a day order). Whether it trades
is decided at once by one draw ``u ~ U(0, 1)`` from the order's generator, taken after the
noise draws (so the immediate prices of the same order do not change when the option is
switched): it fills when ``u < p``, with ``p`` the order's depth into the spread,

    p = sum_legs ratio x clip(limit - bid, 0, spread) / sum_legs ratio x spread   (a buy)

(``ask - limit`` for a sell): 0 for limits at the passive touch (the back of the queue), 1
at the far touch. A combo is one resting order at its net price, hence one ``p``, not a
product over legs. A passive fill trades every leg at its limit (no slippage, no noise:
the order provides liquidity), takes the same quoted sizes as an immediate fill, pays the
same fees, and is reported with ``passive=True``; a leg without a limit counts as at the
far touch and trades at its immediate price. Any leg below its passive touch (a buy limit
under the bid), or without a two-sided quote, gives ``p = 0``. This is a
deliberately simple queue model (linear in depth, one decision per order); the issue asks
for fills against stored quotes, not for a calibrated fill-probability model.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import numpy as np

from warehouse.execution.models import OrderLeg


@dataclass(frozen=True)
class Quote:
    """Top of book of one contract at ``quote_ts``."""

    contract_symbol: str
    quote_ts: datetime | None
    bid: float | None
    ask: float | None
    bid_size: float | None = None
    ask_size: float | None = None

    @property
    def half_spread(self) -> float:
        if self.bid is None or self.ask is None:
            return 0.0
        return max(self.ask - self.bid, 0.0) / 2.0


@dataclass(frozen=True)
class MatchParams:
    """Matching parameters (defaults: the WAREHOUSE_PAPER_* defaults)."""

    slippage: float = 0.5  # x half spread, against the trader
    fee_per_contract: float = 0.65  # USD
    noise: float = 0.1  # sd of the price noise, x half spread
    participation: float = 1.0  # share of the quoted size one order may take
    tick: float = 0.01  # fill prices are rounded to it (0: not rounded)
    passive: bool = True  # unmarketable limits inside the spread may fill at the limit


@dataclass(frozen=True)
class LegExecution:
    """A leg's fill, with the pieces of its price."""

    leg_no: int
    contract_symbol: str
    side: str
    quantity: int
    price: float
    fee: float
    multiplier: int
    quote_ts: datetime | None
    touch: float  # ask for a buy, bid for a sell
    half_spread: float
    slippage: float  # per share, against the trader
    noise: float  # per share, signed (positive = against the trader)
    passive: bool = False  # filled at its limit as a resting order (see the module docstring)


@dataclass(frozen=True)
class MatchResult:
    """Outcome of one IOC match: ``filled``, ``cancelled`` (possibly after a partial fill)
    or ``rejected``."""

    state: str
    units: int
    filled_units: int
    executions: tuple[LegExecution, ...]
    reason: str | None = None


def order_rng(seed: int, client_order_id: UUID) -> np.random.Generator:
    """The noise generator of one order: PCG64 seeded by (seed, client order id), so an
    order's fills do not depend on which orders came before it."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, client_order_id.int])))


def _round(price: float, tick: float) -> float:
    if tick <= 0:
        return price
    return round(round(price / tick) * tick, 10)


def _available(size: float | None, participation: float) -> float:
    if size is None or (isinstance(size, float) and math.isnan(size)):
        return math.inf
    return math.floor(max(size, 0.0) * participation + 1e-9)


def _round_for(price: float, tick: float, buy: bool) -> float:
    """A limit price on the tick grid, never worse for the trader (buy: down, sell: up)."""
    if tick <= 0:
        return price
    steps = price / tick
    steps = math.floor(steps + 1e-9) if buy else math.ceil(steps - 1e-9)
    return round(steps * tick, 10)


def passive_fill_probability(legs: Sequence[OrderLeg], quotes: Mapping[str, Quote]) -> float:
    """Depth of a resting (combo) limit order into the spread, in [0, 1]: the fill probability
    of the passive-fill model (see the module docstring). 0 when a leg has no two-sided
    quote or sits below its passive touch; legs without a limit count as at the far touch."""
    units = math.gcd(*(leg.quantity for leg in legs))
    depth = total = 0.0
    for leg in legs:
        quote = quotes[leg.contract_symbol]
        if quote.bid is None or quote.ask is None or quote.ask <= quote.bid:
            return 0.0
        spread = quote.ask - quote.bid
        ratio = leg.quantity // units
        if leg.limit_price is None:
            d = spread
        elif leg.side == "buy":
            d = leg.limit_price - quote.bid
        else:
            d = quote.ask - leg.limit_price
        if d < -1e-9:
            return 0.0
        depth += ratio * min(max(d, 0.0), spread)
        total += ratio * spread
    return depth / total if total > 0 else 0.0


def match_order(
    legs: Sequence[OrderLeg],
    quotes: Mapping[str, Quote | None],
    params: MatchParams,
    rng: np.random.Generator,
) -> MatchResult:
    """Match ``legs`` against ``quotes`` (by contract symbol); see the module docstring."""
    if not legs:
        raise ValueError("an order needs at least one leg")
    units = math.gcd(*(leg.quantity for leg in legs))
    z = rng.standard_normal(len(legs))
    priced: list[tuple[OrderLeg, Quote, float, float, float, float, float]] = []
    fill_units = units
    unmarketable: str | None = None
    for leg, draw in zip(legs, z, strict=True):
        quote = quotes.get(leg.contract_symbol)
        if quote is None:
            return MatchResult("rejected", units, 0, (), f"no quote for {leg.contract_symbol}")
        buy = leg.side == "buy"
        touch = quote.ask if buy else quote.bid
        if touch is None or touch <= 0:
            side = "ask" if buy else "bid"
            return MatchResult("cancelled", units, 0, (), f"no {side} for {leg.contract_symbol}")
        hs = quote.half_spread
        slip = params.slippage * hs
        noise = float(draw) * params.noise * hs
        raw = touch + slip + noise if buy else touch - slip - noise
        price = _round(max(raw, 0.0), params.tick)
        if (
            unmarketable is None
            and leg.limit_price is not None
            and (
                (buy and price > leg.limit_price + 1e-9)
                or (not buy and price < leg.limit_price - 1e-9)
            )
        ):
            unmarketable = (
                f"not marketable: leg {leg.leg_no} {leg.side} {leg.contract_symbol} at {price:.4f}"
                f" vs limit {leg.limit_price:.4f}"
            )
        ratio = leg.quantity // units
        size = quote.ask_size if buy else quote.bid_size
        avail = _available(size, params.participation)
        if avail != math.inf:
            fill_units = min(fill_units, int(avail // ratio))
        priced.append((leg, quote, touch, hs, slip, noise, price))
    passive = False
    if unmarketable is not None:
        if not params.passive:
            return MatchResult("cancelled", units, 0, (), unmarketable)
        u = float(rng.random())  # drawn after the noise, whatever the outcome
        p = passive_fill_probability(legs, {q.contract_symbol: q for _, q, *_ in priced})
        if u >= p:
            return MatchResult(
                "cancelled",
                units,
                0,
                (),
                f"{unmarketable}; the resting limit did not fill (depth into the spread "
                f"p = {p:.3f}, draw {u:.3f})",
            )
        passive = True
        priced = [
            (
                leg,
                quote,
                touch,
                hs,
                0.0,
                0.0,
                _round_for(leg.limit_price, params.tick, leg.side == "buy"),
            )
            if leg.limit_price is not None
            else (leg, quote, touch, hs, slip, noise, price)
            for leg, quote, touch, hs, slip, noise, price in priced
        ]
    if fill_units <= 0:
        return MatchResult("cancelled", units, 0, (), "no quoted size")
    executions = tuple(
        LegExecution(
            leg_no=leg.leg_no,
            contract_symbol=leg.contract_symbol,
            side=leg.side,
            quantity=fill_units * (leg.quantity // units),
            price=price,
            fee=round(params.fee_per_contract * fill_units * (leg.quantity // units), 10),
            multiplier=leg.multiplier,
            quote_ts=quote.quote_ts,
            touch=touch,
            half_spread=hs,
            slippage=slip,
            noise=noise,
            passive=passive,
        )
        for leg, quote, touch, hs, slip, noise, price in priced
    )
    how = "passive fill at the limit," if passive else "IOC"
    if fill_units == units:
        return MatchResult(
            "filled", units, units, executions, "passive fill at the limit" if passive else None
        )
    return MatchResult(
        "cancelled",
        units,
        fill_units,
        executions,
        f"{how} remainder cancelled: {fill_units} of {units} units filled (quoted size)",
    )
