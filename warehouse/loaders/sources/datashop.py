"""Option EOD vendor samples shipped with optopsy: three layouts, told apart by the header.

* ``A.csv`` -- DeltaNeutral/L2 "options" layout: ``UnderlyingSymbol, UnderlyingPrice, Flags,
  OptionSymbol (compact OSI), Type (call/put), Expiration, DataDate, Strike, Last, Bid, Ask,
  Volume, OpenInterest, T1OpenInterest, IVMean, IVBid, IVAsk, Delta, Gamma, Theta, Vega, AKA``.
  IVMean -> vendor_iv (decimal); T1OpenInterest/IVBid/IVAsk are not loaded.
* ``VXX.csv.gz`` -- historicaloptiondata.com layout: ``underlying, underlying_last, exchange,
  optionroot (compact OSI), optionext, type, expiration, quotedate, strike, last, bid, ask,
  volume, openinterest, impliedvol, delta, gamma, theta, vega, optionalias``.
* ``vix_options_cboe_datashop_20160601.csv`` -- Cboe DataShop "Option EOD" layout with two
  quote snapshots per record: 15:45 (``*_1545``) and end of day (``*_eod``). Each record gives
  TWO ``raw.option_quotes`` rows: one at 15:45 New York (15 minutes before the XNYS close:
  12:45 on half days; bid/ask/sizes, underlying bid/ask, open interest) and one at the close
  (EOD bid/ask/sizes -- all 0 in the sample --, underlying bid/ask, close -> last,
  trade_volume -> volume, open interest). Volume sits on the EOD row only, so summing rows
  does not double count. ``^VIX`` -> ``VIX``. open/high/low/vwap/delivery_code not loaded.

All: quote_ts for a date-only snapshot = the XNYS close of the date (16:00 America/New_York,
13:00 on half days; the warehouse's EOD convention, also for index options that close at
16:15) as UTC; prices in currency units; dates ``mm/dd/yyyy`` or ISO. A file name with one
date (``..._20160601.csv``) declares the file's trading day.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from warehouse.loaders.base import Batch, register_source
from warehouse.loaders.parsing import (
    Flags,
    canonical_frame,
    file_date,
)
from warehouse.loaders.sources.generic import (
    ChainMapping,
    GenericChainSource,
    apply_mapping,
    read_table,
)
from warehouse.loaders.tables import OPTION_QUOTES

_GREEKS = {
    "delta": "vendor_delta",
    "gamma": "vendor_gamma",
    "theta": "vendor_theta",
    "vega": "vendor_vega",
}

DELTANEUTRAL = ChainMapping(
    name="datashop-deltaneutral",
    description="DeltaNeutral/L2 option EOD layout (UnderlyingSymbol, OptionSymbol, IVMean...)",
    columns={
        "UnderlyingSymbol": "underlying",
        "UnderlyingPrice": "underlying_last",
        "OptionSymbol": "contract_symbol",
        "Type": "option_right",
        "Expiration": "expiration",
        "DataDate": "quote_date",
        "Strike": "strike",
        "Last": "last",
        "Bid": "bid",
        "Ask": "ask",
        "Volume": "volume",
        "OpenInterest": "open_interest",
        "IVMean": "vendor_iv",
        **{k.title(): v for k, v in _GREEKS.items()},
    },
    required=(
        "underlying",
        "contract_symbol",
        "option_right",
        "expiration",
        "quote_date",
        "strike",
        "bid",
        "ask",
    ),
)

HISTORICALOPTIONDATA = ChainMapping(
    name="datashop-historicaloptiondata",
    description="historicaloptiondata.com layout (underlying, optionroot, quotedate...)",
    columns={
        "underlying": "underlying",
        "underlying_last": "underlying_last",
        "optionroot": "contract_symbol",
        "type": "option_right",
        "expiration": "expiration",
        "quotedate": "quote_date",
        "strike": "strike",
        "last": "last",
        "bid": "bid",
        "ask": "ask",
        "volume": "volume",
        "openinterest": "open_interest",
        "impliedvol": "vendor_iv",
        **_GREEKS,
    },
    required=(
        "underlying",
        "contract_symbol",
        "option_right",
        "expiration",
        "quote_date",
        "strike",
        "bid",
        "ask",
    ),
)

_CBOE_COMMON = {
    "underlying_symbol": "underlying",
    "quote_date": "quote_date",
    "root": "root",
    "expiration": "expiration",
    "strike": "strike",
    "option_type": "option_right",
    "open_interest": "open_interest",
}
CBOE_1545 = ChainMapping(
    name="datashop-cboe-1545",
    description="Cboe DataShop Option EOD, 15:45 snapshot",
    columns={
        **_CBOE_COMMON,
        "bid_size_1545": "bid_size",
        "bid_1545": "bid",
        "ask_size_1545": "ask_size",
        "ask_1545": "ask",
        "underlying_bid_1545": "underlying_bid",
        "underlying_ask_1545": "underlying_ask",
    },
    required=(
        "underlying",
        "quote_date",
        "root",
        "expiration",
        "strike",
        "option_right",
        "bid",
        "ask",
    ),
    eod_time="close-15",
)
CBOE_EOD = replace(
    CBOE_1545,
    name="datashop-cboe-eod",
    description="Cboe DataShop Option EOD, EOD snapshot",
    columns={
        **_CBOE_COMMON,
        "bid_size_eod": "bid_size",
        "bid_eod": "bid",
        "ask_size_eod": "ask_size",
        "ask_eod": "ask",
        "underlying_bid_eod": "underlying_bid",
        "underlying_ask_eod": "underlying_ask",
        "close": "last",
        "trade_volume": "volume",
    },
    eod_time="close",
)


class DataShopSource(GenericChainSource):
    """``datashop``: picks the layout from the header; DataShop files give two snapshots."""

    def parse(self, path: Path) -> Iterator[Batch]:
        src, rejects, lookup = read_table(path)
        mapping = self.pick(src, path)
        if mapping is not CBOE_1545:
            yield from super().parse(path)
            return
        parts = [apply_mapping(m, src, path) for m in (CBOE_1545, CBOE_EOD)]
        frame = canonical_frame(pd.concat([f for f, _ in parts], ignore_index=True))
        flags = Flags(len(frame))
        offset = 0
        for f, fl in parts:
            for reason, mask in fl.masks.items():
                full = np.zeros(len(frame), dtype=bool)
                full[offset : offset + len(f)] = mask
                flags.add(reason, full)
            offset += len(f)
        day = file_date(path)
        yield Batch(
            OPTION_QUOTES.name,
            frame,
            rejects,
            flags.frame(),
            None if day is None else day.date(),
            lookup,
        )


SOURCE = register_source(
    DataShopSource(
        "datashop",
        "Option EOD vendor samples (DeltaNeutral, historicaloptiondata.com, Cboe DataShop)",
        (DELTANEUTRAL, HISTORICALOPTIONDATA, CBOE_1545),
        ("*.csv", "*.csv.gz"),
    )
)
