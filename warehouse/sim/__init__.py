"""Deterministic simulated market: ``warehouse simulate``.

``simulate(out, seed, preset, underlyings, days, start)`` writes the same bytes for the same
arguments (every random draw comes from ``numpy.random.Generator(PCG64)`` streams derived
from the seed, see ``streams.py``). The market:

- underlyings with factor-correlated returns (market + sector + idiosyncratic), Heston
  stochastic variance and Merton jumps, on a one-minute grid of real XNYS sessions
  (exchange_calendars; half days close at 13:00), discrete dividends and earnings moves in
  the overnight gaps (``market.py``);
- trades and NBBO quotes around the efficient price with U-shaped intraday activity and
  microstructure noise of known variance (``microstructure.py``);
- daily option chains (snapshot 15:45 New York, 12:45 on half days; weekly and monthly
  expiries out to a year) priced with Black-Scholes-Merton from a known arbitrage-free SVI
  surface with earnings run-up and crush (``surface.py``, ``chains.py``);
- a drifting zero curve (``rates.py``), news headlines whose sentiment moves the price
  (``news.py``), and the ground truth of all of it.

Output layout of ``out`` (loaded by the ``sim`` source, ``warehouse/loaders/sources/sim.py``)::

    manifest.json                       run arguments + sha256/rows/bytes of every other file
                                        (-> sim.runs; its own sha256 is the run id)
    instruments.csv                     -> ref.instruments   (source 'sim', European options)
    rates.csv                           -> ref.rates         (zero rates, cont. comp., ACT/365)
    dividends.csv                       -> ref.dividends     (discrete, cash per share)
    earnings.csv                        -> ref.earnings
    truth/underlyings.parquet           -> sim.underlyings     (Heston, jump, noise, SVI params)
    truth/factor_loadings.parquet       -> sim.factor_loadings
    truth/earnings_events.parquet       -> sim.earnings_events
    truth/underlying_days.parquet       -> sim.underlying_days (efficient OHLC, variances)
    truth/surface_params/YYYY-MM-DD.parquet  -> sim.surface_params (per underlying x expiry)
    truth/news_sentiment/YYYY-MM-DD.parquet  -> sim.news_sentiment (per headline x ticker)
    truth/efficient_prices/YYYY-MM-DD.parquet -> sim.efficient_prices (minute path)
    option_quotes/YYYY-MM-DD.parquet    -> raw.option_quotes
    equity_trades/YYYY-MM-DD.parquet    -> raw.equity_trades
    equity_quotes/YYYY-MM-DD.parquet    -> raw.equity_quotes
    equity_bars/YYYY-MM-DD.parquet      -> raw.equity_bars   (daily bars from the trades,
                                           ts = session open, bar_seconds = 86400)
    news/YYYY-MM-DD.parquet             -> raw.news          (source 'sim')

Parquet files are zstd-compressed with exactly the canonical columns of the target table
(``warehouse/loaders/tables.py`` and ``warehouse/sim/schema.py``); timestamps are UTC
microseconds. Dates in file names are XNYS session dates.

Conventions: vol decimal; option time to expiry in years ACT/365 from the snapshot to the
expiry's close; price-process time in trading years (252 sessions). The continuous dividend
yield ``q`` used to price an expiry is the one equivalent to the discrete dividends going ex
before it: q = -ln(1 - PV(dividends) / S) / T (so F = (S - PV(D)) e^{rT}); the simulated price
drops by the dividend at each ex-date open. Vendor greeks: vega per 1.00 vol, theta per
calendar day. ``seq`` of trades and quotes: 0-based ordinal among rows with the same
(symbol, ts).
"""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from warehouse.sim.presets import DEFAULT_START, PRESETS

if TYPE_CHECKING:
    from warehouse.sim.run import SimSummary

__all__ = ["PRESETS", "add_arguments", "cli_simulate", "run_from_args", "simulate"]


def simulate(
    out: Path,
    seed: int = 42,
    preset: str = "ci",
    underlyings: int | None = None,
    days: int | None = None,
    start: date | None = None,
) -> SimSummary:
    """Write the simulated market of ``preset`` (with overrides) to ``out``."""
    from warehouse.sim.run import simulate as _simulate

    return _simulate(out, seed=seed, preset=preset, underlyings=underlyings, days=days, start=start)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``warehouse simulate`` options to ``parser``."""
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default="ci",
        help="size preset: ci (seconds), demo (~20 x 60 days), "
        "reference-day (500 underlyings, one day)",
    )
    parser.add_argument(
        "--underlyings",
        type=int,
        default=None,
        help="number of underlyings (default: the preset's)",
    )
    parser.add_argument(
        "--days", type=int, default=None, help="number of XNYS sessions (default: the preset's)"
    )
    parser.add_argument(
        "--start",
        type=date.fromisoformat,
        default=None,
        help=f"first session on or after this date (default {DEFAULT_START})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: $WAREHOUSE_VAR_DIR/sim/<preset>-seed<S>)",
    )


def run_from_args(ns: argparse.Namespace) -> int:
    """Run ``simulate`` from parsed arguments, print the summary; exit code 0."""
    out = ns.out
    if out is None:
        from warehouse.config import settings

        out = settings().var_dir / "sim" / f"{ns.preset}-seed{ns.seed}"
    summary = simulate(
        out,
        seed=ns.seed,
        preset=ns.preset,
        underlyings=ns.underlyings,
        days=ns.days,
        start=ns.start,
    )
    print(summary.describe())
    return 0


def cli_simulate(args: list[str] | None = None) -> int:
    """``python -m warehouse.sim [options]``."""
    parser = argparse.ArgumentParser(
        prog="warehouse simulate", description="Write a deterministic simulated market."
    )
    add_arguments(parser)
    return run_from_args(parser.parse_args(args))
