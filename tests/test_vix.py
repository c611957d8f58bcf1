"""Cboe-VIX-style index (python_udfs.vix): known answers, hand-made chains, real SPX chains.

Known answers independent of the code under test: a flat-vol Black chain must give
100 x vol, a hand-computed white-paper sum on a tiny chain, the interpolation formula on
hand numbers, and an SVI-priced chain must match the variance-swap integral of the same
smile. The real-data section compares the index of the QuantConnect/Lean SPX end-of-day
chains of 2015-12-22/23 with the published VIX closes (skipped, saying so, when the samples
are absent).
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import math

import numpy as np
import pytest

from python_udfs.black_scholes import black76_price
from python_udfs.svi import svi_total_variance
from python_udfs.vix import (
    MINUTES_PER_YEAR,
    interpolate_variance,
    minutes_to_settlement,
    term_variance,
    variance_swap_from_total_variance,
    variance_swap_index,
    vix_contributions,
    vix_index,
)

F0 = 2000.0


def chain(days, vol_fn, r=0.01, step=5.0, lo=600.0, hi=4000.0, tick=None):
    """Flat per-quote arrays (t, strike, is_call, bid, ask, r) of a chain priced by Black-76.

    ``vol_fn(t, k)`` gives the vol at log-moneyness k; with ``tick`` the bid is the price
    rounded down to the tick and the ask one tick above (far wings get zero bids).
    """
    cols = [[] for _ in range(6)]
    for d in days:
        t = d / 365.0
        fwd = F0 * math.exp(r * t)
        ks = np.arange(lo, hi + step / 2, step)
        for call in (True, False):
            p = black76_price(fwd, ks, t, r, vol_fn(t, np.log(ks / fwd)), call)
            if tick:
                bid = np.floor(p / tick + 1e-9) * tick
                ask = bid + tick
            else:
                bid = ask = p
            vals = (np.full(ks.size, t), ks, [call] * ks.size, bid, ask, [r] * ks.size)
            for col, v in zip(cols, vals, strict=True):
                col.extend(v)
    return [np.asarray(c) for c in cols]


def flat(vol):
    return lambda t, k: np.full_like(k, vol)


# --------------------------------------------------------------------------------------------
# known answers
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("vol", [0.1, 0.2, 0.4])
@pytest.mark.parametrize("tick", [None, 0.05])
def test_flat_vol_chain_gives_100_sigma(vol, tick):
    # 5-point strikes at F ~ 2000: dK / (F vol sqrt(T)) <= 0.1; midpoint-rule error and the
    # zero-bid truncation of a 0.05-tick chain stay below 0.02 index points
    res = vix_index(*chain([23.5, 36.75], flat(vol), tick=tick))
    assert res["mode"] == "interpolated" and not res["thin"] and not res["extrapolated"]
    assert res["standard_window"]
    assert res["index"] == pytest.approx(100.0 * vol, abs=0.02)
    assert res["near_variance"] == pytest.approx(vol * vol, rel=2e-3)
    assert res["next_variance"] == pytest.approx(vol * vol, rel=2e-3)
    # tick-rounded mids move the parity forward by up to a tick
    fwd = F0 * math.exp(0.01 * 23.5 / 365)
    assert res["near_forward"] == pytest.approx(fwd, abs=1e-6 if tick is None else 0.05)


def spx_like_svi(t):
    """Raw SVI (a, b, rho, m, sigma) of an SPX-like smile at t years (ATM vol ~15-20 %)."""
    s = math.sqrt(t)
    return (0.012 * t, 0.09 * s, -0.75, 0.06 * s, 0.12 * s)


def svi_vol(t, k):
    return np.sqrt(svi_total_variance(k, *spx_like_svi(t)) / t)


def test_svi_chain_matches_variance_swap_integral():
    days = [16.0, 23.5, 36.75, 65.0]
    r = 0.01
    res = vix_index(*chain(days, svi_vol, r=r, lo=300.0, hi=5000.0))
    ts = np.array(days) / 365.0
    fwd = F0 * np.exp(r * ts)
    swap = variance_swap_index(ts, fwd, [spx_like_svi(t) for t in ts], r=r)
    assert res["mode"] == "interpolated" and swap["extrapolated"] is False
    assert (res["near_t"], res["next_t"]) == (swap["near_t"], swap["next_t"])
    assert 15.0 < res["index"] < 30.0
    assert res["index"] == pytest.approx(swap["index"], abs=0.02)
    assert res["near_variance"] == pytest.approx(swap["near_variance"], rel=2e-3)


def test_variance_swap_of_flat_smile_and_callable():
    t = 30.0 / 365.0
    # flat smile: fair variance = vol^2 (the log-contract identity), rate cancels
    for r in (0.0, 0.05):
        v = variance_swap_from_total_variance(t, 2000.0, r, svi_params=(0.04 * t, 0, 0, 0, 1))
        assert v == pytest.approx(0.04, rel=1e-6)
    w = lambda k: svi_total_variance(k, *spx_like_svi(t))  # noqa: E731
    by_fn = variance_swap_from_total_variance(t, 2000.0, total_variance=w)
    by_params = variance_swap_from_total_variance(t, 2000.0, svi_params=spx_like_svi(t))
    assert by_fn == by_params
    # skew makes the variance swap exceed the ATM variance
    assert by_params > svi_total_variance(0.0, *spx_like_svi(t)) / t
    with pytest.raises(ValueError):
        variance_swap_from_total_variance(t, 2000.0)


def test_interpolation_formula_by_hand():
    # N_T1 = 25 d, N_T2 = 35 d, N_30: weights 1/2 each
    var, w1, w2 = interpolate_variance(25 / 365, 0.04, 35 / 365, 0.09, 30.0)
    assert (w1, w2) == pytest.approx((0.5, 0.5))
    assert var == pytest.approx((25 / 365 * 0.04 * 0.5 + 35 / 365 * 0.09 * 0.5) * 365 / 30)
    # extrapolation beyond the second term: weights outside [0, 1]
    _, w1, w2 = interpolate_variance(10 / 365, 0.04, 20 / 365, 0.04, 30.0)
    assert (w1, w2) == pytest.approx((-1.0, 2.0))


# --------------------------------------------------------------------------------------------
# hand-made chain: forward, K0, zero-bid rules, dK, the white-paper sum
# --------------------------------------------------------------------------------------------

T_HAND = 0.1
R_HAND = 0.02
# (strike, call bid, call ask, put bid, put ask); None = that right not listed
HAND = [
    (65, None, None, 0.05, 0.10),  # below the stop: excluded
    (70, None, None, 0.05, 0.10),  # below the stop: excluded
    (75, None, None, 0.00, 0.05),  # second zero bid in a row: stop
    (80, None, None, 0.00, 0.05),  # zero bid
    (85, None, None, 0.50, 0.70),  # used (one zero bid above it does not stop)
    (90, None, None, 0.00, 0.10),  # zero bid: excluded
    (95, 7.00, 7.40, 1.90, 2.10),
    (100, 3.90, 4.10, 3.40, 3.60),  # |C - P| = 0.5: the forward strike, K0
    (105, 1.60, 1.80, 6.00, 6.40),
    (110, 0.60, 0.80, None, None),
    (115, 0.00, 0.10, None, None),  # zero bid
    (120, 0.10, 0.20, None, None),  # used
    (125, 0.00, 0.05, None, None),
    (130, 0.00, 0.05, None, None),  # second zero bid in a row: stop
    (135, 0.05, 0.10, None, None),  # excluded
]


def hand_arrays():
    k, c, b, a = [], [], [], []
    for strike, cb, ca, pb, pa in HAND:
        for is_call, bid, ask in ((True, cb, ca), (False, pb, pa)):
            if bid is not None:
                k.append(strike)
                c.append(is_call)
                b.append(bid)
                a.append(ask)
    return np.array(k, float), np.array(c), np.array(b), np.array(a)


def test_hand_chain_white_paper_sum():
    k, c, b, a = hand_arrays()
    res = term_variance(T_HAND, R_HAND, k, c, b, a)
    fwd = 100.0 + math.exp(R_HAND * T_HAND) * (4.0 - 3.5)
    assert res["forward"] == pytest.approx(fwd, abs=1e-12)
    assert res["k0"] == 100.0
    assert res["strike"].tolist() == [85, 95, 100, 105, 110, 120]
    assert res["option_type"].tolist() == ["P", "P", "P/C", "C", "C", "C"]
    assert res["q"].tolist() == pytest.approx([0.6, 2.0, 3.75, 1.7, 0.7, 0.15])
    assert res["dk"].tolist() == [10.0, 7.5, 5.0, 5.0, 7.5, 10.0]
    total = (
        10 * 0.6 / 85**2
        + 7.5 * 2.0 / 95**2
        + 5 * 3.75 / 100**2
        + 5 * 1.7 / 105**2
        + 7.5 * 0.7 / 110**2
        + 10 * 0.15 / 120**2
    )
    expected = 2 / T_HAND * math.exp(R_HAND * T_HAND) * total - (fwd / 100 - 1) ** 2 / T_HAND
    assert res["variance"] == pytest.approx(expected, rel=1e-12)
    assert (res["n_puts"], res["n_calls"], res["n_strikes"], res["n_quoted"]) == (2, 3, 6, 6)
    assert res["contribution"].sum() - (fwd / 100 - 1) ** 2 / T_HAND == pytest.approx(
        res["variance"], rel=1e-12
    )


def test_k0_at_the_forward_and_one_sided_k0():
    # C = P at 100: F = 100 exactly, K0 = 100 (at or below F), no correction term
    k = np.array([95, 95, 100, 100, 105, 105], float)
    c = np.array([True, False] * 3)
    mids = np.array([6.0, 1.0, 3.0, 3.0, 1.2, 6.2])
    res = term_variance(0.1, 0.0, k, c, mids, mids)
    assert res["forward"] == 100.0 and res["k0"] == 100.0
    assert res["variance"] == pytest.approx(2 / 0.1 * 5 * (1.0 / 95**2 + 3 / 100**2 + 1.2 / 105**2))
    # only the put quoted at K0 = 100 < F = 102: the K0 average takes the call from parity,
    # (P + C) / 2 = P + (F - K0) / 2 at r = 0
    k = np.array([95, 95, 100, 105, 105], float)
    c = np.array([True, False, False, True, False])
    mids = np.array([8.0, 1.0, 2.0, 1.5, 4.5])  # F = 105 + 1.5 - 4.5 = 102
    res = term_variance(0.1, 0.0, k, c, mids, mids)
    assert res["forward"] == 102.0 and res["k0"] == 100.0
    assert res["q"].tolist() == pytest.approx([1.0, 2.0 + 1.0, 1.5])
    assert any("parity" in x for x in res["reasons"])


def test_parity_fill_only_where_the_otm_right_is_not_listed():
    k, c, b, a = hand_arrays()
    # drop the 95 put: without fills the strike is skipped, with fills it comes from the call
    keep = ~((k == 95) & ~c)
    plain = term_variance(T_HAND, R_HAND, k[keep], c[keep], b[keep], a[keep])
    filled = term_variance(T_HAND, R_HAND, k[keep], c[keep], b[keep], a[keep], parity_fill=True)
    assert 95 not in plain["strike"].tolist()
    j = filled["strike"].tolist().index(95)
    assert filled["option_type"][j] == "C>P"
    assert filled["q"][j] == pytest.approx(
        7.2 - math.exp(-R_HAND * T_HAND) * (filled["forward"] - 95)
    )
    assert filled["n_filled"] == 1 and filled["n_quoted"] == plain["n_quoted"]
    # zero-bid puts are not filled: the 90 put is listed with a zero bid
    assert 90 not in filled["strike"].tolist()


def test_contributions_add_up_and_result_is_json_ready():
    res = vix_index(*chain([23.5, 36.75], flat(0.2), tick=0.05))
    c = vix_contributions(res)
    target_t = 30 / 365
    corr = sum(
        res[f"{n}_weight"]
        * res[f"{n}_t"]
        / target_t
        * (res[f"{n}_forward"] / res[f"{n}_k0"] - 1) ** 2
        / res[f"{n}_t"]
        for n in ("near", "next")
    )
    assert c["weighted"].sum() - corr == pytest.approx(res["variance"], rel=1e-12)
    assert (c["term"] == "near").sum() == res["near_n_strikes"]
    assert set(c["option_type"]) == {"P", "C", "P/C"}

    def plain(v):
        if isinstance(v, dict):
            return all(isinstance(k, str) and plain(x) for k, x in v.items())
        if isinstance(v, list):
            return all(plain(x) for x in v)
        return type(v) in (float, int, bool, str)

    assert plain(res)
    json.dumps(res)


# --------------------------------------------------------------------------------------------
# term selection
# --------------------------------------------------------------------------------------------


def test_term_selection_brackets_target_and_skips_short_expiries():
    res = vix_index(*chain([3.0, 20.0, 27.0, 34.0, 60.0], flat(0.2), tick=0.05))
    assert (round(res["near_days"], 6), round(res["next_days"], 6)) == (27.0, 34.0)
    assert (res["near_weight"], res["next_weight"]) == pytest.approx((4 / 7, 3 / 7))
    assert any("under 7 days" in x for x in res["reasons"])
    assert res["index"] == pytest.approx(20.0, abs=0.02)


def test_extrapolation_and_single_term_are_flagged_thin():
    res = vix_index(*chain([40.0, 50.0], flat(0.2), tick=0.05))
    assert res["mode"] == "extrapolated" and res["extrapolated"] and res["thin"]
    assert res["near_weight"] == pytest.approx(2.0) and res["next_weight"] == pytest.approx(-1.0)
    assert res["index"] == pytest.approx(20.0, abs=0.02)  # flat vol: linear total variance
    below = vix_index(*chain([10.0, 20.0], flat(0.2), tick=0.05))
    assert below["mode"] == "extrapolated" and below["thin"]
    single = vix_index(*chain([45.0], flat(0.2), tick=0.05))
    assert single["mode"] == "single_term" and single["thin"]
    assert single["index"] == pytest.approx(20.0, abs=0.02)
    none = vix_index(*chain([2.0], flat(0.2), tick=0.05))
    assert none["mode"] == "none" and math.isnan(none["index"]) and none["thin"]


def test_sparse_strikes_are_thin():
    t, k, c, b, a, r = chain([23.5, 36.75], flat(0.2), tick=0.05)
    keep = (k % 100 == 0) & (k >= 1500) & (k <= 2600)  # 100-point strikes: 12 per term
    res = vix_index(t[keep], k[keep], c[keep], b[keep], a[keep], r[keep])
    assert res["thin"] and res["near_max_gap_sd"] > 0.5
    assert any("strike gap" in x for x in res["reasons"])
    few = keep & (k >= 1800) & (k <= 2200)
    res = vix_index(t[few], k[few], c[few], b[few], a[few], r[few])
    assert res["thin"] and any("quoted OTM strikes" in x for x in res["reasons"])


def test_minutes_to_settlement():
    quote = dt.datetime(2015, 12, 22, 16, 0)
    am = minutes_to_settlement(quote, dt.date(2016, 1, 15))
    pm = minutes_to_settlement(quote, dt.date(2016, 1, 22), pm_settled=True)
    # 8 h to midnight + 23 full days (12-23..01-14) + 9.5 h; 30 full days + 16 h
    assert am == 8 * 60 + 23 * 1440 + 570
    assert pm == 8 * 60 + 30 * 1440 + 960
    assert am / MINUTES_PER_YEAR == pytest.approx(23.729166666 / 365)


# --------------------------------------------------------------------------------------------
# real data: QuantConnect/Lean SPX end-of-day chains vs the published VIX close
# --------------------------------------------------------------------------------------------

LEAN_SPX = "lean_quantconnect/indexoption/usa/universes/spx"
VIX_CSV = "pypi_package_datasets/vix.csv.gz"
# T-bill yields of late December 2015 were ~0.2-0.3 %: one illustrative rate for both terms
# (moves the white-paper index by < 0.01 points per 0.25 %; the parity-filled one by ~0.1)
RATE_2015 = 0.0025


def _sample(root, rel):
    p = root / rel
    if not p.exists():
        pytest.skip(f"real sample {rel} absent from {root}")
    return p


def published_vix(root) -> dict[str, float]:
    path = _sample(root, VIX_CSV)
    rows = csv.reader(io.StringIO(gzip.decompress(path.read_bytes()).decode()))
    next(rows)
    out = {}
    for day, close in rows:
        if close.strip() not in ("", "."):
            out[dt.datetime.strptime(day, "%m/%d/%Y").strftime("%Y%m%d")] = float(close)
    return out


def lean_chain(root, day: str):
    """(t, strike, is_call, last) of the Lean SPX universe file of ``day``, with the project's
    Lean parser; T from the 16:00 New York snapshot to the 09:30 AM settlement (the sample
    only has standard, AM-settled monthly SPX options)."""
    from warehouse.loaders.sources.lean import LeanSource

    path = _sample(root, f"{LEAN_SPX}/{day}.csv")
    (batch,) = [b for b in LeanSource().parse(path) if b.table == "raw.option_quotes"]
    f = batch.frame
    quote = f["quote_ts"].iloc[0].tz_convert("America/New_York").tz_localize(None)
    assert quote.hour == 16 and (f["quote_ts"] == f["quote_ts"].iloc[0]).all()
    minutes = np.array(
        [minutes_to_settlement(quote.to_pydatetime(), e.date()) for e in f["expiration"]]
    )
    return (
        minutes / MINUTES_PER_YEAR,
        f["strike"].to_numpy(float),
        (f["option_right"] == "C").to_numpy(),
        f["last"].to_numpy(float),
    )


@pytest.mark.real_data
@pytest.mark.parametrize("day", ["20151222", "20151223"])
def test_real_spx_chain_vs_published_vix(real_data_dir, day):
    # The sample has no bid/ask: Lean's daily close (last trade, or quote mid on days without
    # trades) is used as bid = ask. ~20-30 strikes per expiry, one right at most strikes,
    # monthlies only (next term ~58 days instead of Cboe's weekly at 23-37 days), so the
    # terms are thin (strike gaps of 0.6-1.9 sd near the money). Tolerances: 1.5 index points
    # with parity fills, 2.0 for the plain white-paper selection (biased up by the sparse
    # strikes, see test_real_strike_layout_sparsity_bias).
    published = published_vix(real_data_dir)[day]
    t, k, c, last = lean_chain(real_data_dir, day)
    plain = vix_index(t, k, c, last, last, RATE_2015)
    filled = vix_index(t, k, c, last, last, RATE_2015, parity_fill=True)
    print(
        f"\n{day}: published VIX {published:.2f}; white paper {plain['index']:.2f} "
        f"({plain['index'] - published:+.2f}); with parity fills {filled['index']:.2f} "
        f"({filled['index'] - published:+.2f}); near {plain['near_days']:.2f} d "
        f"F={plain['near_forward']:.2f} K0={plain['near_k0']:g}, next {plain['next_days']:.2f} d "
        f"F={plain['next_forward']:.2f} K0={plain['next_k0']:g}; thin {plain['thin']}"
    )
    for res in (plain, filled):
        assert res["mode"] == "interpolated" and not res["extrapolated"]
        assert res["thin"] and not res["standard_window"]
        assert 22 < res["near_days"] < 24 and 57 < res["next_days"] < 59
        assert abs(res["near_forward"] - res["next_forward"]) < 10.0
    assert abs(filled["index"] - published) <= 1.5
    assert abs(plain["index"] - published) <= 2.0
    assert filled["near_n_filled"] > 0 and plain["near_n_filled"] == 0


@pytest.mark.real_data
def test_real_vix_moves_with_the_published_close(real_data_dir):
    pub = published_vix(real_data_dir)
    idx = {}
    for day in ("20151222", "20151223"):
        t, k, c, last = lean_chain(real_data_dir, day)
        idx[day] = [
            vix_index(t, k, c, last, last, RATE_2015, parity_fill=pf)["index"]
            for pf in (False, True)
        ]
    assert pub["20151223"] < pub["20151222"]  # 16.60 -> 15.57
    for j in range(2):
        assert idx["20151223"][j] < idx["20151222"][j]


@pytest.mark.real_data
@pytest.mark.parametrize("day", ["20151222", "20151223"])
def test_real_strike_layout_sparsity_bias(real_data_dir, day):
    # The same strikes/rights as the real chain, priced from a known SPX-like smile: the
    # sparse white-paper index is biased up against the full-chain (5-point strikes) index,
    # the parity-filled one is close to it: part of the real-data gap is this layout bias.
    t, k, c, _ = lean_chain(real_data_dir, day)
    fwd = 2040.0

    def price(tt, kk, cc):
        out = np.empty(kk.size)
        for tu in np.unique(tt):
            m = tt == tu
            out[m] = black76_price(fwd, kk[m], tu, 0.0, svi_vol(tu, np.log(kk[m] / fwd)), cc[m])
        return out

    p = price(t, k, c)
    sparse = vix_index(t, k, c, p, p, 0.0)["index"]
    sparse_filled = vix_index(t, k, c, p, p, 0.0, parity_fill=True)["index"]
    ts = np.unique(t)
    grid = np.arange(300.0, 5000.0, 5.0)
    tf = np.repeat(ts, 2 * grid.size)
    kf = np.tile(np.r_[grid, grid], ts.size)
    cf = np.tile(np.r_[np.ones(grid.size, bool), np.zeros(grid.size, bool)], ts.size)
    pf = price(tf, kf, cf)
    full = vix_index(tf, kf, cf, pf, pf, 0.0)["index"]
    swap = variance_swap_index(ts, fwd, [spx_like_svi(x) for x in ts])["index"]
    print(
        f"\n{day} layout: full {full:.3f}, swap {swap:.3f}, sparse white paper "
        f"{sparse:.3f} ({sparse - full:+.3f}), sparse with fills {sparse_filled:.3f} "
        f"({sparse_filled - full:+.3f})"
    )
    assert full == pytest.approx(swap, abs=0.02)
    assert sparse - full > 0.3
    assert abs(sparse_filled - full) < 0.3
