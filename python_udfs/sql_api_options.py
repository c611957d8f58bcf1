"""SQL registry of the options-features functions (``python_udfs.options_features``, ``iv_stats``).

Appended to ``python_udfs.sql_api`` (its ``EXTENSIONS``). Called by the options-features dbt
models once per (underlying, trade date) (``options_positioning``, ``earnings_implied_move``) or
once per underlying on its daily history (``iv_rank_percentile``, ``realized_vol_cc``):

- ``quant.options_positioning(spot, strike[], t[], r[], q[], vol[], is_call[], oi[], gamma[],
  delta[], contract_size[], in_max_pain_expiry[])`` -> ``quant.options_positioning`` (one row:
  GEX, DEX, gamma flip, GEX concentration, largest-|GEX| strike, max pain);
- ``quant.earnings_implied_move(t[], log_moneyness[], iv[], after_event[])`` ->
  ``quant.earnings_implied_move`` (event variance, implied move, diffusive vol, the expiries
  used);
- ``quant.ex_event_vol(iv, t, event_variance)``: implied vol with the event variance removed;
- ``quant.iv_rank_percentile(iv[])`` (batch, one element per trading day in date order) ->
  ``quant.iv_rank_percentile_arrays`` (IV rank and IV percentile over 21 and 252 days);
- ``quant.realized_vol_cc(close[], window_days)``: rolling close-to-close vol;
- ``quant.option_quote_slice_batch(...)`` -> ``quant.option_quote_slice_arrays``: everything
  ``int_option_quotes_iv`` computes per quote time in ONE call (zero rate,
  parity forward and yield, bid/mid/ask implied vols, mid status and greeks, European or
  American per option), instead of eight chained batch calls that each re-transfer the slice.

Whole-array arguments of the scalar functions must not contain NULL elements: pass 'NaN' for
an unknown value (the numerics skip non-finite elements).
"""

from __future__ import annotations

from python_udfs.iv_stats import WINDOWS as IV_WINDOWS
from python_udfs.options_features import EARNINGS_FIELDS, POSITIONING_FIELDS
from python_udfs.quote_slice import SLICE_FIELDS
from python_udfs.sql_api import Arg, CompositeType, Function

__all__ = ["FUNCTIONS", "TYPES"]

_IV_FIELDS = tuple(f"{name}_{w}" for w in IV_WINDOWS for name in ("iv_rank", "iv_percentile"))


def _arr(name: str, doc: str, sql_type: str = "float8[]") -> Arg:
    return Arg(name, sql_type, doc, per_option=False)


_POSITIONING_UNITS = (
    "Dealer convention (python_udfs.positioning): dollar GEX of a line = gamma x OI x "
    "contract_size x S^2 x 0.01, puts negative, currency per 1 % move of spot; DEX = delta x "
    "OI x contract_size x S, currency (put deltas negative). Fields: gex_total, dex_total "
    "(sums over lines; lines without gamma count 0); gamma_flip (zero crossing nearest spot "
    "of the GEX profile recomputed on 161 spots from 0.8 S to 1.2 S, each line at its own "
    "vol, sticky strike; NULL when no sign change), price per share; gex_top3_share (sum of "
    "the 3 largest |per-strike net GEX| / sum of all, 0..1); gex_herfindahl (sum of squared "
    "|per-strike net GEX| shares, 0..1); largest_gex_strike (strike of the largest "
    "|per-strike net GEX|) and largest_gex (its signed GEX); max_pain_strike (listed strike "
    "minimising sum calls OI max(S-K,0) + puts OI max(K-S,0) over the in_max_pain_expiry "
    "lines) and max_pain_payout (that minimum, currency); n_gex_lines (lines with a gamma "
    "and OI > 0)."
)

_EARNINGS_UNITS = (
    "Per expiry the ATM total variance w = iv(k=0)^2 T (iv linear in k = ln(K/F) between the "
    "quotes bracketing k = 0). Method 1 (bracket, an expiry before the event exists): "
    "s^2 = w(T_b)/T_b of the last expiry before the event, E = w(T_a) - s^2 T_a of the first "
    "after it. Method 2 (two_after): s^2 = (w(T_2) - w(T_1))/(T_2 - T_1), E = w(T_1) - s^2 "
    "T_1. Fields: event_variance E (decimal^2, not annualised; can be slightly negative), "
    "implied_move sqrt(max(E, 0)) (std of the event log return, decimal), implied_move_abs "
    "sqrt(2/pi) implied_move (expected |log move|), diffusive_vol s (annualised decimal), "
    "t_before / t_after (years), method (1 or 2). All NULL when no usable expiries."
)

TYPES: tuple[CompositeType, ...] = (
    CompositeType(
        "options_positioning",
        tuple((f, "float8") for f in POSITIONING_FIELDS),
        "Dealer positioning of one chain snapshot (quant.options_positioning). "
        + _POSITIONING_UNITS,
    ),
    CompositeType(
        "earnings_implied_move",
        tuple((f, "float8") for f in EARNINGS_FIELDS),
        "Implied earnings move of one snapshot's ATM term structure "
        "(quant.earnings_implied_move). " + _EARNINGS_UNITS,
    ),
    CompositeType(
        "iv_rank_percentile_arrays",
        tuple((f, "float8[]") for f in _IV_FIELDS),
        "IV rank and IV percentile of one daily IV history (quant.iv_rank_percentile), one "
        "array per field in input (trading day) order, fractions 0..1.",
    ),
    CompositeType(
        "option_quote_slice_arrays",
        tuple((f, "float8[]") for f in SLICE_FIELDS),
        "Per-quote outputs of one batch of option quotes "
        "(quant.option_quote_slice_batch), one array per field in input order: rate (zero "
        "rate at t, continuous decimal), forward (parity fit of the expiry, per share), "
        "implied_q (continuous decimal per year), n_pairs, iv_bid / iv_mid / iv_ask (decimal "
        "per sqrt(year)), iv_status (status code of the mid inversion: 0 ok, 1 "
        "nonpositive_input, 2 below_intrinsic, 3 above_upper_bound; NULL when not evaluated) "
        "and the BSM greeks at iv_mid (units as quant.greeks).",
    ),
)

FUNCTIONS: tuple[Function, ...] = (
    Function(
        "option_quote_slice_batch",
        (
            Arg("underlying", "text[]", "underlying symbol per option (or one for all)"),
            Arg("grp", "float8[]", "expiry key per option (e.g. the expiration's epoch days)"),
            Arg("strike", "float8[]", "strike per share"),
            Arg("is_call", "boolean[]", "true = call, false = put"),
            Arg("is_american", "boolean[]", "true = American exercise (tree implied vol)"),
            Arg("bid", "float8[]", "bid per share ('NaN' = none)"),
            Arg("ask", "float8[]", "ask per share ('NaN' = none)"),
            Arg("mid", "float8[]", "mid per share ('NaN' = none)"),
            Arg("spread", "float8[]", "ask - bid per share ('NaN' = unknown)"),
            Arg("t", "float8[]", "years to settlement (ACT/365)"),
            Arg("spot", "float8[]", "underlying price per share ('NaN' = unknown)"),
            _arr("tenor_days", "zero curve tenors, calendar days (one curve, ascending)"),
            _arr("zero_rates", "zero rate at each tenor, continuous decimal"),
        ),
        "quant.option_quote_slice_arrays",
        "python_udfs.quote_slice:option_quote_slice",
        "Everything int_option_quotes_iv computes for the options of one quote time (one or "
        "several underlyings: the parity groups are the (underlying, grp) pairs, spot is per "
        "option) in one call "
        "(python_udfs.quote_slice.option_quote_slice): zero rate at each t (as "
        "quant.zero_rate_batch), put-call-parity forward and implied yield per expiry (as "
        "quant.implied_forward_batch over the two-sided quotes), bid/mid/ask implied vols "
        "(BSM with the parity yield, or the American tree where is_american), the status code "
        "of the mid inversion and the BSM greeks at the mid vol; same results as those chained "
        "batch calls. Pass 'NaN', not NULL, for a missing quote or spot (a NULL element gives "
        "NULL outputs for the whole option). Expand in FROM: CROSS JOIN LATERAL "
        "quant.option_quote_slice_batch(...) o.",
        batch=True,
        # one call per quote time (~100k-400k options, ~0.5 s): COST in cpu_operator_cost
        # units, so that the planner runs the calls of int_option_quotes_iv's branches side
        # by side (Parallel Append) rather than only parallelising the scan below them
        cost=10_000_000,
    ),
    Function(
        "options_positioning",
        (
            Arg("spot", "float8", "underlying price per share"),
            _arr("strike", "strike per share, one element per contract line"),
            _arr("t", "years to settlement per line"),
            _arr("r", "zero rate per line, continuous decimal"),
            _arr("q", "dividend yield per line, continuous decimal"),
            _arr("vol", "implied vol per line, decimal ('NaN' if unknown)"),
            _arr("is_call", "true = call", "boolean[]"),
            _arr("oi", "open interest per line, contracts"),
            _arr("gamma", "gamma per line, per share per unit of spot ('NaN' if unknown)"),
            _arr("delta", "delta per line, per share ('NaN' if unknown)"),
            _arr("contract_size", "shares per contract per line"),
            _arr("in_max_pain_expiry", "true for the lines of the max-pain expiry", "boolean[]"),
        ),
        "quant.options_positioning",
        "python_udfs.options_features:chain_positioning",
        "Dealer positioning of ONE underlying's chain snapshot (call once per underlying and "
        "date; expand in FROM: CROSS JOIN LATERAL quant.options_positioning(...) p). "
        + _POSITIONING_UNITS,
        cost=1000000,
    ),
    Function(
        "earnings_implied_move",
        (
            _arr("t", "years to settlement per quote"),
            _arr("log_moneyness", "ln(K/F) per quote"),
            _arr("iv", "implied vol per quote, decimal"),
            _arr(
                "after_event", "true when the quote's expiry settles after the event", "boolean[]"
            ),
        ),
        "quant.earnings_implied_move",
        "python_udfs.options_features:earnings_move",
        "Implied move of the next earnings event from ONE snapshot's quotes (call once per "
        "underlying and date; expand in FROM). " + _EARNINGS_UNITS,
        cost=100000,
    ),
    Function(
        "ex_event_vol",
        (
            Arg("iv", "float8", "implied vol of maturity t, decimal"),
            Arg("t", "float8", "maturity, years"),
            Arg("event_variance", "float8", "event variance to remove, decimal^2"),
        ),
        "float8",
        "python_udfs.options_features:ex_event_vol",
        "Implied vol with an event's variance removed: sqrt(max(iv^2 t - event_variance, 0) / "
        "t), decimal per sqrt(year).",
    ),
    Function(
        "iv_rank_percentile",
        (Arg("iv", "float8[]", "implied vol per trading day in date order ('NaN' if missing)"),),
        "quant.iv_rank_percentile_arrays",
        "python_udfs.iv_stats:iv_rank_percentile",
        "IV rank and IV percentile of ONE underlying's daily IV history (python_udfs.iv_stats; "
        "pass 'NaN', not NULL, for a missing day so the windows stay aligned). iv_rank_<w> = "
        "(IV_i - min) / (max - min) over days i-w+1..i (today included); iv_percentile_<w> = "
        "share of days i-w..i-1 (today excluded) with IV below IV_i; w = 21 and 252 trading "
        "days; NULL until the window is full, when IV_i is missing or max = min. Point in "
        "time: element i uses days <= i only.",
        batch=True,
        cost=1000000,
    ),
    Function(
        "realized_vol_cc",
        (
            _arr("close", "closes per share, one per trading day in date order ('NaN' if missing)"),
            Arg("window_days", "integer", "window, trading days (returns)"),
        ),
        "float8[]",
        "python_udfs.options_features:close_to_close_vol_window",
        "Rolling close-to-close volatility (python_udfs.realized.close_to_close_vol): "
        "sqrt(252 x sample variance of the trailing window_days log returns), annualised "
        "decimal, aligned with close (NULL during the warm-up). Point in time.",
    ),
)
