"""A deterministic demo book in ``ops.positions`` (account ``demo``).

The book's lifecycle is fills -> ``ops.positions`` (the ``ops.apply_fill_to_position``
trigger); until a strategy has traded for a while there is nothing to measure, so the demo
seeds a book directly: ``n_options`` option positions drawn with numpy ``PCG64(seed)`` from the
contracts listed on the as-of date (clean two-sided quotes, 14-120 days to expiry, |delta| in
[0.10, 0.90]), 1-10 contracts each (x ``scale``), short with probability ``short_share`` (a
premium-selling book), plus a partial delta hedge in stock for every other underlying of the
book (80 % of the options' share delta, opposite sign), and, unless ``concentrated_pct`` is 0,
a legacy long stock holding worth ``concentrated_pct`` (25 %) of capital in the book's first
underlying without a hedge: over the 20 % single-name limit, so the demo night's risk run
trips the circuit breaker (``warehouse risk seed-demo-book --concentrated-pct 0`` seeds a book
within every limit). Average prices are the day's mids
(closes for stock), ``fill_count`` 0 marks the rows as seeded, not traded. Same arguments,
same book; a re-seed replaces the account's positions (other accounts are left alone).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import psycopg

DEMO_ACCOUNT = "demo"

UNIVERSE = """
SELECT m.contract_symbol::text, m.underlying, m.delta, m.mid, m.multiplier
  FROM marts.fct_risk_option_marks AS m
 WHERE m.quote_date = %(as_of)s
   AND m.is_quality_ok AND m.bid > 0 AND m.ask > m.bid
   AND m.expiration - m.quote_date BETWEEN 14 AND 120
   AND abs(m.delta) BETWEEN 0.10 AND 0.90
 ORDER BY m.contract_symbol
"""

CLOSES = """
SELECT h.symbol, h.close_price
  FROM marts.fct_risk_factor_history AS h
 WHERE h.trade_date = %(as_of)s AND h.symbol = ANY(%(symbols)s)
"""


@dataclass(frozen=True)
class DemoBook:
    account: str
    as_of: date
    n_options: int
    n_stock: int
    underlyings: int


def _unhedged(unds: list[str], und: str) -> bool:
    """Underlyings at odd positions carry no delta hedge (see ``seed_demo_book``)."""
    return unds.index(und) % 2 == 1


def latest_marks_date(conn: psycopg.Connection) -> date | None:
    """The latest session with option marks (marts.fct_risk_option_marks)."""
    row = conn.execute("SELECT max(quote_date) FROM marts.fct_risk_option_marks").fetchone()
    return row[0] if row else None


def seed_demo_book(
    conn: psycopg.Connection,
    as_of: date | None = None,
    *,
    n_options: int = 200,
    seed: int = 7,
    scale: float = 1.0,
    short_share: float = 0.6,
    concentrated_pct: float = 0.25,
    capital: float | None = None,
    account: str = DEMO_ACCOUNT,
) -> DemoBook:
    """Replace ``account``'s positions with a deterministic demo book (see the module
    docstring); returns what was written. ``ValueError`` when the as-of date has fewer
    eligible contracts than ``n_options``."""
    if not 1 <= n_options <= 5000:
        raise ValueError(f"n_options must be in [1, 5000], got {n_options}")
    as_of = as_of or latest_marks_date(conn)
    if as_of is None:
        raise ValueError("no option marks yet: build marts.fct_risk_option_marks first")
    rows = conn.execute(UNIVERSE, {"as_of": as_of}).fetchall()
    if len(rows) < n_options:
        raise ValueError(
            f"{as_of}: {len(rows)} eligible contracts, fewer than the {n_options} asked for"
        )
    rng = np.random.Generator(np.random.PCG64(seed))
    pick = np.sort(rng.choice(len(rows), size=n_options, replace=False))
    size = rng.integers(1, 11, size=n_options)
    short = rng.random(n_options) < short_share
    qty = np.where(short, -1, 1) * np.maximum(1, np.round(size * scale)).astype(int)
    options = []
    delta_shares: dict[str, float] = {}
    for i, j in enumerate(pick):
        symbol, und, delta, mid, mult = rows[j]
        q = int(qty[i])
        options.append((symbol, q, float(mid), int(mult)))
        delta_shares[und] = delta_shares.get(und, 0.0) + float(delta) * q * int(mult)
    unds = sorted(delta_shares)
    closes = dict(conn.execute(CLOSES, {"as_of": as_of, "symbols": unds}).fetchall())
    stock = []
    for k, und in enumerate(unds):
        shares = -round(0.8 * delta_shares[und])
        if k % 2 == 0 and shares != 0 and closes.get(und):
            stock.append((und, int(shares), float(closes[und]), 1))
    if concentrated_pct > 0:
        if capital is None:
            row = conn.execute(
                "SELECT value FROM ops.risk_parameters WHERE name = 'capital'"
            ).fetchone()
            capital = float(row[0]) if row else 5e6
        held = next(u for u in unds if _unhedged(unds, u) and closes.get(u))
        shares = round(concentrated_pct * capital / float(closes[held]))
        stock.append((held, int(shares), float(closes[held]), 1))
    with conn.transaction():
        conn.execute("DELETE FROM ops.positions WHERE account = %s", (account,))
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ops.positions (account, instrument, quantity, avg_price, "
                "multiplier) VALUES (%s, %s, %s, %s, %s)",
                [(account, s, q, p, m) for s, q, p, m in options + stock],
            )
    return DemoBook(account, as_of, len(options), len(stock), len(unds))
