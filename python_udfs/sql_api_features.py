"""SQL registry of the underlying-feature functions (``python_udfs.features``,
``python_udfs.news_sentiment``).

Appended to ``python_udfs.sql_api`` (its ``EXTENSIONS``): two batch functions, each called once
per symbol (or per symbol and batch of days) by the ``int_underlying_*`` dbt models, and the
headline sentiment scorer, called once per session by ``int_news_sentiment_daily``.

- ``quant.underlying_daily_features(open_, high, low, close, volume)``: one symbol's daily
  bars ordered by trade date -> ``quant.underlying_daily_features_arrays`` (one float8[] per
  feature, aligned with the input). Units: returns log decimal (not annualised); SMA / EWMA /
  MACD price per share; RSI 0..100; volume_sma_20 shares; rv_* and garch_* annualised
  volatility, decimal per sqrt(year) with 252 trading days a year; skew / kurt dimensionless
  (excess kurtosis).
- ``quant.underlying_intraday_rv(bar_counts, tick_counts, bar_close, tick_price)``: per-day
  counts plus the days' 1-minute bar closes / trade prices concatenated ->
  ``quant.underlying_intraday_rv_arrays`` (one float8[] per field, one element per day), in
  decimal^2 per session (not annualised).
- ``quant.headline_sentiment_batch(headlines text[])``: headline texts (e.g.
  ``array_agg(headline ORDER BY ...)``, one session's) -> ``float8[]`` of lexicon
  sentiment scores in [-1, 1] (``python_udfs.news_sentiment``), called once per session by
  ``int_news_sentiment_daily`` (a whole ``text[]``: PL/Python hands it over as one list).
"""

from __future__ import annotations

from python_udfs.features import DAILY_FEATURES, INTRADAY_FIELDS
from python_udfs.news_sentiment import NEUTRAL_BAND, SMOOTHING_K
from python_udfs.sql_api import Arg, CompositeType, Function

__all__ = ["FUNCTIONS", "TYPES"]

_DAILY_UNITS = (
    "Point in time: element i uses days 0..i only. Units: ret_1d/5d/20d log returns "
    "ln(C_i/C_(i-k)), decimal; sma_n, ewma_span (alpha 2/(span+1), seeded at the first close, "
    "adjust=False), macd_line/signal/hist (12/26/9) price per share; rsi_14 Wilder RSI 0..100; "
    "volume_sma_20 shares; rv_<est>_<w> annualised volatility, decimal per sqrt(year), 252 "
    "trading days a year, over the trailing w trading days (w in 10, 14, 30, 60, 91, 122, 152, "
    "182, 273, 365; est cc close-to-close, pk Parkinson, gk Garman-Klass, rs Rogers-Satchell: "
    "open-to-close only, yz Yang-Zhang); skew_n / kurt_n bias-corrected skewness / excess "
    "kurtosis of the trailing n daily log returns; garch_vol GARCH(1,1) conditional vol of "
    "day i's return (parameters fitted on returns before i: expanding window refitted every "
    "21 days from 250 returns, NULL before), garch_forecast_1d the next day's conditional vol "
    "given returns up to i, both annualised decimal. NULL during warm-up."
)

_INTRADAY_UNITS = (
    "Decimal^2 per session (not annualised): rv_1m realized variance of the 1-minute bar "
    "closes, rv_tick of the trade prices, noise_var = rv_tick / (2 n) (n tick returns; Zhang, "
    "Mykland & Ait-Sahalia 2005), noise_var_bc = (rv_tick - tsrv) / (2 n) (integrated-"
    "variance bias removed), tsrv two-scales realized variance from the trades (K = "
    "round(n^(2/3)) sub-grids, small-sample adjusted). NULL with fewer than 2 prices (4 for "
    "tsrv, noise_var_bc)."
)

TYPES: tuple[CompositeType, ...] = (
    CompositeType(
        "underlying_daily_features_arrays",
        tuple((f, "float8[]") for f in DAILY_FEATURES),
        "Daily features of one symbol (quant.underlying_daily_features), one array per feature "
        "in input (trade date) order. " + _DAILY_UNITS,
    ),
    CompositeType(
        "underlying_intraday_rv_arrays",
        tuple((f, "float8[]") for f in INTRADAY_FIELDS),
        "Intraday realized measures of a batch of days (quant.underlying_intraday_rv), one "
        "array per field, one element per day. " + _INTRADAY_UNITS,
    ),
)

_PX = "per share, one element per trade date in date order"

_SENTIMENT_UNITS = (
    "Finance-lexicon headline sentiment, dimensionless in [-1, 1]: s = (P - N) / (P + N + "
    f"{SMOOTHING_K:g}) with P / N the summed weights of the positive / negative finance words "
    "and phrases of the headline (1 each, 2 for strong words such as plunge or soar; a "
    "signed percentage move counts 1), after negation (not, no, never, without, n't, fails "
    "to ... flip the next 3 words); 0 without evidence; a NULL or JSON null text gives a "
    f"NULL element. Neutral band |s| <= {NEUTRAL_BAND:g} (positive above, negative below)."
)

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "underlying_daily_features",
        (
            Arg("open_", "float8[]", f"session open price {_PX}"),
            Arg("high", "float8[]", f"session high price {_PX}"),
            Arg("low", "float8[]", f"session low price {_PX}"),
            Arg("close", "float8[]", f"session close price {_PX}"),
            Arg("volume", "float8[]", "session volume in shares, one element per trade date"),
        ),
        "quant.underlying_daily_features_arrays",
        "python_udfs.features:daily_features",
        "Daily technical and volatility features of ONE symbol's daily bars (arrays ordered "
        "by trade date; call once per symbol, expand in FROM and unnest WITH ORDINALITY with "
        "the dates). A date with a NULL input is left out of the history and gets NULL "
        "features. " + _DAILY_UNITS,
        batch=True,
        cost=1000000,
    ),
    Function(
        "underlying_intraday_rv",
        (
            Arg("bar_counts", "float8[]", "number of 1-minute bars of each day"),
            Arg("tick_counts", "float8[]", "number of trades of each day"),
            Arg(
                "bar_close",
                "float8[]",
                "1-minute bar closes per share, the days concatenated in day and time order",
                per_option=False,
            ),
            Arg(
                "tick_price",
                "float8[]",
                "trade prices per share, the days concatenated in day and time order",
                per_option=False,
            ),
        ),
        "quant.underlying_intraday_rv_arrays",
        "python_udfs.features:intraday_rv",
        "Intraday realized variance, microstructure-noise variance and TSRV of a batch of one "
        "symbol's days: bar_counts / tick_counts give each day's number of 1-minute bar "
        "closes / trades in bar_close / tick_price (no NULLs; counts must sum to the lengths). "
        "Returns one element per day. " + _INTRADAY_UNITS,
        batch=True,
        cost=1000000,
    ),
    Function(
        "headline_sentiment_batch",
        (
            Arg(
                "headlines",
                "text[]",
                "headline texts (null elements allowed), e.g. array_agg(headline ORDER BY ...)",
            ),
        ),
        "float8[]",
        "python_udfs.news_sentiment:headline_sentiment",
        "Sentiment of a batch of headlines (one call per batch, e.g. one session's headlines): "
        "a float8[] with one score per element of the array, in its order; unnest WITH "
        "ORDINALITY next to the headline ids. " + _SENTIMENT_UNITS,
        cost=1000000,
    ),
)
