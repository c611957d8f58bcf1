"""Tests of python_udfs.cointegration: Engle-Granger on simulated cointegrated pairs and
independent random walks, the MacKinnon tables, the rolling point-in-time version, and
agreement with statsmodels (``coint`` / ``adfuller``, skipped when not installed)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from python_udfs.cointegration import (
    adf_test,
    engle_granger,
    mackinnon_crit,
    mackinnon_p,
    rolling_engle_granger,
)
from python_udfs.mean_reversion import ou_simulate

BETA, ALPHA = 1.7, 0.4
RESID_THETA = 25.0  # per year: residual half-life ln 2 / 25 * 252 = 7 trading days


def pair(n: int, seed: int, beta: float = BETA, alpha: float = ALPHA):
    """x a random walk, y = alpha + beta x + OU residual (exact AR(1))."""
    g = np.random.Generator(np.random.PCG64(seed))
    x = 10.0 + np.cumsum(g.normal(0.0, 0.2, n))
    u = ou_simulate(n, RESID_THETA, 0.0, 1.0, 1.0 / 252.0, seed=seed + 1000)
    return alpha + beta * x + u, x


def walks(n: int, seed: int):
    g = np.random.Generator(np.random.PCG64(seed))
    return np.cumsum(g.normal(size=n)), np.cumsum(g.normal(size=n))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cointegrated_pair(seed: int) -> None:
    y, x = pair(1_000, seed)
    res = engle_granger(y, x)
    assert res["valid"] and res["p_value"] < 0.01
    assert res["adf_stat"] < res["crit_1"] < res["crit_5"] < res["crit_10"] < 0
    assert res["hedge_ratio"] == pytest.approx(BETA, abs=0.02)  # superconsistent
    assert res["intercept"] == pytest.approx(ALPHA, abs=0.3)
    assert res["ou_valid"]
    assert res["half_life_periods"] == pytest.approx(252 * math.log(2) / RESID_THETA, rel=0.3)
    assert res["n"] == 1_000 and 0 <= res["lags"] <= res["maxlag"]
    assert all(v is None or type(v) in (bool, int, float, str) for v in res.values())


def test_independent_random_walks_mostly_not_cointegrated() -> None:
    p = np.array([engle_granger(*walks(250, s))["p_value"] for s in range(50)])
    assert np.mean(p > 0.05) >= 0.9  # nominal 95 %
    assert p.min() >= 0.0 and p.max() <= 1.0


def test_mackinnon_tables() -> None:
    # asymptotic critical values of MacKinnon (2010) and the 1994 p-value surfaces agree
    # at the asymptotic 5 % points (to the precision of the surfaces)
    asy = mackinnon_crit(math.inf, 2)
    assert asy == {"1%": -3.89644, "5%": -3.33613, "10%": -3.04445}
    assert mackinnon_p(asy["5%"], 2) == pytest.approx(0.05, abs=0.004)
    assert mackinnon_p(asy["1%"], 2) == pytest.approx(0.01, abs=0.002)
    assert mackinnon_p(mackinnon_crit(math.inf, 1)["5%"], 1) == pytest.approx(0.05, abs=0.004)
    assert mackinnon_p(-30.0) == 0.0 and mackinnon_p(5.0) == 1.0
    # monotone, and continuous at tau* = -2.62
    taus = np.linspace(-10, 0.9, 500)
    ps = [mackinnon_p(t) for t in taus]
    assert np.all(np.diff(ps) > 0)
    assert mackinnon_p(-2.62 - 1e-9) == pytest.approx(mackinnon_p(-2.62 + 1e-9), abs=2e-3)
    # finite sample: more negative than the asymptotic values
    assert mackinnon_crit(100, 2)["5%"] == pytest.approx(-3.33613 - 6.1101 / 100 - 6.823e-4)


def test_invalid_inputs_and_nan_rows() -> None:
    y, x = pair(300, 5)
    assert not engle_granger(y[:10], x[:10])["valid"]
    assert not engle_granger(y, np.ones_like(x))["valid"]
    res = engle_granger(2.0 * x + 1.0, x)
    assert not res["valid"] and "collinear" in res["reason"]
    y2, x2 = y.copy(), x.copy()
    y2[[3, 50]] = np.nan
    x2[100] = np.nan
    assert engle_granger(y2, x2)["n"] == 297
    with pytest.raises(ValueError):
        engle_granger(y, x[:-1])
    with pytest.raises(ValueError):
        engle_granger(y, x, maxlag=200)


def test_rolling_point_in_time() -> None:
    y, x = pair(400, 3)
    out = rolling_engle_granger(y, x, window=150, step=25)
    assert np.isnan(out["p_value"][:149]).all() and np.isfinite(out["p_value"][149:]).all()
    # each evaluation equals the full test on its window, held until the next evaluation
    for i in (149, 174, 399 - (399 - 149) % 25):
        ref = engle_granger(y[i - 149 : i + 1], x[i - 149 : i + 1])
        assert out["adf_stat"][i] == ref["adf_stat"]
        assert out["hedge_ratio"][i] == ref["hedge_ratio"]
        assert out["lags"][i] == ref["lags"]
    assert out["p_value"][150] == out["p_value"][149] and out["p_value"][174] != out["p_value"][173]
    np.testing.assert_allclose(
        out["spread"], y - out["intercept"] - out["hedge_ratio"] * x, rtol=0, atol=1e-12
    )
    # appending data never changes earlier values
    short = rolling_engle_granger(y[:300], x[:300], window=150, step=25)
    for k in out:
        np.testing.assert_array_equal(short[k], out[k][:300])
    sparse = rolling_engle_granger(y, x, window=150, step=25, hold=False)
    assert np.isnan(sparse["p_value"][150]) and sparse["p_value"][174] == out["p_value"][174]


def test_adf_test_stationary_and_unit_root() -> None:
    stat = adf_test(ou_simulate(500, 20.0, 1.0, 1.0, 1.0 / 252.0, seed=4))
    assert stat["valid"] and stat["p_value"] < 0.01
    rw = adf_test(np.cumsum(np.random.Generator(np.random.PCG64(4)).normal(size=500)))
    assert rw["p_value"] > 0.1
    assert not adf_test([1.0] * 30)["valid"]


# --------------------------------------------------------------------------- statsmodels


@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize(("maxlag", "autolag"), [(None, "aic"), (3, None), (8, "aic")])
def test_agrees_with_statsmodels_coint(seed: int, maxlag, autolag) -> None:
    stattools = pytest.importorskip("statsmodels.tsa.stattools")
    for y, x in (pair(600, seed), walks(300, seed)):
        res = engle_granger(y, x, maxlag=maxlag, autolag=autolag)
        stat, pval, crit = stattools.coint(y, x, trend="c", maxlag=maxlag, autolag=autolag)
        assert res["adf_stat"] == pytest.approx(stat, abs=1e-6)
        assert res["p_value"] == pytest.approx(pval, abs=1e-3)
        np.testing.assert_allclose(
            [res["crit_1"], res["crit_5"], res["crit_10"]], crit, rtol=0, atol=1e-9
        )


@pytest.mark.parametrize(("maxlag", "autolag"), [(None, "aic"), (4, None)])
def test_adf_agrees_with_statsmodels_adfuller(maxlag, autolag) -> None:
    stattools = pytest.importorskip("statsmodels.tsa.stattools")
    g = np.random.Generator(np.random.PCG64(9))
    for x in (np.cumsum(g.normal(size=400)), ou_simulate(400, 30.0, 2.0, 1.0, seed=9)):
        res = adf_test(x, maxlag=maxlag, autolag=autolag)
        with warnings.catch_warnings():  # the tuple return is deprecated in statsmodels 0.15
            warnings.simplefilter("ignore", FutureWarning)
            stat, pval, lags, nobs, crit = stattools.adfuller(
                x, maxlag=maxlag, regression="c", autolag=autolag
            )[:5]
        assert res["adf_stat"] == pytest.approx(stat, abs=1e-6)
        assert res["p_value"] == pytest.approx(pval, abs=1e-3)
        assert res["lags"] == lags and res["nobs"] == nobs
        assert res["crit_5"] == pytest.approx(crit["5%"], abs=1e-9)
