"""iVolatility end-of-day option chains (``spx_sample_ivolatility``, ``RawIV``, ``aapl_sample``).

Columns: ``symbol, exchange, company_name, date, stock_price_close, option_symbol,
option_expiration, strike, call/put, style, ask, bid, mean_price, settlement, iv, volume,
open_interest, stock_price_for_iv, forward_price, isinterpolated, delta, vega, gamma, theta,
rho``. Dates come as ``01/03/2011``, ``1/3/11`` or ``8/7/2014`` (detected per column). The
RawIV file has a UTF-8 BOM and old-Mac CR line ends (normalised before parsing).

-> ``raw.option_quotes``: quote_ts = the date's XNYS close (16:00 America/New_York, 13:00 on
half days; EOD snapshot) as UTC;
underlying = ``symbol``; underlying_last = ``stock_price_close``; bid/ask in currency units;
vendor IV (decimal) and greeks as delivered (iVolatility theta per day, vega per 1.00 vol).
``iv = -1`` is iVolatility's "not computed" marker (greeks then all 0): stored as NULL
vendor_iv (and NULL greeks), so the quote itself still loads.
``isinterpolated='*'`` (IV interpolated by the vendor) has no column and is not kept;
``mean_price``/``settlement``/``forward_price``/``rho`` are not loaded.

Expirations: iVolatility's symbols carry the pre-2015 OSI Saturday (``SPX   110122C...``)
while ``option_expiration`` gives the Friday; both are normalised to the Friday (see
``warehouse.loaders.occ``), so a contract has the same key as in Lean or Cboe data.
"""

from __future__ import annotations

from warehouse.loaders.base import register_source
from warehouse.loaders.sources.generic import (
    ChainMapping,
    GenericChainSource,
)

IVOLATILITY = ChainMapping(
    name="ivolatility",
    description="iVolatility EOD option chains (CSV/CSV.gz): bid/ask, volume, OI, vendor IV",
    columns={
        "symbol": "underlying",
        "date": "quote_date",
        "stock_price_close": "underlying_last",
        "option_symbol": "contract_symbol",
        "option_expiration": "expiration",
        "strike": "strike",
        "call/put": "option_right",
        "ask": "ask",
        "bid": "bid",
        "iv": "vendor_iv",
        "volume": "volume",
        "open_interest": "open_interest",
        "delta": "vendor_delta",
        "vega": "vendor_vega",
        "gamma": "vendor_gamma",
        "theta": "vendor_theta",
    },
    required=(
        "underlying",
        "quote_date",
        "contract_symbol",
        "expiration",
        "strike",
        "option_right",
        "bid",
        "ask",
    ),
    iv_sentinels=(-1.0,),
)

SOURCE = register_source(
    GenericChainSource(
        IVOLATILITY.name,
        IVOLATILITY.description,
        (IVOLATILITY,),
        ("*.csv", "*.csv.gz"),
    )
)
